package bot

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// RunSocketMode serves slash commands and clicks arriving over Slack's Socket Mode until ctx
// ends (nil) or the connection fails for good (invalid token: the error). Envelopes are
// acknowledged at once; a redelivered envelope is acknowledged again but has no second effect.
func (a *App) RunSocketMode(ctx context.Context, sm *socketmode.Client) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- sm.RunContext(ctx) }()
	for {
		select {
		case <-ctx.Done():
			<-errc
			return nil
		case err := <-errc:
			if ctx.Err() != nil {
				return nil
			}
			return err
		case evt := <-sm.Events:
			a.socketEvent(ctx, sm, evt)
		}
	}
}

func (a *App) socketEvent(ctx context.Context, sm *socketmode.Client, evt socketmode.Event) {
	switch evt.Type {
	case socketmode.EventTypeSlashCommand:
		sc, ok := evt.Data.(slack.SlashCommand)
		if ok && evt.Request != nil {
			a.command(ctx, sm, evt.Request, sc)
		}
	case socketmode.EventTypeInteractive:
		if evt.Request != nil {
			a.interactive(ctx, sm, evt.Request)
		}
	case socketmode.EventTypeEventsAPI:
		if evt.Request != nil {
			a.eventsAPI(ctx, sm, evt.Request)
		}
	case socketmode.EventTypeConnecting, socketmode.EventTypeHello:
		a.log.Debug("socket mode", "event", evt.Type)
	case socketmode.EventTypeConnected, socketmode.EventTypeDisconnect:
		a.log.Info("socket mode", "event", evt.Type)
	case socketmode.EventTypeErrorBadMessage:
		a.log.Warn("socket mode", "event", evt.Type, "detail", socketErrText(evt.Data))
		if bad, ok := evt.Data.(*socketmode.ErrorBadMessage); ok {
			a.badEnvelope(ctx, sm, bad.Message)
		}
	case socketmode.EventTypeConnectionError, socketmode.EventTypeInvalidAuth, socketmode.EventTypeIncomingError,
		socketmode.EventTypeErrorWriteFailed:
		a.log.Warn("socket mode", "event", evt.Type, "detail", socketErrText(evt.Data))
	default:
		a.log.Debug("socket mode: unhandled event", "event", evt.Type)
	}
}

// interactive handles an "interactive" envelope. Its payload is read by parseClick, not taken
// from slack-go's InteractionCallback, which misfiles some valid shapes.
func (a *App) interactive(ctx context.Context, sm *socketmode.Client, req *socketmode.Request) {
	if isViewInteraction(req.Payload) { // modals and the Home tab (options.go)
		a.socketView(ctx, sm, req)
		return
	}
	start := func() {}
	if c, err := parseClick(req.Payload); err != nil {
		a.log.Warn("socket mode: interaction not understood", "envelope", req.EnvelopeID, "err", err)
	} else {
		start = a.later("interaction", a.onceDelivered(req, a.handleInteraction(c)))
	}
	a.ack(ctx, sm, req, nil)
	start()
}

// command handles a "slash_commands" envelope. A redelivery gets the same ack (the answer
// depends on the text alone) and its work does nothing.
func (a *App) command(ctx context.Context, sm *socketmode.Client, req *socketmode.Request, sc slack.SlashCommand) {
	ack, work := a.handleCommand(sc)
	var payload *slack.Msg
	if req.AcceptsResponsePayload && ackFits(req.EnvelopeID, ack) {
		payload = &ack
	}
	if payload == nil { // the answer goes through response_url instead, ahead of the work's own
		to := replyTo{url: sc.ResponseURL, channel: sc.ChannelID, user: sc.UserID}
		then := work
		work = func(ctx context.Context) {
			a.reply(ctx, to, ack.Text, ack.Blocks.BlockSet...)
			if then != nil {
				then(ctx)
			}
		}
	}
	start := a.later("command", a.onceDelivered(req, work)) // registered before the ack, so a drain after the ack sees it
	a.ack(ctx, sm, req, payload)
	start() // the ack is queued for the connection ahead of anything the work sends
}

// badEnvelope handles an envelope slack-go could not parse, typically because a field has
// another JSON type than it expects. It reads only what the bot uses: a slash command or an
// interaction is acted on; anything else with an envelope ID is acknowledged, so that Slack
// does not deliver it again and again.
func (a *App) badEnvelope(ctx context.Context, sm *socketmode.Client, raw json.RawMessage) {
	var env struct {
		EnvelopeID string          `json:"envelope_id"`
		Type       string          `json:"type"`
		Payload    json.RawMessage `json:"payload"`
		Accepts    any             `json:"accepts_response_payload"` // true or "true"
	}
	if err := json.Unmarshal(raw, &env); err != nil || env.EnvelopeID == "" {
		return
	}
	req := &socketmode.Request{EnvelopeID: env.EnvelopeID, Type: env.Type, Payload: env.Payload,
		AcceptsResponsePayload: env.Accepts == true || env.Accepts == "true"}
	switch env.Type {
	case socketmode.RequestTypeInteractive:
		a.interactive(ctx, sm, req)
		return
	case socketmode.RequestTypeSlashCommands:
		if sc, ok := slashCommandOf(env.Payload); ok {
			a.command(ctx, sm, req, sc)
			return
		}
	}
	a.ack(ctx, sm, req, nil)
}

// slashCommandOf reads the text fields of a slash command payload, skipping any field of
// another type.
func slashCommandOf(payload []byte) (slack.SlashCommand, bool) {
	var m map[string]any
	if json.Unmarshal(payload, &m) != nil {
		return slack.SlashCommand{}, false
	}
	str := func(k string) string { v, _ := m[k].(string); return v }
	return slack.SlashCommand{Command: str("command"), Text: str("text"), UserID: str("user_id"), UserName: str("user_name"),
		ChannelID: str("channel_id"), ChannelName: str("channel_name"), TeamID: str("team_id"), ResponseURL: str("response_url"),
		TriggerID: str("trigger_id"), APIAppID: str("api_app_id")}, true
}

// onceDelivered wraps the work of an envelope so that it runs only on its first delivery
// (nil stays nil). The check runs with the work, after the ack.
func (a *App) onceDelivered(req *socketmode.Request, work func(context.Context)) func(context.Context) {
	if work == nil {
		return nil
	}
	env := *req
	return func(ctx context.Context) {
		if a.firstDelivery(&env) {
			work(ctx)
		}
	}
}

// firstDelivery reports whether the envelope is seen for the first time, also across a
// restart (the set is in the store). A redelivery carries the same envelope ID and payload;
// the payload is part of the key because a stand-in may reuse IDs (numbered per connection)
// for different envelopes. If the store cannot record it, the envelope is not acted on.
func (a *App) firstDelivery(req *socketmode.Request) bool {
	h := sha256.New()
	h.Write([]byte(req.EnvelopeID))
	h.Write([]byte{0})
	h.Write(req.Payload)
	first, err := a.seen.FirstSeen(h.Sum([]byte("e")), time.Now())
	switch {
	case err != nil:
		a.log.Error("socket mode: cannot record the envelope as seen; not acting on it", "envelope", req.EnvelopeID, "err", err)
		return false
	case !first:
		a.log.Info("socket mode: envelope delivered again, not acted on", "envelope", req.EnvelopeID,
			"retry_attempt", req.RetryAttempt, "retry_reason", req.RetryReason)
		return false
	}
	return true
}

// maxAck is Slack's limit on a Socket Mode ack: larger ones are dropped silently.
const maxAck = 20 << 10

// ackFits reports whether the ack of envelope id with m as its payload is within maxAck.
func ackFits(id string, m slack.Msg) bool {
	js, err := json.Marshal(socketmode.Response{EnvelopeID: id, Payload: wire(m)})
	return err == nil && len(js) < maxAck
}

// ack acknowledges an envelope, with payload when it is a slash command's answer. An answer
// too large for Socket Mode (20 KB) is acknowledged without it. ctx ending unblocks a wait
// for the connection.
func (a *App) ack(ctx context.Context, sm *socketmode.Client, req *socketmode.Request, payload *slack.Msg) {
	if payload != nil {
		err := sm.AckCtx(ctx, req.EnvelopeID, wire(*payload))
		if err == nil {
			return
		}
		a.log.Warn("socket mode ack with payload", "envelope", req.EnvelopeID, "err", err)
	}
	if err := sm.AckCtx(ctx, req.EnvelopeID, nil); err != nil {
		a.log.Error("socket mode ack", "envelope", req.EnvelopeID, "err", err)
	}
}

// socketErrText describes a lifecycle event's payload without any token.
func socketErrText(data any) string {
	switch d := data.(type) {
	case *slack.ConnectionErrorEvent:
		return d.Error()
	case *slack.IncomingEventError:
		return d.Error()
	case *socketmode.ErrorBadMessage:
		return d.Cause.Error()
	case *socketmode.ErrorWriteFailed:
		return d.Cause.Error()
	}
	return ""
}
