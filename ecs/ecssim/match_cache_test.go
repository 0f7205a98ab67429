package ecssim_test

import (
	"slices"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/renewbot/renewbot/ecs/ecssim"
)

// TestDescribeInstancesSeesChangesAfterARepeatedFilter: the same filter asked again (as a
// scan's pages ask it) answers from what the instances are now: after an expiry, a renewal
// becoming visible, and an added instance.
func TestDescribeInstancesSeesChangesAfterARepeatedFilter(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client(t, "cn-hangzhou")
	running := func() []string {
		t.Helper()
		req := ecs.CreateDescribeInstancesRequest()
		req.RegionId, req.Status, req.PageSize = "cn-hangzhou", "Running", "100"
		resp, err := c.DescribeInstances(req)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, in := range resp.Instances.Instance {
			ids = append(ids, in.InstanceId)
		}
		if resp.TotalCount != len(ids) {
			t.Fatalf("TotalCount %d for %v", resp.TotalCount, ids)
		}
		return ids
	}
	if ids := running(); !slices.Contains(ids, "i-a1") {
		t.Fatalf("running at the start: %v, want i-a1 among them", ids)
	}
	e.clock.Set(day(3).Add(time.Hour)) // i-a1 expired: Stopped
	if ids := running(); slices.Contains(ids, "i-a1") {
		t.Fatalf("running after i-a1 expired: %v", ids)
	}
	renew := ecs.CreateRenewInstanceRequest()
	renew.RegionId, renew.InstanceId, renew.Period = "cn-hangzhou", "i-a1", "1"
	if _, err := c.RenewInstance(renew); err != nil {
		t.Fatal(err)
	}
	if ids := running(); slices.Contains(ids, "i-a1") {
		t.Fatalf("running before the renewal is visible: %v", ids)
	}
	e.clock.Advance(11 * time.Second) // RenewDelay 10s: runs again
	if ids := running(); !slices.Contains(ids, "i-a1") {
		t.Fatalf("running after the renewal became visible: %v, want i-a1", ids)
	}
	e.srv.AddInstances(ecssim.FleetInstance{InstanceId: "i-new", RegionId: "cn-hangzhou", ExpiredTime: day(60)})
	if ids := running(); !slices.Contains(ids, "i-new") {
		t.Fatalf("running after AddInstances: %v, want i-new", ids)
	}
}
