package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/store"
	"github.com/slack-go/slack"
)

// Slack's limits on a view (docs.slack.dev/surfaces/app-home, views.publish): 100 blocks
// and 250 KB of JSON. The builders aim below them.
const (
	maxViewBlocks = 100
	maxViewBytes  = 250 << 10
	maxInputLabel = 2000 // input block label
	maxInputHint  = 2000
	maxTextInput  = 3000 // plain_text_input max_length
	maxViewTitle  = 24   // modal title, submit and close
)

// ActionHomeRequest is the Home tab's "Request a renewal" button: it opens the request modal.
const ActionHomeRequest = "home_request"

// Home tab sizes: what each section shows at most.
const (
	homeWaiting  = 15 // requests waiting for the user, 2 blocks each
	homeMine     = 10 // the user's own requests, 1 block each
	homeExpiring = 40 // instances expiring soon, packed into sections
	homeForecast = 12 // balance forecast blocks (the summary, warnings per account)
)

// RequestReader reads requests: the Home tab lists them, a reject click checks one.
type RequestReader interface {
	GetRequest(id store.RequestID) (*store.Request, error)
	ListRequests(states ...store.State) ([]*store.Request, error)
}

var _ RequestReader = (*store.DB)(nil)

// HomeData is what one user's Home tab shows.
type HomeData struct {
	User        string
	Waiting     []*store.Request // pending requests this user may approve, oldest deadline first
	Mine        []*store.Request // the user's requests, newest first
	Expiring    []ecs.Instance   // subscriptions expiring within Window, most urgent first
	Window      time.Duration
	ScanAt      time.Time     // when Expiring was read; zero: no scan yet
	ScanErr     string        // why Expiring may be incomplete
	ScanPending bool          // ECS is being read; the tab is published again when it is
	Forecast    []slack.Block // each account's balance warning (forecast.go), under Expiring soon
	Now         time.Time
}

// HomeView renders a user's Home tab within Slack's limits (100 blocks, 250 KB): what waits
// for their approval (with the approve and reject buttons), their requests, the instances
// expiring soon, and a button that opens the request modal.
func HomeView(d HomeData) slack.HomeTabViewRequest {
	loc := d.Now.Location()
	blocks := []slack.Block{
		slack.NewHeaderBlock(plain("ECS renewals")),
		slack.NewActionBlock("home.request",
			slack.NewButtonBlockElement(ActionHomeRequest, "open", plain("Request a renewal")).WithStyle(slack.StylePrimary)),
		slack.NewDividerBlock(),
		slack.NewHeaderBlock(plain(fmt.Sprintf("Waiting for your approval (%d)", len(d.Waiting)))),
	}
	if len(d.Waiting) == 0 {
		blocks = append(blocks, contextText("Nothing waits for you."))
	}
	for i, r := range d.Waiting {
		if i == homeWaiting {
			blocks = append(blocks, contextText(fmt.Sprintf("…and %d more: see the approval messages in their channels.", len(d.Waiting)-i)))
			break
		}
		idp := fmt.Sprintf("home.wait.%s.v%d", r.ID, r.Version)
		blocks = append(blocks,
			slack.NewSectionBlock(mrkdwn(clipRunes(homeRequestLine(r, d.Now, true), sectionBudget)), nil, nil, slack.SectionBlockOptionBlockID(idp)),
			approvalButtons(r, idp, d.Now))
	}

	blocks = append(blocks, slack.NewDividerBlock(), slack.NewHeaderBlock(plain("Your requests")))
	if len(d.Mine) == 0 {
		blocks = append(blocks, contextText("You have asked for no renewal yet. Use the button above or `/renew`."))
	}
	for i, r := range d.Mine {
		if i == homeMine {
			blocks = append(blocks, contextText(fmt.Sprintf("…and %d older requests (`/renew history` shows them).", len(d.Mine)-i)))
			break
		}
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(clipRunes(homeRequestLine(r, d.Now, false), sectionBudget)), nil, nil,
			slack.SectionBlockOptionBlockID(fmt.Sprintf("home.mine.%s.v%d", r.ID, r.Version))))
	}

	blocks = append(blocks, slack.NewDividerBlock(), slack.NewHeaderBlock(plain("Expiring soon")))
	switch {
	case d.ScanAt.IsZero() && d.ScanPending:
		blocks = append(blocks, contextText("Reading ECS in every region… this tab refreshes when it is done."))
	case d.ScanAt.IsZero() && d.ScanErr != "":
		blocks = append(blocks, contextText("⚠️ Could not read ECS: "+escape(clipRunes(d.ScanErr, 500))))
	case len(d.Expiring) == 0:
		blocks = append(blocks, contextText(fmt.Sprintf("No subscription expires within %s.", humanWindow(d.Window))))
	default:
		lines := make([]string, 0, min(len(d.Expiring), homeExpiring))
		for _, in := range d.Expiring[:min(len(d.Expiring), homeExpiring)] {
			lines = append(lines, compactLine(in, d.Now))
		}
		secs, shown := packLines(lines, 6000, 6)
		blocks = append(blocks, secs...)
		if more := len(d.Expiring) - shown; more > 0 {
			blocks = append(blocks, contextText(fmt.Sprintf("…and %d more within %s (`/renew list`).", more, humanWindow(d.Window))))
		}
	}
	if len(d.Forecast) > 0 {
		blocks = append(blocks, d.Forecast[:min(len(d.Forecast), homeForecast)]...)
	}
	if !d.ScanAt.IsZero() {
		note := "ECS read " + renewal.FormatTime(d.ScanAt, loc)
		if d.ScanErr != "" {
			note += " · ⚠️ incomplete: " + escape(clipRunes(d.ScanErr, 300))
		}
		blocks = append(blocks, contextText(note))
	}
	return slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: blocks}, CallbackID: "home"}
}

// homeRequestLine is one request in the Home tab.
func homeRequestLine(r *store.Request, now time.Time, waiting bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%s*\n", escape(approvalTitle(r)))
	if r.Kind == store.KindRenew {
		fmt.Fprintf(&b, "%s · ", money(r.Total, r.Currency))
	}
	ids := r.InstanceIDs()
	shown := ids[:min(len(ids), 5)]
	fmt.Fprintf(&b, "`%s`", escape(strings.Join(shown, "`, `")))
	if len(ids) > len(shown) {
		fmt.Fprintf(&b, " and %d more", len(ids)-len(shown))
	}
	if waiting {
		fmt.Fprintf(&b, "\nAsked by %s · decide before %s", mention(r.Requester), renewal.FormatTime(r.Deadline, now.Location()))
		if r.Reason != "" {
			fmt.Fprintf(&b, "\n_Reason:_ %s", escape(clipRunes(r.Reason, 300)))
		}
		return b.String()
	}
	b.WriteString("\n" + homeState(r, now))
	for _, it := range r.Items[:min(len(r.Items), 5)] {
		if it.OrderID != "" || !it.NewExpiry.IsZero() {
			fmt.Fprintf(&b, "\n`%s`: order `%s`", escape(it.InstanceID), escape(orDash(it.OrderID)))
			if !it.NewExpiry.IsZero() {
				fmt.Fprintf(&b, " · verified expiry %s", renewal.FormatTime(it.NewExpiry, now.Location()))
			}
		}
	}
	return b.String()
}

// homeState is a request's state in a few words.
func homeState(r *store.Request, now time.Time) string {
	state, loc := r.EffectiveState(now), now.Location()
	switch state {
	case store.StatePending:
		return fmt.Sprintf("⏳ waiting for approval (%d of %d) until %s", len(r.Approvals), max(r.ApprovalsRequired, 1), renewal.FormatTime(r.Deadline, loc))
	case store.StateRejected:
		s := "🚫 rejected by " + closedBy(r, loc)
		if r.Closed != nil && r.Closed.Note != "" {
			s += ": " + escape(clipRunes(r.Closed.Note, 300))
		}
		return s
	}
	return stripMarkup(firstLine(statusLine(r, state, loc)))
}

// CheckViewLimits reports every way the blocks of a view (a modal or the Home tab) break
// Slack's limits, or nil: 100 blocks, 250 KB, and each block's own limits.
func CheckViewLimits(blocks []slack.Block) error {
	c := limitChecker{blockIDs: map[string]bool{}}
	if len(blocks) > maxViewBlocks {
		c.errf("%d blocks (max %d)", len(blocks), maxViewBlocks)
	}
	for i, b := range blocks {
		c.where = fmt.Sprintf("block %d", i)
		if in, ok := b.(*slack.InputBlock); ok {
			c.input(in)
			continue
		}
		c.block(b)
	}
	if js, err := json.Marshal(blocks); err != nil {
		c.errf("blocks do not marshal: %v", err)
	} else if len(js) > maxViewBytes {
		c.where = "view"
		c.errf("%d bytes of JSON (max %d)", len(js), maxViewBytes)
	}
	return errors.Join(c.errs...)
}

// input checks an input block and its element.
func (c *limitChecker) input(b *slack.InputBlock) {
	c.blockID(b.BlockID)
	c.text("input label", b.Label, maxInputLabel, true)
	if b.Hint != nil {
		c.text("input hint", b.Hint, maxInputHint, true)
	}
	seen := map[string]bool{}
	switch e := b.Element.(type) {
	case *slack.PlainTextInputBlockElement:
		c.actionID(e.ActionID, seen)
		if e.MaxLength < 0 || e.MaxLength > maxTextInput {
			c.errf("plain_text_input max_length %d (max %d)", e.MaxLength, maxTextInput)
		}
		if e.Placeholder != nil {
			c.text("input placeholder", e.Placeholder, maxPlaceholder, true)
		}
	case *slack.SelectBlockElement:
		if e.Type == slack.OptTypeStatic {
			c.selectMenu(e, seen)
			return
		}
		c.actionID(e.ActionID, seen)
		if e.Placeholder != nil {
			c.text("select placeholder", e.Placeholder, maxPlaceholder, true)
		}
		if e.InitialOption != nil {
			c.option(e.InitialOption)
		}
		if e.Type != slack.OptTypeExternal && e.Type != slack.OptTypeConversations && e.Type != slack.OptTypeChannels {
			c.errf("select of type %q is not checked by CheckViewLimits", e.Type)
		}
	default:
		c.errf("input element %T is not checked by CheckViewLimits", e)
	}
}

// ---- refreshing Home tabs

// AppNotifier tells the App of request changes: it refreshes the Home tab of the users a
// change concerns and tells the requester of outcomes (requester.go). It is a
// renewal.Notifier built before the App (the workflow needs its notifiers first) and bound
// to it by NewApp (AppConfig.Changes).
type AppNotifier struct {
	mu  sync.Mutex
	app *App
}

var _ renewal.Notifier = (*AppNotifier)(nil)

// RequestChanged queues a Home tab refresh for the requester, whoever decided, and approvers
// who have the tab open, and the requester's notice; it never waits.
func (h *AppNotifier) RequestChanged(_ context.Context, r *store.Request) {
	h.mu.Lock()
	a := h.app
	h.mu.Unlock()
	if a == nil || r == nil {
		return
	}
	users := []string{r.Requester}
	for _, d := range r.Approvals {
		users = append(users, d.User)
	}
	if r.Closed != nil {
		users = append(users, r.Closed.User)
	}
	// Approvers' "waiting" lists change when a request enters or leaves pending, not later.
	waiting := r.State == store.StatePending || r.State == store.StateApproved || r.State == store.StateRejected ||
		r.State == store.StateCancelled || r.State == store.StateExpired
	a.homes.changed(a, users, waiting)
	a.tells.changed(a, r)
}

// homePace is the least time between two views.publish calls: Slack allows about 100 a
// minute (Tier 4), so the bot keeps to 80.
const homePace = 750 * time.Millisecond

// homeQueue paces Home tab refreshes: one user is queued once however many changes concern
// them, and publishes are at least homePace apart. Only users who opened the tab since the
// start are refreshed: the others see a fresh tab when they open it.
type homeQueue struct {
	mu      sync.Mutex
	opened  map[string]bool // users who opened the Home tab
	pending []string        // users to refresh, in order
	queued  map[string]bool // in pending
	check   map[string]bool // in pending only if an approver: refreshed only if an approver of some account (MayApproveSome)
	running bool
	pace    time.Duration
	last    time.Time // of the last publish
}

func newHomeQueue() *homeQueue {
	return &homeQueue{opened: map[string]bool{}, queued: map[string]bool{}, check: map[string]bool{}, pace: homePace}
}

// changed queues users (those who opened the tab) and, when what waits for approvers changed,
// every other user with the tab open, who is refreshed only if an approver.
func (q *homeQueue) changed(a *App, users []string, approvers bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, u := range users {
		if q.opened[u] && !q.queued[u] {
			q.queued[u] = true
			delete(q.check, u)
			q.pending = append(q.pending, u)
		}
	}
	for u := range q.opened {
		if approvers && !q.queued[u] {
			q.queued[u], q.check[u] = true, true
			q.pending = append(q.pending, u)
		}
	}
	q.kick(a)
}

// refresh queues one user's tab (an app_home_opened): ahead of the queue.
func (q *homeQueue) refresh(a *App, user string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.opened) < 10000 {
		q.opened[user] = true
	}
	if q.queued[user] {
		delete(q.check, user)
		return
	}
	q.queued[user] = true
	q.pending = append([]string{user}, q.pending...)
	q.kick(a)
}

// kick starts the drain when it is not running. Callers hold q.mu.
func (q *homeQueue) kick(a *App) {
	if q.running || len(q.pending) == 0 {
		return
	}
	q.running = true
	start := a.later("home refresh", func(ctx context.Context) { q.drain(ctx, a) })
	start()
}

// drain publishes queued tabs, paced, until none is left or ctx ends.
func (q *homeQueue) drain(ctx context.Context, a *App) {
	defer func() {
		q.mu.Lock()
		q.running = false
		q.mu.Unlock()
	}()
	for {
		q.mu.Lock()
		if len(q.pending) == 0 || ctx.Err() != nil {
			q.mu.Unlock()
			return
		}
		user := q.pending[0]
		q.pending = q.pending[1:]
		check := q.check[user]
		delete(q.queued, user)
		delete(q.check, user)
		q.mu.Unlock()
		if check {
			if ok, err := a.wf.MayApproveSome(ctx, user); err != nil || !ok {
				continue
			}
		}
		q.mu.Lock()
		wait := q.pace - time.Since(q.last) // real time: Slack's rate limit is
		q.mu.Unlock()
		if wait > 0 && a.wait(ctx, wait) != nil {
			return
		}
		a.publishHome(ctx, user)
		q.mu.Lock()
		q.last = time.Now()
		q.mu.Unlock()
	}
}

// publishHome builds and publishes one user's Home tab.
func (a *App) publishHome(ctx context.Context, user string) {
	d, err := a.homeData(ctx, user)
	if err != nil {
		a.log.Error("home tab", "user", user, "err", err)
		return
	}
	view := HomeView(d)
	err = retryRateLimited(ctx, a.wait, a.metrics, "views.publish", maxAttempts, func() error {
		_, err := a.slack.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: user, View: view})
		return err
	})
	if err != nil {
		recordSlackError(a.metrics, "views.publish", err)
		a.log.Error("publish home tab", "user", user, "err", err)
	}
}

// homeData gathers what user's Home tab shows.
func (a *App) homeData(ctx context.Context, user string) (HomeData, error) {
	now := a.now()
	d := HomeData{User: user, Now: now.In(a.loc), Window: a.listWindow}
	if a.requests == nil {
		return d, errors.New("no request store")
	}
	all, err := a.requests.ListRequests() // newest first
	if err != nil {
		return d, fmt.Errorf("list requests: %w", err)
	}
	policy := a.wf.Policy()
	mayApprove := map[string]bool{} // by the request's accounts: asked once each
	approverOf := func(r *store.Request) bool {
		key := strings.Join(r.Accounts(), ",")
		ok, seen := mayApprove[key]
		if !seen {
			ap, aerr := a.wf.MayApprove(ctx, user, r.Accounts())
			if aerr != nil {
				a.log.Warn("home tab: is the user an approver?", "user", user, "accounts", key, "err", aerr)
			}
			ok = ap.Allowed
			mayApprove[key] = ok
		}
		return ok
	}
	for _, r := range all {
		if r.Requester == user {
			d.Mine = append(d.Mine, r)
		}
		if r.EffectiveState(now) == store.StatePending && (policy.AllowSelf || r.Requester != user) &&
			!slices.ContainsFunc(r.Approvals, func(x store.Decision) bool { return x.User == user }) && approverOf(r) {
			d.Waiting = append(d.Waiting, r)
		}
	}
	slices.SortStableFunc(d.Waiting, func(x, y *store.Request) int { return x.Deadline.Compare(y.Deadline) })
	done := a.scans.refresh(a, false)
	t := time.NewTimer(homeScanWait)
	select {
	case <-done:
	case <-t.C: // a first scan of many regions: publish now, and again when it is read
		d.ScanPending = true
		a.later("home after scan", func(ctx context.Context) {
			select {
			case <-done:
				a.homes.refresh(a, user)
			case <-ctx.Done():
			}
		})()
	case <-ctx.Done():
	}
	t.Stop()
	scan, at, serr := a.scans.last()
	d.ScanAt = at
	if serr != nil {
		d.ScanErr = serr.Error()
	} else if len(scan.Failed) > 0 {
		d.ScanErr = failedRegions(scan.Failed)
	}
	if a.forecast != nil {
		d.Forecast = a.forecasts.get(ctx, a, d.Now)
	}
	horizon := now.Add(a.listWindow)
	for _, in := range scan.Instances { // sorted by expiry
		if in.ExpiredTime.After(horizon) {
			break
		}
		d.Expiring = append(d.Expiring, in)
	}
	return d, nil
}

// ---- the last scan

// scanHorizon is how far ahead the instance catalog reaches: every subscription (Alibaba
// sells at most 5 years).
const scanHorizon = 6 * 366 * 24 * time.Hour

// homeScanWait is how long a Home tab waits for a scan before it is published without it.
const homeScanWait = 5 * time.Second

// scanMaxAge is how old the catalog may be before it is read again.
const scanMaxAge = 10 * time.Minute

// scanCache keeps the last complete list of subscription instances (every region), which
// the Home tab and the instance picker read: the picker must answer within 3 seconds, and
// a scan of every region can take longer.
type scanCache struct {
	mu      sync.Mutex
	scan    ecs.Scan
	at      time.Time
	err     error
	running chan struct{} // closed when the scan in flight ends; nil: none
}

// last returns the catalog as it is.
func (s *scanCache) last() (ecs.Scan, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.scan, s.at, s.err
}

// refresh starts a scan unless one runs or the catalog is fresh (force: read it anyway),
// and returns a channel closed when the catalog is up to date.
func (s *scanCache) refresh(a *App, force bool) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running != nil {
		return s.running
	}
	if !force && !s.at.IsZero() && a.now().Sub(s.at) < scanMaxAge {
		done := make(chan struct{})
		close(done)
		return done
	}
	done := make(chan struct{})
	a.mu.Lock()
	closing := a.closing
	a.mu.Unlock()
	if closing {
		close(done)
		return done
	}
	s.running = done
	a.later("instance catalog", func(ctx context.Context) {
		defer close(done)
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		now := a.now()
		scan, err := a.cloud.Expiring(ctx, now.Add(-ecs.ReleaseGrace), now.Add(scanHorizon))
		s.mu.Lock()
		defer s.mu.Unlock()
		s.running = nil
		if err != nil {
			s.err = err
			a.log.Warn("instance catalog", "err", err)
			return
		}
		s.scan, s.at, s.err = scan, now, nil
	})()
	return done
}

// Notifiers tells every notifier of a change, in order (the approval message, Home tabs).
type Notifiers []renewal.Notifier

// RequestChanged passes the change on; none of them waits.
func (ns Notifiers) RequestChanged(ctx context.Context, r *store.Request) {
	for _, n := range ns {
		if n != nil {
			n.RequestChanged(ctx, r)
		}
	}
}

// forecastCache keeps the balance forecast for the Home tab a while: it reads every
// account's balance and prices, too much to do for every tab refreshed.
type forecastCache struct {
	mu     sync.Mutex
	blocks []slack.Block
	at     time.Time
}

// get returns the forecast blocks, computed again when older than scanMaxAge (at most
// homeScanWait is spent; a forecast that fails says so, and is tried again next time).
func (c *forecastCache) get(ctx context.Context, a *App, now time.Time) []slack.Block {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() && a.now().Sub(c.at) < scanMaxAge {
		return c.blocks
	}
	ctx, cancel := context.WithTimeout(ctx, homeScanWait)
	defer cancel()
	fc, err := a.forecast.Forecast(ctx, now)
	c.blocks = forecastBlocks(fc, err, now, a.listWindow)
	if err == nil {
		c.at = a.now()
	}
	return c.blocks
}
