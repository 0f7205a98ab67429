package bot_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/renewbot/renewbot/bot"
	"github.com/renewbot/renewbot/bot/bottest"
	"github.com/renewbot/renewbot/store"
	"github.com/slack-go/slack"
)

func TestHTTP_RefusesBadSignatures(t *testing.T) {
	e := newEdgeEnv(t)
	form := bottest.CommandForm(e.command(edgeReq, "i-bp1hz00001 1"))
	body := form.Encode()
	now := time.Now()
	click := bottest.InteractionForm(bottest.BlockAction(edgeApprover, edgeChannel, "1700000000.000001", bot.ActionApprove, "R1", e.fake.ResponseURL()))

	tests := []struct {
		name   string
		path   string
		req    func() *http.Request
		reason string
	}{
		{"wrong secret", "/slack/commands", func() *http.Request {
			return bottest.SignedRequest("not-the-secret", e.srv.URL+"/slack/commands", form, now)
		}, "invalid"},
		{"missing headers", "/slack/commands", func() *http.Request {
			r := bottest.SignedRequest(edgeSecret, e.srv.URL+"/slack/commands", form, now)
			r.Header.Del("X-Slack-Signature")
			r.Header.Del("X-Slack-Request-Timestamp")
			return r
		}, "missing"},
		{"stale (6 minutes old)", "/slack/commands", func() *http.Request {
			return bottest.SignedRequest(edgeSecret, e.srv.URL+"/slack/commands", form, now.Add(-6*time.Minute))
		}, "stale"},
		{"from the future", "/slack/commands", func() *http.Request {
			return bottest.SignedRequest(edgeSecret, e.srv.URL+"/slack/commands", form, now.Add(6*time.Minute))
		}, "stale"},
		{"tampered body", "/slack/commands", func() *http.Request {
			r := bottest.SignedRequest(edgeSecret, e.srv.URL+"/slack/commands", form, now)
			tampered := strings.Replace(body, "UREQ", "UAPPROVER", 1)
			r.Body = http.NoBody
			r2, _ := http.NewRequest(http.MethodPost, r.URL.String(), strings.NewReader(tampered))
			r2.Header = r.Header
			return r2
		}, "invalid"},
		{"garbage signature", "/slack/interactions", func() *http.Request {
			r := bottest.SignedRequest(edgeSecret, e.srv.URL+"/slack/interactions", click, now)
			r.Header.Set("X-Slack-Signature", "v0=zz")
			return r
		}, "invalid"},
		{"click with wrong secret", "/slack/interactions", func() *http.Request {
			return bottest.SignedRequest("not-the-secret", e.srv.URL+"/slack/interactions", click, now)
		}, "invalid"},
		// Checked before any parsing: a body that would not parse is refused as unsigned, not as bad input.
		{"unsigned garbage", "/slack/interactions", func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/slack/interactions", strings.NewReader("payload=%zz{"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, "missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := metricValue(t, e.reg, "renewbot_slack_signature_failures_total", "reason", tt.reason)
			if status, _ := e.do(t, tt.req()); status != http.StatusUnauthorized {
				t.Errorf("status %d, want 401", status)
			}
			if after := metricValue(t, e.reg, "renewbot_slack_signature_failures_total", "reason", tt.reason); after != before+1 {
				t.Errorf("signature failures{reason=%q} went %v → %v", tt.reason, before, after)
			}
		})
	}
	e.drain(t)
	if calls := e.fake.Calls(); len(calls) != 0 {
		t.Errorf("refused requests called Slack: %+v", calls)
	}
	if rs, _ := e.db.ListRequests(); len(rs) != 0 {
		t.Errorf("refused requests stored %d requests", len(rs))
	}
	if evs, _ := e.db.History(store.HistoryQuery{}); len(evs) != 0 {
		t.Errorf("refused requests wrote the audit log: %+v", evs)
	}
	if n := len(e.sim.Calls()); n != 0 {
		t.Errorf("refused requests called ECS: %v", e.sim.Calls())
	}
	e.assertNoSecrets(t)
}

func TestHTTP_ReplayedRequestHasNoEffect(t *testing.T) {
	e := newEdgeEnv(t)
	form := bottest.CommandForm(e.command(edgeReq, "i-bp1hz00001 1"))
	at := time.Now()
	status, first := e.do(t, bottest.SignedRequest(edgeSecret, e.srv.URL+"/slack/commands", form, at))
	if status != http.StatusOK {
		t.Fatalf("first: %d", status)
	}
	// The replay gets the same immediate answer (it is computed from the text alone), and nothing else.
	status, body := e.do(t, bottest.SignedRequest(edgeSecret, e.srv.URL+"/slack/commands", form, at))
	if status != http.StatusOK || body != first {
		t.Errorf("replay: %d %q, want 200 and the first answer %q", status, body, first)
	}
	e.drain(t)
	if n := len(e.fake.CallsOf("response_url")); n != 1 {
		t.Errorf("%d answers, want 1: the replay had an effect", n)
	}
	if rs, _ := e.db.ListRequests(); len(rs) != 1 {
		t.Errorf("%d requests, want 1", len(rs))
	}
	if got := metricValue(t, e.reg, "renewbot_slack_signature_failures_total", "reason", "replay"); got != 1 {
		t.Errorf("replays counted %v", got)
	}
}

func TestHTTP_OversizeBody(t *testing.T) {
	e := newEdgeEnv(t)
	c := e.command(edgeReq, strings.Repeat("x", 600<<10))
	status, _ := e.post(t, "/slack/commands", bottest.CommandForm(c))
	if status != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d, want 413", status)
	}
	if got := metricValue(t, e.reg, "renewbot_slack_signature_failures_total", "reason", "too_large"); got != 1 {
		t.Errorf("too_large counted %v", got)
	}
	e.drain(t)
	if calls := e.fake.Calls(); len(calls) != 0 {
		t.Errorf("oversize request called Slack: %d calls", len(calls))
	}
}

func TestHTTP_WrongMethodAndPath(t *testing.T) {
	e := newEdgeEnv(t)
	resp, err := e.srv.Client().Get(e.srv.URL + "/slack/commands")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /slack/commands: %d, want 405", resp.StatusCode)
	}
	if status, _ := e.post(t, "/slack/other", url.Values{}); status != http.StatusNotFound {
		t.Errorf("POST /slack/other: %d, want 404", status)
	}
}

func TestHTTP_SSLCheck(t *testing.T) {
	e := newEdgeEnv(t)
	status, body := e.post(t, "/slack/commands", url.Values{"ssl_check": {"1"}, "token": {"x"}})
	if status != http.StatusOK || body != "" {
		t.Errorf("ssl_check: %d %q, want 200 and no body", status, body)
	}
}

func TestHTTP_ImmediateAnswers(t *testing.T) {
	e := newEdgeEnv(t)
	help := e.ack(t, edgeReq, "help")
	if !strings.Contains(help.Text+blocksText(t, help.Blocks), "autorenew") {
		t.Errorf("help ack %q lacks the usage", help.Text)
	}
	bad := e.ack(t, edgeReq, "renew-everything now")
	if !strings.Contains(bad.Text, "Usage") {
		t.Errorf("bad syntax ack %q lacks the usage", bad.Text)
	}
	e.drain(t)
	if calls := e.fake.Calls(); len(calls) != 0 {
		t.Errorf("immediate answers made %d Slack calls", len(calls))
	}
	if rs, _ := e.db.ListRequests(); len(rs) != 0 {
		t.Errorf("help and bad syntax stored requests: %d", len(rs))
	}
}

// blocksText is the JSON of blocks, for substring checks.
func blocksText(tb testing.TB, b slack.Blocks) string {
	tb.Helper()
	raw, err := json.Marshal(b)
	if err != nil {
		tb.Fatal(err)
	}
	return string(raw)
}

func TestHTTP_SlowCommandsAnswerThroughResponseURL(t *testing.T) {
	e := newEdgeEnv(t)
	ctx := edgeCtx(t)
	tests := []struct {
		text, ack, later string
	}{
		{"status i-bp1hz00001", "Looking up", "i-bp1hz00001"},
		{"list 30d", "expiring", "i-bp1hz00002"},
		{"i-bp1nosuch01 1", "price quote", "i-bp1nosuch01"},
		{"history i-bp1hz00001", "audit", ""},
	}
	for i, tt := range tests {
		ack := e.ack(t, edgeReq, tt.text)
		if !strings.Contains(ack.Text, tt.ack) {
			t.Errorf("%q: ack %q, want it to mention %q", tt.text, ack.Text, tt.ack)
		}
		calls, err := e.fake.Wait(ctx, "response_url", i+1)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(calls[i].JSON); !strings.Contains(got, tt.later) || !strings.Contains(got, `"response_type":"ephemeral"`) {
			t.Errorf("%q: later answer %s, want an ephemeral naming %q", tt.text, got, tt.later)
		}
	}
	if rs, _ := e.db.ListRequests(); len(rs) != 0 {
		t.Errorf("an unknown instance left %d requests behind", len(rs))
	}
}

func TestHTTP_Reject(t *testing.T) {
	e := newEdgeEnv(t)
	ctx := edgeCtx(t)
	r, _ := e.openRequest(t, ctx, "i-bp1hz00002 1")
	id := string(r.ID)
	// Someone who is not an approver: refused.
	e.click(t, edgeStranger, r.Message.TS, bot.ActionReject, id)
	if text := e.responseText(t, ctx, 2); !strings.Contains(text, "approver") {
		t.Errorf("stranger's reject answered %q", text)
	}
	e.click(t, edgeApprover, r.Message.TS, bot.ActionReject, id)
	v, err := e.fake.WaitView(ctx, "views.open", 1) // the reason modal (modal_test.go)
	if err != nil {
		t.Fatal(err)
	}
	e.viewPost(t, "/slack/interactions", bottest.ViewSubmission(edgeApprover, v, nil))
	e.drain(t)
	got, _ := e.db.GetRequest(store.RequestID(id))
	if got.State != store.StateRejected {
		t.Fatalf("state %s, want rejected", got.State)
	}
	msg, _ := e.fake.Message(edgeChannel, r.Message.TS)
	if b := buttons(t, msg.Get("blocks")); len(b) != 0 {
		t.Errorf("rejected message still has buttons %v", b)
	}
	if len(e.sim.Orders()) != 0 {
		t.Error("a rejected request was paid for")
	}
}

func TestHTTP_PostFailureWithdrawsRequest(t *testing.T) {
	e := newEdgeEnv(t)
	ctx := edgeCtx(t)
	e.fake.ErrorNext("chat.postMessage", "not_in_channel")
	e.ack(t, edgeReq, "i-bp1hz00001 1")
	if text := e.responseText(t, ctx, 1); !strings.Contains(text, "withdrew") {
		t.Errorf("answer %q, want it to say the request was withdrawn", text)
	}
	rs, _ := e.db.ListRequests()
	if len(rs) != 1 || rs[0].State != store.StateCancelled {
		t.Fatalf("requests %+v, want one cancelled", rs)
	}
	if got := metricValue(t, e.reg, "renewbot_slack_api_errors_total", "method", "chat.postMessage", "error", "not_in_channel"); got != 1 {
		t.Errorf("slack errors counted %v", got)
	}
	// The instance is free again.
	e.ack(t, edgeReq, "i-bp1hz00001 1")
	if _, err := e.fake.Wait(ctx, "chat.postMessage", 2); err != nil {
		t.Fatal(err)
	}
}

func TestHTTP_ApprovalPostWaitsOutRateLimit(t *testing.T) {
	e := newEdgeEnv(t)
	ctx := edgeCtx(t)
	e.fake.FailNext("chat.postMessage", http.StatusTooManyRequests, 0) // Retry-After: 0
	r, ts := e.openRequest(t, ctx, "i-bp1hz00001 1")
	if r.State != store.StatePending || ts == "" {
		t.Errorf("request %+v after a 429, want pending with its message", r)
	}
	if n := len(e.fake.CallsOf("chat.postMessage")); n != 2 {
		t.Errorf("%d chat.postMessage calls, want 2 (429, then the retry)", n)
	}
	if got := metricValue(t, e.reg, "renewbot_slack_rate_limited_total", "method", "chat.postMessage"); got != 1 {
		t.Errorf("rate limits counted %v", got)
	}
}

func TestHTTP_DigestMenus(t *testing.T) {
	e := newEdgeEnv(t)
	ctx := edgeCtx(t)
	const digestCh = "CDIGEST"
	snooze := bottest.BlockAction(edgeApprover, digestCh, "1700000000.000009", bot.ActionDigestSnooze, "i-bp1hz00002:7", e.fake.ResponseURL())
	if status, _ := e.post(t, "/slack/interactions", bottest.InteractionForm(snooze)); status != http.StatusOK {
		t.Fatalf("snooze click: %d", status)
	}
	if text := e.responseText(t, ctx, 1); !strings.Contains(text, "i-bp1hz00002") {
		t.Errorf("snooze answer %q", text)
	}
	renew := bottest.BlockAction(edgeApprover, digestCh, "1700000000.000009", bot.ActionDigestRenew, "i-bp1hz00001:3", e.fake.ResponseURL())
	if status, _ := e.post(t, "/slack/interactions", bottest.InteractionForm(renew)); status != http.StatusOK {
		t.Fatalf("renew click: %d", status)
	}
	bad := bottest.BlockAction(edgeApprover, digestCh, "1700000000.000009", bot.ActionDigestRenew, "i-bp1hz00001:x", e.fake.ResponseURL())
	if status, _ := e.post(t, "/slack/interactions", bottest.InteractionForm(bad)); status != http.StatusOK {
		t.Fatalf("bad click: %d", status)
	}
	e.drain(t)

	snoozed, err := e.db.Snoozed(edgeStart)
	if err != nil || snoozed["i-bp1hz00002"].Until != edgeStart.Add(7*24*time.Hour) {
		t.Errorf("snoozed %+v, %v", snoozed, err)
	}
	posts := e.fake.CallsOf("chat.postMessage")
	if len(posts) != 1 || posts[0].Form.Get("channel") != digestCh {
		t.Fatalf("approval posts %+v, want one in %s", posts, digestCh)
	}
	rs, _ := e.db.ListRequests()
	if len(rs) != 1 || rs[0].Requester != edgeApprover || rs[0].Months != 3 {
		t.Fatalf("requests %+v, want one by the clicker for 3 months", rs)
	}
}

func TestHTTP_AutoRenewFlow(t *testing.T) {
	e := newEdgeEnv(t)
	ctx := edgeCtx(t)
	r, _ := e.openRequest(t, ctx, "autorenew i-bp1hz00002 on 3")
	id := string(r.ID)
	if r.Kind != store.KindAutoRenew || r.AutoRenew != store.AutoRenewOn || r.Duration != 3 {
		t.Fatalf("request %+v", r)
	}
	e.click(t, edgeApprover, r.Message.TS, bot.ActionApprove, id)
	e.drain(t)
	if got, _ := e.db.GetRequest(store.RequestID(id)); got.State != store.StateDone {
		t.Errorf("state %s, want done", got.State)
	}
	if in, ok := e.sim.Instance("i-bp1hz00002"); !ok || in.RenewalStatus != "AutoRenewal" || in.Duration != 3 {
		t.Errorf("instance %+v: auto-renew not switched on for 3 months", in)
	}
	if len(e.sim.Orders()) != 0 {
		t.Error("an auto-renew change placed an order")
	}
}
