package ecs

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

func TestLimitersPacePerRegionAndAPI(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiters(RateLimit{PerSecond: 2, Actions: map[string]float64{"RenewInstance": 1}})
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
		// The per-API override: 1/s, burst 1.
		start = time.Now()
		for range 3 {
			if err := l.wait(ctx, "cn-hangzhou", "RenewInstance"); err != nil {
				t.Fatal(err)
			}
		}
		if took := time.Since(start); took != 2*time.Second {
			t.Fatalf("3 RenewInstance at 1/s took %s, want 2s", took)
		}
	})
}

func TestRateLimitDefaults(t *testing.T) {
	r, b := RateLimit{}.pace("DescribeInstances")
	if float64(r) != DefaultCallsPerSecond || b != DefaultCallsPerSecond {
		t.Fatalf("default pace = %v/s burst %d", r, b)
	}
	r, b = RateLimit{PerSecond: 0.5}.pace("x")
	if float64(r) != 0.5 || b != 1 {
		t.Fatalf("0.5/s: pace = %v/s burst %d, want burst 1", r, b)
	}
}
