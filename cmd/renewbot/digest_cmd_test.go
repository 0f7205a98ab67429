package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/renewbot/renewbot/bot/bottest"
	"github.com/renewbot/renewbot/store"
)

// TestCLI_Digest runs `digest` on a free store: the dry run posts nothing, --now posts once
// per channel per day, --force posts again.
func TestCLI_Digest(t *testing.T) {
	_, env := newSim(t, -1)
	fake := bottest.NewFakeSlack()
	t.Cleanup(fake.Close)
	env["SLACK_API_URL"] = fake.APIURL()
	env["RENEWBOT_DB"] = filepath.Join(t.TempDir(), "renewbot.db")
	env["RENEWBOT_DIGEST_CHANNEL"] = "C0OPS"
	env["RENEWBOT_DIGEST_PACE"] = "1ms"

	r := runCLI(t, env, "", "digest", "--dry-run")
	if r.code != 0 {
		t.Fatalf("dry run: exit %d: %s", r.code, r.stderr)
	}
	var plan struct {
		Channels []struct {
			Channel   string `json:"channel"`
			Instances int    `json:"instances"`
		} `json:"channels"`
	}
	if err := json.Unmarshal([]byte(r.out), &plan); err != nil || len(plan.Channels) != 1 || plan.Channels[0].Channel != "C0OPS" || plan.Channels[0].Instances != 2 {
		t.Errorf("dry run: %v %s", err, r.out)
	}
	if n := len(fake.Calls()); n != 0 {
		t.Errorf("the dry run called Slack %d times", n)
	}

	r = runCLI(t, env, "", "digest", "--now")
	if r.code != exitUsage || !strings.Contains(r.stderr, "SLACK_BOT_TOKEN: is required") {
		t.Errorf("no token: exit %d %q", r.code, r.stderr)
	}
	env["SLACK_BOT_TOKEN"] = testBotToken
	r = runCLI(t, env, "", "digest", "--now")
	if r.code != 0 || !strings.Contains(r.out, "C0OPS: posted 2 instance(s)") {
		t.Fatalf("--now: exit %d %q %q", r.code, r.out, r.stderr)
	}
	posts := len(fake.CallsOf("chat.postMessage"))
	if posts == 0 || len(fake.CallsOf("files.completeUploadExternal")) != 1 {
		t.Errorf("posts %d, uploads %d", posts, len(fake.CallsOf("files.completeUploadExternal")))
	}
	r = runCLI(t, env, "", "digest", "--now")
	if r.code != 0 || !strings.Contains(r.out, "C0OPS: already posted") || len(fake.CallsOf("chat.postMessage")) != posts {
		t.Errorf("second --now: exit %d %q", r.code, r.out)
	}
	r = runCLI(t, env, "", "digest", "--now", "--force")
	if r.code != 0 || !strings.Contains(r.out, "C0OPS: posted") || len(fake.CallsOf("chat.postMessage")) != 2*posts {
		t.Errorf("--force: exit %d %q", r.code, r.out)
	}
}

// TestCLI_OperatorRunAudited: a CLI renewal and auto-renew change are requests of the
// workflow, recorded in the store file as an operator's decision.
func TestCLI_OperatorRunAudited(t *testing.T) {
	_, env := newSim(t, -1)
	env["USER"] = "alice"
	if r := runCLI(t, env, "", "renew", "i-soon0001", "--period", "2", "--yes"); r.code != 0 {
		t.Fatalf("renew: exit %d %s", r.code, r.stderr)
	}
	if r := runCLI(t, env, "", "autorenew", "set", "i-auto0002", "--off"); r.code != 0 {
		t.Fatalf("autorenew: exit %d %s", r.code, r.stderr)
	}
	for _, id := range []string{"i-soon0001", "i-auto0002"} {
		r := runCLI(t, env, "", "history", id, "--format", "json")
		var evs []store.Event
		if err := json.Unmarshal([]byte(r.out), &evs); err != nil {
			t.Fatalf("history %s: %v %s %s", id, err, r.out, r.stderr)
		}
		if !hasEvent(evs, store.ActRequested, "cli:alice") {
			t.Errorf("%s: no request by cli:alice in %+v", id, evs)
		}
		approved := slices.IndexFunc(evs, func(ev store.Event) bool { return ev.Action == store.ActApproved })
		if approved < 0 || evs[approved].Actor != "cli:alice" || !strings.Contains(evs[approved].Detail, "operator's decision") {
			t.Errorf("%s: no approval by cli:alice recorded as an operator's decision in %+v", id, evs)
		}
		if !hasEvent(evs, store.ActDone, "renewbot") {
			t.Errorf("%s: not done: %+v", id, evs)
		}
	}
}
