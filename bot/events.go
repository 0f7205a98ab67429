package bot

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/slack-go/slack/socketmode"
)

// eventEnvelope is what the bot reads of an Events API request: url_verification or an
// event_callback with its event.
type eventEnvelope struct {
	Type      string `json:"type"`
	Challenge string `json:"challenge"`
	EventID   string `json:"event_id"`
	Event     struct {
		Type string `json:"type"`
		User string `json:"user"`
		Tab  string `json:"tab"`
	} `json:"event"`
}

// serveEvents answers POST /slack/events (signature already verified): the URL
// verification challenge, and events, acknowledged at once. Slack retries an event it
// thinks was not acknowledged (with a new signature); its event_id makes the retry a no-op.
func (a *App) serveEvents(w http.ResponseWriter, r *http.Request, replay bool) {
	var env eventEnvelope
	if err := json.NewDecoder(r.Body).Decode(&env); err != nil {
		http.Error(w, "bad event", http.StatusBadRequest)
		return
	}
	if env.Type == "url_verification" {
		body, _ := json.Marshal(map[string]string{"challenge": env.Challenge})
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
		return
	}
	var start func()
	if !replay {
		start = a.later("event", a.handleEvent(env))
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	_ = http.NewResponseController(w).Flush()
	if start != nil {
		start()
	}
}

// handleEvent returns the work for an event, or nil (a repeat, or an event the bot ignores).
func (a *App) handleEvent(env eventEnvelope) func(context.Context) {
	if env.Type != "event_callback" {
		return nil
	}
	if env.EventID != "" {
		first, err := a.seen.FirstSeen([]byte("ev:"+env.EventID), time.Now())
		if err != nil {
			a.log.Error("cannot record the event as seen; not acting on it", "event_id", env.EventID, "err", err)
			return nil
		}
		if !first {
			a.log.Info("event delivered again, not acted on", "event_id", env.EventID, "type", env.Event.Type)
			return nil
		}
	}
	switch env.Event.Type {
	case "app_home_opened":
		if env.Event.Tab != "home" || env.Event.User == "" {
			return nil // the messages tab
		}
		user := env.Event.User
		a.log.Debug("home tab opened", "user", user)
		return func(context.Context) { a.homes.refresh(a, user) }
	}
	a.log.Debug("ignored event", "type", env.Event.Type)
	return nil
}

// eventsAPI handles an "events_api" Socket Mode envelope: acknowledged at once, acted on once.
func (a *App) eventsAPI(ctx context.Context, sm *socketmode.Client, req *socketmode.Request) {
	start := func() {}
	if a.firstDelivery(req) {
		var env eventEnvelope
		if err := json.Unmarshal(req.Payload, &env); err != nil {
			a.log.Warn("socket mode: event not understood", "envelope", req.EnvelopeID, "err", err)
		} else {
			start = a.later("event", a.handleEvent(env))
		}
	}
	a.ack(ctx, sm, req, nil)
	start()
}
