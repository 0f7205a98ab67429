package playground_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/renewbot/renewbot/bot/bottest"
	"github.com/renewbot/renewbot/bot/playground"
	"github.com/renewbot/renewbot/ecs/ecssim"
)

const secret = "test-signing-secret"

// slackBot stands in for renewbot's HTTP edge: it verifies Slack's signature the way
// slack-go does, records what it got and answers like the bot.
type slackBot struct {
	t      *testing.T
	mu     sync.Mutex
	got    map[string][]url.Values // endpoint → forms
	status int                     // answer status; 0: 200
	answer string                  // body of the answer to an interaction
}

func (b *slackBot) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	v, err := slack.NewSecretsVerifier(r.Header, secret)
	if err == nil {
		_, _ = v.Write(body)
		err = v.Ensure()
	}
	if err != nil {
		http.Error(w, "bad signature: "+err.Error(), http.StatusUnauthorized)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	b.mu.Lock()
	b.got[r.URL.Path] = append(b.got[r.URL.Path], form)
	status, answer := b.status, b.answer
	b.mu.Unlock()
	if status != 0 {
		http.Error(w, "no", status)
		return
	}
	if r.URL.Path == "/slack/commands" {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"response_type":"ephemeral","text":"Getting a price quote for *`+form.Get("text")+`*…"}`)
		return
	}
	if answer != "" {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, answer)
	}
}

func (b *slackBot) forms(path string) []url.Values {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]url.Values(nil), b.got[path]...)
}

type world struct {
	pg    *httptest.Server
	fake  *bottest.FakeSlack
	bot   *slackBot
	sim   *ecssim.Server
	clock *ecssim.Clock
	api   *slack.Client
}

var people = []playground.Person{
	{ID: "U01ALICE", Name: "Alice", Role: "requester"},
	{ID: "U02BOB", Name: "Bob", Role: "approver"},
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{bot: &slackBot{t: t, got: map[string][]url.Values{}}}
	botSrv := httptest.NewServer(w.bot)
	t.Cleanup(botSrv.Close)
	w.fake = bottest.NewFakeSlack()
	t.Cleanup(w.fake.Close)
	w.clock = ecssim.NewClock(time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC))
	w.sim = ecssim.NewServer(ecssim.Options{Now: w.clock.Now})
	t.Cleanup(w.sim.Close)
	w.api = slack.New("xoxb-test", slack.OptionAPIURL(w.fake.APIURL()))
	digests := 0
	pg, err := playground.New(playground.Config{
		Transport: playground.HTTPTransport{Bot: botSrv.URL, Secret: secret}, Slack: w.fake, Sim: w.sim.URL, Channel: "C0RENEW", ChannelName: "renewals",
		People: people, Groups: map[string]string{"S0OPS": "ops"}, Examples: []string{"/renew help"},
		Digest: func(context.Context) error { digests++; return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	w.pg = httptest.NewServer(pg.Handler())
	t.Cleanup(w.pg.Close)
	return w
}

func (w *world) post(t *testing.T, path string, body any) (int, map[string]any) {
	t.Helper()
	raw, _ := json.Marshal(body)
	resp, err := http.Post(w.pg.URL+path, "application/json", bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

type stateItem struct {
	Key, Kind, Channel, TS, User, Command, Text string
	Edits                                       int
	Blocks                                      json.RawMessage
	Replies                                     []stateItem
	File                                        *struct{ ID, Title, URL string }
}

type pageState struct {
	Items  []stateItem
	Modals []struct {
		ID, User string
		View     map[string]any
	}
	Sim *struct {
		Now     time.Time
		Balance float64
		Orders  []struct{ OrderId string }
		Error   string
	}
}

func (w *world) state(t *testing.T) pageState {
	t.Helper()
	resp, err := http.Get(w.pg.URL + "/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st pageState
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestCommandSignedLikeSlack: a command typed on the page reaches the bot as Slack's signed
// form, and the bot's answers (the ack and a later response_url post) show as ephemerals of
// the person who typed it.
func TestCommandSignedLikeSlack(t *testing.T) {
	w := newWorld(t)
	code, ans := w.post(t, "/command", map[string]string{"user": "U01ALICE", "text": "/renew i-bp1web01 3"})
	if code != 200 || ans["status"] != float64(200) {
		t.Fatalf("POST /command: %d %v", code, ans)
	}
	forms := w.bot.forms("/slack/commands")
	if len(forms) != 1 {
		t.Fatalf("the bot got %d commands", len(forms))
	}
	f := forms[0]
	for k, want := range map[string]string{"command": "/renew", "text": "i-bp1web01 3", "user_id": "U01ALICE",
		"user_name": "alice", "channel_id": "C0RENEW", "channel_name": "renewals", "team_id": "T0FAKE", "api_app_id": "A0FAKE"} {
		if f.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, f.Get(k), want)
		}
	}
	if f.Get("trigger_id") == "" || f.Has("token") {
		t.Errorf("trigger_id %q, token %q", f.Get("trigger_id"), f.Get("token"))
	}
	respURL := f.Get("response_url")
	if !strings.HasPrefix(respURL, strings.TrimSuffix(w.fake.APIURL(), "api/")+"response/") {
		t.Fatalf("response_url %q is not on the fake Slack", respURL)
	}
	// Later the bot answers through the response_url, as renewbot does after the ack.
	resp, err := http.Post(respURL, "application/json", strings.NewReader(`{"response_type":"ephemeral","text":"Request R1 is waiting for approval"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	st := w.state(t)
	if len(st.Items) != 2 {
		t.Fatalf("items %+v", st.Items)
	}
	ack, later := st.Items[0], st.Items[1]
	if ack.Kind != "ephemeral" || ack.User != "U01ALICE" || ack.Command != "/renew i-bp1web01 3" || ack.Text != "Getting a price quote for *i-bp1web01 3*…" {
		t.Errorf("ack %+v", ack)
	}
	if later.Kind != "ephemeral" || later.User != "U01ALICE" || later.Text != "Request R1 is waiting for approval" {
		t.Errorf("response_url answer %+v", later)
	}

	// A bot that refuses the request (here: 401) shows the person an error, as Slack does.
	w.bot.mu.Lock()
	w.bot.status = http.StatusUnauthorized
	w.bot.mu.Unlock()
	if code, ans := w.post(t, "/command", map[string]string{"user": "U02BOB", "text": "help"}); code != 200 || ans["status"] != float64(401) {
		t.Fatalf("POST /command to a refusing bot: %d %v", code, ans)
	}
	st = w.state(t)
	last := st.Items[len(st.Items)-1]
	if last.User != "U02BOB" || !strings.Contains(last.Text, "/renew help failed: renewbot answered HTTP 401") {
		t.Errorf("refused command shows %+v", last)
	}
}

// TestActionSignedLikeSlack: a click on a button, an overflow and a select of a message the
// bot posted reaches the bot as Slack's signed block_actions payload.
func TestActionSignedLikeSlack(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	approve := slack.NewButtonBlockElement("approve", "R1", slack.NewTextBlockObject("plain_text", "Approve", false, false))
	blocks := []slack.Block{
		slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", "Renew *i-1*?", false, false), nil, nil),
		slack.NewActionBlock("approval.R1.actions", approve),
	}
	_, ts, err := w.api.PostMessageContext(ctx, "C0RENEW", slack.MsgOptionText("Renew i-1?", false), slack.MsgOptionBlocks(blocks...))
	if err != nil {
		t.Fatal(err)
	}
	click := map[string]any{"user": "U02BOB", "channel": "C0RENEW", "ts": ts, "action": map[string]any{
		"type": "button", "action_id": "approve", "block_id": "approval.R1.actions", "value": "R1",
		"text": map[string]any{"type": "plain_text", "text": "Approve"},
	}}
	if code, ans := w.post(t, "/action", click); code != 200 || ans["status"] != float64(200) {
		t.Fatalf("POST /action: %d %v", code, ans)
	}
	menu := map[string]any{"user": "U01ALICE", "channel": "C0RENEW", "ts": ts, "action": map[string]any{
		"type": "overflow", "action_id": "digest_renew", "block_id": "b2",
		"selected_option": map[string]any{"value": "i-1:3", "text": map[string]any{"type": "plain_text", "text": "Renew 3 months"}},
	}}
	if code, ans := w.post(t, "/action", menu); code != 200 || ans["status"] != float64(200) {
		t.Fatalf("POST /action overflow: %d %v", code, ans)
	}
	forms := w.bot.forms("/slack/interactions")
	if len(forms) != 2 {
		t.Fatalf("the bot got %d interactions", len(forms))
	}
	var ic slack.InteractionCallback
	if err := json.Unmarshal([]byte(forms[0].Get("payload")), &ic); err != nil {
		t.Fatal(err)
	}
	if ic.Type != slack.InteractionTypeBlockActions || ic.User.ID != "U02BOB" || ic.Channel.ID != "C0RENEW" ||
		ic.Container.MessageTs != ts || ic.Container.ChannelID != "C0RENEW" || ic.Team.ID != "T0FAKE" || ic.TriggerID == "" {
		t.Errorf("payload %+v", ic)
	}
	acts := ic.ActionCallback.BlockActions
	if len(acts) != 1 || acts[0].ActionID != "approve" || acts[0].Value != "R1" || acts[0].BlockID != "approval.R1.actions" || acts[0].ActionTs == "" {
		t.Errorf("actions %+v", acts)
	}
	if len(ic.Message.Blocks.BlockSet) != 2 || ic.Message.Timestamp != ts {
		t.Errorf("the payload does not carry the message: %+v", ic.Message)
	}
	if !strings.Contains(ic.ResponseURL, "/response/") {
		t.Errorf("response_url %q", ic.ResponseURL)
	}
	ic = slack.InteractionCallback{}
	if err := json.Unmarshal([]byte(forms[1].Get("payload")), &ic); err != nil {
		t.Fatal(err)
	}
	if acts := ic.ActionCallback.BlockActions; len(acts) != 1 || acts[0].Type != "overflow" || acts[0].SelectedOption.Value != "i-1:3" || ic.User.ID != "U01ALICE" {
		t.Errorf("overflow payload %+v", acts)
	}
	// What the bot posts to a click's response_url is the clicker's ephemeral.
	resp, err := http.Post(ic.ResponseURL, "application/json", strings.NewReader(`{"text":"only Alice sees this"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	st := w.state(t)
	if len(st.Items) != 2 || st.Items[0].Kind != "message" || st.Items[0].TS != ts || st.Items[1].User != "U01ALICE" || st.Items[1].Text != "only Alice sees this" {
		t.Errorf("items %+v", st.Items)
	}
}

// TestRefusedRequests: the page's API takes only JSON from the people it knows, and
// well-formed actions; nothing reaches the bot otherwise.
func TestRefusedRequests(t *testing.T) {
	w := newWorld(t)
	resp, err := http.Post(w.pg.URL+"/command", "application/x-www-form-urlencoded", strings.NewReader("user=U01ALICE&text=help"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("a form post (what another site's page can send): %d", resp.StatusCode)
	}
	for _, tc := range []struct {
		path string
		body any
		want string
	}{
		{"/command", map[string]string{"user": "U9MALLORY", "text": "help"}, "unknown user"},
		{"/command", map[string]any{"user": "U01ALICE", "text": "help", "extra": 1}, "unknown field"},
		{"/action", map[string]any{"user": "U01ALICE", "channel": "C0RENEW", "ts": "1.2", "action": map[string]any{"type": "overflow", "action_id": "x"}}, "without selected_option"},
		{"/action", map[string]any{"user": "U01ALICE", "channel": "C0RENEW", "ts": "1.2", "action": map[string]any{"type": "datepicker", "action_id": "x"}}, "unsupported action type"},
		{"/action", map[string]any{"user": "U01ALICE", "action": map[string]any{"type": "button", "action_id": "x"}}, "channel and ts are needed"},
		{"/clock", map[string]string{"Advance": "-1h"}, "only moves forward"},
	} {
		code, ans := w.post(t, tc.path, tc.body)
		if code != 400 || !strings.Contains(ans["error"].(string), tc.want) {
			t.Errorf("POST %s %v: %d %v, want 400 with %q", tc.path, tc.body, code, ans, tc.want)
		}
	}
	if n := len(w.bot.forms("/slack/commands")) + len(w.bot.forms("/slack/interactions")); n != 0 {
		t.Errorf("%d refused requests reached the bot", n)
	}
}

// TestClockAndSimPanel: the side panel's clock moves ecssim's business clock, and the state
// shows the emulator's clock, balance and orders.
func TestClockAndSimPanel(t *testing.T) {
	w := newWorld(t)
	if code, ans := w.post(t, "/clock", map[string]string{"Advance": "24h"}); code != 200 || ans["Now"] != "2026-11-26T08:00:00Z" {
		t.Fatalf("POST /clock: %d %v", code, ans)
	}
	if got := w.sim.Now(); !got.Equal(time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)) {
		t.Fatalf("the emulator's clock is %v", got)
	}
	if code, _ := w.post(t, "/clock", map[string]string{"Now": "2026-12-01T00:00:00Z"}); code != 200 {
		t.Fatalf("POST /clock Now: %d", code)
	}
	st := w.state(t)
	if st.Sim == nil || st.Sim.Error != "" || !st.Sim.Now.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) || st.Sim.Orders == nil {
		t.Fatalf("sim %+v", st.Sim)
	}
	if code, ans := w.post(t, "/digest", map[string]string{}); code != 200 || ans["ok"] != true {
		t.Fatalf("POST /digest: %d %v", code, ans)
	}
}

// TestThreadsFilesAndEvents: replies and the shared CSV sit in their parent's thread, an
// update changes the message in place, and the event stream sends the state again when the
// fake Slack records something.
func TestThreadsFilesAndEvents(t *testing.T) {
	w := newWorld(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, w.pg.URL+"/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	events := bufio.NewScanner(resp.Body)
	events.Buffer(make([]byte, 1<<20), 1<<20)
	next := func() pageState {
		t.Helper()
		for events.Scan() {
			if data, ok := strings.CutPrefix(events.Text(), "data: "); ok {
				var st pageState
				if err := json.Unmarshal([]byte(data), &st); err != nil {
					t.Fatal(err)
				}
				return st
			}
		}
		t.Fatalf("event stream ended: %v", events.Err())
		return pageState{}
	}
	if st := next(); len(st.Items) != 0 {
		t.Fatalf("first event %+v", st.Items)
	}
	_, parent, err := w.api.PostMessageContext(ctx, "C0RENEW", slack.MsgOptionText("digest", false))
	if err != nil {
		t.Fatal(err)
	}
	for st := next(); len(st.Items) != 1; st = next() {
	}
	if _, _, err := w.api.PostMessageContext(ctx, "C0RENEW", slack.MsgOptionText("page 1", false), slack.MsgOptionTS(parent)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.api.UploadFileContext(ctx, slack.UploadFileParameters{
		Filename: "digest.csv", Title: "digest.csv", Content: "id\ni-1\n", FileSize: 7, Channel: "C0RENEW", ThreadTimestamp: parent,
	}); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := w.api.UpdateMessageContext(ctx, "C0RENEW", parent, slack.MsgOptionText("digest, edited", false)); err != nil {
		t.Fatal(err)
	}
	var st pageState
	for st = next(); len(st.Items) != 1 || st.Items[0].Edits != 1 || len(st.Items[0].Replies) != 2; st = next() {
	}
	top := st.Items[0]
	if top.Text != "digest, edited" || top.Replies[0].Text != "page 1" || top.Replies[1].Kind != "file" || top.Replies[1].File == nil {
		t.Fatalf("thread %+v", top)
	}
	f, err := http.Get(w.pg.URL + "/" + top.Replies[1].File.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(f.Body)
	f.Body.Close()
	if f.StatusCode != 200 || string(body) != "id\ni-1\n" {
		t.Errorf("GET the CSV: %d %q", f.StatusCode, body)
	}
}

// TestPage: the page and its assets are served from the binary, with the people to act as.
func TestPage(t *testing.T) {
	w := newWorld(t)
	for path, want := range map[string]string{
		"/":                  `id="as-U02BOB"`,
		"/static/app.js":     "function mrkdwn",
		"/static/style.css":  ".bk-btn",
		"/?":                 `"examples":["/renew help"]`,
		"/static/nothing.js": "404",
	} {
		resp, err := http.Get(w.pg.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want == "404" {
			if resp.StatusCode != 404 {
				t.Errorf("GET %s: %d", path, resp.StatusCode)
			}
			continue
		}
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %d, want %q in\n%.300s", path, resp.StatusCode, want, body)
		}
	}
}

// TestModal: a modal the bot opens on the trigger_id of a person's command shows to that
// person, and only that person acts in it; its submission reaches the bot as Slack's
// view_submission with the values typed; an errors answer keeps it open and is passed on to
// the page, an empty answer closes it.
func TestModal(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.post(t, "/command", map[string]string{"user": "U02BOB", "text": "reject R1"})
	trigger := w.bot.forms("/slack/commands")[0].Get("trigger_id")
	reason := slack.NewInputBlock("reason", slack.NewTextBlockObject("plain_text", "Reason", false, false), nil,
		&slack.PlainTextInputBlockElement{Type: slack.METPlainTextInput, ActionID: "reason_text", Multiline: true})
	v, err := w.api.OpenViewContext(ctx, trigger, slack.ModalViewRequest{Type: slack.VTModal, CallbackID: "reject",
		Title: slack.NewTextBlockObject("plain_text", "Reject request", false, false), Submit: slack.NewTextBlockObject("plain_text", "Reject", false, false),
		Blocks: slack.Blocks{BlockSet: []slack.Block{reason}}})
	if err != nil {
		t.Fatal(err)
	}
	st := w.state(t)
	if len(st.Modals) != 1 || st.Modals[0].ID != v.ID || st.Modals[0].User != "U02BOB" || st.Modals[0].View["callback_id"] != "reject" {
		t.Fatalf("modals %+v", st.Modals)
	}
	submit := map[string]any{"user": "U02BOB", "view_id": v.ID, "kind": "submit", "values": map[string]any{"reason": map[string]string{"reason_text": "too early"}}}
	if code, _ := w.post(t, "/view", map[string]any{"user": "U01ALICE", "view_id": v.ID, "kind": "submit"}); code != 404 {
		t.Errorf("Alice submitted Bob's modal: %d", code)
	}
	w.bot.mu.Lock()
	w.bot.answer = `{"response_action":"errors","errors":{"reason":"Say why in a few more words."}}`
	w.bot.mu.Unlock()
	if code, ans := w.post(t, "/view", submit); code != 200 || fmt.Sprint(ans["errors"]) != "map[reason:Say why in a few more words.]" {
		t.Fatalf("submit: %d %v", code, ans)
	}
	var sub struct {
		Type string
		User struct{ ID string }
		View struct {
			ID    string
			State struct {
				Values map[string]map[string]struct {
					Type, Value string
				}
			}
		}
	}
	forms := w.bot.forms("/slack/interactions")
	if err := json.Unmarshal([]byte(forms[len(forms)-1].Get("payload")), &sub); err != nil {
		t.Fatal(err)
	}
	if sub.Type != "view_submission" || sub.User.ID != "U02BOB" || sub.View.ID != v.ID || sub.View.State.Values["reason"]["reason_text"].Value != "too early" {
		t.Errorf("view_submission %+v", sub)
	}
	if st := w.state(t); len(st.Modals) != 1 {
		t.Fatalf("after an errors answer the modal is closed: %+v", st.Modals)
	}
	w.bot.mu.Lock()
	w.bot.answer = ""
	w.bot.mu.Unlock()
	w.post(t, "/view", submit)
	if st := w.state(t); len(st.Modals) != 0 {
		t.Fatalf("after an empty answer the modal is still open: %+v", st.Modals)
	}
}
