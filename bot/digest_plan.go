package bot

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/store"
)

// The digest, part 1: scan ECS and decide what goes to which channel.

// Plan scans ECS and builds every channel's digest without posting anything. It scans once:
// with a forecast, as far as the forecast needs (renewal.ForecastScanTo), and the digest's
// rows are the instances of that scan within the window.
func (d *Digester) Plan(ctx context.Context) (DigestPlan, error) {
	now := d.cfg.Now()
	to := now.Add(d.cfg.Window)
	if d.cfg.Forecast != nil {
		to = renewal.ForecastScanTo(now, d.cfg.Window)
	}
	scan, scanErr := d.cfg.Cloud.Expiring(ctx, now.Add(-ecs.ReleaseGrace), to)
	if scanErr != nil && (len(scan.Failed) == 0 || ctx.Err() != nil) {
		return DigestPlan{}, fmt.Errorf("digest: scan: %w", scanErr)
	}
	snoozed, err := d.cfg.Store.Snoozed(now)
	if err != nil {
		return DigestPlan{}, fmt.Errorf("digest: snoozes: %w", err)
	}
	p := d.build(scan, snoozed, now)
	if scanErr != nil {
		p.ScanError = fmt.Errorf("digest: scan: %w", scanErr)
		p.Channels = nil
		if d.cfg.DefaultChannel != "" {
			p.Channels = []ChannelDigest{d.channelDigest(p, d.cfg.DefaultChannel, nil, tierBounds(d.cfg.Tiers, d.cfg.Window))}
		}
	}
	if d.cfg.Forecast != nil && scanErr == nil {
		p.Forecast, p.ForecastErr = d.cfg.Forecast.ForecastScan(ctx, now, d.cfg.Window, scan)
		p.addForecast(d.cfg.DefaultChannel)
	}
	for _, f := range p.Failed {
		d.log.Warn("region not scanned; the digest says so", "region", f.RegionID, "err", f.Err)
	}
	if p.Unrouted > 0 {
		d.log.Warn("instances without a channel tag and no default channel: not in any digest", "count", p.Unrouted, "tag", d.cfg.RouteTag)
	}
	return p, nil
}

// build is the pure part of Plan. The scan may reach past the window (for the forecast):
// only the instances expiring before now+Window are the digest's.
func (d *Digester) build(scan ecs.Scan, snoozed map[string]store.Snooze, now time.Time) DigestPlan {
	now = now.In(d.cfg.Location) // the digest shows its times in its time zone
	p := DigestPlan{Day: now.Format("2006-01-02"), Now: now, Window: d.cfg.Window, Failed: scan.Failed}
	tiers := tierBounds(d.cfg.Tiers, d.cfg.Window)
	end := now.Add(d.cfg.Window)
	byChannel := map[string][]DigestItem{}
	for _, in := range scan.Instances {
		if !in.ExpiredTime.Before(end) {
			continue // scanned for the forecast only
		}
		if _, ok := snoozed[in.ID]; ok {
			p.Snoozed++
			continue
		}
		if !in.Subscription() {
			continue
		}
		ch := d.route(in)
		if ch == "" {
			p.Unrouted++
			continue
		}
		byChannel[ch] = append(byChannel[ch], digestItem(in, now, tiers))
	}
	var chans []string
	for ch := range byChannel {
		if ch != d.cfg.DefaultChannel {
			chans = append(chans, ch)
		}
	}
	slices.Sort(chans)
	if d.cfg.DefaultChannel != "" {
		chans = append([]string{d.cfg.DefaultChannel}, chans...)
	}
	for _, ch := range chans {
		items := byChannel[ch]
		slices.SortStableFunc(items, func(a, b DigestItem) int {
			if c := a.Instance.ExpiredTime.Compare(b.Instance.ExpiredTime); c != 0 {
				return c
			}
			return strings.Compare(a.Instance.ID, b.Instance.ID)
		})
		p.Channels = append(p.Channels, d.channelDigest(p, ch, items, tiers))
	}
	return p
}

// route is the channel of an instance: its RouteTag tag when that is a channel ID, else the
// default channel ("" when there is none).
func (d *Digester) route(in ecs.Instance) string {
	if ch := strings.TrimSpace(in.Tags.Get(d.cfg.RouteTag)); ch != "" {
		if IsChannelID(ch) {
			return ch
		}
		d.log.Warn("instance tag is not a channel ID; using the default channel", "instance", in.ID, "tag", d.cfg.RouteTag, "value", ch)
	}
	return d.cfg.DefaultChannel
}

func digestItem(in ecs.Instance, now time.Time, tiers []int) DigestItem {
	it := DigestItem{Instance: in, Tier: tierOf(in.ExpiredTime, now, tiers)}
	switch in.AutoRenew.Status {
	case ecs.AutoRenewal:
		it.Deduction = ecs.DeductionTime(in.ExpiredTime)
		it.NeedsDecision = !now.Before(it.Deduction) // the automatic charge did not happen
	default:
		it.NeedsDecision = true
	}
	return it
}

func (d *Digester) channelDigest(p DigestPlan, ch string, items []DigestItem, tiers []int) ChannelDigest {
	cd := ChannelDigest{Channel: ch, Items: items, Tiers: tiers, Counts: make([]int, len(tiers))}
	for _, it := range items {
		cd.Counts[it.Tier]++
	}
	cd.Pages, cd.Omitted = digestPages(p, items, tiers, cd.Counts, d.cfg.MaxPages, menuPeriods(d.cfg.MaxPeriod))
	if len(items) > 0 {
		cd.CSV = digestCSV(items, p.Now, tiers)
		cd.CSVName = fmt.Sprintf("renewbot-digest-%s-%s.csv", p.Day, ch)
	}
	cd.Summary = digestSummary(p, cd)
	return cd
}
