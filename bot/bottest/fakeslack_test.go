package bottest_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/renewbot/renewbot/bot/bottest"
	"github.com/slack-go/slack"
)

func newClient(t *testing.T) (*bottest.FakeSlack, *slack.Client) {
	t.Helper()
	f := bottest.NewFakeSlack()
	t.Cleanup(f.Close)
	return f, slack.New("xoxb-test", slack.OptionAPIURL(f.APIURL()))
}

func TestFakeSlack_UniqueTimestamps(t *testing.T) {
	f, api := newClient(t)
	ctx := context.Background()
	var mu sync.Mutex
	seen := map[string]bool{}
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			_, ts, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("hi", false))
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if seen[ts] {
				t.Errorf("ts %s returned twice", ts)
			}
			seen[ts] = true
		})
	}
	wg.Wait()
	calls, err := f.Wait(ctx, "chat.postMessage", 50)
	if err != nil || len(calls) != 50 {
		t.Fatalf("Wait: %d calls, %v", len(calls), err)
	}
	if calls[0].Form.Get("token") != "" {
		t.Error("the token is kept in the recorded form")
	}
}

func TestFakeSlack_UpdateNeedsAPostedMessage(t *testing.T) {
	f, api := newClient(t)
	ctx := context.Background()
	ch, ts, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("v1", false))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := api.UpdateMessageContext(ctx, ch, ts, slack.MsgOptionText("v2", false)); err != nil {
		t.Fatal(err)
	}
	if m, ok := f.Message(ch, ts); !ok || m.Get("text") != "v2" {
		t.Errorf("Message = %v, %v", m, ok)
	}
	_, _, _, err = api.UpdateMessageContext(ctx, ch, "1.000000", slack.MsgOptionText("v2", false))
	var se slack.SlackErrorResponse
	if !errors.As(err, &se) || se.Err != "message_not_found" {
		t.Errorf("update of an unknown message: %v", err)
	}
}

func TestFakeSlack_FailureInjection(t *testing.T) {
	f, api := newClient(t)
	ctx := context.Background()
	f.FailNext("chat.postMessage", http.StatusTooManyRequests, 2)
	_, _, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("hi", false))
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != 2*time.Second {
		t.Errorf("first post: %v, want rate limited for 2s", err)
	}
	if _, _, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("hi", false)); err != nil {
		t.Errorf("second post: %v", err)
	}
	f.ErrorNext("auth.test", "invalid_auth")
	if _, err := api.AuthTestContext(ctx); err == nil || err.Error() != "invalid_auth" {
		t.Errorf("auth.test: %v", err)
	}
	if resp, err := api.AuthTestContext(ctx); err != nil || resp.UserID == "" {
		t.Errorf("auth.test: %+v, %v", resp, err)
	}
	calls := f.CallsOf("chat.postMessage")
	if len(calls) != 2 || calls[0].Status != http.StatusTooManyRequests || calls[1].Status != http.StatusOK {
		t.Errorf("recorded %+v", calls)
	}
}

func TestFakeSlack_GroupsUploadsAndResponseURL(t *testing.T) {
	f, api := newClient(t)
	ctx := context.Background()
	f.SetGroup("S1", "U1", "U2")
	if got, err := api.GetUserGroupMembersContext(ctx, "S1"); err != nil || len(got) != 2 {
		t.Errorf("members %v, %v", got, err)
	}
	if _, err := api.GetUserGroupMembersContext(ctx, "S2"); err == nil || err.Error() != "no_such_subteam" {
		t.Errorf("unknown group: %v", err)
	}

	csv := "id,expiry\ni-1,2026-12-01\n"
	file, err := api.UploadFileContext(ctx, slack.UploadFileParameters{Filename: "digest.csv", FileSize: len(csv),
		Content: csv, Channel: "C1", ThreadTimestamp: "1700000000.000001", Title: "Digest"})
	if err != nil {
		t.Fatal(err)
	}
	up := f.CallsOf("upload")
	if len(up) != 1 || string(up[0].File) != csv || up[0].Form.Get("file_id") != file.ID {
		t.Errorf("upload recorded %+v, file %+v", up, file)
	}
	if c := f.CallsOf("files.completeUploadExternal"); len(c) != 1 || c[0].Form.Get("thread_ts") != "1700000000.000001" {
		t.Errorf("complete recorded %+v", c)
	}

	ru := f.ResponseURL()
	if ru == f.ResponseURL() {
		t.Error("ResponseURL returned the same URL twice")
	}
	if _, _, err := api.PostMessageContext(ctx, "", slack.MsgOptionResponseURL(ru, slack.ResponseTypeEphemeral),
		slack.MsgOptionText("later", false)); err != nil {
		t.Fatal(err)
	}
	if calls, err := f.Wait(ctx, "response_url", 1); err != nil || len(calls[0].JSON) == 0 {
		t.Errorf("response_url: %+v, %v", calls, err)
	}
}

func TestFakeSlack_WaitHonoursContext(t *testing.T) {
	f, _ := newClient(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.Wait(ctx, "chat.postMessage", 1); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait on a cancelled context: %v", err)
	}
	if _, err := f.WaitAck(ctx, "env-1"); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitAck on a cancelled context: %v", err)
	}
}

func TestSign_MatchesSlackVerifier(t *testing.T) {
	now := time.Now()
	req := bottest.SignedRequest("s3cret", "http://example.invalid/slack/commands", url.Values{"text": {"help"}}, now)
	sv, err := slack.NewSecretsVerifier(req.Header, "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sv.Write([]byte("text=help")); err != nil {
		t.Fatal(err)
	}
	if err := sv.Ensure(); err != nil {
		t.Errorf("slack-go refuses our signature: %v", err)
	}
}
