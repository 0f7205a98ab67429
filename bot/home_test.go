package bot_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/renewbot/renewbot/bot"
	"github.com/renewbot/renewbot/bot/bottest"
	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/ecs/ecssim"
	"github.com/renewbot/renewbot/store"
	"github.com/slack-go/slack"
)

// event posts a signed Events API request and returns the status and body.
func (e *edgeEnv) event(tb testing.TB, body map[string]any, retry int) (int, string) {
	tb.Helper()
	return e.do(tb, bottest.SignedEvent(edgeSecret, e.srv.URL+"/slack/events", body, time.Now(), retry))
}

// viewPost posts a signed interaction payload on a view to path and returns status and body.
func (e *edgeEnv) viewPost(tb testing.TB, path string, payload map[string]any) (int, string) {
	tb.Helper()
	return e.do(tb, bottest.SignedPayload(edgeSecret, e.srv.URL+path, payload, time.Now()))
}

// homeText is the text of every block of a published Home tab, as JSON.
func homeText(tb testing.TB, c bottest.Call) string {
	tb.Helper()
	var req struct {
		UserID string          `json:"user_id"`
		View   json.RawMessage `json:"view"`
	}
	if err := json.Unmarshal(c.JSON, &req); err != nil {
		tb.Fatalf("views.publish body %s: %v", c.JSON, err)
	}
	var v slack.View
	if err := json.Unmarshal(req.View, &v); err != nil {
		tb.Fatalf("home view %s: %v", req.View, err)
	}
	if err := bot.CheckViewLimits(v.Blocks.BlockSet); err != nil {
		tb.Errorf("home view of %s breaks Slack's limits: %v", req.UserID, err)
	}
	return req.UserID + "\n" + string(req.View)
}

func TestEvents_URLVerification(t *testing.T) {
	e := newEdgeEnv(t)
	status, body := e.event(t, bottest.URLVerification("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"), 0)
	if status != http.StatusOK || body != `{"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}` {
		t.Errorf("url_verification: %d %q", status, body)
	}
	// Unsigned: refused like every other endpoint.
	req := bottest.SignedEvent("wrong-secret", e.srv.URL+"/slack/events", bottest.URLVerification("x"), time.Now(), 0)
	if status, _ := e.do(t, req); status != http.StatusUnauthorized {
		t.Errorf("event with a bad signature: status %d, want 401", status)
	}
}

// Opening the Home tab publishes it: what waits for the approver, the requester's own
// requests, what expires soon. Slack's retry of the same event publishes nothing more.
func TestHome_HTTP(t *testing.T) {
	e := newEdgeEnv(t)
	ctx := edgeCtx(t)
	r, _ := e.openRequest(t, ctx, "i-bp1hz00002 1")

	status, body := e.event(t, bottest.EventCallback("Ev001", bottest.AppHomeOpened(edgeApprover, "home")), 0)
	if status != http.StatusOK || body != "" {
		t.Fatalf("event: %d %q", status, body)
	}
	calls, err := e.fake.Wait(ctx, "views.publish", 1)
	if err != nil {
		t.Fatal(err)
	}
	got := homeText(t, calls[0])
	for _, want := range []string{edgeApprover + "\n", "Waiting for your approval (1)", string(r.ID), `"action_id":"approve"`,
		"Expiring soon", "i-bp1hz00001", "i-bp1hz00002", "Request a renewal"} {
		if !strings.Contains(got, want) {
			t.Errorf("approver's home lacks %q:\n%s", want, got)
		}
	}
	if i, j := strings.Index(got, "i-bp1hz00001"), strings.LastIndex(got, "i-bp1hz00002"); i < 0 || j < i {
		t.Errorf("expiring soon is not most urgent first")
	}
	// Slack retries (new signature, same event_id) and the messages tab: no publish.
	e.event(t, bottest.EventCallback("Ev001", bottest.AppHomeOpened(edgeApprover, "home")), 1)
	e.event(t, bottest.EventCallback("Ev002", bottest.AppHomeOpened(edgeApprover, "messages")), 0)

	// The requester sees the request under "Your requests", with nothing to approve.
	e.event(t, bottest.EventCallback("Ev003", bottest.AppHomeOpened(edgeReq, "home")), 0)
	c, err := e.fake.WaitFor(ctx, "views.publish", 1, func(c bottest.Call) bool { return strings.HasPrefix(homeText(t, c), edgeReq+"\n") })
	if err != nil {
		t.Fatal(err)
	}
	mine := homeText(t, c)
	if !strings.Contains(mine, "Waiting for your approval (0)") || !strings.Contains(mine, "waiting for approval (0 of 1)") {
		t.Errorf("requester's home:\n%s", mine)
	}
	e.drain(t)
	if n := len(e.fake.CallsOf("views.publish")); n != 2 {
		t.Errorf("%d views.publish calls, want 2 (the retry and the messages tab publish nothing)", n)
	}
}

// A state change refreshes the Home tab of those it concerns who opened it; the approved
// and done request then shows its order and verified expiry to the requester.
func TestHome_RefreshedOnChange(t *testing.T) {
	e := newEdgeEnv(t)
	ctx := edgeCtx(t)
	e.event(t, bottest.EventCallback("Ev010", bottest.AppHomeOpened(edgeReq, "home")), 0)
	e.event(t, bottest.EventCallback("Ev011", bottest.AppHomeOpened(edgeApprover, "home")), 0)
	if _, err := e.fake.Wait(ctx, "views.publish", 2); err != nil {
		t.Fatal(err)
	}
	r, ts := e.openRequest(t, ctx, "i-bp1hz00001 1")
	// The approver's tab shows the request waiting, once it exists.
	if _, err := e.fake.WaitFor(ctx, "views.publish", 2, func(c bottest.Call) bool {
		h := homeText(t, c)
		return strings.HasPrefix(h, edgeApprover+"\n") && strings.Contains(h, "Waiting for your approval (1)")
	}); err != nil {
		t.Fatal(err)
	}
	e.click(t, edgeApprover, ts, bot.ActionApprove, string(r.ID))
	// The requester's tab ends showing the order and the verified expiry.
	if _, err := e.fake.WaitFor(ctx, "views.publish", 2, func(c bottest.Call) bool {
		h := homeText(t, c)
		return strings.HasPrefix(h, edgeReq+"\n") && strings.Contains(h, "verified expiry")
	}); err != nil {
		t.Fatal(err)
	}
	got, _ := e.db.GetRequest(r.ID)
	if got.State != store.StateDone {
		t.Fatalf("state %s, want done", got.State)
	}
	home, _ := e.fake.HomeView(edgeReq)
	if js, _ := json.Marshal(home); !strings.Contains(string(js), got.Items[0].OrderID) {
		t.Errorf("requester's refreshed home lacks the order %s:\n%s", got.Items[0].OrderID, js)
	}
	if _, err := e.fake.WaitFor(ctx, "views.publish", 2, func(c bottest.Call) bool {
		h := homeText(t, c)
		return strings.HasPrefix(h, edgeApprover+"\n") && strings.Contains(h, "Waiting for your approval (0)")
	}); err != nil {
		t.Errorf("approver's home not refreshed after the decision: %v", err)
	}
	// Publishes are paced (Slack's Tier 4): never two within 700 ms.
	calls := e.fake.CallsOf("views.publish")
	for i := 1; i < len(calls); i++ {
		if d := calls[i].At.Sub(calls[i-1].At); d < 700*time.Millisecond {
			t.Errorf("views.publish %d came %s after the one before", i, d)
		}
	}
}

// Over Socket Mode the event arrives in an events_api envelope: acked, published once.
func TestHome_SocketMode(t *testing.T) {
	e := newEdgeEnv(t)
	ctx := edgeCtx(t)
	e.runSocket(t)
	env := e.fake.PushEvent("Ev100", bottest.AppHomeOpened(edgeApprover, "home"))
	if _, err := e.fake.WaitAck(ctx, env); err != nil {
		t.Fatal(err)
	}
	calls, err := e.fake.Wait(ctx, "views.publish", 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := homeText(t, calls[0]); !strings.Contains(got, "Expiring soon") {
		t.Errorf("home over Socket Mode:\n%s", got)
	}
	again := e.fake.PushEvent("Ev100", bottest.AppHomeOpened(edgeApprover, "home")) // a new envelope, the same event
	if _, err := e.fake.WaitAck(ctx, again); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	if n := len(e.fake.CallsOf("views.publish")); n != 1 {
		t.Errorf("%d publishes, want 1", n)
	}
}

// A first scan that takes long (many regions) does not hold the Home tab back: it is
// published after 5 seconds saying ECS is being read, and again when the scan is done.
func TestHome_PublishedBeforeASlowFirstScan(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	e := newEdgeEnv(t, func(o *ecssim.Options) {
		o.Hook = func(action string, _ url.Values) {
			if action == "DescribeInstances" {
				<-release
			}
		}
	})
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	ctx := edgeCtx(t)
	e.event(t, bottest.EventCallback("Ev300", bottest.AppHomeOpened(edgeReq, "home")), 0)
	calls, err := e.fake.Wait(ctx, "views.publish", 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := homeText(t, calls[0]); !strings.Contains(got, "Reading ECS") {
		t.Errorf("first publish:\n%s", got)
	}
	once.Do(func() { close(release) })
	calls, err = e.fake.Wait(ctx, "views.publish", 2)
	if err != nil {
		t.Fatal(err)
	}
	if got := homeText(t, calls[1]); !strings.Contains(got, "i-bp1hz00001") || strings.Contains(got, "Reading ECS") {
		t.Errorf("publish after the scan:\n%s", got)
	}
}

// fixedForecast is a Forecaster over fixed inputs.
type fixedForecast renewal.ForecastInput

func (f fixedForecast) Forecast(_ context.Context, now time.Time) ([]renewal.AccountForecast, error) {
	in := renewal.ForecastInput(f)
	in.Now = now
	return renewal.Forecast(in), nil
}

// With accounts, the Home tab's "Expiring soon" carries each account's balance warning.
func TestHome_BalanceWarningPerAccount(t *testing.T) {
	e := newEdgeEnv(t)
	ctx := edgeCtx(t)
	cloud, err := ecs.New(ecs.Config{Regions: []string{"cn-hangzhou"}, Endpoint: e.sim.URL, AccessKeyID: "testid", AccessKeySecret: "testsecret"})
	if err != nil {
		t.Fatal(err)
	}
	risky := ecs.Instance{Account: "shop", ID: "i-risk01", Name: "db", RegionID: "cn-hangzhou", ExpiredTime: edgeStart.Add(10 * 24 * time.Hour),
		AutoRenew: ecs.AutoRenew{Status: ecs.AutoRenewal, Duration: 1, PeriodUnit: "Month"}}
	fc := fixedForecast{Window: 30 * 24 * time.Hour, Horizon: 3 * 24 * time.Hour, Accounts: []string{"prod", "shop"},
		Instances: []ecs.Instance{risky},
		Balances:  map[string]ecs.Balance{"prod": {Available: 5000, Currency: "CNY"}, "shop": {Available: 50, Currency: "CNY"}},
		Prices:    map[renewal.PriceKey]ecs.Quote{{Account: "shop", InstanceID: "i-risk01", Months: 1}: {Trade: 200, Currency: "CNY"}}}
	app, err := bot.NewApp(bot.AppConfig{Workflow: e.wf, Cloud: cloud, Store: e.db, Slack: e.api, Now: e.clock.Now,
		Log: slog.New(slog.NewTextHandler(e.log, nil)), Forecast: fc})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app.Handler(edgeSecret))
	defer srv.Close()
	defer func() { _ = app.Shutdown(context.Background()) }()
	resp, err := srv.Client().Do(bottest.SignedEvent(edgeSecret, srv.URL+"/slack/events", bottest.EventCallback("Ev400", bottest.AppHomeOpened(edgeReq, "home")), time.Now(), 0))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	calls, err := e.fake.Wait(ctx, "views.publish", 1)
	if err != nil {
		t.Fatal(err)
	}
	got := homeText(t, calls[0])
	for _, want := range []string{"Balance forecast", "*prod*: balance", "AUTO-RENEW AT RISK", "account shop", "i-risk01"} {
		if !strings.Contains(got, want) {
			t.Errorf("home lacks %q:\n%s", want, got)
		}
	}
	if i, j := strings.Index(got, "Expiring soon"), strings.Index(got, "Balance forecast"); i < 0 || j < i {
		t.Error("the balance forecast is not under Expiring soon")
	}
}
