package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/renewbot/renewbot/store"
)

// auditedStore is a store file holding events whose details carry a ClientToken and an API
// request ID, as the workflow writes them.
func auditedStore(t *testing.T) (path string, details []string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "renewbot.db")
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	details = []string{"RenewInstance cn-hangzhou 1 month(s), ClientToken rb-0123456789abcdef0123456789abcdef0",
		"order 2000001 (RequestId 6A1F-22B3)", `reason: "quoted", with a comma`, `=HYPERLINK("http://x","y")`}
	for _, d := range details {
		if err := db.Audit(store.Event{Actor: "renewbot", Action: store.ActCalled, RequestID: "R038GG02400000", InstanceIDs: []string{"i-bp1hz00001"}, Detail: d}); err != nil {
			t.Fatal(err)
		}
	}
	return path, details
}

// The CLI's history is for operators on the server: it keeps the ClientTokens and request IDs
// that Slack never shows.
func TestHistory_CLIKeepsClientTokensAndRequestIDs(t *testing.T) {
	path, _ := auditedStore(t)
	r := runCLI(t, map[string]string{"RENEWBOT_DB": path}, "", "history")
	for _, want := range []string{"ClientToken rb-0123456789abcdef0123456789abcdef0", "RequestId 6A1F-22B3"} {
		if r.code != 0 || !strings.Contains(r.out, want) {
			t.Errorf("history: exit %d, output lacks %q:\n%s%s", r.code, want, r.out, r.stderr)
		}
	}
}

// tamper rewrites the detail of audit record seq in the file, as someone editing it would.
func tamper(t *testing.T, path string, seq uint64, detail string) {
	t.Helper()
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	err = b.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket([]byte("audit"))
		c := bk.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var ev store.Event
			if err := json.Unmarshal(v, &ev); err != nil {
				return err
			}
			if ev.Seq == seq {
				ev.Detail = detail
				nv, _ := json.Marshal(ev)
				return bk.Put(k, nv)
			}
		}
		return fmt.Errorf("no record %d", seq)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestHistory_Verify(t *testing.T) {
	path, details := auditedStore(t)
	env := map[string]string{"RENEWBOT_DB": path}
	r := runCLI(t, env, "", "history", "--verify")
	if r.code != 0 || !strings.Contains(r.out, fmt.Sprintf("audit log intact: %d record(s); last record %d, hash ", len(details), len(details))) {
		t.Errorf("sound log: exit %d\n%s%s", r.code, r.out, r.stderr)
	}
	if r := runCLI(t, env, "", "history", "--verify", "--limit", "2"); r.code != exitUsage {
		t.Errorf("--verify --limit: exit %d, want %d", r.code, exitUsage)
	}

	// Through the running bot (it holds the file).
	db, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := listenAdmin(adminSocketPath(path), &adminHandler{db: db, log: discardLogger()}, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, env, "", "history", "--verify")
	admin.close(t.Context())
	db.Close()
	if r.code != 0 || !strings.Contains(r.out, "audit log intact") {
		t.Errorf("through the admin socket: exit %d\n%s%s", r.code, r.out, r.stderr)
	}

	tamper(t, path, 2, "order 2000001 was never placed")
	r = runCLI(t, env, "", "history", "--verify")
	if r.code != exitError || !strings.Contains(r.stderr, "audit log altered: record 2 ") {
		t.Errorf("altered log: exit %d, stderr %q; want exit %d naming record 2", r.code, r.stderr, exitError)
	}
}

func TestHistory_CSV(t *testing.T) {
	path, details := auditedStore(t)
	r := runCLI(t, map[string]string{"RENEWBOT_DB": path}, "", "history", "--format", "csv")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	rows, err := csv.NewReader(strings.NewReader(r.out)).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v\n%s", err, r.out)
	}
	if len(rows) != len(details)+1 || strings.Join(rows[0], ",") != "seq,time_utc,actor,action,request_id,instance_ids,detail,hash" {
		t.Fatalf("rows %q", rows)
	}
	for i, row := range rows[1:] {
		want := details[i]
		if strings.HasPrefix(want, "=") {
			want = "'" + want // a spreadsheet shows it, and does not run it
		}
		if row[0] != strconv.Itoa(i+1) || row[2] != "renewbot" || row[3] != "called" || row[4] != "R038GG02400000" || row[6] != want || len(row[7]) != 64 {
			t.Errorf("row %d: %q", i+1, row)
		}
		if _, err := time.Parse(time.RFC3339Nano, row[1]); err != nil {
			t.Errorf("row %d time %q: %v", i+1, row[1], err)
		}
	}
}
