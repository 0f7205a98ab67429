package ecs

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	ecsapi "github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
)

const (
	pageSize  = 100 // DescribeInstances PageSize maximum
	batchSize = 100 // InstanceIds / InstanceId list maximum
	// filterLayout is the ExpiredStartTime/ExpiredEndTime filter format (UTC, minutes).
	filterLayout = "2006-01-02T15:04Z"
)

// Regions returns the configured regions, or every region from DescribeRegions (asked once
// in HomeRegion, then cached).
func (c *Client) Regions(ctx context.Context) ([]string, error) {
	return c.regionList(ctx, nil)
}

func (c *Client) regionList(ctx context.Context, calls *atomic.Int64) ([]string, error) {
	c.regionsMu.Lock()
	defer c.regionsMu.Unlock()
	if c.regions != nil {
		return slices.Clone(c.regions), nil
	}
	var resp *ecsapi.DescribeRegionsResponse
	err := c.call(ctx, calls, "DescribeRegions", c.cfg.HomeRegion, c.cfg.HomeRegion,
		func(api *ecsapi.Client, prepare func(requests.AcsRequest)) (err error) {
			req := ecsapi.CreateDescribeRegionsRequest()
			req.RegionId = c.cfg.HomeRegion
			req.AcceptLanguage = "en-US"
			prepare(req)
			resp, err = api.DescribeRegions(req)
			return err
		})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range resp.Regions.Region {
		if r.RegionId != "" {
			out = append(out, r.RegionId)
		}
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) == 0 {
		return nil, fmt.Errorf("ecs: DescribeRegions in %s returned no regions", c.cfg.HomeRegion)
	}
	c.regions = out
	return slices.Clone(out), nil
}

// Expiring returns every PrePaid instance whose ExpiredTime is in [from, to), in all regions,
// joined with its auto-renew state.
//
// Regions are scanned in parallel. In each region it asks DescribeInstances for page 1
// (PrePaid, ExpiredStartTime/ExpiredEndTime filter, 100 per page), then for all remaining
// pages at once; each page's expiring instances go to DescribeInstanceAutoRenewAttribute as
// soon as the page arrives. A region that fails is listed in Scan.Failed, with whatever it
// returned before failing. The error is non-nil only when no region could be read at all
// (or the region list itself failed).
func (c *Client) Expiring(ctx context.Context, from, to time.Time) (Scan, error) {
	r := c.expiring(ctx, from, to)
	scan := Scan{Instances: mergeInstances(r.lists), Failed: r.failed, Calls: r.calls}
	return scan, r.err
}

// regionScans is what Expiring found, before the regions' lists are merged.
type regionScans struct {
	lists  [][]Instance // one per region, each in the order of sortInstances
	failed []RegionError
	calls  int
	err    error
}

func (c *Client) expiring(ctx context.Context, from, to time.Time) regionScans {
	if !from.Before(to) {
		return regionScans{err: fmt.Errorf("ecs: expiring window [%s, %s) is empty: %w", from, to, ErrInvalidParam)}
	}
	var calls atomic.Int64
	regions, err := c.regionList(ctx, &calls)
	if err != nil {
		return regionScans{calls: int(calls.Load()), err: err}
	}
	type result struct {
		insts []Instance
		err   error
	}
	results := make([]result, len(regions))
	var wg sync.WaitGroup
	for i, region := range regions {
		wg.Go(func() {
			insts, err := c.scanRegion(ctx, &calls, region, from, to)
			results[i] = result{insts, err}
		})
	}
	wg.Wait()

	var out regionScans
	var errs []error
	out.lists = make([][]Instance, len(results))
	for i, r := range results {
		out.lists[i] = r.insts // sorted by finish
		if r.err != nil {
			out.failed = append(out.failed, RegionError{Account: c.cfg.Account, RegionID: regions[i], Err: r.err})
			errs = append(errs, r.err)
		}
	}
	out.calls = int(calls.Load())
	if len(out.failed) == len(regions) {
		out.err = fmt.Errorf("ecs: no region could be scanned: %w", errors.Join(errs...))
	}
	return out
}

// compareInstances is the order of a scan: by ExpiredTime, then ID.
func compareInstances(a, b *Instance) int {
	return cmp.Or(a.ExpiredTime.Compare(b.ExpiredTime), cmp.Compare(a.ID, b.ID))
}

func sortInstances(insts []Instance) {
	slices.SortFunc(insts, func(a, b Instance) int { return compareInstances(&a, &b) })
}

// mergeInstances merges lists that are each in the order of sortInstances into one list in
// that order: each instance is copied once, where sorting the joined lists again would move
// it many times (a 400,000-instance scan spent a second there). The lists' heads are kept
// in a heap, so a merge of k lists costs log k comparisons per instance.
func mergeInstances(lists [][]Instance) []Instance {
	n := 0
	var heads [][]Instance // the lists not yet empty, a min-heap by their first instance
	for _, l := range lists {
		n += len(l)
		if len(l) > 0 {
			heads = append(heads, l)
		}
	}
	if n == 0 {
		return nil // as appending nothing gave
	}
	less := func(i, j int) bool { return compareInstances(&heads[i][0], &heads[j][0]) < 0 }
	down := func(i int) {
		for {
			m := i
			for _, c := range []int{2*i + 1, 2*i + 2} {
				if c < len(heads) && less(c, m) {
					m = c
				}
			}
			if m == i {
				return
			}
			heads[i], heads[m] = heads[m], heads[i]
			i = m
		}
	}
	for i := len(heads)/2 - 1; i >= 0; i-- {
		down(i)
	}
	out := make([]Instance, 0, n)
	for len(heads) > 0 {
		out = append(out, heads[0][0])
		if heads[0] = heads[0][1:]; len(heads[0]) == 0 {
			heads[0] = heads[len(heads)-1]
			heads = heads[:len(heads)-1]
		}
		down(0)
	}
	return out
}

// errListChanged: the region's filtered instance list changed between pages.
var errListChanged = errors.New("the instance list changed while it was read page by page")

// scanReads is how many times a region whose list keeps changing between pages is read
// before it is reported failed.
const scanReads = 3

// scanRegion reads one region's expiring PrePaid instances and their auto-renew state.
// Pages are positions in a list: if the list changed between pages (an instance renewed out
// of the window moves the ones behind it up a place, onto a page already read), some
// instance may have been skipped, so the region is read again.
func (c *Client) scanRegion(ctx context.Context, calls *atomic.Int64, region string, from, to time.Time) ([]Instance, error) {
	for n := 1; ; n++ {
		insts, err := c.scanRegionOnce(ctx, calls, region, from, to)
		if !errors.Is(err, errListChanged) || n >= scanReads {
			if errors.Is(err, errListChanged) {
				err = fmt.Errorf("ecs: %s: %w (%d reads)", region, errListChanged, n)
			}
			return insts, err
		}
		c.log.Info("ecs scan: instance list changed between pages, reading the region again", "region", region, "read", n)
	}
}

func (c *Client) scanRegionOnce(ctx context.Context, calls *atomic.Int64, region string, from, to time.Time) ([]Instance, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	j := newJoiner(ctx, c, calls, region, cancel)

	first, err := c.describePage(ctx, calls, region, from, to, 1)
	if err != nil {
		return nil, err
	}
	total := first.TotalCount
	var listed atomic.Int64 // instances on all pages, before the local window check
	listed.Add(int64(len(first.Instances.Instance)))
	j.add(first.Instances.Instance, from, to)
	pages := (total + pageSize - 1) / pageSize
	var wg sync.WaitGroup
	for page := 2; page <= pages; page++ {
		wg.Go(func() {
			resp, err := c.describePage(ctx, calls, region, from, to, page)
			if err != nil {
				j.fail(err)
				return
			}
			if resp.TotalCount != total {
				j.fail(errListChanged)
				return
			}
			listed.Add(int64(len(resp.Instances.Instance)))
			j.add(resp.Instances.Instance, from, to)
		})
	}
	wg.Wait()
	if listed.Load() != int64(total) {
		j.fail(errListChanged)
	}
	return j.finish()
}

// describePage is one DescribeInstances page of the expiring filter.
func (c *Client) describePage(ctx context.Context, calls *atomic.Int64, region string, from, to time.Time, page int) (*instancesAnswer, error) {
	// The filter has minute precision and its bounds' inclusiveness is not documented:
	// widen it by a minute each side and re-check every ExpiredTime locally.
	start := from.UTC().Add(-time.Minute).Truncate(time.Minute).Format(filterLayout)
	end := ceilMinute(to.UTC().Add(time.Minute)).Format(filterLayout)
	var resp *instancesAnswer
	err := c.call(ctx, calls, "DescribeInstances", region, region,
		func(api *ecsapi.Client, prepare func(requests.AcsRequest)) (err error) {
			req := ecsapi.CreateDescribeInstancesRequest()
			req.RegionId = region
			req.InstanceChargeType = ChargePrePaid
			req.Filter1Key, req.Filter1Value = "ExpiredStartTime", start
			req.Filter2Key, req.Filter2Value = "ExpiredEndTime", end
			req.PageNumber = requests.NewInteger(page)
			req.PageSize = requests.NewInteger(pageSize)
			prepare(req)
			resp = newInstancesAnswer()
			return api.DoAction(req, resp)
		})
	return resp, err
}

func ceilMinute(t time.Time) time.Time {
	if f := t.Truncate(time.Minute); !f.Equal(t) {
		return f.Add(time.Minute)
	}
	return t
}

// joiner collects one region's expiring instances and fetches the auto-renew state of each
// page's instances as soon as the page arrives: one DescribeInstanceAutoRenewAttribute call
// per page (a page and a batch both hold up to 100), so no batch waits for another page
// and the number of calls is ceil(n/100) whenever the pages hold only expiring instances
// (the filter is a minute wider than the window: an instance in that minute makes a page
// short, and can cost one call more).
type joiner struct {
	ctx    context.Context
	c      *Client
	calls  *atomic.Int64
	region string
	cancel context.CancelFunc

	mu      sync.Mutex
	insts   []Instance     // in the order the pages came
	index   map[string]int // position in insts by ID
	strs    *interner
	pending []string
	err     error
	wg      sync.WaitGroup
}

func newJoiner(ctx context.Context, c *Client, calls *atomic.Int64, region string, cancel context.CancelFunc) *joiner {
	return &joiner{ctx: ctx, c: c, calls: calls, region: region, cancel: cancel, index: map[string]int{}, strs: newInterner()}
}

func (j *joiner) add(raw []instanceAnswer, from, to time.Time) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, r := range raw {
		in := toInstance(r, j.region, j.strs)
		in.Account = j.c.cfg.Account
		if !in.Subscription() || in.ExpiredTime.Before(from) || !in.ExpiredTime.Before(to) {
			continue
		}
		if _, dup := j.index[in.ID]; dup {
			continue // pages can overlap if the fleet changes during the scan
		}
		j.index[in.ID] = len(j.insts)
		j.insts = append(j.insts, in)
		j.pending = append(j.pending, in.ID)
		if len(j.pending) == batchSize {
			j.flush()
		}
	}
	// A page holds at most 100 instances, as a batch does: its batch starts now instead of
	// waiting for the region's other pages to fill it.
	if len(j.pending) > 0 && j.err == nil {
		j.flush()
	}
}

// flush starts an auto-renew lookup for the pending IDs. j.mu is held.
func (j *joiner) flush() {
	ids := j.pending
	j.pending = nil
	j.wg.Go(func() {
		got, err := j.c.autoRenewBatch(j.ctx, j.calls, j.region, ids)
		j.mu.Lock()
		defer j.mu.Unlock()
		if err != nil {
			j.failLocked(err)
			return
		}
		for _, id := range ids {
			j.insts[j.index[id]].AutoRenew = got[id]
		}
	})
}

func (j *joiner) fail(err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.failLocked(err)
}

func (j *joiner) failLocked(err error) {
	if j.err == nil {
		j.err = err
		j.cancel()
	}
}

func (j *joiner) finish() ([]Instance, error) {
	j.mu.Lock()
	if len(j.pending) > 0 && j.err == nil {
		j.flush()
	}
	j.mu.Unlock()
	j.wg.Wait()
	j.mu.Lock()
	defer j.mu.Unlock()
	sortInstances(j.insts)
	return j.insts, j.err
}

// autoRenewBatch is one DescribeInstanceAutoRenewAttribute call for up to 100 IDs.
func (c *Client) autoRenewBatch(ctx context.Context, calls *atomic.Int64, region string, ids []string) (map[string]AutoRenew, error) {
	var resp *autoRenewAnswer
	list := strings.Join(ids, ",")
	err := c.call(ctx, calls, "DescribeInstanceAutoRenewAttribute", region, targetOf(ids),
		func(api *ecsapi.Client, prepare func(requests.AcsRequest)) (err error) {
			req := ecsapi.CreateDescribeInstanceAutoRenewAttributeRequest()
			req.RegionId = region
			req.InstanceId = list
			req.PageNumber = "1"
			req.PageSize = strconv.Itoa(batchSize)
			prepare(req)
			resp = newAutoRenewAnswer()
			return api.DoAction(req, resp)
		})
	if err != nil {
		return nil, err
	}
	out := make(map[string]AutoRenew, len(ids))
	for _, a := range resp.InstanceRenewAttributes.InstanceRenewAttribute {
		out[a.InstanceId] = AutoRenew{
			Status:     RenewalStatus(a.RenewalStatus),
			Duration:   a.Duration,
			PeriodUnit: titleCase(a.PeriodUnit),
		}
	}
	return out, nil
}

// targetOf names the instances of a call in an error message (the first few of a batch).
func targetOf(ids []string) string {
	if len(ids) <= 3 {
		return strings.Join(ids, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(ids[:3], ", "), len(ids)-3)
}

func titleCase(s string) string {
	for _, u := range []string{"Month", "Year", "Week"} {
		if strings.EqualFold(s, u) {
			return u // no new string for each instance
		}
	}
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + strings.ToLower(s[1:])
}

// toInstance converts an instance of a DescribeInstances answer. region is used when the
// answer lacks RegionId.
func toInstance(r instanceAnswer, region string, s *interner) Instance {
	in := Instance{
		ID:          r.InstanceId,
		Name:        r.InstanceName,
		RegionID:    s.of(cmp.Or(r.RegionId, region)),
		ZoneID:      s.of(r.ZoneId),
		Type:        s.of(r.InstanceType),
		ChargeType:  s.of(r.InstanceChargeType),
		Status:      s.of(r.Status),
		ExpiredTime: parseExpiry(r.ExpiredTime),
	}
	if len(r.Tags.Tag) > 0 {
		var buf [8]Tag
		raw := buf[:0]
		for _, t := range r.Tags.Tag {
			raw = append(raw, Tag{cmp.Or(t.TagKey, t.Key), cmp.Or(t.TagValue, t.Value)})
		}
		in.Tags = s.tagsOf(raw)
	}
	for _, l := range r.OperationLocks.LockReason {
		if l.LockReason != "" {
			in.LockReasons = append(in.LockReasons, s.of(l.LockReason))
		}
	}
	return in
}

// parseExpiry reads ExpiredTime in the minute layout real responses use, or the second
// layout the docs describe. An unparseable value gives the zero time.
func parseExpiry(s string) time.Time {
	for _, layout := range []string{"2006-01-02T15:04Z", "2006-01-02T15:04:05Z", time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// Lookup finds instances by ID in any region (one DescribeInstances per region and 100 IDs,
// in parallel), joined with auto-renew state for PrePaid ones, in the order asked. IDs not
// found anywhere give an error wrapping ErrNotFound that names them; the instances found
// are returned with it. A region that cannot be read fails the lookup only if some ID was
// not found in the others.
func (c *Client) Lookup(ctx context.Context, ids []string) ([]Instance, error) {
	ids = uniq(ids)
	if len(ids) == 0 {
		return nil, nil
	}
	regions, err := c.Regions(ctx)
	if err != nil {
		return nil, err
	}
	type call struct {
		region string
		ids    []string
	}
	var calls []call
	for _, region := range regions {
		for chunk := range slices.Chunk(ids, batchSize) {
			calls = append(calls, call{region, chunk})
		}
	}
	pages, err := inParallel(calls, func(k call) ([]Instance, error) {
		return c.describeIDs(ctx, nil, k.region, k.ids)
	})
	found := map[string]Instance{}
	for _, insts := range pages {
		for _, in := range insts {
			found[in.ID] = in
		}
	}
	// A region that failed can only matter if some ID was not found elsewhere (IDs are
	// unique across regions).
	if err != nil && len(found) < len(ids) {
		return nil, err
	}

	// Auto-renew state of the PrePaid ones, per region.
	byRegion := map[string][]string{}
	var prePaidRegions []string
	for _, id := range ids {
		if in, ok := found[id]; ok && in.Subscription() {
			if _, seen := byRegion[in.RegionID]; !seen {
				prePaidRegions = append(prePaidRegions, in.RegionID)
			}
			byRegion[in.RegionID] = append(byRegion[in.RegionID], id)
		}
	}
	states, err := inParallel(prePaidRegions, func(region string) (map[string]AutoRenew, error) {
		return c.AutoRenew(ctx, region, byRegion[region])
	})
	if err != nil {
		return nil, err
	}
	for _, got := range states {
		for id, a := range got {
			in := found[id]
			in.AutoRenew = a
			found[id] = in
		}
	}

	var out []Instance
	var missing []string
	for _, id := range ids {
		if in, ok := found[id]; ok {
			out = append(out, in)
		} else {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return out, fmt.Errorf("ecs: %s not found in regions %s: %w",
			strings.Join(missing, ", "), strings.Join(regions, ", "), ErrNotFound)
	}
	return out, nil
}

// describeIDs is one DescribeInstances call for up to 100 IDs in one region.
func (c *Client) describeIDs(ctx context.Context, calls *atomic.Int64, region string, ids []string) ([]Instance, error) {
	raw, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	var resp *instancesAnswer
	err = c.call(ctx, calls, "DescribeInstances", region, targetOf(ids),
		func(api *ecsapi.Client, prepare func(requests.AcsRequest)) (err error) {
			req := ecsapi.CreateDescribeInstancesRequest()
			req.RegionId = region
			req.InstanceIds = string(raw)
			req.PageSize = requests.NewInteger(pageSize)
			prepare(req)
			resp = newInstancesAnswer()
			return api.DoAction(req, resp)
		})
	if err != nil {
		return nil, err
	}
	out := make([]Instance, 0, len(resp.Instances.Instance))
	for _, r := range resp.Instances.Instance {
		in := toInstance(r, region, nil)
		in.Account = c.cfg.Account
		out = append(out, in)
	}
	return out, nil
}

func uniq(ids []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, id := range ids {
		id = strings.TrimSpace(id)
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// inParallel calls fn for every item at once. results[i] is what fn(items[i]) returned, even
// when it failed; the error joins every failure.
func inParallel[T, R any](items []T, fn func(T) (R, error)) ([]R, error) {
	results := make([]R, len(items))
	errs := make([]error, len(items))
	var wg sync.WaitGroup
	for i, it := range items {
		wg.Go(func() { results[i], errs[i] = fn(it) })
	}
	wg.Wait()
	return results, errors.Join(errs...)
}
