package ecs_test

import (
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	ecsapi "github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/ecs/ecssim"
)

const benchLatency = 20 * time.Millisecond

// BenchmarkExpiringScan scans 10,000 instances in 10 regions through ecssim with 20 ms
// injected latency per call, once with a window where every region fits one page and once
// with a 30-day window (several pages per region). For each it reports:
//
//	client:            api-calls, min-calls (per region ceil(n/100) DescribeInstances pages
//	                   + ceil(n/100) auto-renew batches, n = instances the filter matches),
//	                   wall-ms, bound-ms (round trips that cannot overlap × 20 ms: page 1,
//	                   then the other pages, then the last auto-renew batch), x-bound, and
//	                   no-latency-ms (the same scan without injected latency: the CPU floor)
//	                   x-two-round-trips (wall time over 40 ms, the bound)
//	startup:           what a process does before its first call: the SDK's setup and ecs.New
//	                   (startup-us), and the first scan on the new client, whose connections
//	                   are not open yet (cold-wall-ms, cold-x-two-round-trips)
//	seed-per-instance: the seed example (anchors.md §2): regions one after the other, pages
//	                   one after the other, one DescribeInstances per instance to re-check
//	                   it, auto-renew in batches of 100; its calls, wall-ms and the speed-up
func BenchmarkExpiringScan(b *testing.B) {
	var regions []string
	for i := range 10 {
		regions = append(regions, fmt.Sprintf("cn-bench-%d", i+1))
	}
	fleet := ecssim.Generate(10000, regions, 42, t0)
	sim := ecssim.NewServer(ecssim.Options{Fleet: fleet, Now: func() time.Time { return t0 }})
	defer sim.Close()
	sim.SetFaults(ecssim.Faults{LatencyMs: int(benchLatency / time.Millisecond)})

	for _, w := range []struct {
		name        string
		days        int
		seedRegions int // regions the per-instance baseline really runs; the rest is extrapolated
	}{
		{"window=2d", 2, 10},
		{"window=30d", 30, 1},
	} {
		from, to := t0, t0.AddDate(0, 0, w.days)
		want := expectedExpiring(fleet, from, to)
		total, minCalls, rounds := 0, 0, 0
		for _, r := range regions {
			n := len(want[r])
			pages := max(1, ceilDiv(n, 100))
			total += n
			minCalls += pages + ceilDiv(n, 100)
			rr := 1 // page 1
			if pages > 1 {
				rr++ // the other pages, together
			}
			if n > 0 {
				rr++ // the last auto-renew batch needs the last page
			}
			rounds = max(rounds, rr)
		}
		bound := time.Duration(rounds) * benchLatency
		var clientWall time.Duration

		b.Run(w.name+"/client", func(b *testing.B) {
			c, err := ecs.New(ecs.Config{
				Endpoint: sim.URL, AccessKeyID: "testid", AccessKeySecret: "testsecret",
				Regions: regions, Concurrency: 64,
			})
			if err != nil {
				b.Fatal(err)
			}
			// The CPU floor: the same scan without injected latency (ecssim serialises its
			// actions, so this is mostly the emulator's own time).
			sim.SetFaults(ecssim.Faults{})
			floor := time.Duration(math.MaxInt64)
			for range 3 {
				start := time.Now()
				if _, err := c.Expiring(b.Context(), from, to); err != nil {
					b.Fatal(err)
				}
				floor = min(floor, time.Since(start))
			}
			sim.SetFaults(ecssim.Faults{LatencyMs: int(benchLatency / time.Millisecond)})

			var calls int
			start := time.Now()
			for b.Loop() {
				scan, err := c.Expiring(b.Context(), from, to)
				if err != nil || len(scan.Failed) > 0 || len(scan.Instances) != total {
					b.Fatalf("scan: err %v, failed %v, %d instances, want %d", err, scan.Failed, len(scan.Instances), total)
				}
				calls = scan.Calls
			}
			clientWall = time.Since(start) / time.Duration(b.N)
			b.ReportMetric(float64(calls), "api-calls")
			b.ReportMetric(float64(minCalls), "min-calls")
			b.ReportMetric(ms(clientWall), "wall-ms")
			b.ReportMetric(ms(bound), "bound-ms")
			b.ReportMetric(float64(clientWall)/float64(bound), "x-bound")
			b.ReportMetric(float64(clientWall)/float64(2*benchLatency), "x-two-round-trips")
			b.ReportMetric(float64(total), "expiring")
			b.ReportMetric(ms(floor), "no-latency-ms")
		})

		b.Run(w.name+"/startup", func(b *testing.B) {
			var setup, cold time.Duration
			for b.Loop() {
				start := time.Now()
				c, err := ecs.New(ecs.Config{
					Endpoint: sim.URL, AccessKeyID: "testid", AccessKeySecret: "testsecret",
					Regions: regions, Concurrency: 64,
				})
				if err != nil {
					b.Fatal(err)
				}
				setup += time.Since(start)
				start = time.Now()
				if scan, err := c.Expiring(b.Context(), from, to); err != nil || len(scan.Instances) != total {
					b.Fatalf("scan: err %v, %d instances, want %d", err, len(scan.Instances), total)
				}
				cold += time.Since(start)
			}
			setup /= time.Duration(b.N)
			cold /= time.Duration(b.N)
			b.ReportMetric(float64(setup)/float64(time.Microsecond), "startup-us")
			b.ReportMetric(ms(cold), "cold-wall-ms")
			b.ReportMetric(float64(cold)/float64(2*benchLatency), "cold-x-two-round-trips")
		})

		b.Run(w.name+"/seed-per-instance", func(b *testing.B) {
			api := seedClient(b, sim.URL)
			var calls, allCalls int
			var wall time.Duration
			for b.Loop() {
				calls, allCalls = 0, 0
				start := time.Now()
				for i, r := range regions {
					n := len(want[r])
					c := max(1, ceilDiv(n, 100)) + n + ceilDiv(n, 100)
					allCalls += c
					if i < w.seedRegions {
						if got := seedScan(b, api, r, from, to); got != n {
							b.Fatalf("seed scan of %s found %d instances, want %d", r, got, n)
						}
						calls += c
					}
				}
				wall = time.Since(start)
				if calls < allCalls {
					// Sequential calls of equal latency: the wall time grows with the call count.
					wall = time.Duration(float64(wall) * float64(allCalls) / float64(calls))
				}
			}
			b.ReportMetric(float64(allCalls), "api-calls")
			b.ReportMetric(ms(wall), "wall-ms")
			if w.seedRegions < len(regions) {
				b.ReportMetric(float64(w.seedRegions), "regions-measured")
			}
			if clientWall > 0 {
				b.ReportMetric(float64(wall)/float64(clientWall), "x-slower-than-client")
			}
		})
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func seedClient(b *testing.B, url string) *ecsapi.Client {
	api, err := ecsapi.NewClientWithOptions("cn-hangzhou", sdk.NewConfig(), credentials.NewStaticAKCredentialsProvider("testid", "testsecret"))
	if err != nil {
		b.Fatal(err)
	}
	api.Domain = strings.TrimPrefix(url, "http://")
	api.SetNoProxy(".*")
	return api
}

// seedScan is the seed example's scan of one region, with the SDK alone: the expiry filter
// page after page, then DescribeInstances per instance to re-check it, then the auto-renew
// state 100 IDs at a time. It returns the number of instances found.
func seedScan(b *testing.B, api *ecsapi.Client, region string, from, to time.Time) int {
	var ids []string
	for page := 1; ; page++ {
		req := ecsapi.CreateDescribeInstancesRequest()
		req.RegionId = region
		req.InstanceChargeType = "PrePaid"
		req.Filter3Key, req.Filter3Value = "ExpiredStartTime", from.UTC().Format("2006-01-02T15:04Z")
		req.Filter4Key, req.Filter4Value = "ExpiredEndTime", to.UTC().Format("2006-01-02T15:04Z")
		req.PageNumber = requests.NewInteger(page)
		req.PageSize = requests.NewInteger(100)
		resp, err := api.DescribeInstances(req)
		if err != nil {
			b.Fatal(err)
		}
		for _, in := range resp.Instances.Instance {
			ids = append(ids, in.InstanceId)
		}
		if page*100 >= resp.TotalCount {
			break
		}
	}
	for _, id := range ids {
		raw, _ := json.Marshal([]string{id})
		req := ecsapi.CreateDescribeInstancesRequest()
		req.RegionId = region
		req.InstanceIds = string(raw)
		if _, err := api.DescribeInstances(req); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < len(ids); i += 100 {
		req := ecsapi.CreateDescribeInstanceAutoRenewAttributeRequest()
		req.RegionId = region
		req.InstanceId = strings.Join(ids[i:min(i+100, len(ids))], ",")
		req.PageSize = "100"
		if _, err := api.DescribeInstanceAutoRenewAttribute(req); err != nil {
			b.Fatal(err)
		}
	}
	return len(ids)
}

// BenchmarkExpiringAccounts scans 20 accounts × 10 regions × 2,000 instances (400,000)
// through ecssim with 20 ms latency, one ecs.Client per account (16 calls at once, at most 8 per region), 30-day
// window. ecssim throttles as Alibaba does, per (account, region, API) (ecs-api.md §7.5):
// the "20 calls/s per API" per account, spread over its 10 regions, is 2 calls/s
// with a burst of 2 per (account, region, API) (Options.Throttle); a call over it is refused
// with 400 Throttling. Each account's rate_limit is 2 calls/s with a burst of 1: the spare
// token of ecssim's bucket absorbs the arrival jitter (pacing exactly at the limit, a call
// that arrives a little early is refused). It reports api-calls and min-calls (pages +
// batches per region), throttled (refused by ecssim), wall-ms, pacing-ms (what ecssim's
// buckets allow: per (account, region, API), (calls - burst) / rate, plus three round trips:
// page 1, the last page, its auto-renew batch), x-pacing, and the peak heap in use during
// the scan above the heap before it, emulator included (its answers and cached encodings:
// BenchmarkExpiringProcess in cmd/renewbot measures renewbot alone, in its own process). A
// first scan, untimed, warms ecssim's encodings; throttled counts the timed scans only.
func BenchmarkExpiringAccounts(b *testing.B) {
	const accounts, perRegion, limit, burst = 20, 2000, 2, 2
	var regions []string
	for i := range 10 {
		regions = append(regions, fmt.Sprintf("cn-bench-%d", i+1))
	}
	var fleet ecssim.Fleet
	var cfgs []ecs.Config
	for a := range accounts {
		g := ecssim.Generate(perRegion*len(regions), regions, int64(1000+a), t0)
		key := fmt.Sprintf("key-%02d", a)
		fleet.Accounts = append(fleet.Accounts, ecssim.FleetAccount{
			UID: fmt.Sprintf("20000000000000%02d", a), Name: fmt.Sprintf("acct%02d", a),
			AccessKeyID: key, AccessKeySecret: "secret-" + key, Balance: 1000, Currency: "CNY",
			Instances: g.Instances,
		})
		cfgs = append(cfgs, ecs.Config{Account: fmt.Sprintf("acct%02d", a), AccessKeyID: key, AccessKeySecret: "secret-" + key,
			Regions: regions, RateLimit: ecs.RateLimit{PerSecond: limit, Burst: 1}})
	}
	sim := ecssim.NewServer(ecssim.Options{Fleet: fleet, Now: func() time.Time { return t0 },
		Throttle: ecssim.Throttle{PerSecond: limit, Burst: burst}})
	defer sim.Close()
	sim.SetFaults(ecssim.Faults{LatencyMs: int(benchLatency / time.Millisecond)})
	for i := range cfgs {
		cfgs[i].Endpoint = sim.URL
	}
	accts, err := ecs.NewAccounts(cfgs)
	if err != nil {
		b.Fatal(err)
	}

	from, to := t0, t0.AddDate(0, 0, 30)
	total, minCalls, maxPerBucket := 0, 0, 0
	for _, acc := range fleet.Accounts {
		want := expectedExpiring(ecssim.Fleet{Instances: acc.Instances}, from, to)
		for _, r := range regions {
			n := len(want[r])
			total += n
			minCalls += max(1, ceilDiv(n, 100)) + ceilDiv(n, 100)
			maxPerBucket = max(maxPerBucket, max(1, ceilDiv(n, 100)))
		}
	}
	pacing := time.Duration(float64(max(0, maxPerBucket-burst))/limit*float64(time.Second)) + 3*benchLatency

	// One scan first, untimed: ecssim encodes each instance on its first answer and keeps
	// the encoding; the timed scans measure renewbot against a warm emulator, as it would be
	// against Alibaba, whose CPU is not ours. The accounts' buckets carry over, so the timed
	// scan starts paced as it would on the next schedule.
	if _, err := accts.Expiring(b.Context(), from, to); err != nil {
		b.Fatal(err)
	}
	throttledBefore := 0
	for _, n := range sim.Throttled() {
		throttledBefore += n
	}

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var calls int
	var peak uint64
	var wall time.Duration
	for b.Loop() {
		stop := make(chan struct{})
		sampled := make(chan uint64)
		go func() {
			var m runtime.MemStats
			var hi uint64
			tick := time.NewTicker(5 * time.Millisecond)
			defer tick.Stop()
			for {
				runtime.ReadMemStats(&m)
				hi = max(hi, m.HeapInuse)
				select {
				case <-stop:
					sampled <- hi
					return
				case <-tick.C:
				}
			}
		}()
		start := time.Now()
		scan, err := accts.Expiring(b.Context(), from, to)
		wall = time.Since(start)
		close(stop)
		peak = max(peak, <-sampled)
		if err != nil || len(scan.Failed) > 0 || len(scan.Instances) != total {
			b.Fatalf("scan: err %v, failed %v, %d instances, want %d", err, scan.Failed, len(scan.Instances), total)
		}
		calls = scan.Calls
	}
	b.ReportMetric(float64(calls), "api-calls")
	b.ReportMetric(float64(minCalls), "min-calls")
	throttled := -throttledBefore
	for _, n := range sim.Throttled() {
		throttled += n
	}
	b.ReportMetric(float64(throttled), "throttled")
	b.ReportMetric(float64(total), "expiring")
	b.ReportMetric(ms(wall), "wall-ms")
	b.ReportMetric(ms(pacing), "pacing-ms")
	b.ReportMetric(float64(wall)/float64(pacing), "x-pacing")
	b.ReportMetric(float64(peak-min(peak, before.HeapInuse))/1e6, "peak-heap-MB")
}

// BenchmarkScanRetained is the memory a scan's result holds: a 10,000-instance fleet in 10
// regions (ecssim.Generate: 2-3 tags an instance), every PrePaid instance in the window, the
// heap measured after a GC before the scan and after it with the result alive. It reports
// retained-B/instance (what a 400,000-instance scan keeps, per instance) and the instances.
func BenchmarkScanRetained(b *testing.B) {
	var regions []string
	for i := range 10 {
		regions = append(regions, fmt.Sprintf("cn-bench-%d", i+1))
	}
	fleet := ecssim.Generate(10000, regions, 42, t0)
	sim := ecssim.NewServer(ecssim.Options{Fleet: fleet, Now: func() time.Time { return t0 }})
	defer sim.Close()
	c := newClient(b, sim, nil, func(cfg *ecs.Config) { cfg.Regions = regions })
	from, to := t0.AddDate(-1, 0, 0), t0.AddDate(5, 0, 0)
	if _, err := c.Expiring(b.Context(), from, to); err != nil { // warm: connections, ecssim's encodings
		b.Fatal(err)
	}
	var retained, n uint64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		scan, err := c.Expiring(b.Context(), from, to)
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(scan)
		if len(scan.Instances) == 0 {
			b.Fatal("no instances")
		}
		retained += after.HeapAlloc - before.HeapAlloc
		n += uint64(len(scan.Instances))
	}
	b.ReportMetric(float64(retained)/float64(n), "retained-B/instance")
	b.ReportMetric(float64(n)/float64(b.N), "instances")
}
