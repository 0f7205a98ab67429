package renewal

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/renewbot/renewbot/ecs"
)

// fcNow is 2026-11-25 10:00 UTC+8.
var fcNow = time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC)

// autoInst is an AutoRenewal instance of account acct expiring at midnight UTC+8 `days`
// days after fcNow's day (its deduction is 9 days earlier at 08:00 UTC+8).
func autoInst(acct, id string, days, months int) ecs.Instance {
	return ecs.Instance{Account: acct, ID: id, RegionID: "cn-hangzhou", ChargeType: "PrePaid", Status: "Running",
		ExpiredTime: time.Date(2026, 11, 25, 16, 0, 0, 0, time.UTC).AddDate(0, 0, days),
		AutoRenew:   ecs.AutoRenew{Status: ecs.AutoRenewal, Duration: months, PeriodUnit: "Month"}}
}

func TestForecast(t *testing.T) {
	insts := []ecs.Instance{
		autoInst("prod", "i-overdue", 5, 1),  // deduction 4 days ago, expiry not moved
		autoInst("prod", "i-soon", 10, 1),    // deduction in 2 days, 08:00 UTC+8
		autoInst("prod", "i-later", 13, 3),   // deduction in 5 days
		autoInst("prod", "i-window", 30, 12), // deduction in 22 days: in the 30-day window, not in 9 days
		autoInst("prod", "i-beyond", 45, 1),  // deduction in 37 days: outside the window
		autoInst("dev", "i-dev", 11, 1),      // deduction in 3 days
	}
	manual := autoInst("prod", "i-manual", 10, 1)
	manual.AutoRenew.Status = ecs.Normal
	expired := autoInst("prod", "i-expired", -1, 1)
	insts = append(insts, manual, expired)
	prices := map[PriceKey]ecs.Quote{}
	for _, p := range []struct {
		acct, id string
		months   int
		trade    float64
	}{{"prod", "i-overdue", 1, 100}, {"prod", "i-soon", 1, 200}, {"prod", "i-later", 3, 300}, {"prod", "i-window", 12, 1000}, {"dev", "i-dev", 1, 50}} {
		prices[PriceKey{p.acct, p.id, p.months}] = ecs.Quote{Trade: p.trade, Currency: "CNY"}
	}
	got := Forecast(ForecastInput{
		Now: fcNow, Window: 30 * 24 * time.Hour, Horizon: 24*time.Hour + DeductionMargin,
		Accounts:    []string{"prod", "dev", "lab"},
		Instances:   insts,
		Balances:    map[string]ecs.Balance{"prod": {Available: 250, Currency: "CNY"}},
		BalanceErrs: map[string]error{"dev": errors.New("no permission")},
		Prices:      prices,
	})
	if len(got) != 3 || got[0].Account != "prod" || got[1].Account != "dev" || got[2].Account != "lab" {
		t.Fatalf("accounts = %+v", got)
	}
	prod := got[0]
	var order []string
	for _, d := range prod.Deductions {
		order = append(order, d.Instance.ID)
	}
	if want := "i-overdue i-soon i-later i-window"; join(order) != want {
		t.Fatalf("prod deductions = %s, want %s", join(order), want)
	}
	if prod.Next9Days != 600 || prod.InWindow != 1600 {
		t.Errorf("prod sums: 9 days %v (want 600), window %v (want 1600)", prod.Next9Days, prod.InWindow)
	}
	d := prod.Deductions
	if !d[0].Overdue || d[1].Overdue {
		t.Errorf("overdue flags: %v %v", d[0].Overdue, d[1].Overdue)
	}
	// Balance 250: the overdue 100 is covered, the 200 in 2 days is not (300 > 250): at risk;
	// the 300 in 5 days is beyond the 3-day horizon: not flagged yet.
	if d[0].AtRisk || !d[1].AtRisk || d[2].AtRisk || d[3].AtRisk {
		t.Errorf("at risk: %v %v %v %v, want only i-soon", d[0].AtRisk, d[1].AtRisk, d[2].AtRisk, d[3].AtRisk)
	}
	if at := prod.AtRisk(); len(at) != 1 || at[0].Instance.ID != "i-soon" || !at[0].At.Equal(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("AtRisk = %+v, want i-soon at 2026-11-27 08:00 UTC+8", at)
	}
	// dev: the balance could not be read: summed, never marked at risk.
	dev := got[1]
	if dev.BalanceErr == nil || dev.Next9Days != 50 || len(dev.AtRisk()) != 0 {
		t.Errorf("dev = %+v", dev)
	}
	if lab := got[2]; len(lab.Deductions) != 0 || lab.InWindow != 0 {
		t.Errorf("lab = %+v", lab)
	}
}

// A window shorter than 9 days still sums the next 9 days (the digest's line and the
// approval card's), and only the window's deductions in InWindow.
func TestForecastShortWindowKeepsNineDays(t *testing.T) {
	insts := []ecs.Instance{autoInst("prod", "i-soon", 10, 1), autoInst("prod", "i-later", 13, 1), autoInst("prod", "i-far", 20, 1)}
	prices := map[PriceKey]ecs.Quote{{"prod", "i-soon", 1}: {Trade: 200}, {"prod", "i-later", 1}: {Trade: 300}, {"prod", "i-far", 1}: {Trade: 400}}
	window := 3 * 24 * time.Hour
	if due := Due(insts, fcNow, window); len(due) != 2 {
		t.Fatalf("due = %d instances, want i-soon and i-later (deductions in 2 and 5 days)", len(due))
	}
	got := Forecast(ForecastInput{Now: fcNow, Window: window, Horizon: 3 * 24 * time.Hour, Instances: insts,
		Balances: map[string]ecs.Balance{"prod": {Available: 1000}}, Prices: prices})
	if len(got) != 1 || got[0].Next9Days != 500 || got[0].InWindow != 200 {
		t.Fatalf("forecast = %+v, want 500 within 9 days and 200 within the 3-day window", got)
	}
	if end := ForecastScanTo(fcNow, window); !end.Equal(fcNow.Add(19 * 24 * time.Hour)) {
		t.Errorf("ForecastScanTo = %s, want 9 + 10 days ahead", end)
	}
}

func TestForecastUnpricedAndYears(t *testing.T) {
	y := autoInst("prod", "i-year", 10, 1)
	y.AutoRenew.PeriodUnit = "Year"
	w := autoInst("prod", "i-week", 10, 1)
	w.AutoRenew.PeriodUnit = "Week"
	if AutoRenewMonths(y.AutoRenew) != 12 || AutoRenewMonths(w.AutoRenew) != 0 {
		t.Fatalf("months: year %d week %d", AutoRenewMonths(y.AutoRenew), AutoRenewMonths(w.AutoRenew))
	}
	got := Forecast(ForecastInput{Now: fcNow, Window: 30 * 24 * time.Hour, Horizon: 3 * 24 * time.Hour,
		Instances: []ecs.Instance{y, w}, Balances: map[string]ecs.Balance{"prod": {Available: 0}},
		Prices: map[PriceKey]ecs.Quote{{"prod", "i-year", 12}: {Trade: 1200}}})
	if len(got) != 1 || got[0].Unpriced != 1 || got[0].InWindow != 1200 || len(got[0].AtRisk()) != 1 {
		t.Fatalf("forecast = %+v", got)
	}
}

func TestPriceCacheAsksOncePerDay(t *testing.T) {
	var asked atomic.Int64
	quote := func(_ context.Context, in ecs.Instance, months int) (ecs.Quote, error) {
		asked.Add(1)
		if in.ID == "i-bad" {
			return ecs.Quote{}, errors.New("boom")
		}
		if in.ID == "i-zero" {
			return ecs.Quote{Trade: 0}, nil
		}
		return ecs.Quote{InstanceID: in.ID, Months: months, Trade: 10}, nil
	}
	due := []ecs.Instance{autoInst("a", "i-1", 10, 1), autoInst("b", "i-1", 10, 1), autoInst("a", "i-bad", 10, 1), autoInst("a", "i-zero", 10, 1)}
	var p PriceCache
	ctx := context.Background()
	got, err := p.Prices(ctx, fcNow, due, quote)
	if err == nil || len(got) != 2 || asked.Load() != 4 {
		t.Fatalf("first: %d prices, err %v, %d asked", len(got), err, asked.Load())
	}
	// Same day (UTC+8), a few hours later: only the failed ones are asked again.
	got, _ = p.Prices(ctx, fcNow.Add(5*time.Hour), due, quote)
	if len(got) != 2 || asked.Load() != 6 {
		t.Fatalf("same day: %d prices, %d asked, want 2 and 6", len(got), asked.Load())
	}
	// The next day in UTC+8 (16:00 UTC): everything is asked again.
	_, _ = p.Prices(ctx, time.Date(2026, 11, 25, 16, 0, 0, 0, time.UTC), due, quote)
	if asked.Load() != 10 {
		t.Fatalf("next day: %d asked, want 10", asked.Load())
	}
}

func join(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += " "
		}
		out += v
	}
	return out
}

// Two forecasts at once (the digest's and the Home tab's) ask each price once: the second
// waits for the first's answers. When the first's asks fail (its deadline), the second asks
// again itself.
func TestPriceCacheSharesAsksInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		due := []ecs.Instance{autoInst("a", "i-1", 10, 1), autoInst("a", "i-2", 11, 1), autoInst("b", "i-3", 12, 3)}
		var asked atomic.Int64
		release := make(chan struct{})
		quote := func(ctx context.Context, in ecs.Instance, months int) (ecs.Quote, error) {
			asked.Add(1)
			select {
			case <-release:
				return ecs.Quote{InstanceID: in.ID, Months: months, Trade: 10}, nil
			case <-ctx.Done():
				return ecs.Quote{}, ctx.Err()
			}
		}
		var p PriceCache
		type res struct {
			n   int
			err error
		}
		first, second := make(chan res, 1), make(chan res, 1)
		go func() { got, err := p.Prices(t.Context(), fcNow, due, quote); first <- res{len(got), err} }()
		synctest.Wait() // the first forecast's three asks are out
		go func() { got, err := p.Prices(t.Context(), fcNow, due, quote); second <- res{len(got), err} }()
		synctest.Wait() // the second waits for them
		if n := asked.Load(); n != 3 {
			t.Fatalf("%d asks with two forecasts in flight, want 3", n)
		}
		close(release)
		for _, c := range []chan res{first, second} {
			if r := <-c; r.n != 3 || r.err != nil {
				t.Errorf("prices %d, err %v; want 3", r.n, r.err)
			}
		}
		if n := asked.Load(); n != 3 {
			t.Errorf("%d asks, want 3", n)
		}

		// The next day: the first forecast gives up (its context ends); the second asks again.
		next := fcNow.Add(24 * time.Hour)
		release = make(chan struct{})
		ctx, cancel := context.WithCancel(t.Context())
		go func() { got, err := p.Prices(ctx, next, due, quote); first <- res{len(got), err} }()
		synctest.Wait()
		go func() { got, err := p.Prices(t.Context(), next, due, quote); second <- res{len(got), err} }()
		synctest.Wait()
		cancel()
		if r := <-first; r.n != 0 || r.err == nil {
			t.Errorf("cancelled forecast: %d prices, err %v; want none and the error", r.n, r.err)
		}
		synctest.Wait() // the second asks again
		close(release)
		if r := <-second; r.n != 3 || r.err != nil {
			t.Errorf("second forecast after the first gave up: %d prices, err %v; want 3", r.n, r.err)
		}
		if n := asked.Load(); n != 9 {
			t.Errorf("%d asks, want 9 (3 the first day, 3 given up, 3 again)", n)
		}
	})
}
