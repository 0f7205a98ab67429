package ecs

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func TestLimitersPacePerRegionAndAPI(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiters(RateLimit{PerSecond: 2, Burst: 2, Actions: map[string]float64{"RenewInstance": 1}})
		ctx := context.Background()
		start := time.Now()
		for range 6 { // burst 2, then 2 per second: the 6th call 2 s after the first
			if err := l.wait(ctx, "cn-hangzhou", "DescribeInstances"); err != nil {
				t.Fatal(err)
			}
		}
		if took := time.Since(start); took != 2*time.Second {
			t.Fatalf("6 calls at 2/s (burst 2) took %s, want 2s", took)
		}
		// Another region, another API: their own buckets, full.
		start = time.Now()
		for _, k := range [][2]string{{"cn-shanghai", "DescribeInstances"}, {"cn-shanghai", "DescribeInstances"}, {"cn-hangzhou", "DescribeRenewalPrice"}} {
			if err := l.wait(ctx, k[0], k[1]); err != nil {
				t.Fatal(err)
			}
		}
		if took := time.Since(start); took != 0 {
			t.Fatalf("other buckets waited %s", took)
		}
		// The per-API override: 1/s (burst 2 still).
		start = time.Now()
		for range 3 {
			if err := l.wait(ctx, "cn-hangzhou", "RenewInstance"); err != nil {
				t.Fatal(err)
			}
		}
		if took := time.Since(start); took != time.Second {
			t.Fatalf("3 RenewInstance at 1/s, burst 2, took %s, want 1s", took)
		}
	})
}

func TestRateLimitDefaults(t *testing.T) {
	r, b := RateLimit{}.pace("DescribeInstances")
	if float64(r) != DefaultCallsPerSecond || b != DefaultCallsPerSecond/2 {
		t.Fatalf("default pace = %v/s burst %d, want burst %d (half: room for jitter under a throttle)", r, b, DefaultCallsPerSecond/2)
	}
	if _, b := (RateLimit{PerSecond: 5}).pace("x"); b != 3 {
		t.Fatalf("5/s: burst %d, want 3", b)
	}
	r, b = RateLimit{PerSecond: 0.5}.pace("x")
	if float64(r) != 0.5 || b != 1 {
		t.Fatalf("0.5/s: pace = %v/s burst %d, want burst 1", r, b)
	}
}

// TestTakeSpacesCallsThatWaitedForAClient: calls that wait for a free SDK client take their
// token only when they have one, so two clients freed at once do not send two calls at once:
// sends stay 1/rate apart (2/s, burst 1: 500 ms), as the server's throttle counts them.
func TestTakeSpacesCallsThatWaitedForAClient(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiters(RateLimit{PerSecond: 2, Burst: 1})
		slots := make(chan struct{}, 2)
		slots <- struct{}{}
		slots <- struct{}{}
		// The first two calls sent hold their clients until 3 s, and free them together.
		holds := []time.Duration{3 * time.Second, 2500 * time.Millisecond, time.Second, time.Second}
		start := time.Now()
		sent := make(chan time.Duration, len(holds))
		var order atomic.Int64
		var wg sync.WaitGroup
		for i := range holds {
			wg.Go(func() {
				time.Sleep(time.Duration(i) * time.Millisecond) // in this order
				err := l.take(context.Background(), "cn-hangzhou", "DescribeInstances",
					func() error { <-slots; return nil }, func() { slots <- struct{}{} })
				if err != nil {
					t.Error(err)
					return
				}
				sent <- time.Since(start)
				time.Sleep(holds[order.Add(1)-1])
				slots <- struct{}{}
			})
		}
		wg.Wait()
		close(sent)
		var times []time.Duration
		for d := range sent {
			times = append(times, d)
		}
		slices.Sort(times)
		want := []time.Duration{0, 500 * time.Millisecond, 3 * time.Second, 3500 * time.Millisecond}
		if !slices.Equal(times, want) {
			t.Fatalf("calls sent at %v, want %v", times, want)
		}
	})
}
