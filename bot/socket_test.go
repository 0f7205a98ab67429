package bot_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/renewbot/renewbot/bot"
	"github.com/renewbot/renewbot/bot/bottest"
	"github.com/renewbot/renewbot/store"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// ackPayload decodes a Socket Mode ack frame.
func ackPayload(tb testing.TB, frame []byte) (string, *slack.Msg) {
	tb.Helper()
	var ack struct {
		EnvelopeID string     `json:"envelope_id"`
		Payload    *slack.Msg `json:"payload"`
	}
	if err := json.Unmarshal(frame, &ack); err != nil {
		tb.Fatalf("ack %s: %v", frame, err)
	}
	return ack.EnvelopeID, ack.Payload
}

func TestSocketMode(t *testing.T) {
	e := newEdgeEnv(t)
	ctx := edgeCtx(t)
	e.fake.SetPingInterval(20 * time.Millisecond)
	sm := socketmode.New(e.api, socketmode.OptionPingInterval(10*time.Second))
	runCtx, stop := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- e.app.RunSocketMode(runCtx, sm) }()

	// Connected: hello sent, and the client answers the server's pings.
	if _, err := e.fake.Wait(ctx, "socket.hello", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fake.Wait(ctx, "socket.pong", 1); err != nil {
		t.Fatal(err)
	}
	if open := e.fake.CallsOf("apps.connections.open"); len(open) != 1 {
		t.Fatalf("apps.connections.open called %d times", len(open))
	}

	// A slash command is acked with the same answer as over HTTP, and delivered twice has one effect.
	cmdEnv := e.fake.PushEnvelope("slash_commands", e.command(edgeReq, "i-bp1hz00001 2"))
	frame, err := e.fake.WaitAck(ctx, cmdEnv)
	if err != nil {
		t.Fatal(err)
	}
	if id, msg := ackPayload(t, frame); id != cmdEnv || msg == nil || msg.ResponseType != slack.ResponseTypeEphemeral || !strings.Contains(msg.Text, "price quote") {
		t.Errorf("command ack %s", frame)
	}
	if err := e.fake.Redeliver(cmdEnv); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fake.Wait(ctx, "socket.ack", 2); err != nil {
		t.Fatal(err)
	}
	posts, err := e.fake.Wait(ctx, "chat.postMessage", 1)
	if err != nil {
		t.Fatal(err)
	}
	id := buttons(t, posts[0].Form.Get("blocks"))[bot.ActionApprove]
	e.responseText(t, ctx, 1)
	r, err := e.db.GetRequest(store.RequestID(id))
	if err != nil {
		t.Fatal(err)
	}

	// Self-approval over Socket Mode: refused with an ephemeral answer.
	selfEnv := e.fake.PushEnvelope("interactive", bottest.BlockAction(edgeReq, edgeChannel, r.Message.TS, bot.ActionApprove, id, e.fake.ResponseURL()))
	frame, err = e.fake.WaitAck(ctx, selfEnv)
	if err != nil {
		t.Fatal(err)
	}
	if _, msg := ackPayload(t, frame); msg != nil {
		t.Errorf("click ack carries a payload: %s", frame)
	}
	if text := e.responseText(t, ctx, 2); !strings.Contains(text, "someone else") {
		t.Errorf("self-approval answer %q", text)
	}

	// The approver's click, delivered twice.
	okEnv := e.fake.PushEnvelope("interactive", bottest.BlockAction(edgeApprover, edgeChannel, r.Message.TS, bot.ActionApprove, id, e.fake.ResponseURL()))
	if _, err := e.fake.WaitAck(ctx, okEnv); err != nil {
		t.Fatal(err)
	}
	if err := e.fake.Redeliver(okEnv); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fake.Wait(ctx, "socket.ack", 4); err != nil {
		t.Fatal(err)
	}

	// Events API envelopes are acknowledged and ignored.
	evEnv := e.fake.PushEnvelope("events_api", map[string]any{"type": "event_callback", "team_id": "T0FAKE",
		"event": map[string]any{"type": "app_mention", "user": edgeReq, "text": "hi", "channel": edgeChannel, "ts": "1.1"}})
	if _, err := e.fake.WaitAck(ctx, evEnv); err != nil {
		t.Fatal(err)
	}

	// Slack asks the client to reconnect; it does, and keeps serving.
	e.fake.Disconnect("warning")
	if _, err := e.fake.Wait(ctx, "socket.hello", 2); err != nil {
		t.Fatal(err)
	}
	helpEnv := e.fake.PushEnvelope("slash_commands", e.command(edgeReq, "help"))
	frame, err = e.fake.WaitAck(ctx, helpEnv)
	if err != nil {
		t.Fatal(err)
	}
	if _, msg := ackPayload(t, frame); msg == nil || len(msg.Blocks.BlockSet) == 0 || len(frame) >= 20<<10 {
		t.Errorf("help ack (%d bytes) %s", len(frame), frame)
	}
	if n := len(e.fake.CallsOf("apps.connections.open")); n != 2 {
		t.Errorf("apps.connections.open called %d times, want 2 (one per connection)", n)
	}

	stop()
	if err := <-errc; err != nil {
		t.Errorf("RunSocketMode: %v", err)
	}
	e.drain(t)

	if rs, _ := e.db.ListRequests(); len(rs) != 1 || rs[0].State != store.StateDone {
		t.Errorf("requests %+v, want one, done", rs)
	}
	if orders := e.sim.Orders(); len(orders) != 1 {
		t.Errorf("orders %+v, want one", orders)
	}
	approvals := 0
	for _, c := range e.fake.CallsOf("chat.postMessage") {
		if c.Form.Get("channel") == edgeChannel && c.Form.Get("thread_ts") == "" { // not the requester's DM or thread replies
			approvals++
		}
	}
	if approvals != 1 {
		t.Errorf("%d approval messages, want 1", approvals)
	}
	if n := len(e.fake.CallsOf("response_url")); n != 2 {
		t.Errorf("%d response_url answers, want 2 (confirmation, self-approval refusal): redelivery had an effect", n)
	}
	e.assertNoSecrets(t)
}

func TestSocketMode_InvalidAppToken(t *testing.T) {
	e := newEdgeEnv(t)
	api := slack.New("xoxb-test-token", slack.OptionAPIURL(e.fake.APIURL()), slack.OptionAppLevelToken("not-an-app-token"))
	err := e.app.RunSocketMode(edgeCtx(t), socketmode.New(api))
	if err == nil || !strings.Contains(err.Error(), "not_authed") {
		t.Errorf("RunSocketMode with a bad token: %v, want not_authed", err)
	}
}
