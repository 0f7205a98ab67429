package renewal_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/ecs/ecssim"
	"github.com/renewbot/renewbot/store"
)

// Issue 9 item 2: the expiry moves between the request and the approval (a console or CLI
// renewal, or Alibaba's auto-renew deduction). The approved request re-reads the instance
// right before RenewInstance, sees another expiry than the one it quoted, and pays nothing:
// the item ends superseded, saying from and to and how to ask again, and the instance is free.
func TestWorkflow_ExpiryMovedBeforeApproval_Superseded(t *testing.T) {
	e := newWFEnv(t, wfOptions{})
	ctx := context.Background()
	r := e.renew(t, 1, "i-hz01")
	// Someone renews i-hz01 in the console meanwhile.
	if _, err := e.cloud.Renew(ctx, ecs.RenewInput{InstanceID: "i-hz01", RegionID: "cn-hangzhou", Months: 2, ClientToken: "console-1"}); err != nil {
		t.Fatal(err)
	}
	moved, _ := e.sim.Instance("i-hz01")
	got := e.approveAndExecute(t, r)
	if n := e.sim.Calls()["RenewInstance"]; n != 1 {
		t.Errorf("%d RenewInstance calls, want only the console's one", n)
	}
	if o := ordersFor(e.sim); o["i-hz01"] != 1 {
		t.Errorf("orders per instance %v, want the console's one", o)
	}
	field(t, "request State", got.State, store.StateSuperseded)
	it := got.Items[0]
	field(t, "item State", it.State, store.ItemSuperseded)
	for _, part := range []string{
		r.Items[0].CurrentExpiry.In(ecs.UTC8).Format("2006-01-02"), moved.ExpiredTime.In(ecs.UTC8).Format("2006-01-02"),
		"nothing was charged", "/renew i-hz01",
	} {
		if !strings.Contains(it.Error, part) {
			t.Errorf("item message %q does not say %q", it.Error, part)
		}
	}
	if n := countAction(e.history(t, r.ID), store.ActSuperseded); n != 1 {
		t.Errorf("%d superseded events, want 1", n)
	}
	e.renew(t, 1, "i-hz01") // the instance is free again
}

// Issue 9 item 1: an auto-renew-on request is priced like a renewal (DescribeRenewalPrice for
// its duration: one automatic renewal per instance, and the total), and the money rules
// apply: RENEWBOT_MAX_PERIOD caps its duration, RENEWBOT_MAX_AMOUNT refuses it,
// RENEWBOT_SECOND_APPROVAL_ABOVE asks for two approvals. Before, it was accepted at ¥0 with
// one approval whatever it cost.
func TestWorkflow_AutoRenewOnPriced(t *testing.T) {
	e := newWFEnv(t, wfOptions{policy: renewal.Policy{
		Approvers: []string{"UAPPROVER1", "UAPPROVER2"}, MaxMonths: 3, MaxAmount: 2000, SecondAbove: 250,
	}})
	ctx := context.Background()
	on := func(d int, ids ...string) (*store.Request, error) {
		return e.wf.RequestAutoRenew(ctx, renewal.AutoRenewInput{Requester: "UREQ", Channel: "CCHAN", InstanceIDs: ids, Mode: store.AutoRenewOn, Duration: d})
	}
	_, err := on(60, "i-hz02")
	wantUserError(t, err, "3 months", "60")

	r, err := on(3, "i-hz01", "i-hz02") // 100 and 250 a month
	if err != nil {
		t.Fatal(err)
	}
	field(t, "item i-hz01 Price", r.Items[0].Price, 300.0)
	field(t, "item i-hz02 Price", r.Items[1].Price, 750.0)
	field(t, "Total", r.Total, 1050.0)
	field(t, "Currency", r.Currency, "CNY")
	field(t, "ApprovalsRequired", r.ApprovalsRequired, 2)
	if _, err := e.wf.Cancel(ctx, r.ID, "UREQ"); err != nil {
		t.Fatal(err)
	}

	e.sim.AddInstances(ecssim.FleetInstance{InstanceId: "i-big01", RegionId: "cn-hangzhou", InstanceChargeType: "PrePaid",
		ExpiredTime: time.Date(2026, 12, 20, 16, 0, 0, 0, time.UTC), RenewalStatus: "Normal", MonthlyPrice: 5000})
	_, err = on(3, "i-big01")
	wantRefusal(t, err, renewal.RefuseOverLimit)
	if rs, _ := e.db.ListRequests(); len(rs) != 1 {
		t.Errorf("%d requests stored, want only the cancelled one", len(rs))
	}
}

// zeroQuotes is the ECS client with every quote answered without a price.
type zeroQuotes struct{ renewal.Cloud }

func (z zeroQuotes) Quote(ctx context.Context, region, id string, months int) (ecs.Quote, error) {
	q, err := z.Cloud.Quote(ctx, region, id, months)
	q.Original, q.Discount, q.Trade = 0, 0, 0
	return q, err
}

func (z zeroQuotes) QuoteAligned(ctx context.Context, region, id string, day int) (ecs.Quote, error) {
	q, err := z.Cloud.QuoteAligned(ctx, region, id, day)
	q.Original, q.Discount, q.Trade = 0, 0, 0
	return q, err
}

// Issue 9 item 1: a quote without a positive price is refused with a message, for a renewal
// (for months or to a day) and for auto-renew on alike; nothing is stored, and it is never
// shown as ¥0.
func TestWorkflow_QuoteWithoutPriceRefused(t *testing.T) {
	e := newWFEnv(t, wfOptions{cfg: func(c *renewal.WorkflowConfig) { c.Cloud = zeroQuotes{c.Cloud} }})
	ctx := context.Background()
	_, err := e.wf.RequestRenewal(ctx, renewal.RenewalInput{Requester: "UREQ", Channel: "CCHAN", InstanceIDs: []string{"i-hz01"}, Months: 1})
	wantUserError(t, err, "i-hz01", "no price")
	_, err = e.wf.RequestAutoRenew(ctx, renewal.AutoRenewInput{Requester: "UREQ", Channel: "CCHAN", InstanceIDs: []string{"i-hz01"}, Mode: store.AutoRenewOn, Duration: 1})
	wantUserError(t, err, "i-hz01", "no price")
	_, err = e.wf.RequestRenewal(ctx, renewal.RenewalInput{Requester: "UREQ", Channel: "CCHAN", InstanceIDs: []string{"i-hz01"}, ExpectedRenewDay: 15})
	wantUserError(t, err, "i-hz01", "no price", "to day 15")
	if rs, _ := e.db.ListRequests(); len(rs) != 0 {
		t.Errorf("%d requests stored, want none", len(rs))
	}
}

// Issue 9 item 1: the longest auto-renew durations, which DescribeRenewalPrice cannot quote
// in one go (it takes 1-3 years), are priced as whole years.
func TestWorkflow_AutoRenewLongDurationPriced(t *testing.T) {
	e := newWFEnv(t, wfOptions{policy: renewal.Policy{Approvers: []string{"UAPPROVER1"}, MaxMonths: 60}})
	r, err := e.wf.RequestAutoRenew(context.Background(), renewal.AutoRenewInput{Requester: "UREQ", Channel: "CCHAN",
		InstanceIDs: []string{"i-hz01"}, Mode: store.AutoRenewOn, Duration: 60})
	if err != nil {
		t.Fatal(err)
	}
	// 100 a month, 15% off for a year or more: 1020 a year, five years.
	field(t, "Total", r.Total, 5100.0)
}
