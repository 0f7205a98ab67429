package renewal_test

import (
	"context"
	"strings"
	"testing"

	"github.com/renewbot/renewbot/ecs"
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
