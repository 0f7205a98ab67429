package playground

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"sort"
	"strconv"
	"time"
)

// state is everything the page shows, sent whole on every change.
type state struct {
	Items  []item      `json:"items"`  // the channel, oldest first; ephemerals carry the user who sees them
	Modals []modalItem `json:"modals"` // open modals, each for one person (views.go)
	Sim    *simState   `json:"sim,omitempty"`
}

// item is one thing in the channel: a message the bot posted (with its thread), an
// ephemeral answer to one person, or a file shared in a thread.
type item struct {
	Key     string          `json:"key"`  // stable across updates
	Kind    string          `json:"kind"` // "message", "ephemeral" or "file"
	Channel string          `json:"channel,omitempty"`
	TS      string          `json:"ts,omitempty"`
	User    string          `json:"user,omitempty"`    // ephemeral: the only one who sees it
	Command string          `json:"command,omitempty"` // ephemeral: the command it answers
	Text    string          `json:"text,omitempty"`
	Blocks  json.RawMessage `json:"blocks,omitempty"`
	At      time.Time       `json:"at"`
	Edits   int             `json:"edits,omitempty"`
	File    *fileRef        `json:"file,omitempty"`
	Replies []item          `json:"replies,omitempty"`
}

type fileRef struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	URL   string `json:"url"`
	Bytes int    `json:"bytes"`
}

// simState is the emulator's side: its clock, balance and orders.
type simState struct {
	Now      time.Time  `json:"now"`
	Balance  float64    `json:"balance"`
	Currency string     `json:"currency"`
	Orders   []simOrder `json:"orders"`
	Error    string     `json:"error,omitempty"`
}

type simOrder struct {
	OrderId     string //nolint:revive // ecssim's field names
	InstanceId  string //nolint:revive
	ClientToken string
	Period      int
	PeriodUnit  string
	Amount      float64
	Currency    string
	Time        time.Time
	AutoRenew   bool
}

func (s *Server) serveState(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.state(r.Context()))
}

// serveEvents streams the state as server-sent events: once at the start, then whenever it
// changes (a call reached the fake Slack, the playground did something, or the emulator's
// side moved, which is looked at every two seconds).
func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	var last []byte
	for {
		slackChanged, poked := s.cfg.Slack.Changed(), s.pokes()
		b, err := json.Marshal(s.state(r.Context()))
		if err != nil {
			return
		}
		if !bytes.Equal(b, last) {
			if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
				return
			}
			fl.Flush()
			last = b
		}
		select {
		case <-slackChanged:
		case <-poked:
		case <-tick.C:
		case <-r.Context().Done():
			return
		}
	}
}

// state builds what the page shows from the fake Slack's record and the emulator.
func (s *Server) state(ctx context.Context) state {
	st := state{Items: s.timeline(), Modals: s.modals()}
	if s.cfg.Sim != "" {
		st.Sim = s.simState(ctx)
	}
	return st
}

func (s *Server) simState(ctx context.Context) *simState {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out := &simState{Orders: []simOrder{}}
	var clock struct{ Now time.Time }
	var acct struct {
		Balance  float64
		Currency string
	}
	for _, c := range []struct {
		path string
		into any
	}{{"/_sim/clock", &clock}, {"/_sim/account", &acct}, {"/_sim/orders", &out.Orders}} {
		if err := s.simCall(ctx, http.MethodGet, c.path, nil, c.into); err != nil {
			out.Error = "emulator: " + err.Error()
			return out
		}
	}
	out.Now = clock.Now.UTC().Truncate(time.Minute) // the page shows minutes; fewer events
	out.Balance, out.Currency = acct.Balance, acct.Currency
	return out
}

// timeline merges the channel's messages, threads, files and ephemerals in time order.
func (s *Server) timeline() []item {
	var top []item
	byTS := map[string]int{} // channel/ts of a top-level message → index in top
	var replies []item
	for _, m := range s.cfg.Slack.Messages() {
		it := item{Key: "m:" + m.Channel + "/" + m.TS, Kind: "message", Channel: m.Channel, TS: m.TS,
			User: botUser, Text: m.Form.Get("text"), At: m.At, Edits: m.Edits}
		if b := m.Form.Get("blocks"); b != "" && json.Valid([]byte(b)) {
			it.Blocks = json.RawMessage(b)
		}
		if u, ok := s.cfg.Slack.IMUser(m.Channel); ok { // renewbot's DM: shown to that person only
			it.Kind, it.User, it.Channel = "ephemeral", u, s.cfg.Channel
			top = append(top, it)
			continue
		}
		if th := m.Form.Get("thread_ts"); th != "" && th != m.TS {
			it.Command = th // parent's ts, until placed
			replies = append(replies, it)
			continue
		}
		byTS[m.Channel+"/"+m.TS] = len(top)
		top = append(top, it)
	}

	s.mu.Lock()
	acks := append([]ack(nil), s.acks...)
	replyTo := maps.Clone(s.replyTo)
	s.mu.Unlock()

	for i, a := range acks {
		it := item{Key: "a:" + strconv.Itoa(i), Kind: "ephemeral", Channel: s.cfg.Channel, User: a.user, Command: a.command, At: a.at}
		fillMessage(&it, a.body)
		top = append(top, it)
	}
	uploads := map[string]int{}
	for i, c := range s.cfg.Slack.Calls() {
		switch c.Method {
		case "upload":
			uploads[c.Form.Get("file_id")] = len(c.File)
		case "response_url":
			n := c.Form.Get("n")
			o, ok := replyTo[n]
			if !ok {
				continue
			}
			it := item{Key: "r:" + n + ":" + strconv.Itoa(i), Kind: "ephemeral", Channel: s.cfg.Channel, User: o.user, At: c.At}
			fillMessage(&it, c.JSON)
			var rt struct {
				ResponseType string `json:"response_type"`
			}
			if json.Unmarshal(c.JSON, &rt) == nil && rt.ResponseType == "in_channel" {
				it.Kind, it.User = "message", botUser
			}
			top = append(top, it)
		case "chat.postEphemeral":
			if c.Status != http.StatusOK {
				continue
			}
			it := item{Key: "e:" + strconv.Itoa(i), Kind: "ephemeral", Channel: c.Form.Get("channel"), User: c.Form.Get("user"),
				Text: c.Form.Get("text"), At: c.At}
			if b := c.Form.Get("blocks"); b != "" && json.Valid([]byte(b)) {
				it.Blocks = json.RawMessage(b)
			}
			top = append(top, it)
		case "files.completeUploadExternal":
			if c.Status != http.StatusOK {
				continue
			}
			var files []struct{ ID, Title string }
			if json.Unmarshal([]byte(c.Form.Get("files")), &files) != nil {
				continue
			}
			for _, f := range files {
				it := item{Key: "f:" + f.ID, Kind: "file", Channel: c.Form.Get("channel_id"), User: botUser,
					Text: c.Form.Get("initial_comment"), At: c.At,
					File: &fileRef{ID: f.ID, Title: f.Title, URL: "files/" + f.ID, Bytes: uploads[f.ID]}}
				if th := c.Form.Get("thread_ts"); th != "" {
					it.Command = th
					replies = append(replies, it)
				} else {
					top = append(top, it)
				}
			}
		}
	}
	for _, r := range replies {
		parent := r.Command
		r.Command = ""
		if i, ok := byTS[r.Channel+"/"+parent]; ok {
			top[i].Replies = append(top[i].Replies, r)
			continue
		}
		top = append(top, r) // a reply whose parent the fake does not hold
	}
	sort.SliceStable(top, func(i, j int) bool { return top[i].At.Before(top[j].At) })
	for i := range top {
		sort.SliceStable(top[i].Replies, func(a, b int) bool { return top[i].Replies[a].At.Before(top[i].Replies[b].At) })
	}
	if top == nil {
		top = []item{}
	}
	return top
}

// fillMessage sets the text and blocks of an ephemeral from a JSON Slack message.
func fillMessage(it *item, body []byte) {
	var m struct {
		Text   string          `json:"text"`
		Blocks json.RawMessage `json:"blocks"`
	}
	if json.Unmarshal(body, &m) != nil {
		it.Text = string(body)
		return
	}
	it.Text = m.Text
	if len(m.Blocks) > 0 && string(m.Blocks) != "null" {
		it.Blocks = m.Blocks
	}
}
