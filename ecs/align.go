package ecs

import (
	"context"
	"fmt"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	ecsapi "github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
)

// Aligned expiry dates (统一到期日): RenewInstance and DescribeRenewalPrice take
// ExpectedRenewDay (1-28) instead of Period, renewing an unexpired instance to that day of a
// month, priced pro rata by the monthly price. What renewbot relies on from Alibaba's
// documentation of the feature:
//   - the day is 1 to 28, and only unexpired instances can be renewed to it;
//   - the gap between the current expiry and the new one may not be under a month: when the
//     next such day is less than a month away, the renewal runs to the first such day 30 days
//     or more after the current expiry (the documentation's example: expiries 2018-09-10 and
//     2018-05-17 with day 1 renew to 2018-11-01 and 2018-07-01);
//   - days start at 00:00 UTC+8.

// ValidAlignDay reports whether ExpectedRenewDay accepts day.
func ValidAlignDay(day int) bool { return day >= 1 && day <= 28 }

// AlignedExpiry is the expiry after renewing an instance that expires at cur to day.
func AlignedExpiry(cur time.Time, day int) time.Time {
	old := cur.In(UTC8)
	next := time.Date(old.Year(), old.Month(), day, 0, 0, 0, 0, UTC8)
	if !next.After(old) {
		next = time.Date(old.Year(), old.Month()+1, day, 0, 0, 0, 0, UTC8)
	}
	if next.Before(AddMonths(old, 1)) {
		earliest := old.AddDate(0, 0, 30)
		next = time.Date(earliest.Year(), earliest.Month(), day, 0, 0, 0, 0, UTC8)
		if next.Before(earliest) {
			next = time.Date(earliest.Year(), earliest.Month()+1, day, 0, 0, 0, 0, UTC8)
		}
	}
	return next.UTC()
}

// QuoteAligned prices renewing one instance to the unified expiration day (DescribeRenewalPrice
// with ExpectedRenewDay). The quote's Months is 0 and its ExpectedRenewDay is day.
func (c *Client) QuoteAligned(ctx context.Context, regionID, instanceID string, day int) (Quote, error) {
	if err := needRegionID(regionID, instanceID); err != nil {
		return Quote{}, err
	}
	if !ValidAlignDay(day) {
		return Quote{}, fmt.Errorf("ecs: expected renew day %d for %s (1-28): %w", day, instanceID, ErrInvalidPeriod)
	}
	q, err := c.renewalPrice(ctx, regionID, instanceID, func(req *ecsapi.DescribeRenewalPriceRequest) {
		req.ExpectedRenewDay = requests.NewInteger(day)
	})
	if err != nil {
		return Quote{}, err
	}
	q.ExpectedRenewDay = day
	return q, nil
}

// QuoteAligned prices aligning the instance, in its account.
func (a *Accounts) QuoteAligned(ctx context.Context, regionID, instanceID string, day int) (Quote, error) {
	c, err := a.clientOf(ctx, instanceID)
	if err != nil {
		return Quote{}, err
	}
	return c.QuoteAligned(ctx, regionID, instanceID, day)
}
