package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/renewbot/renewbot/bot/bottest"
)

// TestPlaygroundSignedPath drives the real bot through the playground's API without a
// browser: Alice's command and Carol's and Bob's clicks become signed requests to renewbot's
// own endpoints, and what the bot answers shows on the page for the right person.
func TestPlaygroundSignedPath(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	st, err := startDemoStack(ctx, env{getenv: func(string) string { return "" }, stdout: &bytes.Buffer{}, stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	h, err := st.playgroundHandler()
	if err != nil {
		t.Fatal(err)
	}
	pg := httptest.NewServer(h)
	defer pg.Close()
	post := func(path string, body any) {
		t.Helper()
		raw, _ := json.Marshal(body)
		resp, err := http.Post(pg.URL+path, "application/json", bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var ans struct{ Status int }
		if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil || resp.StatusCode != 200 || ans.Status != 200 {
			t.Fatalf("POST %s: %d, the bot answered %d (%v)\n%s", path, resp.StatusCode, ans.Status, err, stderr.String())
		}
	}
	ephemeral := func(user, text string) bool {
		resp, err := http.Get(pg.URL + "/state")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var s struct {
			Items []struct{ Kind, User, Text string }
		}
		if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
			t.Fatal(err)
		}
		for _, it := range s.Items {
			if it.Kind == "ephemeral" && it.User == user && strings.Contains(it.Text, text) {
				return true
			}
		}
		return false
	}

	post("/command", map[string]string{"user": demoAlice, "text": "/renew " + demoInstance + " 3"})
	msg, err := st.fake.WaitFor(ctx, "chat.postMessage", 0, func(c bottest.Call) bool {
		return strings.Contains(c.Form.Get("blocks"), `"action_id":"approve"`)
	})
	if err != nil {
		t.Fatal(err)
	}
	reqID, err := approvalRequestID(msg.Form.Get("blocks"))
	if err != nil {
		t.Fatal(err)
	}
	var ts string
	for _, m := range st.fake.Messages() {
		if m.Form.Get("blocks") == msg.Form.Get("blocks") {
			ts = m.TS
		}
	}
	click := func(user string) {
		t.Helper()
		post("/action", map[string]any{"user": user, "channel": demoChannel, "ts": ts, "action": map[string]any{
			"type": "button", "action_id": "approve", "block_id": "approval.actions", "value": reqID,
			"text": map[string]string{"type": "plain_text", "text": "Approve"},
		}})
	}

	click(demoCarol)
	if _, err := st.fake.WaitFor(ctx, "response_url", 0, func(c bottest.Call) bool {
		return strings.Contains(string(c.JSON), "nly renewal approvers")
	}); err != nil {
		t.Fatal(err)
	}
	if !ephemeral(demoCarol, "nly renewal approvers can approve") {
		t.Errorf("Carol's refusal is not her ephemeral")
	}
	if ephemeral(demoBob, "nly renewal approvers") || ephemeral(demoAlice, "nly renewal approvers") {
		t.Errorf("Carol's refusal shows to someone else")
	}
	if n := len(st.sim.Orders()); n != 0 {
		t.Fatalf("%d orders after Carol's click", n)
	}

	click(demoBob)
	if _, err := st.fake.WaitFor(ctx, "chat.update", 0, func(c bottest.Call) bool {
		return strings.Contains(c.Form.Get("blocks"), "verified new expiry")
	}); err != nil {
		t.Fatal(err)
	}
	if orders := st.sim.Orders(); len(orders) != 1 || orders[0].InstanceId != demoInstance || orders[0].Period != 3 {
		t.Fatalf("orders %+v", orders)
	}
	if !ephemeral(demoAlice, "Getting a price quote") {
		t.Errorf("Alice's command ack is not her ephemeral")
	}
}
