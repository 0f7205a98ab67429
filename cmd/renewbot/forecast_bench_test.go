package main

import (
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/ecs/ecssim"
)

const pricingLatency = 20 * time.Millisecond

// pricingFleet is n AutoRenewal instances whose deductions fall within 30 days of now, spread
// round robin over accounts × regions (account 0 is ecssim's default account), and the
// clients of those accounts, pointed at sim's URL by the caller.
func pricingFleet(n, accounts int, regions []string, now time.Time) (ecssim.Fleet, []ecs.Config) {
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 16, 0, 0, 0, time.UTC)
	fleet := ecssim.Fleet{Balance: 1e9, Currency: "CNY"}
	cfgs := []ecs.Config{{Account: "acct00", AccessKeyID: "testid", AccessKeySecret: "testsecret", Regions: regions}}
	for a := 1; a < accounts; a++ {
		key := fmt.Sprintf("key-%02d", a)
		fleet.Accounts = append(fleet.Accounts, ecssim.FleetAccount{UID: fmt.Sprintf("20000000000000%02d", a), Name: fmt.Sprintf("acct%02d", a),
			AccessKeyID: key, AccessKeySecret: "secret-" + key, Balance: 1e9, Currency: "CNY"})
		cfgs = append(cfgs, ecs.Config{Account: fmt.Sprintf("acct%02d", a), AccessKeyID: key, AccessKeySecret: "secret-" + key, Regions: regions})
	}
	for i := range n {
		a, r := i%accounts, (i/accounts)%len(regions)
		in := ecssim.FleetInstance{InstanceId: fmt.Sprintf("i-bp1price%09d", i), RegionId: regions[r], ExpiredTime: midnight.AddDate(0, 0, 10+i%29),
			RenewalStatus: "AutoRenewal", Duration: []int{1, 1, 3, 12}[i%4], MonthlyPrice: float64(100 + i%50)}
		if a == 0 {
			fleet.Instances = append(fleet.Instances, in)
		} else {
			fleet.Accounts[a-1].Instances = append(fleet.Accounts[a-1].Instances, in)
		}
	}
	return fleet, cfgs
}

// BenchmarkForecastPricing prices one automatic renewal of n AutoRenewal instances (the
// forecast's DescribeRenewalPrice calls, a cold PriceCache each time; balances read at the
// same time) through the real SDK against ecssim with 20 ms latency per call and the
// default pacing of 20 calls/s, burst 10, per (account, region, API). It reports the
// deductions, the price calls, calls over an emulated throttle of 20 calls/s, burst 20, per
// (key, region, API), the wall time (wall-ms) against what the pacing allows (bound-ms: the
// busiest bucket's calls beyond its burst at 20 a second, plus one round trip, or the
// busiest bucket's calls 8 at a time, or the busiest account's 16 at a time, whichever is
// longer), and the second forecast of the day
// (cached-ms: no price call, the balances read again).
func BenchmarkForecastPricing(b *testing.B) {
	var regions []string
	for i := range 10 {
		regions = append(regions, fmt.Sprintf("cn-bench-%d", i+1))
	}
	now := time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC)
	for _, sc := range []struct {
		name              string
		n, accounts, regs int
	}{
		{"deductions=919/accounts=1/regions=10", 919, 1, 10},
		{"deductions=919/accounts=4/regions=10", 919, 4, 10},
	} {
		b.Run(sc.name, func(b *testing.B) {
			fleet, cfgs := pricingFleet(sc.n, sc.accounts, regions[:sc.regs], now)
			var throttled atomic.Int64
			var mu sync.Mutex
			buckets := map[string]*rate.Limiter{}
			sim := ecssim.NewServer(ecssim.Options{Fleet: fleet, Now: func() time.Time { return now }, Hook: func(action string, p url.Values) {
				k := p.Get("AccessKeyId") + "/" + p.Get("RegionId") + "/" + action
				mu.Lock()
				lim, ok := buckets[k]
				if !ok {
					lim = rate.NewLimiter(ecs.DefaultCallsPerSecond, ecs.DefaultCallsPerSecond)
					buckets[k] = lim
				}
				mu.Unlock()
				if !lim.Allow() {
					throttled.Add(1)
				}
			}})
			defer sim.Close()
			sim.SetFaults(ecssim.Faults{LatencyMs: int(pricingLatency / time.Millisecond)})
			for i := range cfgs {
				cfgs[i].Endpoint = sim.URL
			}
			accts, err := ecs.NewAccounts(cfgs)
			if err != nil {
				b.Fatal(err)
			}
			const window = 30 * 24 * time.Hour
			scan, err := accts.Expiring(b.Context(), now, renewal.ForecastScanTo(now, window))
			if err != nil {
				b.Fatal(err)
			}
			perBucket, perAccount := map[string]int{}, map[string]int{}
			for _, in := range renewal.Due(scan.Instances, now, window) {
				perBucket[in.Account+"/"+in.RegionID]++
				perAccount[in.Account]++
			}
			busiest, busiestAccount := 0, 0
			for _, c := range perBucket {
				busiest = max(busiest, c)
			}
			for _, c := range perAccount {
				busiestAccount = max(busiestAccount, c)
			}
			// The pacing lets the busiest bucket's calls beyond its burst (10) go at 20 a second; an
			// account's client makes 16 calls at once (ecs.Config.Concurrency's default), a region
			// at most 8 of them (a bucket here is one region's DescribeRenewalPrice).
			const slots = 16
			burst := ecs.RateLimit{}.BurstOf("DescribeRenewalPrice")
			bound := max(time.Duration(float64(max(0, busiest-burst))/ecs.DefaultCallsPerSecond*float64(time.Second))+pricingLatency,
				time.Duration((busiest+slots/2-1)/(slots/2))*pricingLatency,
				time.Duration((busiestAccount+slots-1)/slots)*pricingLatency)

			var deductions, priceCalls int
			var wall, cached time.Duration
			for b.Loop() {
				// A fresh clock per run: the buckets of the client and of the emulated throttle
				// start full, as on a new day's digest.
				b.StopTimer()
				accts, _ = ecs.NewAccounts(cfgs)
				mu.Lock()
				clear(buckets)
				mu.Unlock()
				throttled.Store(0)
				before := sim.Calls()["DescribeRenewalPrice"]
				var prices renewal.PriceCache
				b.StartTimer()

				start := time.Now()
				res := forecastOfScan(b.Context(), accts, &prices, now, window, forecastHorizon, scan)
				wall = time.Since(start)
				if res.PriceErr != nil {
					b.Fatal(res.PriceErr)
				}
				deductions = 0
				for _, f := range res.Accounts {
					deductions += len(f.Deductions)
					if f.Unpriced != 0 {
						b.Fatalf("%s: %d unpriced", f.Account, f.Unpriced)
					}
				}
				priceCalls = sim.Calls()["DescribeRenewalPrice"] - before

				start = time.Now()
				forecastOfScan(b.Context(), accts, &prices, now, window, forecastHorizon, scan)
				cached = time.Since(start)
			}
			if deductions != sc.n || priceCalls != sc.n {
				b.Fatalf("%d deductions, %d price calls, want %d", deductions, priceCalls, sc.n)
			}
			b.ReportMetric(float64(deductions), "deductions")
			b.ReportMetric(float64(priceCalls), "price-calls")
			b.ReportMetric(float64(throttled.Load()), "throttled")
			b.ReportMetric(float64(wall.Milliseconds()), "wall-ms")
			b.ReportMetric(float64(bound.Milliseconds()), "bound-ms")
			b.ReportMetric(float64(wall)/float64(bound), "x-bound")
			b.ReportMetric(float64(cached.Microseconds())/1000, "cached-ms")
		})
	}
}

// BenchmarkDigestScan is the ECS side of a digest with its forecast over ecssim's generated
// 10,000 instances in 10 regions (one account), 20 ms latency, the prices already cached
// (the day's first digest adds the DescribeRenewalPrice calls of BenchmarkForecastPricing):
// the digest's one scan (Plan: to renewal.ForecastScanTo, rows and forecast from it) against
// the two scans it made before (its own window, then the forecast's window + 10 days).
// It reports api-calls (every call the emulator answered) and wall-ms.
func BenchmarkDigestScan(b *testing.B) {
	var regions []string
	for i := range 10 {
		regions = append(regions, fmt.Sprintf("cn-bench-%d", i+1))
	}
	now := time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC)
	sim := ecssim.NewServer(ecssim.Options{Fleet: ecssim.Generate(10000, regions, 42, now), Now: func() time.Time { return now }})
	defer sim.Close()
	sim.SetFaults(ecssim.Faults{LatencyMs: int(pricingLatency / time.Millisecond)})
	accts, err := ecs.NewAccounts([]ecs.Config{{Account: "main", AccessKeyID: "testid", AccessKeySecret: "testsecret", Endpoint: sim.URL, Regions: regions,
		RateLimit: ecs.RateLimit{PerSecond: 1000}}}) // pacing lifted: the scan's calls, not the buckets
	if err != nil {
		b.Fatal(err)
	}
	const window = 30 * 24 * time.Hour
	cloud := newAccountCloud(accts, []accountSpec{{Name: "main", Regions: regions}}, "renewbot-channel", window)
	cloud.now = func() time.Time { return now }
	dg, err := newDigester(digestSettings{Channel: "C0DIGEST", RouteTag: "renewbot-channel", Window: window, Loc: time.UTC, Pace: time.Millisecond},
		cloud, noStore{}, nil, nil, nil, func() time.Time { return now })
	if err != nil {
		b.Fatal(err)
	}
	if _, err := dg.Plan(b.Context()); err != nil { // prices the day's deductions once
		b.Fatal(err)
	}
	total := func() int {
		n := 0
		for _, c := range sim.Calls() {
			n += c
		}
		return n
	}
	for _, v := range []struct {
		name string
		run  func() error
	}{
		{"one-scan", func() error { _, err := dg.Plan(b.Context()); return err }},
		{"two-scans-before", func() error {
			if _, err := cloud.Expiring(b.Context(), now.Add(-ecs.ReleaseGrace), now.Add(window)); err != nil {
				return err
			}
			_, err := cloud.Forecast(b.Context(), now)
			return err
		}},
	} {
		b.Run(v.name, func(b *testing.B) {
			var calls int
			for b.Loop() {
				before := total()
				if err := v.run(); err != nil {
					b.Fatal(err)
				}
				calls = total() - before
			}
			b.ReportMetric(float64(calls), "api-calls")
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "wall-ms")
		})
	}
}
