package ecs_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/ecs/ecssim"
)

func TestAlignedExpiry(t *testing.T) {
	d := func(y int, m time.Month, day int) time.Time { return time.Date(y, m, day, 0, 0, 0, 0, ecs.UTC8) }
	for _, c := range []struct {
		cur  time.Time
		day  int
		want time.Time
	}{
		{d(2018, 9, 10), 1, d(2018, 11, 1)}, // Alibaba's example: Oct 1 is under a month away
		{d(2018, 5, 17), 1, d(2018, 7, 1)},  // Alibaba's example
		{d(2026, 12, 1), 15, d(2027, 1, 15)},
		{d(2026, 12, 1), 1, d(2027, 1, 1)},   // exactly a month: allowed
		{d(2027, 1, 31), 28, d(2027, 2, 28)}, // Jan 31 + a month is Feb 28 (AddMonths): a month away
	} {
		if got := ecs.AlignedExpiry(c.cur, c.day); !got.Equal(c.want) {
			t.Errorf("AlignedExpiry(%s, %d) = %s, want %s", c.cur.Format(time.DateOnly), c.day, got.In(ecs.UTC8).Format(time.DateOnly), c.want.Format(time.DateOnly))
		}
	}
}

// Quote and renew to the unified expiration day against ecssim: the new expiry is
// AlignedExpiry, one order however often the same token is sent.
func TestQuoteAndRenewAligned(t *testing.T) {
	sim := newSim(t, ecssim.Options{Fleet: smallFleet(), RenewDelay: -1}, nil)
	c := newClient(t, sim, nil, nil)
	ctx := context.Background()
	before, _ := sim.Instance("i-b")
	q, err := c.QuoteAligned(ctx, "cn-hangzhou", "i-b", 1)
	if err != nil || q.Trade <= 0 || q.ExpectedRenewDay != 1 || q.Months != 0 {
		t.Fatalf("QuoteAligned = %+v, %v", q, err)
	}
	in := ecs.RenewInput{InstanceID: "i-b", RegionID: "cn-hangzhou", ExpectedRenewDay: 1, ClientToken: "align-i-b-1"}
	for range 2 {
		if _, err := c.Renew(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	after, _ := sim.Instance("i-b")
	if want := ecs.AlignedExpiry(before.ExpiredTime, 1); !after.ExpiredTime.Equal(want) {
		t.Fatalf("expiry %s → %s, want %s", before.ExpiredTime, after.ExpiredTime, want)
	}
	if orders := sim.Orders(); len(orders) != 1 || orders[0].Amount != q.Trade {
		t.Fatalf("orders = %+v, want one of the quoted %v", orders, q.Trade)
	}
	// Bad days and a day with a period are refused before any call.
	for _, bad := range []ecs.RenewInput{{InstanceID: "i-a", RegionID: "cn-hangzhou", ExpectedRenewDay: 29, ClientToken: "x"},
		{InstanceID: "i-a", RegionID: "cn-hangzhou", ExpectedRenewDay: 1, Months: 1, ClientToken: "y"}} {
		if _, err := c.Renew(ctx, bad); !errors.Is(err, ecs.ErrInvalidPeriod) {
			t.Errorf("Renew(%+v): %v, want ErrInvalidPeriod", bad, err)
		}
	}
	if _, err := c.QuoteAligned(ctx, "cn-hangzhou", "i-a", 0); !errors.Is(err, ecs.ErrInvalidPeriod) {
		t.Errorf("QuoteAligned day 0: %v", err)
	}
}
