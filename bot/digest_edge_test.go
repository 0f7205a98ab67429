package bot

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/ecs/ecssim"
	"github.com/renewbot/renewbot/store"
	"github.com/slack-go/slack"
)

// A Slack that cannot take files (files.* not implemented, or the files:write scope missing)
// refuses every upload the same way: the digest's messages are posted once, the day counts
// as done with the CSV left out, and the next run neither reposts nor tries the upload again.
// A failure that may pass (5xx) still leaves the day open (TestDigestCSVFailureResumesWithTheCSVOnly).
func TestDigestCSVRefusedForGood(t *testing.T) {
	for name, refuse := range map[string]func(e *digestEnv){
		"files.* not implemented": func(e *digestEnv) { e.slack.FailNext("files.getUploadURLExternal", http.StatusNotFound, 0) },
		"missing scope":           func(e *digestEnv) { e.slack.ErrorNext("files.getUploadURLExternal", "missing_scope") },
	} {
		t.Run(name, func(t *testing.T) {
			e := newDigestEnv(t, ecssim.Fleet{Balance: 1, Instances: []ecssim.FleetInstance{
				simInstance("i-soon000001", "cn-hangzhou", 2, ecs.Normal, nil),
				simInstance("i-week000002", "cn-hangzhou", 6, ecs.NotRenewal, nil),
			}}, []string{"cn-hangzhou"})
			ctx := t.Context()
			refuse(e)
			rep, err := e.digester(t, nil).Run(ctx, false)
			if err != nil || len(rep.Channels) != 1 || rep.Channels[0].TS == "" || rep.Channels[0].File != "" {
				t.Fatalf("run: %+v %v; want posted, without a file", rep, err)
			}
			if cerr := rep.Channels[0].CSVErr; cerr == nil || !strings.Contains(cerr.Error(), "CSV") {
				t.Errorf("report CSVErr %v, want why the CSV is missing", cerr)
			}
			if n := len(postsOf(t, e.slack)); n != 2 {
				t.Errorf("%d posts, want the summary and one page", n)
			}
			if evs := digestEvents(t, e.db); len(evs) != 1 {
				t.Errorf("digest events %+v, want the day recorded as done", evs)
			}
			uploads := len(e.slack.CallsOf("files.getUploadURLExternal"))
			rep, err = e.digester(t, nil).Run(ctx, false)
			if err != nil || !rep.Channels[0].Skipped {
				t.Errorf("second run: %+v %v, want skipped", rep, err)
			}
			if n := len(postsOf(t, e.slack)); n != 2 || len(e.slack.CallsOf("files.getUploadURLExternal")) != uploads {
				t.Errorf("second run posted again (%d posts) or tried the upload again", n)
			}
		})
	}
}

// An upload that fails in transit is reported without its upload_url, which carries a
// one-time ticket: neither the log nor the error shows it.
func TestDigestUploadErrorHidesTheUploadURL(t *testing.T) {
	e := newDigestEnv(t, ecssim.Fleet{Balance: 1, Instances: []ecssim.FleetInstance{
		simInstance("i-soon000001", "cn-hangzhou", 2, ecs.Normal, nil),
	}}, []string{"cn-hangzhou"})
	target, _ := url.Parse(e.slack.APIURL())
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: target.Scheme, Host: target.Host})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/upload/") { // the connection drops mid-upload
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	api := slack.New("xoxb-test", slack.OptionAPIURL(srv.URL+target.Path))
	var logs bytes.Buffer
	rep, err := e.digester(t, func(c *DigestConfig) {
		c.Slack = api
		c.Log = slog.New(slog.NewTextHandler(&logs, nil))
	}).Run(t.Context(), false)
	if err == nil {
		t.Fatalf("run: %+v, want the upload error", rep)
	}
	if strings.Contains(err.Error(), "/upload/") || strings.Contains(logs.String(), "/upload/") {
		t.Errorf("the upload_url shows:\nerr: %v\nlog: %s", err, logs.String())
	}
}

// clickForm is the form Slack posts when a menu or button on a message is clicked: the
// payload carries the whole message, blocks included, URL-encoded.
func clickForm(t *testing.T, text string, blocks []slack.Block, actionID, blockID string) string {
	t.Helper()
	blocksJSON, err := json.Marshal(blocks)
	if err != nil {
		t.Fatal(err)
	}
	payload := `{"type":"block_actions","user":{"id":"U0CLICKER","username":"clicker","name":"clicker","team_id":"T0FAKE"},` +
		`"api_app_id":"A0FAKE","token":"verificationtoken","container":{"type":"message","message_ts":"1700000000.000100","channel_id":"C0DEFAULT","is_ephemeral":false},` +
		`"trigger_id":"1234567890.1234567890.abcdefabcdefabcdefabcdefabcdef","team":{"id":"T0FAKE","domain":"fake"},"enterprise":null,"is_enterprise_install":false,` +
		`"channel":{"id":"C0DEFAULT","name":"renewals"},"message":{"bot_id":"B0BOT","type":"message","text":` + strconv.Quote(text) +
		`,"user":"U0BOT","ts":"1700000000.000100","app_id":"A0FAKE","blocks":` + string(blocksJSON) + `,"team":"T0FAKE"},` +
		`"state":{"values":{}},"response_url":"https://hooks.slack.com/actions/T0FAKE/1234567890/abcdefabcdefabcdefabcdef",` +
		`"actions":[{"type":"overflow","action_id":"` + actionID + `","block_id":"` + blockID + `","selected_option":{"text":{"type":"plain_text","text":"Renew 3 months","emoji":true},"value":"i-bp1000000000000001:3"},"action_ts":"1700000001.000200"}]}`
	return url.Values{"payload": {payload}}.Encode()
}

// Slack puts the whole message into a click's payload: a click on the fullest digest page or
// approval message must fit the request body limit with room to spare, or real clicks get 413.
func TestClickOnTheFullestMessagesFitsTheBodyLimit(t *testing.T) {
	now := time.Date(2026, 11, 25, 1, 0, 0, 0, time.UTC)
	scan := benchScan(3000, now)
	for i := range scan.Instances { // names in Chinese: 3 bytes a rune, 9 once URL-encoded
		scan.Instances[i].Name = strings.Repeat("生产环境数据库主节点", 6)
	}
	plan := uncappedDigester(t).build(scan, nil, now)
	largest := 0
	for _, c := range plan.Channels {
		for _, p := range c.Pages {
			largest = max(largest, len(clickForm(t, p.Text, p.Blocks, ActionDigestRenew, "b")))
		}
	}
	r := testRequest()
	r.Items = nil
	for i := range maxCommandIDs {
		r.Items = append(r.Items, store.Item{InstanceID: fmt.Sprintf("i-bp1%015d", i), RegionID: "ap-southeast-1",
			Name: strings.Repeat("生产环境数据库主节点", 13), CurrentExpiry: now, ProjectedExpiry: now.AddDate(1, 0, 0), Price: 123456.78, Currency: "CNY"})
	}
	text, blocks := ApprovalMessage(r, now)
	largest = max(largest, len(clickForm(t, text, blocks, ActionApprove, "b")))
	if 2*largest > maxBody { // room for what Slack adds: block IDs, escaped characters, state
		t.Errorf("the largest click body is %d bytes; the limit %d leaves less than twice that", largest, maxBody)
	}
	t.Logf("largest click body %d bytes, limit %d", largest, maxBody)
}

// A files.completeUploadExternal answer without the file list (slack-go then reports an
// error although the upload went through) is not retried: retrying would share the CSV again.
func TestDigestCSVOddCompleteAnswerIsNotRetried(t *testing.T) {
	e := newDigestEnv(t, ecssim.Fleet{Balance: 1, Instances: []ecssim.FleetInstance{
		simInstance("i-soon000001", "cn-hangzhou", 2, ecs.Normal, nil),
	}}, []string{"cn-hangzhou"})
	e.slack.Rewrite("files.completeUploadExternal", func(map[string]any) map[string]any { return map[string]any{"ok": true} })
	for run := range 2 {
		rep, err := e.digester(t, nil).Run(t.Context(), false)
		if err != nil {
			t.Fatalf("run %d: %v", run+1, err)
		}
		if run == 0 && rep.Channels[0].CSVErr == nil {
			t.Errorf("run 1: no CSVErr, want the odd answer reported")
		}
	}
	if n := len(e.slack.CallsOf("files.completeUploadExternal")); n != 1 {
		t.Errorf("the CSV was shared %d times, want once", n)
	}
}
