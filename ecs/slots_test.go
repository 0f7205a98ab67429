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

// A region whose calls hang holds only its own call slots: another region's calls go out at
// once (issue 12: a throttled or failing region never delays the others).
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
	c := newClient(t, sim, nil, func(cfg *ecs.Config) { cfg.Concurrency, cfg.Timeout = 1, time.Minute })
	ctx := context.Background()
	hung := make(chan error, 1)
	go func() {
		_, err := c.Quote(ctx, "cn-hangzhou", "i-a", 1)
		hung <- err
	}()
	<-held // cn-hangzhou's only slot is taken by a call that does not return
	// Only a failing run waits for this deadline: with one slot per account it would wait for
	// the held call forever.
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
