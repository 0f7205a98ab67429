package playground

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/renewbot/renewbot/bot/bottest"
)

// Transport carries a slash command or an interaction to the bot the way Slack would and
// returns the bot's answer: its HTTP status and body, or for Socket Mode 200 and the ack's
// payload.
type Transport interface {
	Command(ctx context.Context, form url.Values) (status int, body []byte, err error)
	Interaction(ctx context.Context, payload []byte) (status int, body []byte, err error)
	// Options asks for the options of an external select (a block_suggestion payload).
	Options(ctx context.Context, payload []byte) (status int, body []byte, err error)
}

// HTTPTransport posts to the bot's /slack/commands and /slack/interactions, signed with the
// signing secret as Slack signs them.
type HTTPTransport struct {
	Bot    string           // base URL of the bot, e.g. http://127.0.0.1:8080
	Secret string           // the signing secret
	Now    func() time.Time // signing time; nil: time.Now
	HTTP   *http.Client     // nil: http.DefaultClient
}

// Command posts a slash command form.
func (h HTTPTransport) Command(ctx context.Context, form url.Values) (int, []byte, error) {
	return h.post(ctx, "/slack/commands", form)
}

// Interaction posts an interaction payload (the JSON Slack sends in the payload field).
func (h HTTPTransport) Interaction(ctx context.Context, payload []byte) (int, []byte, error) {
	return h.post(ctx, "/slack/interactions", url.Values{"payload": {string(payload)}})
}

// Options posts a block_suggestion to the bot's options load URL, /slack/options.
func (h HTTPTransport) Options(ctx context.Context, payload []byte) (int, []byte, error) {
	return h.post(ctx, "/slack/options", url.Values{"payload": {string(payload)}})
}

func (h HTTPTransport) post(ctx context.Context, endpoint string, form url.Values) (int, []byte, error) {
	now, client := h.Now, h.HTTP
	if now == nil {
		now = time.Now
	}
	if client == nil {
		client = http.DefaultClient
	}
	req := bottest.SignedRequest(h.Secret, h.Bot+endpoint, form, now())
	resp, err := client.Do(req.WithContext(ctx))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, body, err
}

// SocketTransport sends envelopes through the fake Slack's Socket Mode server to a bot
// connected with an app-level token, and waits for the bot's ack as Slack does (3 seconds).
type SocketTransport struct {
	Slack *bottest.FakeSlack
}

// ackWait is how long Slack waits for a Socket Mode ack before it shows an error.
const ackWait = 3 * time.Second

// Command sends a slash_commands envelope; the ack's payload is the bot's answer.
func (s SocketTransport) Command(ctx context.Context, form url.Values) (int, []byte, error) {
	fields := map[string]string{}
	for k := range form {
		fields[k] = form.Get(k)
	}
	return s.send(ctx, "slash_commands", fields)
}

// Interaction sends an interactive envelope.
func (s SocketTransport) Interaction(ctx context.Context, payload []byte) (int, []byte, error) {
	return s.send(ctx, "interactive", json.RawMessage(payload))
}

// Options sends a block_suggestion, which Socket Mode delivers as an interactive envelope;
// the ack's payload holds the options.
func (s SocketTransport) Options(ctx context.Context, payload []byte) (int, []byte, error) {
	return s.send(ctx, "interactive", json.RawMessage(payload))
}

func (s SocketTransport) send(ctx context.Context, typ string, payload any) (int, []byte, error) {
	id := s.Slack.PushEnvelope(typ, payload)
	ctx, cancel := context.WithTimeout(ctx, ackWait)
	defer cancel()
	frame, err := s.Slack.WaitAck(ctx, id)
	if err != nil {
		return 0, nil, fmt.Errorf("no Socket Mode ack within %s (is the bot connected?): %w", ackWait, err)
	}
	var ack struct {
		Payload json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(frame, &ack); err != nil {
		return 0, nil, fmt.Errorf("ack frame: %w", err)
	}
	if len(ack.Payload) == 0 || string(ack.Payload) == "null" {
		return http.StatusOK, nil, nil
	}
	return http.StatusOK, ack.Payload, nil
}
