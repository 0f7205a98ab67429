package bot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/store"
	"github.com/slack-go/slack"
)

// SlackNotifier keeps a request's approval message up to date: every change is a chat.update
// of the message with ApprovalMessage. RequestChanged never waits for Slack: it queues the
// change, and one goroutine per request sends that request's changes in order, only the
// newest when several queued up meanwhile, so the workflow never waits for a message (a 429
// can take a minute) between the claim and the paid call. A change older than one already
// queued or shown is skipped. Close drains the queues at shutdown.
type SlackNotifier struct {
	api     SlackAPI
	now     func() time.Time
	loc     *time.Location // times in messages; default UTC
	log     *slog.Logger
	metrics *Metrics

	wait func(ctx context.Context, d time.Duration) error // waits out a 429's Retry-After

	base   context.Context // of the updates; cancelled when Close gives up
	cancel context.CancelFunc
	work   sync.WaitGroup

	mu     sync.Mutex
	latest map[store.RequestID]uint64         // the newest version queued or shown per request
	queue  map[store.RequestID]*store.Request // the change waiting to be shown, per request
	busy   map[store.RequestID]bool           // a goroutine is sending this request's changes
	closed bool
}

var _ renewal.Notifier = (*SlackNotifier)(nil)

// maxAttempts bounds the attempts of an approval post or update that Slack answers with 429.
const maxAttempts = 3

// retryRateLimited runs call, and again after Retry-After when Slack answers 429, at most
// attempts times. Each 429 but the last is counted here; the caller counts the final error.
func retryRateLimited(ctx context.Context, wait func(context.Context, time.Duration) error, m *Metrics, method string, attempts int, call func() error) error {
	for attempt := 1; ; attempt++ {
		err := call()
		rl, limited := errors.AsType[*slack.RateLimitedError](err)
		if !limited || attempt >= attempts {
			return err
		}
		m.SlackRateLimited(method)
		if werr := wait(ctx, rl.RetryAfter); werr != nil {
			return err
		}
	}
}

// waitCtx waits d (nothing when d ≤ 0) or until ctx ends; it returns ctx's error if ctx ended.
func waitCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// NewSlackNotifier builds the Slack Notifier. now defaults to time.Now, log to discard.
func NewSlackNotifier(api SlackAPI, now func() time.Time, log *slog.Logger) *SlackNotifier {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	n := &SlackNotifier{api: api, now: now, loc: time.UTC, log: log, wait: waitCtx,
		latest: map[store.RequestID]uint64{}, queue: map[store.RequestID]*store.Request{}, busy: map[store.RequestID]bool{}}
	n.base, n.cancel = context.WithCancel(context.Background())
	return n
}

// WithMetrics makes n count failed updates in m and returns n.
func (n *SlackNotifier) WithMetrics(m *Metrics) *SlackNotifier {
	n.metrics = m
	return n
}

// WithLocation shows times in loc (RENEWBOT_TIMEZONE) and returns n.
func (n *SlackNotifier) WithLocation(loc *time.Location) *SlackNotifier {
	if loc != nil {
		n.loc = loc
	}
	return n
}

// RequestChanged queues an update of r's approval message and returns at once; a request
// without a message is skipped. The update waits out a 429 (Retry-After) and is retried, up
// to maxAttempts. Errors are logged and counted: the store, not the message, is the record.
func (n *SlackNotifier) RequestChanged(_ context.Context, r *store.Request) {
	if r == nil || r.Message.Channel == "" || r.Message.TS == "" {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if v, ok := n.latest[r.ID]; ok && v >= r.Version {
		return // older than what is queued or shown
	}
	if n.closed {
		n.log.Warn("shutting down: approval message not updated", "request", r.ID, "state", r.State)
		return
	}
	if len(n.latest) >= 4096 { // a bound; forgetting only loses the ordering guard of idle requests
		for id := range n.latest {
			if !n.busy[id] {
				delete(n.latest, id)
			}
		}
	}
	n.latest[r.ID] = r.Version
	n.queue[r.ID] = r
	if n.busy[r.ID] {
		return // its goroutine takes the newest change next
	}
	n.busy[r.ID] = true
	n.work.Go(func() { n.send(r.ID) })
}

// send shows the queued changes of one request until none is left.
func (n *SlackNotifier) send(id store.RequestID) {
	for {
		n.mu.Lock()
		r := n.queue[id]
		delete(n.queue, id)
		if r == nil {
			delete(n.busy, id)
			n.mu.Unlock()
			return
		}
		n.mu.Unlock()
		n.update(n.base, r)
	}
}

func (n *SlackNotifier) update(ctx context.Context, r *store.Request) {
	text, blocks := ApprovalMessage(r, n.now().In(n.loc))
	err := retryRateLimited(ctx, n.wait, n.metrics, "chat.update", maxAttempts, func() error {
		_, _, _, err := n.api.UpdateMessageContext(ctx, r.Message.Channel, r.Message.TS,
			slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...))
		return err
	})
	if err != nil {
		recordSlackError(n.metrics, "chat.update", err)
		n.log.Error("update approval message", "request", r.ID, "state", r.State, "channel", r.Message.Channel, "err", err)
	}
}

// Flush waits until every queued update was sent (or ctx ends).
func (n *SlackNotifier) Flush(ctx context.Context) error { return waitGroup(ctx, &n.work) }

// Close stops taking changes and drains the queues; when ctx ends first, the updates in
// flight are cancelled and ctx's error returned.
func (n *SlackNotifier) Close(ctx context.Context) error {
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	err := n.Flush(ctx)
	n.cancel()
	if err != nil {
		n.work.Wait()
	}
	return err
}

// recordSlackError counts a failed Slack call: a 429 as rate limited, anything else by its
// Slack error code.
func recordSlackError(m *Metrics, method string, err error) {
	if _, ok := errors.AsType[*slack.RateLimitedError](err); ok {
		m.SlackRateLimited(method)
		return
	}
	m.SlackError(method, slackErrText(err))
}

// slackErrText is a short, bounded description of a Slack error: its error code
// ("channel_not_found"), "http_NNN", or "transport".
func slackErrText(err error) string {
	if e, ok := errors.AsType[slack.SlackErrorResponse](err); ok {
		return e.Err
	}
	if e, ok := errors.AsType[slack.StatusCodeError](err); ok {
		return "http_" + strconv.Itoa(e.Code)
	}
	if _, ok := errors.AsType[*slack.RateLimitedError](err); ok {
		return "ratelimited"
	}
	return "transport"
}

// SlackMembers resolves user groups with usergroups.users.list and caches each answer for a
// while. Failures are not cached; concurrent misses of one group make one call.
type SlackMembers struct {
	api SlackAPI
	ttl time.Duration
	now func() time.Time

	mu    sync.Mutex
	cache map[string]members
	locks map[string]*sync.Mutex
}

type members struct {
	ids []string
	at  time.Time
}

var _ renewal.Members = (*SlackMembers)(nil)

// NewSlackMembers builds the cached Members; ttl ≤ 0 means 5 minutes.
func NewSlackMembers(api SlackAPI, ttl time.Duration) *SlackMembers {
	if ttl <= 0 {
		ttl = 5 * time.Minute
	}
	return &SlackMembers{api: api, ttl: ttl, now: time.Now, cache: map[string]members{}, locks: map[string]*sync.Mutex{}}
}

// GroupMembers returns the user IDs of group (S…), from the cache when fresh.
func (m *SlackMembers) GroupMembers(ctx context.Context, group string) ([]string, error) {
	if ids, ok := m.cached(group); ok {
		return ids, nil
	}
	m.mu.Lock()
	l, ok := m.locks[group]
	if !ok {
		l = &sync.Mutex{}
		m.locks[group] = l
	}
	m.mu.Unlock()

	l.Lock()
	defer l.Unlock()
	if ids, ok := m.cached(group); ok { // another caller fetched it meanwhile
		return ids, nil
	}
	ids, err := m.api.GetUserGroupMembersContext(ctx, group)
	if err != nil {
		return nil, fmt.Errorf("usergroups.users.list %s: %w", group, err) // the caller says what it was for
	}
	m.mu.Lock()
	m.cache[group] = members{ids: ids, at: m.now()}
	m.mu.Unlock()
	return append([]string(nil), ids...), nil
}

func (m *SlackMembers) cached(group string) ([]string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.cache[group]
	if !ok || m.now().Sub(c.at) >= m.ttl {
		return nil, false
	}
	return append([]string(nil), c.ids...), true
}

var _ renewal.Poster = (*SlackNotifier)(nil)

// maxPostWait is the longest Retry-After an approval post waits out; after a longer one the
// post is left to the workflow's next sweep, so nothing waits minutes for Slack.
const maxPostWait = 10 * time.Second

// errWaitTooLong stops retryRateLimited at a Retry-After longer than maxPostWait.
var errWaitTooLong = errors.New("Retry-After too long")

// PostApproval posts r's approval message into r's channel (renewal.Poster). A 429 with a
// short Retry-After is waited out; a 429 with a long one, a 5xx or a network failure is an
// error to try again later; any other Slack error wraps renewal.ErrUndeliverable.
func (n *SlackNotifier) PostApproval(ctx context.Context, r *store.Request) (store.MessageRef, error) {
	text, blocks := ApprovalMessage(r, n.now().In(n.loc))
	wait := func(ctx context.Context, d time.Duration) error {
		if d > maxPostWait {
			return errWaitTooLong
		}
		return n.wait(ctx, d)
	}
	var ch, ts string
	err := retryRateLimited(ctx, wait, n.metrics, "chat.postMessage", maxAttempts, func() (err error) {
		ch, ts, err = n.api.PostMessageContext(ctx, r.Channel, slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...))
		return err
	})
	if err != nil {
		recordSlackError(n.metrics, "chat.postMessage", err)
		n.log.Error("post approval message", "request", r.ID, "channel", r.Channel, "err", err)
		if retryable(err) {
			return store.MessageRef{}, fmt.Errorf("chat.postMessage: %s", slackErrText(err))
		}
		return store.MessageRef{}, fmt.Errorf("%s: %w", slackErrText(err), renewal.ErrUndeliverable)
	}
	if ch == "" { // an answer with only ok and ts: the message is where it was posted
		ch = r.Channel
	}
	return store.MessageRef{Channel: ch, TS: ts}, nil
}

// retryable reports whether a Slack call may succeed if tried again later: rate limited, a
// 5xx, or no answer at all.
func retryable(err error) bool {
	if _, ok := errors.AsType[*slack.RateLimitedError](err); ok {
		return true
	}
	if e, ok := errors.AsType[slack.StatusCodeError](err); ok {
		return e.Code >= 500 || e.Code == 429
	}
	_, slackErr := errors.AsType[slack.SlackErrorResponse](err)
	return !slackErr
}

// TellRequester tells r's requester text, ephemeral in r's channel, else in a direct
// message (renewal.Poster).
func (n *SlackNotifier) TellRequester(ctx context.Context, r *store.Request, text string) error {
	_, err := n.api.PostEphemeralContext(ctx, r.Channel, r.Requester, slack.MsgOptionText(text, false))
	if err == nil {
		return nil
	}
	recordSlackError(n.metrics, "chat.postEphemeral", err)
	if _, _, derr := n.api.PostMessageContext(ctx, r.Requester, slack.MsgOptionText(text, false)); derr != nil {
		recordSlackError(n.metrics, "chat.postMessage", derr)
		return errors.Join(err, derr)
	}
	return nil
}
