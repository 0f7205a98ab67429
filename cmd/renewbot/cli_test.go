package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/ecs/ecssim"
	"github.com/renewbot/renewbot/store"
)

// testFleet is a small fleet in two regions, relative to the wall clock (the CLI uses it).
func testFleet(now time.Time) ecssim.Fleet {
	at := func(d time.Duration) time.Time { return now.Add(d).Truncate(time.Minute) }
	day := 24 * time.Hour
	return ecssim.Fleet{Balance: 100000, Currency: "CNY", Instances: []ecssim.FleetInstance{
		{InstanceId: "i-soon0001", InstanceName: "web-1", RegionId: "cn-hangzhou", ExpiredTime: at(5 * day), MonthlyPrice: 100, RenewalStatus: "Normal"},
		{InstanceId: "i-auto0002", InstanceName: "db-1", RegionId: "cn-shanghai", ExpiredTime: at(12 * day), MonthlyPrice: 300, RenewalStatus: "AutoRenewal", Duration: 1},
		{InstanceId: "i-later003", InstanceName: "batch", RegionId: "cn-hangzhou", ExpiredTime: at(90 * day), MonthlyPrice: 50},
		{InstanceId: "i-payg0004", InstanceName: "spot", RegionId: "cn-shanghai", InstanceChargeType: "PostPaid"},
	}}
}

// newSim starts ecssim and returns it with the environment that points the CLI at it.
func newSim(t *testing.T, renewDelay time.Duration) (*ecssim.Server, map[string]string) {
	t.Helper()
	return newSimWith(t, ecssim.Options{RenewDelay: renewDelay})
}

// newSimWith starts ecssim with opts and the test fleet.
func newSimWith(t *testing.T, opts ecssim.Options) (*ecssim.Server, map[string]string) {
	t.Helper()
	opts.Fleet = testFleet(time.Now())
	sim := ecssim.NewServer(opts)
	t.Cleanup(sim.Close)
	return sim, map[string]string{
		"RENEWBOT_DB":                     filepath.Join(t.TempDir(), "renewbot.db"),
		"RENEWBOT_ECS_ENDPOINT":           sim.URL,
		"RENEWBOT_REGIONS":                "cn-hangzhou,cn-shanghai",
		"ALIBABA_CLOUD_ACCESS_KEY_ID":     "testid",
		"ALIBABA_CLOUD_ACCESS_KEY_SECRET": "testsecret",
		"RENEWBOT_TIMEZONE":               "UTC",
	}
}

type result struct {
	code        int
	out, stderr string
}

func runCLI(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(t.Context(), args, getenvOf(env), strings.NewReader(stdin), &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

func TestCLI_Expiring(t *testing.T) {
	_, env := newSim(t, -1)

	r := runCLI(t, env, "", "expiring", "--within", "30d")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"INSTANCE", "i-soon0001", "web-1", "i-auto0002", "on (1 month(s))", "off"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("table lacks %q:\n%s", want, r.out)
		}
	}
	for _, not := range []string{"i-later003", "i-payg0004"} {
		if strings.Contains(r.out, not) {
			t.Errorf("table has %s:\n%s", not, r.out)
		}
	}

	r = runCLI(t, env, "", "expiring", "--within=30d", "--format", "json")
	var rows []instanceRow
	if err := json.Unmarshal([]byte(r.out), &rows); err != nil || r.code != 0 {
		t.Fatalf("json: %v, exit %d: %s", err, r.code, r.out)
	}
	if len(rows) != 2 || rows[0].InstanceID != "i-soon0001" || rows[0].DaysLeft != 4 && rows[0].DaysLeft != 5 || rows[1].AutoRenew != "AutoRenewal" {
		t.Errorf("rows %+v", rows)
	}

	env["RENEWBOT_WINDOW"] = "120d" // the environment twin of --within
	env["RENEWBOT_FORMAT"] = "csv"
	r = runCLI(t, env, "", "expiring")
	recs, err := csv.NewReader(strings.NewReader(r.out)).ReadAll()
	if err != nil || r.code != 0 {
		t.Fatalf("csv: %v, exit %d: %s", err, r.code, r.out)
	}
	if len(recs) != 4 || recs[0][0] != "instance_id" || recs[3][0] != "i-later003" {
		t.Errorf("csv %v", recs)
	}
}

func TestCLI_Expiring_FailedRegion(t *testing.T) {
	_, env := newSim(t, -1)
	env["RENEWBOT_REGIONS"] = "cn-hangzhou,eu-nowhere-1"
	r := runCLI(t, env, "", "expiring")
	if r.code != exitPartial {
		t.Fatalf("exit %d, want %d: %s", r.code, exitPartial, r.stderr)
	}
	if !strings.Contains(r.out, "i-soon0001") || !strings.Contains(r.stderr, "region eu-nowhere-1 could not be read") {
		t.Errorf("out %q stderr %q", r.out, r.stderr)
	}
}

func TestCLI_Quote(t *testing.T) {
	_, env := newSim(t, -1)
	r := runCLI(t, env, "", "quote", "i-soon0001", "--period", "3")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.out, "i-soon0001 (web-1, cn-hangzhou): renew for 3 month(s): ¥") {
		t.Errorf("quote %q", r.out)
	}
	r = runCLI(t, env, "", "quote", "i-payg0004")
	if r.code != exitError || !strings.Contains(r.stderr, "pay-as-you-go") {
		t.Errorf("pay-as-you-go: exit %d %q", r.code, r.stderr)
	}
	r = runCLI(t, env, "", "quote", "i-missing99")
	if r.code != exitError || !strings.Contains(r.stderr, "i-missing99") {
		t.Errorf("unknown: exit %d %q", r.code, r.stderr)
	}
}

func TestCLI_Renew(t *testing.T) {
	sim, env := newSim(t, -1)
	env["USER"] = "carol"
	before, _ := sim.Instance("i-soon0001")

	// Not confirmed: nothing is bought.
	r := runCLI(t, env, "n\n", "renew", "i-soon0001", "--period", "3")
	if r.code != exitError || !strings.Contains(r.out, "Renew i-soon0001 for 3 month(s) for ¥") || !strings.Contains(r.stderr, "not confirmed") {
		t.Fatalf("exit %d out %q stderr %q", r.code, r.out, r.stderr)
	}
	r = runCLI(t, env, "", "renew", "i-soon0001", "--period", "3")
	if r.code != exitError || !strings.Contains(r.stderr, "use --yes") {
		t.Fatalf("no answer: exit %d stderr %q", r.code, r.stderr)
	}
	if n := len(sim.Orders()); n != 0 {
		t.Fatalf("%d orders without confirmation", n)
	}

	r = runCLI(t, env, "y\n", "renew", "i-soon0001", "--period", "3")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	orders := sim.Orders()
	if len(orders) != 1 {
		t.Fatalf("orders %+v", orders)
	}
	o := orders[0]
	if o.InstanceId != "i-soon0001" || o.Period != 3 {
		t.Errorf("order of %s for %d months, want i-soon0001 for 3", o.InstanceId, o.Period)
	}
	req := cliRequest(t, env, "i-soon0001")
	if want := req.ClientToken("i-soon0001"); o.ClientToken != want {
		t.Errorf("ClientToken %s, want %s, the one derived from request %s", o.ClientToken, want, req.ID)
	}
	if req.Requester != "cli:"+env["USER"] || req.State != store.StateDone {
		t.Errorf("request %s by %s is %s; want one by cli:%s, done", req.ID, req.Requester, req.State, env["USER"])
	}
	// Alibaba adds calendar months, keeping the day or taking the month's last (Nov 30 + 3
	// months = Feb 28); ecssim may still add them like time.AddDate (Mar 2): either is verified.
	want := ecs.AddMonths(before.ExpiredTime, 3).UTC().Format("2006-01-02 15:04 MST")
	simWant := before.ExpiredTime.AddDate(0, 3, 0).UTC().Format("2006-01-02 15:04 MST")
	if !strings.Contains(r.out, "OrderId "+o.OrderId) || (!strings.Contains(r.out, "verified: i-soon0001 now expires "+want) &&
		!strings.Contains(r.out, "verified: i-soon0001 now expires "+simWant)) {
		t.Errorf("output %q, want OrderId %s and expiry %s", r.out, o.OrderId, want)
	}
	if !strings.Contains(r.out, "→ "+ecs.AddMonths(before.ExpiredTime, 3).In(time.UTC).Format("2006-01-02 15:04 MST")) {
		t.Errorf("quote in %q does not project the expiry with calendar months", r.out)
	}
}

// TestCLI_Renew_NotVisibleInTime: the new expiry does not show before --verify-timeout: the
// CLI says the outcome is unknown (exit 3), names the request and says not to run it again.
func TestCLI_Renew_NotVisibleInTime(t *testing.T) {
	sim, env := newSim(t, time.Hour)
	env["RENEWBOT_VERIFY_TIMEOUT"] = "200ms"
	r := runCLI(t, env, "", "renew", "i-soon0001", "--period", "1", "--yes")
	if r.code != exitPartial {
		t.Fatalf("exit %d, want %d; stderr %q", r.code, exitPartial, r.stderr)
	}
	orders := sim.Orders()
	if len(orders) != 1 {
		t.Fatalf("%d orders, want 1", len(orders))
	}
	req := cliRequest(t, env, "i-soon0001")
	for _, want := range []string{string(req.ID), "do not run it again"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr %q does not say %q", r.stderr, want)
		}
	}
	if !strings.Contains(r.out, "unknown: i-soon0001: OrderId "+orders[0].OrderId) {
		t.Errorf("output %q does not name the order %s", r.out, orders[0].OrderId)
	}
}

// cliRequest is the newest request on instance id in the CLI's store.
func cliRequest(t *testing.T, env map[string]string, id string) *store.Request {
	t.Helper()
	db, err := store.Open(env["RENEWBOT_DB"], store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rs, err := db.ListRequests()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if slices.Contains(r.InstanceIDs(), id) {
			return r
		}
	}
	t.Fatalf("no request on %s", id)
	return nil
}

func TestCLI_AutoRenew(t *testing.T) {
	sim, env := newSim(t, -1)
	r := runCLI(t, env, "", "autorenew", "get", "i-soon0001,i-auto0002")
	if r.code != 0 || !strings.Contains(r.out, "i-soon0001") || !strings.Contains(r.out, "on (1 month(s))") {
		t.Fatalf("get: exit %d %q %q", r.code, r.out, r.stderr)
	}

	r = runCLI(t, env, "", "autorenew", "set", "i-soon0001", "--on", "--duration", "3")
	if r.code != 0 || !strings.Contains(r.out, "auto-renew set to on (3 month(s))") {
		t.Fatalf("set on: exit %d %q %q", r.code, r.out, r.stderr)
	}
	if in, _ := sim.Instance("i-soon0001"); in.RenewalStatus != "AutoRenewal" || in.Duration != 3 {
		t.Errorf("after --on: %+v", in)
	}
	r = runCLI(t, env, "", "autorenew", "set", "i-soon0001,i-auto0002", "--never")
	if r.code != 0 || strings.Count(r.out, "NEVER") < 2 {
		t.Fatalf("set never: exit %d %q %q", r.code, r.out, r.stderr)
	}
	r = runCLI(t, env, "", "autorenew", "set", "i-auto0002", "--off")
	if in, _ := sim.Instance("i-auto0002"); r.code != 0 || in.RenewalStatus != "Normal" {
		t.Errorf("after --off: exit %d %+v %s", r.code, in, r.stderr)
	}
	r = runCLI(t, env, "", "autorenew", "set", "i-payg0004", "--off")
	if r.code != exitError || !strings.Contains(r.stderr, "nothing changed") {
		t.Errorf("pay-as-you-go: exit %d %q", r.code, r.stderr)
	}
	if sim.Calls()["RenewInstance"] != 0 {
		t.Error("autorenew bought something")
	}
}

// --within and --period take what /renew takes: one parser each, 1h to 365d and 1-9 or 12
// months.
func TestCLI_SharedParsers(t *testing.T) {
	_, env := newSim(t, -1)
	if r := runCLI(t, env, "", "expiring", "--within", "2w"); r.code != exitOK || !strings.Contains(r.out, "i-soon0001") || strings.Contains(r.out, "i-later003") {
		t.Errorf("--within 2w: exit %d, out %q, stderr %q", r.code, r.out, r.stderr)
	}
	if r := runCLI(t, env, "", "expiring", "--within", "400d"); r.code != exitUsage || !strings.Contains(r.stderr, "at most 365d") {
		t.Errorf("--within 400d: exit %d, stderr %q; want %d and at most 365d", r.code, r.stderr, exitUsage)
	}
	if r := runCLI(t, env, "", "quote", "i-soon0001", "--period", "1y"); r.code != exitOK || !strings.Contains(r.out, "renew for 12 month(s)") {
		t.Errorf("--period 1y: exit %d, out %q, stderr %q", r.code, r.out, r.stderr)
	}
	if r := runCLI(t, env, "", "quote", "i-soon0001", "--period", "2y"); r.code != exitUsage || !strings.Contains(r.stderr, "24 months is not possible") {
		t.Errorf("--period 2y: exit %d, stderr %q", r.code, r.stderr)
	}
}
