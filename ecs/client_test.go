package ecs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ecsapi "github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/ecs/ecssim"
)

func TestSignatures(t *testing.T) {
	rec := &recorder{}
	sim := newSim(t, ecssim.Options{Fleet: smallFleet()}, rec)
	ctx := t.Context()

	t.Run("good key", func(t *testing.T) {
		regions, err := newClient(t, sim, nil, nil).Regions(ctx)
		if err != nil {
			t.Fatalf("Regions: %v", err)
		}
		if want := []string{"cn-hangzhou", "cn-shanghai"}; !slices.Equal(regions, want) {
			t.Fatalf("Regions = %v, want %v", regions, want)
		}
	})

	t.Run("wrong secret", func(t *testing.T) {
		c := newClient(t, sim, nil, func(cfg *ecs.Config) {
			cfg.AccessKeySecret = "not-the-secret"
			cfg.SecurityToken = "sts-token-XYZ"
		})
		_, err := c.Regions(ctx)
		var ae *ecs.APIError
		if !errors.Is(err, ecs.ErrAccessDenied) || !errors.As(err, &ae) || ae.Code != "SignatureDoesNotMatch" {
			t.Fatalf("err = %v, want ErrAccessDenied with SignatureDoesNotMatch", err)
		}
		if ae.Attempts != 1 {
			t.Errorf("an auth failure was retried: %d attempts", ae.Attempts)
		}
		for _, secret := range []string{"not-the-secret", "sts-token-XYZ"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error text leaks %q: %v", secret, err)
			}
		}
	})

	t.Run("unknown key", func(t *testing.T) {
		c := newClient(t, sim, nil, func(cfg *ecs.Config) { cfg.AccessKeyID = "nobody" })
		if _, err := c.Regions(ctx); !errors.Is(err, ecs.ErrAccessDenied) {
			t.Fatalf("err = %v, want ErrAccessDenied", err)
		}
	})

	t.Run("STS token is sent", func(t *testing.T) {
		c := newClient(t, sim, nil, func(cfg *ecs.Config) { cfg.SecurityToken = "sts-token-OK" })
		if _, err := c.AutoRenew(ctx, "cn-hangzhou", []string{"i-a"}); err != nil {
			t.Fatalf("AutoRenew with STS token: %v", err)
		}
		got := rec.received("DescribeInstanceAutoRenewAttribute")
		if len(got) == 0 || got[len(got)-1].Get("SecurityToken") != "sts-token-OK" {
			t.Fatalf("SecurityToken not sent: %v", got)
		}
	})

	t.Run("default credential chain from env", func(t *testing.T) {
		t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "testid")
		t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "testsecret")
		t.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
		c := newClient(t, sim, nil, func(cfg *ecs.Config) { cfg.AccessKeyID, cfg.AccessKeySecret = "", "" })
		if _, err := c.Lookup(ctx, []string{"i-c"}); err != nil {
			t.Fatalf("Lookup with env credentials: %v", err)
		}
		t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "wrong")
		c = newClient(t, sim, nil, func(cfg *ecs.Config) { cfg.AccessKeyID, cfg.AccessKeySecret = "", "" })
		if _, err := c.Lookup(ctx, []string{"i-c"}); !errors.Is(err, ecs.ErrAccessDenied) {
			t.Fatalf("Lookup with a wrong env secret: err = %v, want ErrAccessDenied", err)
		}
	})

	t.Run("nonces never reused, retries included", func(t *testing.T) {
		sim.SetFaults(ecssim.Faults{Action: "DescribeInstances", ThrottleRate: 0.5})
		defer sim.SetFaults(ecssim.Faults{Action: "DescribeInstances"})
		c := newClient(t, sim, nil, func(cfg *ecs.Config) { cfg.Retry.Attempts = 20 })
		for range 5 {
			if _, err := c.Expiring(ctx, t0, t0.AddDate(0, 0, 30)); err != nil {
				t.Fatalf("Expiring: %v", err)
			}
		}
		seen := map[string]bool{}
		for _, action := range []string{"DescribeInstances", "DescribeInstanceAutoRenewAttribute", "DescribeRegions"} {
			for _, p := range rec.received(action) {
				n := p.Get("SignatureNonce")
				if n == "" || seen[n] {
					t.Fatalf("nonce %q empty or reused", n)
				}
				seen[n] = true
			}
		}
		if len(seen) < 10 {
			t.Fatalf("only %d calls recorded", len(seen))
		}
	})
}

// expectedExpiring computes, from the fleet alone, the PrePaid instances expiring in
// [from, to) per region.
func expectedExpiring(f ecssim.Fleet, from, to time.Time) map[string][]ecssim.FleetInstance {
	out := map[string][]ecssim.FleetInstance{}
	for _, in := range f.Instances {
		if in.InstanceChargeType == "PrePaid" && !in.ExpiredTime.Before(from) && in.ExpiredTime.Before(to) {
			out[in.RegionId] = append(out[in.RegionId], in)
		}
	}
	return out
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func TestExpiringPagingOverThreeRegions(t *testing.T) {
	regions := []string{"cn-hangzhou", "cn-shanghai", "cn-beijing"}
	fleet := ecssim.Generate(1500, regions, 7, t0)
	sim := newSim(t, ecssim.Options{Fleet: fleet}, nil)
	c := newClient(t, sim, nil, func(cfg *ecs.Config) { cfg.Regions = regions })

	from, to := t0, t0.AddDate(0, 0, 30)
	scan, err := c.Expiring(t.Context(), from, to)
	if err != nil {
		t.Fatalf("Expiring: %v", err)
	}
	if len(scan.Failed) != 0 {
		t.Fatalf("failed regions: %v", scan.Failed)
	}
	want := expectedExpiring(fleet, from, to)
	byID := map[string]ecssim.FleetInstance{}
	minCalls, total := 0, 0
	for _, r := range regions {
		n := len(want[r])
		if n <= pageSize {
			t.Fatalf("region %s has only %d expiring instances: the test needs several pages", r, n)
		}
		minCalls += 2 * ceilDiv(n, 100) // pages + auto-renew batches
		total += n
		for _, in := range want[r] {
			byID[in.InstanceId] = in
		}
	}
	if len(scan.Instances) != total {
		t.Fatalf("got %d instances, want %d", len(scan.Instances), total)
	}
	for i, got := range scan.Instances {
		w, ok := byID[got.ID]
		if !ok {
			t.Fatalf("unexpected instance %s (%s, expires %s)", got.ID, got.ChargeType, got.ExpiredTime)
		}
		delete(byID, got.ID)
		if !got.ExpiredTime.Equal(w.ExpiredTime) || got.RegionID != w.RegionId || got.Name != w.InstanceName || got.Tags.Get("env") != w.Tags["env"] {
			t.Errorf("%s = %+v, fleet has %+v", got.ID, got, w)
		}
		if string(got.AutoRenew.Status) != w.RenewalStatus {
			t.Errorf("%s auto-renew %q, fleet has %q", got.ID, got.AutoRenew.Status, w.RenewalStatus)
		}
		if i > 0 {
			prev := scan.Instances[i-1]
			if prev.ExpiredTime.After(got.ExpiredTime) || (prev.ExpiredTime.Equal(got.ExpiredTime) && prev.ID >= got.ID) {
				t.Fatalf("not sorted at %d: %s %s after %s %s", i, got.ExpiredTime, got.ID, prev.ExpiredTime, prev.ID)
			}
		}
	}
	if scan.Calls != minCalls {
		t.Errorf("Calls = %d, want the minimum %d", scan.Calls, minCalls)
	}
	calls := sim.Calls()
	if got := calls["DescribeInstances"] + calls["DescribeInstanceAutoRenewAttribute"]; got != minCalls {
		t.Errorf("emulator saw %d calls (%v), want %d", got, calls, minCalls)
	}
}

const pageSize = 100

func TestExpiringReportsFailedRegion(t *testing.T) {
	sim := newSim(t, ecssim.Options{Fleet: smallFleet()}, nil)
	c := newClient(t, sim, nil, func(cfg *ecs.Config) {
		cfg.Regions = []string{"cn-hangzhou", "cn-nowhere-1", "cn-shanghai"}
	})
	scan, err := c.Expiring(t.Context(), t0, t0.AddDate(0, 0, 30))
	if err != nil {
		t.Fatalf("Expiring: %v", err)
	}
	if len(scan.Failed) != 1 || scan.Failed[0].RegionID != "cn-nowhere-1" || !errors.Is(scan.Failed[0].Err, ecs.ErrInvalidParam) {
		t.Fatalf("Failed = %v, want cn-nowhere-1 (InvalidRegionId.NotFound)", scan.Failed)
	}
	var ids []string
	for _, in := range scan.Instances {
		ids = append(ids, in.ID)
	}
	if want := []string{"i-a", "i-c", "i-b"}; !slices.Equal(ids, want) {
		t.Fatalf("instances = %v, want %v (sorted by expiry)", ids, want)
	}

	// Every region failing is an error, and each region is still listed.
	sim.SetFaults(ecssim.Faults{Action: "DescribeInstanceAutoRenewAttribute", ErrorRate: 1})
	scan, err = c.Expiring(t.Context(), t0, t0.AddDate(0, 0, 30))
	if !errors.Is(err, ecs.ErrUnavailable) || len(scan.Failed) != 3 {
		t.Fatalf("err = %v, Failed = %v; want ErrUnavailable and 3 failed regions", err, scan.Failed)
	}
}

func TestExpiringWindowIsCheckedLocally(t *testing.T) {
	// Expiries exactly on the window's edges and a minute inside/outside: the request's
	// filter is widened by a minute, the result is [from, to) exactly.
	edge := func(id string, at time.Time) ecssim.FleetInstance {
		in := instance(id, "cn-hangzhou", 0)
		in.ExpiredTime = at
		return in
	}
	from := time.Date(2026, 12, 1, 16, 0, 0, 0, time.UTC)
	to := from.AddDate(0, 0, 7)
	fleet := ecssim.Fleet{Balance: 1, Instances: []ecssim.FleetInstance{
		edge("i-before", from.Add(-time.Minute)),
		edge("i-from", from),
		edge("i-last", to.Add(-time.Minute)),
		edge("i-to", to),
		edge("i-after", to.Add(time.Minute)),
	}}
	sim := newSim(t, ecssim.Options{Fleet: fleet}, nil)
	c := newClient(t, sim, nil, func(cfg *ecs.Config) { cfg.Regions = []string{"cn-hangzhou"} })
	scan, err := c.Expiring(t.Context(), from, to)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, in := range scan.Instances {
		ids = append(ids, in.ID)
	}
	if want := []string{"i-from", "i-last"}; !slices.Equal(ids, want) {
		t.Fatalf("got %v, want %v", ids, want)
	}
	if _, err := c.Expiring(t.Context(), to, from); !errors.Is(err, ecs.ErrInvalidParam) {
		t.Fatalf("empty window: err = %v", err)
	}
}

func TestAutoRenewBatches(t *testing.T) {
	var fleet ecssim.Fleet
	fleet.Balance = 1
	var ids []string
	for i := range 250 {
		id := fmt.Sprintf("i-batch%03d", i)
		ids = append(ids, id)
		fleet.Instances = append(fleet.Instances, instance(id, "cn-beijing", 20+i%10))
	}
	rec := &recorder{}
	sim := newSim(t, ecssim.Options{Fleet: fleet}, rec)
	c := newClient(t, sim, nil, nil)
	ctx := t.Context()

	got, err := c.AutoRenew(ctx, "cn-beijing", ids)
	if err != nil {
		t.Fatalf("AutoRenew: %v", err)
	}
	if len(got) != 250 || got["i-batch007"].Status != ecs.Normal {
		t.Fatalf("got %d entries, i-batch007 = %+v", len(got), got["i-batch007"])
	}
	calls := rec.received("DescribeInstanceAutoRenewAttribute")
	if len(calls) != 3 {
		t.Fatalf("%d DescribeInstanceAutoRenewAttribute calls, want 3", len(calls))
	}
	for _, p := range calls {
		if n := len(strings.Split(p.Get("InstanceId"), ",")); n > 100 || p.Get("PageSize") != "100" {
			t.Fatalf("batch of %d IDs, PageSize %q", n, p.Get("PageSize"))
		}
	}

	reqID, err := c.SetAutoRenew(ctx, "cn-beijing", ids[:150], ecs.AutoRenewChange{Status: ecs.AutoRenewal, Duration: 3})
	if err != nil {
		t.Fatalf("SetAutoRenew: %v", err)
	}
	if n := len(strings.Split(reqID, ",")); n != 2 {
		t.Errorf("request IDs %q: want 2", reqID)
	}
	mods := rec.received("ModifyInstanceAutoRenewAttribute")
	if len(mods) != 2 || mods[0].Get("RenewalStatus") != "AutoRenewal" || mods[0].Get("Duration") != "3" || mods[0].Get("PeriodUnit") != "Month" {
		t.Fatalf("Modify calls = %v", mods)
	}
	for i, id := range []string{"i-batch000", "i-batch149", "i-batch150"} {
		in, _ := sim.Instance(id)
		want := []string{"AutoRenewal", "AutoRenewal", "Normal"}[i]
		if in.RenewalStatus != want {
			t.Errorf("%s RenewalStatus = %q, want %q", id, in.RenewalStatus, want)
		}
	}

	// Lookup joins the new state and batches DescribeInstances by 100 IDs.
	before := len(rec.received("DescribeInstances"))
	insts, err := c.Lookup(ctx, ids[140:160])
	if err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	if len(insts) != 20 || insts[0].ID != "i-batch140" || insts[0].AutoRenew != (ecs.AutoRenew{Status: ecs.AutoRenewal, Duration: 3, PeriodUnit: "Month"}) || insts[19].AutoRenew.Status != ecs.Normal {
		t.Fatalf("Lookup = %+v", insts)
	}
	if n := len(rec.received("DescribeInstances")) - before; n != 1 {
		t.Errorf("Lookup of 20 IDs in 1 region made %d DescribeInstances calls", n)
	}

	// More than 100 IDs: Lookup and Verify send InstanceIds in batches of at most 100.
	idsPerCall := func(since int) []int {
		var out []int
		for _, p := range rec.received("DescribeInstances")[since:] {
			var list []string
			if err := json.Unmarshal([]byte(p.Get("InstanceIds")), &list); err != nil {
				t.Fatalf("InstanceIds %q: %v", p.Get("InstanceIds"), err)
			}
			out = append(out, len(list))
		}
		slices.Sort(out)
		return out
	}
	before = len(rec.received("DescribeInstances"))
	all, err := c.Lookup(ctx, ids)
	if err != nil || len(all) != 250 {
		t.Fatalf("Lookup of 250: %d instances, %v", len(all), err)
	}
	if got := idsPerCall(before); !slices.Equal(got, []int{50, 100, 100}) {
		t.Errorf("Lookup of 250 IDs sent InstanceIds of %v IDs, want 100, 100, 50", got)
	}
	want := map[string]time.Time{}
	for _, in := range all {
		want[in.ID] = in.ExpiredTime
	}
	before = len(rec.received("DescribeInstances"))
	seen, err := c.Verify(ctx, "cn-beijing", want)
	if err != nil || len(seen) != 250 {
		t.Fatalf("Verify of 250: %d seen, %v", len(seen), err)
	}
	if got := idsPerCall(before); !slices.Equal(got, []int{50, 100, 100}) {
		t.Errorf("Verify of 250 IDs sent InstanceIds of %v IDs, want one poll of 100, 100, 50", got)
	}

	if _, err := c.SetAutoRenew(ctx, "cn-beijing", ids[:1], ecs.AutoRenewChange{Status: ecs.AutoRenewal, Duration: 7}); !errors.Is(err, ecs.ErrInvalidPeriod) {
		t.Errorf("Duration 7: err = %v, want ErrInvalidPeriod", err)
	}
	if _, err := c.SetAutoRenew(ctx, "cn-beijing", ids[:1], ecs.AutoRenewChange{Status: "Sometimes"}); !errors.Is(err, ecs.ErrInvalidParam) {
		t.Errorf("bad status: err = %v, want ErrInvalidParam", err)
	}
}

func TestLookup(t *testing.T) {
	sim := newSim(t, ecssim.Options{Fleet: smallFleet()}, nil)
	c := newClient(t, sim, nil, nil)
	insts, err := c.Lookup(t.Context(), []string{"i-c", "i-missing", "i-postpaid", "i-a", "i-c"})
	if !errors.Is(err, ecs.ErrNotFound) || !strings.Contains(err.Error(), "i-missing") {
		t.Fatalf("err = %v, want ErrNotFound naming i-missing", err)
	}
	var got []string
	for _, in := range insts {
		got = append(got, in.ID+"/"+in.RegionID+"/"+in.ChargeType+"/"+string(in.AutoRenew.Status))
	}
	want := []string{"i-c/cn-shanghai/PrePaid/Normal", "i-postpaid/cn-hangzhou/PostPaid/", "i-a/cn-hangzhou/PrePaid/Normal"}
	if !slices.Equal(got, want) {
		t.Fatalf("Lookup = %v, want %v", got, want)
	}
}

func TestQuote(t *testing.T) {
	rec := &recorder{}
	sim := newSim(t, ecssim.Options{Fleet: smallFleet()}, rec)
	c := newClient(t, sim, nil, nil)
	for _, tc := range []struct {
		months       int
		period, unit string
	}{{1, "1", "Month"}, {9, "9", "Month"}, {12, "1", "Year"}, {24, "2", "Year"}} {
		q, err := c.Quote(t.Context(), "cn-hangzhou", "i-a", tc.months)
		if err != nil {
			t.Fatalf("Quote %d: %v", tc.months, err)
		}
		if q.Months != tc.months || q.Trade <= 0 || q.Trade > q.Original || q.Currency != "CNY" || q.InstanceID != "i-a" {
			t.Errorf("Quote %d = %+v", tc.months, q)
		}
		if tc.months == 1 && math.Abs(q.Original-100) > 0.01 {
			t.Errorf("1 month of a 100/month instance quoted %v", q.Original)
		}
		calls := rec.received("DescribeRenewalPrice")
		p := calls[len(calls)-1]
		if p.Get("Period") != tc.period || p.Get("PriceUnit") != tc.unit || p.Get("ResourceId") != "i-a" {
			t.Errorf("Quote %d sent Period=%s PriceUnit=%s", tc.months, p.Get("Period"), p.Get("PriceUnit"))
		}
	}
	if _, err := c.Quote(t.Context(), "cn-hangzhou", "i-a", 10); !errors.Is(err, ecs.ErrInvalidPeriod) {
		t.Errorf("Quote 10 months: err = %v, want ErrInvalidPeriod", err)
	}
	if _, err := c.Quote(t.Context(), "cn-hangzhou", "i-postpaid", 1); !errors.Is(err, ecs.ErrPostPaid) {
		t.Errorf("Quote PostPaid: err = %v, want ErrPostPaid", err)
	}
}

func TestRenewIsIdempotent(t *testing.T) {
	sim := newSim(t, ecssim.Options{Fleet: smallFleet(), RenewDelay: -1}, nil)
	c := newClient(t, sim, nil, nil)
	ctx := t.Context()
	in := ecs.RenewInput{InstanceID: "i-a", RegionID: "cn-hangzhou", Months: 1, ClientToken: "R0001-i-a"}
	first, err := c.Renew(ctx, in)
	if err != nil {
		t.Fatalf("Renew: %v", err)
	}
	second, err := c.Renew(ctx, in)
	if err != nil {
		t.Fatalf("Renew again: %v", err)
	}
	if first.OrderID == "" || first.OrderID != second.OrderID {
		t.Fatalf("order IDs %q and %q, want the same", first.OrderID, second.OrderID)
	}
	orders := sim.Orders()
	if len(orders) != 1 || orders[0].ClientToken != "R0001-i-a" || orders[0].Period != 1 || orders[0].PeriodUnit != "Month" {
		t.Fatalf("orders = %+v, want one", orders)
	}
	if got := sim.Account().Balance; math.Abs(got-(10000-orders[0].Amount)) > 0.001 {
		t.Errorf("balance %v after one order of %v", got, orders[0].Amount)
	}
	got, _ := sim.Instance("i-a")
	if want := instance("i-a", "", 3).ExpiredTime.AddDate(0, 1, 0); !got.ExpiredTime.Equal(want) {
		t.Errorf("new expiry %s, want %s", got.ExpiredTime, want)
	}
}

func TestRenewRetriesThrottlingWithTheSameToken(t *testing.T) {
	rec := &recorder{}
	sim := newSim(t, ecssim.Options{Fleet: smallFleet()}, rec)
	sim.SetFaults(ecssim.Faults{Action: "RenewInstance", ThrottleRate: 1})
	var waits []time.Duration
	c := newClient(t, sim, rec, func(cfg *ecs.Config) {
		cfg.Retry = ecs.RetryPolicy{Attempts: 5, Base: 100 * time.Millisecond, Max: time.Second}
		cfg.Sleep = func(ctx context.Context, d time.Duration) error {
			waits = append(waits, d)
			if len(waits) == 2 { // throttled twice, then the limit lifts
				sim.SetFaults(ecssim.Faults{Action: "RenewInstance"})
			}
			return ctx.Err()
		}
	})
	res, err := c.Renew(t.Context(), ecs.RenewInput{InstanceID: "i-c", RegionID: "cn-shanghai", Months: 2, ClientToken: "tok-retry"})
	if err != nil {
		t.Fatalf("Renew: %v", err)
	}
	if orders := sim.Orders(); len(orders) != 1 || orders[0].OrderId != res.OrderID {
		t.Fatalf("orders = %+v, want exactly one with %s", orders, res.OrderID)
	}
	calls := rec.received("RenewInstance")
	if len(calls) != 3 {
		t.Fatalf("%d RenewInstance calls, want 3", len(calls))
	}
	for _, p := range calls {
		if p.Get("ClientToken") != "tok-retry" || p.Get("Period") != "2" || p.Get("InstanceId") != "i-c" {
			t.Fatalf("attempt sent %v", p)
		}
	}
	if waits[0] > 100*time.Millisecond || waits[1] > 200*time.Millisecond {
		t.Errorf("backoff %v exceeds the exponential cap", waits)
	}
	want := []string{"RenewInstance Throttling", "RenewInstance Throttling", "RenewInstance "}
	if got := rec.observations(); !slices.Equal(got, want) {
		t.Errorf("observed %q, want %q", got, want)
	}
}

func TestRenewLostResponseIsRetriedIntoTheSameOrder(t *testing.T) {
	// The first RenewInstance is held in the emulator until the client has given up on it
	// (client timeout); the retry carries the same token, so there is still one order. The
	// client's backoff releases the held call and waits until its action runs (it reads the
	// business clock under the emulator's lock), so the retry comes after it, as a retry
	// that Alibaba answered Idempotence.Processing eventually does.
	release, ran := make(chan struct{}), make(chan struct{})
	var seen atomic.Int32
	var released atomic.Bool
	var releaseOnce, ranOnce sync.Once
	hook := func(action string, _ url.Values) {
		if action == "RenewInstance" && seen.Add(1) == 1 {
			<-release // held until the client backs off
			released.Store(true)
		}
	}
	now := func() time.Time {
		if released.Load() {
			ranOnce.Do(func() { close(ran) })
		}
		return t0
	}
	sim := newSim(t, ecssim.Options{Fleet: smallFleet(), Hook: hook, Now: now}, nil)
	c := newClient(t, sim, nil, func(cfg *ecs.Config) {
		cfg.Timeout = 50 * time.Millisecond
		cfg.Sleep = func(ctx context.Context, _ time.Duration) error {
			releaseOnce.Do(func() { close(release) })
			<-ran
			return ctx.Err()
		}
	})
	res, err := c.Renew(t.Context(), ecs.RenewInput{InstanceID: "i-b", RegionID: "cn-hangzhou", Months: 1, ClientToken: "tok-lost"})
	if err != nil {
		t.Fatalf("Renew: %v", err)
	}
	sim.Close() // waits for the held first call to finish
	orders := sim.Orders()
	if len(orders) != 1 || orders[0].OrderId != res.OrderID {
		t.Fatalf("orders = %+v, want one, %s", orders, res.OrderID)
	}
	if got := sim.Calls()["RenewInstance"]; got < 2 {
		t.Fatalf("%d RenewInstance calls, want the held one and a retry", got)
	}
}

// TestRenewRetriesIdempotenceProcessing: another RenewInstance with the same ClientToken (an
// earlier attempt, another process) is still running, so Alibaba answers 400
// Idempotence.Processing. The client backs off and sends the same token again, and gets the
// first call's OrderId: one order.
func TestRenewRetriesIdempotenceProcessing(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	var held atomic.Bool
	hook := func(action string, p url.Values) {
		if action == "RenewInstance" && held.CompareAndSwap(false, true) {
			close(arrived)
			<-release
		}
	}
	rec := &recorder{}
	sim := newSim(t, ecssim.Options{Fleet: smallFleet(), Hook: hook}, nil)
	in := ecs.RenewInput{InstanceID: "i-b", RegionID: "cn-hangzhou", Months: 1, ClientToken: "tok-processing"}
	first := newClient(t, sim, nil, nil)
	firstDone := make(chan ecs.RenewResult)
	go func() {
		res, err := first.Renew(context.Background(), in)
		if err != nil {
			t.Error(err)
		}
		firstDone <- res
	}()
	<-arrived
	var firstRes ecs.RenewResult
	second := newClient(t, sim, rec, func(cfg *ecs.Config) {
		cfg.Sleep = func(ctx context.Context, _ time.Duration) error {
			close(release)
			firstRes = <-firstDone
			return ctx.Err()
		}
	})
	res, err := second.Renew(t.Context(), in)
	if err != nil {
		t.Fatalf("Renew: %v", err)
	}
	if res.OrderID == "" || res.OrderID != firstRes.OrderID {
		t.Fatalf("retry got order %q, the running call %q", res.OrderID, firstRes.OrderID)
	}
	if got, want := rec.observations(), []string{"RenewInstance Idempotence.Processing", "RenewInstance "}; !slices.Equal(got, want) {
		t.Fatalf("observed %q, want %q", got, want)
	}
	if orders := sim.Orders(); len(orders) != 1 {
		t.Fatalf("orders = %+v, want one", orders)
	}
}

func TestErrorsMapToSentinels(t *testing.T) {
	sim := newSim(t, ecssim.Options{Fleet: smallFleet()}, nil)
	c := newClient(t, sim, nil, nil)
	ctx := t.Context()
	renew := func(id, region string, months int, token string) error {
		_, err := c.Renew(ctx, ecs.RenewInput{InstanceID: id, RegionID: region, Months: months, ClientToken: token})
		return err
	}
	if err := renew("i-a", "cn-hangzhou", 1, "tok-a"); err != nil {
		t.Fatalf("setup renew: %v", err)
	}
	cases := []struct {
		name     string
		run      func() error
		kind     error
		code     string
		text     string
		attempts int
	}{
		{"not found", func() error { return renew("i-nope", "cn-hangzhou", 1, "t1") }, ecs.ErrNotFound, "InvalidInstanceId.NotFound", "instance not found for i-nope", 1},
		{"postpaid", func() error { return renew("i-postpaid", "cn-hangzhou", 1, "t2") }, ecs.ErrPostPaid, "ChargeTypeViolation", "pay-as-you-go", 1},
		{"invalid period", func() error { return renew("i-b", "cn-hangzhou", 10, "t3") }, ecs.ErrInvalidPeriod, "InvalidPeriod", "renewal period", 1},
		{"idempotence mismatch", func() error { return renew("i-a", "cn-hangzhou", 2, "tok-a") }, ecs.ErrIdempotence, "IdempotenceParamNotMatch", "ClientToken", 1},
		{"balance", func() error {
			sim.SetBalance(1)
			defer sim.SetBalance(10000)
			return renew("i-b", "cn-hangzhou", 1, "t4")
		}, ecs.ErrBalance, "InvalidAccountStatus.NotEnoughBalance", "not enough account balance for i-b", 1},
		{"throttled, retries exhausted", func() error {
			sim.SetFaults(ecssim.Faults{Action: "RenewInstance", ThrottleRate: 1})
			defer sim.SetFaults(ecssim.Faults{Action: "RenewInstance"})
			return renew("i-b", "cn-hangzhou", 1, "t5")
		}, ecs.ErrThrottled, "Throttling", "throttled", 4},
		{"5xx, retries exhausted", func() error {
			sim.SetFaults(ecssim.Faults{Action: "DescribeRenewalPrice", ErrorRate: 1})
			defer sim.SetFaults(ecssim.Faults{Action: "DescribeRenewalPrice"})
			_, err := c.Quote(ctx, "cn-hangzhou", "i-b", 1)
			return err
		}, ecs.ErrUnavailable, "", "ECS API unavailable", 4},
		{"unknown region", func() error { return renew("i-a", "cn-nowhere-1", 1, "t6") }, ecs.ErrInvalidParam, "InvalidRegionId.NotFound", "rejected", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := sim.Orders()
			err := tc.run()
			var ae *ecs.APIError
			if !errors.Is(err, tc.kind) || !errors.As(err, &ae) {
				t.Fatalf("err = %v, want an *APIError wrapping %v", err, tc.kind)
			}
			if (tc.code != "" && ae.Code != tc.code) || ae.RequestID == "" || ae.HTTPStatus == 0 || ae.Attempts != tc.attempts {
				t.Errorf("APIError = %+v, want code %q after %d attempts", ae, tc.code, tc.attempts)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.text) || !strings.Contains(msg, "RequestId "+ae.RequestID) {
				t.Errorf("message %q lacks %q or the RequestId", msg, tc.text)
			}
			if after := sim.Orders(); len(after) != len(before) {
				t.Errorf("an order was placed: %v", after[len(before):])
			}
		})
	}

	t.Run("no ClientToken: refused before any call", func(t *testing.T) {
		before := sim.Calls()["RenewInstance"]
		if err := renew("i-b", "cn-hangzhou", 1, ""); !errors.Is(err, ecs.ErrInvalidParam) {
			t.Fatalf("err = %v, want ErrInvalidParam", err)
		}
		if sim.Calls()["RenewInstance"] != before {
			t.Fatal("RenewInstance was called without a ClientToken")
		}
	})

	t.Run("network errors are retried, then unavailable", func(t *testing.T) {
		dead := ecssim.NewServer(ecssim.Options{})
		dead.Close()
		dc := newClient(t, dead, nil, func(cfg *ecs.Config) { cfg.SecurityToken = "sts-secret-token" })
		_, err := dc.Quote(ctx, "cn-hangzhou", "i-a", 1)
		var ae *ecs.APIError
		if !errors.Is(err, ecs.ErrUnavailable) || !errors.As(err, &ae) || ae.Attempts != 4 {
			t.Fatalf("err = %v, want ErrUnavailable after 4 attempts", err)
		}
		if strings.Contains(err.Error(), "sts-secret-token") || strings.Contains(err.Error(), "Signature=") {
			t.Fatalf("network error leaks the request: %v", err)
		}
	})
}

func TestContextCancelsAHeldCall(t *testing.T) {
	held := make(chan struct{})
	release := make(chan struct{})
	sim := newSim(t, ecssim.Options{Fleet: smallFleet(), Hook: func(action string, _ url.Values) {
		if action == "DescribeRenewalPrice" {
			close(held)
			<-release
		}
	}}, nil)
	defer close(release) // before sim.Close (cleanup) so Close does not wait forever
	c := newClient(t, sim, nil, nil)
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-held
		cancel()
	}()
	if _, err := c.Quote(ctx, "cn-hangzhou", "i-a", 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestVerifyWaitsForTheRenewDelay(t *testing.T) {
	clk := ecssim.NewClock(t0)
	rec := &recorder{}
	sim := newSim(t, ecssim.Options{Fleet: smallFleet(), Now: clk.Now, RenewDelay: 10 * time.Second}, rec)
	var waits []time.Duration
	c := newClient(t, sim, nil, func(cfg *ecs.Config) {
		cfg.VerifyEvery = 2 * time.Second
		cfg.Sleep = func(ctx context.Context, d time.Duration) error {
			waits = append(waits, d)
			clk.Advance(d) // business time passes; no real waiting
			return ctx.Err()
		}
	})
	ctx := t.Context()
	want := map[string]time.Time{}
	for i, id := range []string{"i-a", "i-b"} {
		before, _ := sim.Instance(id)
		if _, err := c.Renew(ctx, ecs.RenewInput{InstanceID: id, RegionID: "cn-hangzhou", Months: 1, ClientToken: fmt.Sprint("v", i)}); err != nil {
			t.Fatal(err)
		}
		want[id] = before.ExpiredTime.AddDate(0, 1, 0)
	}
	polls := len(rec.received("DescribeInstances"))
	got, err := c.Verify(ctx, "cn-hangzhou", want)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	for id, w := range want {
		if !got[id].Equal(w) {
			t.Errorf("%s verified at %s, want %s", id, got[id], w)
		}
	}
	// Polls at 0s, 2s, 6s (not yet), 14s (visible): 4 calls, one per poll for both instances.
	calls := rec.received("DescribeInstances")[polls:]
	if len(calls) != 4 || !slices.Equal(waits, []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second}) {
		t.Fatalf("%d polls with waits %v; want 4 polls, waits 2s 4s 8s", len(calls), waits)
	}
	if ids := calls[0].Get("InstanceIds"); ids != `["i-a","i-b"]` {
		t.Errorf("poll asked InstanceIds=%s", ids)
	}

	t.Run("timeout", func(t *testing.T) {
		before, _ := sim.Instance("i-c")
		if _, err := c.Renew(ctx, ecs.RenewInput{InstanceID: "i-c", RegionID: "cn-shanghai", Months: 1, ClientToken: "v-c"}); err != nil {
			t.Fatal(err)
		}
		vctx, cancel := context.WithCancel(ctx)
		c := newClient(t, sim, nil, func(cfg *ecs.Config) {
			cfg.Sleep = func(ctx context.Context, d time.Duration) error {
				cancel() // the caller gives up before the renew delay has passed
				return ctx.Err()
			}
		})
		seen, err := c.Verify(vctx, "cn-shanghai", map[string]time.Time{"i-c": before.ExpiredTime.AddDate(0, 1, 0)})
		if !errors.Is(err, ecs.ErrNotVerified) || !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want ErrNotVerified and context.Canceled", err)
		}
		if !seen["i-c"].Equal(before.ExpiredTime) {
			t.Fatalf("seen = %v, want the old expiry %s", seen, before.ExpiredTime)
		}
	})

	t.Run("unknown instance", func(t *testing.T) {
		_, err := c.Verify(ctx, "cn-hangzhou", map[string]time.Time{"i-a": t0, "i-gone": t0})
		if !errors.Is(err, ecs.ErrNotFound) || !strings.Contains(err.Error(), "i-gone") {
			t.Fatalf("err = %v, want ErrNotFound naming i-gone", err)
		}
	})
}

func TestLoopbackIgnoresProxyEnv(t *testing.T) {
	// The SDK sends even 127.0.0.1 through HTTP_PROXY; a dead proxy would fail every call.
	t.Setenv("HTTP_PROXY", "http://127.0.0.1:9")
	t.Setenv("http_proxy", "http://127.0.0.1:9")
	t.Setenv("HTTPS_PROXY", "http://127.0.0.1:9")
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "")
	sim := newSim(t, ecssim.Options{Fleet: smallFleet()}, nil)

	// Control: the bare SDK client does go through the dead proxy.
	raw, err := ecsapi.NewClientWithAccessKey("cn-hangzhou", "testid", "testsecret")
	if err != nil {
		t.Fatal(err)
	}
	raw.Domain = strings.TrimPrefix(sim.URL, "http://")
	raw.SetReadTimeout(5 * time.Second)
	req := ecsapi.CreateDescribeRegionsRequest()
	req.Scheme = "http"
	if _, err := raw.DescribeRegions(req); err == nil || !strings.Contains(err.Error(), "proxyconnect") {
		t.Fatalf("bare SDK client with HTTP_PROXY: err = %v, want a proxyconnect failure", err)
	}

	for _, ep := range []string{sim.URL, strings.TrimPrefix(sim.URL, "http://")} {
		c := newClient(t, sim, nil, func(cfg *ecs.Config) { cfg.Endpoint = ep })
		if _, err := c.Lookup(t.Context(), []string{"i-a"}); err != nil {
			t.Fatalf("endpoint %s with HTTP_PROXY set: %v", ep, err)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []ecs.Config{
		{AccessKeyID: "id"},
		{Endpoint: "ftp://127.0.0.1:1"},
		{Endpoint: "http://127.0.0.1:1/path"},
		{Endpoint: "127.0.0.1:1/x"},
	} {
		if _, err := ecs.New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

func TestLookupToleratesAFailedRegionWhenAllIDsAreFound(t *testing.T) {
	sim := newSim(t, ecssim.Options{Fleet: smallFleet()}, nil)
	c := newClient(t, sim, nil, func(cfg *ecs.Config) {
		cfg.Regions = []string{"cn-hangzhou", "cn-nowhere-1", "cn-shanghai"}
	})
	insts, err := c.Lookup(t.Context(), []string{"i-a", "i-c"})
	if err != nil || len(insts) != 2 {
		t.Fatalf("Lookup = %v, %v; want both instances", insts, err)
	}
	// An ID found nowhere while a region failed: the region's error, not "not found".
	_, err = c.Lookup(t.Context(), []string{"i-a", "i-elsewhere"})
	if errors.Is(err, ecs.ErrNotFound) || !errors.Is(err, ecs.ErrInvalidParam) {
		t.Fatalf("err = %v, want the failed region's error", err)
	}
}

// TestRenewAnswerLostThenRetriedIntoTheSameOrder: the first RenewInstance is carried out but
// answered 500 (ecssim's LostRate); the retry carries the same token and gets that order back.
func TestRenewAnswerLostThenRetriedIntoTheSameOrder(t *testing.T) {
	rec := &recorder{}
	sim := newSim(t, ecssim.Options{Fleet: smallFleet()}, rec)
	sim.SetFaults(ecssim.Faults{Action: "RenewInstance", LostRate: 1})
	c := newClient(t, sim, rec, func(cfg *ecs.Config) {
		cfg.Sleep = func(ctx context.Context, _ time.Duration) error {
			sim.SetFaults(ecssim.Faults{Action: "RenewInstance"}) // the next attempt is answered
			return ctx.Err()
		}
	})
	res, err := c.Renew(t.Context(), ecs.RenewInput{InstanceID: "i-a", RegionID: "cn-hangzhou", Months: 1, ClientToken: "tok-lost-answer"})
	if err != nil {
		t.Fatalf("Renew: %v", err)
	}
	if orders := sim.Orders(); len(orders) != 1 || orders[0].OrderId != res.OrderID {
		t.Fatalf("orders = %+v, want exactly one, %s", orders, res.OrderID)
	}
	for _, p := range rec.received("RenewInstance") {
		if p.Get("ClientToken") != "tok-lost-answer" {
			t.Fatalf("attempt sent ClientToken %q", p.Get("ClientToken"))
		}
	}
}

// TestRenewThrottledAfterALostAnswerIsUnknown: the first attempt is carried out but its
// answer is lost (500), every retry is throttled. Throttling says nothing about the first
// attempt, so the error must say the outcome is unknown (ErrUnavailable), not "throttled",
// which callers read as "nothing was charged, ask again".
func TestRenewThrottledAfterALostAnswerIsUnknown(t *testing.T) {
	sim := newSim(t, ecssim.Options{Fleet: smallFleet()}, nil)
	sim.SetFaults(ecssim.Faults{Action: "RenewInstance", LostRate: 1})
	c := newClient(t, sim, nil, func(cfg *ecs.Config) {
		cfg.Sleep = func(ctx context.Context, _ time.Duration) error {
			sim.SetFaults(ecssim.Faults{Action: "RenewInstance", ThrottleRate: 1})
			return ctx.Err()
		}
	})
	_, err := c.Renew(t.Context(), ecs.RenewInput{InstanceID: "i-a", RegionID: "cn-hangzhou", Months: 1, ClientToken: "tok-lost-throttled"})
	if len(sim.Orders()) != 1 {
		t.Fatalf("orders = %+v, want the one whose answer was lost", sim.Orders())
	}
	if err == nil || !errors.Is(err, ecs.ErrUnavailable) || errors.Is(err, ecs.ErrThrottled) {
		t.Fatalf("err = %v, want ErrUnavailable (outcome unknown), not ErrThrottled", err)
	}
	var ae *ecs.APIError
	if !errors.As(err, &ae) || ae.Attempts != 4 || !strings.Contains(err.Error(), "Throttling") {
		t.Fatalf("err = %#v, want 4 attempts and the throttling named", err)
	}
}

// TestExpiringFleetChangingBetweenPages: pages are numbered positions in the filtered list.
// When an instance leaves the window after page 1 was read (it was renewed meanwhile),
// everything behind it moves up one place and the first instance of page 2 slides onto page
// 1, already read: it would be silently missing from the digest. The scan must notice the
// list changed (TotalCount) and read the region again, or report it failed.
func TestExpiringFleetChangingBetweenPages(t *testing.T) {
	var fleet ecssim.Fleet
	fleet.Balance = 1
	for i := range 150 {
		fleet.Instances = append(fleet.Instances, instance(fmt.Sprintf("i-p%03d", i), "cn-hangzhou", 3))
	}
	var sim *ecssim.Server
	var once sync.Once
	sim = newSim(t, ecssim.Options{Fleet: fleet, Hook: func(action string, p url.Values) {
		if action == "DescribeInstances" && p.Get("PageNumber") == "2" {
			once.Do(func() {
				moved := instance("i-p000", "cn-hangzhou", 60) // renewed: out of the window
				sim.AddInstances(moved)
			})
		}
	}}, nil)
	c := newClient(t, sim, nil, func(cfg *ecs.Config) { cfg.Regions = []string{"cn-hangzhou"} })
	scan, err := c.Expiring(t.Context(), t0, t0.AddDate(0, 0, 30))
	if err != nil {
		t.Fatalf("Expiring: %v", err)
	}
	if len(scan.Failed) > 0 {
		t.Fatalf("Failed = %v; the list changed once, a second read is complete", scan.Failed)
	}
	got := map[string]bool{}
	for _, in := range scan.Instances {
		got[in.ID] = true
	}
	for i := 1; i < 150; i++ {
		if id := fmt.Sprintf("i-p%03d", i); !got[id] {
			t.Errorf("%s, in the window all along, is missing from the scan and no region is reported failed", id)
		}
	}
	if got["i-p000"] || len(scan.Instances) != 149 {
		t.Errorf("%d instances (i-p000 in: %v), want the 149 still in the window", len(scan.Instances), got["i-p000"])
	}

	// A list that changes on every read is reported, not returned as if complete.
	var n atomic.Int32
	var sim2 *ecssim.Server
	sim2 = newSim(t, ecssim.Options{Fleet: fleet, Hook: func(action string, p url.Values) {
		if action == "DescribeInstances" && p.Get("PageNumber") == "2" {
			moved := instance(fmt.Sprintf("i-p%03d", n.Add(1)), "cn-hangzhou", 60)
			sim2.AddInstances(moved)
		}
	}}, nil)
	c = newClient(t, sim2, nil, func(cfg *ecs.Config) { cfg.Regions = []string{"cn-hangzhou"} })
	scan, err = c.Expiring(t.Context(), t0, t0.AddDate(0, 0, 30))
	if err == nil || len(scan.Failed) != 1 || !strings.Contains(scan.Failed[0].Err.Error(), "changed") {
		t.Fatalf("a list changing on every read: err %v, Failed %v; want the region reported", err, scan.Failed)
	}
}

// TestSDKPanicIsAnUnknownOutcome: the v1 SDK type-asserts an error body's Code to a string
// and panics when a gateway in front of the API answers {"Code": 500}. The panic happened on
// a goroutine of the client, so it killed the whole bot in the middle of a renewal (and again
// on every restart, resuming it). It must come back as an error whose outcome is unknown: the
// request may have been carried out.
func TestSDKPanicIsAnUnknownOutcome(t *testing.T) {
	sim := newSim(t, ecssim.Options{Fleet: smallFleet()}, nil)
	sim.SetFaults(ecssim.Faults{Action: "RenewInstance", LostRate: 1})
	target, err := url.Parse(sim.URL)
	if err != nil {
		t.Fatal(err)
	}
	gateway := httputil.NewSingleHostReverseProxy(target)
	gateway.ModifyResponse = func(resp *http.Response) error {
		if resp.StatusCode < 500 {
			return nil
		}
		resp.Body.Close()
		body := `{"Code":500,"Message":"gateway error"}`
		resp.Body = io.NopCloser(strings.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
		return nil
	}
	gw := httptest.NewServer(gateway)
	t.Cleanup(gw.Close)
	c := newClient(t, sim, nil, func(cfg *ecs.Config) { cfg.Endpoint = gw.URL })
	_, err = c.Renew(t.Context(), ecs.RenewInput{InstanceID: "i-a", RegionID: "cn-hangzhou", Months: 1, ClientToken: "tok-gateway"})
	if !errors.Is(err, ecs.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable (outcome unknown)", err)
	}
	if n := len(sim.Orders()); n != 1 {
		t.Fatalf("%d orders, want the one placed behind the gateway", n)
	}
}

// TestExpiringPageBatchDoesNotWaitForOtherPages: each page's auto-renew batch starts when the
// page arrives. The scan used to collect a region's instances into full batches of 100 and
// send the remainder only after every page had arrived, so a short last page waited for the
// slowest page of its region: here page 2 is held until page 3's 50 instances are asked about.
func TestExpiringPageBatchDoesNotWaitForOtherPages(t *testing.T) {
	var fleet ecssim.Fleet
	fleet.Balance = 1
	for i := range 250 {
		fleet.Instances = append(fleet.Instances, instance(fmt.Sprintf("i-q%03d", i), "cn-hangzhou", 3))
	}
	lastBatch := make(chan struct{})
	var once sync.Once
	var early atomic.Bool
	sim := newSim(t, ecssim.Options{Fleet: fleet, Hook: func(action string, p url.Values) {
		switch {
		case action == "DescribeInstanceAutoRenewAttribute" && len(strings.Split(p.Get("InstanceId"), ",")) == 50:
			once.Do(func() { close(lastBatch) })
		case action == "DescribeInstances" && p.Get("PageNumber") == "2":
			select {
			case <-lastBatch:
				early.Store(true)
			case <-time.After(3 * time.Second): // below the client's 5 s timeout: the old code's failure
			}
		}
	}}, nil)
	c := newClient(t, sim, nil, func(cfg *ecs.Config) { cfg.Regions = []string{"cn-hangzhou"} })
	scan, err := c.Expiring(t.Context(), t0, t0.AddDate(0, 0, 30))
	if err != nil || len(scan.Failed) > 0 || len(scan.Instances) != 250 {
		t.Fatalf("Expiring: err %v, Failed %v, %d instances, want 250", err, scan.Failed, len(scan.Instances))
	}
	if !early.Load() {
		t.Error("the last page's auto-renew batch waited for page 2 to arrive")
	}
	if scan.Calls != 6 {
		t.Errorf("Calls = %d, want the minimum 6 (3 pages, 3 batches)", scan.Calls)
	}
	for _, in := range scan.Instances {
		if in.AutoRenew.Status != ecs.RenewalStatus("Normal") {
			t.Fatalf("%s auto-renew %q, want Normal", in.ID, in.AutoRenew.Status)
		}
	}
}

// A scan's instances carry their fleet tags, and instances with equal tags share them.
func TestExpiringTags(t *testing.T) {
	regions := []string{"cn-hangzhou", "cn-shanghai"}
	fleet := ecssim.Generate(600, regions, 7, t0)
	sim := ecssim.NewServer(ecssim.Options{Fleet: fleet, Now: func() time.Time { return t0 }})
	defer sim.Close()
	c := newClient(t, sim, nil, func(cfg *ecs.Config) { cfg.Regions = regions })
	scan, err := c.Expiring(t.Context(), t0.AddDate(-1, 0, 0), t0.AddDate(5, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]ecssim.FleetInstance{}
	for _, in := range fleet.Instances {
		byID[in.InstanceId] = in
	}
	shared := map[string]ecs.Tags{} // by region and tags
	for _, in := range scan.Instances {
		want := byID[in.ID].Tags
		if in.Tags.Len() != len(want) || !maps.Equal(maps.Collect(in.Tags.All()), want) {
			t.Fatalf("%s: tags %s, want %v", in.ID, in.Tags, want)
		}
		k := in.RegionID + " " + in.Tags.String()
		if first, ok := shared[k]; ok && first != in.Tags {
			t.Fatalf("%s: tags %s not shared with the region's other instances that have them", in.ID, in.Tags)
		}
		shared[k] = in.Tags
	}
	if len(scan.Instances) < 100 || len(shared) >= len(scan.Instances)/2 {
		t.Fatalf("%d instances, %d distinct (region, tags)", len(scan.Instances), len(shared))
	}
}
