package bot_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/renewbot/renewbot/bot"
	"github.com/renewbot/renewbot/bot/bottest"
	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/ecs/ecssim"
	"github.com/renewbot/renewbot/store"
	"github.com/slack-go/slack"
)

const (
	edgeSecret   = "test-signing-secret"
	edgeChannel  = "CRENEW"
	edgeReq      = "UREQ"      // asks for renewals
	edgeApprover = "UAPPROVER" // approver by user ID
	edgeGroupie  = "UGROUPIE"  // approver through the user group SAPPROVERS
	edgeStranger = "USTRANGER" // nobody
)

// edgeStart is where the business clock of the edge tests starts.
var edgeStart = time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)

// edgeEnv is the whole bot edge on real parts: the app's HTTP handler on loopback, the real
// workflow on a bbolt file, the real ECS client against ecssim, and slack-go against FakeSlack.
type edgeEnv struct {
	fake    *bottest.FakeSlack
	api     *slack.Client
	sim     *ecssim.Server
	db      *store.DB
	wf      *renewal.Workflow
	notes   *bot.SlackNotifier
	homes   *bot.AppNotifier
	app     *bot.App
	srv     *httptest.Server
	reg     *prometheus.Registry
	metrics *bot.Metrics
	log     edgeLogWriter
	clock   *ecssim.Clock // shared by the store, ecssim, the workflow and the app
}

func edgeFleet() ecssim.Fleet {
	day := func(d int) time.Time { return time.Date(2026, 11, 25+d, 16, 0, 0, 0, time.UTC) }
	now := edgeStart
	return ecssim.Fleet{
		Now: &now, Balance: 1e6, Currency: "CNY",
		Instances: []ecssim.FleetInstance{
			{InstanceId: "i-bp1hz00001", InstanceName: "web-1", RegionId: "cn-hangzhou", InstanceChargeType: "PrePaid", ExpiredTime: day(5), RenewalStatus: "Normal", MonthlyPrice: 100},
			{InstanceId: "i-bp1hz00002", InstanceName: "web-2", RegionId: "cn-hangzhou", InstanceChargeType: "PrePaid", ExpiredTime: day(10), RenewalStatus: "Normal", MonthlyPrice: 250},
		},
	}
}

func newEdgeEnv(tb testing.TB, simOpts ...func(*ecssim.Options)) *edgeEnv {
	tb.Helper()
	e := &edgeEnv{fake: bottest.NewFakeSlack(), reg: prometheus.NewRegistry(),
		log: edgeLogWriter{tb: tb, mu: &sync.Mutex{}, buf: &strings.Builder{}}, clock: ecssim.NewClock(edgeStart)}
	tb.Cleanup(e.fake.Close)
	tb.Cleanup(func() { e.assertMessagesFit(tb) }) // runs after the drain below
	edgeNow := e.clock.Now
	e.metrics = bot.NewMetrics(e.reg)
	e.fake.SetGroup("SAPPROVERS", edgeGroupie)
	e.api = slack.New("xoxb-test-token", slack.OptionAPIURL(e.fake.APIURL()), slack.OptionAppLevelToken("xapp-test-token"))

	so := ecssim.Options{Fleet: edgeFleet(), RenewDelay: -1, Now: edgeNow}
	for _, o := range simOpts {
		o(&so)
	}
	e.sim = ecssim.NewServer(so)
	tb.Cleanup(e.sim.Close)
	db, err := store.Open(filepath.Join(tb.TempDir(), "renewbot.db"), store.Options{Now: edgeNow})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	e.db = db
	cloud, err := ecs.New(ecs.Config{
		Regions: []string{"cn-hangzhou"}, Endpoint: e.sim.URL, AccessKeyID: "testid", AccessKeySecret: "testsecret",
		Retry: ecs.RetryPolicy{Attempts: 3}, Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() },
		// The edge's tests and BenchmarkAckLatency are about Slack handling, not ECS pacing
		// (ecs tests that): at the default 20 calls/s the benchmark's 100 concurrent commands
		// took longer to drain than the benchmark allows.
		RateLimit: ecs.RateLimit{PerSecond: 10000},
	})
	if err != nil {
		tb.Fatal(err)
	}
	e.notes = bot.NewSlackNotifier(e.api, edgeNow, nil).WithMetrics(e.metrics)
	e.homes = &bot.AppNotifier{}
	e.wf, err = renewal.NewWorkflow(renewal.WorkflowConfig{
		Cloud: cloud, Store: db, Now: edgeNow, Counter: e.metrics, Log: slog.New(slog.NewTextHandler(e.log, nil)),
		Members:  bot.NewSlackMembers(e.api, time.Minute),
		Notifier: bot.Notifiers{e.notes, e.homes},
		Poster:   e.notes,
		Policy:   renewal.Policy{Approvers: []string{edgeApprover, "SAPPROVERS"}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	e.app, err = bot.NewApp(bot.AppConfig{Workflow: e.wf, Cloud: cloud, Store: db, Slack: e.api, Now: edgeNow,
		Metrics: e.metrics, Log: slog.New(slog.NewTextHandler(e.log, nil)), Changes: e.homes})
	if err != nil {
		tb.Fatal(err)
	}
	e.srv = httptest.NewServer(e.app.Handler(edgeSecret))
	tb.Cleanup(e.srv.Close)
	tb.Cleanup(func() { e.drain(tb) })
	return e
}

// assertMessagesFit checks every message the app sent to Slack against Slack's limits.
func (e *edgeEnv) assertMessagesFit(tb testing.TB) {
	tb.Helper()
	for _, c := range e.fake.Calls() {
		var text string
		var blocks slack.Blocks
		switch c.Method {
		case "chat.postMessage", "chat.update", "chat.postEphemeral":
			text = c.Form.Get("text")
			if raw := c.Form.Get("blocks"); raw != "" {
				if err := json.Unmarshal([]byte(raw), &blocks); err != nil {
					tb.Errorf("%s blocks: %v", c.Method, err)
					continue
				}
			}
		case "response_url":
			var m slack.Msg
			if err := json.Unmarshal(c.JSON, &m); err != nil {
				tb.Errorf("response_url body: %v", err)
				continue
			}
			text, blocks = m.Text, m.Blocks
		default:
			continue
		}
		if err := bot.CheckLimits(text, blocks.BlockSet); err != nil {
			tb.Errorf("%s breaks Slack's limits: %v", c.Method, err)
		}
	}
}

// edgeLogWriter sends the app's log to the test log and keeps a copy.
type edgeLogWriter struct {
	tb  testing.TB
	mu  *sync.Mutex
	buf *strings.Builder
}

func (w edgeLogWriter) Write(p []byte) (int, error) {
	if _, bench := w.tb.(*testing.B); bench {
		return len(p), nil
	}
	w.mu.Lock()
	w.buf.Write(p)
	w.mu.Unlock()
	if _, fuzz := w.tb.(*testing.F); fuzz { // f.Log must not be called while fuzzing
		return len(p), nil
	}
	w.tb.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// assertNoSecrets fails if the app's log so far contains a token or the signing secret.
func (e *edgeEnv) assertNoSecrets(tb testing.TB) {
	tb.Helper()
	e.log.mu.Lock()
	defer e.log.mu.Unlock()
	for _, secret := range []string{edgeSecret, "xoxb-test-token", "xapp-test-token", "testsecret"} {
		if strings.Contains(e.log.buf.String(), secret) {
			tb.Errorf("the log contains the secret %q", secret)
		}
	}
}

// drain waits for all work the app started after its acks.
func (e *edgeEnv) drain(tb testing.TB) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.app.Shutdown(ctx); err != nil {
		tb.Fatalf("Shutdown: %v", err)
	}
	if err := e.notes.Flush(ctx); err != nil {
		tb.Fatalf("notifier: %v", err)
	}
}

func edgeCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// command is the slash command user types in the edge channel.
func (e *edgeEnv) command(user, text string) slack.SlashCommand {
	return slack.SlashCommand{Command: "/renew", Text: text, UserID: user, UserName: strings.ToLower(user),
		ChannelID: edgeChannel, ChannelName: "renewals", TeamID: "T0FAKE", ResponseURL: e.fake.ResponseURL(), TriggerID: "trig"}
}

// post sends a signed form to path and returns the status and body.
func (e *edgeEnv) post(tb testing.TB, path string, form url.Values) (int, string) {
	tb.Helper()
	return e.do(tb, bottest.SignedRequest(edgeSecret, e.srv.URL+path, form, time.Now()))
}

func (e *edgeEnv) do(tb testing.TB, req *http.Request) (int, string) {
	tb.Helper()
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// ack sends a slash command and decodes its immediate answer.
func (e *edgeEnv) ack(tb testing.TB, user, text string) slack.Msg {
	tb.Helper()
	status, body := e.post(tb, "/slack/commands", bottest.CommandForm(e.command(user, text)))
	if status != http.StatusOK {
		tb.Fatalf("command %q: status %d, body %q", text, status, body)
	}
	var m slack.Msg
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		tb.Fatalf("command %q: ack %q: %v", text, body, err)
	}
	if m.ResponseType != slack.ResponseTypeEphemeral {
		tb.Errorf("command %q: ack response_type %q, want ephemeral", text, m.ResponseType)
	}
	return m
}

// click posts a block_actions click on the message ts.
func (e *edgeEnv) click(tb testing.TB, user, ts, actionID, value string) {
	tb.Helper()
	ic := bottest.BlockAction(user, edgeChannel, ts, actionID, value, e.fake.ResponseURL())
	if status, body := e.post(tb, "/slack/interactions", bottest.InteractionForm(ic)); status != http.StatusOK || body != "" {
		tb.Fatalf("click %s: status %d, body %q", actionID, status, body)
	}
}

// responseText is the text of the nth (1-based) response_url post.
func (e *edgeEnv) responseText(tb testing.TB, ctx context.Context, n int) string {
	tb.Helper()
	calls, err := e.fake.Wait(ctx, "response_url", n)
	if err != nil {
		tb.Fatal(err)
	}
	var m slack.Msg
	if err := json.Unmarshal(calls[n-1].JSON, &m); err != nil {
		tb.Fatal(err)
	}
	if m.ResponseType != slack.ResponseTypeEphemeral {
		tb.Errorf("response_url post %d: response_type %q, want ephemeral", n, m.ResponseType)
	}
	return m.Text
}

// buttons returns action_id → value of the buttons in a blocks form field.
func buttons(tb testing.TB, blocksJSON string) map[string]string {
	tb.Helper()
	var blocks slack.Blocks
	if err := json.Unmarshal([]byte(blocksJSON), &blocks); err != nil {
		tb.Fatalf("blocks %s: %v", blocksJSON, err)
	}
	out := map[string]string{}
	for _, b := range blocks.BlockSet {
		if ab, ok := b.(*slack.ActionBlock); ok && ab.Elements != nil {
			for _, el := range ab.Elements.ElementSet {
				if btn, ok := el.(*slack.ButtonBlockElement); ok {
					out[btn.ActionID] = btn.Value
				}
			}
		}
	}
	return out
}

func TestApp_ApprovalFlow(t *testing.T) {
	e := newEdgeEnv(t)
	ctx := edgeCtx(t)

	ack := e.ack(t, edgeReq, "i-bp1hz00001 3")
	if !strings.Contains(ack.Text, "i-bp1hz00001") {
		t.Errorf("ack %q does not name the instance", ack.Text)
	}
	posts, err := e.fake.Wait(ctx, "chat.postMessage", 1)
	if err != nil {
		t.Fatal(err)
	}
	post := posts[0]
	if post.Form.Get("channel") != edgeChannel {
		t.Errorf("approval message posted to %q, want %q", post.Form.Get("channel"), edgeChannel)
	}
	reqs, err := e.db.ListRequests()
	if err != nil || len(reqs) != 1 {
		t.Fatalf("requests %v, %v; want one", reqs, err)
	}
	id := string(reqs[0].ID)
	if got, want := buttons(t, post.Form.Get("blocks")), map[string]string{"approve": id, "reject": id}; got["approve"] != want["approve"] || got["reject"] != want["reject"] {
		t.Fatalf("buttons %v, want %v", got, want)
	}
	if text := e.responseText(t, ctx, 1); !strings.Contains(text, id) {
		t.Errorf("confirmation %q does not name request %s", text, id)
	}
	r, _ := e.db.GetRequest(store.RequestID(id))
	ts := r.Message.TS
	if r.Message.Channel != edgeChannel || ts == "" {
		t.Fatalf("message ref %+v not attached", r.Message)
	}

	// The requester may not approve: an ephemeral refusal, and nothing changes.
	e.click(t, edgeReq, ts, bot.ActionApprove, id)
	if text := e.responseText(t, ctx, 2); !strings.Contains(text, "someone else") {
		t.Errorf("self-approval answer %q", text)
	}
	if got, _ := e.db.GetRequest(store.RequestID(id)); got.State != store.StatePending || len(got.Approvals) != 0 {
		t.Fatalf("after self-approval: state %s, approvals %v", got.State, got.Approvals)
	}
	if n := len(e.fake.CallsOf("chat.update")); n != 0 {
		t.Errorf("self-approval updated the message %d times", n)
	}

	// A member of the approver group approves, twice in a row (a double click).
	e.click(t, edgeGroupie, ts, bot.ActionApprove, id)
	e.click(t, edgeGroupie, ts, bot.ActionApprove, id)
	e.drain(t)

	orders := e.sim.Orders()
	if len(orders) != 1 {
		t.Fatalf("orders %+v, want exactly one", orders)
	}
	if orders[0].InstanceId != "i-bp1hz00001" || orders[0].Period != 3 {
		t.Errorf("order %+v", orders[0])
	}
	done, _ := e.db.GetRequest(store.RequestID(id))
	if done.State != store.StateDone {
		t.Errorf("request state %s, want done", done.State)
	}
	msg, ok := e.fake.Message(edgeChannel, ts)
	if !ok || !strings.Contains(msg.Get("text")+msg.Get("blocks"), orders[0].OrderId) {
		t.Errorf("approval message does not show order %s: %v", orders[0].OrderId, msg)
	}
	if b := buttons(t, msg.Get("blocks")); len(b) != 0 {
		t.Errorf("finished request still has buttons %v", b)
	}
	// The message went through approved (by whom), renewing, and done with the OrderId and the
	// verified new expiry, in that order.
	var steps []string
	for _, u := range e.fake.CallsOf("chat.update") {
		text := u.Form.Get("text")
		switch {
		case strings.Contains(text, "Approved by <@"+edgeGroupie+">") && strings.Contains(text, "Starting"):
			steps = append(steps, "approved")
		case strings.Contains(text, "Renewing…"):
			steps = append(steps, "renewing")
		case strings.Contains(text, "Done."):
			if b := u.Form.Get("blocks"); !strings.Contains(b, orders[0].OrderId) || !strings.Contains(b, "verified new expiry") {
				t.Errorf("done update lacks the OrderId or the verified expiry: %s", b)
			}
			steps = append(steps, "done")
		}
	}
	if got := strings.Join(steps, " → "); got != "approved → renewing → done" {
		t.Errorf("message updates %s, want approved → renewing → done", got)
	}
	if len(e.fake.CallsOf("usergroups.users.list")) == 0 {
		t.Error("the group approver was not resolved through usergroups.users.list")
	}
	if got := metricValue(t, e.reg, "renewbot_interactions_total", "action", "approve", "outcome", "refused"); got < 1 {
		t.Errorf("refused approvals counted %v", got)
	}
	e.assertNoSecrets(t)
}

// metricValue is the value of the counter or gauge name with the given label pairs.
func metricValue(tb testing.TB, reg *prometheus.Registry, name string, labels ...string) float64 {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue next
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

func TestApp_ShutdownDrainsWorkAfterAcks(t *testing.T) {
	entered := make(chan struct{}, 10)
	release := make(chan struct{})
	e := newEdgeEnv(t, func(o *ecssim.Options) {
		o.Hook = func(action string, _ url.Values) {
			if action == "DescribeInstances" {
				entered <- struct{}{}
				<-release
			}
		}
	})
	ctx := edgeCtx(t)
	e.ack(t, edgeReq, "status i-bp1hz00001")
	<-entered // the lookup runs after the ack, and is now in flight

	done := make(chan error, 1)
	go func() { done <- e.app.Shutdown(ctx) }()
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v with work in flight", err)
	default:
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if n := len(e.fake.CallsOf("response_url")); n != 1 {
		t.Errorf("%d answers after the drain, want 1", n)
	}

	// After Shutdown commands are still acknowledged, but no new work starts.
	e.ack(t, edgeReq, "status i-bp1hz00001")
	e.drain(t)
	if n := len(e.fake.CallsOf("response_url")); n != 1 {
		t.Errorf("%d answers, want 1: work started after Shutdown", n)
	}
}

func TestApp_ShutdownGivesUpAtDeadline(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 10)
	e := newEdgeEnv(t, func(o *ecssim.Options) {
		o.Hook = func(action string, _ url.Values) {
			if action == "DescribeInstances" {
				entered <- struct{}{}
				<-release
			}
		}
	})
	t.Cleanup(func() { close(release) }) // runs before the sim closes
	e.ack(t, edgeReq, "status i-bp1hz00001")
	<-entered
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.app.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown past its deadline: %v, want context.Canceled", err)
	}
	// The work was cancelled, not abandoned: it has finished, answering with the failure.
	calls := e.fake.CallsOf("response_url")
	if len(calls) != 1 || !strings.Contains(string(calls[0].JSON), "interrupted") {
		t.Errorf("answers %+v, want one saying the lookup failed", calls)
	}
}

// openRequest runs "/renew text" as the requester and returns the request and its message ts.
func (e *edgeEnv) openRequest(tb testing.TB, ctx context.Context, text string) (*store.Request, string) {
	tb.Helper()
	n, answers := len(e.fake.CallsOf("chat.postMessage")), len(e.fake.CallsOf("response_url"))
	e.ack(tb, edgeReq, text)
	posts, err := e.fake.Wait(ctx, "chat.postMessage", n+1)
	if err != nil {
		tb.Fatal(err)
	}
	id := buttons(tb, posts[n].Form.Get("blocks"))[bot.ActionApprove]
	e.responseText(tb, ctx, answers+1) // the confirmation comes after the message is attached
	r, err := e.db.GetRequest(store.RequestID(id))
	if err != nil || r.Message.TS == "" {
		tb.Fatalf("request %q: %+v, %v", id, r, err)
	}
	return r, r.Message.TS
}

func TestApp_ExpiredRequestMessageUpdatedBySweep(t *testing.T) {
	e := newEdgeEnv(t)
	ctx := edgeCtx(t)
	r, ts := e.openRequest(t, ctx, "i-bp1hz00001 1")

	e.clock.Advance(25 * time.Hour) // past the 24h deadline
	if n, err := e.wf.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1", n, err)
	}
	if err := e.notes.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	msg, _ := e.fake.Message(edgeChannel, ts)
	if b := buttons(t, msg.Get("blocks")); len(b) != 0 || !strings.Contains(msg.Get("text"), "Expired") {
		t.Errorf("expired message: text %q, buttons %v; want Expired and no buttons", msg.Get("text"), b)
	}
	// A late click is refused in words and changes nothing.
	e.click(t, edgeApprover, ts, bot.ActionApprove, string(r.ID))
	if text := e.responseText(t, ctx, 2); !strings.Contains(text, "expired") {
		t.Errorf("late approval answered %q", text)
	}
	e.drain(t)
	if got, _ := e.db.GetRequest(r.ID); got.State != store.StateExpired || len(e.sim.Orders()) != 0 {
		t.Errorf("after a late click: state %s, %d orders", got.State, len(e.sim.Orders()))
	}
}

func TestApp_FailedRenewalExplainedInTheMessage(t *testing.T) {
	e := newEdgeEnv(t, func(o *ecssim.Options) { o.Fleet.Balance = 1 })
	ctx := edgeCtx(t)
	r, ts := e.openRequest(t, ctx, "i-bp1hz00001 1")
	e.click(t, edgeApprover, ts, bot.ActionApprove, string(r.ID))
	e.drain(t)
	if got, _ := e.db.GetRequest(r.ID); got.State != store.StateFailed {
		t.Fatalf("state %s, want failed", got.State)
	}
	msg, _ := e.fake.Message(edgeChannel, ts)
	if !strings.Contains(msg.Get("text"), "Failed") || !strings.Contains(msg.Get("blocks"), "balance") {
		t.Errorf("failed message does not say why: %q %s", msg.Get("text"), msg.Get("blocks"))
	}
	if b := buttons(t, msg.Get("blocks")); len(b) != 0 {
		t.Errorf("failed request still has buttons %v", b)
	}
}
