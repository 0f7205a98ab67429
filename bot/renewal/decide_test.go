package renewal_test

import (
	"strings"
	"testing"
	"time"

	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/store"
)

func TestDecideApproval(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	pending := func(required int, approvals ...string) *store.Request {
		r := &store.Request{ID: "R0DECIDE", State: store.StatePending, Requester: "UREQ",
			Deadline: now.Add(time.Hour), ApprovalsRequired: required}
		for _, a := range approvals {
			r.Approvals = append(r.Approvals, store.Decision{User: a, At: now.Add(-time.Minute)})
		}
		return r
	}
	withState := func(s store.State) *store.Request { r := pending(1); r.State = s; return r }
	expired := pending(1)
	expired.Deadline = now
	approver := func(id string) renewal.Approver { return renewal.Approver{ID: id, Allowed: true} }
	policy := renewal.Policy{Approvers: []string{"UA", "UB", "UREQ"}}

	for _, tc := range []struct {
		name   string
		r      *store.Request
		user   renewal.Approver
		policy renewal.Policy
		want   store.State           // with no refusal
		reason renewal.RefusalReason // 0: accepted
	}{
		{"the one approval needed", pending(1), approver("UA"), policy, store.StateApproved, 0},
		{"the first of two", pending(2), approver("UA"), policy, store.StatePending, 0},
		{"the second of two", pending(2, "UA"), approver("UB"), policy, store.StateApproved, 0},
		{"the same approver twice", pending(2, "UA"), approver("UA"), policy, 0, renewal.RefuseDecided},
		{"the requester (four-eyes)", pending(1), approver("UREQ"), policy, 0, renewal.RefuseSelfApproval},
		{"the requester, four-eyes off", pending(1), approver("UREQ"), renewal.Policy{AllowSelf: true}, store.StateApproved, 0},
		{"not an approver", pending(1), renewal.Approver{ID: "UX"}, policy, 0, renewal.RefuseNotApprover},
		{"no approvers configured", pending(1), renewal.Approver{ID: "UX"}, renewal.Policy{}, 0, renewal.RefuseNotApprover},
		{"a global approver, not the account's", pending(1), renewal.Approver{ID: "UA", Account: "shop"},
			renewal.Policy{Approvers: []string{"UA"}, AccountApprovers: map[string][]string{"shop": {"USHOP"}}}, 0, renewal.RefuseNotApprover},
		{"the account's approver, four-eyes still", pending(1), approver("UREQ"),
			renewal.Policy{AccountApprovers: map[string][]string{"shop": {"UREQ"}}}, 0, renewal.RefuseSelfApproval},
		{"the account's approvers, two approvals still", pending(2), approver("USHOP"),
			renewal.Policy{AccountApprovers: map[string][]string{"shop": {"USHOP"}}}, store.StatePending, 0},
		{"past the deadline", expired, approver("UA"), policy, 0, renewal.RefuseExpired},
		{"already approved", withState(store.StateApproved), approver("UB"), policy, 0, renewal.RefuseDecided},
		{"already executing", withState(store.StateExecuting), approver("UB"), policy, 0, renewal.RefuseDecided},
		{"rejected", withState(store.StateRejected), approver("UB"), policy, 0, renewal.RefuseDecided},
		{"expired and written down", withState(store.StateExpired), approver("UB"), policy, 0, renewal.RefuseExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ref := renewal.DecideApproval(tc.r, tc.user, now, tc.policy)
			switch {
			case tc.reason == 0 && ref != nil:
				t.Fatalf("refused (%v: %s), want %s", ref.Reason, ref.Msg, tc.want)
			case tc.reason != 0 && ref == nil:
				t.Fatalf("accepted (%s), want a refusal %v", got, tc.reason)
			case ref != nil && ref.Reason != tc.reason:
				t.Errorf("refusal %v (%s), want %v", ref.Reason, ref.Msg, tc.reason)
			case ref != nil && ref.Msg == "":
				t.Error("refusal without a message")
			case ref != nil && tc.user.Account != "" && !strings.Contains(ref.Msg, "account "+tc.user.Account):
				t.Errorf("refusal %q does not name account %s", ref.Msg, tc.user.Account)
			case ref == nil && got != tc.want:
				t.Errorf("next state %s, want %s", got, tc.want)
			}
		})
	}
}
