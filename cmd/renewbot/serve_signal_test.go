package main

import (
	"bufio"
	"context"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/renewbot/renewbot/bot/bottest"
	"github.com/renewbot/renewbot/ecs/ecssim"
	"github.com/renewbot/renewbot/store"
)

// TestServe_SecondSignalStopsWaiting: a renewal hangs at ECS; the first SIGTERM starts a
// drain that would wait for it, the second cuts the drain short. serve then still removes
// the admin socket and closes the store, exits non-zero saying why, and leaves the request
// executing, to be resumed with the same ClientToken at the next start.
func TestServe_SecondSignalStopsWaiting(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	sim, env := newSimWith(t, ecssim.Options{RenewDelay: -1, Hook: func(action string, _ url.Values) {
		if action == "RenewInstance" {
			once.Do(func() { close(entered) })
			<-release
		}
	}})
	t.Cleanup(func() { close(release) }) // before the sim closes
	fake := bottest.NewFakeSlack()
	t.Cleanup(fake.Close)
	db := filepath.Join(t.TempDir(), "renewbot.db")
	for k, v := range map[string]string{
		"SLACK_BOT_TOKEN": testBotToken, "SLACK_SIGNING_SECRET": testSecret, "SLACK_API_URL": fake.APIURL(),
		"RENEWBOT_LISTEN": "127.0.0.1:0", "RENEWBOT_DB": db, "RENEWBOT_APPROVERS": "U0APPROVER2",
		"RENEWBOT_SHUTDOWN_TIMEOUT": "10m",
	} {
		env[k] = v
	}
	ctx, firstSignal := context.WithCancel(context.Background())
	defer firstSignal()
	hurry, secondSignal := context.WithCancel(context.Background())
	defer secondSignal()
	pr, pw := io.Pipe()
	var logs syncBuffer
	done := make(chan int, 1)
	go func() {
		code := runEnv(ctx, env2(env, pw, &logs, hurry), []string{"serve"})
		pw.Close()
		done <- code
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("serve did not start: %v\n%s", err, logs.String())
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	base := strings.TrimPrefix(strings.TrimSpace(line), "renewbot listening on ")

	tctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	form := bottest.CommandForm(slack.SlashCommand{Command: "/renew", Text: "i-soon0001 1", UserID: "U0REQUESTER",
		ChannelID: "C0OPS", TeamID: "T0FAKE", ResponseURL: fake.ResponseURL()})
	if code := post(t, bottest.SignedRequest(testSecret, base+"/slack/commands", form, time.Now())); code != 200 {
		t.Fatalf("command: %d", code)
	}
	msg := waitCall(tctx, t, fake, "chat.postMessage", func(c bottest.Call) bool { return c.Form.Get("channel") == "C0OPS" })
	reqID := buttons(t, msg.Form.Get("blocks"))["approve"]
	click := bottest.InteractionForm(bottest.BlockAction("U0APPROVER2", "C0OPS", "1.1", "approve", reqID, fake.ResponseURL()))
	if code := post(t, bottest.SignedRequest(testSecret, base+"/slack/interactions", click, time.Now())); code != 200 {
		t.Fatalf("click: %d", code)
	}
	select {
	case <-entered:
	case <-tctx.Done():
		t.Fatal("RenewInstance never arrived")
	}
	firstSignal()
	secondSignal()
	select {
	case code := <-done:
		if code != exitError || !strings.Contains(logs.String(), "second signal") {
			t.Errorf("serve exited %d, want %d with the reason:\n%s", code, exitError, logs.String())
		}
	case <-tctx.Done():
		t.Fatal("serve still waits for the hung renewal after the second signal")
	}
	if _, err := os.Lstat(adminSocketPath(db)); !os.IsNotExist(err) {
		t.Errorf("admin socket left behind: %v", err)
	}
	s, err := store.Open(db, store.Options{})
	if err != nil {
		t.Fatalf("store not closed: %v", err)
	}
	defer s.Close()
	if r, err := s.GetRequest(store.RequestID(reqID)); err != nil || r.State != store.StateExecuting {
		t.Errorf("request %+v %v, want executing (resumed at the next start)", r, err)
	}
	if n := len(sim.Orders()); n > 1 {
		t.Errorf("%d orders", n)
	}
}

// env2 is the process environment of a serve run in a test.
func env2(vars map[string]string, stdout io.Writer, stderr io.Writer, hurry context.Context) env {
	return env{getenv: getenvOf(vars), stdin: strings.NewReader(""), stdout: stdout, stderr: stderr, hurry: hurry}
}

// A store in a deep folder puts the admin socket past the 107-byte limit of a Unix socket
// path; history and backup still reach the running bot, and the socket is removed at exit.
func TestAdmin_LongStorePath(t *testing.T) {
	_, env := newSim(t, -1)
	fake := bottest.NewFakeSlack()
	t.Cleanup(fake.Close)
	dir := filepath.Join(t.TempDir(), strings.Repeat("deep-folder-name-", 7))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "renewbot.db")
	if len(adminSocketPath(db)) < 110 {
		t.Fatalf("path %d bytes: not long enough for this test", len(adminSocketPath(db)))
	}
	for k, v := range map[string]string{
		"SLACK_BOT_TOKEN": testBotToken, "SLACK_SIGNING_SECRET": testSecret, "SLACK_API_URL": fake.APIURL(),
		"RENEWBOT_LISTEN": "127.0.0.1:0", "RENEWBOT_DB": db, "RENEWBOT_APPROVERS": "U0APPROVER2",
	} {
		env[k] = v
	}
	b := startServe(t, env)
	if strings.Contains(b.Log.String(), "admin socket unavailable") {
		t.Fatalf("no admin socket:\n%s", b.Log.String())
	}
	r := runCLI(t, map[string]string{"RENEWBOT_DB": db}, "", "backup", filepath.Join(t.TempDir(), "b.db"))
	if r.code != exitOK {
		t.Errorf("backup while serve runs: exit %d %s", r.code, r.stderr)
	}
	b.shutdown(t)
	if _, err := os.Lstat(adminSocketPath(db)); !os.IsNotExist(err) {
		t.Errorf("admin socket left behind: %v", err)
	}
}
