package bot

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/slack-go/slack"
)

// maxBody bounds a Slack request body. A click carries the whole message it was made on,
// blocks included, so a click on a full digest page is tens of KiB once URL-encoded.
const maxBody = 512 << 10

// Handler serves Slack's HTTP endpoints, POST /slack/commands and POST /slack/interactions.
// Every request's v0 signature is checked against signingSecret before anything else.
func (a *App) Handler(signingSecret string) http.Handler {
	if signingSecret == "" {
		a.log.Error("no Slack signing secret: every Slack request will be refused")
	}
	mux := http.NewServeMux()
	mux.Handle("POST /slack/commands", a.verified(signingSecret, a.serveCommand, sslCheck))
	mux.Handle("POST /slack/interactions", a.verified(signingSecret, a.serveInteraction, nil))
	mux.Handle("POST /slack/events", a.verified(signingSecret, a.serveEvents, nil))   // Events API (events.go)
	mux.Handle("POST /slack/options", a.verified(signingSecret, a.serveOptions, nil)) // options load URL (options.go)
	return mux
}

// verified reads the body (at most maxBody) and checks Slack's signature over it. Refused
// requests get 401 (or 413), a log line and a metric, and nothing else happens. A replayed
// copy of a verified request (the same signature) is answered but not acted on: next is told.
//
// unsigned, when not nil, picks out the one unsigned request Slack sends (ssl_check): it is
// answered 200 and has no effect.
func (a *App) verified(secret string, next func(w http.ResponseWriter, r *http.Request, replay bool), unsigned func(body []byte) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				a.refuseRequest(w, r, "too_large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "cannot read body", http.StatusBadRequest)
			return
		}
		sv, err := slack.NewSecretsVerifier(r.Header, secret)
		if err == nil {
			_, _ = sv.Write(body)
			err = sv.Ensure()
		}
		if err != nil && unsigned != nil && errors.Is(err, slack.ErrMissingHeaders) && unsigned(body) {
			w.WriteHeader(http.StatusOK)
			return
		}
		if err != nil {
			reason := "invalid"
			switch {
			case errors.Is(err, slack.ErrMissingHeaders):
				reason = "missing"
			case errors.Is(err, slack.ErrExpiredTimestamp):
				reason = "stale"
			}
			a.refuseRequest(w, r, reason, http.StatusUnauthorized)
			return
		}
		// A valid signature only proves the request came from Slack once: a copy replayed
		// within the 5-minute window carries the same signature, and is not acted on again.
		replay := !a.seen.add("sig:" + r.Header.Get("X-Slack-Signature"))
		if replay {
			a.metrics.SignatureFailure("replay")
			a.log.Warn("replayed Slack request: answered, not acted on", "path", r.URL.Path, "remote", r.RemoteAddr)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if r.Header.Get("Content-Type") == "" { // Slack sends a form; so should anything that signs like Slack
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		next(w, r, replay)
	})
}

// sslCheck reports whether body is Slack's ssl_check: "ssl_check=1" and at most the
// (deprecated) verification token. Slack sends it unsigned; it asks for nothing.
func sslCheck(body []byte) bool {
	form, err := url.ParseQuery(string(body))
	if err != nil || form.Get("ssl_check") != "1" {
		return false
	}
	for k := range form {
		if k != "ssl_check" && k != "token" {
			return false
		}
	}
	return true
}

func (a *App) refuseRequest(w http.ResponseWriter, r *http.Request, reason string, status int) {
	a.metrics.SignatureFailure(reason)
	a.log.Warn("refused Slack request", "path", r.URL.Path, "reason", reason, "remote", r.RemoteAddr)
	http.Error(w, http.StatusText(status), status)
}

// serveCommand acknowledges a slash command and starts its work. A replay gets the same
// acknowledgement (it depends on the text alone) and starts nothing.
func (a *App) serveCommand(w http.ResponseWriter, r *http.Request, replay bool) {
	sc, err := slack.SlashCommandParse(r)
	if err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	if r.PostForm.Get("ssl_check") == "1" {
		w.WriteHeader(http.StatusOK)
		return
	}
	ack, work := a.handleCommand(sc)
	if replay {
		work = nil
	}
	start := a.later("command", work)
	writeMsg(w, ack)
	start() // only now: the ack is on the wire
}

// serveInteraction acknowledges a click and starts its work; a replay starts nothing.
func (a *App) serveInteraction(w http.ResponseWriter, r *http.Request, replay bool) {
	if replay {
		w.WriteHeader(http.StatusOK)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	payload := r.PostForm.Get("payload") // the body only, never the query string
	if payload == "" {
		http.Error(w, "no payload", http.StatusBadRequest)
		return
	}
	if isViewInteraction([]byte(payload)) { // modals and the Home tab (modal.go)
		a.serveView(w, []byte(payload), false)
		return
	}
	c, err := parseClick([]byte(payload))
	if err != nil {
		http.Error(w, "bad payload", http.StatusBadRequest)
		return
	}
	start := a.later("interaction", a.handleInteraction(c))
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	_ = http.NewResponseController(w).Flush()
	start() // only now: the ack is on the wire
}

// ackJSON is the wire form of an immediate answer: a slack.Msg marshals fields Slack does not
// expect here ("blocks":null, empty metadata).
type ackJSON struct {
	ResponseType string        `json:"response_type,omitempty"`
	Text         string        `json:"text"`
	Blocks       []slack.Block `json:"blocks,omitempty"`
}

func wire(m slack.Msg) ackJSON {
	return ackJSON{ResponseType: m.ResponseType, Text: m.Text, Blocks: m.Blocks.BlockSet}
}

// writeMsg writes m as the whole response and flushes it, so that the client has the complete
// ack when writeMsg returns.
func writeMsg(w http.ResponseWriter, m slack.Msg) {
	body, err := json.Marshal(wire(m))
	if err != nil { // only a block that cannot be marshalled; answer with its text
		body, _ = json.Marshal(ackJSON{ResponseType: m.ResponseType, Text: m.Text})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	_ = http.NewResponseController(w).Flush()
}
