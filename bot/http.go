package bot

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"
)

// maxBody bounds a Slack request body. A click carries the whole message it was made on,
// blocks included, so a click on a full digest page is tens of KiB once URL-encoded.
const maxBody = 512 << 10

// Limits on reading bodies, which happens only for requests that carry Slack's signature
// headers with a fresh timestamp: the bytes held by all bodies being read at once
// (bodyBudget), how long a request waits for its share before it gets 503 (budgetWait), and
// how long reading one body may take (bodyReadTimeout). Slack sends a few KiB at once.
const (
	bodyBudget      = 8 << 20
	budgetWait      = time.Second
	bodyReadTimeout = 3 * time.Second
	maxUnsignedBody = 1 << 10 // ssl_check, the one unsigned request, is "ssl_check=1&token=…"
)

// Handler serves Slack's HTTP endpoints, POST /slack/commands and POST /slack/interactions.
// Every request's v0 signature is checked against signingSecret before anything else.
func (a *App) Handler(signingSecret string) http.Handler {
	if signingSecret == "" {
		a.log.Error("no Slack signing secret: every Slack request will be refused")
	}
	budget := newByteBudget(bodyBudget)
	mux := http.NewServeMux()
	mux.Handle("POST /slack/commands", a.verified(signingSecret, budget, a.serveCommand, sslCheck))
	mux.Handle("POST /slack/interactions", a.verified(signingSecret, budget, a.serveInteraction, nil))
	mux.Handle("POST /slack/events", a.verified(signingSecret, budget, func(w http.ResponseWriter, r *http.Request, once requestOnce) {
		a.serveEvents(w, r, once.replayNow())
	}, nil)) // Events API (events.go)
	mux.Handle("POST /slack/options", a.verified(signingSecret, budget, func(w http.ResponseWriter, r *http.Request, _ requestOnce) {
		a.serveOptions(w, r, false) // answering has no effect: no replay check
	}, nil)) // options load URL (options.go)
	return mux
}

// verified checks Slack's signature headers and the timestamp, then reads the body (at most
// maxBody, within bodyReadTimeout, holding a share of budget) and checks the signature over
// it. Refused requests get 401 (or 413, 408, 503), a log line and a metric, and nothing else
// happens; those refused before the body is read cost no memory for it. A replayed copy of a
// verified request (the same timestamp and body, however its signature header is spelled,
// even after a restart) is answered but not acted on: next wraps its work in once.wrap, which
// checks that after the ack, so the ack waits for no store write (or asks once.replayNow
// when its answer depends on it).
//
// unsigned, when not nil, picks out the one unsigned request Slack sends (ssl_check): it is
// answered 200 and has no effect.
func (a *App) verified(secret string, budget *byteBudget, next func(w http.ResponseWriter, r *http.Request, once requestOnce), unsigned func(body []byte) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if reason := precheck(r.Header, time.Now()); reason != "" {
			if reason == "missing" && unsigned != nil && r.ContentLength >= 0 && r.ContentLength <= maxUnsignedBody {
				body, err := io.ReadAll(io.LimitReader(r.Body, maxUnsignedBody))
				if err == nil && unsigned(body) {
					w.WriteHeader(http.StatusOK)
					return
				}
			}
			a.refuseUnread(w, r, reason, http.StatusUnauthorized)
			return
		}
		if r.ContentLength > maxBody {
			a.refuseUnread(w, r, "too_large", http.StatusRequestEntityTooLarge)
			return
		}
		body, status, reason := readBody(w, r, budget)
		if reason != "" {
			if status == http.StatusServiceUnavailable {
				w.Header().Set("Retry-After", "1")
			}
			a.refuseUnread(w, r, reason, status)
			return
		}
		sv, err := slack.NewSecretsVerifier(r.Header, secret)
		if err == nil {
			_, _ = sv.Write(body)
			err = sv.Ensure()
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
		// within the 5-minute window carries the same timestamp and body, and is not acted on
		// again. The key is what the signature covers, not the header's spelling of it.
		once := requestOnce{a: a, key: requestKey(r.Header.Get("X-Slack-Request-Timestamp"), body), path: r.URL.Path, remote: r.RemoteAddr}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if r.Header.Get("Content-Type") == "" { // Slack sends a form; so should anything that signs like Slack
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		next(w, r, once)
	})
}

// requestOnce tells the first copy of a verified Slack request from its replays, through the
// store's seen set.
type requestOnce struct {
	a            *App
	key          []byte
	path, remote string
}

// wrap makes work run only for the first copy of the request (nil stays nil). The check is
// part of the work, so it runs after the ack.
func (o requestOnce) wrap(work func(context.Context)) func(context.Context) {
	if work == nil {
		return nil
	}
	return func(ctx context.Context) {
		if !o.replayNow() {
			work(ctx)
		}
	}
}

// replayNow records the request as seen and reports whether it is a replay (or cannot be
// recorded, which is treated the same: not acted on). For answers that depend on acting.
func (o requestOnce) replayNow() bool {
	first, err := o.a.seen.FirstSeen(o.key, time.Now())
	switch {
	case err != nil:
		o.a.log.Error("cannot record a Slack request as seen; not acting on it", "path", o.path, "err", err)
		return true
	case !first:
		o.a.metrics.SignatureFailure("replay")
		o.a.log.Warn("replayed Slack request: answered, not acted on", "path", o.path, "remote", o.remote)
		return true
	}
	return false
}

// precheck looks at the signature headers only: "" when both are there, the signature has
// the v0 shape and the timestamp is within Slack's 5 minutes of now; else the refusal's
// reason (missing, stale, invalid).
func precheck(h http.Header, now time.Time) string {
	sig, ts := h.Get("X-Slack-Signature"), h.Get("X-Slack-Request-Timestamp")
	if sig == "" || ts == "" {
		return "missing"
	}
	if len(sig) != len("v0=")+2*sha256.Size || !strings.HasPrefix(sig, "v0=") {
		return "invalid"
	}
	if _, err := hex.DecodeString(sig[3:]); err != nil {
		return "invalid"
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "invalid"
	}
	if now.Sub(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return "stale"
	}
	return ""
}

// readBody reads r's body while holding its size (or maxBody when unknown) of budget, waiting
// at most budgetWait for it, and within bodyReadTimeout. On failure it returns the status
// and the metric's reason.
func readBody(w http.ResponseWriter, r *http.Request, budget *byteBudget) (body []byte, status int, reason string) {
	size := int64(maxBody)
	if r.ContentLength >= 0 {
		size = r.ContentLength
	}
	ctx, cancel := context.WithTimeout(r.Context(), budgetWait)
	err := budget.acquire(ctx, size)
	cancel()
	if err != nil {
		return nil, http.StatusServiceUnavailable, "busy"
	}
	defer budget.release(size)
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(bodyReadTimeout))
	defer func() { _ = rc.SetReadDeadline(time.Time{}) }() // the next request on the connection has its own
	buf := bytes.NewBuffer(make([]byte, 0, size+1))
	_, err = buf.ReadFrom(http.MaxBytesReader(w, r.Body, size))
	if err == nil {
		return buf.Bytes(), 0, ""
	}
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return nil, http.StatusRequestEntityTooLarge, "too_large"
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return nil, http.StatusRequestTimeout, "timeout"
	}
	return nil, http.StatusBadRequest, "unreadable"
}

// requestKey is what a replay of a Slack request has in common with the original: the
// timestamp and body its signature covers.
func requestKey(ts string, body []byte) []byte {
	h := sha256.New()
	h.Write([]byte("v0:" + ts + ":"))
	h.Write(body)
	return h.Sum([]byte("h"))
}

// byteBudget bounds the bytes held by bodies being read, across all connections.
type byteBudget struct {
	mu      sync.Mutex
	free    int64
	changed chan struct{} // closed and replaced when bytes are released
}

func newByteBudget(n int64) *byteBudget {
	return &byteBudget{free: n, changed: make(chan struct{})}
}

// acquire takes n bytes, waiting for releases until ctx ends.
func (b *byteBudget) acquire(ctx context.Context, n int64) error {
	for {
		b.mu.Lock()
		if b.free >= n {
			b.free -= n
			b.mu.Unlock()
			return nil
		}
		changed := b.changed
		b.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (b *byteBudget) release(n int64) {
	b.mu.Lock()
	b.free += n
	close(b.changed)
	b.changed = make(chan struct{})
	b.mu.Unlock()
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

// refuseUnread refuses a request whose body was not (fully) read, and closes the connection
// instead of reading the rest of it.
func (a *App) refuseUnread(w http.ResponseWriter, r *http.Request, reason string, status int) {
	w.Header().Set("Connection", "close")
	a.refuseRequest(w, r, reason, status)
}

func (a *App) refuseRequest(w http.ResponseWriter, r *http.Request, reason string, status int) {
	a.metrics.SignatureFailure(reason)
	a.log.Warn("refused Slack request", "path", r.URL.Path, "reason", reason, "remote", r.RemoteAddr)
	http.Error(w, http.StatusText(status), status)
}

// serveCommand acknowledges a slash command and starts its work. A replay gets the same
// acknowledgement (it depends on the text alone) and its work does nothing.
func (a *App) serveCommand(w http.ResponseWriter, r *http.Request, once requestOnce) {
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
	start := a.later("command", once.wrap(work))
	writeMsg(w, ack)
	start() // only now: the ack is on the wire
}

// serveInteraction acknowledges a click and starts its work; a replay's work does nothing.
func (a *App) serveInteraction(w http.ResponseWriter, r *http.Request, once requestOnce) {
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
		a.serveView(w, []byte(payload), once.replayNow()) // its answer depends on acting
		return
	}
	c, err := parseClick([]byte(payload))
	if err != nil {
		http.Error(w, "bad payload", http.StatusBadRequest)
		return
	}
	start := a.later("interaction", once.wrap(a.handleInteraction(c)))
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
