package bot_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/renewbot/renewbot/bot"
	"github.com/renewbot/renewbot/bot/bottest"
	"github.com/renewbot/renewbot/store"
	"github.com/slack-go/slack"
)

// commandWithTrigger is a slash command carrying a trigger_id the fake issued.
func (e *edgeEnv) commandWithTrigger(user, text string) slack.SlashCommand {
	c := e.command(user, text)
	c.TriggerID = e.fake.Trigger(user)
	return c
}

// openModal runs "/renew" with no text over HTTP and returns the modal Slack shows.
func (e *edgeEnv) openModal(t *testing.T, ctx context.Context, user string) map[string]any {
	t.Helper()
	n := len(e.fake.CallsOf("views.open"))
	status, body := e.post(t, "/slack/commands", bottest.CommandForm(e.commandWithTrigger(user, "")))
	if status != http.StatusOK || !strings.Contains(body, "request form") {
		t.Fatalf("/renew: %d %s", status, body)
	}
	v, err := e.fake.WaitView(ctx, "views.open", n+1)
	if err != nil {
		t.Fatal(err)
	}
	checkModal(t, v)
	return v
}

// checkModal checks a modal as Slack holds it against Slack's limits.
func checkModal(t *testing.T, v map[string]any) {
	t.Helper()
	js, _ := json.Marshal(v)
	var mv slack.View
	if err := json.Unmarshal(js, &mv); err != nil {
		t.Fatalf("modal %s: %v", js, err)
	}
	if err := bot.CheckViewLimits(mv.Blocks.BlockSet); err != nil {
		t.Errorf("modal breaks Slack's limits: %v", err)
	}
}

// options decodes the options of a block_suggestion answer.
func options(t *testing.T, body string) []string {
	t.Helper()
	var ans struct {
		Options []struct {
			Value string `json:"value"`
		} `json:"options"`
	}
	if err := json.Unmarshal([]byte(body), &ans); err != nil {
		t.Fatalf("options %q: %v", body, err)
	}
	var out []string
	for _, o := range ans.Options {
		out = append(out, o.Value)
	}
	return out
}

func pick(id, months, reason string) bottest.Values {
	return bottest.Values{"instance": {bot.ActionPickInstance: id}, "period": {bot.ActionPickPeriod: months}, "reason": {"reason_text": reason}}
}

// The request modal over HTTP: /renew with no text opens it, the picker searches the last
// scan, a pick shows the quote, bad input comes back in the modal, and a submission
// creates the same request as "/renew ID MONTHS".
func TestModal_HTTP(t *testing.T) {
	e := newEdgeEnv(t)
	ctx := edgeCtx(t)
	v := e.openModal(t, ctx, edgeReq)

	// The options load URL: by name, by ID; at most 100.
	status, body := e.viewPost(t, "/slack/options", bottest.BlockSuggestion(edgeReq, v, "instance", bot.ActionPickInstance, "WEB-2"))
	if got := options(t, body); status != http.StatusOK || len(got) != 1 || got[0] != "i-bp1hz00002" {
		t.Errorf("search web-2: %d %v", status, got)
	}
	_, body = e.viewPost(t, "/slack/interactions", bottest.BlockSuggestion(edgeReq, v, "instance", bot.ActionPickInstance, ""))
	if got := options(t, body); len(got) != 2 || got[0] != "i-bp1hz00001" {
		t.Errorf("empty query (interactivity URL): %v, want both, most urgent first", got)
	}

	// Picking the instance shows its quote in the modal.
	status, body = e.viewPost(t, "/slack/interactions", bottest.ViewAction(edgeReq, "", v, "instance", bot.ActionPickInstance, "i-bp1hz00002", pick("i-bp1hz00002", "3", "")))
	if status != http.StatusOK || body != "" {
		t.Fatalf("pick: %d %q", status, body)
	}
	upd, err := e.fake.WaitView(ctx, "views.update", 1)
	if err != nil {
		t.Fatal(err)
	}
	checkModal(t, upd)
	if js, _ := json.Marshal(upd); !strings.Contains(string(js), "750.00") || !strings.Contains(string(js), "3 months") {
		t.Errorf("quote for 3 months of web-2 (250/month) not in the modal: %s", js)
	}

	// Bad input: errors in the modal, nothing stored.
	for _, tt := range []struct {
		vals  bottest.Values
		block string
	}{
		{pick("", "1", ""), "instance"},
		{pick("i-bp1hz00002", "10", ""), "period"},
		{pick("i-bp1hz00002", "1", strings.Repeat("x", 501)), "reason"},
		{pick("i-bp1nothere", "1", ""), "instance"}, // the workflow's own refusal, in time
	} {
		status, body := e.viewPost(t, "/slack/interactions", bottest.ViewSubmission(edgeReq, upd, tt.vals))
		var ans struct {
			ResponseAction string            `json:"response_action"`
			Errors         map[string]string `json:"errors"`
		}
		if err := json.Unmarshal([]byte(body), &ans); err != nil || status != http.StatusOK || ans.ResponseAction != "errors" || ans.Errors[tt.block] == "" {
			t.Errorf("submit %v: %d %s, want errors on %s", tt.vals, status, body, tt.block)
		}
	}
	if rs, _ := e.db.ListRequests(); len(rs) != 0 {
		t.Fatalf("bad input left %d requests", len(rs))
	}

	// A good submission closes the modal and opens the request, with its reason.
	status, body = e.viewPost(t, "/slack/interactions", bottest.ViewSubmission(edgeReq, upd, pick("i-bp1hz00002", "3", "peak season")))
	if status != http.StatusOK || body != "" {
		t.Fatalf("submit: %d %q", status, body)
	}
	posts, err := e.fake.Wait(ctx, "chat.postMessage", 1)
	if err != nil {
		t.Fatal(err)
	}
	if ch := posts[0].Form.Get("channel"); ch != edgeChannel {
		t.Errorf("approval message in %q, want %q", ch, edgeChannel)
	}
	if !strings.Contains(posts[0].Form.Get("blocks"), "peak season") {
		t.Errorf("approval message lacks the reason: %s", posts[0].Form.Get("blocks"))
	}
	e.drain(t)
	rs, _ := e.db.ListRequests()
	if len(rs) != 1 || rs[0].Months != 3 || rs[0].Requester != edgeReq || rs[0].InstanceIDs()[0] != "i-bp1hz00002" || rs[0].Total != 750 || rs[0].Reason != "peak season" {
		t.Fatalf("requests %+v", rs)
	}
	if rs[0].Message.TS == "" {
		t.Error("the approval message is not attached")
	}
}

// An expired trigger_id (Slack allows 3 seconds): the user is told to use the command.
func TestModal_ExpiredTrigger(t *testing.T) {
	e := newEdgeEnv(t)
	ctx := edgeCtx(t)
	c := e.commandWithTrigger(edgeReq, "")
	e.fake.ExpireTrigger(c.TriggerID)
	if status, _ := e.post(t, "/slack/commands", bottest.CommandForm(c)); status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	if text := e.responseText(t, ctx, 1); !strings.Contains(text, "expired_trigger_id") || !strings.Contains(text, "/renew INSTANCE_ID MONTHS") {
		t.Errorf("answer %q", text)
	}
}

// The same flow over Socket Mode: options and errors come back in the acks.
func TestModal_SocketMode(t *testing.T) {
	e := newEdgeEnv(t)
	ctx := edgeCtx(t)
	e.runSocket(t)
	env := e.fake.PushEnvelope("slash_commands", e.commandWithTrigger(edgeReq, ""))
	if _, err := e.fake.WaitAck(ctx, env); err != nil {
		t.Fatal(err)
	}
	v, err := e.fake.WaitView(ctx, "views.open", 1)
	if err != nil {
		t.Fatal(err)
	}
	sug := e.fake.PushEnvelope("interactive", bottest.BlockSuggestion(edgeReq, v, "instance", bot.ActionPickInstance, "i-bp1hz00001"))
	frame, err := e.fake.WaitAck(ctx, sug)
	if err != nil {
		t.Fatal(err)
	}
	var ack struct {
		Payload json.RawMessage `json:"payload"`
	}
	_ = json.Unmarshal(frame, &ack)
	if got := options(t, string(ack.Payload)); len(got) != 1 || got[0] != "i-bp1hz00001" {
		t.Errorf("options over Socket Mode: %s", frame)
	}
	bad := e.fake.PushEnvelope("interactive", bottest.ViewSubmission(edgeReq, v, pick("", "1", "")))
	if frame, err = e.fake.WaitAck(ctx, bad); err != nil || !strings.Contains(string(frame), `"response_action":"errors"`) {
		t.Errorf("bad submission ack %s, %v", frame, err)
	}
	good := e.fake.PushEnvelope("interactive", bottest.ViewSubmission(edgeReq, v, pick("i-bp1hz00001", "1", "")))
	if frame, err = e.fake.WaitAck(ctx, good); err != nil || strings.Contains(string(frame), "payload") {
		t.Errorf("good submission ack %s, %v", frame, err)
	}
	if _, err := e.fake.Wait(ctx, "chat.postMessage", 1); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	if rs, _ := e.db.ListRequests(); len(rs) != 1 || rs[0].InstanceIDs()[0] != "i-bp1hz00001" {
		t.Errorf("requests %+v", rs)
	}
}

// The Home tab's button opens the modal, which asks for the channel; the submission posts
// the approval message there.
func TestModal_FromHome(t *testing.T) {
	e := newEdgeEnv(t)
	ctx := edgeCtx(t)
	e.event(t, bottest.EventCallback("Ev200", bottest.AppHomeOpened(edgeReq, "home")), 0)
	if _, err := e.fake.Wait(ctx, "views.publish", 1); err != nil {
		t.Fatal(err)
	}
	home, _ := e.fake.HomeView(edgeReq)
	e.viewPost(t, "/slack/interactions", bottest.ViewAction(edgeReq, e.fake.Trigger(edgeReq), home, "home.request", bot.ActionHomeRequest, "open", nil))
	v, err := e.fake.WaitView(ctx, "views.open", 1)
	if err != nil {
		t.Fatal(err)
	}
	vals := pick("i-bp1hz00001", "1", "")
	_, body := e.viewPost(t, "/slack/interactions", bottest.ViewSubmission(edgeReq, v, vals))
	if !strings.Contains(body, `"channel"`) {
		t.Errorf("no channel picked: %s, want an error on the channel block", body)
	}
	vals["channel"] = map[string]string{bot.ActionPickChannel: edgeChannel}
	if _, body = e.viewPost(t, "/slack/interactions", bottest.ViewSubmission(edgeReq, v, vals)); body != "" {
		t.Fatalf("submit: %s", body)
	}
	posts, err := e.fake.Wait(ctx, "chat.postMessage", 1)
	if err != nil || posts[0].Form.Get("channel") != edgeChannel {
		t.Fatalf("approval posts %v, %v", posts, err)
	}
}

// Reject opens a modal; its reason shows in the message and the audit log.
func TestReject_WithReason(t *testing.T) {
	e := newEdgeEnv(t)
	ctx := edgeCtx(t)
	r, ts := e.openRequest(t, ctx, "i-bp1hz00002 1")
	ic := bottest.BlockAction(edgeApprover, edgeChannel, ts, bot.ActionReject, string(r.ID), e.fake.ResponseURL())
	ic.TriggerID = e.fake.Trigger(edgeApprover)
	if status, _ := e.post(t, "/slack/interactions", bottest.InteractionForm(ic)); status != http.StatusOK {
		t.Fatal(status)
	}
	v, err := e.fake.WaitView(ctx, "views.open", 1)
	if err != nil {
		t.Fatal(err)
	}
	checkModal(t, v)
	if got, _ := e.db.GetRequest(r.ID); got.State != store.StatePending {
		t.Fatalf("rejected before the modal was submitted: %s", got.State)
	}
	_, body := e.viewPost(t, "/slack/interactions", bottest.ViewSubmission(edgeApprover, v, bottest.Values{"reason": {"reason_text": strings.Repeat("y", 501)}}))
	if !strings.Contains(body, `"reason"`) {
		t.Errorf("a 501-character reason: %s, want an error", body)
	}
	e.viewPost(t, "/slack/interactions", bottest.ViewSubmission(edgeApprover, v, bottest.Values{"reason": {"reason_text": "db-1 <retires> Friday"}}))
	e.drain(t)
	got, _ := e.db.GetRequest(r.ID)
	if got.State != store.StateRejected || got.Closed == nil || got.Closed.Note != "db-1 <retires> Friday" {
		t.Fatalf("request %+v", got)
	}
	msg, _ := e.fake.Message(edgeChannel, ts)
	if !strings.Contains(msg.Get("blocks"), "db-1 \\u0026lt;retires\\u0026gt; Friday") && !strings.Contains(msg.Get("blocks"), "db-1 &lt;retires&gt; Friday") {
		t.Errorf("message lacks the reason: %s", msg.Get("blocks"))
	}
	evs, _ := e.db.History(store.HistoryQuery{RequestID: r.ID})
	found := false
	for _, ev := range evs {
		if ev.Action == store.ActRejected && ev.Detail == "reason: db-1 <retires> Friday" && ev.Actor == edgeApprover {
			found = true
		}
	}
	if !found {
		t.Errorf("audit has no rejection with the reason: %+v", evs)
	}
}

// When the modal cannot open (trigger expired), the click still rejects, without a reason;
// over Socket Mode too.
func TestReject_ExpiredTriggerSocketMode(t *testing.T) {
	e := newEdgeEnv(t)
	ctx := edgeCtx(t)
	r, ts := e.openRequest(t, ctx, "i-bp1hz00002 1")
	e.runSocket(t)
	ic := bottest.BlockAction(edgeApprover, edgeChannel, ts, bot.ActionReject, string(r.ID), e.fake.ResponseURL())
	ic.TriggerID = e.fake.Trigger(edgeApprover)
	e.fake.ExpireTrigger(ic.TriggerID)
	env := e.fake.PushEnvelope("interactive", ic)
	if _, err := e.fake.WaitAck(ctx, env); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fake.Wait(ctx, "views.open", 1); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	if got, _ := e.db.GetRequest(r.ID); got.State != store.StateRejected || got.Closed.Note != "" {
		t.Errorf("request %+v, want rejected without a reason", got)
	}
	if len(e.sim.Orders()) != 0 {
		t.Error("a rejected request was paid for")
	}
}

// A digest row's "Renew…" option opens the modal with the instance preselected; the
// approval message goes to the digest's channel.
func TestModal_FromDigestRow(t *testing.T) {
	e := newEdgeEnv(t)
	ctx := edgeCtx(t)
	ic := bottest.BlockAction(edgeReq, edgeChannel, "1700000000.000100", bot.ActionDigestRenew, "i-bp1hz00002:form", e.fake.ResponseURL())
	ic.TriggerID = e.fake.Trigger(edgeReq)
	if status, _ := e.post(t, "/slack/interactions", bottest.InteractionForm(ic)); status != http.StatusOK {
		t.Fatal(status)
	}
	v, err := e.fake.WaitView(ctx, "views.open", 1)
	if err != nil {
		t.Fatal(err)
	}
	checkModal(t, v)
	if js, _ := json.Marshal(v); !strings.Contains(string(js), `"initial_option":{"text":{"emoji":false,"text":"i-bp1hz00002`) {
		t.Errorf("the instance is not preselected: %s", js)
	}
	e.viewPost(t, "/slack/interactions", bottest.ViewSubmission(edgeReq, v, pick("i-bp1hz00002", "2", "")))
	posts, err := e.fake.Wait(ctx, "chat.postMessage", 1)
	if err != nil || posts[0].Form.Get("channel") != edgeChannel {
		t.Fatalf("approval posts %v, %v", posts, err)
	}
}

// The requester is told of each outcome in a DM and in the approval message's thread, once:
// the approval, then the order and the verified expiry; a rejection with its reason.
func TestRequester_ToldByDMAndThread(t *testing.T) {
	e := newEdgeEnv(t)
	ctx := edgeCtx(t)
	r, ts := e.openRequest(t, ctx, "i-bp1hz00001 1")
	e.click(t, edgeApprover, ts, bot.ActionApprove, string(r.ID))
	dm := "D" + strings.TrimLeft(edgeReq, "U")
	done, err := e.fake.WaitFor(ctx, "chat.postMessage", 0, func(c bottest.Call) bool {
		return c.Form.Get("channel") == dm && strings.Contains(c.Form.Get("text"), "is done")
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := e.db.GetRequest(r.ID)
	if !strings.Contains(done.Form.Get("text"), got.Items[0].OrderID) || !strings.Contains(done.Form.Get("text"), "verified expiry") {
		t.Errorf("done DM %q lacks the order %s and the verified expiry", done.Form.Get("text"), got.Items[0].OrderID)
	}
	if _, err := e.fake.WaitFor(ctx, "chat.postMessage", 0, func(c bottest.Call) bool {
		return c.Form.Get("channel") == edgeChannel && c.Form.Get("thread_ts") == ts && strings.Contains(c.Form.Get("text"), "is done")
	}); err != nil {
		t.Fatal(err)
	}

	// Rejected, with the reason.
	r2, ts2 := e.openRequest(t, ctx, "i-bp1hz00002 1")
	ic := bottest.BlockAction(edgeApprover, edgeChannel, ts2, bot.ActionReject, string(r2.ID), e.fake.ResponseURL())
	ic.TriggerID = e.fake.Trigger(edgeApprover)
	e.post(t, "/slack/interactions", bottest.InteractionForm(ic))
	v, err := e.fake.WaitView(ctx, "views.open", 1)
	if err != nil {
		t.Fatal(err)
	}
	e.viewPost(t, "/slack/interactions", bottest.ViewSubmission(edgeApprover, v, bottest.Values{"reason": {"reason_text": "not needed after March"}}))
	if _, err := e.fake.WaitFor(ctx, "chat.postMessage", 0, func(c bottest.Call) bool {
		return c.Form.Get("channel") == dm && strings.Contains(c.Form.Get("text"), "was rejected") && strings.Contains(c.Form.Get("text"), "not needed after March")
	}); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	counts := map[string]int{}
	for _, c := range e.fake.CallsOf("chat.postMessage") {
		if c.Form.Get("channel") == dm {
			counts[strings.Fields(c.Form.Get("text"))[0]]++
		}
	}
	if counts["✅"] != 2 || counts["🚫"] != 1 || len(counts) != 2 {
		t.Errorf("DMs by kind %v, want approved and done (✅ 2) and rejected (🚫 1), each once", counts)
	}
	if n := len(e.fake.CallsOf("conversations.open")); n != 3 {
		t.Errorf("%d conversations.open, want 3", n)
	}
}
