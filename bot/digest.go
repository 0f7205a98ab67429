package bot

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/store"
	"github.com/robfig/cron/v3"
	"github.com/slack-go/slack"
)

// DigestConfig configures the daily digest. Zero values have defaults.
type DigestConfig struct {
	Cloud    Cloud
	Store    Store
	Slack    SlackAPI // needed by Run only (Plan works without it, for --dry-run)
	Now      func() time.Time
	Location *time.Location // the digest day and the schedule; default Asia/Shanghai
	Log      *slog.Logger
	Metrics  *Metrics

	// DefaultChannel gets every instance without a RouteTag tag, and a summary every day
	// even when nothing expires. Instances with the tag go to that channel only.
	DefaultChannel string
	RouteTag       string        // default "renewbot-channel"
	Window         time.Duration // how far ahead to look, default 30 days
	Tiers          []int         // urgency tiers in days, default 3, 7, 15, 30
	Pace           time.Duration // least time between two posts to one channel, default 1s
	MaxPages       int           // thread pages per channel, default 20; the CSV always has every instance
}

// Digest constants.
const (
	// expiredLookback: expired subscriptions are kept (stopped) for 15 days before Alibaba
	// releases them; they are the most urgent entries of a digest.
	expiredLookback = 15 * 24 * time.Hour
	maxPageItems    = 100 // snooze menu options per page
	digestAttempts  = 5   // tries of one digest post when Slack answers 429 (the digest can wait)
	defaultMaxPages = 20
	snoozeDays      = 7
)

var channelIDRe = regexp.MustCompile(`^[CGD][A-Z0-9]{2,20}$`)

// Digester builds and posts the daily digest.
type Digester struct {
	cfg DigestConfig
	log *slog.Logger
	run func(ctx context.Context, force bool) (DigestReport, error) // Run; Schedule's seam for tests
}

// NewDigester checks cfg and fills in defaults.
func NewDigester(cfg DigestConfig) (*Digester, error) {
	if cfg.Cloud == nil || cfg.Store == nil {
		return nil, errors.New("digest: Cloud and Store are required")
	}
	if cfg.DefaultChannel != "" && !channelIDRe.MatchString(cfg.DefaultChannel) {
		return nil, fmt.Errorf("digest: default channel %q is not a Slack channel ID (C…, G… or D…)", cfg.DefaultChannel)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Location == nil {
		loc, err := time.LoadLocation("Asia/Shanghai")
		if err != nil {
			loc = utc8
		}
		cfg.Location = loc
	}
	if cfg.RouteTag == "" {
		cfg.RouteTag = "renewbot-channel"
	}
	if cfg.Window == 0 {
		cfg.Window = 30 * 24 * time.Hour
	}
	if cfg.Window < 0 || cfg.Window > maxWindow {
		return nil, fmt.Errorf("digest: window %s is out of range (1h to 365d)", cfg.Window)
	}
	if len(cfg.Tiers) == 0 {
		cfg.Tiers = defaultTiers
	}
	if !slices.IsSorted(cfg.Tiers) || cfg.Tiers[0] <= 0 || len(cfg.Tiers) > 8 {
		return nil, fmt.Errorf("digest: tiers %v must be 1 to 8 increasing numbers of days", cfg.Tiers)
	}
	if cfg.Pace == 0 {
		cfg.Pace = time.Second
	}
	if cfg.MaxPages <= 0 {
		cfg.MaxPages = defaultMaxPages
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Digester{cfg: cfg, log: log.With("component", "digest")}
	d.run = d.Run
	return d, nil
}

// DigestPlan is a digest ready to post: per channel, a summary, thread pages and a CSV.
type DigestPlan struct {
	Day    string // YYYY-MM-DD in the digest's time zone
	Now    time.Time
	Window time.Duration
	Failed []ecs.RegionError // regions that could not be read: shown in every summary
	// ScanError is set when no region could be read. The plan then only tells the default
	// channel so, and Run does not count the day as done.
	ScanError error
	Snoozed   int             // instances left out because someone snoozed them
	Unrouted  int             // untagged instances when there is no default channel
	Channels  []ChannelDigest // the default channel first, then by channel ID
}

// ChannelDigest is the digest of one channel.
type ChannelDigest struct {
	Channel string
	Items   []DigestItem // most urgent first
	Counts  []int        // instances per tier
	Tiers   []int        // tier limits in days
	Summary DigestMessage
	Pages   []DigestMessage // thread replies
	Omitted int             // instances only in the CSV (more than MaxPages pages)
	CSV     []byte
	CSVName string
}

// DigestMessage is one Slack message.
type DigestMessage struct {
	Text   string
	Blocks []slack.Block
}

// DigestItem is one instance of a digest.
type DigestItem struct {
	Instance      ecs.Instance
	Tier          int
	Deduction     time.Time // AutoRenewal: when Alibaba charges the automatic renewal
	NeedsDecision bool      // manual or NotRenewal, or an automatic deduction that has passed
}

// DigestReport is what Run did, per channel.
type DigestReport struct {
	Day      string
	Channels []ChannelReport
	Failed   []ecs.RegionError
}

// ChannelReport is the outcome of one channel's digest.
type ChannelReport struct {
	Channel   string
	Instances int
	Pages     int
	Skipped   bool   // already posted today
	TS        string // the summary message
	File      string // the uploaded CSV's file ID
	Err       error
	CSVErr    error // Slack refused the CSV for good (no files:write, no files.* methods): posted without it
}

// Plan scans ECS and builds every channel's digest without posting anything.
func (d *Digester) Plan(ctx context.Context) (DigestPlan, error) {
	now := d.cfg.Now()
	scan, scanErr := d.cfg.Cloud.Expiring(ctx, now.Add(-expiredLookback), now.Add(d.cfg.Window))
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
	for _, f := range p.Failed {
		d.log.Warn("region not scanned; the digest says so", "region", f.RegionID, "err", f.Err)
	}
	if p.Unrouted > 0 {
		d.log.Warn("instances without a channel tag and no default channel: not in any digest", "count", p.Unrouted, "tag", d.cfg.RouteTag)
	}
	return p, nil
}

// build is the pure part of Plan.
func (d *Digester) build(scan ecs.Scan, snoozed map[string]store.Snooze, now time.Time) DigestPlan {
	p := DigestPlan{Day: now.In(d.cfg.Location).Format("2006-01-02"), Now: now, Window: d.cfg.Window, Failed: scan.Failed}
	tiers := tierBounds(d.cfg.Tiers, d.cfg.Window)
	byChannel := map[string][]DigestItem{}
	for _, in := range scan.Instances {
		if _, ok := snoozed[in.ID]; ok {
			p.Snoozed++
			continue
		}
		if in.ChargeType != "" && in.ChargeType != "PrePaid" {
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
	if ch := strings.TrimSpace(in.Tags[d.cfg.RouteTag]); ch != "" {
		if channelIDRe.MatchString(ch) {
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
		it.Deduction = deductionTime(in.ExpiredTime)
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
	cd.Pages, cd.Omitted = digestPages(p, items, tiers, cd.Counts, d.cfg.MaxPages)
	if len(items) > 0 {
		cd.CSV = digestCSV(items, p.Now, tiers)
		cd.CSVName = fmt.Sprintf("renewbot-digest-%s-%s.csv", p.Day, ch)
	}
	cd.Summary = digestSummary(p, cd)
	return cd
}

func digestSummary(p DigestPlan, cd ChannelDigest) DigestMessage {
	n := len(cd.Items)
	title := fmt.Sprintf("ECS renewals digest %s: %s", p.Day, plural(n, "instance", "instances"))
	blocks := []slack.Block{slack.NewHeaderBlock(plain(title))}
	switch {
	case p.ScanError != nil:
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn("⚠️ *No region could be read, so this digest is empty.* "+
			"It is not counted as today's digest: `renewbot digest --now` tries again."), nil, nil))
	case n == 0 && len(p.Failed) > 0:
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(fmt.Sprintf("Nothing expires within %s in the regions that could be read.", humanWindow(p.Window))), nil, nil))
	case n == 0:
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(fmt.Sprintf("Nothing expires within %s, and nothing expired in the last 15 days ✅", humanWindow(p.Window))), nil, nil))
	default:
		var fields []*slack.TextBlockObject
		for t, c := range cd.Counts {
			if len(fields) < maxFields {
				fields = append(fields, mrkdwn(fmt.Sprintf("*%s*\n%d", tierName(t, cd.Tiers), c)))
			}
		}
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(fmt.Sprintf("*%s* expired in the last 15 days or expire within %s.",
			plural(n, "subscription instance", "subscription instances"), humanWindow(p.Window))), fields, nil))
		var auto, manual, never, passed, decide int
		for _, it := range cd.Items {
			switch it.Instance.AutoRenew.Status {
			case ecs.AutoRenewal:
				auto++
				if it.NeedsDecision {
					passed++
				}
			case ecs.NotRenewal:
				never++
			default:
				manual++
			}
			if it.NeedsDecision {
				decide++
			}
		}
		var b strings.Builder
		fmt.Fprintf(&b, "*%d need a decision* · ✋ manual renewal: %d · 🔁 auto-renew: %d", decide, manual, auto)
		if passed > 0 {
			fmt.Fprintf(&b, " · ⚠️ *automatic deduction passed without renewal: %d* (check the balance)", passed)
		}
		if never > 0 {
			fmt.Fprintf(&b, "\n🚨 *%s set to NotRenewal: will be RELEASED 15 days after expiry*", plural(never, "instance is", "instances are"))
		}
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(b.String()), nil, nil))
	}
	if w := failedRegions(p.Failed); w != "" {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(w), nil, nil))
	}
	if n > 0 {
		s := fmt.Sprintf("Details in this thread (%s), most urgent first, and the whole list in %s. Renew from a row's ⋯ menu, or `/renew ID 3`.",
			plural(len(cd.Pages), "page", "pages"), cd.CSVName)
		if cd.Omitted > 0 {
			s += fmt.Sprintf(" The thread shows the %d most urgent; %d more are only in the CSV.", n-cd.Omitted, cd.Omitted)
		}
		if p.Snoozed > 0 {
			s += fmt.Sprintf(" %s snoozed.", plural(p.Snoozed, "instance is", "instances are"))
		}
		blocks = append(blocks, contextText(s))
	}
	text := title
	if len(p.Failed) > 0 {
		text += fmt.Sprintf(" (%s could not be read)", plural(len(p.Failed), "region", "regions"))
	}
	return DigestMessage{Text: text, Blocks: blocks}
}

// digestLine is one instance in a digest page.
func digestLine(it DigestItem, now time.Time) string {
	in := it.Instance
	var b strings.Builder
	fmt.Fprintf(&b, "*`%s`* %s · %s · %s\n    expires %s · %s", escape(in.ID), escape(clipRunes(nameOr(in.Name), 60)), escape(in.RegionID),
		escape(orDash(in.Type)), dateTime8(in.ExpiredTime), daysLeft(in.ExpiredTime, now))
	if !in.ExpiredTime.After(now) {
		fmt.Fprintf(&b, ", released about %s unless renewed", date8(in.ExpiredTime.Add(expiredLookback)))
	}
	b.WriteString("\n    " + autoRenewText(in, now))
	if len(in.LockReasons) > 0 {
		b.WriteString(" · 🔒 " + escape(clipRunes(strings.Join(in.LockReasons, ", "), 60)))
	}
	return b.String()
}

func renewMenu(id string) *slack.OverflowBlockElement {
	var opts []*slack.OptionBlockObject
	for _, m := range []int{1, 3, 6, 12} {
		label := "Renew " + plural(m, "month", "months")
		opts = append(opts, slack.NewOptionBlockObject(id+":"+strconv.Itoa(m), plain(label), nil))
	}
	return slack.NewOverflowBlockElement(ActionDigestRenew, opts...)
}

// pageBuilder fills one thread page within Slack's limits.
type pageBuilder struct {
	blocks []slack.Block
	chars  int
	packed *strings.Builder // open section of lines without actions
	snooze []*slack.OptionBlockObject
	tier   int
	items  int
}

const (
	pageBlocks = maxBlocks - 2 // room for the page context and the snooze menu
	menuChars  = 60            // text of a renew menu (4 options)
)

func newPage() *pageBuilder { return &pageBuilder{tier: -1} }

func (pb *pageBuilder) flushPacked() {
	if pb.packed != nil {
		pb.blocks = append(pb.blocks, slack.NewSectionBlock(mrkdwn(pb.packed.String()), nil, nil))
		pb.packed = nil
	}
}

// add puts it on the page, or reports false when the page is full.
func (pb *pageBuilder) add(it DigestItem, line, heading string) bool {
	snoozeText := clipRunes("Snooze "+it.Instance.ID+" "+nameOr(it.Instance.Name), maxOptionText)
	cost := utf8.RuneCountInString(line) + utf8.RuneCountInString(snoozeText) + 1
	newBlocks := 0
	if it.Tier != pb.tier {
		cost += utf8.RuneCountInString(heading)
		newBlocks++
	}
	if it.NeedsDecision {
		cost += menuChars
		newBlocks++
	} else if pb.packed == nil || it.Tier != pb.tier || utf8.RuneCountInString(pb.packed.String())+len(line)+1 > sectionBudget {
		newBlocks++
	}
	open := 0
	if pb.packed != nil {
		open = 1 // an open section becomes a block when the next one starts
	}
	if pb.items > 0 && (pb.items >= maxPageItems || pb.chars+cost > messageBudget-400 || len(pb.blocks)+open+newBlocks > pageBlocks) {
		return false
	}
	if it.Tier != pb.tier {
		pb.flushPacked()
		pb.blocks = append(pb.blocks, slack.NewSectionBlock(mrkdwn(heading), nil, nil))
		pb.tier = it.Tier
	}
	if it.NeedsDecision {
		pb.flushPacked()
		pb.blocks = append(pb.blocks, slack.NewSectionBlock(mrkdwn(line), nil, slack.NewAccessory(renewMenu(it.Instance.ID))))
	} else {
		if pb.packed != nil && utf8.RuneCountInString(pb.packed.String())+len(line)+1 > sectionBudget {
			pb.flushPacked()
		}
		if pb.packed == nil {
			pb.packed = &strings.Builder{}
		} else {
			pb.packed.WriteByte('\n')
		}
		pb.packed.WriteString(line)
	}
	pb.snooze = append(pb.snooze, slack.NewOptionBlockObject(it.Instance.ID+":"+strconv.Itoa(snoozeDays), plain(snoozeText), nil))
	pb.chars += cost
	pb.items++
	return true
}

func (pb *pageBuilder) finish(day string, page, pages int) DigestMessage {
	pb.flushPacked()
	head := contextText(fmt.Sprintf("ECS renewals digest %s · page %d of %d", day, page, pages))
	blocks := append([]slack.Block{head}, pb.blocks...)
	sel := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain(fmt.Sprintf("Snooze one for %d days…", snoozeDays)), ActionDigestSnooze, pb.snooze...)
	blocks = append(blocks, slack.NewActionBlock(fmt.Sprintf("digest.%s.p%d.snooze", day, page), sel))
	return DigestMessage{Text: fmt.Sprintf("ECS renewals digest %s, page %d of %d", day, page, pages), Blocks: blocks}
}

// digestPages lays items out on thread pages, at most maxPages; it returns the pages and
// how many items did not fit.
func digestPages(p DigestPlan, items []DigestItem, tiers, counts []int, maxPages int) ([]DigestMessage, int) {
	var builders []*pageBuilder
	pb := newPage()
	placed := 0
	for _, it := range items {
		line := clipRunes(digestLine(it, p.Now), sectionBudget)
		heading := fmt.Sprintf("*%s* (%d)", tierName(it.Tier, tiers), counts[it.Tier])
		if !pb.add(it, line, heading) {
			builders = append(builders, pb)
			if len(builders) == maxPages {
				pb = nil
				break
			}
			pb = newPage()
			pb.add(it, line, heading)
		}
		placed++
	}
	if pb != nil && pb.items > 0 {
		builders = append(builders, pb)
	}
	pages := make([]DigestMessage, len(builders))
	for i, b := range builders {
		pages[i] = b.finish(p.Day, i+1, len(builders))
	}
	return pages, len(items) - placed
}

// digestCSV is the whole list of a channel, for people and spreadsheets.
func digestCSV(items []DigestItem, now time.Time, tiers []int) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{"instance_id", "name", "region", "zone", "type", "status", "expires_utc8", "expires_utc", "days_left",
		"tier_days", "auto_renew", "auto_renew_duration", "deduction_utc8", "needs_decision", "locks"})
	for _, it := range items {
		in := it.Instance
		dur, ded := "", ""
		if in.AutoRenew.Status == ecs.AutoRenewal {
			dur = strconv.Itoa(in.AutoRenew.Duration) + " " + in.AutoRenew.PeriodUnit
			ded = it.Deduction.In(utc8).Format("2006-01-02 15:04")
		}
		_ = w.Write([]string{in.ID, csvSafe(in.Name), in.RegionID, in.ZoneID, in.Type, in.Status,
			in.ExpiredTime.In(utc8).Format("2006-01-02 15:04"), in.ExpiredTime.UTC().Format(time.RFC3339),
			strconv.Itoa(daysUntil(in.ExpiredTime, now)), strconv.Itoa(tiers[it.Tier]), string(in.AutoRenew.Status), dur, ded,
			strconv.FormatBool(it.NeedsDecision), csvSafe(strings.Join(in.LockReasons, ";"))})
	}
	w.Flush()
	return buf.Bytes()
}

// csvSafe keeps spreadsheet programs from running a cell that starts like a formula.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// JSON is the plan as Block Kit JSON per channel and page, for `renewbot digest --dry-run`.
func (p DigestPlan) JSON() ([]byte, error) {
	type message struct {
		Text   string        `json:"text"`
		Blocks []slack.Block `json:"blocks"`
	}
	type channel struct {
		Channel   string    `json:"channel"`
		Instances int       `json:"instances"`
		Counts    []int     `json:"counts_by_tier"`
		Tiers     []int     `json:"tiers_days"`
		Summary   message   `json:"summary"`
		Pages     []message `json:"thread_pages"`
		Omitted   int       `json:"only_in_csv"`
		CSVName   string    `json:"csv_file,omitempty"`
	}
	type region struct {
		Region string `json:"region"`
		Error  string `json:"error"`
	}
	out := struct {
		Day      string    `json:"day"`
		Now      time.Time `json:"now"`
		Window   string    `json:"window"`
		Failed   []region  `json:"failed_regions"`
		ScanErr  string    `json:"scan_error,omitempty"`
		Snoozed  int       `json:"snoozed"`
		Unrouted int       `json:"unrouted"`
		Channels []channel `json:"channels"`
	}{Day: p.Day, Now: p.Now, Window: formatWindow(p.Window), Snoozed: p.Snoozed, Unrouted: p.Unrouted,
		Failed: []region{}, Channels: []channel{}}
	if p.ScanError != nil {
		out.ScanErr = p.ScanError.Error()
	}
	for _, f := range p.Failed {
		msg := ""
		if f.Err != nil {
			msg = f.Err.Error()
		}
		out.Failed = append(out.Failed, region{f.RegionID, msg})
	}
	for _, c := range p.Channels {
		ch := channel{Channel: c.Channel, Instances: len(c.Items), Counts: c.Counts, Tiers: c.Tiers,
			Summary: message(c.Summary), Omitted: c.Omitted, CSVName: c.CSVName, Pages: []message{}}
		for _, pg := range c.Pages {
			ch.Pages = append(ch.Pages, message(pg))
		}
		out.Channels = append(out.Channels, ch)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Run posts today's digest to every channel that has not had it yet (all of them when
// force): the summary, the pages as thread replies and the CSV in the thread, at most one
// post per Pace per channel. A 429 is waited out (Retry-After) and the same post sent again.
// Every post is recorded in the store as it succeeds. A channel that fails is not marked
// done, so the next run continues it where it stopped (force starts it over).
func (d *Digester) Run(ctx context.Context, force bool) (DigestReport, error) {
	if d.cfg.Slack == nil {
		return DigestReport{}, errors.New("digest: no Slack client")
	}
	plan, err := d.Plan(ctx)
	if err != nil {
		return DigestReport{}, err
	}
	if plan.ScanError != nil {
		rep := DigestReport{Day: plan.Day, Failed: plan.Failed}
		for _, ch := range plan.Channels {
			ts, err := d.postMessage(ctx, &pacer{gap: d.cfg.Pace}, ch.Channel, "", ch.Summary)
			rep.Channels = append(rep.Channels, ChannelReport{Channel: ch.Channel, TS: ts, Err: err})
			plan.ScanError = errors.Join(plan.ScanError, err)
		}
		return rep, plan.ScanError
	}
	rep, err := d.post(ctx, plan, force)
	if len(plan.Failed) == 0 {
		d.cfg.Metrics.ScanSucceeded(plan.Now)
	}
	return rep, err
}

// post sends a plan.
func (d *Digester) post(ctx context.Context, plan DigestPlan, force bool) (DigestReport, error) {
	rep := DigestReport{Day: plan.Day, Failed: plan.Failed}
	var errs []error
	for _, ch := range plan.Channels {
		cr := ChannelReport{Channel: ch.Channel, Instances: len(ch.Items), Pages: len(ch.Pages)}
		cr.Skipped, cr.TS, cr.File, cr.CSVErr, cr.Err = d.postChannel(ctx, plan, ch, force)
		if cr.Err != nil {
			errs = append(errs, fmt.Errorf("digest for %s: %w", ch.Channel, cr.Err))
			d.log.Error("digest not posted", "channel", ch.Channel, "day", plan.Day, "err", cr.Err)
		}
		rep.Channels = append(rep.Channels, cr)
		if ctx.Err() != nil {
			break
		}
	}
	return rep, errors.Join(errs...)
}

// postChannel posts one channel's digest, continuing from the progress the store recorded
// for the day: what is already in Slack (the summary, the first pages, the CSV) is not posted
// again, and every post is recorded before the next one. A CSV that Slack refuses for good
// (csvErr) is left out: the messages are what matters, and trying again would not help.
func (d *Digester) postChannel(ctx context.Context, plan DigestPlan, ch ChannelDigest, force bool) (skipped bool, ts, file string, csvErr, err error) {
	p, ok, err := d.cfg.Store.BeginDigest(ch.Channel, plan.Day, force)
	if err != nil || !ok {
		return err == nil, "", "", nil, err
	}
	if p != (store.DigestProgress{}) {
		d.log.Info("digest resumed", "channel", ch.Channel, "day", plan.Day, "summary_ts", p.TS, "pages_posted", p.Pages, "csv_posted", p.CSV)
	}
	step := func() error { return d.cfg.Store.DigestStep(ch.Channel, plan.Day, p) }
	start := time.Now()
	pc := &pacer{gap: d.cfg.Pace}
	if p.TS == "" {
		ts, err := d.postMessage(ctx, pc, ch.Channel, "", ch.Summary)
		if err != nil {
			return false, "", "", nil, err
		}
		p.TS = ts
		if err := step(); err != nil {
			return false, ts, "", nil, err
		}
	}
	for i := p.Pages; i < len(ch.Pages); i++ {
		if _, err := d.postMessage(ctx, pc, ch.Channel, p.TS, ch.Pages[i]); err != nil {
			return false, p.TS, "", nil, fmt.Errorf("page %d of %d: %w", i+1, len(ch.Pages), err)
		}
		p.Pages = i + 1
		if err := step(); err != nil {
			return false, p.TS, "", nil, err
		}
	}
	if len(ch.CSV) > 0 && !p.CSV {
		file, err = d.upload(ctx, pc, ch.CSV, slack.UploadFileParameters{
			Filename: ch.CSVName, FileSize: len(ch.CSV), Channel: ch.Channel, ThreadTimestamp: p.TS,
			Title: fmt.Sprintf("ECS renewals digest %s (%s)", plan.Day, plural(len(ch.Items), "instance", "instances")),
		})
		switch {
		case err == nil:
		case permanentSlackError(err):
			why := slackErrText(err)
			if why == "transport" { // not a Slack error code: an answer slack-go could not use
				why = err.Error()
			}
			csvErr = fmt.Errorf("CSV not uploaded (%s); the digest is posted without it", why)
			d.log.Warn("digest CSV not uploaded", "channel", ch.Channel, "day", plan.Day, "err", err)
		default:
			return false, p.TS, "", nil, fmt.Errorf("CSV upload: %w", err)
		}
		p.CSV = true
		if err := step(); err != nil {
			return false, p.TS, file, csvErr, err
		}
	}
	if err := d.cfg.Store.FinishDigest(ch.Channel, plan.Day, p.TS, len(ch.Items)); err != nil {
		return false, p.TS, file, csvErr, err
	}
	d.cfg.Metrics.Digest(time.Since(start), ch.Channel, len(ch.Items))
	d.log.Info("digest posted", "channel", ch.Channel, "day", plan.Day, "instances", len(ch.Items), "pages", len(ch.Pages), "ts", p.TS)
	return false, p.TS, file, csvErr, nil
}

// permanentSlackError reports whether a failed Slack call should not be tried again: anything
// but a 5xx, a 429, a timeout or a network failure. That covers a method that is not there,
// a missing scope, a refused argument, and an answer slack-go cannot use (an upload whose
// completion lists no file), where trying again could share the file twice.
func permanentSlackError(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if _, ok := errors.AsType[*slack.RateLimitedError](err); ok {
		return false
	}
	if e, ok := errors.AsType[slack.StatusCodeError](err); ok {
		return e.Code >= 400 && e.Code < 500 && e.Code != http.StatusRequestTimeout && e.Code != http.StatusTooManyRequests
	}
	if e, ok := errors.AsType[slack.SlackErrorResponse](err); ok {
		switch e.Err {
		case "internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited":
			return false
		}
		return true
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return false
	}
	if _, ok := errors.AsType[*url.Error](err); ok {
		return false
	}
	return !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF)
}

func (d *Digester) postMessage(ctx context.Context, pc *pacer, channel, threadTS string, m DigestMessage) (string, error) {
	opts := []slack.MsgOption{slack.MsgOptionText(m.Text, false), slack.MsgOptionBlocks(m.Blocks...)}
	if threadTS != "" {
		opts = append(opts, slack.MsgOptionTS(threadTS))
	}
	var ts string
	err := d.retry(ctx, pc, "chat.postMessage", func() error {
		var err error
		_, ts, err = d.cfg.Slack.PostMessageContext(ctx, channel, opts...)
		return err
	})
	return ts, err
}

func (d *Digester) upload(ctx context.Context, pc *pacer, content []byte, params slack.UploadFileParameters) (string, error) {
	var id string
	err := d.retry(ctx, pc, "files.upload", func() error {
		params.Reader = bytes.NewReader(content)
		f, err := d.cfg.Slack.UploadFileContext(ctx, params)
		if f != nil {
			id = f.ID
		}
		return withoutURL(err) // the upload_url carries a one-time ticket
	})
	return id, err
}

// retry runs one paced post, again after Retry-After (at least 1s) when Slack answers 429.
func (d *Digester) retry(ctx context.Context, pc *pacer, method string, post func() error) error {
	wait := func(ctx context.Context, retryAfter time.Duration) error {
		d.log.Warn("Slack rate limit; waiting", "method", method, "retry_after", retryAfter)
		return waitCtx(ctx, max(retryAfter, time.Second))
	}
	err := retryRateLimited(ctx, wait, d.cfg.Metrics, method, digestAttempts, func() error {
		if err := pc.wait(ctx); err != nil {
			return err
		}
		err := post()
		pc.mark()
		return err
	})
	if err != nil && ctx.Err() == nil {
		recordSlackError(d.cfg.Metrics, method, err)
	}
	return err
}

// pacer keeps posts to one channel at least gap apart.
type pacer struct {
	gap  time.Duration
	last time.Time
}

func (p *pacer) wait(ctx context.Context) error {
	if p.last.IsZero() {
		return ctx.Err()
	}
	return waitCtx(ctx, p.gap-time.Since(p.last))
}

func (p *pacer) mark() { p.last = time.Now() }

// Schedule runs Run(ctx, false) at every time of spec, a standard 5-field cron spec (or a
// descriptor such as @daily) read in the digest's time zone, until ctx is done; then it
// returns nil. A bad spec is an error naming it. A failed run (ECS unreachable, a Slack
// error) is retried after 5 minutes, then 10, 20, 40 and hourly, until it succeeds or the
// next scheduled time comes; Run skips channels already posted and continues cut-off ones.
func (d *Digester) Schedule(ctx context.Context, spec string) error {
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		return fmt.Errorf("digest schedule %q is not a valid 5-field cron spec: %w", spec, err)
	}
	for {
		now := time.Now().In(d.cfg.Location)
		next := sched.Next(now)
		if next.IsZero() {
			return fmt.Errorf("digest schedule %q never fires", spec)
		}
		d.log.Debug("next digest", "at", next)
		if waitCtx(ctx, next.Sub(now)) != nil {
			return nil
		}
		_, err := d.run(ctx, false)
		for retry := scheduleRetryFirst; err != nil; retry = min(2*retry, scheduleRetryMax) {
			if !time.Now().Add(retry).Before(sched.Next(time.Now().In(d.cfg.Location))) {
				break // the next scheduled run comes first
			}
			d.log.Warn("scheduled digest failed; retrying", "in", retry, "err", err)
			if waitCtx(ctx, retry) != nil {
				return nil
			}
			_, err = d.run(ctx, false)
		}
		if err != nil {
			d.log.Error("scheduled digest failed", "err", err)
		}
	}
}

// Retries of a failed scheduled digest: the first after scheduleRetryFirst, doubling up to
// scheduleRetryMax.
const (
	scheduleRetryFirst = 5 * time.Minute
	scheduleRetryMax   = time.Hour
)
