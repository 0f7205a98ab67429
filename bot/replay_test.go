package bot_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/renewbot/renewbot/bot"
	"github.com/renewbot/renewbot/bot/bottest"
	"github.com/slack-go/slack/socketmode"
)

// restartApp stands in for a restart of the bot on the same store: the app is shut down (its
// work drained) and a new one, with nothing in memory, takes its place and its HTTP server.
func (e *edgeEnv) restartApp(t *testing.T) {
	t.Helper()
	e.drain(t)
	app, err := bot.NewApp(bot.AppConfig{Workflow: e.wf, Cloud: cloudOf(t, e), Store: e.db, Slack: e.api, Now: e.clock.Now,
		Metrics: e.metrics, Log: slog.New(slog.NewTextHandler(e.log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	e.app = app
	e.srv = httptest.NewServer(app.Handler(edgeSecret))
	t.Cleanup(e.srv.Close)
}

// The replay check keys on what the signature covers (timestamp and body), not on how the
// signature header spells it: upper-case hex is the same signature to the verifier.
func TestHTTP_ReplayWithUpperCaseSignatureHasNoEffect(t *testing.T) {
	e := newEdgeEnv(t)
	form := bottest.CommandForm(e.command(edgeReq, "i-bp1hz00001 1"))
	at := time.Now()
	if status, _ := e.do(t, bottest.SignedRequest(edgeSecret, e.srv.URL+"/slack/commands", form, at)); status != http.StatusOK {
		t.Fatalf("first: %d", status)
	}
	replay := bottest.SignedRequest(edgeSecret, e.srv.URL+"/slack/commands", form, at)
	sig := replay.Header.Get("X-Slack-Signature")
	replay.Header.Set("X-Slack-Signature", "v0="+strings.ToUpper(strings.TrimPrefix(sig, "v0=")))
	if status, _ := e.do(t, replay); status != http.StatusOK {
		t.Fatalf("replay: %d, want 200 (answered, not acted on)", status)
	}
	e.drain(t)
	if n := len(e.fake.CallsOf("response_url")); n != 1 {
		t.Errorf("%d answers, want 1: the replay had an effect", n)
	}
	if got := metricValue(t, e.reg, "renewbot_slack_signature_failures_total", "reason", "replay"); got != 1 {
		t.Errorf("replays counted %v, want 1", got)
	}
}

// The seen set is in the store: a request replayed after a restart, within Slack's 5
// minutes, is answered and not acted on.
func TestHTTP_ReplayAfterRestartHasNoEffect(t *testing.T) {
	e := newEdgeEnv(t)
	form := bottest.CommandForm(e.command(edgeReq, "i-bp1hz00001 1"))
	at := time.Now()
	if status, _ := e.do(t, bottest.SignedRequest(edgeSecret, e.srv.URL+"/slack/commands", form, at)); status != http.StatusOK {
		t.Fatalf("first: %d", status)
	}
	e.restartApp(t)
	if status, _ := e.do(t, bottest.SignedRequest(edgeSecret, e.srv.URL+"/slack/commands", form, at)); status != http.StatusOK {
		t.Fatalf("replay: %d", status)
	}
	e.drain(t)
	if n := len(e.fake.CallsOf("response_url")); n != 1 {
		t.Errorf("%d answers, want 1: the replay after the restart had an effect", n)
	}
	if rs, _ := e.db.ListRequests(); len(rs) != 1 {
		t.Errorf("%d requests, want 1", len(rs))
	}
}

// runSocketApp runs the app's Socket Mode client against the fake until stop is called.
func (e *edgeEnv) runSocketApp(t *testing.T) (stop func()) {
	t.Helper()
	e.fake.SetPingInterval(20 * time.Millisecond)
	sm := socketmode.New(e.api, socketmode.OptionPingInterval(10*time.Second))
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	app := e.app
	go func() { errc <- app.RunSocketMode(ctx, sm) }()
	return func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("RunSocketMode: %v", err)
		}
	}
}

// An envelope Slack delivers again after the bot restarted (the first ack was lost with the
// connection) is acknowledged and not acted on a second time.
func TestSocketMode_RedeliveryAfterRestartHasNoEffect(t *testing.T) {
	e := newEdgeEnv(t)
	ctx := edgeCtx(t)
	stop := e.runSocketApp(t)
	env := e.fake.PushEnvelope("slash_commands", e.command(edgeReq, "i-bp1hz00001 1"))
	if _, err := e.fake.WaitAck(ctx, env); err != nil {
		t.Fatal(err)
	}
	stop()
	e.restartApp(t)
	stop = e.runSocketApp(t)
	defer stop()
	if err := e.fake.Redeliver(env); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fake.Wait(ctx, "socket.ack", 2); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	if n := len(e.fake.CallsOf("response_url")); n != 1 {
		t.Errorf("%d answers, want 1: the redelivered envelope was acted on after the restart", n)
	}
	if rs, _ := e.db.ListRequests(); len(rs) != 1 {
		t.Errorf("%d requests, want 1", len(rs))
	}
}
