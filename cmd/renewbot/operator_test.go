package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/ecs/ecssim"
	"github.com/renewbot/renewbot/store"
)

// slackRequest opens a renewal of id the way a Slack user does (RequestRenewal as UREQ) on
// the CLI's store file, and returns it pending.
func slackRequest(t *testing.T, env map[string]string, id string) *store.Request {
	t.Helper()
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
	r, err := wf.RequestRenewal(context.Background(), renewal.RenewalInput{Requester: "UREQ", Channel: "CRENEW", InstanceIDs: []string{id}, Months: 1})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A CLI renewal while a Slack request on the same instance waits for approval is refused,
// names that request, and orders nothing; the Slack request is left as it was.
func TestCLI_Renew_RefusedWhileSlackRequestOpen(t *testing.T) {
	sim, env := newSim(t, -1)
	pending := slackRequest(t, env, "i-soon0001")
	r := runCLI(t, env, "", "renew", "i-soon0001", "--period", "1", "--yes")
	if r.code != exitError {
		t.Errorf("exit %d, want %d", r.code, exitError)
	}
	if !strings.Contains(r.stderr, string(pending.ID)) || !strings.Contains(r.stderr, "not done") {
		t.Errorf("stderr %q does not refuse naming %s", r.stderr, pending.ID)
	}
	if n := len(sim.Orders()); n != 0 {
		t.Errorf("%d orders, want none", n)
	}
	if got := cliRequest(t, env, "i-soon0001"); got.ID != pending.ID || got.State != store.StatePending {
		t.Errorf("newest request on the instance is %s (%s), want %s still pending", got.ID, got.State, pending.ID)
	}
}

// A CLI renewal whose answer is lost (the order placed, the answer a 500 on every try) is
// read back: the CLI reports the verified expiry, and there is exactly one order.
func TestCLI_Renew_LostAnswerReadBack(t *testing.T) {
	sim, env := newSimWith(t, ecssim.Options{RenewDelay: -1, Seed: 1})
	before, _ := sim.Instance("i-soon0001")
	sim.SetFaults(ecssim.Faults{Action: "RenewInstance", LostRate: 1})
	r := runCLI(t, env, "", "renew", "i-soon0001", "--period", "2", "--yes")
	if r.code != exitOK {
		t.Fatalf("exit %d, want 0; stdout %q stderr %q", r.code, r.out, r.stderr)
	}
	if n := len(sim.Orders()); n != 1 {
		t.Errorf("%d orders, want 1", n)
	}
	after, _ := sim.Instance("i-soon0001")
	want := "verified: i-soon0001 now expires " + after.ExpiredTime.UTC().Format("2006-01-02 15:04 MST")
	if !strings.Contains(r.out, want) {
		t.Errorf("output %q, want %q", r.out, want)
	}
	if !after.ExpiredTime.After(before.ExpiredTime.Add(50 * 24 * time.Hour)) {
		t.Errorf("expiry %s, was %s: not renewed for 2 months", after.ExpiredTime, before.ExpiredTime)
	}
}

// Issue 9 item 4: a CLI renewal whose answer is lost and whose new expiry does not show
// within --verify-timeout (ecssim shows it after an hour) is unknown: exit 3, the request ID,
// "do not run it again". Before, it said "ECS API unavailable", exit 1, though the order went
// through, and a rerun after the expiry moved placed a second order. A rerun while that
// request is open is refused and names it; there is one order.
func TestCLI_Renew_LostAnswerUnknown_RerunRefused(t *testing.T) {
	sim, env := newSimWith(t, ecssim.Options{RenewDelay: time.Hour, Seed: 1})
	sim.SetFaults(ecssim.Faults{Action: "RenewInstance", LostRate: 1})
	r := runCLI(t, env, "", "renew", "i-soon0001", "--period", "1", "--yes", "--verify-timeout", "1s")
	if r.code != exitPartial {
		t.Fatalf("exit %d, want %d (unknown); stdout %q stderr %q", r.code, exitPartial, r.out, r.stderr)
	}
	req := cliRequest(t, env, "i-soon0001")
	for _, want := range []string{"unknown", string(req.ID), "do not run it again"} {
		if !strings.Contains(r.out+r.stderr, want) {
			t.Errorf("output %q %q does not say %q", r.out, r.stderr, want)
		}
	}
	if req.State != store.StateVerifying {
		t.Errorf("request %s is %v, want verifying", req.ID, req.State)
	}
	sim.SetFaults(ecssim.Faults{})
	again := runCLI(t, env, "", "renew", "i-soon0001", "--period", "1", "--yes", "--verify-timeout", "1s")
	if again.code != exitError || !strings.Contains(again.stderr, string(req.ID)) || !strings.Contains(again.stderr, "do not renew it again") {
		t.Errorf("rerun: exit %d, stderr %q; want refused naming %s", again.code, again.stderr, req.ID)
	}
	if n := len(sim.Orders()); n != 1 {
		t.Errorf("%d orders, want 1", n)
	}
}

// Issue 9 item 4: a clear refusal is "not done" (exit 1) with Alibaba's reason, nothing
// ordered, and the instance free again.
func TestCLI_Renew_ClearErrorNotRenewed(t *testing.T) {
	sim, env := newSim(t, -1)
	sim.SetFaults(ecssim.Faults{Action: "RenewInstance", ThrottleRate: 1})
	r := runCLI(t, env, "", "renew", "i-soon0001", "--period", "1", "--yes")
	if r.code != exitError || !strings.Contains(r.out, "not done: i-soon0001") || !strings.Contains(r.out, "nothing was charged") {
		t.Fatalf("exit %d, stdout %q stderr %q; want not done, nothing charged", r.code, r.out, r.stderr)
	}
	if n := len(sim.Orders()); n != 0 {
		t.Errorf("%d orders", n)
	}
	if req := cliRequest(t, env, "i-soon0001"); req.State != store.StateFailed {
		t.Errorf("request %v, want failed (the instance free)", req.State)
	}
}

// Issue 9 item 2 in the CLI: an instance whose expiry moved before the call is reported as
// not renewed with the reason (exit 1), not as unknown.
func TestReportOperatorRun_Superseded(t *testing.T) {
	var out, errOut strings.Builder
	r := &store.Request{ID: "R0001ABCD", Kind: store.KindRenew, State: store.StateSuperseded, Items: []store.Item{{
		InstanceID: "i-soon0001", State: store.ItemSuperseded,
		Error: "the expiry of i-soon0001 moved from 2026-12-01 00:00 UTC+8 to 2027-01-01 00:00 UTC+8 after the quote",
	}}}
	err := reportOperatorRun(env{stdout: &out, stderr: &errOut}, r, nil, time.UTC)
	if err == nil || errors.Is(err, errUnknown) || !strings.Contains(err.Error(), "R0001ABCD") {
		t.Errorf("error %v, want not done naming the request", err)
	}
	if !strings.Contains(out.String(), "not renewed: i-soon0001: the expiry of i-soon0001 moved") {
		t.Errorf("output %q", out.String())
	}
}
