package main

import (
	"context"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/ecs/ecssim"
	"github.com/renewbot/renewbot/store"
)

// renewCalls records the RenewInstance parameters ecssim receives.
type renewCalls struct {
	mu    sync.Mutex
	calls []url.Values
}

func (c *renewCalls) hook(action string, p url.Values) {
	if action == "RenewInstance" {
		c.mu.Lock()
		c.calls = append(c.calls, p)
		c.mu.Unlock()
	}
}

func (c *renewCalls) all() []url.Values {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]url.Values(nil), c.calls...)
}

// Issue 12 §4: renewbot align ID,ID --day N asks first, then renews both instances to the day
// in one request (cli:$USER, no approval), once each with ExpectedRenewDay and the request's
// ClientToken, and prints each verified expiry.
func TestCLI_Align(t *testing.T) {
	var calls renewCalls
	sim, env := newSimWith(t, ecssim.Options{RenewDelay: -1, Hook: calls.hook})
	env["USER"] = "carol"
	before := map[string]time.Time{}
	for _, id := range []string{"i-soon0001", "i-auto0002"} {
		in, _ := sim.Instance(id)
		before[id] = in.ExpiredTime
	}

	r := runCLI(t, env, "n\n", "align", "i-soon0001,i-auto0002", "--day", "15")
	if r.code != exitError || !strings.Contains(r.out, "Renew 2 instance(s) to day 15 of the month for ¥") || !strings.Contains(r.stderr, "not confirmed") {
		t.Fatalf("not confirmed: exit %d out %q stderr %q", r.code, r.out, r.stderr)
	}
	for id, t0 := range before {
		want := "→ " + renewal.FormatTime(ecs.AlignedExpiry(t0, 15), time.UTC)
		if !strings.Contains(r.out, id) || !strings.Contains(r.out, want) {
			t.Errorf("quote %q does not show %s %s", r.out, id, want)
		}
	}
	if len(calls.all()) != 0 {
		t.Fatal("renewed without confirmation")
	}

	r = runCLI(t, env, "y\n", "align", "i-soon0001,i-auto0002", "--day", "15")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s %s", r.code, r.out, r.stderr)
	}
	req := cliRequest(t, env, "i-soon0001")
	if req.Requester != "cli:carol" || req.State != store.StateDone || req.ExpectedRenewDay != 15 || len(req.Items) != 2 {
		t.Fatalf("request %+v", req)
	}
	got := calls.all()
	if len(got) != 2 {
		t.Fatalf("%d RenewInstance calls, want 2", len(got))
	}
	for _, p := range got {
		if p.Get("ExpectedRenewDay") != "15" || p.Has("Period") || p.Get("ClientToken") != req.ClientToken(p.Get("InstanceId")) {
			t.Errorf("RenewInstance %v", p)
		}
	}
	for id, t0 := range before {
		want := ecs.AlignedExpiry(t0, 15)
		after, _ := sim.Instance(id)
		if !after.ExpiredTime.Equal(want) || !strings.Contains(r.out, "verified: "+id+" now expires "+renewal.FormatTime(want, time.UTC)) {
			t.Errorf("%s: ecssim %v, output %q; want %v", id, after.ExpiredTime, r.out, want)
		}
	}
}

// Bad days and arguments are usage errors; expired, pay-as-you-go and unknown instances are
// refused before anything is quoted or stored.
func TestCLI_AlignRefused(t *testing.T) {
	sim, env := newSim(t, -1)
	sim.AddInstances(ecssim.FleetInstance{InstanceId: "i-gone0005", RegionId: "cn-hangzhou", ExpiredTime: time.Now().Add(-48 * time.Hour).Truncate(time.Minute), MonthlyPrice: 10})
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"align", "i-soon0001"}, exitUsage, "--day: is required"},
		{[]string{"align", "i-soon0001", "--day", "29"}, exitUsage, "from 1 to 28"},
		{[]string{"align", "i-soon0001", "--day", "x"}, exitUsage, "from 1 to 28"},
		{[]string{"align", "--day", "5"}, exitUsage, "usage: align"},
		{[]string{"align", "web-1", "--day", "5"}, exitUsage, "not an instance ID"},
		{[]string{"align", "i-gone0005", "--day", "5", "--yes"}, exitError, "only unexpired instances"},
		{[]string{"align", "i-payg0004", "--day", "5", "--yes"}, exitError, "pay-as-you-go"},
		{[]string{"align", "i-missing99", "--day", "5", "--yes"}, exitError, "i-missing99"},
	} {
		r := runCLI(t, env, "", tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d stderr %q; want %d and %q", tc.args, r.code, r.stderr, tc.code, tc.want)
		}
	}
	if n := sim.Calls()["DescribeRenewalPrice"] + sim.Calls()["RenewInstance"]; n != 0 {
		t.Errorf("%d quotes or renewals", n)
	}
	if _, err := os.Stat(env["RENEWBOT_DB"]); !os.IsNotExist(err) {
		t.Errorf("a store was written (%v)", err)
	}
}

// While serve holds the store, renewbot align goes through its admin socket: serve's
// workflow runs it, on the same store.
func TestCLI_AlignThroughAdminSocket(t *testing.T) {
	sim, env := newSim(t, -1)
	db, err := store.Open(env["RENEWBOT_DB"], store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := ecs.New(ecs.Config{Regions: strings.Split(env["RENEWBOT_REGIONS"], ","), Endpoint: env["RENEWBOT_ECS_ENDPOINT"],
		AccessKeyID: "testid", AccessKeySecret: "testsecret"})
	if err != nil {
		t.Fatal(err)
	}
	wf, err := renewal.NewWorkflow(renewal.WorkflowConfig{Cloud: cl, Store: db})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := listenAdmin(adminSocketPath(env["RENEWBOT_DB"]), &adminHandler{db: db, workflow: wf, log: discardLogger()}, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, env, "", "align", "i-soon0001", "--day", "3", "--yes")
	admin.close(context.Background())
	db.Close()
	if r.code != exitOK || !strings.Contains(r.stderr, "renewbot serve is running on this store") {
		t.Fatalf("exit %d out %q stderr %q", r.code, r.out, r.stderr)
	}
	if req := cliRequest(t, env, "i-soon0001"); req.ExpectedRenewDay != 3 || req.State != store.StateDone {
		t.Errorf("request %+v", req)
	}
	if o := sim.Orders(); len(o) != 1 {
		t.Errorf("orders %+v", o)
	}
}
