package renewal_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/ecs/ecssim"
	"github.com/renewbot/renewbot/store"
)

// BenchmarkWorkflow_CreateApproveExecute measures whole renewals on one bbolt file: request
// (lookup + quote + store), approve, execute (claim, RenewInstance, record, verify, done),
// with the real ECS client against ecssim on loopback. "fsync" is the production setting;
// "nosync" shows what the file's fsyncs cost.
func BenchmarkWorkflow_CreateApproveExecute(b *testing.B) {
	for _, bc := range []struct {
		name   string
		noSync bool
	}{{"fsync", false}, {"nosync", true}} {
		b.Run(bc.name, func(b *testing.B) {
			// The workflow's own cost: ecs's pacing (20 calls/s per API and region by default)
			// would otherwise be what is measured.
			e := newWFEnv(b, wfOptions{noSync: bc.noSync, pace: ecs.RateLimit{PerSecond: 10000},
				cfg: func(c *renewal.WorkflowConfig) { c.Notifier = nil }})
			e.sim.SetBalance(1e12)
			ctx := context.Background()
			calls := 0
			b.ResetTimer()
			var id string
			for i := 0; b.Loop(); i++ {
				// Alibaba renews at most 5 years ahead: a fresh instance every 24 renewals.
				if i%24 == 0 {
					id = fmt.Sprintf("i-bench%06d", i/24)
					e.sim.AddInstances(ecssim.FleetInstance{InstanceId: id, RegionId: "cn-hangzhou", InstanceChargeType: "PrePaid",
						ExpiredTime: wfStart.AddDate(0, 0, 5).Add(16 * time.Hour), RenewalStatus: "Normal", MonthlyPrice: 100})
				}
				r, err := e.wf.RequestRenewal(ctx, renewal.RenewalInput{Requester: "UREQ", Channel: "CBENCH", InstanceIDs: []string{id}, Months: 1})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := e.wf.Approve(ctx, r.ID, "UAPPROVER1"); err != nil {
					b.Fatal(err)
				}
				got, err := e.wf.Execute(ctx, r.ID)
				if err != nil || got.State != store.StateDone {
					b.Fatalf("request %d: Execute = %v, %v, %+v", i, got.State, err, got.Items)
				}
				calls++
			}
			b.StopTimer()
			b.ReportMetric(float64(calls)/b.Elapsed().Seconds(), "requests/s")
			n := 0
			for _, c := range e.sim.Calls() {
				n += c
			}
			b.ReportMetric(float64(n)/float64(calls), "ecs-calls/request")
			if len(e.sim.Orders()) != calls {
				b.Fatalf("%d orders for %d requests", len(e.sim.Orders()), calls)
			}
		})
	}
}
