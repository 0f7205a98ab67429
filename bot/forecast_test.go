package bot

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/ecs/ecssim"
)

// forecastOf is a Forecaster that computes renewal.Forecast over fixed inputs.
type forecastOf renewal.ForecastInput

func (f forecastOf) Forecast(_ context.Context, now time.Time) ([]renewal.AccountForecast, error) {
	in := renewal.ForecastInput(f)
	in.Now = now
	return renewal.Forecast(in), nil
}

type failingForecast struct{}

func (failingForecast) Forecast(context.Context, time.Time) ([]renewal.AccountForecast, error) {
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
		"AUTO-RENEW AT RISK", "account *shop*", "i-risk01", ded, // the instance at risk and its deduction date
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
