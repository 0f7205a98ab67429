package playground

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/renewbot/renewbot/bot/bottest"
)

// Modals: the bot opens one with views.open on a trigger_id from a command or a click; the
// page shows it to the person whose trigger it was, and sends its submission, its closing,
// clicks and menu choices in it, and the typing in an external select (block_suggestion) as
// Slack would.

// modal is an open modal in the state.
type modal struct {
	ID     string            `json:"id"`
	User   string            `json:"user"`
	View   json.RawMessage   `json:"view"`             // as the fake holds it: updates applied
	Errors map[string]string `json:"errors,omitempty"` // block_id → message, from response_action errors
}

// trigger issues a trigger_id for user on the fake Slack, so that views.open takes it, and
// remembers whose it is.
func (s *Server) trigger(user string) string {
	id := s.cfg.Slack.Trigger(user)
	s.mu.Lock()
	s.triggers[id] = user
	s.mu.Unlock()
	return id
}

// modals returns the modals opened and not yet closed, oldest first.
func (s *Server) modals() []modal {
	s.mu.Lock()
	triggers, closed := s.triggers, s.closed
	var out []modal
	for _, c := range s.cfg.Slack.CallsOf("views.open") {
		id := c.Form.Get("view_id")
		if c.Status != http.StatusOK || id == "" || closed[id] {
			continue
		}
		var req struct {
			TriggerID string `json:"trigger_id"`
		}
		_ = json.Unmarshal(c.JSON, &req)
		user, ok := triggers[req.TriggerID]
		if !ok {
			continue // not opened for someone on the page
		}
		out = append(out, modal{ID: id, User: user, Errors: s.viewErrors[id]})
	}
	s.mu.Unlock()
	for i := range out {
		if v, ok := s.cfg.Slack.View(out[i].ID); ok {
			out[i].View, _ = json.Marshal(v)
		}
	}
	return out
}

// viewRequest is something done in a modal on the page.
type viewRequest struct {
	User   string         `json:"user"`
	ViewID string         `json:"view_id"`
	Kind   string         `json:"kind"` // "submit", "close", "action" or "suggest"
	Values bottest.Values `json:"values,omitempty"`
	// action and suggest: the element and its value (the typed text for suggest)
	BlockID  string `json:"block_id,omitempty"`
	ActionID string `json:"action_id,omitempty"`
	Value    string `json:"value,omitempty"`
}

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
	open := false
	for _, m := range s.modals() {
		open = open || (m.ID == req.ViewID && m.User == p.ID)
	}
	view, ok := s.cfg.Slack.View(req.ViewID)
	if !open || !ok {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "no open modal " + strconv.Quote(req.ViewID) + " of " + p.Name})
		return
	}
	var payload map[string]any
	switch req.Kind {
	case "submit":
		payload = bottest.ViewSubmission(p.ID, view, req.Values)
	case "close":
		if notify, _ := view["notify_on_close"].(bool); !notify {
			s.closeView(req.ViewID)
			writeJSON(w, http.StatusOK, botAnswer{Status: http.StatusOK})
			return
		}
		payload = map[string]any{"type": "view_closed", "team": map[string]any{"id": teamID}, "api_app_id": appID,
			"user": map[string]any{"id": p.ID, "name": p.Name}, "view": view, "is_cleared": false}
	case "action":
		payload = bottest.ViewAction(p.ID, s.trigger(p.ID), view, req.BlockID, req.ActionID, req.Value, req.Values)
	case "suggest":
		payload = bottest.BlockSuggestion(p.ID, view, req.BlockID, req.ActionID, req.Value)
	default:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "kind must be submit, close, action or suggest"})
		return
	}
	raw, err := json.Marshal(payload)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	ans := s.answer(s.cfg.Transport.Interaction(r.Context(), raw))
	if ans.Status == http.StatusOK && (req.Kind == "submit" || req.Kind == "close") {
		var res struct {
			ResponseAction string            `json:"response_action"`
			Errors         map[string]string `json:"errors"`
		}
		_ = json.Unmarshal([]byte(ans.Body), &res)
		if res.ResponseAction == "errors" && req.Kind == "submit" {
			s.mu.Lock()
			s.viewErrors[req.ViewID] = res.Errors
			s.mu.Unlock()
			s.changed()
		} else {
			s.closeView(req.ViewID) // an empty answer (or clear) closes the modal, as in Slack
		}
	}
	writeJSON(w, http.StatusOK, ans)
}

func (s *Server) closeView(id string) {
	s.mu.Lock()
	s.closed[id] = true
	delete(s.viewErrors, id)
	s.mu.Unlock()
	s.changed()
}
