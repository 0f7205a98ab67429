package main

import (
	"encoding/json"
	"path/filepath"
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

// TestCLI_OperatorRunAudited: a CLI renewal is written to the audit log of the store file.
func TestCLI_OperatorRunAudited(t *testing.T) {
	_, env := newSim(t, -1)
	db := filepath.Join(t.TempDir(), "renewbot.db")
	s, err := store.Open(db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	env["RENEWBOT_DB"] = db
	env["USER"] = "alice"
	if r := runCLI(t, env, "", "renew", "i-soon0001", "--period", "2", "--yes"); r.code != 0 {
		t.Fatalf("renew: exit %d %s", r.code, r.stderr)
	}
	if r := runCLI(t, env, "", "autorenew", "set", "i-auto0002", "--off"); r.code != 0 {
		t.Fatalf("autorenew: exit %d %s", r.code, r.stderr)
	}
	r := runCLI(t, env, "", "history", "--format", "json")
	var evs []store.Event
	if err := json.Unmarshal([]byte(r.out), &evs); err != nil || len(evs) != 2 {
		t.Fatalf("history: %v %s %s", err, r.out, r.stderr)
	}
	if evs[0].Actor != "cli:alice" || evs[0].Action != store.ActOperatorRun || !strings.Contains(evs[0].Detail, "renew 2 month(s)") ||
		!strings.Contains(evs[1].Detail, "autorenew Normal") || evs[1].InstanceIDs[0] != "i-auto0002" {
		t.Errorf("events %+v", evs)
	}
	// Without a store the CLI still works and says the renewal is not on record.
	env["RENEWBOT_DB"] = filepath.Join(t.TempDir(), "none.db")
	if r := runCLI(t, env, "", "renew", "i-later003", "--yes"); r.code != 0 || !strings.Contains(r.stderr, "not recorded in the audit log") {
		t.Errorf("no store: exit %d %q", r.code, r.stderr)
	}
}
