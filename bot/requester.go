package bot

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/store"
	"github.com/slack-go/slack"
)

// The requester is told of each outcome of their request: a DM (conversations.open, then
// chat.postMessage) and a reply in the approval message's thread, once per request and state.

// toldStates are the states the requester is told of.
var toldStates = map[store.State]bool{
	store.StateApproved: true, store.StateRejected: true, store.StateDone: true, store.StateFailed: true,
	store.StateSuperseded: true, store.StateCancelled: true, store.StateExpired: true,
}

// tellQueue sends the requester's notices in order, one at a time, each (request, state) once.
type tellQueue struct {
	mu      sync.Mutex
	pending []*store.Request
	told    map[string]bool // request ID + "/" + state
	order   []string        // of told, oldest first (bounded)
	running bool
}

func newTellQueue() *tellQueue { return &tellQueue{told: map[string]bool{}} }

// changed queues r's notice when r is in a state its requester is told of, and was not told yet.
func (q *tellQueue) changed(a *App, r *store.Request) {
	if !toldStates[r.State] || r.Requester == "" || strings.HasPrefix(r.Requester, "cli:") {
		return
	}
	if r.State == store.StateCancelled && r.Closed != nil && r.Closed.User == r.Requester {
		return // they cancelled it themselves
	}
	key := string(r.ID) + "/" + r.State.String()
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.told[key] {
		return
	}
	q.told[key] = true
	q.order = append(q.order, key)
	if len(q.order) > 20000 { // forget the oldest: their requests are long finished
		delete(q.told, q.order[0])
		q.order = q.order[1:]
	}
	q.pending = append(q.pending, r)
	if q.running {
		return
	}
	q.running = true
	a.later("tell requester", func(ctx context.Context) { q.drain(ctx, a) })()
}

func (q *tellQueue) drain(ctx context.Context, a *App) {
	defer func() {
		q.mu.Lock()
		q.running = false
		q.mu.Unlock()
	}()
	for {
		q.mu.Lock()
		if len(q.pending) == 0 {
			q.mu.Unlock()
			return
		}
		r := q.pending[0]
		q.pending = q.pending[1:]
		q.mu.Unlock()
		a.tellRequester(ctx, r)
	}
}

// tellRequester sends one notice: the DM and the thread reply. Failures are logged and
// counted; the approval message and the Home tab show the state anyway.
func (a *App) tellRequester(ctx context.Context, r *store.Request) {
	text := RequesterNotice(r, a.now().In(a.loc))
	var dm string
	err := retryRateLimited(ctx, a.wait, a.metrics, "conversations.open", maxAttempts, func() error {
		ch, _, _, err := a.slack.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{r.Requester}})
		if err == nil && ch != nil {
			dm = ch.ID
		}
		return err
	})
	if err != nil || dm == "" {
		recordSlackError(a.metrics, "conversations.open", err)
		a.log.Warn("open DM with the requester", "request", r.ID, "user", r.Requester, "err", err)
	} else {
		a.post(ctx, dm, "", text, r)
	}
	if r.Message.Channel != "" && r.Message.TS != "" {
		a.post(ctx, r.Message.Channel, r.Message.TS, text, r)
	}
}

// post sends text to channel (in thread ts when set), waiting out 429s.
func (a *App) post(ctx context.Context, channel, ts, text string, r *store.Request) {
	opts := []slack.MsgOption{slack.MsgOptionText(text, false)}
	if ts != "" {
		opts = append(opts, slack.MsgOptionTS(ts))
	}
	err := retryRateLimited(ctx, a.wait, a.metrics, "chat.postMessage", maxAttempts, func() error {
		_, _, err := a.slack.PostMessageContext(ctx, channel, opts...)
		return err
	})
	if err != nil {
		recordSlackError(a.metrics, "chat.postMessage", err)
		a.log.Warn("tell the requester", "request", r.ID, "channel", channel, "thread", ts, "err", err)
	}
}

// RequesterNotice is what the requester is told when r reached its state (mrkdwn, within
// Slack's text limits).
func RequesterNotice(r *store.Request, now time.Time) string {
	loc := now.Location()
	what := fmt.Sprintf("Your request `%s` (%s)", r.ID, escape(approvalTitleShort(r)))
	var b strings.Builder
	switch r.State {
	case store.StateApproved:
		fmt.Fprintf(&b, "✅ %s was approved by %s. Renewbot is carrying it out now.", what, decisions(r.Approvals, loc))
	case store.StateRejected:
		fmt.Fprintf(&b, "🚫 %s was rejected by %s", what, closedBy(r, loc))
		if r.Closed != nil && r.Closed.Note != "" {
			fmt.Fprintf(&b, ": %s", escape(clipRunes(r.Closed.Note, renewal.MaxReasonLength)))
		} else {
			b.WriteString(" (no reason given).")
		}
	case store.StateDone:
		fmt.Fprintf(&b, "✅ %s is done.", what)
	case store.StateFailed:
		fmt.Fprintf(&b, "❌ %s failed.", what)
	case store.StateSuperseded:
		fmt.Fprintf(&b, "↪️ %s was not carried out: the expiry moved after the quote. Nothing was charged for it.", what)
	case store.StateCancelled:
		fmt.Fprintf(&b, "🚫 %s was cancelled by %s. Nothing was charged.", what, closedBy(r, loc))
	case store.StateExpired:
		fmt.Fprintf(&b, "⌛ %s expired: nobody approved it before %s. Nothing was charged; ask again with /renew.", what, renewal.FormatTime(r.Deadline, loc))
	default:
		fmt.Fprintf(&b, "%s is %s.", what, r.State)
	}
	if r.State == store.StateDone || r.State == store.StateFailed || r.State == store.StateSuperseded {
		for i, it := range r.Items {
			if i == 20 {
				fmt.Fprintf(&b, "\n…and %d more (see the approval message)", len(r.Items)-i)
				break
			}
			fmt.Fprintf(&b, "\n• `%s`: ", escape(it.InstanceID))
			switch it.State {
			case store.ItemDone:
				if r.Kind == store.KindRenew {
					fmt.Fprintf(&b, "order `%s`, verified expiry %s", escape(orDash(it.OrderID)), renewal.FormatTime(it.NewExpiry, loc))
				} else {
					b.WriteString("changed")
				}
			case store.ItemFailed:
				b.WriteString("❌ " + escape(clipRunes(orDash(it.Error), 300)))
			default:
				b.WriteString(it.State.String())
			}
		}
	}
	return clipRunes(b.String(), maxFallbackBudget)
}

// approvalTitleShort is the request's title without its ID.
func approvalTitleShort(r *store.Request) string {
	t := approvalTitle(r)
	if i := strings.LastIndex(t, " ("); i > 0 {
		return t[:i]
	}
	return t
}
