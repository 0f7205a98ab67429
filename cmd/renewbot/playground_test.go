package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/renewbot/renewbot/bot/bottest"
)

// TestPlaygroundSignedPath drives the real bot through the playground's API without a
// browser: Alice's command and Carol's and Bob's clicks become signed requests to renewbot's
// own endpoints (or, with the bot in Socket Mode, envelopes on the stand-in's WebSocket), and
// what the bot answers shows on the page for the right person.
func TestPlaygroundSignedPath(t *testing.T) {
	t.Run("http", func(t *testing.T) { testPlaygroundPath(t, false) })
	t.Run("socket", func(t *testing.T) { testPlaygroundPath(t, true) })
}

func testPlaygroundPath(t *testing.T, socket bool) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	st, err := startDemoStack(ctx, env{getenv: func(string) string { return "" }, stdout: &bytes.Buffer{}, stderr: &stderr}, socket)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	h, err := st.playgroundHandler()
	if err != nil {
		t.Fatal(err)
	}
	pg := httptest.NewServer(h)
	defer pg.Close()
	post := func(path string, body any) {
		t.Helper()
		raw, _ := json.Marshal(body)
		resp, err := http.Post(pg.URL+path, "application/json", bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var ans struct{ Status int }
		if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil || resp.StatusCode != 200 || ans.Status != 200 {
			t.Fatalf("POST %s: %d, the bot answered %d (%v)\n%s", path, resp.StatusCode, ans.Status, err, stderr.String())
		}
	}
	ephemeral := func(user, text string) bool {
		resp, err := http.Get(pg.URL + "/state")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var s struct {
			Items []struct{ Kind, User, Text string }
		}
		if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
			t.Fatal(err)
		}
		for _, it := range s.Items {
			if it.Kind == "ephemeral" && it.User == user && strings.Contains(it.Text, text) {
				return true
			}
		}
		return false
	}

	post("/command", map[string]string{"user": demoAlice, "text": "/renew " + demoInstance + " 3"})
	msg, err := st.fake.WaitFor(ctx, "chat.postMessage", 0, func(c bottest.Call) bool {
		return strings.Contains(c.Form.Get("blocks"), `"action_id":"approve"`)
	})
	if err != nil {
		t.Fatal(err)
	}
	reqID, err := approvalRequestID(msg.Form.Get("blocks"))
	if err != nil {
		t.Fatal(err)
	}
	var ts string
	for _, m := range st.fake.Messages() {
		if m.Form.Get("blocks") == msg.Form.Get("blocks") {
			ts = m.TS
		}
	}
	click := func(user string) {
		t.Helper()
		post("/action", map[string]any{"user": user, "channel": demoChannel, "ts": ts, "action": map[string]any{
			"type": "button", "action_id": "approve", "block_id": "approval.actions", "value": reqID,
			"text": map[string]string{"type": "plain_text", "text": "Approve"},
		}})
	}

	click(demoCarol)
	if _, err := st.fake.WaitFor(ctx, "response_url", 0, func(c bottest.Call) bool {
		return strings.Contains(string(c.JSON), "nly renewal approvers")
	}); err != nil {
		t.Fatal(err)
	}
	if !ephemeral(demoCarol, "nly renewal approvers can approve") {
		t.Errorf("Carol's refusal is not her ephemeral")
	}
	if ephemeral(demoBob, "nly renewal approvers") || ephemeral(demoAlice, "nly renewal approvers") {
		t.Errorf("Carol's refusal shows to someone else")
	}
	if n := len(st.sim.Orders()); n != 0 {
		t.Fatalf("%d orders after Carol's click", n)
	}

	click(demoBob)
	if _, err := st.fake.WaitFor(ctx, "chat.update", 0, func(c bottest.Call) bool {
		return strings.Contains(c.Form.Get("blocks"), "verified new expiry")
	}); err != nil {
		t.Fatal(err)
	}
	if orders := st.sim.Orders(); len(orders) != 1 || orders[0].InstanceId != demoInstance || orders[0].Period != 3 {
		t.Fatalf("orders %+v", orders)
	}
	if !ephemeral(demoAlice, "Getting a price quote") {
		t.Errorf("Alice's command ack is not her ephemeral")
	}
}

// TestDemoSocketMode: `demo --socket` runs the transcript with the bot in Socket Mode (an
// app-level token, no signing secret), its commands and clicks as envelopes on the stand-in's
// WebSocket, with the same outcome as over HTTP.
func TestDemoSocketMode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"demo", "--socket"}, func(string) string { return "" }, strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("demo --socket exited %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	for _, want := range []string{
		"(Socket Mode, connected to the stand-in's WebSocket",
		"only Alice sees (acked in ",
		"four-eyes",
		"verified new expiry",
		"1 order(s) in all",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("transcript lacks %q:\n%s", want, out.String())
		}
	}
}

// TestPlaygroundCommand: `renewbot playground` prints exactly one line naming the page first,
// serves it until its context ends, and then exits 0; an address it cannot listen on is a bad
// setting (exit 2), found before anything starts (for demo --keep, before the transcript).
func TestPlaygroundCommand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pr, pw := io.Pipe()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	exited := make(chan int, 1)
	var errOut bytes.Buffer
	go func() {
		exited <- run(runCtx, []string{"playground", "--playground-listen", "127.0.0.1:0"}, func(string) string { return "" }, strings.NewReader(""), pw, &errOut)
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	if !lines.Scan() {
		t.Fatalf("no output; stderr %s", errOut.String())
	}
	first := lines.Text()
	go io.Copy(io.Discard, pr) //nolint:errcheck // the rest of the output
	m := regexp.MustCompile(`^playground: open (http://127\.0\.0\.1:\d+/)$`).FindStringSubmatch(first)
	if m == nil {
		t.Fatalf("first line %q", first)
	}
	resp, err := http.Get(m[1])
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "renewbot playground") {
		t.Fatalf("GET %s: %d %.200s", m[1], resp.StatusCode, page)
	}
	stop()
	if code := <-exited; code != 0 {
		t.Fatalf("playground exited %d; stderr %s", code, errOut.String())
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	errOut.Reset()
	if code := run(ctx, []string{"playground", "--playground-listen", ln.Addr().String()}, func(string) string { return "" }, strings.NewReader(""), io.Discard, &errOut); code != exitUsage {
		t.Fatalf("a taken port: exit %d, want %d; stderr %s", code, exitUsage, errOut.String())
	}
	if !strings.Contains(errOut.String(), "--playground-listen "+ln.Addr().String()) {
		t.Errorf("stderr %q does not name the setting", errOut.String())
	}
	var out bytes.Buffer
	errOut.Reset()
	if code := run(ctx, []string{"demo", "--keep", "--playground-listen", ln.Addr().String()}, func(string) string { return "" }, strings.NewReader(""), &out, &errOut); code != exitUsage {
		t.Fatalf("demo --keep on a taken port: exit %d, want %d; stderr %s", code, exitUsage, errOut.String())
	}
	if out.Len() != 0 {
		t.Errorf("demo --keep ran before finding its port taken:\n%s", out.String())
	}
}
