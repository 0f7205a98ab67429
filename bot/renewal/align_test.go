package renewal_test

import (
	"context"
	"math"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/ecs/ecssim"
	"github.com/renewbot/renewbot/store"
)

// Issue 12 §4: aligned expiry dates (统一到期日). A request renews instances to a day of the
// month instead of for months, through the one workflow: quoted with ExpectedRenewDay,
// approved by someone else, paid once per instance with ExpectedRenewDay and the request's
// ClientToken, verified at exactly ecs.AlignedExpiry.

// align asks as UREQ to renew ids to day, failing the test on error.
func (e *wfEnv) align(tb testing.TB, day int, ids ...string) *store.Request {
	tb.Helper()
	r, err := e.wf.RequestRenewal(context.Background(), renewal.RenewalInput{Requester: "UREQ", Channel: "CCHAN", InstanceIDs: ids, ExpectedRenewDay: day})
	if err != nil {
		tb.Fatalf("align %v to day %d: %v", ids, day, err)
	}
	return r
}

// simCalls records the parameters of the calls ecssim receives (its Hook).
type simCalls struct {
	mu    sync.Mutex
	calls map[string][]url.Values
}

func (c *simCalls) hook(action string, p url.Values) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls == nil {
		c.calls = map[string][]url.Values{}
	}
	c.calls[action] = append(c.calls[action], p)
}

func (c *simCalls) of(action string) []url.Values {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.calls[action])
}

func TestWorkflow_Align(t *testing.T) {
	var calls simCalls
	e := newWFEnv(t, wfOptions{simOpts: func(o *ecssim.Options) { o.Hook = calls.hook }})
	ctx := context.Background()
	balance := e.sim.Account().Balance
	before := map[string]time.Time{}
	for _, id := range []string{"i-hz01", "i-sh01"} { // expire 2026-12-01 and 2026-12-11 UTC+8
		in, _ := e.sim.Instance(id)
		before[id] = in.ExpiredTime
	}

	_, w0 := e.db.Transactions()
	r := e.align(t, 15, "i-hz01", "i-sh01")
	_, w1 := e.db.Transactions()
	field(t, "Kind", r.Kind, store.KindRenew)
	field(t, "ExpectedRenewDay", r.ExpectedRenewDay, 15)
	field(t, "Months", r.Months, 0)
	want := time.Date(2027, 1, 15, 0, 0, 0, 0, ecs.UTC8) // Dec 15 is under a month away from both
	var total float64
	for _, it := range r.Items {
		if !it.CurrentExpiry.Equal(before[it.InstanceID]) || !it.ProjectedExpiry.Equal(want) || !it.ProjectedExpiry.Equal(ecs.AlignedExpiry(it.CurrentExpiry, 15)) {
			t.Errorf("%s: current %v projected %v, want %v → %v", it.InstanceID, it.CurrentExpiry, it.ProjectedExpiry, before[it.InstanceID], want)
		}
		if it.Price <= 0 {
			t.Errorf("%s: price %v", it.InstanceID, it.Price)
		}
		total += it.Price
	}
	field(t, "Total", r.Total, math.Round(total*100)/100)
	quotes := calls.of("DescribeRenewalPrice")
	if len(quotes) != 2 {
		t.Fatalf("%d DescribeRenewalPrice calls, want 2", len(quotes))
	}
	for _, q := range quotes {
		if q.Get("ExpectedRenewDay") != "15" || q.Has("Period") {
			t.Errorf("quoted with %v, want ExpectedRenewDay 15 and no Period", q)
		}
	}

	// Four eyes: the requester (an approver too) may not approve it.
	_, err := e.wf.Approve(ctx, r.ID, "UREQ")
	wantRefusal(t, err, renewal.RefuseSelfApproval)
	_, w2 := e.db.Transactions()
	done := e.approveAndExecute(t, r)
	field(t, "State", done.State, store.StateDone)
	_, w3 := e.db.Transactions()
	t.Logf("2 instances in 2 regions: ECS calls %v; write transactions: request %d, approve to done %d", e.sim.Calls(), w1-w0, w3-w2)
	if w1-w0 != 1 || w3-w2 != 9 { // approve, claim, per instance sent/ordered/verified, finish
		t.Errorf("write transactions %d to request, %d to run; want 1 and 9", w1-w0, w3-w2)
	}

	renews := calls.of("RenewInstance")
	if len(renews) != 2 {
		t.Fatalf("%d RenewInstance calls, want one per instance", len(renews))
	}
	for _, p := range renews {
		id := p.Get("InstanceId")
		if p.Get("ExpectedRenewDay") != "15" || p.Has("Period") || p.Get("ClientToken") != r.ClientToken(id) {
			t.Errorf("RenewInstance %v, want ExpectedRenewDay 15, no Period, ClientToken %s", p, r.ClientToken(id))
		}
	}
	orders := map[string]ecssim.Order{}
	for _, o := range e.sim.Orders() {
		orders[o.InstanceId] = o
	}
	for _, it := range done.Items {
		inst, _ := e.sim.Instance(it.InstanceID)
		if it.State != store.ItemDone || !it.NewExpiry.Equal(want) || !inst.ExpiredTime.Equal(want) {
			t.Errorf("%s: %v, verified %v, ecssim %v; want %v", it.InstanceID, it.State, it.NewExpiry, inst.ExpiredTime, want)
		}
		if o := orders[it.InstanceID]; o.OrderId != it.OrderID || o.Amount != it.Price || o.ClientToken != r.ClientToken(it.InstanceID) {
			t.Errorf("%s: order %+v, item order %s price %v", it.InstanceID, o, it.OrderID, it.Price)
		}
	}
	if got := e.sim.Account().Balance; got != balance-r.Total {
		t.Errorf("balance %v → %v, want the quoted %v charged once", balance, got, r.Total)
	}

	// The audit trail says the day and the new expiry.
	evs := e.history(t, r.ID)
	var acts []string
	for _, ev := range evs {
		acts = append(acts, string(ev.Action))
	}
	if got, want := strings.Join(acts, " "), "requested refused approved claimed called ordered called ordered verified verified done"; got != want {
		t.Errorf("audit trail = %q", got)
	}
	for _, ev := range evs {
		switch ev.Action {
		case store.ActRequested:
			if !strings.Contains(ev.Detail, "to day 15 of the month") {
				t.Errorf("requested: %q does not say the day", ev.Detail)
			}
		case store.ActCalled:
			if !strings.Contains(ev.Detail, "ExpectedRenewDay 15") || !strings.Contains(ev.Detail, "→ 2027-01-15 00:00 UTC+8") {
				t.Errorf("called: %q does not say the day and the new expiry", ev.Detail)
			}
		}
	}
	// The instances are free again.
	e.align(t, 1, "i-hz01")
}

// Bad days, expired, pay-as-you-go, unknown and never-renewed instances, a period and a day
// together, the policy's caps: a clear message, nothing stored, nothing quoted for input
// that is wrong on its face.
func TestWorkflow_AlignRefused(t *testing.T) {
	e := newWFEnv(t, wfOptions{policy: renewal.Policy{Approvers: []string{"UAPPROVER1"}, MaxMonths: 1, MaxAmount: 150}})
	ctx := context.Background()
	ask := func(day, months int, ids ...string) error {
		_, err := e.wf.RequestRenewal(ctx, renewal.RenewalInput{Requester: "UREQ", Channel: "CCHAN", InstanceIDs: ids, ExpectedRenewDay: day, Months: months})
		return err
	}
	for _, day := range []int{-1, 29, 31} {
		wantUserError(t, ask(day, 0, "i-hz02"), "1 to 28")
	}
	wantUserError(t, ask(5, 1, "i-hz02"), "not both")
	if n := e.sim.Calls()["DescribeInstances"]; n != 0 {
		t.Errorf("%d DescribeInstances calls for input wrong on its face", n)
	}
	wantUserError(t, ask(15, 0, "i-old01"), "i-old01 expired on 2026-11-21", "unexpired", "/renew i-old01 1")
	wantUserError(t, ask(15, 0, "i-payg01"), "i-payg01", "pay-as-you-go")
	wantUserError(t, ask(15, 0, "i-nope01"), "no instance i-nope01")
	wantUserError(t, ask(15, 0, "i-never01"), "NotRenewal")
	wantUserError(t, ask(15, 0, "bad-id"), "not an ECS instance ID")
	// MaxMonths 1: i-hz02 (expires Dec 6) to day 15 runs to Jan 15, over a month; to day 6 it
	// runs exactly one.
	wantUserError(t, ask(15, 0, "i-hz02"), "runs 2 months", "limited to 1 months")
	// MaxAmount 150: one month of i-hz02 is 250.
	wantRefusal(t, ask(6, 0, "i-hz02"), renewal.RefuseOverLimit)
	if n := e.sim.Calls()["RenewInstance"]; n != 0 {
		t.Errorf("%d RenewInstance calls", n)
	}
	if rs, _ := e.db.ListRequests(); len(rs) != 0 {
		t.Errorf("%d requests stored, want none", len(rs))
	}
}

// Approved, then the instance expires before the paid call: nothing is sent (Alibaba renews
// only unexpired instances to a day) and the item fails saying so.
func TestWorkflow_AlignExpiredSinceQuote(t *testing.T) {
	e := newWFEnv(t, wfOptions{})
	ctx := context.Background()
	r := e.align(t, 15, "i-hz01") // expires 2026-11-30 16:00Z
	if _, err := e.wf.Approve(ctx, r.ID, "UAPPROVER1"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(6 * 24 * time.Hour)
	got, err := e.wf.Execute(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	field(t, "State", got.State, store.StateFailed)
	if it := got.Items[0]; it.State != store.ItemFailed || !strings.Contains(it.Error, "nothing was charged") || !strings.Contains(it.Error, "expired") {
		t.Errorf("item %+v", it)
	}
	if n := e.sim.Calls()["RenewInstance"]; n != 0 {
		t.Errorf("%d RenewInstance calls, want none", n)
	}
}

// Verification wants the aligned expiry exactly. Not visible yet: verifying, and the sweep
// finishes it once it shows. Showing something else (here a console renewal of another month
// on top): it stays verifying for an approver, never done and never paid again.
func TestWorkflow_AlignVerifiedExactly(t *testing.T) {
	for _, console := range []bool{false, true} {
		e := newWFEnv(t, wfOptions{simOpts: func(o *ecssim.Options) { o.RenewDelay = time.Hour },
			cfg: func(c *renewal.WorkflowConfig) { c.VerifyTimeout = time.Millisecond }})
		ctx := context.Background()
		r := e.align(t, 15, "i-hz01")
		got := e.approveAndExecute(t, r)
		field(t, "State after execute", got.State, store.StateVerifying)
		if console {
			if _, err := e.cloud.Renew(ctx, ecs.RenewInput{InstanceID: "i-hz01", RegionID: "cn-hangzhou", Months: 1, ClientToken: "console-1"}); err != nil {
				t.Fatal(err)
			}
		}
		e.clock.Advance(3 * time.Hour)
		if _, err := e.wf.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		got, _ = e.db.GetRequest(r.ID)
		inst, _ := e.sim.Instance("i-hz01")
		want := ecs.AlignedExpiry(r.Items[0].CurrentExpiry, 15)
		switch {
		case !console && (got.State != store.StateDone || !got.Items[0].NewExpiry.Equal(want)):
			t.Errorf("aligned only: %v, verified %v, want done at %v", got.State, got.Items[0].NewExpiry, want)
		case console && (got.State != store.StateVerifying || got.Items[0].State != store.ItemOrdered || inst.ExpiredTime.Equal(want)):
			t.Errorf("another month on top: %v, item %v, ecssim %v; want still verifying", got.State, got.Items[0].State, inst.ExpiredTime)
		}
		if o := ordersFor(e.sim); o["i-hz01"] != map[bool]int{false: 1, true: 2}[console] {
			t.Errorf("console %v: orders %v", console, o)
		}
	}
}

// ACCOUNT:ID names the account to look in; an instance of another account is not found there.
func TestWorkflow_AlignAccountRef(t *testing.T) {
	e, shop := newTwoAccountEnv(t)
	_, err := e.wf.RequestRenewal(context.Background(), renewal.RenewalInput{Requester: "UREQ", Channel: "CCHAN",
		InstanceIDs: []string{"prod:i-shop01"}, ExpectedRenewDay: 3})
	wantUserError(t, err, "no instance prod:i-shop01")
	r := e.align(t, 3, "shop:i-shop01", "prod:i-hz01")
	if it := r.Items[0]; it.Account != "shop" || it.InstanceID != "i-shop01" || !it.ProjectedExpiry.Equal(time.Date(2027, 1, 3, 0, 0, 0, 0, ecs.UTC8)) {
		t.Fatalf("item %+v", it)
	}
	done := e.approveAndExecute(t, r)
	if done.State != store.StateDone {
		t.Fatalf("%v: %+v", done.State, done.Items)
	}
	if o := ordersFor(shop); o["i-shop01"] != 1 {
		t.Errorf("shop orders %v", o)
	}
}

// The operator's CLI path: no approval (an audited exemption), the same request and call.
func TestWorkflow_AlignAsOperator(t *testing.T) {
	e := newWFEnv(t, wfOptions{})
	ctx := context.Background()
	if _, err := e.wf.AlignAsOperator(ctx, renewal.OperatorAlign{Actor: "UREQ", InstanceIDs: []string{"i-hz01"}, Day: 15}); err == nil {
		t.Fatal("a Slack user ran an operator alignment")
	}
	r, err := e.wf.AlignAsOperator(ctx, renewal.OperatorAlign{Actor: "cli:ops", InstanceIDs: []string{"i-hz01", "i-hz02"}, Day: 20})
	if err != nil {
		t.Fatal(err)
	}
	if r.State != store.StateDone || r.ExpectedRenewDay != 20 || r.Approvals[0].User != "cli:ops" {
		t.Fatalf("%+v", r)
	}
	for _, it := range r.Items {
		if !it.NewExpiry.Equal(ecs.AlignedExpiry(it.CurrentExpiry, 20)) {
			t.Errorf("%s: verified %v", it.InstanceID, it.NewExpiry)
		}
	}
	if n := e.sim.Calls()["RenewInstance"]; n != 2 {
		t.Errorf("%d RenewInstance calls", n)
	}
}
