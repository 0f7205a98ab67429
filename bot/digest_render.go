package bot

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/ecs"
	"github.com/slack-go/slack"
)

// The digest, part 2: render a channel's digest as Slack messages and a CSV.

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
			fmt.Fprintf(&b, "\n🚨 *%s set to NotRenewal: will be RELEASED %s*", plural(never, "instance is", "instances are"), ecs.ReleaseAfterExpiry())
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

// digestLine is one instance in a digest page; times in now's location (the digest's).
func digestLine(it DigestItem, now time.Time) string {
	in := it.Instance
	var b strings.Builder
	fmt.Fprintf(&b, "*`%s`* %s · %s · %s\n    expires %s · %s", escape(in.ID), escape(clipRunes(nameOr(in.Name), 60)), escape(where(in.Account, in.RegionID)),
		escape(orDash(in.Type)), renewal.FormatTime(in.ExpiredTime, now.Location()), daysLeftText(in.ExpiredTime, now))
	if !in.ExpiredTime.After(now) {
		fmt.Fprintf(&b, ", released about %s unless renewed", renewal.FormatDate(in.ReleaseTime(), now.Location()))
	}
	b.WriteString("\n    " + autoRenewLine(in, now))
	if len(in.LockReasons) > 0 {
		b.WriteString(" · 🔒 " + escape(clipRunes(strings.Join(in.LockReasons, ", "), 60)))
	}
	return b.String()
}

// menuPeriods are the renewals the digest's menu offers: 1, 3, 6 and 12 months, those the
// policy allows (at most maxMonths), and maxMonths itself when it is a period of its own.
func menuPeriods(maxMonths int) []int {
	var out []int
	for _, m := range []int{1, 3, 6, 12} {
		if m <= maxMonths {
			out = append(out, m)
		}
	}
	if maxMonths < 12 && !slices.Contains(out, maxMonths) && ecs.ValidRenewalPeriod(maxMonths) {
		out = append(out, maxMonths)
	}
	return out
}

func renewMenu(id string, periods []int) *slack.OverflowBlockElement {
	var opts []*slack.OptionBlockObject
	for _, m := range periods {
		label := "Renew " + plural(m, "month", "months")
		opts = append(opts, slack.NewOptionBlockObject(id+":"+strconv.Itoa(m), plain(label), nil))
	}
	// The fifth (last) an overflow takes: the request modal, for a period and a reason (modal.go).
	opts = append(opts, slack.NewOptionBlockObject(id+digestFormSuffix, plain("Renew… (choose period, reason)"), nil))
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
	menu   []int // renewal periods of the renew menus, in months
}

const (
	pageBlocks = maxBlocks - 2 // room for the page context and the snooze menu
	menuChars  = 60            // text of a renew menu (4 options)
)

func newPage(menu []int) *pageBuilder { return &pageBuilder{tier: -1, menu: menu} }

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
		pb.blocks = append(pb.blocks, slack.NewSectionBlock(mrkdwn(line), nil, slack.NewAccessory(renewMenu(it.Instance.ID, pb.menu))))
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
func digestPages(p DigestPlan, items []DigestItem, tiers, counts []int, maxPages int, menu []int) ([]DigestMessage, int) {
	var builders []*pageBuilder
	pb := newPage(menu)
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
			pb = newPage(menu)
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
		"tier_days", "auto_renew", "auto_renew_duration", "deduction_utc8", "needs_decision", "locks", "account"})
	for _, it := range items {
		in := it.Instance
		dur, ded := "", ""
		if in.AutoRenew.Status == ecs.AutoRenewal {
			dur = strconv.Itoa(in.AutoRenew.Duration) + " " + in.AutoRenew.PeriodUnit
			ded = it.Deduction.In(ecs.UTC8).Format("2006-01-02 15:04")
		}
		_ = w.Write([]string{in.ID, csvSafe(in.Name), in.RegionID, in.ZoneID, in.Type, in.Status,
			in.ExpiredTime.In(ecs.UTC8).Format("2006-01-02 15:04"), in.ExpiredTime.UTC().Format(time.RFC3339),
			strconv.Itoa(renewal.DaysLeft(in.ExpiredTime, now)), strconv.Itoa(tiers[it.Tier]), string(in.AutoRenew.Status), dur, ded,
			strconv.FormatBool(it.NeedsDecision), csvSafe(strings.Join(in.LockReasons, ";")), in.Account})
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
	}{Day: p.Day, Now: p.Now, Window: renewal.FormatWindow(p.Window), Snoozed: p.Snoozed, Unrouted: p.Unrouted,
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
