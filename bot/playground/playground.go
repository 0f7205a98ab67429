// Package playground serves a local web page that looks like a Slack channel, so that a person
// can meet renewbot before installing it in a workspace. The page shows what the bot posted to
// the fake Slack (bot/bottest), rendered from the Block Kit JSON the bot really sent, lets the
// visitor type a slash command and click buttons and menus as one of a few people, and shows
// the ECS emulator's orders, balance and business clock.
//
// Nothing bypasses the bot: a command or a click becomes the signed request Slack would send,
// posted to the bot's own /slack/commands and /slack/interactions endpoints (or, for a bot in
// Socket Mode, the envelope Slack would send over its WebSocket), and the bot answers through
// the fake Slack's Web API and response_url as it would answer Slack.
//
// The server uses the standard library only; the page is plain JavaScript and CSS embedded in
// the binary (no framework, nothing loaded from the internet).
package playground

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/renewbot/renewbot/bot/bottest"
)

// Person is someone the visitor can act as.
type Person struct {
	ID   string `json:"id"`   // Slack user ID, e.g. U01ALICE
	Name string `json:"name"` // shown name, e.g. Alice
	Role string `json:"role"` // one line: what this person may do, e.g. "requester"
}

// Config wires the playground to a running bot, the fake Slack it posts to and the emulator.
type Config struct {
	// Transport carries commands and clicks to the bot: HTTPTransport (signed requests to its
	// endpoints) or SocketTransport (envelopes through the fake Slack's Socket Mode).
	Transport   Transport
	Slack       *bottest.FakeSlack // the fake Slack the bot talks to
	Sim         string             // base URL of ecssim (its /_sim/ control endpoints); "" hides the panel
	Channel     string             // channel ID the commands are typed in, e.g. C0RENEW
	ChannelName string             // e.g. renewals
	Command     string             // the slash command, e.g. /renew
	People      []Person           // the first is selected when the page opens
	Groups      map[string]string  // user group ID → handle, for <!subteam^ID> mentions
	Examples    []string           // commands offered under the box, e.g. "/renew help"
	// Digest posts the digest now (renewbot digest --now --force); nil hides the button.
	Digest func(ctx context.Context) error
	Now    func() time.Time // when answers arrived; default time.Now
	Log    *slog.Logger
	// HTTP calls the emulator; default: a client with a 30s timeout.
	HTTP *http.Client
}

// Server is the playground's HTTP handler. It is safe for concurrent use.
type Server struct {
	cfg     Config
	handler http.Handler
	page    *template.Template

	mu      sync.Mutex
	acks    []ack             // answers to slash commands, in order
	replyTo map[string]origin // response_url number → who and what it answers
	poke    chan struct{}     // closed and replaced when the playground's own state changes
	events  int               // Events API event IDs sent
}

// ack is the bot's answer to a slash command: an ephemeral only its author sees.
type ack struct {
	user, command string
	at            time.Time
	body          []byte // the bot's JSON answer, or a note when it failed
}

// origin is what a response_url was handed out for.
type origin struct {
	user, command string
}

//go:embed static
var static embed.FS

//go:embed index.html
var indexHTML string

// New checks cfg and returns a Server.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Transport == nil:
		return nil, errors.New("playground: Config.Transport is nil")
	case cfg.Slack == nil:
		return nil, errors.New("playground: Config.Slack is nil")
	case cfg.Channel == "":
		return nil, errors.New("playground: Config.Channel is empty")
	case len(cfg.People) == 0:
		return nil, errors.New("playground: no People to act as")
	}
	for _, p := range cfg.People {
		if p.ID == "" || p.Name == "" {
			return nil, fmt.Errorf("playground: person %+v needs an ID and a Name", p)
		}
	}
	cfg.Sim = strings.TrimSuffix(cfg.Sim, "/")
	if cfg.Command == "" {
		cfg.Command = "/renew"
	}
	if cfg.ChannelName == "" {
		cfg.ChannelName = cfg.Channel
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 30 * time.Second}
	}
	page, err := template.New("index").Parse(indexHTML)
	if err != nil {
		return nil, fmt.Errorf("playground: page template: %w", err)
	}
	s := &Server{cfg: cfg, page: page, replyTo: map[string]origin{}, poke: make(chan struct{})}
	s.handler = s.routes()
	return s, nil
}

// Handler serves the page, its assets and its API.
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	sub, _ := fs.Sub(static, "static") // the embedded folder is there at build time
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(sub)))
	mux.HandleFunc("GET /{$}", s.serveIndex)
	mux.HandleFunc("GET /state", s.serveState)
	mux.HandleFunc("GET /events", s.serveEvents)
	mux.HandleFunc("GET /files/{id}", s.serveFile)
	mux.HandleFunc("POST /command", s.serveCommand)
	mux.HandleFunc("POST /action", s.serveAction)
	mux.HandleFunc("POST /view", s.serveView) // modals and the Home tab's buttons (views.go)
	mux.HandleFunc("POST /home", s.serveHome) // opening the Home tab (views.go)
	mux.HandleFunc("POST /clock", s.serveClock)
	mux.HandleFunc("POST /digest", s.serveDigest)
	return mux
}

// pageData is what index.html is rendered with.
type pageData struct {
	Channel, ChannelName, Command string
	People                        []Person
	HasSim, HasDigest             bool
	Config                        template.JS // the page's settings as a JavaScript object
}

func (s *Server) serveIndex(w http.ResponseWriter, r *http.Request) {
	users := map[string]string{botUser: "renewbot"}
	for _, p := range s.cfg.People {
		users[p.ID] = p.Name
	}
	cfg, err := json.Marshal(map[string]any{
		"channel": s.cfg.Channel, "channelName": s.cfg.ChannelName, "command": s.cfg.Command,
		"people": s.cfg.People, "users": users, "groups": s.cfg.Groups, "examples": s.cfg.Examples,
	})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	err = s.page.Execute(w, pageData{
		Channel: s.cfg.Channel, ChannelName: s.cfg.ChannelName, Command: s.cfg.Command, People: s.cfg.People,
		HasSim: s.cfg.Sim != "", HasDigest: s.cfg.Digest != nil, Config: template.JS(cfg),
	})
	if err != nil {
		s.cfg.Log.Warn("playground: page", "err", err)
	}
}

// changed wakes the event streams after a change of the playground's own state.
func (s *Server) changed() {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.poke)
	s.poke = make(chan struct{})
}

func (s *Server) pokes() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.poke
}

// person returns the person with ID id.
// knownPerson is person for a page request: an unknown ID is answered 400 and ok is false.
func (s *Server) knownPerson(w http.ResponseWriter, id string) (Person, bool) {
	p, ok := s.person(id)
	if !ok {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unknown user " + strconv.Quote(id)})
	}
	return p, ok
}

func (s *Server) person(id string) (Person, bool) {
	for _, p := range s.cfg.People {
		if p.ID == id {
			return p, true
		}
	}
	return Person{}, false
}

// readJSON decodes a small JSON request body. It insists on application/json, which a page on
// another site cannot send here without the browser asking first (CORS), so such a page
// cannot type commands or click buttons in the playground.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeJSON(w, http.StatusUnsupportedMediaType, map[string]string{"error": "send application/json"})
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) serveFile(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	for _, c := range s.cfg.Slack.CallsOf("upload") {
		if c.Form.Get("file_id") == id {
			name := c.Form.Get("filename")
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			if strings.HasSuffix(name, ".csv") {
				w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			}
			w.Header().Set("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": name}))
			_, _ = w.Write(c.File)
			return
		}
	}
	http.NotFound(w, r)
}

// simCall calls one of ecssim's control endpoints and decodes its JSON answer into out.
func (s *Server) simCall(ctx context.Context, method, path string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, s.cfg.Sim+path, body)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.cfg.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		if json.Unmarshal(raw, &e) == nil && e.Error != "" {
			return errors.New(e.Error)
		}
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	return json.Unmarshal(raw, out)
}

// clockRequest is a move of the emulator's clock, passed on to POST /_sim/clock as it is.
type clockRequest struct {
	Advance string `json:",omitempty"`
	Now     string `json:",omitempty"`
}

func (s *Server) serveClock(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Sim == "" {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no emulator"})
		return
	}
	var req clockRequest
	if !readJSON(w, r, &req) {
		return
	}
	body, _ := json.Marshal(req)
	var out struct{ Now time.Time }
	if err := s.simCall(r.Context(), http.MethodPost, "/_sim/clock", strings.NewReader(string(body)), &out); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	s.changed()
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) serveDigest(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Digest == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no digest here"})
		return
	}
	if err := s.cfg.Digest(r.Context()); err != nil {
		writeJSON(w, http.StatusBadGateway, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}
