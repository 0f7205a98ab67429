package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/slack-go/slack"

	"github.com/renewbot/renewbot/bot/bottest"
	"github.com/renewbot/renewbot/ecs/ecssim"
	"github.com/renewbot/renewbot/store"
)

// syncBuffer is a bytes.Buffer safe for the server goroutine and the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// servedBot is a running `renewbot serve`.
type servedBot struct {
	URL     string // http://127.0.0.1:PORT
	Log     *syncBuffer
	stop    context.CancelFunc
	done    chan int
	stopped bool
}

// startServe boots run(ctx, ["serve"]) and reads the "listening on" line from its stdout.
func startServe(t *testing.T, env map[string]string) *servedBot {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	b := &servedBot{Log: &syncBuffer{}, stop: cancel, done: make(chan int, 1)}
	go func() {
		code := run(ctx, []string{"serve"}, getenvOf(env), strings.NewReader(""), pw, b.Log)
		pw.Close()
		b.done <- code
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("serve did not start (%v); log:\n%s", err, b.Log.String())
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "renewbot listening on ")
	if !ok {
		t.Fatalf("first line %q", line)
	}
	b.URL = addr
	t.Cleanup(func() { b.shutdown(t) })
	return b
}

// shutdown stops serve as SIGTERM would and checks it exits 0.
func (b *servedBot) shutdown(t *testing.T) {
	t.Helper()
	if b.stopped {
		return
	}
	b.stopped = true
	b.stop()
	if code := <-b.done; code != 0 {
		t.Errorf("serve exited %d; log:\n%s", code, b.Log.String())
	}
}

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func post(t *testing.T, req *http.Request) int {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// waitCall waits for a call of method that satisfies ok.
func waitCall(ctx context.Context, t *testing.T, fake *bottest.FakeSlack, method string, ok func(bottest.Call) bool) bottest.Call {
	t.Helper()
	c, err := fake.WaitFor(ctx, method, 0, ok)
	if err != nil {
		t.Fatalf("waiting for %s: %v; calls so far: %+v", method, err, fake.Calls())
	}
	return c
}

// buttons returns action_id → value of the buttons in a message's blocks form field.
func buttons(t *testing.T, blocksJSON string) map[string]string {
	t.Helper()
	var blocks []struct {
		Type     string `json:"type"`
		Elements []struct {
			ActionID string `json:"action_id"`
			Value    string `json:"value"`
		} `json:"elements"`
	}
	if err := json.Unmarshal([]byte(blocksJSON), &blocks); err != nil {
		t.Fatalf("blocks %q: %v", blocksJSON, err)
	}
	out := map[string]string{}
	for _, b := range blocks {
		if b.Type == "actions" {
			for _, e := range b.Elements {
				out[e.ActionID] = e.Value
			}
		}
	}
	return out
}

func responseN(u string) string { return u[strings.LastIndex(u, "/")+1:] }

// TestServe_EndToEnd boots serve on port 0 with ecssim, the fake Slack and a bbolt file, and
// walks: /renew → approval message → the requester's own Approve refused → a second approver
// approves → exactly one order → the message shows the OrderId. History and backup run
// against the live bot through the admin socket, then against the free file after shutdown.
func TestServe_EndToEnd(t *testing.T) {
	sim, env := newSim(t, -1)
	fake := bottest.NewFakeSlack()
	t.Cleanup(fake.Close)
	fake.SetGroup("S0APPROVERS", "U0APPROVER2")
	dir := t.TempDir()
	db := filepath.Join(dir, "renewbot.db")
	for k, v := range map[string]string{
		"SLACK_BOT_TOKEN":      testBotToken,
		"SLACK_SIGNING_SECRET": testSecret,
		"SLACK_API_URL":        strings.TrimSuffix(fake.APIURL(), "/"), // serve adds the slash
		"RENEWBOT_LISTEN":      "127.0.0.1:0",
		"RENEWBOT_DB":          db,
		"RENEWBOT_APPROVERS":   "U0REQUESTER,S0APPROVERS", // the requester is an approver: only four-eyes stops them
		"RENEWBOT_LOG_LEVEL":   "debug",
		"RENEWBOT_TIMEZONE":    "America/Chicago", // the approval card's times follow it
	} {
		env[k] = v
	}
	b := startServe(t, env)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	if code, body := get(t, b.URL+"/healthz"); code != 200 || strings.TrimSpace(body) != "ok" {
		t.Errorf("healthz %d %q", code, body)
	}

	// An unsigned command is refused and leaves nothing behind.
	bad := bottest.SignedRequest("wrong-secret", b.URL+"/slack/commands", url.Values{"text": {"i-soon0001 3"}}, time.Now())
	if code := post(t, bad); code != http.StatusUnauthorized {
		t.Errorf("badly signed command: %d, want 401", code)
	}

	// /renew i-soon0001 3 by the requester.
	cmdURL := fake.ResponseURL()
	form := bottest.CommandForm(slack.SlashCommand{Command: "/renew", Text: "i-soon0001 3", UserID: "U0REQUESTER", UserName: "req",
		ChannelID: "C0OPS", ChannelName: "ops", TeamID: "T0FAKE", ResponseURL: cmdURL, TriggerID: "t1", APIAppID: "A0FAKE"})
	if code := post(t, bottest.SignedRequest(testSecret, b.URL+"/slack/commands", form, time.Now())); code != 200 {
		t.Fatalf("command: %d", code)
	}
	msg := waitCall(ctx, t, fake, "chat.postMessage", func(c bottest.Call) bool { return c.Form.Get("channel") == "C0OPS" })
	btn := buttons(t, msg.Form.Get("blocks"))
	reqID, okA := btn["approve"]
	if _, okR := btn["reject"]; !okA || !okR || reqID == "" || btn["reject"] != reqID {
		t.Fatalf("approval message buttons %v", btn)
	}
	ts := "1700000000.000100"
	if calls := fake.CallsOf("chat.postMessage"); len(calls) != 1 {
		t.Errorf("%d chat.postMessage calls, want 1", len(calls))
	}

	// The requester's own Approve: refused, ephemeral, nothing changes.
	selfURL := fake.ResponseURL()
	self := bottest.InteractionForm(bottest.BlockAction("U0REQUESTER", "C0OPS", ts, "approve", reqID, selfURL))
	if code := post(t, bottest.SignedRequest(testSecret, b.URL+"/slack/interactions", self, time.Now())); code != 200 {
		t.Fatalf("self-approval click: %d", code)
	}
	refusal := waitCall(ctx, t, fake, "response_url", func(c bottest.Call) bool { return c.Form.Get("n") == responseN(selfURL) })
	if !strings.Contains(string(refusal.JSON), `"ephemeral"`) {
		t.Errorf("refusal not ephemeral: %s", refusal.JSON)
	}
	if n := len(sim.Orders()); n != 0 {
		t.Fatalf("%d orders after a refused self-approval", n)
	}

	// The refusal is on record, readable while serve holds the file (admin socket).
	r := runCLI(t, env, "", "history", reqID, "--format", "json")
	if r.code != 0 {
		t.Fatalf("history while serving: exit %d: %s", r.code, r.stderr)
	}
	var evs []store.Event
	if err := json.Unmarshal([]byte(r.out), &evs); err != nil {
		t.Fatal(err)
	}
	if !hasEvent(evs, store.ActRefused, "U0REQUESTER") || hasEvent(evs, store.ActApproved, "") {
		t.Errorf("history after the self-approval: %+v", evs)
	}

	// A second approver (through the user group) approves: exactly one order, message updated.
	okURL := fake.ResponseURL()
	approve := bottest.InteractionForm(bottest.BlockAction("U0APPROVER2", "C0OPS", ts, "approve", reqID, okURL))
	if code := post(t, bottest.SignedRequest(testSecret, b.URL+"/slack/interactions", approve, time.Now())); code != 200 {
		t.Fatalf("approval click: %d", code)
	}
	var orderID string
	upd := waitCall(ctx, t, fake, "chat.update", func(c bottest.Call) bool {
		if orders := sim.Orders(); len(orders) > 0 {
			orderID = orders[0].OrderId
		}
		return orderID != "" && strings.Contains(c.Form.Get("text")+c.Form.Get("blocks"), orderID)
	})
	if upd.Form.Get("channel") != "C0OPS" {
		t.Errorf("update in %q", upd.Form.Get("channel"))
	}
	chicago := regexp.MustCompile(`\d\d:\d\d UTC-[56]\b`) // CST or CDT, spelled as an offset
	for name, c := range map[string]bottest.Call{"posted": msg, "updated": upd} {
		all := c.Form.Get("text") + c.Form.Get("blocks")
		if !chicago.MatchString(all) || strings.Contains(all, "UTC+8") || strings.Contains(all, " UTC)") {
			t.Errorf("%s approval message does not show its times in RENEWBOT_TIMEZONE (America/Chicago): %s", name, all)
		}
	}
	orders := sim.Orders()
	if len(orders) != 1 || orders[0].InstanceId != "i-soon0001" || orders[0].Period != 3 || orders[0].ClientToken == "" {
		t.Fatalf("orders %+v, want exactly one 3-month renewal of i-soon0001", orders)
	}
	if len(buttons(t, upd.Form.Get("blocks"))) != 0 {
		t.Errorf("the finished request still has buttons: %s", upd.Form.Get("blocks"))
	}

	// Metrics and a backup of the live file.
	code, metrics := get(t, b.URL+"/metrics")
	for _, want := range []string{
		`renewbot_requests{state="done"} 1`,
		`renewbot_renewals_total{kind="renew",outcome="done"} 1`,
		`renewbot_ecs_calls_total{action="RenewInstance",code=""} 1`,
		`renewbot_ecs_call_duration_seconds_count{action="RenewInstance"} 1`,
		`renewbot_slack_signature_failures_total{reason="invalid"} 1`,
		`renewbot_interactions_total{action="approve",outcome="refused"} 1`,
		"renewbot_last_scan_success_timestamp_seconds", "renewbot_digest_duration_seconds",
		"go_goroutines", "process_",
	} {
		if code != 200 || !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	backup := filepath.Join(dir, "copy.db")
	if r := runCLI(t, env, "", "backup", backup); r.code != 0 || !strings.Contains(r.out, "wrote "+backup) {
		t.Fatalf("backup while serving: exit %d %q %q", r.code, r.out, r.stderr)
	}
	if _, err := os.Stat(backup + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary file left: %v", err)
	}

	// An operator renewal from the CLI while serve holds the file: audited through the socket.
	env["USER"] = "bob"
	if r := runCLI(t, env, "", "renew", "i-later003", "--yes"); r.code != 0 || strings.Contains(r.stderr, "not recorded") {
		t.Errorf("CLI renew while serving: exit %d %q", r.code, r.stderr)
	}
	r = runCLI(t, env, "", "history", "i-later003", "--format", "json")
	evs = nil
	if err := json.Unmarshal([]byte(r.out), &evs); err != nil || !hasEvent(evs, store.ActRequested, "cli:bob") {
		t.Errorf("operator run not audited: %v %s %s", err, r.out, r.stderr)
	}

	// The Docker health check, and the digest dry run through the running bot.
	env["RENEWBOT_HEALTHCHECK_URL"] = b.URL + "/healthz"
	if r := runCLI(t, env, "", "healthcheck"); r.code != 0 || strings.TrimSpace(r.out) != "ok" {
		t.Errorf("healthcheck: exit %d %q %q", r.code, r.out, r.stderr)
	}
	if r := runCLI(t, env, "", "digest", "--dry-run"); r.code != 0 || !json.Valid([]byte(r.out)) {
		t.Errorf("digest --dry-run while serving: exit %d %q %q", r.code, r.out, r.stderr)
	}
	if r := runCLI(t, env, "", "digest", "--now"); r.code != 0 || !strings.Contains(r.stderr, "asking it") || !strings.Contains(r.out, "nothing to post") {
		t.Errorf("digest --now while serving: exit %d %q %q", r.code, r.out, r.stderr) // serve has no digest channel
	}

	for _, secret := range []string{testBotToken, testSecret} {
		if strings.Contains(b.Log.String(), secret) {
			t.Errorf("the log shows a secret")
		}
	}
	checkJSONLog(t, b.Log.String(), reqID)

	// Shutdown: exit 0, socket gone; the file is free and the CLI opens it directly.
	b.shutdown(t)
	if _, err := os.Stat(db + ".sock"); !os.IsNotExist(err) {
		t.Errorf("admin socket left behind: %v", err)
	}
	if r := runCLI(t, env, "", "healthcheck", "--timeout", "2s"); r.code != exitError || !strings.Contains(r.stderr, "unhealthy") {
		t.Errorf("healthcheck after shutdown: exit %d %q", r.code, r.stderr)
	}
	r = runCLI(t, env, "", "history", "--format", "json")
	evs = nil
	if err := json.Unmarshal([]byte(r.out), &evs); r.code != 0 || err != nil {
		t.Fatalf("history after shutdown: exit %d %v %s", r.code, err, r.stderr)
	}
	if !hasEvent(evs, store.ActApproved, "U0APPROVER2") || !hasEvent(evs, store.ActDone, "") {
		t.Errorf("history after shutdown: %+v", evs)
	}
	copyDB, err := store.Open(backup, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer copyDB.Close()
	req, err := copyDB.GetRequest(store.RequestID(reqID))
	if err != nil || req.State != store.StateDone || req.Items[0].OrderID != orderID {
		t.Errorf("backup holds %+v, %v", req, err)
	}
}

// checkJSONLog checks serve's log (stderr, not a terminal): one JSON object per line, with
// request, instance and user fields where they apply, each key once.
func checkJSONLog(t *testing.T, log, reqID string) {
	t.Helper()
	var command, ordered bool
	for line := range strings.Lines(log) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("log line is not JSON: %q", line)
			continue
		}
		if n := strings.Count(line, `"component":`); n > 1 {
			t.Errorf("log line names its component %d times: %s", n, line)
		}
		switch rec["msg"] {
		case "command":
			command = command || rec["user"] == "U0REQUESTER" && rec["instances"] == "i-soon0001"
		case "renew ordered":
			ordered = ordered || rec["request"] == reqID && rec["instance"] == "i-soon0001"
		}
	}
	if !command || !ordered {
		t.Errorf("log lacks the command with user and instances (%v) or the order with request and instance (%v):\n%s", command, ordered, log)
	}
}

func hasEvent(evs []store.Event, act store.Action, actor string) bool {
	for _, e := range evs {
		if e.Action == act && (actor == "" || e.Actor == actor) {
			return true
		}
	}
	return false
}

func TestAdmin_NeitherFileNorBot(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "renewbot.db")
	holder, err := store.Open(db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	r := runCLI(t, map[string]string{"RENEWBOT_DB": db}, "", "history")
	want := "renewbot.db is locked by another process but no running renewbot answers on renewbot.db.sock"
	if r.code != exitError || !strings.Contains(r.stderr, want) {
		t.Errorf("exit %d stderr %q, want %q", r.code, r.stderr, want)
	}
	r = runCLI(t, map[string]string{"RENEWBOT_DB": filepath.Join(dir, "missing.db")}, "", "backup", filepath.Join(dir, "b.db"))
	if r.code != exitUsage || !strings.Contains(r.stderr, "no store at") {
		t.Errorf("missing file: exit %d %q", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "b.db")); !os.IsNotExist(err) {
		t.Error("a failed backup left a file")
	}
}

func TestBackup_FileFree(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "renewbot.db")
	s, err := store.Open(db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Audit(store.Event{Actor: "cli:test", Action: store.ActSnoozed, InstanceIDs: []string{"i-abcd1234"}, Detail: "x"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	env := map[string]string{"RENEWBOT_DB": db}
	if r := runCLI(t, env, "", "backup", filepath.Join(dir, "b.db")); r.code != 0 {
		t.Fatalf("exit %d %s", r.code, r.stderr)
	}
	env["RENEWBOT_DB"] = filepath.Join(dir, "b.db")
	r := runCLI(t, env, "", "history", "i-abcd1234", "--since", "1h")
	if r.code != 0 || !strings.Contains(r.out, "cli:test") || !strings.Contains(r.out, "snoozed") {
		t.Errorf("history of the backup: exit %d %q %q", r.code, r.out, r.stderr)
	}
}

func TestStaleAdminSocket(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "x.db.sock")
	// A socket file left by a killed process.
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if _, err := os.Stat(sock); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "plain"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	second, err := listenAdmin(sock, http.NotFoundHandler(), discardLogger())
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, %v", fi.Mode(), err)
	}
	second.close(t.Context())
	if _, err := listenAdmin(filepath.Join(dir, "plain"), http.NotFoundHandler(), discardLogger()); err == nil {
		t.Error("a regular file was replaced by the admin socket")
	}
}

func TestScheduleInterval(t *testing.T) {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, loc) // a Wednesday
	for spec, want := range map[string]time.Duration{
		"0 9 * * *":    24 * time.Hour,
		"*/15 * * * *": 15 * time.Minute,
		"0 9 * * 1-5":  72 * time.Hour, // Friday to Monday
	} {
		s, err := cron.ParseStandard(spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := scheduleInterval(s, now); got != want {
			t.Errorf("%q: %v, want %v", spec, got, want)
		}
	}
}

type fakeWriteCheck struct{ err error }

func (f fakeWriteCheck) WriteCheck() error { return f.err }

type fakeScans struct{ last time.Time }

func (f fakeScans) lastScan() time.Time { return f.last }

func TestHealthCheck(t *testing.T) {
	start := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name   string
		db     error
		last   time.Time
		now    time.Time
		wantOK bool
		why    string
	}{
		{"fresh start", nil, time.Time{}, start.Add(time.Hour), true, ""},
		{"no scan for two days", nil, time.Time{}, start.Add(49 * time.Hour), false, "no complete expiring scan since start"},
		{"recent scan", nil, start.Add(40 * time.Hour), start.Add(80 * time.Hour), true, ""},
		{"stale scan", nil, start.Add(time.Hour), start.Add(50 * time.Hour), false, "last complete expiring scan 49h0m0s ago (limit 48h0m0s)"},
		{"store broken", os.ErrClosed, time.Time{}, start, false, "store not writable"},
	} {
		h := &healthCheck{db: fakeWriteCheck{tt.db}, scans: fakeScans{tt.last}, started: start, maxAge: 48 * time.Hour,
			now: func() time.Time { return tt.now }}
		why := h.check()
		if (why == "") != tt.wantOK || !strings.Contains(why, tt.why) {
			t.Errorf("%s: %q", tt.name, why)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
		if wantCode := map[bool]int{true: 200, false: 503}[tt.wantOK]; rec.Code != wantCode || !strings.Contains(rec.Body.String(), tt.why) {
			t.Errorf("%s: GET /healthz %d %q, want %d saying why", tt.name, rec.Code, rec.Body.String(), wantCode)
		}
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestServe_SocketMode boots serve with SLACK_APP_TOKEN and no signing secret: commands and
// clicks arrive as Socket Mode envelopes, /slack/* is not served, /healthz still is.
func TestServe_SocketMode(t *testing.T) {
	sim, env := newSim(t, -1)
	fake := bottest.NewFakeSlack()
	t.Cleanup(fake.Close)
	for k, v := range map[string]string{
		"SLACK_BOT_TOKEN":    testBotToken,
		"SLACK_APP_TOKEN":    testAppToken,
		"SLACK_API_URL":      fake.APIURL(),
		"RENEWBOT_LISTEN":    "127.0.0.1:0",
		"RENEWBOT_DB":        filepath.Join(t.TempDir(), "renewbot.db"),
		"RENEWBOT_APPROVERS": "U0APPROVER2",
	} {
		env[k] = v
	}
	b := startServe(t, env)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := fake.Wait(ctx, "socket.hello", 1); err != nil {
		t.Fatalf("no Socket Mode connection: %v; log:\n%s", err, b.Log.String())
	}
	if code, _ := get(t, b.URL+"/healthz"); code != 200 {
		t.Errorf("healthz %d", code)
	}
	if code := post(t, bottest.SignedRequest("", b.URL+"/slack/commands", url.Values{}, time.Now())); code != http.StatusNotFound {
		t.Errorf("/slack/commands without a signing secret: %d, want 404", code)
	}

	envID := fake.PushEnvelope("slash_commands", slack.SlashCommand{Command: "/renew", Text: "i-soon0001 1", UserID: "U0REQUESTER",
		ChannelID: "C0OPS", TeamID: "T0FAKE", ResponseURL: fake.ResponseURL()})
	if _, err := fake.WaitAck(ctx, envID); err != nil {
		t.Fatalf("no ack: %v", err)
	}
	msg := waitCall(ctx, t, fake, "chat.postMessage", func(c bottest.Call) bool { return c.Form.Get("channel") == "C0OPS" })
	reqID := buttons(t, msg.Form.Get("blocks"))["approve"]
	if reqID == "" {
		t.Fatalf("no approve button: %s", msg.Form.Get("blocks"))
	}
	clickID := fake.PushEnvelope("interactive", bottest.BlockAction("U0APPROVER2", "C0OPS", "1.1", "approve", reqID, fake.ResponseURL()))
	if _, err := fake.WaitAck(ctx, clickID); err != nil {
		t.Fatalf("no ack: %v", err)
	}
	waitCall(ctx, t, fake, "chat.update", func(c bottest.Call) bool {
		orders := sim.Orders()
		return len(orders) == 1 && strings.Contains(c.Form.Get("text")+c.Form.Get("blocks"), orders[0].OrderId)
	})
	// Slack redelivers the click: still one order.
	if err := fake.Redeliver(clickID); err != nil {
		t.Fatal(err)
	}
	b.shutdown(t)
	if n := len(sim.Orders()); n != 1 {
		t.Errorf("%d orders, want 1", n)
	}
}

// TestServe_ShutdownDrains: SIGTERM while a renewal is in flight at ECS. serve waits for it,
// records it, updates the message and only then closes the store.
func TestServe_ShutdownDrains(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	sim, env := newSimWith(t, ecssim.Options{RenewDelay: -1, Hook: func(action string, _ url.Values) {
		if action == "RenewInstance" {
			once.Do(func() { close(entered) })
			<-release
		}
	}})
	fake := bottest.NewFakeSlack()
	t.Cleanup(fake.Close)
	db := filepath.Join(t.TempDir(), "renewbot.db")
	for k, v := range map[string]string{
		"SLACK_BOT_TOKEN": testBotToken, "SLACK_SIGNING_SECRET": testSecret, "SLACK_API_URL": fake.APIURL(),
		"RENEWBOT_LISTEN": "127.0.0.1:0", "RENEWBOT_DB": db, "RENEWBOT_APPROVERS": "U0APPROVER2",
	} {
		env[k] = v
	}
	b := startServe(t, env)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	form := bottest.CommandForm(slack.SlashCommand{Command: "/renew", Text: "i-soon0001 1", UserID: "U0REQUESTER",
		ChannelID: "C0OPS", TeamID: "T0FAKE", ResponseURL: fake.ResponseURL()})
	if code := post(t, bottest.SignedRequest(testSecret, b.URL+"/slack/commands", form, time.Now())); code != 200 {
		t.Fatalf("command: %d", code)
	}
	msg := waitCall(ctx, t, fake, "chat.postMessage", func(c bottest.Call) bool { return c.Form.Get("channel") == "C0OPS" })
	reqID := buttons(t, msg.Form.Get("blocks"))["approve"]
	click := bottest.InteractionForm(bottest.BlockAction("U0APPROVER2", "C0OPS", "1.1", "approve", reqID, fake.ResponseURL()))
	if code := post(t, bottest.SignedRequest(testSecret, b.URL+"/slack/interactions", click, time.Now())); code != 200 {
		t.Fatalf("click: %d", code)
	}
	select {
	case <-entered:
	case <-ctx.Done():
		t.Fatal("RenewInstance never arrived")
	}
	b.stop() // SIGTERM
	close(release)
	if code := <-b.done; code != 0 {
		t.Fatalf("serve exited %d:\n%s", code, b.Log.String())
	}
	b.stopped = true

	s, err := store.Open(db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, err := s.GetRequest(store.RequestID(reqID))
	if err != nil || r.State != store.StateDone || len(sim.Orders()) != 1 || r.Items[0].OrderID != sim.Orders()[0].OrderId {
		t.Fatalf("after shutdown: %+v %v, orders %+v", r, err, sim.Orders())
	}
	if !strings.Contains(fake.CallsOf("chat.update")[len(fake.CallsOf("chat.update"))-1].Form.Get("blocks"), r.Items[0].OrderID) {
		t.Error("the last message update does not show the OrderId")
	}
}
