package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
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
