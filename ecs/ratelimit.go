package ecs

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

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
// instances) stays inside the default burst up to 1,000 expiring instances per region.
const DefaultCallsPerSecond = 20

// RateLimit is an account's pacing. The zero value is the default: DefaultCallsPerSecond
// per region and API, and a burst of half as many calls.
//
// The default burst is half the rate so that a throttle of the same rate and burst (the
// tightest Alibaba could be set to for that rate) always has tokens to spare: calls paced
// here arrive there bunched by the network and the CPU, and with a burst as large as the
// throttle's, every bunched call would be refused (at 20 calls/s, 10-17 of 919 priced
// deductions were, BenchmarkForecastPricing; Alibaba refuses the rest of the minute).
type RateLimit struct {
	PerSecond float64            // calls per second per (region, API); 0: DefaultCallsPerSecond
	Burst     int                // calls allowed at once; 0: half of PerSecond, rounded up
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

// BurstOf is the burst of action's buckets: how many of its calls a region may make at once.
func (r RateLimit) BurstOf(action string) int {
	_, b := r.pace(action)
	return b
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
		burst = max(1, int(math.Ceil(per/2)))
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

// take takes one token of (region, action) at the moment the call can be sent. It waits
// until the bucket has a token, without taking it; then runs ready (the caller takes a free
// SDK client there), and only then takes the token. If another call took it meanwhile, it
// runs undo (the client goes back) and waits again. A token taken before a wait for a free
// client would let calls that waited for clients leave together, faster than the pace, and
// Alibaba throttles by when calls arrive. ready and undo may be nil. Waiting for a token, it
// returns early with ctx's error, and at once when the wait would outlast ctx's deadline,
// as a *pacingError; ready's error is returned as it is.
func (l *limiters) take(ctx context.Context, region, action string, ready func() error, undo func()) error {
	lim := l.get(region, action)
	for {
		if err := waitForToken(ctx, lim); err != nil {
			return &pacingError{err: err}
		}
		if ready != nil {
			if err := ready(); err != nil {
				return err
			}
		}
		if lim.Allow() {
			return nil
		}
		if undo != nil {
			undo()
		}
	}
}

// wait takes one token of (region, action), waiting for it (take with nothing to get ready).
func (l *limiters) wait(ctx context.Context, region, action string) error {
	return l.take(ctx, region, action, nil, nil)
}

// pacingError is a wait for a token that ended early: ctx's error, or a deadline the wait
// would outlast.
type pacingError struct{ err error }

func (e *pacingError) Error() string { return e.err.Error() }
func (e *pacingError) Unwrap() error { return e.err }

// waitForToken waits until lim has a token, without taking it.
func waitForToken(ctx context.Context, lim *rate.Limiter) error {
	d := untilToken(lim, time.Now())
	if d <= 0 {
		return ctx.Err()
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return fmt.Errorf("the next call is allowed in %s, after the deadline", d.Round(time.Millisecond))
	}
	return sleep(ctx, d) // client.go
}

// untilToken is how long until lim has a whole token.
func untilToken(lim *rate.Limiter, now time.Time) time.Duration {
	missing := 1 - lim.TokensAt(now)
	if missing <= 0 {
		return 0
	}
	return time.Duration(math.Ceil(missing / float64(lim.Limit()) * float64(time.Second)))
}
