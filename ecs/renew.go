package ecs

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	ecsapi "github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
)

// AddMonths is the expiry after renewing for n months: calendar months added to the
// expiration date the way Alibaba's billing does, keeping the day of the month or, when the
// target month is shorter, taking its last day (Jan 31 + 1 month = Feb 28; time.AddDate
// would give Mar 3, a date Alibaba never shows). Expiries are 16:00Z, midnight UTC+8, so
// the UTC date is the expiration date.
func AddMonths(t time.Time, n int) time.Time {
	y, m, d := t.Date()
	first := time.Date(y, m+time.Month(n), 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
	last := first.AddDate(0, 1, -1).Day()
	return first.AddDate(0, 0, min(d, last)-1)
}

// Quote prices renewing one instance for months (DescribeRenewalPrice). DescribeRenewalPrice
// takes Period 1-9 with PriceUnit Month and 1-3 with PriceUnit Year, so 12, 24 and 36 months
// are asked as 1, 2 and 3 years; anything else is sent as months and the API decides.
func (c *Client) Quote(ctx context.Context, regionID, instanceID string, months int) (Quote, error) {
	if err := needRegionID(regionID, instanceID); err != nil {
		return Quote{}, err
	}
	if months < 1 {
		return Quote{}, fmt.Errorf("ecs: renewal period of %d months for %s: %w", months, instanceID, ErrInvalidPeriod)
	}
	period, unit := months, "Month"
	if months >= 12 && months%12 == 0 {
		period, unit = months/12, "Year"
	}
	q, err := c.renewalPrice(ctx, regionID, instanceID, func(req *ecsapi.DescribeRenewalPriceRequest) {
		req.Period = requests.NewInteger(period)
		req.PriceUnit = unit
	})
	if err != nil {
		return Quote{}, err
	}
	q.Months = months
	return q, nil
}

// renewalPrice calls DescribeRenewalPrice for one instance; set adds what is priced (a
// period, or an ExpectedRenewDay).
func (c *Client) renewalPrice(ctx context.Context, regionID, instanceID string, set func(*ecsapi.DescribeRenewalPriceRequest)) (Quote, error) {
	var resp *ecsapi.DescribeRenewalPriceResponse
	err := c.call(ctx, nil, "DescribeRenewalPrice", regionID, instanceID,
		func(api *ecsapi.Client, prepare func(requests.AcsRequest)) (err error) {
			req := ecsapi.CreateDescribeRenewalPriceRequest()
			req.RegionId = regionID
			req.ResourceId = instanceID
			req.ResourceType = "instance"
			set(req)
			prepare(req)
			resp, err = api.DescribeRenewalPrice(req)
			return err
		})
	if err != nil {
		return Quote{}, err
	}
	p := resp.PriceInfo.Price
	return Quote{
		InstanceID: instanceID,
		RegionID:   regionID,
		Original:   p.OriginalPrice,
		Discount:   p.DiscountPrice,
		Trade:      p.TradePrice,
		Currency:   p.Currency,
	}, nil
}

// Renew calls RenewInstance once (plus retries with the same ClientToken). The token is
// required: without it a retry could pay twice.
func (c *Client) Renew(ctx context.Context, in RenewInput) (RenewResult, error) {
	if err := needRegionID(in.RegionID, in.InstanceID); err != nil {
		return RenewResult{}, err
	}
	if in.ClientToken == "" {
		return RenewResult{}, fmt.Errorf("ecs: renewing %s needs a ClientToken: %w", in.InstanceID, ErrInvalidParam)
	}
	if len(in.ClientToken) > 64 || strings.IndexFunc(in.ClientToken, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0 {
		return RenewResult{}, fmt.Errorf("ecs: ClientToken must be at most 64 printable ASCII characters: %w", ErrInvalidParam)
	}
	switch {
	case in.ExpectedRenewDay != 0 && (in.Months != 0 || !ValidAlignDay(in.ExpectedRenewDay)):
		return RenewResult{}, fmt.Errorf("ecs: renewing %s to day %d (and %d months): %w", in.InstanceID, in.ExpectedRenewDay, in.Months, ErrInvalidPeriod)
	case in.ExpectedRenewDay == 0 && in.Months < 1:
		return RenewResult{}, fmt.Errorf("ecs: renewal period of %d months for %s: %w", in.Months, in.InstanceID, ErrInvalidPeriod)
	}
	var resp *ecsapi.RenewInstanceResponse
	err := c.call(ctx, nil, "RenewInstance", in.RegionID, in.InstanceID,
		func(api *ecsapi.Client, prepare func(requests.AcsRequest)) (err error) {
			req := ecsapi.CreateRenewInstanceRequest()
			req.RegionId = in.RegionID
			req.InstanceId = in.InstanceID
			if in.ExpectedRenewDay != 0 { // to the unified expiration day, instead of a period (align.go)
				req.ExpectedRenewDay = requests.NewInteger(in.ExpectedRenewDay)
			} else {
				req.Period = requests.NewInteger(in.Months)
				req.PeriodUnit = "Month"
			}
			req.ClientToken = in.ClientToken
			prepare(req)
			resp, err = api.RenewInstance(req)
			return err
		})
	if err != nil {
		return RenewResult{}, err
	}
	return RenewResult{OrderID: resp.OrderId, RequestID: resp.RequestId}, nil
}

// AutoRenew reads the auto-renew attribute of any number of instances in one region, in
// batches of 100 (in parallel).
func (c *Client) AutoRenew(ctx context.Context, regionID string, ids []string) (map[string]AutoRenew, error) {
	if err := needRegionID(regionID, strings.Join(ids, ",")); err != nil {
		return nil, err
	}
	ids = uniq(ids)
	batches, err := inParallel(slices.Collect(slices.Chunk(ids, batchSize)), func(chunk []string) (map[string]AutoRenew, error) {
		return c.autoRenewBatch(ctx, nil, regionID, chunk)
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]AutoRenew, len(ids))
	for _, b := range batches {
		maps.Copy(out, b)
	}
	return out, nil
}

// SetAutoRenew changes the auto-renew attribute of instances in one region, 100 per call,
// one batch after the other (a failure stops there and says how many were changed). It
// returns the RequestIds, comma-separated.
func (c *Client) SetAutoRenew(ctx context.Context, regionID string, ids []string, ch AutoRenewChange) (string, error) {
	if err := needRegionID(regionID, strings.Join(ids, ",")); err != nil {
		return "", err
	}
	ids = uniq(ids)
	if len(ids) == 0 {
		return "", fmt.Errorf("ecs: no instances to change: %w", ErrInvalidParam)
	}
	switch ch.Status {
	case AutoRenewal:
		if ch.Duration < 1 {
			return "", fmt.Errorf("ecs: auto-renew needs a duration of at least 1 month: %w", ErrInvalidPeriod)
		}
	case Normal, NotRenewal:
	default:
		return "", fmt.Errorf("ecs: unknown renewal status %q: %w", ch.Status, ErrInvalidParam)
	}
	var reqIDs []string
	done := 0
	for chunk := range slices.Chunk(ids, batchSize) {
		var resp *ecsapi.ModifyInstanceAutoRenewAttributeResponse
		list := strings.Join(chunk, ",")
		err := c.call(ctx, nil, "ModifyInstanceAutoRenewAttribute", regionID, targetOf(chunk),
			func(api *ecsapi.Client, prepare func(requests.AcsRequest)) (err error) {
				req := ecsapi.CreateModifyInstanceAutoRenewAttributeRequest()
				req.RegionId = regionID
				req.InstanceId = list
				req.RenewalStatus = string(ch.Status)
				if ch.Status == AutoRenewal {
					req.Duration = requests.NewInteger(ch.Duration)
					req.PeriodUnit = "Month"
				}
				prepare(req)
				resp, err = api.ModifyInstanceAutoRenewAttribute(req)
				return err
			})
		if err != nil {
			if done > 0 {
				return strings.Join(reqIDs, ","), fmt.Errorf("ecs: auto-renew changed for %d of %d instances: %w", done, len(ids), err)
			}
			return "", err
		}
		done += len(chunk)
		reqIDs = append(reqIDs, resp.RequestId)
	}
	return strings.Join(reqIDs, ","), nil
}

// maxVerifyEvery caps Verify's doubling poll interval.
const maxVerifyEvery = 15 * time.Second

// Verify polls DescribeInstances (one call per 100 IDs, all IDs at once) with backoff until
// every instance's ExpiredTime is at or after want[id], and returns the observed expiries.
// The first poll is immediate, then after VerifyEvery, doubling up to 15s. When ctx ends
// first it returns what it saw and an error wrapping ErrNotVerified; an ID the region does
// not know gives an error wrapping ErrNotFound.
func (c *Client) Verify(ctx context.Context, regionID string, want map[string]time.Time) (map[string]time.Time, error) {
	ids := make([]string, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	if err := needRegionID(regionID, strings.Join(ids, ",")); err != nil {
		return nil, err
	}
	slices.Sort(ids)
	seen := make(map[string]time.Time, len(ids))
	wait := c.cfg.VerifyEvery
	for n := 0; ; n++ {
		pending := notYet(ids, seen, want)
		if len(pending) == 0 {
			return seen, nil
		}
		if n > 0 {
			if err := c.cfg.Sleep(ctx, wait); err != nil {
				return seen, notVerified(pending, seen, want, err)
			}
			wait = min(2*wait, maxVerifyEvery)
		}
		err := c.poll(ctx, regionID, pending, seen)
		var ae *APIError
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return seen, notVerified(pending, seen, want, ctx.Err())
		case errors.As(err, &ae) && ae.retryable():
			c.log.Warn("ecs verify poll failed, polling again", "region", regionID, "err", err)
		default:
			return seen, err
		}
	}
}

// notYet lists the IDs whose observed expiry has not reached want.
func notYet(ids []string, seen, want map[string]time.Time) []string {
	var out []string
	for _, id := range ids {
		if got, ok := seen[id]; !ok || got.Before(want[id]) {
			out = append(out, id)
		}
	}
	return out
}

// poll reads the current ExpiredTime of ids into seen.
func (c *Client) poll(ctx context.Context, regionID string, ids []string, seen map[string]time.Time) error {
	var missing []string
	for chunk := range slices.Chunk(ids, batchSize) {
		insts, err := c.describeIDs(ctx, nil, regionID, chunk)
		if err != nil {
			return err
		}
		got := map[string]bool{}
		for _, in := range insts {
			seen[in.ID] = in.ExpiredTime
			got[in.ID] = true
		}
		for _, id := range chunk {
			if !got[id] {
				missing = append(missing, id)
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("ecs: %s not found in %s: %w", strings.Join(missing, ", "), regionID, ErrNotFound)
	}
	return nil
}

func notVerified(pending []string, seen, want map[string]time.Time, cause error) error {
	var parts []string
	for _, id := range notYet(pending, seen, want) {
		got, ok := seen[id]
		s := "not seen"
		if ok {
			s = got.UTC().Format(filterLayout)
		}
		parts = append(parts, fmt.Sprintf("%s expires %s, want %s", id, s, want[id].UTC().Format(filterLayout)))
	}
	return fmt.Errorf("ecs: %s: %w (%w)", strings.Join(parts, "; "), ErrNotVerified, cause)
}

func needRegionID(regionID, what string) error {
	if regionID == "" {
		return fmt.Errorf("ecs: no region given for %s: %w", what, ErrInvalidParam)
	}
	return nil
}
