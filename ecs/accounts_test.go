package ecs_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/ecs/ecssim"
)

// twoAccounts starts one emulator per account ("prod" and "dev", each seeing only its own
// instances) and returns the account set.
func twoAccounts(t *testing.T) (*ecs.Accounts, *ecssim.Server, *ecssim.Server) {
	t.Helper()
	prodFleet := ecssim.Fleet{Balance: 1000, Currency: "CNY", Instances: []ecssim.FleetInstance{
		instance("i-prod1", "cn-hangzhou", 3), instance("i-prod2", "cn-shanghai", 20)}}
	devFleet := ecssim.Fleet{Balance: 50, Currency: "CNY", Instances: []ecssim.FleetInstance{
		instance("i-dev1", "cn-hangzhou", 5)}}
	regions := []string{"cn-hangzhou", "cn-shanghai"}
	prod := newSim(t, ecssim.Options{Fleet: prodFleet, Regions: regions, RenewDelay: -1}, nil)
	dev := newSim(t, ecssim.Options{Fleet: devFleet, Regions: regions, RenewDelay: -1}, nil)
	cfg := func(name string, sim *ecssim.Server) ecs.Config {
		return ecs.Config{Account: name, Endpoint: sim.URL, AccessKeyID: "testid", AccessKeySecret: "testsecret",
			Regions: regions, Timeout: 5 * time.Second,
			Retry: ecs.RetryPolicy{Attempts: 2, Base: time.Millisecond, Max: time.Millisecond}, Sleep: noWait}
	}
	a, err := ecs.NewAccounts([]ecs.Config{cfg("prod", prod), cfg("dev", dev)})
	if err != nil {
		t.Fatal(err)
	}
	return a, prod, dev
}

func TestAccountsLookupInEveryAccount(t *testing.T) {
	a, _, _ := twoAccounts(t)
	ctx := context.Background()
	refs := []ecs.Ref{{ID: "i-dev1"}, {ID: "i-prod2"}, {Account: "prod", ID: "i-prod1"}}
	got, err := a.LookupRefs(ctx, refs)
	if err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	var seen []string
	for _, in := range got {
		seen = append(seen, in.Account+":"+in.ID)
	}
	if strings.Join(seen, " ") != "dev:i-dev1 prod:i-prod2 prod:i-prod1" {
		t.Fatalf("Lookup = %v, want each instance with its account, in the order asked", seen)
	}

	// ACCOUNT:ID only looks in that account.
	got, err = a.LookupRefs(ctx, []ecs.Ref{{Account: "dev", ID: "i-prod1"}})
	if !errors.Is(err, ecs.ErrNotFound) || len(got) != 0 || !strings.Contains(err.Error(), "dev:i-prod1") {
		t.Fatalf("dev:i-prod1 = %v, %v; want not found, named", got, err)
	}
	// An unknown account is named.
	if _, err := a.LookupRefs(ctx, []ecs.Ref{{Account: "staging", ID: "i-prod1"}}); err == nil || !strings.Contains(err.Error(), `"staging"`) {
		t.Fatalf("unknown account: err = %v", err)
	}
}

func TestAccountsFailingAccountHidesNoOther(t *testing.T) {
	a, _, dev := twoAccounts(t)
	dev.SetFaults(ecssim.Faults{ErrorRate: 1})
	ctx := context.Background()
	scan, err := a.Expiring(ctx, t0, t0.Add(30*24*time.Hour))
	if err != nil {
		t.Fatalf("Expiring: %v", err)
	}
	if len(scan.Instances) != 2 || scan.Instances[0].Account != "prod" {
		t.Fatalf("instances = %+v, want prod's two", scan.Instances)
	}
	if len(scan.Failed) != 2 {
		t.Fatalf("failed = %v, want dev's two regions", scan.Failed)
	}
	for _, f := range scan.Failed {
		if f.Account != "dev" || !strings.HasPrefix(f.Error(), "dev:cn-") {
			t.Errorf("failure %q does not name the dev account", f.Error())
		}
	}
	// A lookup of a prod instance still works; one of a dev instance says why it failed.
	if got, err := a.LookupRefs(ctx, []ecs.Ref{{ID: "i-prod1"}}); err != nil || len(got) != 1 {
		t.Fatalf("Lookup(i-prod1) with dev failing = %v, %v", got, err)
	}
	_, err = a.LookupRefs(ctx, []ecs.Ref{{ID: "i-dev1"}})
	if err == nil || !strings.Contains(err.Error(), "account dev") {
		t.Fatalf("Lookup(i-dev1) with dev failing: err = %v, want the dev account's failure", err)
	}
}

func TestNewAccountsRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfgs []ecs.Config
		want string
	}{
		{"none", nil, "no account"},
		{"unnamed among many", []ecs.Config{{Account: "a"}, {}}, "needs a name"},
		{"twice", []ecs.Config{{Account: "a"}, {Account: "a"}}, "twice"},
		{"bad role", []ecs.Config{{Account: "a", Role: &ecs.Role{ARN: "arn:aws:iam::1:role/x"}}}, "not a RAM role ARN"},
		{"short role", []ecs.Config{{Account: "a", Role: &ecs.Role{ARN: "acs:ram::1:role/x", Duration: time.Minute}}}, "from 15m to 12h"},
		{"http sts", []ecs.Config{{Account: "a", Role: &ecs.Role{ARN: "acs:ram::1:role/x", STSEndpoint: "http://127.0.0.1:1"}}}, "HTTPS only"},
		{"bad pace", []ecs.Config{{Account: "a", RateLimit: ecs.RateLimit{PerSecond: -1}}}, "calls per second"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ecs.NewAccounts(tc.cfgs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestParseRef(t *testing.T) {
	for in, want := range map[string]string{"i-abc": "i-abc", "prod:i-abc": "prod:i-abc", "a.b-c_d:i-x1": "a.b-c_d:i-x1"} {
		r, err := ecs.ParseRef(in)
		if err != nil || r.String() != want {
			t.Errorf("ParseRef(%q) = %v, %v", in, r, err)
		}
	}
	for _, in := range []string{"", "prod:", ":i-abc", "pr od:i-abc", "prod:i-ABC", "a:b:i-abc", "i-"} {
		if r, err := ecs.ParseRef(in); err == nil {
			t.Errorf("ParseRef(%q) = %v, want an error", in, r)
		}
	}
}

func TestPacingWaitThatOutlastsTheDeadlineFailsAtOnce(t *testing.T) {
	sim := newSim(t, ecssim.Options{Fleet: smallFleet()}, nil)
	// One call per 1000 s: the second DescribeInstances in cn-hangzhou would wait.
	c := newClient(t, sim, nil, func(cfg *ecs.Config) {
		cfg.Regions = []string{"cn-hangzhou"}
		cfg.RateLimit = ecs.RateLimit{PerSecond: 100, Burst: 1, Actions: map[string]float64{"DescribeInstances": 0.001}}
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.Lookup(ctx, []string{"i-a"}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := c.Lookup(ctx, []string{"i-b"})
	if err == nil || !strings.Contains(err.Error(), "pace") {
		t.Fatalf("second lookup: err = %v, want the pacing refusal", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("the refused wait took %s", took)
	}
}

func TestAccountsRouteEachCallToTheInstancesAccount(t *testing.T) {
	a, prod, dev := twoAccounts(t)
	ctx := context.Background()
	// Not looked up yet: the account is found first, then asked.
	q, err := a.Quote(ctx, "cn-hangzhou", "i-dev1", 1)
	if err != nil || q.Trade <= 0 {
		t.Fatalf("Quote(i-dev1) = %+v, %v", q, err)
	}
	if dev.Calls()["DescribeRenewalPrice"] != 1 || prod.Calls()["DescribeRenewalPrice"] != 0 {
		t.Fatalf("DescribeRenewalPrice went to dev %d, prod %d times", dev.Calls()["DescribeRenewalPrice"], prod.Calls()["DescribeRenewalPrice"])
	}
	if _, err := a.Renew(ctx, ecs.RenewInput{InstanceID: "i-prod1", RegionID: "cn-hangzhou", Months: 1, ClientToken: "tok-prod1"}); err != nil {
		t.Fatal(err)
	}
	if len(prod.Orders()) != 1 || len(dev.Orders()) != 0 {
		t.Fatalf("orders: prod %d, dev %d; want the renewal paid by prod only", len(prod.Orders()), len(dev.Orders()))
	}
	inst, _ := prod.Instance("i-prod1")
	seen, err := a.Verify(ctx, "cn-hangzhou", map[string]time.Time{"i-prod1": inst.ExpiredTime})
	if err != nil || !seen["i-prod1"].Equal(inst.ExpiredTime) {
		t.Fatalf("Verify = %v, %v", seen, err)
	}
	// One change over two accounts: one call in each.
	if _, err := a.SetAutoRenew(ctx, "cn-hangzhou", []string{"i-prod1", "i-dev1"}, ecs.AutoRenewChange{Status: ecs.AutoRenewal, Duration: 1}); err != nil {
		t.Fatal(err)
	}
	if prod.Calls()["ModifyInstanceAutoRenewAttribute"] != 1 || dev.Calls()["ModifyInstanceAutoRenewAttribute"] != 1 {
		t.Fatalf("ModifyInstanceAutoRenewAttribute: prod %d, dev %d", prod.Calls()["ModifyInstanceAutoRenewAttribute"], dev.Calls()["ModifyInstanceAutoRenewAttribute"])
	}
	got, err := a.AutoRenew(ctx, "cn-hangzhou", []string{"i-prod1", "i-dev1"})
	if err != nil || got["i-prod1"].Status != ecs.AutoRenewal || got["i-dev1"].Status != ecs.AutoRenewal {
		t.Fatalf("AutoRenew = %+v, %v", got, err)
	}
	// An ID in no account is an error, and nothing is called for it.
	if _, err := a.Quote(ctx, "cn-hangzhou", "i-nowhere", 1); !errors.Is(err, ecs.ErrNotFound) {
		t.Fatalf("Quote(i-nowhere): %v", err)
	}
}
