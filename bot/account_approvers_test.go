package bot_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/renewbot/renewbot/bot"
	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/ecs/ecssim"
	"github.com/renewbot/renewbot/store"
)

// Two accounts with their own approvers (RENEWBOT_ACCOUNTS approvers): an approver of
// account main clicking Approve on a request for shop's instance is refused with a message
// naming shop, and nothing is ordered; shop's approver approves and the instance is renewed
// with one order. The request names the instance as ACCOUNT:ID.
func TestApp_AccountApprovers(t *testing.T) {
	const mainApprover, shopApprover = "UMAINAPPR", "USHOPAPPR"
	e := newEdgeEnv(t, func(o *ecssim.Options) {
		o.Fleet.Accounts = append(o.Fleet.Accounts, ecssim.FleetAccount{UID: "3000000000000003", Name: "shop",
			AccessKeyID: "AKshop", AccessKeySecret: "SKshop", Balance: 1e6, Currency: "CNY",
			Instances: []ecssim.FleetInstance{{InstanceId: "i-bp1shop0001", InstanceName: "cart", RegionId: "cn-hangzhou",
				InstanceChargeType: "PrePaid", ExpiredTime: edgeStart.Add(5 * 24 * time.Hour), RenewalStatus: "Normal", MonthlyPrice: 80}}})
	})
	ctx := edgeCtx(t)
	// The edge env's workflow and app, again over both accounts and with per-account approvers.
	e.drain(t)
	noSleep := func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
	cloud, err := ecs.NewAccounts([]ecs.Config{
		{Account: "main", Regions: []string{"cn-hangzhou"}, Endpoint: e.sim.URL, AccessKeyID: "testid", AccessKeySecret: "testsecret", Sleep: noSleep},
		{Account: "shop", Regions: []string{"cn-hangzhou"}, Endpoint: e.sim.URL, AccessKeyID: "AKshop", AccessKeySecret: "SKshop", Sleep: noSleep},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.notes = bot.NewSlackNotifier(e.api, e.clock.Now, nil).WithMetrics(e.metrics)
	e.wf, err = renewal.NewWorkflow(renewal.WorkflowConfig{
		Cloud: cloud, Store: e.db, Now: e.clock.Now, Counter: e.metrics, Log: slog.New(slog.NewTextHandler(e.log, nil)),
		Members: bot.NewSlackMembers(e.api, time.Minute), Notifier: bot.Notifiers{e.notes, e.homes}, Poster: e.notes,
		Policy: renewal.Policy{Approvers: []string{edgeApprover},
			AccountApprovers: map[string][]string{"main": {mainApprover}, "shop": {shopApprover}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.app, err = bot.NewApp(bot.AppConfig{Workflow: e.wf, Cloud: cloud, Store: e.db, Slack: e.api, Now: e.clock.Now,
		Metrics: e.metrics, Log: slog.New(slog.NewTextHandler(e.log, nil)), Changes: e.homes})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(e.app.Handler(edgeSecret))
	t.Cleanup(e.srv.Close)

	// An account name that is not configured (names match exactly) is said as such.
	before := len(e.fake.CallsOf("response_url"))
	e.ack(t, edgeReq, "Shop:i-bp1shop0001 1")
	if text := e.responseText(t, ctx, before+1); !strings.Contains(text, `No account named "Shop" (accounts: main, shop)`) {
		t.Errorf("unknown account: answer %q", text)
	}
	r, ts := e.openRequest(t, ctx, "shop:I-BP1SHOP0001 1") // ACCOUNT:ID
	if got := r.Accounts(); len(got) != 1 || got[0] != "shop" {
		t.Fatalf("request accounts %v, want shop", got)
	}
	answers := len(e.fake.CallsOf("response_url"))
	for i, user := range []string{mainApprover, edgeApprover} { // main's approver; the global one, replaced by shop's
		e.click(t, user, ts, bot.ActionApprove, string(r.ID))
		if text := e.responseText(t, ctx, answers+i+1); !strings.Contains(text, "approvers of account shop") {
			t.Errorf("%s approving shop's request: answer %q does not name account shop", user, text)
		}
	}
	if got, _ := e.db.GetRequest(r.ID); got.State != store.StatePending || len(got.Approvals) != 0 {
		t.Fatalf("after refused approvals: state %s, approvals %v", got.State, got.Approvals)
	}

	e.click(t, shopApprover, ts, bot.ActionApprove, string(r.ID))
	e.drain(t)
	orders := e.sim.Orders()
	if len(orders) != 1 || orders[0].InstanceId != "i-bp1shop0001" {
		t.Fatalf("orders %+v, want one for i-bp1shop0001", orders)
	}
	if done, _ := e.db.GetRequest(r.ID); done.State != store.StateDone {
		t.Errorf("request state %s, want done", done.State)
	}
}
