package bot_test

import (
	"strings"
	"testing"
	"time"

	"github.com/renewbot/renewbot/bot"
	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/ecs/ecssim"
	"github.com/renewbot/renewbot/store"
)

// onlyRequest returns the one request stored.
func (e *edgeEnv) onlyRequest(tb testing.TB) *store.Request {
	tb.Helper()
	rs, err := e.db.ListRequests()
	if err != nil || len(rs) != 1 {
		tb.Fatalf("requests %+v, %v; want one", rs, err)
	}
	return rs[0]
}

// Issue 9 item 7: chat.postMessage failing for a while (a 5xx, or a 429 with a long
// Retry-After) left the request pending without a message: nobody could approve it and the
// instance was locked until the deadline. Now the requester is told it will be posted, and
// the sweep posts it; the approval then works from that message.
func TestApp_MissingApprovalMessagePostedBySweep(t *testing.T) {
	for name, fail := range map[string]func(e *edgeEnv){
		"5xx":              func(e *edgeEnv) { e.fake.FailNext("chat.postMessage", 503, 0) },
		"long Retry-After": func(e *edgeEnv) { e.fake.FailNext("chat.postMessage", 429, 3600) },
	} {
		t.Run(name, func(t *testing.T) {
			e := newEdgeEnv(t)
			ctx := edgeCtx(t)
			fail(e)
			e.ack(t, edgeReq, "i-bp1hz00001 1")
			if text := e.responseText(t, ctx, 1); !strings.Contains(text, "will post it") {
				t.Errorf("answer %q, want it to say the message comes later", text)
			}
			r := e.onlyRequest(t)
			if r.State != store.StatePending || r.Message.TS != "" {
				t.Fatalf("after the failed post: %v, message %+v", r.State, r.Message)
			}
			if _, err := e.wf.Sweep(ctx); err != nil {
				t.Fatal(err)
			}
			r = e.onlyRequest(t)
			if r.State != store.StatePending || r.Message.TS == "" {
				t.Fatalf("after the sweep: %v, message %+v; want pending with its message", r.State, r.Message)
			}
			if msg, ok := e.fake.Message(edgeChannel, r.Message.TS); !ok || buttons(t, msg.Get("blocks"))["approve"] != string(r.ID) {
				t.Errorf("posted message %v (%v) has no approve button for %s", msg, ok, r.ID)
			}
			if n := len(e.fake.CallsOf("chat.postMessage")); n != 2 {
				t.Errorf("%d chat.postMessage calls, want the failed one and the sweep's", n)
			}
			if _, err := e.wf.Sweep(ctx); err != nil || len(e.fake.CallsOf("chat.postMessage")) != 2 {
				t.Errorf("a second sweep posted again: %v", err)
			}
			evs, _ := e.db.History(store.HistoryQuery{RequestID: r.ID})
			if !hasAction(evs, store.ActPosted) {
				t.Errorf("the sweep's post is not audited: %+v", evs)
			}
		})
	}
}

// Issue 9 item 7: a request whose process died before its message was posted gets it at
// start-up (Resume); one whose channel is gone is withdrawn at the sweep and the requester is
// told, and the instance is free again.
func TestApp_MissingApprovalMessageAtStartOrWithdrawn(t *testing.T) {
	e := newEdgeEnv(t)
	ctx := edgeCtx(t)
	r, err := e.wf.RequestRenewal(ctx, renewal.RenewalInput{Requester: edgeReq, Channel: edgeChannel, InstanceIDs: []string{"i-bp1hz00001"}, Months: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.wf.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.db.GetRequest(r.ID); got.Message.TS == "" {
		t.Fatalf("after Resume: no message: %+v", got)
	}

	gone, err := e.wf.RequestRenewal(ctx, renewal.RenewalInput{Requester: edgeReq, Channel: "CGONE", InstanceIDs: []string{"i-bp1hz00002"}, Months: 1})
	if err != nil {
		t.Fatal(err)
	}
	e.fake.ErrorNext("chat.postMessage", "channel_not_found")
	if _, err := e.wf.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := e.db.GetRequest(gone.ID)
	if got.State != store.StateCancelled {
		t.Fatalf("request in a channel that is gone: %v, want withdrawn (cancelled)", got.State)
	}
	told := false
	for _, c := range e.fake.CallsOf("chat.postEphemeral") {
		told = told || c.Form.Get("user") == edgeReq && strings.Contains(c.Form.Get("text"), string(gone.ID)) && strings.Contains(c.Form.Get("text"), "withdrew")
	}
	if !told {
		t.Errorf("the requester was not told: %+v", e.fake.CallsOf("chat.postEphemeral"))
	}
	if _, err := e.wf.RequestRenewal(ctx, renewal.RenewalInput{Requester: edgeReq, Channel: edgeChannel, InstanceIDs: []string{"i-bp1hz00002"}, Months: 1}); err != nil {
		t.Errorf("the instance is still locked: %v", err)
	}
}

func hasAction(evs []store.Event, a store.Action) bool {
	for _, ev := range evs {
		if ev.Action == a {
			return true
		}
	}
	return false
}

// Issue 9 item 7: `cancel REQUEST_ID` by an approver withdraws a pending request: the
// message loses its buttons and says who cancelled it, the audit records it, the instance is
// free; a stranger is refused and nothing changes.
func TestApp_CancelCommand(t *testing.T) {
	e := newEdgeEnv(t)
	ctx := edgeCtx(t)
	r, ts := e.openRequest(t, ctx, "i-bp1hz00001 1")
	answers := len(e.fake.CallsOf("response_url"))

	e.ack(t, edgeStranger, "cancel "+string(r.ID))
	if text := e.responseText(t, ctx, answers+1); !strings.Contains(strings.ToLower(text), "only") || !strings.Contains(text, "approver") {
		t.Errorf("stranger's cancel answered %q", text)
	}
	if got, _ := e.db.GetRequest(r.ID); got.State != store.StatePending {
		t.Fatalf("after a stranger's cancel: %v", got.State)
	}

	e.ack(t, edgeApprover, "cancel "+string(r.ID))
	if text := e.responseText(t, ctx, answers+2); !strings.Contains(text, "cancelled") {
		t.Errorf("cancel answered %q", text)
	}
	e.drain(t)
	msg, _ := e.fake.Message(edgeChannel, ts)
	if b := buttons(t, msg.Get("blocks")); len(b) != 0 || !strings.Contains(msg.Get("text"), "Cancelled by <@"+edgeApprover+">") {
		t.Errorf("cancelled message: buttons %v, text %q", b, msg.Get("text"))
	}
	evs, _ := e.db.History(store.HistoryQuery{RequestID: r.ID})
	if last := evs[len(evs)-1]; last.Action != store.ActCancelled || last.Actor != edgeApprover {
		t.Errorf("last audit event %+v", last)
	}
	if _, err := e.wf.RequestRenewal(ctx, renewal.RenewalInput{Requester: edgeReq, Channel: edgeChannel, InstanceIDs: []string{"i-bp1hz00001"}, Months: 1}); err != nil {
		t.Errorf("instance still locked: %v", err)
	}
}

// Issue 9 item 3: a verifying request that checking gave up on (48 h) is ended only by an
// approver's click after checking the console, audited as theirs; anyone else is refused.
func TestApp_SettleVerifyingByApprover(t *testing.T) {
	e := newEdgeEnv(t, func(o *ecssim.Options) { o.RenewDelay = 100 * time.Hour })
	ctx := edgeCtx(t)
	r, ts := e.openRequest(t, ctx, "i-bp1hz00001 1")
	// Executed by a workflow with a short verify timeout on the same store.
	wf, err := renewal.NewWorkflow(renewal.WorkflowConfig{Cloud: cloudOf(t, e), Store: e.db, Now: e.clock.Now,
		Policy: renewal.Policy{Approvers: []string{edgeApprover}}, VerifyTimeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wf.Approve(ctx, r.ID, edgeApprover); err != nil {
		t.Fatal(err)
	}
	if got, err := wf.Execute(ctx, r.ID); err != nil || got.State != store.StateVerifying {
		t.Fatalf("Execute = %v, %v; want verifying", got.State, err)
	}
	e.clock.Advance(49 * time.Hour)
	if _, err := wf.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.db.GetRequest(r.ID); !got.CheckingStopped {
		t.Fatalf("checking not stopped after 49 h: %+v", got)
	}
	answers := len(e.fake.CallsOf("response_url"))
	e.click(t, edgeStranger, ts, bot.ActionSettleFailed, string(r.ID))
	if text := e.responseText(t, ctx, answers+1); !strings.Contains(text, "Only renewal approvers") {
		t.Errorf("stranger's settle answered %q", text)
	}
	e.click(t, edgeApprover, ts, bot.ActionSettleFailed, string(r.ID))
	e.drain(t)
	got, _ := e.db.GetRequest(r.ID)
	if got.State != store.StateFailed || got.Closed == nil || got.Closed.User != edgeApprover {
		t.Fatalf("after the approver's click: %v, closed %+v", got.State, got.Closed)
	}
	evs, _ := e.db.History(store.HistoryQuery{RequestID: r.ID})
	if last := evs[len(evs)-1]; last.Action != store.ActSettled || last.Actor != edgeApprover {
		t.Errorf("last audit event %+v", last)
	}
}
