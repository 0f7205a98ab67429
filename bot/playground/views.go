package playground

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/renewbot/renewbot/bot/bottest"
)

// modalItem is a modal open for one person (the request and reject forms).
type modalItem struct {
	ID   string          `json:"id"`
	User string          `json:"user"`
	View json.RawMessage `json:"view"`
}

// modals lists the open modals, from the fake Slack.
func (s *Server) modals() []modalItem {
	out := []modalItem{}
	for _, m := range s.cfg.Slack.OpenModals() {
		raw, err := json.Marshal(m.View)
		if err != nil {
			continue
		}
		out = append(out, modalItem{ID: m.ID, User: m.User, View: raw})
	}
	return out
}

// viewRequest is the page acting in a modal: typing into the instance search (suggest),
// picking in a select with dispatch_action (action), submitting (submit) or cancelling (close).
type viewRequest struct {
	User     string         `json:"user"`
	ViewID   string         `json:"view_id"`
	Kind     string         `json:"kind"`
	BlockID  string         `json:"block_id"`
	ActionID string         `json:"action_id"`
	Value    string         `json:"value"`
	Query    string         `json:"query"`
	Values   bottest.Values `json:"values"`
}

// serveView turns what the page did in a modal into the payload Slack would send, signed,
// to the bot's /slack/interactions (or /slack/options for the search), and returns the
// bot's answer: options, or the errors a submission came back with.
func (s *Server) serveView(w http.ResponseWriter, r *http.Request) {
	var req viewRequest
	if !readJSON(w, r, &req) {
		return
	}
	p, ok := s.knownPerson(w, req.User)
	if !ok {
		return
	}
	view, ok := s.cfg.Slack.View(req.ViewID)
	// A modal, or a Home tab, is its person's: no one else sees it or acts in it.
	mine := false
	for _, m := range s.cfg.Slack.OpenModals() {
		mine = mine || (m.ID == req.ViewID && m.User == p.ID)
	}
	if home, published := s.cfg.Slack.HomeView(p.ID); published && home["id"] == req.ViewID {
		mine = true
	}
	if !ok || !mine {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no view " + strconv.Quote(req.ViewID)})
		return
	}
	var payload map[string]any
	send := s.cfg.Transport.Interaction
	switch req.Kind {
	case "suggest":
		payload, send = bottest.BlockSuggestion(p.ID, view, req.BlockID, req.ActionID, req.Query), s.cfg.Transport.Options
	case "action":
		payload = bottest.ViewAction(p.ID, s.cfg.Slack.Trigger(p.ID), view, req.BlockID, req.ActionID, req.Value, req.Values)
	case "submit":
		payload = bottest.ViewSubmission(p.ID, view, req.Values)
	case "close":
		s.cfg.Slack.CloseView(req.ViewID)
		writeJSON(w, http.StatusOK, map[string]any{})
		return
	default:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unknown kind " + strconv.Quote(req.Kind)})
		return
	}
	raw, err := json.Marshal(payload)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	ans := s.answer(send(r.Context(), raw))
	if ans.Status != http.StatusOK {
		writeJSON(w, http.StatusBadGateway, map[string]string{"error": "renewbot answered " + ans.describe()})
		return
	}
	var body struct {
		ResponseAction string            `json:"response_action"`
		Errors         map[string]string `json:"errors"`
		Options        []json.RawMessage `json:"options"`
	}
	_ = json.Unmarshal([]byte(ans.Body), &body)
	if req.Kind == "submit" && body.ResponseAction != "errors" {
		s.cfg.Slack.CloseView(req.ViewID) // Slack closes a modal submitted without errors
	}
	if body.Options == nil {
		body.Options = []json.RawMessage{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"errors": body.Errors, "options": body.Options})
}

// homeItem is one person's Home tab as the bot last published it.
type homeItem struct {
	ID   string          `json:"id"`
	View json.RawMessage `json:"view"`
}

// homes lists the published Home tabs by person.
func (s *Server) homes() map[string]homeItem {
	out := map[string]homeItem{}
	for _, p := range s.cfg.People {
		v, ok := s.cfg.Slack.HomeView(p.ID)
		if !ok {
			continue
		}
		raw, err := json.Marshal(v)
		if err != nil {
			continue
		}
		id, _ := v["id"].(string)
		out[p.ID] = homeItem{ID: id, View: raw}
	}
	return out
}

// eventSender is a Transport that also delivers Events API events.
type eventSender interface {
	Event(ctx context.Context, body []byte) (status int, answer []byte, err error)
}

// Event posts an Events API request to the bot's /slack/events, signed.
func (h HTTPTransport) Event(ctx context.Context, body []byte) (int, []byte, error) {
	now, client := h.Now, h.HTTP
	if now == nil {
		now = time.Now
	}
	if client == nil {
		client = http.DefaultClient
	}
	var ev map[string]any
	if err := json.Unmarshal(body, &ev); err != nil {
		return 0, nil, err
	}
	resp, err := client.Do(bottest.SignedEvent(h.Secret, h.Bot+"/slack/events", ev, now(), 0).WithContext(ctx))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, answer, err
}

// Event sends an events_api envelope and waits for its ack.
func (s SocketTransport) Event(ctx context.Context, body []byte) (int, []byte, error) {
	return s.send(ctx, "events_api", json.RawMessage(body))
}

// serveHome is the person opening renewbot's Home tab: the app_home_opened event Slack
// would send (to /slack/events, or in an events_api envelope). The bot publishes the tab
// (views.publish).
func (s *Server) serveHome(w http.ResponseWriter, r *http.Request) {
	var req struct {
		User string `json:"user"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	p, ok := s.knownPerson(w, req.User)
	if !ok {
		return
	}
	ev, ok := s.cfg.Transport.(eventSender)
	if !ok {
		writeJSON(w, http.StatusNotImplemented, map[string]string{"error": "this transport delivers no events"})
		return
	}
	s.mu.Lock()
	s.events++
	id := fmt.Sprintf("Ev%08d", s.events)
	s.mu.Unlock()
	body, err := json.Marshal(bottest.EventCallback(id, bottest.AppHomeOpened(p.ID, "home")))
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, s.answer(ev.Event(r.Context(), body)))
}
