package bot

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/store"
	"github.com/slack-go/slack"
)

// Every builder returns a fallback text and blocks within Slack's limits (CheckLimits): long
// inputs are packed several lines to a section and cut with "…and N more".

// ApprovalMessage renders a request. A pending request gets the "approve" (primary, with a
// confirm dialog stating the amount) and "reject" (danger) buttons whose value is the request
// ID; every other state has no buttons and a status line instead. Block IDs carry r.Version,
// so each update of the message has new ones. Times are shown in now's location
// (RENEWBOT_TIMEZONE) with their UTC offset.
func ApprovalMessage(r *store.Request, now time.Time) (string, []slack.Block) {
	state, loc := r.EffectiveState(now), now.Location()
	idp := fmt.Sprintf("approval.%s.v%d", r.ID, r.Version)
	blocks := []slack.Block{slack.NewHeaderBlock(plain(clipRunes(approvalTitle(r), maxHeaderText)))}

	fields := []*slack.TextBlockObject{
		mrkdwn("*Requested by*\n" + mention(r.Requester)),
		mrkdwn("*Request*\n`" + escape(string(r.ID)) + "`"),
	}
	switch r.Kind {
	case store.KindAutoRenew:
		fields = append(fields, mrkdwn("*Change*\n"+autoRenewChange(r)))
		if r.Total > 0 && r.AutoRenew == store.AutoRenewOn {
			fields = append(fields, mrkdwn("*Each automatic renewal*\n"+money(r.Total, r.Currency)))
		}
	default:
		fields = append(fields, mrkdwn(period(r)), mrkdwn("*Total quote*\n"+money(r.Total, r.Currency)))
	}
	fields = append(fields,
		mrkdwn(fmt.Sprintf("*Approvals*\n%d of %d", len(r.Approvals), max(r.ApprovalsRequired, 1))),
		mrkdwn("*Deadline*\n"+renewal.FormatTime(r.Deadline, loc)))
	blocks = append(blocks, slack.NewSectionBlock(nil, fields, nil))
	if r.Reason != "" {
		blocks = append(blocks, contextText("*Reason:* "+escape(clipRunes(r.Reason, 500))))
	}

	if r.Kind == store.KindAutoRenew {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(autoRenewWarning(r.AutoRenew)), nil, nil))
	}
	if state == store.StatePending {
		blocks = append(blocks, balanceBlocks(r)...) // forecast.go
	}

	lines := make([]string, len(r.Items))
	for i, it := range r.Items {
		lines[i] = itemLine(r, it, now)
	}
	secs, shown := packLines(lines, 5500, 10)
	blocks = append(blocks, secs...)
	if shown < len(lines) {
		blocks = append(blocks, contextText(fmt.Sprintf("…and %d more instances (see `history %s`)", len(lines)-shown, r.ID)))
	}

	status := statusLine(r, state, loc)
	blocks = append(blocks, slack.NewSectionBlock(mrkdwn(status), nil, nil, slack.SectionBlockOptionBlockID(idp+".status")))
	switch {
	case state == store.StatePending:
		blocks = append(blocks, approvalButtons(r, idp, now))
	case state == store.StateVerifying && (r.CheckingStopped || onlyUnclear(r)):
		blocks = append(blocks, settleButtons(r, idp))
	}
	text := fmt.Sprintf("%s: %s", approvalTitle(r), stripMarkup(firstLine(status)))
	return clipRunes(text, maxFallbackBudget), blocks
}

func approvalTitle(r *store.Request) string {
	n := plural(len(r.Items), "instance", "instances")
	if r.Kind == store.KindAutoRenew {
		switch r.AutoRenew {
		case store.AutoRenewOn:
			return fmt.Sprintf("Auto-renew on for %s, every %s (%s)", n, months(r.Duration), r.ID)
		case store.AutoRenewOff:
			return fmt.Sprintf("Auto-renew off for %s (%s)", n, r.ID)
		}
		return fmt.Sprintf("Never renew %s: released %s (%s)", n, ecs.ReleaseAfterExpiry(), r.ID)
	}
	if r.ExpectedRenewDay != 0 {
		return fmt.Sprintf("Renew %s to day %d of the month (%s)", n, r.ExpectedRenewDay, r.ID)
	}
	return fmt.Sprintf("Renew %s for %s (%s)", n, months(r.Months), r.ID)
}

// period is a renewal's period field: months, or the day its instances are renewed to.
func period(r *store.Request) string {
	if r.ExpectedRenewDay != 0 {
		return fmt.Sprintf("*Renew to*\nday %d of the month (统一到期日), pro rata", r.ExpectedRenewDay)
	}
	return "*Period*\n" + months(r.Months)
}

func autoRenewChange(r *store.Request) string {
	switch r.AutoRenew {
	case store.AutoRenewOn:
		return "auto-renew *on*, " + months(r.Duration) + " each time"
	case store.AutoRenewOff:
		return "auto-renew *off* (manual renewal)"
	}
	return "🚨 *never* renew (NotRenewal)"
}

func autoRenewWarning(m store.AutoRenewMode) string {
	switch m {
	case store.AutoRenewOn:
		return "Alibaba will charge each automatic renewal 9 days before expiry, at 08:00 UTC+8, if the balance allows."
	case store.AutoRenewOff:
		return "Back to manual renewal: someone must renew these instances before they expire."
	}
	return "🚨 *These instances will NOT be renewed. Each will be RELEASED " + ecs.ReleaseAfterExpiry() + ", and its disks and data are lost.*"
}

// itemLine is one instance of a request, with its result once there is one.
func itemLine(r *store.Request, it store.Item, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*`%s`* %s · %s\n", escape(it.InstanceID), escape(nameOr(it.Name)), escape(where(it.Account, it.RegionID)))
	fmt.Fprintf(&b, "    expires %s · %s · auto-renew: %s", renewal.FormatTime(it.CurrentExpiry, now.Location()), daysLeftText(it.CurrentExpiry, now), escape(orDash(it.AutoRenewStatus)))
	switch r.Kind {
	case store.KindRenew:
		fmt.Fprintf(&b, "\n    → new expiry %s · %s", renewal.FormatTime(it.ProjectedExpiry, now.Location()), money(it.Price, it.Currency))
	case store.KindAutoRenew:
		if r.AutoRenew == store.AutoRenewOn && !it.CurrentExpiry.IsZero() {
			b.WriteString("\n    → ")
			if it.Price > 0 {
				fmt.Fprintf(&b, "each automatic renewal %s · ", money(it.Price, it.Currency))
			}
			if d := ecs.DeductionTime(it.CurrentExpiry); now.Before(d) {
				fmt.Fprintf(&b, "first deduction %s", renewal.FormatTime(d, now.Location()))
			} else {
				fmt.Fprintf(&b, "⚠️ first deduction can happen at once (its date, %s, has passed)", renewal.FormatTime(d, now.Location()))
			}
		}
	}
	switch it.State {
	case store.ItemDone:
		switch {
		case r.Kind == store.KindRenew && it.NewExpiry.IsZero() && it.Error != "": // settled by an approver
			fmt.Fprintf(&b, "\n    ✅ order `%s` · %s", escape(orDash(it.OrderID)), escape(clipRunes(it.Error, 500)))
		case r.Kind == store.KindRenew:
			fmt.Fprintf(&b, "\n    ✅ order `%s` · verified new expiry %s", escape(orDash(it.OrderID)), renewal.FormatTime(it.NewExpiry, now.Location()))
		default:
			b.WriteString("\n    ✅ changed")
		}
	case store.ItemOrdered:
		if r.Kind == store.KindRenew && it.OrderID == "" {
			b.WriteString("\n    ⏳ renewal sent without a clear answer; new expiry not visible yet: still checking, do not renew again")
		} else {
			fmt.Fprintf(&b, "\n    ⏳ order `%s` placed; new expiry not verified yet", escape(orDash(it.OrderID)))
		}
	case store.ItemSuperseded:
		fmt.Fprintf(&b, "\n    ↪️ %s", escape(clipRunes(orDash(forSlack(it.Error)), 500)))
	case store.ItemFailed:
		fmt.Fprintf(&b, "\n    ❌ %s", escape(clipRunes(orDash(forSlack(it.Error)), 500)))
	}
	return b.String()
}

// statusLine says where the request stands, in words.
func statusLine(r *store.Request, state store.State, loc *time.Location) string {
	approvers := decisions(r.Approvals, loc)
	switch state {
	case store.StatePending:
		s := fmt.Sprintf("⏳ *Waiting for approval* (%d of %d) by an approver other than the requester, before %s.",
			len(r.Approvals), max(r.ApprovalsRequired, 1), renewal.FormatTime(r.Deadline, loc))
		if len(r.Approvals) > 0 {
			s += "\nApproved so far by " + approvers + "."
		}
		return s
	case store.StateApproved:
		return "✅ *Approved* by " + approvers + ". Starting…"
	case store.StateExecuting:
		verb := "Renewing"
		if r.Kind == store.KindAutoRenew {
			verb = "Changing auto-renew"
		}
		return "🔄 *" + verb + "…* Approved by " + approvers + "."
	case store.StateDone:
		if r.Closed != nil { // settled by an approver after checking stopped
			return "✅ *Done*: settled as renewed by " + closedBy(r, loc) + " after checking the console. Approved by " + approvers + "."
		}
		return "✅ *Done.* Approved by " + approvers + "; every instance verified (" + renewal.FormatTime(r.UpdatedAt, loc) + ")."
	case store.StateFailed:
		var failed []string
		for _, it := range r.Items {
			if it.State != store.ItemDone {
				failed = append(failed, "`"+escape(it.InstanceID)+"`")
			}
		}
		return fmt.Sprintf("❌ *Failed* for %s (see each instance below). Approved by %s.", clipRunes(strings.Join(failed, ", "), 1000), approvers)
	case store.StateVerifying:
		if r.Kind == store.KindAutoRenew {
			s := "⏳ *Auto-renew changed without a clear answer, and reading it back failed: still checking.* Approved by " + approvers + "."
			if r.CheckingStopped {
				s = "⏳ *Auto-renew change still not confirmed* after " + humanWindow(renewal.VerifyFor) + " of checking. Approved by " + approvers + "."
			}
			return s + "\nAn approver who checked the instances' auto-renew in the console (or with `status`) can settle it below."
		}
		if r.CheckingStopped {
			return "⏳ *Ordered, new expiry still not visible* after " + humanWindow(renewal.VerifyFor) + " of checking. " +
				"*Do not renew again*: check the instance in the console; an approver settles it with the buttons below. Approved by " + approvers + "."
		}
		s := "⏳ *Ordered, not visible yet, still checking.* *Do not renew again*: the new expiry can take a while to show. Approved by " + approvers + "."
		if onlyUnclear(r) {
			s += "\nAlibaba Cloud gave no clear answer: an approver who finds no renewal and no order in the console can settle it below."
		}
		return s
	case store.StateSuperseded:
		return "↪️ *Not renewed*: the expiry moved after the quote (see below). Nothing was charged for it. Approved by " + approvers + "."
	case store.StateRejected:
		if r.Closed != nil && r.Closed.Note != "" {
			return "🚫 *Rejected* by " + closedBy(r, loc) + ": " + escape(clipRunes(r.Closed.Note, 500))
		}
		return "🚫 *Rejected* by " + closedBy(r, loc) + "."
	case store.StateExpired:
		return fmt.Sprintf("⌛ *Expired*: nobody approved it before %s. Nothing was charged; run /renew again.", renewal.FormatTime(r.Deadline, loc))
	case store.StateCancelled:
		return "🚫 *Cancelled* by " + closedBy(r, loc) + ". Nothing was charged."
	}
	return "State: " + state.String()
}

func decisions(ds []store.Decision, loc *time.Location) string {
	var parts []string
	for _, d := range ds {
		parts = append(parts, mention(d.User)+" ("+renewal.FormatTime(d.At, loc)+")")
	}
	if len(parts) == 0 {
		return "nobody yet"
	}
	return strings.Join(parts, ", ")
}

func closedBy(r *store.Request, loc *time.Location) string {
	if r.Closed == nil {
		return "someone"
	}
	return mention(r.Closed.User) + " (" + renewal.FormatTime(r.Closed.At, loc) + ")"
}

// deductionPassed lists the instances whose auto-renew deduction date has passed: turned
// on, their first automatic renewal can be charged at once.
func deductionPassed(r *store.Request, now time.Time) []string {
	var ids []string
	for _, it := range r.Items {
		if !it.CurrentExpiry.IsZero() && !now.Before(ecs.DeductionTime(it.CurrentExpiry)) {
			ids = append(ids, it.InstanceID)
		}
	}
	return ids
}

func approvalButtons(r *store.Request, idp string, now time.Time) slack.Block {
	var title, text string
	style := slack.StylePrimary
	n := plural(len(r.Items), "instance", "instances")
	switch {
	case r.Kind == store.KindRenew && r.ExpectedRenewDay != 0:
		title = fmt.Sprintf("Renew %s to day %d?", n, r.ExpectedRenewDay)
		text = "This charges *" + money(r.Total, r.Currency) + "* to the Alibaba Cloud account now."
	case r.Kind == store.KindRenew:
		title = "Renew " + n + " for " + months(r.Months) + "?"
		text = "This charges *" + money(r.Total, r.Currency) + "* to the Alibaba Cloud account now."
	case r.AutoRenew == store.AutoRenewOn:
		title = "Turn auto-renew on for " + n + "?"
		text = "No charge now. Alibaba will charge every automatic renewal of " + months(r.Duration) + " at the price of the day."
		if r.Total > 0 {
			text = "Alibaba will charge *" + money(r.Total, r.Currency) + "* (today's price) for every automatic renewal of " + months(r.Duration) + "."
		}
		if late := deductionPassed(r, now); len(late) > 0 {
			text += " The deduction date of " + strings.Join(late, ", ") + " has passed: the first deduction can happen at once."
		} else {
			text += " Nothing is charged before the first deduction date."
		}
	case r.AutoRenew == store.AutoRenewOff:
		title = "Turn auto-renew off for " + n + "?"
		text = "No charge. These instances will need manual renewal before they expire."
	default:
		title = "Never renew " + n + "?"
		text = "These instances will be RELEASED " + ecs.ReleaseAfterExpiry() + ". Their disks and data are lost."
		style = slack.StyleDanger
	}
	confirm := slack.NewConfirmationBlockObject(plain(clipRunes(title, maxConfirmTitle)), mrkdwn(clipRunes(text, maxConfirmText)),
		plain("Approve"), plain("Cancel")).WithStyle(style)
	approve := slack.NewButtonBlockElement(ActionApprove, string(r.ID), plain("Approve")).WithStyle(slack.StylePrimary).WithConfirm(confirm)
	reject := slack.NewButtonBlockElement(ActionReject, string(r.ID), plain("Reject")).WithStyle(slack.StyleDanger)
	return slack.NewActionBlock(idp+".actions", approve, reject)
}

// onlyUnclear reports whether every instance still being checked was sent without a clear
// answer (no OrderId): an approver who finds nothing in the console may settle it at once.
func onlyUnclear(r *store.Request) bool {
	n := 0
	for _, it := range r.Items {
		if it.State == store.ItemOrdered {
			if it.OrderID != "" {
				return false
			}
			n++
		}
	}
	return n > 0
}

// settleButtons let an approver end a verifying request, after looking at the instances in
// the console: renewed, or not renewed. They show once checking gave up (48 h), or at once
// when no instance still being checked has an OrderId (every answer was lost).
func settleButtons(r *store.Request, idp string) slack.Block {
	confirm := func(title, text string, style slack.Style) *slack.ConfirmationBlockObject {
		return slack.NewConfirmationBlockObject(plain(clipRunes(title, maxConfirmTitle)), mrkdwn(clipRunes(text, maxConfirmText)),
			plain("Settle"), plain("Cancel")).WithStyle(style)
	}
	done := slack.NewButtonBlockElement(ActionSettleDone, string(r.ID), plain("Renewed (checked in the console)")).
		WithConfirm(confirm("Mark as renewed?", "Only if the console shows the new expiry of every instance still being checked.", slack.StylePrimary))
	failed := slack.NewButtonBlockElement(ActionSettleFailed, string(r.ID), plain("Not renewed (checked in the console)")).
		WithStyle(slack.StyleDanger).
		WithConfirm(confirm("Mark as not renewed?", "Only if the console shows no renewal and no order: the instances become free for a new request.", slack.StyleDanger))
	if r.Kind == store.KindAutoRenew {
		done = slack.NewButtonBlockElement(ActionSettleDone, string(r.ID), plain("Changed (checked in the console)")).
			WithConfirm(confirm("Mark as changed?", "Only if the console shows the requested auto-renew on every instance still being checked.", slack.StylePrimary))
		failed = slack.NewButtonBlockElement(ActionSettleFailed, string(r.ID), plain("Not changed (checked in the console)")).
			WithStyle(slack.StyleDanger).
			WithConfirm(confirm("Mark as not changed?", "Only if the console shows the old auto-renew: the instances become free for a new request.", slack.StyleDanger))
	}
	return slack.NewActionBlock(idp+".settle", done, failed)
}

// StatusMessage describes instances: where they are, when they expire, their auto-renew state.
// Times are shown in now's location.
func StatusMessage(insts []ecs.Instance, now time.Time) (string, []slack.Block) {
	title := "Status of " + plural(len(insts), "instance", "instances")
	blocks := []slack.Block{slack.NewHeaderBlock(plain(title))}
	if len(insts) == 0 {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn("No instances found."), nil, nil))
		return title, blocks
	}
	lines := make([]string, len(insts))
	for i, in := range insts {
		lines[i] = statusInstanceLine(in, now)
	}
	secs, shown := packLines(lines, messageBudget-500, maxBlocks-3)
	blocks = append(blocks, secs...)
	if shown < len(lines) {
		blocks = append(blocks, contextText(fmt.Sprintf("…and %d more; ask for fewer instances at a time", len(lines)-shown)))
	}
	return title, blocks
}

func statusInstanceLine(in ecs.Instance, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*`%s`* %s · %s · %s · %s\n", escape(in.ID), escape(nameOr(in.Name)), escape(where(in.Account, in.RegionID)), escape(orDash(in.Type)), escape(orDash(in.Status)))
	if !in.Subscription() {
		b.WriteString("    pay-as-you-go (" + escape(in.ChargeType) + "): there is nothing to renew")
		return b.String()
	}
	fmt.Fprintf(&b, "    expires %s · %s\n    %s", renewal.FormatTime(in.ExpiredTime, now.Location()), daysLeftText(in.ExpiredTime, now), autoRenewLine(in, now))
	if len(in.LockReasons) > 0 {
		b.WriteString("\n    🔒 locked: " + escape(strings.Join(in.LockReasons, ", ")))
	}
	return b.String()
}

// autoRenewLine is the auto-renew state of an instance, loud for NotRenewal.
func autoRenewLine(in ecs.Instance, now time.Time) string {
	switch in.AutoRenew.Status {
	case ecs.AutoRenewal:
		d := ecs.DeductionTime(in.ExpiredTime)
		s := "🔁 auto-renew " + autoRenewPeriod(in.AutoRenew) + ", deduction " + renewal.FormatTime(d, now.Location())
		if !now.Before(d) {
			s += " ⚠️ (passed: check the balance)"
		}
		return s
	case ecs.NotRenewal:
		return "🚨 *NotRenewal: will be RELEASED " + ecs.ReleaseAfterExpiry() + "*"
	case ecs.Normal:
		return "✋ manual renewal"
	}
	return "auto-renew state unknown"
}

func autoRenewPeriod(a ecs.AutoRenew) string {
	if a.Duration <= 0 {
		return "on"
	}
	unit := strings.ToLower(a.PeriodUnit)
	if unit == "" {
		unit = "month"
	}
	if a.Duration != 1 {
		unit += "s"
	}
	return fmt.Sprintf("every %d %s", a.Duration, unit)
}

// ListMessage answers `list`: instances expiring in the window, by urgency tier, and the
// regions that could not be read. Dates are days in now's location.
func ListMessage(scan ecs.Scan, window time.Duration, now time.Time) (string, []slack.Block) {
	title := fmt.Sprintf("%s expiring within %s", plural(len(scan.Instances), "instance", "instances"), humanWindow(window))
	blocks := []slack.Block{slack.NewHeaderBlock(plain(title))}
	budget := messageBudget - 600
	if w := failedRegions(scan.Failed); w != "" {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(w), nil, nil))
		budget -= utf8.RuneCountInString(w)
	}
	if len(scan.Instances) == 0 {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn("Nothing expires within "+humanWindow(window)+" ✅"), nil, nil))
		return title, blocks
	}
	tiers := tierBounds(defaultTiers, window)
	groups := make([][]string, len(tiers))
	for _, in := range scan.Instances {
		t := tierOf(in.ExpiredTime, now, tiers)
		groups[t] = append(groups[t], compactLine(in, now))
	}
	shown := 0
	for t, g := range groups {
		if len(g) == 0 {
			continue
		}
		head := fmt.Sprintf("*%s* (%d)", tierName(t, tiers), len(g))
		secs, n := packLines(append([]string{head}, g...), budget, maxBlocks-2-len(blocks))
		if n <= 1 {
			break
		}
		blocks = append(blocks, secs...)
		budget -= sectionsLen(secs)
		shown += n - 1
		if n < len(g)+1 {
			break
		}
	}
	if rest := len(scan.Instances) - shown; rest > 0 {
		blocks = append(blocks, contextText(fmt.Sprintf("…and %d more; see the digest CSV", rest)))
	}
	return title, blocks
}

func failedRegions(failed []ecs.RegionError) string {
	if len(failed) == 0 {
		return ""
	}
	parts := make([]string, len(failed))
	for i, f := range failed {
		msg := "unknown error"
		if f.Err != nil {
			msg = forSlack(f.Err.Error())
		}
		parts[i] = "`" + escape(where(f.Account, f.RegionID)) + "` (" + escape(clipRunes(msg, 150)) + ")"
	}
	return clipRunes("⚠️ *Could not read "+plural(len(failed), "region", "regions")+"*, so instances there are missing: "+strings.Join(parts, ", "), sectionBudget)
}

// compactLine is one instance in a list: one line.
func compactLine(in ecs.Instance, now time.Time) string {
	return fmt.Sprintf("`%s` %s · %s · %s (%s) · %s", escape(in.ID), escape(clipRunes(nameOr(in.Name), 40)), escape(where(in.Account, in.RegionID)),
		renewal.FormatDate(in.ExpiredTime, now.Location()), shortDaysLeft(in.ExpiredTime, now), shortAutoRenew(in, now))
}

func shortAutoRenew(in ecs.Instance, now time.Time) string {
	switch in.AutoRenew.Status {
	case ecs.AutoRenewal:
		d := ecs.DeductionTime(in.ExpiredTime)
		if !now.Before(d) {
			return "🔁 auto ⚠️ deduction " + renewal.FormatDate(d, now.Location()) + " passed"
		}
		return "🔁 auto, deduction " + renewal.FormatDate(d, now.Location())
	case ecs.NotRenewal:
		return "🚨 *NotRenewal: will be RELEASED*"
	case ecs.Normal:
		return "✋ manual"
	}
	return "auto-renew ?"
}

// HistoryMessage shows audit events (oldest first), the newest ones when they do not all fit.
func HistoryMessage(events []store.Event, loc *time.Location) (string, []slack.Block) {
	if loc == nil {
		loc = ecs.UTC8
	}
	title := "History: " + plural(len(events), "event", "events")
	blocks := []slack.Block{slack.NewHeaderBlock(plain(title))}
	if len(events) == 0 {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn("Nothing recorded yet."), nil, nil))
		return title, blocks
	}
	// Fit the newest events: walk back from the end, then show them oldest first.
	budget, start := messageBudget-800, len(events)
	for start > 0 {
		l := utf8.RuneCountInString(eventLine(events[start-1], loc)) + 1
		if l > budget || len(events)-start >= 300 {
			break
		}
		budget -= l
		start--
	}
	if start > 0 {
		blocks = append(blocks, contextText(fmt.Sprintf("%d earlier events not shown; `renewbot history` on the server has them all", start)))
	}
	lines := make([]string, 0, len(events)-start)
	for _, e := range events[start:] {
		lines = append(lines, eventLine(e, loc))
	}
	secs, _ := packLines(lines, messageBudget, maxBlocks-len(blocks))
	return title, append(blocks, secs...)
}

func eventLine(e store.Event, loc *time.Location) string {
	var b strings.Builder
	fmt.Fprintf(&b, "`%s` %s *%s*", renewal.FormatTime(e.Time, loc), mention(e.Actor), escape(string(e.Action)))
	if e.RequestID != "" {
		b.WriteString(" `" + escape(string(e.RequestID)) + "`")
	}
	if len(e.InstanceIDs) > 0 {
		ids := e.InstanceIDs
		more := ""
		if len(ids) > 5 {
			ids, more = ids[:5], fmt.Sprintf(" +%d", len(e.InstanceIDs)-5)
		}
		b.WriteString(" " + escape(strings.Join(ids, ", ")) + more)
	}
	if d := forSlack(e.Detail); d != "" { // ClientTokens and request IDs stay in the CLI's history
		b.WriteString(" · " + escape(clipRunes(d, 300)))
	}
	return b.String()
}

// HelpMessage is the usage.
func HelpMessage() (string, []slack.Block) {
	return "renewbot: renew Alibaba Cloud ECS subscriptions from Slack", []slack.Block{
		slack.NewHeaderBlock(plain("renewbot: ECS subscription renewals")),
		slack.NewSectionBlock(mrkdwn(Usage), nil, nil),
		contextText("Every renewal shows its price first and runs only after an approver other than the requester clicks Approve. " +
			"A daily digest lists instances that expire soon."),
	}
}

// ---- text helpers ----

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
}
func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
}

func contextText(s string) *slack.ContextBlock {
	return slack.NewContextBlock("", mrkdwn(clipRunes(s, sectionBudget)))
}

// escape makes text from outside (instance names, tags, errors) inert in mrkdwn: no
// mentions, links or @channel.
func escape(s string) string {
	if !strings.ContainsAny(s, "&<>") {
		return s
	}
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

var slackUserRe = regexp.MustCompile(`^[UW][A-Z0-9]{2,20}$`)

// mention renders an actor: <@U…> for Slack users, the name in code otherwise ("renewbot", "cli:alice").
func mention(user string) string {
	if slackUserRe.MatchString(user) {
		return "<@" + user + ">"
	}
	if user == "" {
		return "someone"
	}
	return "`" + escape(strings.ReplaceAll(user, "`", "'")) + "`"
}

func money(v float64, currency string) string { return renewal.Money(v, currency) }

func months(n int) string {
	if n == 12 {
		return "12 months (1 year)"
	}
	return plural(n, "month", "months")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// humanWindow is a window in words: "30 days", "48 hours".
func humanWindow(w time.Duration) string {
	if w%(24*time.Hour) == 0 {
		return plural(int(w/(24*time.Hour)), "day", "days")
	}
	return plural(int(w/time.Hour), "hour", "hours")
}

func daysLeftText(t, now time.Time) string {
	if t.IsZero() {
		return "expiry unknown"
	}
	switch d := renewal.DaysLeft(t, now); {
	case !t.After(now):
		if ago := -d; ago > 0 {
			return "⛔ *expired " + plural(ago, "day", "days") + " ago*"
		}
		return "⛔ *expired today*"
	case d == 0:
		return "⚠️ *expires within a day*"
	default:
		return plural(d, "day", "days") + " left"
	}
}

func shortDaysLeft(t, now time.Time) string {
	if !t.After(now) {
		return "⛔ expired"
	}
	return strconv.Itoa(renewal.DaysLeft(t, now)) + "d"
}

func nameOr(s string) string {
	if s == "" {
		return "(no name)"
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// stripMarkup makes a status line readable as plain fallback text.
func stripMarkup(s string) string {
	s = slackDateRe.ReplaceAllString(s, "$1")
	return strings.NewReplacer("*", "", "`", "").Replace(s)
}

var slackDateRe = regexp.MustCompile(`<!date\^[0-9]+\^[^|>]*\|([^>]*)>`)

func clipRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// packLines packs lines into mrkdwn sections of at most sectionBudget characters, up to
// budget characters and maxSections sections in all. It returns the sections and how many
// lines they hold; a line longer than a section is clipped.
func packLines(lines []string, budget, maxSections int) ([]slack.Block, int) {
	var blocks []slack.Block
	var cur strings.Builder
	curLen, used := 0, 0
	flush := func() {
		if curLen > 0 {
			blocks = append(blocks, slack.NewSectionBlock(mrkdwn(cur.String()), nil, nil))
			cur.Reset()
			curLen = 0
		}
	}
	for i, line := range lines {
		line = clipRunes(line, sectionBudget)
		n := utf8.RuneCountInString(line)
		if used+n+1 > budget {
			flush()
			return blocks, i
		}
		if curLen > 0 && curLen+n+1 > sectionBudget {
			flush()
		}
		if curLen == 0 && len(blocks) >= maxSections {
			return blocks, i
		}
		if curLen > 0 {
			cur.WriteByte('\n')
			curLen++
		}
		cur.WriteString(line)
		curLen += n
		used += n + 1
	}
	flush()
	return blocks, len(lines)
}

// sectionsLen is the text length of sections built by packLines.
func sectionsLen(blocks []slack.Block) int {
	n := 0
	for _, b := range blocks {
		if s, ok := b.(*slack.SectionBlock); ok && s.Text != nil {
			n += utf8.RuneCountInString(s.Text.Text)
		}
	}
	return n
}

// ---- urgency tiers ----

var defaultTiers = []int{3, 7, 15, 30}

// tierBounds are the tier limits in days for a window: tiers up to the window, plus one
// "later" tier when the window is longer than the last tier.
func tierBounds(tiers []int, window time.Duration) []int {
	days := int(math.Ceil(window.Hours() / 24))
	var out []int
	for _, t := range tiers {
		if t >= days && window > 0 {
			break
		}
		out = append(out, t)
	}
	if window > 0 {
		out = append(out, days)
	}
	return out
}

// tierOf is the index of the first tier whose limit the days left (renewal.DaysLeft) do not exceed;
// expired instances are in tier 0.
func tierOf(expiry, now time.Time, tiers []int) int {
	left := renewal.DaysLeft(expiry, now) // the days the line shows: "3 days left" is within 3 days
	for i, t := range tiers {
		if left <= t {
			return i
		}
	}
	return len(tiers) - 1
}

func tierName(i int, tiers []int) string {
	if i == 0 {
		return fmt.Sprintf("🔴 Expired or within %d days", tiers[0])
	}
	icon := "🟡"
	switch i {
	case 1:
		icon = "🟠"
	case len(tiers) - 1:
		icon = "🟢"
	}
	return fmt.Sprintf("%s Within %d days", icon, tiers[i])
}
