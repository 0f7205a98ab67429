package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/renewbot/renewbot/bot/bottest"
	"github.com/renewbot/renewbot/ecs/ecssim"
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
	sim, env := newSim(t, -1)
	env["RENEWBOT_BSS_ENDPOINT"] = sim.URL // forecast reads the balance
	env["USER"] = "alice"
	if r := runCLI(t, env, "", "renew", "i-soon0001", "--period", "1", "--yes"); r.code != 0 {
		t.Fatalf("renew: exit %d %s", r.code, r.stderr)
	}
	offset := regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d (UTC[+-]\d+)\b`)
	for zone, want := range map[string]string{"Asia/Shanghai": "UTC+8", "America/Chicago": "UTC-"} {
		env["RENEWBOT_TIMEZONE"] = zone
		for _, args := range [][]string{
			{"expiring"}, {"quote", "i-soon0001"}, {"autorenew", "get", "i-soon0001"}, {"history", "i-soon0001"},
			{"forecast", "--within", "30d"},
		} {
			r := runCLI(t, env, "", args...)
			if r.code != 0 && !(args[0] == "forecast" && r.code == exitPartial) { // ecssim may not answer the balance
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

// TestDigestLeftOutIsSaid: without RENEWBOT_DIGEST_CHANNEL, serve warns at start that
// untagged instances get no digest, and `digest --now` says how many it left out and why
// (issue 11 #8).
func TestDigestLeftOutIsSaid(t *testing.T) {
	_, env := newSim(t, -1)
	fake := bottest.NewFakeSlack()
	t.Cleanup(fake.Close)
	env["SLACK_API_URL"] = fake.APIURL()
	env["SLACK_BOT_TOKEN"] = testBotToken
	r := runCLI(t, env, "", "digest", "--now")
	want := "left out: 2 instance(s) in no digest: no renewbot-channel tag with a channel ID, and RENEWBOT_DIGEST_CHANNEL is not set"
	if r.code != 0 || !strings.Contains(r.out, want) {
		t.Errorf("digest --now: exit %d, out %q, stderr %q; want %q", r.code, r.out, r.stderr, want)
	}

	env["SLACK_SIGNING_SECRET"] = testSecret
	env["RENEWBOT_LISTEN"] = "127.0.0.1:0"
	env["RENEWBOT_DB"] = filepath.Join(t.TempDir(), "serve.db")
	b := startServe(t, env)
	if log := b.Log.String(); !strings.Contains(log, "RENEWBOT_DIGEST_CHANNEL is not set: only instances whose renewbot-channel tag is a channel ID get a digest") {
		t.Errorf("no warning at start:\n%s", log)
	}
}

// TestCLI_DigestMenuFollowsMaxPeriod: RENEWBOT_MAX_PERIOD=3 reaches the digest's renew menu
// (issue 9 item 8).
func TestCLI_DigestMenuFollowsMaxPeriod(t *testing.T) {
	_, env := newSim(t, -1)
	env["RENEWBOT_DIGEST_CHANNEL"] = "C0OPS"
	env["RENEWBOT_MAX_PERIOD"] = "3"
	r := runCLI(t, env, "", "digest", "--dry-run")
	if r.code != 0 || !strings.Contains(r.out, `"value": "i-soon0001:3"`) || strings.Contains(r.out, `"value": "i-soon0001:6"`) || strings.Contains(r.out, `"value": "i-soon0001:12"`) {
		t.Errorf("exit %d, menu with RENEWBOT_MAX_PERIOD=3: %s %s", r.code, r.out, r.stderr)
	}

	// serve's policy reaches its digest: the dry run goes through its admin socket.
	env["SLACK_BOT_TOKEN"] = testBotToken
	env["SLACK_SIGNING_SECRET"] = testSecret
	env["RENEWBOT_LISTEN"] = "127.0.0.1:0"
	startServe(t, env)
	env["RENEWBOT_MAX_PERIOD"] = "12" // the CLI's own setting; serve's applies
	r = runCLI(t, env, "", "digest", "--dry-run")
	if r.code != 0 || !strings.Contains(r.stderr, "serve is running") || !strings.Contains(r.out, `"value": "i-soon0001:3"`) || strings.Contains(r.out, `"value": "i-soon0001:6"`) {
		t.Errorf("through serve: exit %d, %s %s", r.code, r.out, r.stderr)
	}
}

// TestREADMEFleetExampleIsRelative: the README's example fleet is written relative to today
// and sets no business clock, so ecssim's clock is the host's and renewbot (which uses the
// host's clock) agrees with it on what has expired (issue 11 #13).
func TestREADMEFleetExampleIsRelative(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "cat > fleet.json <<EOF\n")
	example, _, ok2 := strings.Cut(rest, "\nEOF\n")
	if !ok || !ok2 {
		t.Fatal("README has no `cat > fleet.json <<EOF` example")
	}
	now := time.Now().UTC()
	days := regexp.MustCompile(`\$\(date -u -d '\+(\d+) days' \+%Y-%m-%dT16:00Z\)`)
	example = days.ReplaceAllStringFunc(example, func(m string) string {
		n, _ := strconv.Atoi(days.FindStringSubmatch(m)[1])
		return now.AddDate(0, 0, n).Format("2006-01-02") + "T16:00Z"
	})
	if strings.Contains(example, "$(") {
		t.Fatalf("a substitution the test does not know: %s", example)
	}
	path := filepath.Join(t.TempDir(), "fleet.json")
	if err := os.WriteFile(path, []byte(example), 0o600); err != nil {
		t.Fatal(err)
	}
	fleet, err := ecssim.LoadFleet(path)
	if err != nil {
		t.Fatalf("the README's fleet does not load: %v\n%s", err, example)
	}
	if fleet.Now != nil {
		t.Errorf("the example sets the business clock (now %s): renewbot would see a different day than ecssim", fleet.Now)
	}
	expiring := 0
	for _, in := range fleet.Instances {
		if in.InstanceChargeType == "PostPaid" {
			continue
		}
		if !in.ExpiredTime.After(now) {
			t.Errorf("%s expired already (%s)", in.InstanceId, in.ExpiredTime)
		}
		if in.ExpiredTime.Before(now.AddDate(0, 0, 30)) {
			expiring++
		}
	}
	if expiring == 0 {
		t.Error("nothing in the example expires within 30 days: `renewbot expiring` would show nothing")
	}
}
