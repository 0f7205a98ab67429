package playground

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/slack-go/slack"

	"github.com/renewbot/renewbot/bot/bottest"
)

// The fake Slack's workspace, as its auth.test answers.
const (
	botUser = "U0BOT"
	teamID  = "T0FAKE"
	appID   = "A0FAKE"
)

// commandRequest is a slash command typed on the page.
type commandRequest struct {
	User string `json:"user"`
	Text string `json:"text"` // after the command name
}

// botAnswer is what the page learns about one request to the bot.
type botAnswer struct {
	Status int    `json:"status"`
	Body   string `json:"body,omitempty"`
	Error  string `json:"error,omitempty"`
}

// newResponseURL hands out a response_url on the fake Slack and remembers whose it is, so
// that what the bot posts there shows as that person's ephemeral.
func (s *Server) newResponseURL(user, command string) string {
	u := s.cfg.Slack.ResponseURL()
	s.mu.Lock()
	s.replyTo[path.Base(u)] = origin{user: user, command: command}
	s.mu.Unlock()
	return u
}

func (s *Server) serveCommand(w http.ResponseWriter, r *http.Request) {
	var req commandRequest
	if !readJSON(w, r, &req) {
		return
	}
	p, ok := s.knownPerson(w, req.User)
	if !ok {
		return
	}
	text := strings.TrimSpace(req.Text)
	if rest, ok := strings.CutPrefix(text, s.cfg.Command); ok && (rest == "" || rest[0] == ' ') {
		text = strings.TrimSpace(rest) // the visitor typed the command name too
	}
	typed := strings.TrimSpace(s.cfg.Command + " " + text)
	form := bottest.CommandForm(slack.SlashCommand{
		TeamID: teamID, TeamDomain: "playground", ChannelID: s.cfg.Channel, ChannelName: s.cfg.ChannelName,
		UserID: p.ID, UserName: strings.ToLower(p.Name), Command: s.cfg.Command, Text: text,
		ResponseURL: s.newResponseURL(p.ID, typed), TriggerID: s.cfg.Slack.Trigger(p.ID), APIAppID: appID,
	})
	form.Del("token") // a signed request has no verification token
	ans := s.answer(s.cfg.Transport.Command(r.Context(), form))
	body := []byte(ans.Body)
	if ans.Status != http.StatusOK {
		// Slack shows the person a failed command as an error of its own.
		body, _ = json.Marshal(map[string]string{"text": fmt.Sprintf("⚠️ %s failed: renewbot answered %s", typed, ans.describe())})
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		s.mu.Lock()
		s.acks = append(s.acks, ack{user: p.ID, command: typed, at: s.cfg.Now(), body: body})
		s.mu.Unlock()
		s.changed()
	}
	writeJSON(w, http.StatusOK, ans)
}

// actionRequest is a click on a button, or a choice in an overflow or select menu, on a
// message the page shows.
type actionRequest struct {
	User      string      `json:"user"`
	Channel   string      `json:"channel"`
	TS        string      `json:"ts"`
	Ephemeral bool        `json:"ephemeral,omitempty"`
	Action    blockAction `json:"action"`
}

// blockAction is one element of a block_actions payload's actions, as Slack sends it.
type blockAction struct {
	Type           string                 `json:"type"`
	ActionID       string                 `json:"action_id"`
	BlockID        string                 `json:"block_id"`
	Text           *slack.TextBlockObject `json:"text,omitempty"`
	Value          string                 `json:"value,omitempty"`
	Style          string                 `json:"style,omitempty"`
	SelectedOption *selectedOption        `json:"selected_option,omitempty"`
	ActionTS       string                 `json:"action_ts,omitempty"`
}

type selectedOption struct {
	Text  *slack.TextBlockObject `json:"text,omitempty"`
	Value string                 `json:"value"`
}

func (s *Server) serveAction(w http.ResponseWriter, r *http.Request) {
	var req actionRequest
	if !readJSON(w, r, &req) {
		return
	}
	p, ok := s.knownPerson(w, req.User)
	if !ok {
		return
	}
	a := req.Action
	switch a.Type {
	case "button":
	case "overflow", "static_select":
		if a.SelectedOption == nil || a.SelectedOption.Value == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": a.Type + " without selected_option"})
			return
		}
	default:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported action type " + strconv.Quote(a.Type)})
		return
	}
	if a.ActionID == "" || req.Channel == "" || req.TS == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "action_id, channel and ts are needed"})
		return
	}
	a.ActionTS = s.actionTS()
	what := "a click on " + a.ActionID
	payload := map[string]any{
		"type":       "block_actions",
		"user":       map[string]string{"id": p.ID, "username": strings.ToLower(p.Name), "name": strings.ToLower(p.Name), "team_id": teamID},
		"api_app_id": appID,
		"token":      "",
		"container": map[string]any{
			"type": "message", "message_ts": req.TS, "channel_id": req.Channel, "is_ephemeral": req.Ephemeral,
		},
		"trigger_id":            s.cfg.Slack.Trigger(p.ID),
		"team":                  map[string]string{"id": teamID, "domain": "playground"},
		"enterprise":            nil,
		"is_enterprise_install": false,
		"channel":               map[string]string{"id": req.Channel, "name": s.channelName(req.Channel)},
		"state":                 map[string]any{"values": map[string]any{}},
		"response_url":          s.newResponseURL(p.ID, what),
		"actions":               []blockAction{a},
	}
	if !req.Ephemeral {
		if m, ok := s.cfg.Slack.Message(req.Channel, req.TS); ok {
			msg := map[string]any{"type": "message", "user": botUser, "ts": req.TS, "text": m.Get("text"), "team": teamID}
			if b := m.Get("blocks"); json.Valid([]byte(b)) {
				msg["blocks"] = json.RawMessage(b)
			}
			if th := m.Get("thread_ts"); th != "" {
				msg["thread_ts"] = th
			}
			payload["message"] = msg
		}
	}
	raw, err := json.Marshal(payload)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	ans := s.answer(s.cfg.Transport.Interaction(r.Context(), raw))
	if ans.Status != http.StatusOK {
		body, _ := json.Marshal(map[string]string{"text": fmt.Sprintf("⚠️ renewbot answered %s to %s", ans.describe(), what)})
		s.mu.Lock()
		s.acks = append(s.acks, ack{user: p.ID, command: "", at: s.cfg.Now(), body: body})
		s.mu.Unlock()
		s.changed()
	}
	writeJSON(w, http.StatusOK, ans)
}

func (s *Server) channelName(id string) string {
	if id == s.cfg.Channel {
		return s.cfg.ChannelName
	}
	return id
}

// answer turns what the transport got into what the page is told.
func (s *Server) answer(status int, body []byte, err error) botAnswer {
	if err != nil {
		s.cfg.Log.Warn("playground: bot unreachable", "err", err)
		return botAnswer{Status: status, Error: err.Error()}
	}
	return botAnswer{Status: status, Body: string(body)}
}

func (a botAnswer) describe() string {
	if a.Status == 0 {
		return "nothing (" + a.Error + ")"
	}
	s := "HTTP " + strconv.Itoa(a.Status)
	if b := strings.TrimSpace(a.Body); b != "" {
		s += ": " + b
	}
	return s
}

// actionTS is a unique value shaped like Slack's.

func (s *Server) actionTS() string {
	t := s.cfg.Now()
	return fmt.Sprintf("%d.%06d", t.Unix(), t.Nanosecond()/1000)
}
