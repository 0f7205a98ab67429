package main

import (
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/ecs/ecssim"
)

// scanT0 is the clock of these tests: years away from the wall clock, so that anything that
// reads time.Now instead of the injected clock scans the wrong window and fails them.
var scanT0 = time.Date(2031, 3, 10, 2, 0, 0, 0, time.UTC)

// twoAccountSim is ecssim with two accounts (base: the default account; shop: its own key)
// in two regions, counting DescribeInstances calls per (key, region), and the accountCloud
// over both, on the clock scanT0.
type twoAccountSim struct {
	sim   *ecssim.Server
	cloud *accountCloud

	mu    sync.Mutex
	pages map[string]int // DescribeInstances calls by "AccessKeyId/RegionId"
}

func newTwoAccountSim(t *testing.T) *twoAccountSim {
	t.Helper()
	day := 24 * time.Hour
	at := func(d time.Duration) time.Time { return scanT0.Add(d).Truncate(time.Minute) }
	auto := func(id, region string, expiry time.Time, price float64) ecssim.FleetInstance {
		return ecssim.FleetInstance{InstanceId: id, InstanceName: id, RegionId: region, ExpiredTime: expiry, MonthlyPrice: price, RenewalStatus: "AutoRenewal", Duration: 1}
	}
	fleet := ecssim.Fleet{Balance: 100000, Currency: "CNY", Instances: []ecssim.FleetInstance{
		{InstanceId: "i-basemanual", RegionId: "cn-hangzhou", ExpiredTime: at(5 * day), MonthlyPrice: 100},
		{InstanceId: "i-baseshang", RegionId: "cn-shanghai", ExpiredTime: at(20 * day), MonthlyPrice: 100},
		// Expires 5 days after the 30-day window; its deduction (4 days before the window
		// ends) is the forecast's: scanned for the forecast, not a digest row.
		auto("i-baselate", "cn-hangzhou", at(35*day), 300),
	}, Accounts: []ecssim.FleetAccount{{UID: "3000000000000003", Name: "shop", AccessKeyID: "AKshop", AccessKeySecret: "SKshop", Balance: 150, Currency: "CNY",
		Instances: []ecssim.FleetInstance{
			auto("i-shopauto", "cn-shanghai", at(11*day), 200), // deduction in 2 days: over shop's 150
			{InstanceId: "i-shopfar", RegionId: "cn-hangzhou", ExpiredTime: at(38 * day), MonthlyPrice: 100},
		}}}}
	s := &twoAccountSim{pages: map[string]int{}}
	s.sim = ecssim.NewServer(ecssim.Options{Fleet: fleet, Now: func() time.Time { return scanT0 }, Hook: func(action string, p url.Values) {
		if action == "DescribeInstances" {
			s.mu.Lock()
			s.pages[p.Get("AccessKeyId")+"/"+p.Get("RegionId")]++
			s.mu.Unlock()
		}
	}})
	t.Cleanup(s.sim.Close)
	regions := []string{"cn-hangzhou", "cn-shanghai"}
	accts, err := ecs.NewAccounts([]ecs.Config{
		{Account: "base", AccessKeyID: "testid", AccessKeySecret: "testsecret", Endpoint: s.sim.URL, Regions: regions},
		{Account: "shop", AccessKeyID: "AKshop", AccessKeySecret: "SKshop", Endpoint: s.sim.URL, Regions: regions},
	})
	if err != nil {
		t.Fatal(err)
	}
	s.cloud = newAccountCloud(accts, []accountSpec{{Name: "base", Regions: regions}, {Name: "shop", Regions: regions}}, "renewbot-channel", 30*day)
	s.cloud.now = func() time.Time { return scanT0 }
	return s
}

// describePages is a copy of the DescribeInstances calls so far.
func (s *twoAccountSim) describePages() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.pages)
}

// The digest with accounts scans ECS once: one DescribeInstances page per (account, region)
// (each has under 100 instances), not one for the digest and another for its forecast. Its
// rows are the instances within the window; the forecast has the deduction of an instance
// expiring after the window, from the same scan.
func TestDigestWithForecastScansOnce(t *testing.T) {
	s := newTwoAccountSim(t)
	dg, err := newDigester(digestSettings{Channel: "C0DIGEST", RouteTag: "renewbot-channel", Window: 30 * 24 * time.Hour, Loc: time.UTC, Pace: time.Millisecond},
		s.cloud, noStore{}, nil, slog.New(slog.DiscardHandler), nil, func() time.Time { return scanT0 })
	if err != nil {
		t.Fatal(err)
	}
	plan, err := dg.Plan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"testid/cn-hangzhou": 1, "testid/cn-shanghai": 1, "AKshop/cn-hangzhou": 1, "AKshop/cn-shanghai": 1}
	if got := s.describePages(); !maps.Equal(got, want) {
		t.Errorf("DescribeInstances calls by key/region = %v, want one each: %v", got, want)
	}
	calls := s.sim.Calls()
	if calls["DescribeRenewalPrice"] != 2 || calls["QueryAccountBalance"] != 2 {
		t.Errorf("calls = %v, want 2 DescribeRenewalPrice (one per AutoRenewal instance due) and 2 QueryAccountBalance", calls)
	}

	var rows []string
	for _, c := range plan.Channels {
		for _, it := range c.Items {
			rows = append(rows, it.Instance.Account+":"+it.Instance.ID)
		}
	}
	slices.Sort(rows)
	if want := []string{"base:i-basemanual", "base:i-baseshang", "shop:i-shopauto"}; !slices.Equal(rows, want) {
		t.Errorf("digest rows = %v, want %v (the instances expiring within 30 days)", rows, want)
	}
	if plan.ForecastErr != nil || len(plan.Forecast) != 2 {
		t.Fatalf("forecast = %+v, err %v", plan.Forecast, plan.ForecastErr)
	}
	for i, w := range []struct{ account, id string }{{"base", "i-baselate"}, {"shop", "i-shopauto"}} {
		f := plan.Forecast[i]
		if f.Account != w.account || len(f.Deductions) != 1 || f.Deductions[0].Instance.ID != w.id || !f.Deductions[0].Priced {
			t.Errorf("forecast of %s = %+v, want one priced deduction of %s", w.account, f, w.id)
		}
	}
	if shop := plan.Forecast[1]; len(shop.AtRisk()) != 1 {
		t.Errorf("shop (balance 150, 200 due in 2 days): %d at risk, want 1", len(shop.AtRisk()))
	}

	// The next digest on the same day scans once more and asks no price again (cached per day).
	if _, err := dg.Plan(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := s.describePages(); got["testid/cn-hangzhou"] != 2 || got["AKshop/cn-shanghai"] != 2 {
		t.Errorf("after a second digest: %v, want 2 each", got)
	}
	if n := s.sim.Calls()["DescribeRenewalPrice"]; n != 2 {
		t.Errorf("DescribeRenewalPrice after a second digest the same day: %d, want still 2", n)
	}
}

// The approval card's balance (AccountBalance) computes its forecast on the injected clock:
// the fleet is years away from the wall clock, so a forecast on time.Now would find no
// deduction.
func TestAccountBalanceUsesTheInjectedClock(t *testing.T) {
	s := newTwoAccountSim(t)
	b, err := s.cloud.AccountBalance(t.Context(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	calls := s.sim.Calls()
	if b.Available != 150 || b.Due9Days <= 0 || calls["DescribeRenewalPrice"] != 2 {
		t.Fatalf("shop balance %+v (calls %v): want 150 available and i-shopauto's deduction within 9 days of %s", b, calls, scanT0)
	}
	q, err := s.cloud.Quote(t.Context(), "cn-shanghai", "i-shopauto", 1)
	if err != nil {
		t.Fatal(err)
	}
	if b.Due9Days != q.Trade {
		t.Errorf("Due9Days = %v, want the price of one month of i-shopauto, %v", b.Due9Days, q.Trade)
	}
	// The forecast it made is kept (6 hours on the same clock): a second card asks no scan.
	before := s.describePages()
	if _, err := s.cloud.AccountBalance(t.Context(), "base"); err != nil {
		t.Fatal(err)
	}
	if after := s.describePages(); !maps.Equal(before, after) {
		t.Errorf("a second AccountBalance scanned again: %v → %v", before, after)
	}
}
