package bot

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/ecs/ecssim"
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
