package renewal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/store"
)

// botActor is the audit actor of the bot's own steps.
const botActor = "renewbot"

// maxInstancesPerRequest bounds one request (and one approval message).
const maxInstancesPerRequest = 20

// Hooks are test seams: the crash test stops the process at these points. Nil hooks are skipped.
type Hooks struct {
	AfterClaim         func(id store.RequestID, instances string)  // after approved → executing is written; instances comma-separated
	AfterRenewResponse func(id store.RequestID, instanceID string) // after RenewInstance (or an auto-renew change: its instances comma-separated) returned, answer or error, before that is recorded
}

// WorkflowConfig configures a Workflow. Cloud and Store are required.
type WorkflowConfig struct {
	Cloud    Cloud
	Store    Store
	Members  Members  // required when Policy.Approvers lists user groups
	Notifier Notifier // nil: nobody is told
	Poster   Poster   // posts approval messages (PostApproval, and the sweep's missing ones); nil: none
	Policy   Policy
	Now      func() time.Time // default time.Now
	Log      *slog.Logger     // default: discard
	Counter  Counter          // nil: not counted

	VerifyTimeout time.Duration // how long to wait for renewed expiries to show, default 2m
	Hooks         Hooks
}

// Workflow is the renewal domain logic: create a request with a quote, decide it under the
// Policy, execute it exactly once, resume it after a crash, expire it. It knows nothing of Slack.
type Workflow struct {
	cloud         Cloud
	store         Store
	members       Members
	notifier      Notifier
	poster        Poster
	policy        Policy
	now           func() time.Time
	log           *slog.Logger
	counter       Counter
	verifyTimeout time.Duration
	hooks         Hooks

	mu      sync.Mutex
	running map[store.RequestID]bool // executions in this process (Resume skips them)
	posting map[store.RequestID]bool // approval messages being posted in this process
}

// NewWorkflow checks cfg and builds a Workflow.
func NewWorkflow(cfg WorkflowConfig) (*Workflow, error) {
	if cfg.Cloud == nil || cfg.Store == nil {
		return nil, errors.New("workflow: Cloud and Store are required")
	}
	p := cfg.Policy.withDefaults()
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("workflow: %w", err)
	}
	if cfg.Members == nil && slices.ContainsFunc(slices.Concat(p.approverLists()...), IsGroupID) {
		return nil, errors.New("workflow: approver user groups need Members to resolve them")
	}
	w := &Workflow{
		cloud: cfg.Cloud, store: cfg.Store, members: cfg.Members, notifier: cfg.Notifier, poster: cfg.Poster,
		policy: p, now: cfg.Now, log: cfg.Log, counter: cfg.Counter,
		verifyTimeout: cfg.VerifyTimeout, hooks: cfg.Hooks,
		running: map[store.RequestID]bool{}, posting: map[store.RequestID]bool{},
	}
	if w.now == nil {
		w.now = time.Now
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if w.verifyTimeout <= 0 {
		w.verifyTimeout = 2 * time.Minute
	}
	switch {
	case len(p.Approvers) == 0 && len(p.AccountApprovers) == 0:
		w.log.Warn("no approvers configured: no request can be approved")
	case len(p.Approvers) == 0:
		w.log.Warn("no global approvers configured: only requests on accounts with their own approvers can be approved")
	}
	return w, nil
}

// RenewalInput asks to renew instances for Months, or to the day ExpectedRenewDay (1-28) of
// a month instead: the unified expiration day (统一到期日), which aligns their expiries.
// InstanceIDs are IDs or "ACCOUNT:ID".
type RenewalInput struct {
	Requester, Channel string
	InstanceIDs        []string
	Months             int
	ExpectedRenewDay   int    // instead of Months (then 0)
	Reason             string // optional, at most MaxReasonLength characters (the request modal)
}

// Policy is the policy the workflow applies, with its defaults filled in.
func (w *Workflow) Policy() Policy {
	p := w.policy
	p.Approvers = slices.Clone(p.Approvers)
	p.AccountApprovers = maps.Clone(p.AccountApprovers)
	for acct, list := range p.AccountApprovers {
		p.AccountApprovers[acct] = slices.Clone(list)
	}
	return p
}

// AutoRenewInput asks to change instances' auto-renew: on (with Duration months), off or never.
type AutoRenewInput struct {
	Requester, Channel string
	InstanceIDs        []string
	Mode               store.AutoRenewMode
	Duration           int
}

// checkIDs validates, trims and de-duplicates instance references, IDs or "ACCOUNT:ID"
// (the account then is the only one looked in), keeping their order.
func checkIDs(in []string) ([]ecs.Ref, error) {
	var refs []ecs.Ref
	for _, s := range in {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		ref, err := ecs.ParseRef(s)
		if err != nil {
			return nil, userErrorf("%q is not an ECS instance ID (they look like i-bp1234567890abcdef, or ACCOUNT:i-bp1234567890abcdef)", s)
		}
		if !slices.ContainsFunc(refs, func(r ecs.Ref) bool { return r.ID == ref.ID }) {
			refs = append(refs, ref)
		}
	}
	if len(refs) == 0 {
		return nil, userErrorf("name at least one instance, e.g. i-bp1234567890abcdef")
	}
	if len(refs) > maxInstancesPerRequest {
		return nil, userErrorf("%d instances in one request; at most %d, please split it", len(refs), maxInstancesPerRequest)
	}
	return refs, nil
}

// lookup finds every referenced instance, or says which ones do not exist.
func (w *Workflow) lookup(ctx context.Context, refs []ecs.Ref) ([]ecs.Instance, error) {
	asked := make([]string, len(refs))
	for i, r := range refs {
		asked[i] = r.String()
	}
	insts, err := w.cloud.Lookup(ctx, asked)
	found := map[string]ecs.Instance{}
	for _, in := range insts {
		found[in.ID] = in
	}
	var missing, ids []string
	for _, r := range refs {
		ids = append(ids, r.ID)
		if in, ok := found[r.ID]; !ok || r.Account != "" && in.Account != r.Account {
			missing = append(missing, r.String())
		}
	}
	if ua := (*ecs.UnknownAccountError)(nil); errors.As(err, &ua) {
		return nil, &UserError{Msg: ua.Error(), Err: err}
	}
	if errors.Is(err, ecs.ErrNotFound) || (err == nil && len(missing) > 0) {
		if err != nil && len(insts) == 0 && len(ids) > 1 {
			// The client did not say which ones; its error does.
			return nil, &UserError{Msg: "unknown instance: " + err.Error(), Err: err}
		}
		return nil, &UserError{Msg: fmt.Sprintf("no instance %s in any region (released, or in another account?)", joinIDs(missing)), Err: err}
	}
	if err != nil {
		return nil, fmt.Errorf("looking up %s: %w", joinIDs(ids), err)
	}
	out := make([]ecs.Instance, len(ids))
	for i, id := range ids {
		out[i] = found[id]
	}
	return out, nil
}

// checkSubscription refuses instances that cannot be renewed or changed at all.
func checkSubscription(in ecs.Instance) error {
	if !in.Subscription() {
		return userErrorf("%s is pay-as-you-go (%s): there is nothing to renew; only subscription instances expire", in.ID, in.ChargeType)
	}
	if in.Released() {
		return userErrorf("%s is being released by Alibaba Cloud and can no longer be renewed", in.ID)
	}
	return nil
}

// RequestRenewal validates the input, takes a price quote for every instance and stores a
// pending request. Bad input is a *UserError, an amount over the limit a *Refusal; either
// way nothing is stored.
func (w *Workflow) RequestRenewal(ctx context.Context, in RenewalInput) (*store.Request, error) {
	if in.Requester == "" {
		return nil, errors.New("renewal request without a requester")
	}
	r, err := w.renewalRequest(ctx, in, w.policy.MaxMonths)
	if err != nil {
		return nil, err
	}
	r.Balances = w.balances(ctx, r) // forecast.go
	if w.policy.MaxAmount > 0 && r.Total > w.policy.MaxAmount {
		msg := fmt.Sprintf("renewing %s %s would cost %.2f %s, above the limit of %.2f %s per request; renew fewer instances or a shorter period",
			joinIDs(r.InstanceIDs()), termOf(r), r.Total, r.Currency, w.policy.MaxAmount, r.Currency)
		return nil, w.refuse(in.Requester, "", r.InstanceIDs(), RefuseOverLimit, msg)
	}
	return w.create(r)
}

// renewalRequest checks a renewal (at most maxMonths; 0: no cap) and its instances, quotes
// it and builds the request, without storing it. A Slack request may not renew an instance
// set to NotRenewal; an operator (Requester "cli:…") may. A renewal to a day (an alignment)
// counts the months it spans, rounded up, against maxMonths, and only takes instances that
// have not expired (Alibaba renews only those to a day).
func (w *Workflow) renewalRequest(ctx context.Context, in RenewalInput, maxMonths int) (*store.Request, error) {
	refs, err := checkIDs(in.InstanceIDs)
	if err != nil {
		return nil, err
	}
	reason := strings.TrimSpace(in.Reason)
	if n := len([]rune(reason)); n > MaxReasonLength {
		return nil, userErrorf("the reason is %d characters long; at most %d, please", n, MaxReasonLength)
	}
	t := term{months: in.Months, day: in.ExpectedRenewDay}
	switch {
	case t.day != 0 && t.months != 0:
		return nil, userErrorf("a renewal is for a number of months or to a day of the month, not both")
	case t.day != 0 && !ecs.ValidAlignDay(t.day):
		return nil, userErrorf("the day to renew to is 1 to 28 (the same day of every month), not %d", t.day)
	case t.day == 0 && !ecs.ValidRenewalPeriod(t.months):
		return nil, userErrorf("a renewal is for %s months, not %d", ecs.RenewalPeriodsText, t.months)
	case t.day == 0 && maxMonths > 0 && t.months > maxMonths:
		return nil, userErrorf("renewals are limited to %d months here, not %d", maxMonths, t.months)
	}
	insts, err := w.lookup(ctx, refs)
	if err != nil {
		return nil, err
	}
	now := w.now()
	for _, inst := range insts {
		if err := checkSubscription(inst); err != nil {
			return nil, err
		}
		if inst.AutoRenew.Status == ecs.NotRenewal && checkOperator(in.Requester) != nil {
			return nil, userErrorf("%s is set never to be renewed (NotRenewal: released %s); set auto-renew off first: /renew autorenew %s off", inst.ID, ecs.ReleaseAfterExpiry(), inst.ID)
		}
		if t.day == 0 {
			continue
		}
		if !inst.ExpiredTime.After(now) {
			return nil, userErrorf("%s expired on %s: Alibaba Cloud renews only unexpired instances to a day of the month; renew it for months first: /renew %s 1",
				inst.ID, FormatTime(inst.ExpiredTime, ecs.UTC8), inst.ID)
		}
		if n := monthsSpanned(inst.ExpiredTime, t.expiry(inst.ExpiredTime)); maxMonths > 0 && n > maxMonths {
			return nil, userErrorf("renewing %s %s runs %d months (to %s); renewals are limited to %d months here",
				inst.ID, t, n, FormatTime(t.expiry(inst.ExpiredTime), ecs.UTC8), maxMonths)
		}
	}
	quotes, err := w.quotes(ctx, insts, t)
	if err != nil {
		return nil, err
	}
	r := &store.Request{
		Kind: store.KindRenew, Requester: in.Requester, Channel: in.Channel, Months: t.months, ExpectedRenewDay: t.day, Reason: reason,
	}
	for i, inst := range insts {
		it := store.Item{
			Account:    inst.Account,
			InstanceID: inst.ID, RegionID: inst.RegionID, Name: inst.Name,
			CurrentExpiry:   inst.ExpiredTime,
			ProjectedExpiry: t.expiry(inst.ExpiredTime),
			AutoRenewStatus: string(inst.AutoRenew.Status),
		}
		if err := addQuote(r, &it, quotes[i]); err != nil {
			return nil, err
		}
		r.Items = append(r.Items, it)
	}
	r.Total = roundCents(r.Total)
	return r, nil
}

func roundCents(v float64) float64 {
	return float64(int64(v*100+0.5)) / 100
}

// quotes prices renewing every instance for t, a few at a time.
func (w *Workflow) quotes(ctx context.Context, insts []ecs.Instance, t term) ([]ecs.Quote, error) {
	out := make([]ecs.Quote, len(insts))
	errs := make([]error, len(insts))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, inst := range insts {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i], errs[i] = w.quote(ctx, inst, t)
		})
	}
	wg.Wait()
	for i, err := range errs {
		id := insts[i].ID
		if err == nil && out[i].Trade <= 0 {
			return nil, userErrorf("Alibaba Cloud gave no price for %s %s (trade price %.2f %s); nothing is asked for without a positive quote: try again later, or check the instance in the console",
				id, t, out[i].Trade, out[i].Currency)
		}
		if err == nil {
			continue
		}
		switch {
		case errors.Is(err, ecs.ErrPostPaid):
			return nil, &UserError{Msg: fmt.Sprintf("%s is pay-as-you-go: there is nothing to renew", id), Err: err}
		case errors.Is(err, ecs.ErrNotFound):
			return nil, &UserError{Msg: fmt.Sprintf("no instance %s (released?)", id), Err: err}
		case errors.Is(err, ecs.ErrInvalidPeriod), errors.Is(err, ecs.ErrIncorrectStatus), errors.Is(err, ecs.ErrInvalidParam):
			return nil, &UserError{Msg: fmt.Sprintf("Alibaba Cloud will not quote %s %s: %v", id, t, err), Err: err}
		}
		return nil, fmt.Errorf("quote %s: %w", id, err)
	}
	return out, nil
}

// quote prices one instance for t. DescribeRenewalPrice quotes 1-9 months or 1-3 years;
// a longer automatic renewal (48 or 60 months) is priced as that many one-year renewals.
func (w *Workflow) quote(ctx context.Context, inst ecs.Instance, t term) (ecs.Quote, error) {
	if t.day != 0 {
		return w.cloud.QuoteAligned(ctx, inst.RegionID, inst.ID, t.day)
	}
	months := t.months
	q, err := w.cloud.Quote(ctx, inst.RegionID, inst.ID, months)
	if !errors.Is(err, ecs.ErrInvalidPeriod) || months <= 36 || months%12 != 0 {
		return q, err
	}
	q, err = w.cloud.Quote(ctx, inst.RegionID, inst.ID, 12)
	n := float64(months / 12)
	q.Months, q.Original, q.Discount, q.Trade = months, q.Original*n, q.Discount*n, roundCents(q.Trade*n)
	return q, err
}

// TargetStatus is the RenewalStatus an auto-renew mode sets ("" for none).
func TargetStatus(m store.AutoRenewMode) ecs.RenewalStatus {
	switch m {
	case store.AutoRenewOn:
		return ecs.AutoRenewal
	case store.AutoRenewOff:
		return ecs.Normal
	case store.AutoRenewNever:
		return ecs.NotRenewal
	}
	return ""
}

// RequestAutoRenew validates an auto-renew change and stores a pending request. Changing
// auto-renew costs nothing now; turning it on means Alibaba charges at every expiry.
func (w *Workflow) RequestAutoRenew(ctx context.Context, in AutoRenewInput) (*store.Request, error) {
	if in.Requester == "" {
		return nil, errors.New("auto-renew request without a requester")
	}
	r, err := w.autoRenewRequest(ctx, in, false)
	if err != nil {
		return nil, err
	}
	if w.policy.MaxAmount > 0 && r.Total > w.policy.MaxAmount {
		msg := fmt.Sprintf("auto-renew on for %s would cost %.2f %s at every automatic renewal of %d months, above the limit of %.2f %s per request; ask for fewer instances or a shorter duration",
			joinIDs(r.InstanceIDs()), r.Total, r.Currency, in.Duration, w.policy.MaxAmount, r.Currency)
		return nil, w.refuse(in.Requester, "", r.InstanceIDs(), RefuseOverLimit, msg)
	}
	return w.create(r)
}

// autoRenewRequest checks an auto-renew change and builds the request without storing it.
// again allows setting what is already set (an operator may); an operator's request is not
// capped or priced. Auto-renew on is priced like a renewal: the amount of one automatic
// renewal of Duration months per instance and in total, capped by Policy.MaxMonths.
func (w *Workflow) autoRenewRequest(ctx context.Context, in AutoRenewInput, again bool) (*store.Request, error) {
	refs, err := checkIDs(in.InstanceIDs)
	if err != nil {
		return nil, err
	}
	want := TargetStatus(in.Mode)
	switch {
	case want == "":
		return nil, userErrorf("auto-renew is on, off or never")
	case in.Mode == store.AutoRenewOn && !ecs.ValidAutoRenewDuration(in.Duration):
		return nil, userErrorf("auto-renew renews for %s months at a time, not %d", ecs.AutoRenewDurationsText(), in.Duration)
	case in.Mode != store.AutoRenewOn && in.Duration != 0:
		return nil, userErrorf("a duration only goes with auto-renew on")
	case in.Mode == store.AutoRenewOn && !again && w.policy.MaxMonths > 0 && in.Duration > w.policy.MaxMonths:
		return nil, userErrorf("automatic renewals are limited to %d months here, like renewals (RENEWBOT_MAX_PERIOD), not %d", w.policy.MaxMonths, in.Duration)
	}
	insts, err := w.lookup(ctx, refs)
	if err != nil {
		return nil, err
	}
	now := w.now()
	for _, inst := range insts {
		if err := checkSubscription(inst); err != nil {
			return nil, err
		}
		if in.Mode == store.AutoRenewOn && !inst.ExpiredTime.After(now) {
			return nil, userErrorf("%s expired on %s: auto-renew cannot be turned on after expiry; renew it first: /renew %s 1",
				inst.ID, inst.ExpiredTime.UTC().Format("2006-01-02"), inst.ID)
		}
		if !again && inst.AutoRenew.Status == want && (in.Mode != store.AutoRenewOn || inst.AutoRenew.Duration == in.Duration) {
			return nil, userErrorf("%s already has auto-renew %s", inst.ID, in.Mode)
		}
	}
	r := &store.Request{
		Kind: store.KindAutoRenew, Requester: in.Requester, Channel: in.Channel,
		AutoRenew: in.Mode, Duration: in.Duration,
	}
	var quotes []ecs.Quote
	if in.Mode == store.AutoRenewOn && !again {
		if quotes, err = w.quotes(ctx, insts, term{months: in.Duration}); err != nil {
			return nil, err
		}
	}
	for i, inst := range insts {
		it := store.Item{
			Account:    inst.Account,
			InstanceID: inst.ID, RegionID: inst.RegionID, Name: inst.Name,
			CurrentExpiry:   inst.ExpiredTime,
			AutoRenewStatus: string(inst.AutoRenew.Status),
		}
		if quotes != nil {
			if err := addQuote(r, &it, quotes[i]); err != nil {
				return nil, err
			}
		}
		r.Items = append(r.Items, it)
	}
	r.Total = roundCents(r.Total)
	return r, nil
}

// addQuote records an instance's quote in its item and the request's total; instances priced
// in different currencies cannot share a request.
func addQuote(r *store.Request, it *store.Item, q ecs.Quote) error {
	if r.Currency == "" {
		r.Currency = q.Currency
	} else if q.Currency != r.Currency {
		return userErrorf("%s is priced in %s and %s in %s: ask for them separately", r.Items[0].InstanceID, r.Currency, it.InstanceID, q.Currency)
	}
	it.Price, it.Currency = q.Trade, q.Currency
	r.Total += q.Trade
	return nil
}

// create stores a new pending request under the policy.
func (w *Workflow) create(r *store.Request) (*store.Request, error) {
	r.ApprovalsRequired = w.policy.required(r.Total)
	r.Deadline = w.now().Add(w.policy.TTL)
	if err := w.store.CreateRequest(r); err != nil {
		return nil, w.createError(err)
	}
	w.log.Info("request created", "request", r.ID, "kind", r.Kind, "user", r.Requester,
		"instances", strings.Join(r.InstanceIDs(), ","), "total", r.Total, "currency", r.Currency)
	return r, nil
}

// createError says why a request could not be stored: an open request on one of its
// instances is the user's business, and is named.
func (w *Workflow) createError(err error) error {
	var open *store.OpenRequestError
	if errors.As(err, &open) && open.State == store.StateVerifying {
		return &UserError{
			Msg: fmt.Sprintf("%s already has request %s, ordered and not visible yet: it is still being checked; do not renew it again (see /renew history %s)", open.InstanceID, open.Existing, open.Existing),
			Err: err,
		}
	}
	if errors.As(err, &open) {
		return &UserError{
			Msg: fmt.Sprintf("%s already has an open request %s (%s); approve, reject or cancel that one first (/renew cancel %s)", open.InstanceID, open.Existing, open.State, open.Existing),
			Err: err,
		}
	}
	return fmt.Errorf("store request: %w", err)
}

// AttachMessage records the Slack message a request lives in (no audit entry).
func (w *Workflow) AttachMessage(ctx context.Context, id store.RequestID, ref store.MessageRef) (*store.Request, error) {
	r, err := w.store.Mutate(id, store.Event{}, func(r *store.Request) error {
		r.Message = ref
		return nil
	})
	if err == nil && r.State != store.StatePending {
		// Decided between the post and now (a very fast click, or the sweep): the notifier
		// had no message to update then, so it gets one now.
		w.notify(ctx, r)
	}
	return r, err
}

// refuse audits a refusal and returns it.
func (w *Workflow) refuse(user string, id store.RequestID, ids []string, reason RefusalReason, msg string) *Refusal {
	ev := store.Event{Actor: user, Action: store.ActRefused, RequestID: id, InstanceIDs: ids, Detail: reason.String() + ": " + msg}
	if err := w.store.Audit(ev); err != nil {
		w.log.Error("audit refusal", "request", id, "user", user, "err", err)
	}
	w.log.Info("refused", "request", id, "user", user, "reason", reason)
	return &Refusal{Reason: reason, Msg: msg}
}

func (w *Workflow) notify(ctx context.Context, r *store.Request) {
	if w.notifier != nil && r != nil {
		w.notifier.RequestChanged(ctx, r)
	}
}

// get loads a request; an unknown ID is the user's error.
func (w *Workflow) get(id store.RequestID) (*store.Request, error) {
	r, err := w.store.GetRequest(id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &UserError{Msg: fmt.Sprintf("there is no request %s", id), Err: err}
	}
	return r, err
}

// expire writes down that a pending request passed its deadline (if nobody did yet) and
// tells the notifier.
func (w *Workflow) expire(ctx context.Context, r *store.Request) *store.Request {
	got, err := w.store.Transition(r.ID, []store.State{store.StatePending}, store.StateExpired,
		store.Event{Actor: botActor, Action: store.ActExpired, Detail: "deadline " + r.Deadline.UTC().Format(time.RFC3339)}, nil)
	if err != nil {
		if !errors.Is(err, store.ErrConflict) {
			w.log.Error("expire request", "request", r.ID, "err", err)
		}
		return r
	}
	w.notify(ctx, got)
	return got
}

func (w *Workflow) expiredRefusal(user string, r *store.Request) *Refusal {
	ref := expiredRefusal(r)
	return w.refuse(user, r.ID, r.InstanceIDs(), ref.Reason, ref.Msg)
}

func (w *Workflow) decidedRefusal(user string, r *store.Request) *Refusal {
	ref := decidedRefusal(user, r)
	return w.refuse(user, r.ID, r.InstanceIDs(), ref.Reason, ref.Msg)
}

func hasDecision(ds []store.Decision, user string) bool {
	return slices.ContainsFunc(ds, func(d store.Decision) bool { return d.User == user })
}

// errStale aborts a store update whose precondition changed since we read the request.
var errStale = errors.New("request changed meanwhile")

// Approve records user's approval: whether user may approve is asked first (a user group's
// members may come from Slack), then DecideApproval decides against the stored request and
// the store applies the decision, or audits the refusal, in one compare-and-set transaction.
// The request becomes approved when it has enough approvals; the caller then runs Execute
// (after acknowledging the click). A refusal is a *Refusal.
func (w *Workflow) Approve(ctx context.Context, id store.RequestID, user string) (*store.Request, error) {
	var accounts []string // all alike without approvers per account: no read needed
	if len(w.policy.AccountApprovers) > 0 {
		r, err := w.get(id) // the approvers depend on the request's accounts, which never change
		if err != nil {
			return nil, err
		}
		accounts = r.Accounts()
	}
	approver, lookupErr := w.MayApprove(ctx, user, accounts)
	now := w.now()
	got, err := w.store.Decide(id, func(r *store.Request, _ time.Time) (store.State, store.Event, error) {
		to, ref := DecideApproval(r, approver, now, w.policy)
		if ref != nil {
			if ref.Reason == RefuseNotApprover && lookupErr != nil {
				return 0, store.Event{}, lookupErr // not known to be refused: say why not
			}
			return 0, refusalEvent(user, ref), ref
		}
		r.Approvals = append(r.Approvals, store.Decision{User: user, At: now})
		return to, store.Event{Actor: user, Action: store.ActApproved,
			Detail: fmt.Sprintf("approval %d of %d", len(r.Approvals), r.ApprovalsRequired)}, nil
	})
	var ref *Refusal
	switch {
	case errors.As(err, &ref):
		w.log.Info("refused", "request", id, "user", user, "reason", ref.Reason)
		if ref.Reason == RefuseExpired {
			w.expireID(ctx, id)
		}
		return nil, ref
	case errors.Is(err, store.ErrNotFound):
		return nil, &UserError{Msg: fmt.Sprintf("there is no request %s", id), Err: err}
	case err != nil:
		return nil, err
	}
	w.log.Info("approved", "request", id, "user", user, "approvals", len(got.Approvals), "required", got.ApprovalsRequired)
	w.notify(ctx, got)
	return got, nil
}

// expireID expires a pending request past its deadline, if it still is one.
func (w *Workflow) expireID(ctx context.Context, id store.RequestID) {
	if r, err := w.store.GetRequest(id); err == nil && r.State == store.StatePending {
		w.expire(ctx, r)
	}
}

// Reject closes a pending request. Approvers may reject; the requester "rejecting" their own
// request cancels it.
func (w *Workflow) Reject(ctx context.Context, id store.RequestID, user string) (*store.Request, error) {
	return w.RejectWithReason(ctx, id, user, "")
}

// MaxReasonLength bounds the reason of a rejection or a request, in characters.
const MaxReasonLength = 500

// RejectWithReason is Reject with the approver's reason (at most MaxReasonLength characters;
// "" for none), kept on the request (Closed.Note) and in the audit record.
func (w *Workflow) RejectWithReason(ctx context.Context, id store.RequestID, user, reason string) (*store.Request, error) {
	reason = strings.TrimSpace(reason)
	if n := len([]rune(reason)); n > MaxReasonLength {
		return nil, userErrorf("the reason is %d characters long; at most %d, please", n, MaxReasonLength)
	}
	r, err := w.get(id)
	if err != nil {
		return nil, err
	}
	if user == r.Requester {
		return w.Cancel(ctx, id, user)
	}
	if r.EffectiveState(w.now()) == store.StateExpired {
		if r.State == store.StatePending {
			w.expire(ctx, r)
		}
		return nil, w.expiredRefusal(user, r)
	}
	if r.State != store.StatePending {
		return nil, w.decidedRefusal(user, r)
	}
	ap, err := w.MayApprove(ctx, user, r.Accounts())
	if err != nil {
		return nil, err
	}
	if !ap.Allowed {
		return nil, w.refuse(user, id, r.InstanceIDs(), RefuseNotApprover,
			fmt.Sprintf("only %s (or %s, who asked) can reject request %s", approversNamed(ap), r.Requester, id))
	}
	return w.close(ctx, r, user, []store.State{store.StatePending}, store.StateRejected, store.ActRejected, reason)
}

// Cancel withdraws a request: its requester may cancel it while it is pending or approved
// (not yet executing), an approver while it is pending. Anyone else is refused (audited).
func (w *Workflow) Cancel(ctx context.Context, id store.RequestID, user string) (*store.Request, error) {
	r, err := w.get(id)
	if err != nil {
		return nil, err
	}
	from := []store.State{store.StatePending, store.StateApproved}
	if user != r.Requester {
		ap, err := w.MayApprove(ctx, user, r.Accounts())
		if err != nil {
			return nil, err
		}
		if !ap.Allowed {
			return nil, w.refuse(user, id, r.InstanceIDs(), RefuseNotApprover,
				fmt.Sprintf("only %s, who asked for request %s, or %s can cancel it", r.Requester, id, anApprover(ap)))
		}
		from = []store.State{store.StatePending}
	}
	if r.EffectiveState(w.now()) == store.StateExpired {
		if r.State == store.StatePending {
			w.expire(ctx, r)
		}
		return nil, w.expiredRefusal(user, r)
	}
	if !slices.Contains(from, r.State) {
		return nil, w.decidedRefusal(user, r)
	}
	return w.close(ctx, r, user, from, store.StateCancelled, store.ActCancelled, "")
}

// close moves r to a closed state decided by user, for reason ("" for none).
func (w *Workflow) close(ctx context.Context, r *store.Request, user string, from []store.State, to store.State, act store.Action, reason string) (*store.Request, error) {
	now := w.now()
	ev := store.Event{Actor: user, Action: act}
	if reason != "" {
		ev.Detail = "reason: " + reason
	}
	got, err := w.store.Transition(r.ID, from, to, ev, func(cur *store.Request) error {
		if cur.State == store.StatePending && cur.EffectiveState(now) == store.StateExpired {
			return errStale
		}
		cur.Closed = &store.Decision{User: user, At: now, Note: reason}
		return nil
	})
	if errors.Is(err, store.ErrConflict) || errors.Is(err, errStale) {
		cur, gerr := w.get(r.ID)
		if gerr != nil {
			return nil, gerr
		}
		if cur.EffectiveState(now) == store.StateExpired {
			return nil, w.expiredRefusal(user, cur)
		}
		return nil, w.decidedRefusal(user, cur)
	}
	if err != nil {
		return nil, err
	}
	w.log.Info("request closed", "request", r.ID, "user", user, "state", to)
	w.notify(ctx, got)
	return got, nil
}
