package renewal_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/ecs/ecssim"
	"github.com/renewbot/renewbot/store"
)

// wfStart is the business "now" of the workflow tests.
var wfStart = time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)

// wfMembers is a static user-group directory (the Slack side's port).
type wfMembers map[string][]string

func (m wfMembers) GroupMembers(_ context.Context, group string) ([]string, error) {
	ms, ok := m[group]
	if !ok {
		return nil, errors.New("no such group " + group)
	}
	return ms, nil
}

// wfNotes records what the notifier was told, in order.
type wfNotes struct {
	ch chan store.Request
}

func (n *wfNotes) RequestChanged(_ context.Context, r *store.Request) { n.ch <- *r }

// states drains what was notified so far.
func (n *wfNotes) states() []store.State {
	var out []store.State
	for {
		select {
		case r := <-n.ch:
			out = append(out, r.State)
		default:
			return out
		}
	}
}

// wfFleet: the instances every workflow test starts with. Expiries are at 16:00Z (midnight
// UTC+8), minute precision like Alibaba's.
func wfFleet() ecssim.Fleet {
	day := func(d int) time.Time { return time.Date(2026, 11, 25+d, 16, 0, 0, 0, time.UTC) }
	now := wfStart
	return ecssim.Fleet{
		Now: &now, Balance: 1e6, Currency: "CNY",
		Instances: []ecssim.FleetInstance{
			{InstanceId: "i-hz01", RegionId: "cn-hangzhou", InstanceChargeType: "PrePaid", ExpiredTime: day(5), RenewalStatus: "Normal", MonthlyPrice: 100},
			{InstanceId: "i-hz02", RegionId: "cn-hangzhou", InstanceChargeType: "PrePaid", ExpiredTime: day(10), RenewalStatus: "Normal", MonthlyPrice: 250},
			{InstanceId: "i-sh01", RegionId: "cn-shanghai", InstanceChargeType: "PrePaid", ExpiredTime: day(15), RenewalStatus: "AutoRenewal", Duration: 1, PeriodUnit: "Month", MonthlyPrice: 80},
			{InstanceId: "i-payg01", RegionId: "cn-hangzhou", InstanceChargeType: "PostPaid"},
			{InstanceId: "i-never01", RegionId: "cn-shanghai", InstanceChargeType: "PrePaid", ExpiredTime: day(6), RenewalStatus: "NotRenewal", MonthlyPrice: 100},
			{InstanceId: "i-old01", RegionId: "cn-hangzhou", InstanceChargeType: "PrePaid", ExpiredTime: day(-5), RenewalStatus: "Normal", MonthlyPrice: 100},
		},
	}
}

var wfRegions = []string{"cn-hangzhou", "cn-shanghai"}

// wfEnv is a workflow on a real bbolt file and the real ECS client against ecssim.
type wfEnv struct {
	clock *ecssim.Clock
	sim   *ecssim.Server
	db    *store.DB
	cloud *ecs.Client
	notes *wfNotes
	wf    *renewal.Workflow
}

type wfOptions struct {
	policy  renewal.Policy
	members renewal.Members
	simOpts func(*ecssim.Options)
	cfg     func(*renewal.WorkflowConfig)
	sleep   func(context.Context, time.Duration) error // ecs retry and Verify waits; default: none
	noSync  bool
	pace    ecs.RateLimit // the client's pacing; zero: ecs's defaults
}

func noSleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }

// wfECS is the real client pointed at sim, with retries that do not wait.
func wfECS(tb testing.TB, url string, sleep func(context.Context, time.Duration) error, pace ...ecs.RateLimit) *ecs.Client {
	tb.Helper()
	if sleep == nil {
		sleep = noSleep
	}
	cfg := ecs.Config{
		Regions: wfRegions, Endpoint: url, AccessKeyID: "testid", AccessKeySecret: "testsecret",
		Retry: ecs.RetryPolicy{Attempts: 3}, Sleep: sleep,
	}
	if len(pace) > 0 {
		cfg.RateLimit = pace[0]
	}
	c, err := ecs.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func newWFEnv(tb testing.TB, o wfOptions) *wfEnv {
	tb.Helper()
	e := &wfEnv{clock: ecssim.NewClock(wfStart), notes: &wfNotes{ch: make(chan store.Request, 1000)}}
	so := ecssim.Options{Fleet: wfFleet(), RenewDelay: -1, Now: e.clock.Now, Regions: wfRegions}
	if o.simOpts != nil {
		o.simOpts(&so)
	}
	e.sim = ecssim.NewServer(so)
	tb.Cleanup(e.sim.Close)
	db, err := store.Open(filepath.Join(tb.TempDir(), "renewbot.db"), store.Options{Now: e.clock.Now, NoSync: o.noSync})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	e.db = db
	e.cloud = wfECS(tb, e.sim.URL, o.sleep, o.pace)
	if o.policy.Approvers == nil {
		o.policy.Approvers = []string{"UAPPROVER1", "UAPPROVER2", "UREQ"}
	}
	members := o.members
	if members == nil {
		members = wfMembers{}
	}
	cfg := renewal.WorkflowConfig{
		Cloud: e.cloud, Store: db, Members: members, Notifier: e.notes, Policy: o.policy,
		Now: e.clock.Now, VerifyTimeout: time.Minute,
	}
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	e.wf, err = renewal.NewWorkflow(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// renew asks for a renewal as UREQ and fails the test on error.
func (e *wfEnv) renew(tb testing.TB, months int, ids ...string) *store.Request {
	tb.Helper()
	r, err := e.wf.RequestRenewal(context.Background(), renewal.RenewalInput{Requester: "UREQ", Channel: "CCHAN", InstanceIDs: ids, Months: months})
	if err != nil {
		tb.Fatalf("RequestRenewal(%v, %d): %v", ids, months, err)
	}
	return r
}

// approveAndExecute approves r as UAPPROVER1 and executes it, failing the test on error.
func (e *wfEnv) approveAndExecute(tb testing.TB, r *store.Request) *store.Request {
	tb.Helper()
	if _, err := e.wf.Approve(context.Background(), r.ID, "UAPPROVER1"); err != nil {
		tb.Fatalf("Approve %s: %v", r.ID, err)
	}
	got, err := e.wf.Execute(context.Background(), r.ID)
	if err != nil {
		tb.Fatalf("Execute %s: %v", r.ID, err)
	}
	return got
}

// history returns the actions audited for a request (or, with id "", everything).
func (e *wfEnv) history(tb testing.TB, id store.RequestID) []store.Event {
	tb.Helper()
	evs, err := e.db.History(store.HistoryQuery{RequestID: id})
	if err != nil {
		tb.Fatal(err)
	}
	return evs
}

func countAction(evs []store.Event, a store.Action) int {
	n := 0
	for _, ev := range evs {
		if ev.Action == a {
			n++
		}
	}
	return n
}

// ordersFor counts ecssim's orders per instance.
func ordersFor(sim *ecssim.Server) map[string]int {
	m := map[string]int{}
	for _, o := range sim.Orders() {
		m[o.InstanceId]++
	}
	return m
}

// wantRefusal checks that err is a *renewal.Refusal with the reason.
func wantRefusal(tb testing.TB, err error, reason renewal.RefusalReason) *renewal.Refusal {
	tb.Helper()
	var ref *renewal.Refusal
	if !errors.As(err, &ref) {
		tb.Fatalf("err = %v (%T), want a *renewal.Refusal %v", err, err, reason)
	}
	if ref.Reason != reason {
		tb.Fatalf("refusal %v (%q), want %v", ref.Reason, ref.Msg, reason)
	}
	if ref.Msg == "" {
		tb.Fatal("refusal without a message")
	}
	return ref
}

// wantUserError checks that err is a *renewal.UserError whose text contains every part.
func wantUserError(tb testing.TB, err error, parts ...string) {
	tb.Helper()
	var ue *renewal.UserError
	if !errors.As(err, &ue) {
		tb.Fatalf("err = %v (%T), want a *renewal.UserError", err, err)
	}
	for _, p := range parts {
		if !containsFold(ue.Error(), p) {
			tb.Errorf("user error %q does not mention %q", ue.Error(), p)
		}
	}
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}
