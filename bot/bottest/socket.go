package bottest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
)

// disconnectPrefix marks an outbox frame after which the server closes the connection.
const disconnectPrefix = `{"type":"disconnect"`

// serveSocket is the Socket Mode WebSocket: hello first, then queued frames and periodic
// pings; every frame the client sends is recorded as an ack.
func (f *FakeSlack) serveSocket(w http.ResponseWriter, r *http.Request) {
	upgrader := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	f.mu.Lock()
	f.conns[conn] = true
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.conns, conn)
		f.mu.Unlock()
		conn.Close()
	}()
	hello := `{"type":"hello","num_connections":1,"debug_info":{"host":"fake-applink","build_number":1,"approximate_connection_time":18060},"connection_info":{"app_id":"A0FAKE"}}`
	if err := conn.WriteMessage(websocket.TextMessage, []byte(hello)); err != nil {
		return
	}
	f.mu.Lock()
	f.record(Call{Method: "socket.hello", Status: http.StatusSwitchingProtocols})
	ping := f.ping
	f.mu.Unlock()
	conn.SetPongHandler(func(string) error {
		f.mu.Lock()
		f.record(Call{Method: "socket.pong"})
		f.mu.Unlock()
		return nil
	})

	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_, frame, err := conn.ReadMessage()
			if err != nil {
				return
			}
			f.recordAck(frame)
		}
	}()

	ticker := time.NewTicker(ping)
	defer ticker.Stop()
	for {
		select {
		case <-done:
			return
		case <-ticker.C:
			if err := conn.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(time.Second)); err != nil {
				return
			}
		case frame := <-f.outbox:
			if err := conn.WriteMessage(websocket.TextMessage, frame); err != nil {
				return
			}
			if string(frame[:min(len(frame), len(disconnectPrefix))]) == disconnectPrefix {
				// Like Slack: after a disconnect the client must open a new connection.
				_ = conn.WriteControl(websocket.CloseMessage,
					websocket.FormatCloseMessage(websocket.CloseNormalClosure, "disconnect"), time.Now().Add(time.Second))
				<-done
				return
			}
		}
	}
}

func (f *FakeSlack) recordAck(frame []byte) {
	var ack struct {
		EnvelopeID string `json:"envelope_id"`
	}
	_ = json.Unmarshal(frame, &ack)
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, seen := f.acks[ack.EnvelopeID]; !seen && ack.EnvelopeID != "" {
		f.acks[ack.EnvelopeID] = frame
	}
	f.record(Call{Method: "socket.ack", Form: map[string][]string{"envelope_id": {ack.EnvelopeID}}, JSON: frame})
}

// PushEnvelope queues a Socket Mode envelope of type "slash_commands", "interactive" or
// "events_api" with payload marshalled to JSON (pass a *slack.InteractionCallback, not a
// value, so that its own MarshalJSON runs). It is sent on the current connection, or on the
// next one. It returns the envelope ID. A payload that cannot be marshalled panics.
func (f *FakeSlack) PushEnvelope(typ string, payload any) string {
	return f.PushEnvelopeAccepting(typ, payload, typ == "slash_commands")
}

// PushEnvelopeAccepting is PushEnvelope with accepts_response_payload set as given.
func (f *FakeSlack) PushEnvelopeAccepting(typ string, payload any, acceptsResponsePayload bool) string {
	raw, err := json.Marshal(payload)
	if err != nil {
		panic(fmt.Sprintf("bottest: envelope payload: %v", err))
	}
	f.mu.Lock()
	f.envSeq++
	env := envelope{
		EnvelopeID:             fmt.Sprintf("env-%d", f.envSeq),
		Type:                   typ,
		Payload:                raw,
		AcceptsResponsePayload: acceptsResponsePayload,
	}
	f.envelopes[env.EnvelopeID] = env
	f.mu.Unlock()
	f.push(env)
	return env.EnvelopeID
}

// Redeliver sends envelope id again with retry_attempt+1, the way Slack retries an envelope
// it thinks was not acknowledged.
func (f *FakeSlack) Redeliver(id string) error {
	f.mu.Lock()
	env, ok := f.envelopes[id]
	if ok {
		env.RetryAttempt++
		env.RetryReason = "timeout"
		f.envelopes[id] = env
	}
	f.mu.Unlock()
	if !ok {
		return fmt.Errorf("no envelope %q", id)
	}
	f.push(env)
	return nil
}

func (f *FakeSlack) push(env envelope) {
	frame, _ := json.Marshal(env) // Payload is valid JSON already
	f.pushRaw(frame)
}

// pushRaw queues one raw text frame for the Socket Mode client.
func (f *FakeSlack) pushRaw(frame []byte) { f.outbox <- frame }

// PushFrame queues one raw text frame for the Socket Mode client, for envelopes PushEnvelope
// does not make (a chosen envelope_id, odd shapes).
func (f *FakeSlack) PushFrame(frame []byte) { f.pushRaw(frame) }

// Disconnect asks the connected client to reconnect ({"type":"disconnect","reason":reason})
// and then closes the connection.
func (f *FakeSlack) Disconnect(reason string) {
	reasonJSON, _ := json.Marshal(reason)
	f.pushRaw(fmt.Appendf(nil, `%s,"reason":%s,"debug_info":{"host":"fake-applink"}}`, disconnectPrefix, reasonJSON))
}

// WaitAck blocks until the client acknowledged envelope id and returns the first ack frame
// ({"envelope_id":…,"payload":…}).
func (f *FakeSlack) WaitAck(ctx context.Context, id string) ([]byte, error) {
	for {
		f.mu.Lock()
		ack, ok := f.acks[id]
		ch := f.changed
		f.mu.Unlock()
		if ok {
			return ack, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the ack of %s: %w", id, ctx.Err())
		}
	}
}
