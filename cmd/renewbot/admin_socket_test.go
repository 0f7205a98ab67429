package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/store"
)

// An operator call over the admin socket cannot date or number what it records: a client
// that adds a 2020 time and its own sequence to the call gets events at the server's time, in
// the server's order.
func TestAdminSocket_ServerSetsTimeAndSequence(t *testing.T) {
	_, env := newSim(t, -1)
	db, err := store.Open(env["RENEWBOT_DB"], store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cl, err := ecs.New(ecs.Config{Regions: strings.Split(env["RENEWBOT_REGIONS"], ","), Endpoint: env["RENEWBOT_ECS_ENDPOINT"],
		AccessKeyID: "testid", AccessKeySecret: "testsecret"})
	if err != nil {
		t.Fatal(err)
	}
	wf, err := renewal.NewWorkflow(renewal.WorkflowConfig{Cloud: cl, Store: db, Policy: renewal.Policy{Approvers: []string{"UAPPROVER"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Audit(store.Event{Action: store.ActSnoozed, Actor: "UEARLIER", Detail: "before the call"}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(&adminHandler{db: db, workflow: wf, log: discardLogger()})
	defer srv.Close()
	before := time.Now()
	body := `{"actor":"cli:mallory","instance_ids":["i-soon0001"],"mode":2,"time":"2020-01-01T00:00:00Z","Time":"2020-01-01T00:00:00Z","seq":1,"Seq":1}`
	resp, err := http.Post(srv.URL+"/autorenew", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var res operatorResult
	err = json.NewDecoder(resp.Body).Decode(&res)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || res.Error != "" || res.Request == nil {
		t.Fatalf("status %d, result %+v (%v)", resp.StatusCode, res, err)
	}
	evs, err := db.History(store.HistoryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) < 2 || evs[0].Actor != "UEARLIER" {
		t.Fatalf("history %+v: the earlier event is not first", evs)
	}
	recorded := 0
	for i, ev := range evs[1:] {
		if ev.Actor != "cli:mallory" {
			continue
		}
		recorded++
		if ev.Time.Before(before.Add(-time.Second)) || ev.Seq <= evs[i].Seq {
			t.Errorf("event %d (%s) at %v, seq %d: the client chose its time or order", i+1, ev.Action, ev.Time, ev.Seq)
		}
	}
	if recorded == 0 {
		t.Errorf("no event of the operator's call in %+v", evs)
	}
}

// The admin socket is never reachable with looser permissions than 0600: it is bound in a
// private (0700) folder, made 0600 and only then linked at its path.
func TestAdminSocket_PrivateFromTheStart(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "renewbot.db.sock")
	checked := false
	s, err := listenAdminHooked(sock, http.NotFoundHandler(), discardLogger(), func(tmp string) {
		checked = true
		if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the socket is at its path before it is private: %v", err)
		}
		if fi, err := os.Stat(filepath.Dir(tmp)); err != nil || fi.Mode().Perm() != 0o700 || filepath.Dir(filepath.Dir(tmp)) != dir {
			t.Errorf("bound in %s (%v, %v), want a 0700 folder next to the store", filepath.Dir(tmp), fi.Mode(), err)
		}
		if fi, err := os.Lstat(tmp); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("socket mode %v (%v) before it is linked, want 0600", fi.Mode(), err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if !checked {
		t.Fatal("the bound hook was not called")
	}
	fi, err := os.Lstat(sock)
	if err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket %v (%v), want a 0600 socket", fi.Mode(), err)
	}
	if c, err := net.Dial("unix", sock); err != nil {
		t.Errorf("the socket at its path does not answer: %v", err)
	} else {
		c.Close()
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("folder holds %d entries, want the socket only (the private folder removed)", len(entries))
	}
	s.close(t.Context())
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left after close: %v", err)
	}
}

// serve refuses a socket path it did not create: a regular file, or a socket another process
// answers on, is left alone with a message saying so; serve itself does not start beside it.
func TestAdminSocket_RefusesAPathItDidNotCreate(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain.sock")
	if err := os.WriteFile(plain, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := listenAdmin(plain, http.NotFoundHandler(), discardLogger())
	if !errors.Is(err, errSocketTaken) || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("regular file: err = %v, want errSocketTaken saying it is not a socket", err)
	}
	if b, _ := os.ReadFile(plain); !bytes.Equal(b, []byte("keep me")) {
		t.Error("the regular file was changed")
	}

	// Another process's socket, still answering.
	live := filepath.Join(dir, "renewbot.db.sock")
	other, err := net.Listen("unix", live)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	go func() {
		for {
			c, err := other.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, err = listenAdmin(live, http.NotFoundHandler(), discardLogger())
	if !errors.Is(err, errSocketTaken) || !strings.Contains(err.Error(), "another process answers") {
		t.Errorf("live socket: err = %v, want errSocketTaken saying another process answers", err)
	}
	if c, err := net.Dial("unix", live); err != nil {
		t.Errorf("the other process's socket was taken over: %v", err)
	} else {
		c.Close()
	}

	// serve on that store refuses to start, naming the socket.
	_, env := newSim(t, -1)
	env["RENEWBOT_DB"] = filepath.Join(dir, "renewbot.db")
	env["SLACK_BOT_TOKEN"] = testBotToken
	env["SLACK_SIGNING_SECRET"] = testSecret
	env["SLACK_API_URL"] = "http://127.0.0.1:1"
	env["RENEWBOT_LISTEN"] = "127.0.0.1:0"
	env["RENEWBOT_APPROVERS"] = "UAPPROVER"
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	code := run(ctx, []string{"serve"}, getenvOf(env), strings.NewReader(""), &out, &errOut)
	if code == 0 || !strings.Contains(errOut.String(), "another process answers on "+live) {
		t.Errorf("serve beside another process's socket: exit %d, stderr %q", code, errOut.String())
	}
}
