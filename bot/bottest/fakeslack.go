// Package bottest is a local stand-in for Slack: a fake Web API that the real slack-go client
// talks to over loopback, a Socket Mode WebSocket server, a response_url target, and helpers
// that sign requests the way Slack does. It is used by tests and by `renewbot demo`, so nothing
// here needs a *testing.T.
package bottest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Call is one request the fake received. Method is the Web API method ("chat.postMessage"),
// "response_url", "upload", or one of the Socket Mode records "socket.hello", "socket.ack" and
// "socket.pong".
type Call struct {
	Method string
	Form   url.Values // form fields (Web API calls), token removed
	JSON   []byte     // JSON body (response_url, apps.connections.open) or the ack frame
	File   []byte     // uploaded file content ("upload")
	Status int        // HTTP status the fake answered
	At     time.Time
}

type failure struct {
	status     int
	retryAfter int
	slackErr   string
}

type message struct {
	ts    string
	form  url.Values // latest post or update
	at    time.Time  // posted
	edits int        // chat.update calls
}

// FakeSlack is an httptest server speaking enough of the Slack Web API and Socket Mode for
// renewbot. All methods are safe for concurrent use.
type FakeSlack struct {
	srv *httptest.Server

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced whenever calls or acks change
	calls    []Call
	seq      int // ts, file and response_url counter
	groups   map[string][]string
	fail     map[string][]failure
	rewrite  map[string]func(map[string]any) map[string]any // per method: reshape successful answers
	messages map[string]*message                            // channel+"/"+ts
	ping     time.Duration

	conns     map[*websocket.Conn]bool // open Socket Mode connections
	outbox    chan []byte              // frames waiting for a Socket Mode connection
	envSeq    int
	envelopes map[string]envelope
	acks      map[string][]byte // first ack per envelope ID

	vs  viewState         // views.open/update/publish (views.go)
	ims map[string]string // user → DM channel ID (conversations.open, events.go)
}

type envelope struct {
	EnvelopeID             string          `json:"envelope_id"`
	Type                   string          `json:"type"`
	Payload                json.RawMessage `json:"payload"`
	AcceptsResponsePayload bool            `json:"accepts_response_payload"`
	RetryAttempt           int             `json:"retry_attempt"`
	RetryReason            string          `json:"retry_reason,omitempty"`
}

// NewFakeSlack starts a fake Slack on 127.0.0.1. Close it when done.
func NewFakeSlack() *FakeSlack {
	f := &FakeSlack{
		changed:   make(chan struct{}),
		groups:    map[string][]string{},
		fail:      map[string][]failure{},
		rewrite:   map[string]func(map[string]any) map[string]any{},
		messages:  map[string]*message{},
		ping:      time.Second,
		conns:     map[*websocket.Conn]bool{},
		outbox:    make(chan []byte, 1024),
		envelopes: map[string]envelope{},
		acks:      map[string][]byte{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/{method}", f.serveAPI)
	mux.HandleFunc("POST /upload/{file}", f.serveUpload)
	mux.HandleFunc("POST /response/{n}", f.serveResponseURL)
	mux.HandleFunc("GET /link", f.serveSocket)
	f.srv = httptest.NewServer(mux)
	return f
}

// Close shuts the server down, closing Socket Mode connections too.
func (f *FakeSlack) Close() {
	f.mu.Lock()
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.srv.CloseClientConnections()
	f.srv.Close()
}

// APIURL is the Web API base for slack.OptionAPIURL; it ends with "/".
func (f *FakeSlack) APIURL() string { return f.srv.URL + "/api/" }

// ResponseURL returns a fresh response_url on the fake; posts to it are recorded as "response_url".
func (f *FakeSlack) ResponseURL() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	return fmt.Sprintf("%s/response/%d", f.srv.URL, f.seq)
}

// SetGroup sets the members of user group id (usergroups.users.list).
func (f *FakeSlack) SetGroup(id string, members ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.groups[id] = append([]string(nil), members...)
}

// SetPingInterval sets how often the Socket Mode server pings new connections (default 1s).
func (f *FakeSlack) SetPingInterval(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ping = d
}

// FailNext makes the next call of method answer with HTTP status, and a Retry-After header of
// retryAfter seconds when status is 429 or retryAfter > 0, e.g. FailNext("chat.postMessage", 429, 1).
func (f *FakeSlack) FailNext(method string, status, retryAfter int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[method] = append(f.fail[method], failure{status: status, retryAfter: retryAfter})
}

// ErrorNext makes the next call of method answer {"ok":false,"error":slackErr}.
func (f *FakeSlack) ErrorNext(method, slackErr string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[method] = append(f.fail[method], failure{status: http.StatusOK, slackErr: slackErr})
}

// Calls returns every call so far, oldest first.
func (f *FakeSlack) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Call(nil), f.calls...)
}

// CallsOf returns the calls of one method, oldest first.
func (f *FakeSlack) CallsOf(method string) []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.callsOf(method)
}

func (f *FakeSlack) callsOf(method string) []Call {
	var out []Call
	for _, c := range f.calls {
		if c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// Wait blocks until at least n calls of method were received and returns them all.
func (f *FakeSlack) Wait(ctx context.Context, method string, n int) ([]Call, error) {
	for {
		f.mu.Lock()
		got, ch := f.callsOf(method), f.changed
		f.mu.Unlock()
		if len(got) >= n {
			return got, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return got, fmt.Errorf("waiting for %d %s calls, saw %d: %w", n, method, len(got), ctx.Err())
		}
	}
}

// WaitFor blocks until a call of method that ok accepts arrives after the first skip calls of
// that method, and returns it.
func (f *FakeSlack) WaitFor(ctx context.Context, method string, skip int, ok func(Call) bool) (Call, error) {
	for n := skip + 1; ; n++ {
		calls, err := f.Wait(ctx, method, n)
		if err != nil {
			return Call{}, err
		}
		if ok(calls[n-1]) {
			return calls[n-1], nil
		}
	}
}

// Message returns the latest fields (from chat.postMessage or chat.update) of a posted message.
func (f *FakeSlack) Message(channel, ts string) (url.Values, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.messages[channel+"/"+ts]
	if !ok {
		return nil, false
	}
	return m.form, true
}

// record appends c and wakes every waiter. Callers hold f.mu.
func (f *FakeSlack) record(c Call) {
	c.At = time.Now()
	f.calls = append(f.calls, c)
	close(f.changed)
	f.changed = make(chan struct{})
}

// nextTS returns a timestamp never returned before. Callers hold f.mu.
func (f *FakeSlack) nextTS() string {
	f.seq++
	return fmt.Sprintf("%d.%06d", 1700000000+f.seq/1000000, f.seq%1000000)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

type obj = map[string]any

func (f *FakeSlack) serveAPI(w http.ResponseWriter, r *http.Request) {
	method := r.PathValue("method")
	call := Call{Method: method, Status: http.StatusOK}
	if method == "apps.connections.open" {
		call.JSON, _ = io.ReadAll(r.Body)
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer xapp-") {
			f.answer(w, call, obj{"ok": false, "error": "not_authed"})
			return
		}
		f.answer(w, call, obj{"ok": true, "url": "ws://" + r.Host + "/link?ticket=t"})
		return
	}
	if strings.HasPrefix(method, "views.") { // JSON bodies, token in the header
		f.serveViews(w, r, method)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	form := r.PostForm
	token := form.Get("token")
	form.Del("token")
	call.Form = form

	f.mu.Lock()
	if q := f.fail[method]; len(q) > 0 {
		fl := q[0]
		f.fail[method] = q[1:]
		if fl.slackErr == "" {
			call.Status = fl.status
			f.record(call)
			f.mu.Unlock()
			if fl.status == http.StatusTooManyRequests || fl.retryAfter > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(fl.retryAfter))
			}
			http.Error(w, http.StatusText(fl.status), fl.status)
			return
		}
		f.mu.Unlock()
		f.answer(w, call, obj{"ok": false, "error": fl.slackErr})
		return
	}
	f.mu.Unlock()
	if token == "" {
		f.answer(w, call, obj{"ok": false, "error": "not_authed"})
		return
	}
	res := f.apiResult(r, method, form)
	f.mu.Lock()
	rw := f.rewrite[method]
	f.mu.Unlock()
	if rw != nil {
		res = rw(res)
	}
	f.answer(w, call, res)
}

// Rewrite reshapes every later successful answer of method with fn, to play a Slack whose
// answers differ from this fake's (a field missing, an odd shape). The fake's own state
// (messages, files) is kept as if the answer had been the usual one.
func (f *FakeSlack) Rewrite(method string, fn func(answer map[string]any) map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rewrite[method] = fn
}

// apiResult computes the JSON answer of one Web API method.
func (f *FakeSlack) apiResult(r *http.Request, method string, form url.Values) obj {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := form.Get("channel")
	switch method {
	case "auth.test":
		return obj{"ok": true, "url": "https://fake.slack.com/", "team": "Fake", "user": "renewbot",
			"team_id": "T0FAKE", "user_id": "U0BOT", "bot_id": "B0BOT"}
	case "chat.postMessage":
		if ch == "" {
			return obj{"ok": false, "error": "channel_not_found"}
		}
		ts := f.nextTS()
		f.messages[ch+"/"+ts] = &message{ts: ts, form: form, at: time.Now()}
		return obj{"ok": true, "channel": ch, "ts": ts, "message": obj{"text": form.Get("text"), "ts": ts}}
	case "chat.update":
		m, ok := f.messages[ch+"/"+form.Get("ts")]
		if !ok {
			return obj{"ok": false, "error": "message_not_found"}
		}
		m.form, m.edits = form, m.edits+1
		return obj{"ok": true, "channel": ch, "ts": m.ts, "text": form.Get("text")}
	case "chat.postEphemeral":
		if ch == "" || form.Get("user") == "" {
			return obj{"ok": false, "error": "user_not_in_channel"}
		}
		return obj{"ok": true, "message_ts": f.nextTS()}
	case "usergroups.users.list":
		members, ok := f.groups[form.Get("usergroup")]
		if !ok {
			return obj{"ok": false, "error": "no_such_subteam"}
		}
		return obj{"ok": true, "users": append([]string{}, members...)}
	case "files.getUploadURLExternal":
		f.seq++
		id := fmt.Sprintf("F%06d", f.seq)
		return obj{"ok": true, "upload_url": "http://" + r.Host + "/upload/" + id, "file_id": id}
	case "files.completeUploadExternal":
		var files []obj
		if err := json.Unmarshal([]byte(form.Get("files")), &files); err != nil || len(files) != 1 {
			return obj{"ok": false, "error": "invalid_arguments"}
		}
		return obj{"ok": true, "files": []obj{{"id": files[0]["id"], "title": files[0]["title"]}}}
	case "conversations.open":
		return f.openIM(form)
	}
	return obj{"ok": false, "error": "unknown_method"}
}

func (f *FakeSlack) answer(w http.ResponseWriter, call Call, v obj) {
	f.mu.Lock()
	f.record(call)
	f.mu.Unlock()
	writeJSON(w, call.Status, v)
}

func (f *FakeSlack) serveUpload(w http.ResponseWriter, r *http.Request) {
	file, hdr, err := r.FormFile("file")
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	defer file.Close()
	body, err := io.ReadAll(file)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.record(Call{Method: "upload", Form: url.Values{"file_id": {r.PathValue("file")}, "filename": {hdr.Filename}},
		File: body, Status: http.StatusOK})
	f.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, "OK - "+strconv.Itoa(len(body)))
}

func (f *FakeSlack) serveResponseURL(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil || !json.Valid(body) {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.record(Call{Method: "response_url", Form: url.Values{"n": {r.PathValue("n")}}, JSON: body, Status: http.StatusOK})
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, obj{"ok": true})
}
