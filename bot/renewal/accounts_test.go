package renewal_test

import (
	"slices"
	"testing"
	"time"

	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/ecs/ecssim"
	"github.com/renewbot/renewbot/store"
)

// One request over instances of two accounts: each instance is quoted, paid and verified in
// its own account, and the request's items and audit events carry the accounts.
func TestRenewalAcrossTwoAccounts(t *testing.T) {
	e, shop := newTwoAccountEnv(t)
	r := e.renew(t, 1, "i-hz01", "i-shop01")
	var accounts []string
	for _, it := range r.Items {
		accounts = append(accounts, it.Account+":"+it.InstanceID)
	}
	if !slices.Equal(accounts, []string{"prod:i-hz01", "shop:i-shop01"}) {
		t.Fatalf("items = %v, want each with its account", accounts)
	}
	done := e.approveAndExecute(t, r)
	if done.State != store.StateDone {
		t.Fatalf("request ended %s: %+v", done.State, done.Items)
	}
	if got := ordersFor(e.sim); got["i-hz01"] != 1 || len(got) != 1 {
		t.Errorf("prod orders = %v, want i-hz01 once", got)
	}
	if got := ordersFor(shop); got["i-shop01"] != 1 || len(got) != 1 {
		t.Errorf("shop orders = %v, want i-shop01 once", got)
	}
	for _, ev := range e.history(t, r.ID) {
		if !slices.Equal(ev.Accounts, []string{"prod", "shop"}) {
			t.Errorf("event %s carries accounts %v, want prod and shop", ev.Action, ev.Accounts)
		}
	}
}

// newTwoAccountEnv is a workflow over two accounts: the wfEnv's emulator is account "prod",
// and "shop" a second emulator on the same clock holding i-shop01 (expires 2026-12-03 UTC+8).
func newTwoAccountEnv(t *testing.T) (e *wfEnv, shop *ecssim.Server) {
	t.Helper()
	e = newWFEnv(t, wfOptions{simOpts: func(o *ecssim.Options) {
		now := wfStart
		shop = ecssim.NewServer(ecssim.Options{RenewDelay: -1, Now: o.Now, Regions: wfRegions, Fleet: ecssim.Fleet{Now: &now, Balance: 1e6, Currency: "CNY",
			Instances: []ecssim.FleetInstance{{InstanceId: "i-shop01", RegionId: "cn-hangzhou", InstanceChargeType: "PrePaid",
				ExpiredTime: time.Date(2026, 12, 2, 16, 0, 0, 0, time.UTC), RenewalStatus: "Normal", MonthlyPrice: 60}}}})
		t.Cleanup(shop.Close)
	}})
	accts, err := ecs.NewAccounts([]ecs.Config{
		{Account: "prod", Regions: wfRegions, Endpoint: e.sim.URL, AccessKeyID: "testid", AccessKeySecret: "testsecret", Retry: ecs.RetryPolicy{Attempts: 3}, Sleep: noSleep},
		{Account: "shop", Regions: wfRegions, Endpoint: shop.URL, AccessKeyID: "testid", AccessKeySecret: "testsecret", Retry: ecs.RetryPolicy{Attempts: 3}, Sleep: noSleep},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.wf, err = renewal.NewWorkflow(renewal.WorkflowConfig{Cloud: accts, Store: e.db, Members: wfMembers{}, Notifier: e.notes,
		Policy: renewal.Policy{Approvers: []string{"UAPPROVER1"}}, Now: e.clock.Now, VerifyTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return e, shop
}
