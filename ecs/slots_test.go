package ecs_test

import (
	"context"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/ecs/ecssim"
)

// A region whose calls hang holds at most half of the account's call slots: another region's
// calls still go out (issue 12: a throttled or failing region never delays the others).
func TestHangingRegionDoesNotHoldOtherRegions(t *testing.T) {
	held, release := make(chan struct{}, 1), make(chan struct{})
	var once sync.Once
	sim := newSim(t, ecssim.Options{Fleet: smallFleet(), Hook: func(action string, p url.Values) {
		if action == "DescribeRenewalPrice" && p.Get("RegionId") == "cn-hangzhou" {
			once.Do(func() { held <- struct{}{} })
			<-release
		}
	}}, nil)
	defer close(release)
	c := newClient(t, sim, nil, func(cfg *ecs.Config) { cfg.Concurrency, cfg.Timeout = 2, time.Minute })
	ctx := context.Background()
	hung := make(chan error, 2)
	for range 2 { // the second waits for cn-hangzhou's share, not for the account's last slot
		go func() {
			_, err := c.Quote(ctx, "cn-hangzhou", "i-a", 1)
			hung <- err
		}()
	}
	<-held // cn-hangzhou's share of the two slots (one) is taken by a call that does not return
	// Only a failing run waits for this deadline: with slots shared without a region's cap
	// a second held call would take the other slot, and this one would wait forever.
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	q, err := c.Quote(sctx, "cn-shanghai", "i-c", 1)
	if err != nil || q.Trade <= 0 {
		t.Fatalf("cn-shanghai while cn-hangzhou hangs: %+v, %v", q, err)
	}
	select {
	case err := <-hung:
		t.Fatalf("the held cn-hangzhou call returned: %v", err)
	default:
	}
}
