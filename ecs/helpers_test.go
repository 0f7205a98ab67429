package ecs_test

import (
	"context"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/ecs/ecssim"
)

// t0 is the business "now" of every test fleet: 04:00Z, far from the 16:00Z expiry times.
var t0 = time.Date(2026, 11, 25, 4, 0, 0, 0, time.UTC)

// recorder collects what the emulator received (via Options.Hook) and what the client
// observed (via Config.Observe).
type recorder struct {
	mu       sync.Mutex
	params   []url.Values // per received call
	actions  []string
	observed []string // "Action code"
}

func (r *recorder) hook(action string, p url.Values) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.actions = append(r.actions, action)
	r.params = append(r.params, url.Values(p))
}

func (r *recorder) observe(action, code string, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.observed = append(r.observed, action+" "+code)
}

func (r *recorder) received(action string) []url.Values {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []url.Values
	for i, a := range r.actions {
		if a == action {
			out = append(out, r.params[i])
		}
	}
	return out
}

func (r *recorder) observations() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.observed)
}

// newSim starts ecssim with the given options; the recorder, when not nil, is its Hook.
func newSim(t testing.TB, opts ecssim.Options, rec *recorder) *ecssim.Server {
	t.Helper()
	if rec != nil && opts.Hook == nil {
		opts.Hook = rec.hook
	}
	if opts.Now == nil {
		opts.Now = func() time.Time { return t0 }
	}
	s := ecssim.NewServer(opts)
	t.Cleanup(s.Close)
	return s
}

// noWait is the injected Sleep: it never waits, but honours ctx.
func noWait(ctx context.Context, _ time.Duration) error { return ctx.Err() }

// newClient is the real client pointed at the emulator with the test key.
func newClient(t testing.TB, sim *ecssim.Server, rec *recorder, mod func(*ecs.Config)) *ecs.Client {
	t.Helper()
	cfg := ecs.Config{
		Endpoint:        sim.URL,
		AccessKeyID:     "testid",
		AccessKeySecret: "testsecret",
		Timeout:         5 * time.Second,
		Retry:           ecs.RetryPolicy{Attempts: 4, Base: time.Millisecond, Max: 4 * time.Millisecond},
		Sleep:           noWait,
	}
	if rec != nil {
		cfg.Observe = rec.observe
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := ecs.New(cfg)
	if err != nil {
		t.Fatalf("ecs.New: %v", err)
	}
	return c
}

// instance is a PrePaid fleet instance expiring `days` after t0's day at 16:00Z.
func instance(id, region string, days int) ecssim.FleetInstance {
	return ecssim.FleetInstance{
		InstanceId:         id,
		InstanceName:       "web-" + id,
		RegionId:           region,
		ZoneId:             region + "-a",
		InstanceType:       "ecs.g7.large",
		InstanceChargeType: "PrePaid",
		Status:             "Running",
		ExpiredTime:        time.Date(2026, 11, 25, 16, 0, 0, 0, time.UTC).AddDate(0, 0, days),
		RenewalStatus:      "Normal",
		PeriodUnit:         "Month",
		MonthlyPrice:       100,
		Tags:               map[string]string{"env": "prod"},
	}
}

// smallFleet: three PrePaid instances in two regions, one PostPaid, money enough.
func smallFleet() ecssim.Fleet {
	post := instance("i-postpaid", "cn-hangzhou", 0)
	post.InstanceChargeType, post.RenewalStatus, post.PeriodUnit = "PostPaid", "", ""
	return ecssim.Fleet{
		Balance:  10000,
		Currency: "CNY",
		Instances: []ecssim.FleetInstance{
			instance("i-a", "cn-hangzhou", 3),
			instance("i-b", "cn-hangzhou", 10),
			instance("i-c", "cn-shanghai", 5),
			post,
		},
	}
}
