package ecs

import (
	"context"
	"fmt"
	"math"
	"sync"

	"golang.org/x/time/rate"
)

// Alibaba Cloud throttles API calls per account, per region and per API (Throttling.User).
// A Client is one account, so it paces its calls with one token bucket per (region, API):
// a large fleet then never trips the throttle, and one account's pacing never delays
// another account's calls (each has its own Client and buckets).

// DefaultCallsPerSecond is the default pace of one API in one region of one account.
// Alibaba does not publish one number for every API and account; 20 calls per second is
// well under the limits its throttling errors show for the read APIs renewbot uses, and a
// region's expiring scan (one DescribeInstances page and one auto-renew batch per 100
// instances) stays inside the burst up to 2,000 expiring instances per region.
const DefaultCallsPerSecond = 20

// RateLimit is an account's pacing. The zero value is the default: DefaultCallsPerSecond
// per region and API, a burst of as many calls.
type RateLimit struct {
	PerSecond float64            // calls per second per (region, API); 0: DefaultCallsPerSecond
	Burst     int                // calls allowed at once; 0: PerSecond rounded up
	Actions   map[string]float64 // per-API override of PerSecond, e.g. "DescribeInstances": 10
}

// Validate reports a pace that is not a positive number.
func (r RateLimit) Validate() error {
	bad := func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > 10000 }
	if bad(r.PerSecond) {
		return fmt.Errorf("calls per second %v is not a number from 0 to 10000", r.PerSecond)
	}
	if r.Burst < 0 || r.Burst > 10000 {
		return fmt.Errorf("burst %d is not a number from 0 to 10000", r.Burst)
	}
	for a, v := range r.Actions {
		if bad(v) || v == 0 {
			return fmt.Errorf("%s: calls per second %v is not a number above 0 and up to 10000", a, v)
		}
	}
	return nil
}

// pace returns the rate and burst of one API.
func (r RateLimit) pace(action string) (rate.Limit, int) {
	per := r.PerSecond
	if per <= 0 {
		per = DefaultCallsPerSecond
	}
	if v, ok := r.Actions[action]; ok && v > 0 {
		per = v
	}
	burst := r.Burst
	if burst <= 0 {
		burst = max(1, int(math.Ceil(per)))
	}
	return rate.Limit(per), burst
}

// limiters holds the token buckets of one account, one per (region, API), made on first use.
type limiters struct {
	cfg RateLimit
	mu  sync.Mutex
	m   map[limiterKey]*rate.Limiter
}

type limiterKey struct{ region, action string }

func newLimiters(cfg RateLimit) *limiters {
	return &limiters{cfg: cfg, m: map[limiterKey]*rate.Limiter{}}
}

func (l *limiters) get(region, action string) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := limiterKey{region, action}
	lim, ok := l.m[k]
	if !ok {
		lim = rate.NewLimiter(l.cfg.pace(action))
		l.m[k] = lim
	}
	return lim
}

// wait takes one token of (region, action), waiting for it; it returns early with ctx's
// error, and at once when the wait would outlast ctx's deadline.
func (l *limiters) wait(ctx context.Context, region, action string) error {
	return l.get(region, action).Wait(ctx)
}
