package bot_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack/socketmode"
)

// runSocket runs the app's Socket Mode client against the fake until the test ends.
func (e *edgeEnv) runSocket(t *testing.T) {
	t.Helper()
	e.fake.SetPingInterval(20 * time.Millisecond)
	sm := socketmode.New(e.api, socketmode.OptionPingInterval(10*time.Second))
	ctx, stop := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- e.app.RunSocketMode(ctx, sm) }()
	t.Cleanup(func() {
		stop()
		if err := <-errc; err != nil {
			t.Errorf("RunSocketMode: %v", err)
		}
	})
}

// Every valid shape of a click is acknowledged and acted on over Socket Mode too, including
// those slack-go cannot parse into an InteractionCallback.
func TestSocketMode_ClickPayloadShapes(t *testing.T) {
	for name := range clickPayloads("", "", "", "") {
		t.Run(name, func(t *testing.T) {
			e := newEdgeEnv(t)
			ctx := edgeCtx(t)
			r, ts := e.openRequest(t, ctx, "i-bp1hz00001 1")
			e.runSocket(t)
			payload := clickPayloads(edgeReq, string(r.ID), ts, e.fake.ResponseURL())[name]
			env := e.fake.PushEnvelope("interactive", json.RawMessage(payload))
			if _, err := e.fake.WaitAck(ctx, env); err != nil {
				t.Fatal(err)
			}
			if text := e.responseText(t, ctx, 2); !strings.Contains(text, "someone else") {
				t.Errorf("self-approval answered %q", text)
			}
		})
	}
}

// A slash command whose envelope does not accept a response payload is acknowledged without
// one, and its answer goes through response_url instead, ahead of the work's own answer.
func TestSocketMode_CommandWithoutResponsePayload(t *testing.T) {
	e := newEdgeEnv(t)
	ctx := edgeCtx(t)
	e.runSocket(t)
	env := e.fake.PushEnvelopeAccepting("slash_commands", e.command(edgeReq, "status i-bp1hz00001"), false)
	frame, err := e.fake.WaitAck(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	if _, msg := ackPayload(t, frame); msg != nil {
		t.Errorf("ack carries a payload the envelope does not accept: %s", frame)
	}
	if text := e.responseText(t, ctx, 1); !strings.Contains(text, "Looking up i-bp1hz00001") {
		t.Errorf("first answer %q, want the immediate one", text)
	}
	if text := e.responseText(t, ctx, 2); !strings.Contains(text, "Status") {
		t.Errorf("second answer %q, want the status", text)
	}
}

// A stand-in that numbers envelopes per connection reuses envelope IDs: two different
// envelopes with one ID are both acted on; only a true redelivery (same ID, same payload) is not.
func TestSocketMode_ReusedEnvelopeIDIsNotARedelivery(t *testing.T) {
	var last []byte
	e := newEdgeEnv(t)
	ctx := edgeCtx(t)
	e.runSocket(t)
	for i, text := range []string{"status i-bp1hz00001", "status i-bp1hz00002", "status i-bp1hz00002"} {
		payload, err := json.Marshal(e.command(edgeReq, text))
		if err != nil {
			t.Fatal(err)
		}
		if i == 2 { // the same payload as the one before, response_url included: a redelivery
			payload = last
		}
		last = payload
		e.fake.PushFrame([]byte(`{"envelope_id":"1","type":"slash_commands","accepts_response_payload":true,"payload":` + string(payload) + `}`))
		if _, err := e.fake.Wait(ctx, "socket.ack", i+1); err != nil {
			t.Fatal(err)
		}
	}
	e.drain(t)
	if n := len(e.fake.CallsOf("response_url")); n != 2 {
		t.Errorf("%d answers, want 2: one per distinct envelope", n)
	}
}

// A slash command delivered again (Slack did not see the first ack) is acknowledged with the
// same answer, and has no second effect.
func TestSocketMode_RedeliveredCommandGetsTheSameAnswer(t *testing.T) {
	e := newEdgeEnv(t)
	ctx := edgeCtx(t)
	e.runSocket(t)
	env := e.fake.PushEnvelope("slash_commands", e.command(edgeReq, "status i-bp1hz00001"))
	if _, err := e.fake.WaitAck(ctx, env); err != nil {
		t.Fatal(err)
	}
	if err := e.fake.Redeliver(env); err != nil {
		t.Fatal(err)
	}
	acks, err := e.fake.Wait(ctx, "socket.ack", 2)
	if err != nil {
		t.Fatal(err)
	}
	_, first := ackPayload(t, acks[0].JSON)
	_, again := ackPayload(t, acks[1].JSON)
	if first == nil || again == nil || again.Text != first.Text {
		t.Errorf("acks %s and %s, want the same answer twice", acks[0].JSON, acks[1].JSON)
	}
	e.drain(t)
	if n := len(e.fake.CallsOf("response_url")); n != 1 {
		t.Errorf("%d answers, want 1", n)
	}
}

// Envelopes slack-go cannot parse (a field of another type than it expects, here a string
// "true" and a numeric extra field) are still acknowledged and acted on.
func TestSocketMode_OddlyTypedEnvelopes(t *testing.T) {
	e := newEdgeEnv(t)
	ctx := edgeCtx(t)
	e.runSocket(t)
	cmd, err := json.Marshal(e.command(edgeReq, "status i-bp1hz00001"))
	if err != nil {
		t.Fatal(err)
	}
	e.fake.PushFrame([]byte(`{"envelope_id":"odd-1","type":"slash_commands","accepts_response_payload":"true","retry_attempt":"0","payload":` + string(cmd) + `}`))
	cmd2 := strings.Replace(string(cmd), `"team_id":"T0FAKE"`, `"team_id":"T0FAKE","channel_name":7`, 1)
	e.fake.PushFrame([]byte(`{"envelope_id":"odd-2","type":"slash_commands","accepts_response_payload":true,"payload":` + cmd2 + `}`))
	for _, id := range []string{"odd-1", "odd-2"} {
		if _, err := e.fake.WaitAck(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	e.drain(t)
	var statuses int
	for _, c := range e.fake.CallsOf("response_url") {
		if strings.Contains(string(c.JSON), "Status") {
			statuses++
		}
	}
	if statuses != 2 {
		t.Errorf("%d status answers, want 2", statuses)
	}
}
