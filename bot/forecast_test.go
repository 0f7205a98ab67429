package bot

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/ecs/ecssim"
	"github.com/renewbot/renewbot/store"
)

// forecastOf is a ScanForecaster that computes renewal.Forecast over fixed inputs (the
// instances are its own, not the scan's).
type forecastOf renewal.ForecastInput

func (f forecastOf) ForecastScan(_ context.Context, now time.Time, _ time.Duration, _ ecs.Scan) ([]renewal.AccountForecast, error) {
	in := renewal.ForecastInput(f)
	in.Now = now
	return renewal.Forecast(in), nil
}

type failingForecast struct{}

func (failingForecast) ForecastScan(context.Context, time.Time, time.Duration, ecs.Scan) ([]renewal.AccountForecast, error) {
	return nil, errors.New("no account could be scanned")
}

func TestDigestSummaryShowsTheBalanceForecast(t *testing.T) {
	fleet := ecssim.Fleet{Balance: 1000, Instances: []ecssim.FleetInstance{simInstance("i-soon000001", "cn-hangzhou", 2, ecs.Normal, nil)}}
	e := newDigestEnv(t, fleet, []string{"cn-hangzhou"})
	auto := func(acct, id string, expiry time.Time) ecs.Instance {
		return ecs.Instance{Account: acct, ID: id, Name: "db-" + id, RegionID: "cn-hangzhou", ExpiredTime: expiry,
			AutoRenew: ecs.AutoRenew{Status: ecs.AutoRenewal, Duration: 1, PeriodUnit: "Month"}}
	}
	soon := auto("shop", "i-risk01", digestNow.Add(10*24*time.Hour))  // deduction in about a day
	late := auto("shop", "i-overdue1", digestNow.Add(5*24*time.Hour)) // deduction 4 days ago
	fine := auto("prod", "i-fine01", digestNow.Add(12*24*time.Hour))
	in := forecastOf{Window: 30 * 24 * time.Hour, Horizon: 3 * 24 * time.Hour, Accounts: []string{"prod", "shop"},
		Instances: []ecs.Instance{soon, late, fine},
		Balances:  map[string]ecs.Balance{"prod": {Available: 5000, Currency: "CNY"}, "shop": {Available: 150, Currency: "CNY"}},
		Prices: map[renewal.PriceKey]ecs.Quote{
			{Account: "shop", InstanceID: "i-risk01", Months: 1}:   {Trade: 200, Currency: "CNY"},
			{Account: "shop", InstanceID: "i-overdue1", Months: 1}: {Trade: 100, Currency: "CNY"},
			{Account: "prod", InstanceID: "i-fine01", Months: 1}:   {Trade: 300, Currency: "CNY"},
		}}
	d := e.digester(t, func(c *DigestConfig) { c.Forecast = in; c.Location = ecs.UTC8 })
	if _, err := d.Run(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	posts := postsOf(t, e.slack)
	if len(posts) == 0 {
		t.Fatal("nothing posted")
	}
	sum := posts[0].raw
	ded := renewal.FormatTime(ecs.DeductionTime(soon.ExpiredTime), ecs.UTC8)
	for _, want := range []string{
		"Balance forecast", "*prod*: balance ¥5,000.00 CNY", "*shop*: balance ¥150.00 CNY",
		"AUTO-RENEW AT RISK: the balance of account shop (", "i-risk01", ded, // the instance at risk and its deduction date
		"Top up at least ¥150.00 CNY", // 100 overdue + 200 due, minus 150
		"Automatic deduction not taken", "i-overdue1",
	} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
	if strings.Contains(sum, "i-fine01 ") && strings.Contains(sum, "prod*: balance ¥5,000.00 CNY 🚨") {
		t.Errorf("prod is covered but flagged:\n%s", sum)
	}
	if !strings.Contains(posts[0].text, "auto-renew at risk: 1 in shop") {
		t.Errorf("notification text %q does not warn", posts[0].text)
	}
}

func TestDigestSummarySaysWhenTheForecastFailed(t *testing.T) {
	fleet := ecssim.Fleet{Balance: 1000, Instances: []ecssim.FleetInstance{simInstance("i-soon000001", "cn-hangzhou", 2, ecs.Normal, nil)}}
	e := newDigestEnv(t, fleet, []string{"cn-hangzhou"})
	d := e.digester(t, func(c *DigestConfig) { c.Forecast = failingForecast{} })
	if _, err := d.Run(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	if posts := postsOf(t, e.slack); len(posts) == 0 || !strings.Contains(posts[0].raw, "balance forecast could not be made") {
		t.Fatalf("summary does not say the forecast failed: %+v", posts)
	}
}

func TestApprovalCardShowsTheBalanceAfterTheRenewal(t *testing.T) {
	now := digestNow
	r := &store.Request{ID: "R1", Kind: store.KindRenew, State: store.StatePending, Requester: "U1", Months: 1,
		Deadline: now.Add(time.Hour), Total: 700, Currency: "CNY", ApprovalsRequired: 1,
		Items: []store.Item{
			{Account: "prod", InstanceID: "i-a", Price: 300, Currency: "CNY"},
			{Account: "shop", InstanceID: "i-b", Price: 400, Currency: "CNY"},
		},
		Balances: []store.AccountBalance{
			{Account: "prod", Available: 10000, Currency: "CNY", Due9Days: 500},
			{Account: "shop", Available: 600, Currency: "CNY", Due9Days: 250},
		}}
	_, blocks := ApprovalMessage(r, now)
	raw, err := json.Marshal(blocks)
	if err != nil {
		t.Fatal(err)
	}
	card := string(raw)
	for _, want := range []string{
		"Balance of *prod* ¥10,000.00 CNY → *¥9,700.00 CNY after this renewal* · ¥500.00 CNY of automatic renewals due within 9 days",
		"Balance of *shop* ¥600.00 CNY → *¥200.00 CNY after this renewal*",
		"would not cover the automatic renewals due within 9 days* (short by ¥50.00 CNY)",
	} {
		if !strings.Contains(card, want) {
			t.Errorf("card lacks %q:\n%s", want, card)
		}
	}
	if strings.Count(card, "would not cover") != 1 {
		t.Errorf("prod is covered, yet warned:\n%s", card)
	}
	// Once decided, the snapshot is not shown any more.
	r.State = store.StateDone
	_, blocks = ApprovalMessage(r, now)
	if raw, _ := json.Marshal(blocks); strings.Contains(string(raw), "after this renewal") {
		t.Error("a done request still shows the balance")
	}
}

func TestForecastMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewForecastMetrics(reg)
	m.Set([]renewal.AccountForecast{
		{Account: "prod", Balance: ecs.Balance{Available: 5000, Currency: "CNY"}, Next9Days: 300},
		{Account: "shop", Balance: ecs.Balance{Available: 150, Currency: "CNY"}, Next9Days: 880, Deductions: []renewal.Deduction{{AtRisk: true}}},
		{Account: "lab", BalanceErr: errors.New("NoPermission")},
	})
	for _, c := range []struct {
		got, want float64
		what      string
	}{
		{testutil.ToFloat64(m.balance.WithLabelValues("prod", "CNY")), 5000, "prod balance"},
		{testutil.ToFloat64(m.due9.WithLabelValues("shop")), 880, "shop deductions within 9 days"},
		{testutil.ToFloat64(m.atRisk.WithLabelValues("shop")), 1, "shop at risk"},
		{testutil.ToFloat64(m.atRisk.WithLabelValues("prod")), 0, "prod at risk"},
		{float64(testutil.CollectAndCount(m.balance)), 2, "balance series (none for the unreadable lab)"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
}
