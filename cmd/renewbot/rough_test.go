package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/renewbot/renewbot/store"
)

// TestCLI_ReadOnlyCommandsCreateNoStore: `digest --dry-run`, history and backup in an empty
// folder leave no store file behind (issue 11 #1); the dry run still prints the plan.
func TestCLI_ReadOnlyCommandsCreateNoStore(t *testing.T) {
	_, env := newSim(t, -1)
	dir := t.TempDir()
	db := filepath.Join(dir, "renewbot.db")
	env["RENEWBOT_DB"] = db
	env["RENEWBOT_DIGEST_CHANNEL"] = "C0OPS"

	r := runCLI(t, env, "", "digest", "--dry-run")
	if r.code != 0 || !strings.Contains(r.out, `"channel": "C0OPS"`) {
		t.Errorf("digest --dry-run: exit %d, out %q, stderr %q", r.code, r.out, r.stderr)
	}
	for _, args := range [][]string{{"history"}, {"history", "i-soon0001"}, {"backup", filepath.Join(t.TempDir(), "b.db")}} {
		if r := runCLI(t, env, "", args...); r.code == 0 || !strings.Contains(r.stderr, "no store at") {
			t.Errorf("%v on no store: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("a read-only command left %s in the folder", e.Name())
	}
}

// TestCLI_AutoRenewGetPayAsYouGo: `autorenew get` on a pay-as-you-go instance says so, with
// no made-up expiry (issue 11 #3).
func TestCLI_AutoRenewGetPayAsYouGo(t *testing.T) {
	_, env := newSim(t, -1)
	r := runCLI(t, env, "", "autorenew", "get", "i-payg0004,i-soon0001")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var payg, sub string
	for _, l := range strings.Split(r.out, "\n") {
		switch {
		case strings.HasPrefix(l, "i-payg0004"):
			payg = l
		case strings.HasPrefix(l, "i-soon0001"):
			sub = l
		}
	}
	if !strings.Contains(payg, "pay-as-you-go") || strings.Contains(payg, "2099") {
		t.Errorf("pay-as-you-go row %q", payg)
	}
	if !strings.Contains(sub, "off") {
		t.Errorf("subscription row %q", sub)
	}
}

// TestCLI_TimesHaveAnOffset: the CLI prints times in RENEWBOT_TIMEZONE with the UTC offset,
// never a zone abbreviation ("CST" is Shanghai and Chicago alike) (issue 11 #4).
func TestCLI_TimesHaveAnOffset(t *testing.T) {
	_, env := newSim(t, -1)
	env["USER"] = "alice"
	if r := runCLI(t, env, "", "renew", "i-soon0001", "--period", "1", "--yes"); r.code != 0 {
		t.Fatalf("renew: exit %d %s", r.code, r.stderr)
	}
	offset := regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d (UTC[+-]\d+)\b`)
	for zone, want := range map[string]string{"Asia/Shanghai": "UTC+8", "America/Chicago": "UTC-"} {
		env["RENEWBOT_TIMEZONE"] = zone
		for _, args := range [][]string{
			{"expiring"}, {"quote", "i-soon0001"}, {"autorenew", "get", "i-soon0001"}, {"history", "i-soon0001"},
		} {
			r := runCLI(t, env, "", args...)
			if r.code != 0 {
				t.Fatalf("%s %v: exit %d %s", zone, args, r.code, r.stderr)
			}
			m := offset.FindAllStringSubmatch(r.out, -1)
			if len(m) == 0 {
				t.Errorf("%s %v: no time with an offset in %q", zone, args, r.out)
			}
			for _, sm := range m {
				if !strings.HasPrefix(sm[1], want) {
					t.Errorf("%s %v: offset %s, want %s…", zone, args, sm[1], want)
				}
			}
			if strings.Contains(r.out, "CST") || strings.Contains(r.out, "CDT") {
				t.Errorf("%s %v: a zone abbreviation in %q", zone, args, r.out)
			}
		}
	}
}

// TestCLI_NotRenewalWording: the CLI says what Slack and the README say about NotRenewal:
// released 15 days after expiry, not "at expiry" (issue 11 #6).
func TestCLI_NotRenewalWording(t *testing.T) {
	_, env := newSim(t, -1)
	env["USER"] = "alice"
	r := runCLI(t, env, "", "autorenew", "set", "i-soon0001", "--never")
	if r.code != 0 {
		t.Fatalf("set --never: exit %d %s", r.code, r.stderr)
	}
	get := runCLI(t, env, "", "autorenew", "get", "i-soon0001")
	help := runCLI(t, env, "", "help", "autorenew")
	for name, out := range map[string]string{"set": r.out, "get": get.out, "help": help.out} {
		if !strings.Contains(out, "released 15 days after expiry") || strings.Contains(out, "at expiry") {
			t.Errorf("%s: %q", name, out)
		}
	}
}

// TestBadStoreAndPort: a store path in a missing folder and a port in use are bad settings:
// exit 2 and one sentence that names the setting and the path once (issue 11 #7).
func TestBadStoreAndPort(t *testing.T) {
	_, env := newSim(t, -1)
	env["SLACK_BOT_TOKEN"] = testBotToken
	env["SLACK_SIGNING_SECRET"] = testSecret
	env["RENEWBOT_LISTEN"] = "127.0.0.1:0"
	missing := filepath.Join(t.TempDir(), "no-such-folder", "renewbot.db")
	env["RENEWBOT_DB"] = missing
	oneSentence := func(name string, r result, want string) {
		t.Helper()
		if r.code != exitUsage || !strings.Contains(r.stderr, want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 || strings.Count(r.stderr, missing) > 1 {
			t.Errorf("%s: exit %d (want %d), stderr %q, want one sentence with %q", name, r.code, exitUsage, r.stderr, want)
		}
	}
	oneSentence("serve", runCLI(t, env, "", "serve"), "RENEWBOT_DB: cannot create "+missing+": the folder "+filepath.Dir(missing)+" does not exist")
	oneSentence("renew", runCLI(t, env, "", "renew", "i-soon0001", "--yes"), "RENEWBOT_DB: cannot create "+missing)
	oneSentence("history", runCLI(t, env, "", "history"), "RENEWBOT_DB: no store at "+missing)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	env["RENEWBOT_DB"] = filepath.Join(t.TempDir(), "renewbot.db")
	env["RENEWBOT_LISTEN"] = ln.Addr().String()
	oneSentence("serve on a busy port", runCLI(t, env, "", "serve"), "RENEWBOT_LISTEN: "+ln.Addr().String()+" is already in use by another process")
}

// TestCLI_HistoryOfUnknownRequest: `history RNOPE` (and a well-formed request ID with no
// events) says "no request RNOPE", exit 1, not that it is neither an instance nor a request
// (issue 11 #11).
func TestCLI_HistoryOfUnknownRequest(t *testing.T) {
	_, env := newSim(t, -1)
	env["USER"] = "alice"
	if r := runCLI(t, env, "", "renew", "i-soon0001", "--yes"); r.code != 0 { // the store exists
		t.Fatalf("renew: exit %d %s", r.code, r.stderr)
	}
	for _, id := range []string{"RNOPE", "R0000000000001"} {
		r := runCLI(t, env, "", "history", id)
		if r.code != exitError || strings.TrimSpace(r.stderr) != "renewbot history: no request "+id {
			t.Errorf("history %s: exit %d, stderr %q", id, r.code, r.stderr)
		}
	}
	if r := runCLI(t, env, "", "history", "xyz"); r.code != exitUsage || !strings.Contains(r.stderr, "neither") {
		t.Errorf("history xyz: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestCLI_JSONIsSnakeCase: every JSON the CLI prints (expiring, history, digest --dry-run)
// uses snake_case keys and [] for empty lists, never null (issue 11 #10).
func TestCLI_JSONIsSnakeCase(t *testing.T) {
	_, env := newSim(t, -1)
	env["USER"] = "alice"
	env["RENEWBOT_DIGEST_CHANNEL"] = "C0OPS"
	if r := runCLI(t, env, "", "history", "--format", "json"); r.code == 0 {
		t.Fatalf("history on no store: exit 0")
	}
	if r := runCLI(t, env, "", "renew", "i-soon0001", "--yes"); r.code != 0 {
		t.Fatalf("renew: exit %d %s", r.code, r.stderr)
	}
	snake := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case nil:
			t.Errorf("%s is null", path)
		case map[string]any:
			for k, x := range v {
				if !snake.MatchString(k) {
					t.Errorf("%s: key %q is not snake_case", path, k)
				}
				walk(path+"."+k, x)
			}
		case []any:
			for i, x := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), x)
			}
		}
	}
	for _, args := range [][]string{
		{"expiring", "--format", "json"}, {"expiring", "--format", "json", "--within", "1h"},
		{"history", "--format", "json"}, {"history", "i-later003", "--format", "json"},
		{"digest", "--dry-run"},
	} {
		r := runCLI(t, env, "", args...)
		var v any
		if err := json.Unmarshal([]byte(r.out), &v); r.code != 0 || err != nil {
			t.Fatalf("%v: exit %d, %v: %s %s", args, r.code, err, r.out, r.stderr)
		}
		walk(strings.Join(args, " "), v)
	}
	var out bytes.Buffer
	if err := printHistory(&out, "json", []store.Event{{Seq: 1, Actor: "renewbot", Action: store.ActDone}}, time.UTC); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"instance_ids": []`) || !strings.Contains(out.String(), `"request_id": ""`) {
		t.Errorf("an event without instances: %s", out.String())
	}
}
