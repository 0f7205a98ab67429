package main

import (
	"os"
	"path/filepath"
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
