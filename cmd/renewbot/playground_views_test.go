package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The playground's forms and Home tab work with the bot in Socket Mode too: the page's
// /renew with no text opens the request form (views.open over the stand-in), the search
// is answered in the ack, a submission posts the approval message, and opening the Home tab
// (an events_api envelope) publishes it.
func TestPlaygroundFormsAndHome_SocketMode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	st, err := startDemoStack(ctx, env{getenv: func(string) string { return "" }, stdout: &bytes.Buffer{}, stderr: &stderr}, true)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stop, err := st.servePlayground(ln, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	call := func(path string, body any) map[string]any {
		t.Helper()
		raw, _ := json.Marshal(body)
		resp, err := http.Post(st.pageURL+path, "application/json", bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var out map[string]any
		_ = json.Unmarshal(b, &out)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: %d %s\nbot stderr:\n%s", path, raw, resp.StatusCode, b, stderr.String())
		}
		return out
	}
	type pageState struct {
		Items []struct {
			Text   string          `json:"text"`
			Blocks json.RawMessage `json:"blocks"`
		} `json:"items"`
		Modals []struct {
			ID, User string
		} `json:"modals"`
		Homes map[string]struct {
			View json.RawMessage `json:"view"`
		} `json:"homes"`
	}
	waitState := func(what string, ok func(pageState) bool) pageState {
		t.Helper()
		for {
			ch := st.fake.Changed()
			resp, err := http.Get(st.pageURL + "state")
			if err != nil {
				t.Fatal(err)
			}
			var s pageState
			_ = json.NewDecoder(resp.Body).Decode(&s)
			resp.Body.Close()
			if ok(s) {
				return s
			}
			select {
			case <-ch:
			case <-ctx.Done():
				t.Fatalf("waiting for %s: %v\nbot stderr:\n%s", what, ctx.Err(), stderr.String())
			}
		}
	}

	call("command", map[string]string{"user": "U01ALICE", "text": "/renew"})
	s := waitState("the request form", func(s pageState) bool { return len(s.Modals) == 1 && s.Modals[0].User == "U01ALICE" })
	view := s.Modals[0].ID
	ans := call("view", map[string]any{"user": "U01ALICE", "view_id": view, "kind": "suggest", "block_id": "instance", "action_id": "instance_pick", "query": "mysql"})
	if opts, _ := ans["options"].([]any); len(opts) != 1 || !strings.Contains(toJSON(opts), "i-bp1demodb001") {
		t.Fatalf("search mysql: %v", ans)
	}
	vals := map[string]map[string]string{"instance": {"instance_pick": "i-bp1demodb001"}, "period": {"period_pick": "2"}}
	if ans = call("view", map[string]any{"user": "U01ALICE", "view_id": view, "kind": "submit", "values": vals}); ans["errors"] != nil {
		t.Fatalf("submit: %v", ans)
	}
	waitState("the approval message", func(s pageState) bool {
		for _, it := range s.Items {
			if strings.Contains(string(it.Blocks), "i-bp1demodb001") && strings.Contains(string(it.Blocks), "Approve") {
				return true
			}
		}
		return false
	})
	call("home", map[string]string{"user": "U02BOB"})
	waitState("Bob's Home tab with the request waiting", func(s pageState) bool {
		h, ok := s.Homes["U02BOB"]
		return ok && strings.Contains(string(h.View), "Waiting for your approval (1)")
	})
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
