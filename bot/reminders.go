package bot

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/store"
	"github.com/slack-go/slack"
)

// Reminder is one reminder a pending request is due: its kind and its text (mrkdwn, posted
// in the approval message's thread).
type Reminder struct {
	Kind store.Reminders
	Text string
}

// DueReminders is what pending request r is due at now, not yet sent: at half its TTL a
// reminder mentioning the approvers (listed users, except the requester unless self-approval
// is allowed, and listed user groups); at 90% of the TTL, or at once when one of its instances
// expires before the deadline, an escalation mentioning escalateTo (user or group IDs; none:
// no escalation).
func DueReminders(r *store.Request, now time.Time, p renewal.Policy, escalateTo []string) []Reminder {
	if r.State != store.StatePending || r.EffectiveState(now) != store.StatePending || r.Deadline.IsZero() {
		return nil
	}
	loc := now.Location()
	ttl, elapsed := r.Deadline.Sub(r.CreatedAt), now.Sub(r.CreatedAt)
	title := fmt.Sprintf("`%s` (%s)", r.ID, escape(approvalTitleShort(r)))
	var out []Reminder
	if r.Reminded&store.RemindedApprovers == 0 && 2*elapsed >= ttl {
		var who []string
		accounts := r.Accounts()
		if len(accounts) == 0 {
			accounts = []string{""}
		}
		var approvers []string // of every account of the request (its own, or the global ones)
		for _, acct := range accounts {
			for _, a := range p.ApproversOf(acct) {
				if !slices.Contains(approvers, a) {
					approvers = append(approvers, a)
				}
			}
		}
		for _, a := range approvers {
			if a == r.Requester && !p.AllowSelf {
				continue
			}
			who = append(who, mentionID(a))
		}
		if len(who) > 0 {
			out = append(out, Reminder{Kind: store.RemindedApprovers, Text: fmt.Sprintf(
				"⏰ Reminder: request %s, asked by %s, still waits for approval (%d of %d); it expires %s. %s",
				title, mention(r.Requester), len(r.Approvals), max(r.ApprovalsRequired, 1), renewal.FormatTime(r.Deadline, loc), strings.Join(who, " "))})
		}
	}
	if r.Reminded&store.RemindedEscalation == 0 && len(escalateTo) > 0 {
		var first []string // instances expiring before the deadline
		for _, it := range r.Items {
			if !it.CurrentExpiry.IsZero() && it.CurrentExpiry.Before(r.Deadline) {
				first = append(first, fmt.Sprintf("`%s` expires %s", escape(it.InstanceID), renewal.FormatTime(it.CurrentExpiry, loc)))
			}
		}
		if 10*elapsed >= 9*ttl || len(first) > 0 {
			why := "its deadline is " + renewal.FormatTime(r.Deadline, loc)
			if len(first) > 0 {
				why = clipRunes(strings.Join(first, ", "), 1500) + ", before the request's deadline " + renewal.FormatTime(r.Deadline, loc)
			}
			who := make([]string, len(escalateTo))
			for i, id := range escalateTo {
				who[i] = mentionID(id)
			}
			out = append(out, Reminder{Kind: store.RemindedEscalation, Text: fmt.Sprintf(
				"🚨 Escalation: request %s, asked by %s, is not approved yet: %s. %s",
				title, mention(r.Requester), why, strings.Join(who, " "))})
		}
	}
	return out
}

// mentionID mentions a user (<@U…>) or a user group (<!subteam^S…>).
func mentionID(id string) string {
	if renewal.IsGroupID(id) {
		return "<!subteam^" + id + ">"
	}
	return "<@" + id + ">"
}

// RemindEvery runs Remind every interval until ctx ends (serve runs it every minute).
func (a *App) RemindEvery(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := a.Remind(ctx); err != nil && ctx.Err() == nil {
				a.log.Warn("reminders", "err", err)
			}
		}
	}
}

// Remind sends the reminders pending requests are due, each once (recorded in the store
// before it is posted, so a crash loses one rather than sending it twice), and returns how
// many were posted.
func (a *App) Remind(ctx context.Context) (int, error) {
	if a.requests == nil {
		return 0, nil
	}
	pending, err := a.requests.ListRequests(store.StatePending)
	if err != nil {
		return 0, fmt.Errorf("list pending requests: %w", err)
	}
	now, policy, sent := a.now().In(a.loc), a.wf.Policy(), 0
	slices.SortFunc(pending, func(x, y *store.Request) int { return x.Deadline.Compare(y.Deadline) })
	for _, r := range pending {
		if r.Message.Channel == "" || r.Message.TS == "" {
			continue // no thread to remind in yet: the sweep posts the message first
		}
		for _, rem := range DueReminders(r, now, policy, a.escalateTo) {
			ok, err := a.wf.MarkReminded(ctx, r.ID, rem.Kind, reminderName(rem.Kind))
			if err != nil {
				return sent, err
			}
			if !ok {
				continue // decided, expired or sent meanwhile
			}
			err = retryRateLimited(ctx, a.wait, a.metrics, "chat.postMessage", maxAttempts, func() error {
				_, _, err := a.slack.PostMessageContext(ctx, r.Message.Channel,
					slack.MsgOptionText(rem.Text, false), slack.MsgOptionTS(r.Message.TS))
				return err
			})
			if err != nil {
				recordSlackError(a.metrics, "chat.postMessage", err)
				a.log.Error("post reminder", "request", r.ID, "kind", reminderName(rem.Kind), "err", err)
				continue
			}
			sent++
		}
	}
	return sent, nil
}

func reminderName(k store.Reminders) string {
	if k == store.RemindedEscalation {
		return "escalation"
	}
	return "approvers at half the TTL"
}
