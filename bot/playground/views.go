package playground

import (
	"encoding/json"
	"net/http"
	"strconv"

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
	p, ok := s.person(req.User)
	if !ok {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unknown user " + strconv.Quote(req.User)})
		return
	}
	view, ok := s.cfg.Slack.View(req.ViewID)
	mine := false
	for _, m := range s.cfg.Slack.OpenModals() {
		mine = mine || (m.ID == req.ViewID && m.User == p.ID)
	}
	if !ok || !mine { // a modal is its person's: no one else sees it or acts in it
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
