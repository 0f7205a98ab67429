package main

import (
	"path/filepath"
	"strings"
	"testing"

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
		"order 2000001 (RequestId 6A1F-22B3)", `reason: "=HYPERLINK(1)", with a comma`}
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
