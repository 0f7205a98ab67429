package bot_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/renewbot/renewbot/bot"
	"github.com/renewbot/renewbot/bot/bottest"
	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/store"
	"github.com/slack-go/slack"
)

// gatedWriter is a ResponseWriter whose first write (status or body) blocks until release is
// closed: an ack that is still being written.
type gatedWriter struct {
	header  http.Header
	release chan struct{}
	mu      sync.Mutex
	status  int
	body    strings.Builder
}

func newGatedWriter() *gatedWriter {
	return &gatedWriter{header: http.Header{}, release: make(chan struct{})}
}

func (w *gatedWriter) Header() http.Header { return w.header }

func (w *gatedWriter) WriteHeader(status int) {
	<-w.release
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.status == 0 {
		w.status = status
	}
}

func (w *gatedWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.body.Write(p)
}

func (w *gatedWriter) Flush() {}

// roundTripFunc is an http.RoundTripper from a function: an in-process response_url target.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// recordedPosts is what an in-process response_url target received.
type recordedPosts struct {
	mu     sync.Mutex
	bodies []string
}

func (p *recordedPosts) n() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.bodies)
}

// target answers every post with status, contentType and body after recording it.
func (p *recordedPosts) target(status int, contentType, body string) *http.Client {
	return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		b, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		p.bodies = append(p.bodies, string(b))
		p.mu.Unlock()
		h := http.Header{}
		if contentType != "" {
			h.Set("Content-Type", contentType)
		}
		return &http.Response{StatusCode: status, Status: http.StatusText(status), Header: h,
			Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
	})}
}

// offlineParts is a workflow, store and ECS client for work that never reaches ECS or the
// Slack Web API.
func offlineParts(t *testing.T) (*renewal.Workflow, *ecs.Client, *store.DB, *slack.Client) {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "renewbot.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cloud, err := ecs.New(ecs.Config{Regions: []string{"cn-hangzhou"}, Endpoint: "http://127.0.0.1:1",
		AccessKeyID: "testid", AccessKeySecret: "testsecret"})
	if err != nil {
		t.Fatal(err)
	}
	api := slack.New("xoxb-test-token", slack.OptionAPIURL("http://127.0.0.1:1/api/"))
	wf, err := renewal.NewWorkflow(renewal.WorkflowConfig{Cloud: cloud, Store: db, Policy: renewal.Policy{Approvers: []string{edgeApprover}}})
	if err != nil {
		t.Fatal(err)
	}
	return wf, cloud, db, api
}

// The work after an ack never starts before the ack is written: a fast answer through
// response_url would otherwise reach Slack before the ack it follows.
func TestHTTP_WorkStartsOnlyAfterTheAckIsWritten(t *testing.T) {
	wf, cloud, db, api := offlineParts(t)
	synctest.Test(t, func(t *testing.T) {
		var posts recordedPosts
		app, err := bot.NewApp(bot.AppConfig{Workflow: wf, Cloud: cloud, Store: db, Slack: api,
			HTTPClient: posts.target(http.StatusOK, "text/plain", "ok")})
		if err != nil {
			t.Fatal(err)
		}
		h := app.Handler(edgeSecret)
		const respURL = "https://hooks.slack.test/commands/T0/1/x"
		requests := []struct {
			name, path string
			form       url.Values
		}{
			{"command", "/slack/commands", bottest.CommandForm(slack.SlashCommand{Command: "/renew", Text: "history",
				UserID: edgeReq, ChannelID: edgeChannel, ResponseURL: respURL})},
			{"click", "/slack/interactions", bottest.InteractionForm(bottest.BlockAction(edgeReq, edgeChannel, "1.1",
				bot.ActionDigestSnooze, "i-bp1hz00001:7", respURL))},
		}
		for i, tc := range requests {
			w := newGatedWriter()
			go h.ServeHTTP(w, bottest.SignedRequest(edgeSecret, "http://bot"+tc.path, tc.form, time.Now()))
			synctest.Wait()
			if n := posts.n(); n != i {
				t.Fatalf("%s: the work answered through response_url before the ack was written", tc.name)
			}
			close(w.release)
			synctest.Wait()
			if w.status != http.StatusOK || posts.n() != i+1 {
				t.Fatalf("%s: ack status %d, %d answers; want 200 and %d", tc.name, w.status, posts.n(), i+1)
			}
		}
		if err := app.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

// A response_url target that answers 2xx in any of the ways servers do (Slack's text/plain
// "ok", an empty 200 without a Content-Type, 204, JSON) got the answer: no second copy goes
// out through chat.postEphemeral. A 404 (expired) falls back to chat.postEphemeral. The
// response_url, which works as a credential, is never logged.
func TestHTTP_ResponseURLAnyTwoHundredIsSuccess(t *testing.T) {
	const secretPath = "/commands/T0FAKE/12345/s3cr3tRESPONSEtoken"
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		fallback    bool
	}{
		{"Slack's text/plain ok", http.StatusOK, "text/plain", "ok", false},
		{"empty 200, no Content-Type", http.StatusOK, "", "", false},
		{"empty 200, text/plain", http.StatusOK, "text/plain; charset=utf-8", "", false},
		{"204", http.StatusNoContent, "", "", false},
		{"JSON ok", http.StatusOK, "application/json", `{"ok":true}`, false},
		{"empty JSON", http.StatusOK, "application/json", ``, false},
		{"HTML", http.StatusOK, "text/html", "<html>OK</html>", false},
		{"JSON ok false", http.StatusOK, "application/json", `{"ok":false,"error":"expired_url"}`, true},
		{"404 expired_url", http.StatusNotFound, "text/plain", "expired_url", true},
		{"unreachable", 0, "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEdgeEnv(t)
			var mu sync.Mutex
			var got []string
			target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				mu.Lock()
				got = append(got, string(b))
				mu.Unlock()
				if tt.contentType != "" {
					w.Header().Set("Content-Type", tt.contentType)
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			t.Cleanup(target.Close)
			if tt.status == 0 {
				target.Close()
			}
			c := e.command(edgeReq, "history")
			c.ResponseURL = target.URL + secretPath
			if status, _ := e.post(t, "/slack/commands", bottest.CommandForm(c)); status != http.StatusOK {
				t.Fatalf("status %d", status)
			}
			e.drain(t)
			mu.Lock()
			defer mu.Unlock()
			if tt.status == 0 {
				got = append(got, `"response_type":"ephemeral","replace_original":false`)
			}
			if len(got) != 1 || !strings.Contains(got[0], `"response_type":"ephemeral"`) || !strings.Contains(got[0], `"replace_original":false`) {
				t.Errorf("response_url got %q, want one ephemeral answer that does not replace the original", got)
			}
			want := 0
			if tt.fallback {
				want = 1
			}
			if n := len(e.fake.CallsOf("chat.postEphemeral")); n != want {
				t.Errorf("%d chat.postEphemeral calls, want %d", n, want)
			}
			e.log.mu.Lock()
			defer e.log.mu.Unlock()
			if strings.Contains(e.log.buf.String(), "s3cr3tRESPONSEtoken") {
				t.Errorf("the log contains the response_url:\n%s", e.log.buf.String())
			}
		})
	}
}

// clickPayloads are block_actions payloads as a Slack stand-in written from Slack's
// documentation might send them: with every field, an action without block_id (its text an
// object), a bare action, and no channel (only the container).
func clickPayloads(user, reqID, ts, responseURL string) map[string]string {
	return map[string]string{
		"full": `{"type":"block_actions","user":{"id":"` + user + `","username":"x","name":"x","team_id":"T0FAKE"},"api_app_id":"A0FAKE",` +
			`"token":"verif","container":{"type":"message","message_ts":"` + ts + `","channel_id":"` + edgeChannel + `","is_ephemeral":false},` +
			`"trigger_id":"1.2.3","team":{"id":"T0FAKE","domain":"fake"},"enterprise":null,"is_enterprise_install":false,` +
			`"channel":{"id":"` + edgeChannel + `","name":"renewals"},"message":{"type":"message","ts":"` + ts + `","text":"x","blocks":[]},` +
			`"state":{"values":{}},"response_url":"` + responseURL + `",` +
			`"actions":[{"action_id":"approve","block_id":"b1","text":{"type":"plain_text","text":"Approve","emoji":true},` +
			`"value":"` + reqID + `","style":"primary","type":"button","action_ts":"1700000000.1"}]}`,
		"action without block_id": `{"type":"block_actions","user":{"id":"` + user + `"},"channel":{"id":"` + edgeChannel + `"},` +
			`"response_url":"` + responseURL + `","actions":[{"action_id":"approve","text":{"type":"plain_text","text":"Approve"},"value":"` + reqID + `","type":"button"}]}`,
		"bare action": `{"type":"block_actions","user":{"id":"` + user + `"},"response_url":"` + responseURL + `",` +
			`"container":{"type":"message","message_ts":"` + ts + `","channel_id":"` + edgeChannel + `"},"actions":[{"action_id":"approve","value":"` + reqID + `"}]}`,
	}
}

// Every valid shape of a click is acted on, over HTTP: the requester's own Approve is refused
// in words.
func TestHTTP_ClickPayloadShapes(t *testing.T) {
	for name := range clickPayloads("", "", "", "") {
		t.Run(name, func(t *testing.T) {
			e := newEdgeEnv(t)
			ctx := edgeCtx(t)
			r, ts := e.openRequest(t, ctx, "i-bp1hz00001 1")
			payload := clickPayloads(edgeReq, string(r.ID), ts, e.fake.ResponseURL())[name]
			if status, body := e.post(t, "/slack/interactions", url.Values{"payload": {payload}}); status != http.StatusOK || body != "" {
				t.Fatalf("click: %d %q", status, body)
			}
			if text := e.responseText(t, ctx, 2); !strings.Contains(text, "someone else") {
				t.Errorf("self-approval answered %q", text)
			}
		})
	}
}

// Bad input leaves nothing behind: a snooze option that is not an instance ID, and a renewal
// from a command without a channel (or user) to post the approval message in.
func TestHTTP_BadInputLeavesNoState(t *testing.T) {
	e := newEdgeEnv(t)
	ctx := edgeCtx(t)
	e.click(t, edgeReq, "1.1", bot.ActionDigestSnooze, "not-an-instance:7")
	if text := e.responseText(t, ctx, 1); !strings.Contains(text, "not-an-instance") {
		t.Errorf("bad snooze answered %q", text)
	}
	noChannel := e.command(edgeReq, "i-bp1hz00001 1")
	noChannel.ChannelID = ""
	noUser := e.command("", "autorenew i-bp1hz00001 on")
	for _, c := range []slack.SlashCommand{noChannel, noUser} {
		status, body := e.post(t, "/slack/commands", bottest.CommandForm(c))
		if status != http.StatusOK || !strings.Contains(body, "channel") {
			t.Errorf("command %+v: %d %s; want an answer that needs a channel and user", c, status, body)
		}
	}
	e.drain(t)
	if s, err := e.db.Snoozed(edgeStart); err != nil || len(s) != 0 {
		t.Errorf("snoozes %v %v, want none", s, err)
	}
	if rs, _ := e.db.ListRequests(); len(rs) != 0 {
		t.Errorf("requests %+v, want none", rs)
	}
	if n := len(e.sim.Calls()); n != 0 {
		t.Errorf("bad input called ECS: %v", e.sim.Calls())
	}
}

// A signed form without a Content-Type header is still read as a form.
func TestHTTP_FormWithoutContentType(t *testing.T) {
	e := newEdgeEnv(t)
	for path, form := range map[string]url.Values{
		"/slack/commands":     bottest.CommandForm(e.command(edgeReq, "list 7d")),
		"/slack/interactions": bottest.InteractionForm(bottest.BlockAction(edgeReq, edgeChannel, "1.1", bot.ActionDigestSnooze, "i-bp1hz00001:7", e.fake.ResponseURL())),
	} {
		req := bottest.SignedRequest(edgeSecret, e.srv.URL+path, form, time.Now())
		req.Header.Del("Content-Type")
		status, body := e.do(t, req)
		if status != http.StatusOK || (path == "/slack/commands" && !strings.Contains(body, "7d")) {
			t.Errorf("%s: %d %q", path, status, body)
		}
	}
	e.drain(t)
	if s, _ := e.db.Snoozed(edgeStart); len(s) != 1 {
		t.Errorf("snoozes %v, want the click's", s)
	}
}

// A chat.postMessage answer without "channel" (only ok and ts) still attaches the approval
// message to its request, so that the message is kept up to date.
func TestHTTP_PostAnswerWithoutChannel(t *testing.T) {
	e := newEdgeEnv(t)
	ctx := edgeCtx(t)
	e.fake.Rewrite("chat.postMessage", func(m map[string]any) map[string]any { return map[string]any{"ok": m["ok"], "ts": m["ts"]} })
	api := e.api
	app, err := bot.NewApp(bot.AppConfig{Workflow: e.wf, Cloud: cloudOf(t, e), Store: e.db, Slack: api, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app.Handler(edgeSecret))
	t.Cleanup(srv.Close)
	c := e.command(edgeReq, "i-bp1hz00001 1")
	if status, _ := e.do(t, bottest.SignedRequest(edgeSecret, srv.URL+"/slack/commands", bottest.CommandForm(c), time.Now())); status != http.StatusOK {
		t.Fatal(status)
	}
	if err := app.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	rs, err := e.db.ListRequests()
	if err != nil || len(rs) != 1 || rs[0].Message.Channel != edgeChannel || rs[0].Message.TS == "" {
		t.Fatalf("requests %+v %v, want one with its message attached", rs, err)
	}
	if text := e.responseText(t, ctx, 1); !strings.Contains(text, "<#"+edgeChannel+">") {
		t.Errorf("confirmation %q does not point at the channel", text)
	}
}

// cloudOf is another ECS client on the env's ecssim.
func cloudOf(t *testing.T, e *edgeEnv) *ecs.Client {
	t.Helper()
	cloud, err := ecs.New(ecs.Config{Regions: []string{"cn-hangzhou"}, Endpoint: e.sim.URL, AccessKeyID: "testid", AccessKeySecret: "testsecret"})
	if err != nil {
		t.Fatal(err)
	}
	return cloud
}

// FuzzHTTP_SignedBodies posts signed arbitrary bodies to both endpoints: every one gets an
// answer (200 or 400), nothing panics, and any work it starts finishes.
func FuzzHTTP_SignedBodies(f *testing.F) {
	f.Add("/slack/commands", "text=i-bp1hz00001+3&user_id=UREQ&channel_id=CRENEW")
	f.Add("/slack/commands", "text=autorenew+i-bp1hz00001+on+2y&user_id=U1&channel_id=C1&response_url=%25zz")
	f.Add("/slack/commands", "ssl_check=1&token=x")
	f.Add("/slack/interactions", `payload={"type":"block_actions","user":{"id":"U1"},"actions":[{"action_id":"approve","value":"R%00"}]}`)
	f.Add("/slack/interactions", `payload={"type":"block_actions","actions":[{"action_id":"digest_renew","selected_option":{"value":"i-bp1hz00001:99999999999999999999"}}]}`)
	f.Add("/slack/interactions", `payload=[]`)
	f.Add("/slack/interactions", "payload=%7B%22actions%22%3Anull%7D&payload=2")
	e := newEdgeEnv(f)
	f.Fuzz(func(t *testing.T, path, body string) {
		if path != "/slack/commands" {
			path = "/slack/interactions"
		}
		req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Skip()
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		ts, sig := bottest.Sign(edgeSecret, time.Now(), []byte(body))
		req.Header.Set("X-Slack-Request-Timestamp", ts)
		req.Header.Set("X-Slack-Signature", sig)
		status, _ := e.do(t, req)
		if status != http.StatusOK && status != http.StatusBadRequest && status != http.StatusRequestEntityTooLarge {
			t.Errorf("status %d for %q", status, body)
		}
	})
}

// Clicks on actions the bot never made are counted under one label, not one series each.
func TestHTTP_UnknownActionsShareOneMetricLabel(t *testing.T) {
	e := newEdgeEnv(t)
	for i := range 3 {
		e.click(t, edgeReq, "1.1", fmt.Sprintf("made-up-%d", i), "x")
	}
	e.drain(t)
	if got := metricValue(t, e.reg, "renewbot_interactions_total", "action", "other", "outcome", "ignored"); got != 3 {
		t.Errorf("ignored clicks under action=other: %v, want 3", got)
	}
	if got := metricValue(t, e.reg, "renewbot_interactions_total", "action", "made-up-0"); got != 0 {
		t.Errorf("a made-up action ID became a label value")
	}
}

// Slack's ssl_check comes unsigned (Bolt answers it before verifying): it gets an empty 200
// and has no effect. Anything more in an unsigned body is refused as before.
func TestHTTP_UnsignedSSLCheck(t *testing.T) {
	e := newEdgeEnv(t)
	for body, want := range map[string]int{
		"ssl_check=1&token=verification-token":       http.StatusOK,
		"ssl_check=1":                                http.StatusOK,
		"ssl_check=1&text=i-bp1hz00001+1&user_id=U1": http.StatusUnauthorized,
		"ssl_check=0":                                http.StatusUnauthorized,
	} {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/slack/commands", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if status, got := e.do(t, req); status != want || (want == http.StatusOK && got != "") {
			t.Errorf("%q: %d %q, want %d", body, status, got, want)
		}
	}
	e.drain(t)
	if n := len(e.fake.Calls()) + len(e.sim.Calls()); n != 0 {
		t.Errorf("ssl checks called Slack or ECS")
	}
}
