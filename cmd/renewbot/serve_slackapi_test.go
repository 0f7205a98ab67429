package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/renewbot/renewbot/bot/bottest"
)

// A Slack Web API stand-in written from Slack's documentation may read the token only from
// the Authorization header (Slack's examples send it there). serve's Web API calls carry it
// there too, and only to the Web API: a response_url never gets the token.
func TestServe_TokenInAuthorizationHeader(t *testing.T) {
	_, env := newSim(t, -1)
	fake := bottest.NewFakeSlack()
	t.Cleanup(fake.Close)
	target, _ := url.Parse(fake.APIURL())
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: target.Scheme, Host: target.Host})
	strict := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") && r.Header.Get("Authorization") != "Bearer "+testBotToken &&
			!strings.HasSuffix(r.URL.Path, "/apps.connections.open") {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"ok":false,"error":"not_authed"}`)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/response/") && r.Header.Get("Authorization") != "" {
			t.Errorf("a response_url got an Authorization header")
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(strict.Close)
	for k, v := range map[string]string{
		"SLACK_BOT_TOKEN": testBotToken, "SLACK_SIGNING_SECRET": testSecret, "SLACK_API_URL": strict.URL + "/api/",
		"RENEWBOT_LISTEN": "127.0.0.1:0", "RENEWBOT_DB": filepath.Join(t.TempDir(), "renewbot.db"), "RENEWBOT_APPROVERS": "U0APPROVER2",
	} {
		env[k] = v
	}
	b := startServe(t, env)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	form := bottest.CommandForm(slack.SlashCommand{Command: "/renew", Text: "i-soon0001 1", UserID: "U0REQUESTER",
		ChannelID: "C0OPS", TeamID: "T0FAKE", ResponseURL: strict.URL + "/response/1"})
	if code := post(t, bottest.SignedRequest(testSecret, b.URL+"/slack/commands", form, time.Now())); code != 200 {
		t.Fatalf("command: %d", code)
	}
	waitCall(ctx, t, fake, "chat.postMessage", func(c bottest.Call) bool { return c.Form.Get("channel") == "C0OPS" })
	answer := waitCall(ctx, t, fake, "response_url", func(bottest.Call) bool { return true })
	if !strings.Contains(string(answer.JSON), "waiting for approval") {
		t.Errorf("answer %s, want the request waiting for approval", answer.JSON)
	}
}
