package renewal

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/store"
)

// begin marks id as executing in this process; false if it already is.
func (w *Workflow) begin(id store.RequestID) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.running[id] {
		return false
	}
	w.running[id] = true
	return true
}

// isRunning reports whether id is executing in this process.
func (w *Workflow) isRunning(id store.RequestID) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.running[id]
}

func (w *Workflow) end(id store.RequestID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.running, id)
}

// Execute claims an approved request (approved → executing, one store update) and runs it:
// the paid call per instance with the request's ClientToken, the results recorded, the new
// expiries verified, then done or failed. If the request is not approved (someone else
// claimed it, or it is still pending, or finished) Execute returns it as it is, without an
// error. An error leaves the request executing; Resume finishes it with the same tokens.
func (w *Workflow) Execute(ctx context.Context, id store.RequestID) (*store.Request, error) {
	if !w.begin(id) {
		return w.store.GetRequest(id)
	}
	defer w.end(id)
	r, err := w.store.Transition(id, []store.State{store.StateApproved}, store.StateExecuting,
		store.Event{Actor: botActor, Action: store.ActClaimed}, nil)
	if errors.Is(err, store.ErrConflict) {
		return w.store.GetRequest(id)
	}
	if err != nil {
		return nil, fmt.Errorf("claim %s: %w", id, err)
	}
	w.log.Info("executing", "request", id, "kind", r.Kind, "instances", strings.Join(r.InstanceIDs(), ","))
	w.notify(ctx, r)
	if h := w.hooks.AfterClaim; h != nil {
		h(id, strings.Join(r.InstanceIDs(), ","))
	}
	return w.run(ctx, r)
}

// resumeOne runs one request a previous run left approved or executing.
func (w *Workflow) resumeOne(ctx context.Context, r *store.Request) error {
	if r.State == store.StateApproved {
		if err := w.auditResume(r, "approved, never started"); err != nil {
			return err
		}
		_, err := w.Execute(ctx, r.ID)
		return err
	}
	if !w.begin(r.ID) {
		return nil // already running in this process
	}
	defer w.end(r.ID)
	r, err := w.store.GetRequest(r.ID) // as it is now that nobody else here runs it
	if err != nil || r.State != store.StateExecuting {
		return err
	}
	if err := w.auditResume(r, "continuing with the same ClientTokens"); err != nil {
		return err
	}
	_, err = w.run(ctx, r)
	return err
}

func (w *Workflow) auditResume(r *store.Request, detail string) error {
	w.log.Info("resuming", "request", r.ID, "state", r.State)
	return w.store.Audit(store.Event{Actor: botActor, Action: store.ActResumed, RequestID: r.ID, InstanceIDs: r.InstanceIDs(), Detail: detail})
}

// run sends what was not sent yet, verifies what was ordered, and finishes the request.
func (w *Workflow) run(ctx context.Context, r *store.Request) (*store.Request, error) {
	var err error
	switch r.Kind {
	case store.KindRenew:
		r, err = w.sendRenewals(ctx, r)
		if err == nil {
			r, err = w.verifyRenewals(ctx, r)
		}
		if err == nil && hasItems(r, store.ItemOrdered) {
			return w.startVerifying(ctx, r)
		}
	case store.KindAutoRenew:
		r, err = w.sendAutoRenew(ctx, r)
		if err == nil {
			r, err = w.verifyAutoRenew(ctx, r)
		}
		if err == nil && hasItems(r, store.ItemOrdered) { // could not be read back
			return w.startVerifying(ctx, r)
		}
	default:
		err = fmt.Errorf("request %s has unknown kind %v", r.ID, r.Kind)
	}
	if err != nil {
		w.log.Warn("execution interrupted; Resume continues it", "request", r.ID, "err", err)
		return r, err
	}
	return w.finish(ctx, r)
}

// setItems updates items of an executing request in one store update. Each item must still be
// in state from (else the update is refused: someone else recorded it).
func (w *Workflow) setItems(id store.RequestID, ids []string, from store.ItemState, ev store.Event, set func(*store.Item)) (*store.Request, error) {
	ev.RequestID = id
	if ev.Actor == "" {
		ev.Actor = botActor
	}
	if len(ev.InstanceIDs) == 0 {
		ev.InstanceIDs = ids
	}
	return w.store.Mutate(id, ev, func(r *store.Request) error {
		if r.State != store.StateExecuting && r.State != store.StateVerifying {
			return fmt.Errorf("request %s is %s, not executing: %w", id, r.State, store.ErrConflict)
		}
		for _, iid := range ids {
			i := slices.IndexFunc(r.Items, func(it store.Item) bool { return it.InstanceID == iid })
			if i < 0 || r.Items[i].State != from {
				return fmt.Errorf("item %s of %s is not %s: %w", iid, id, from, store.ErrConflict)
			}
			set(&r.Items[i])
		}
		return nil
	})
}

// sendRenewals calls RenewInstance for every item still pending. An item already ordered is
// never sent again; a pending one is sent with the request's token, which gives back the
// same order if an earlier process sent it before dying.
func (w *Workflow) sendRenewals(ctx context.Context, r *store.Request) (*store.Request, error) {
	for _, it := range r.Items {
		if it.State != store.ItemPending {
			continue
		}
		if err := ctx.Err(); err != nil {
			return r, err
		}
		id := it.InstanceID
		token := r.ClientToken(id)
		if !it.Sent { // a resumed item that was sent keeps its token and is sent again as it was
			got, err := w.reread(ctx, r, it, token)
			if err != nil {
				return r, err
			}
			r = got
			if item(r, id).State != store.ItemPending {
				continue // superseded or gone: nothing sent
			}
		}
		res, err := w.cloud.Renew(ctx, termOf(r).input(id, it.RegionID, token))
		if h := w.hooks.AfterRenewResponse; h != nil {
			h(r.ID, id)
		}
		var got *store.Request
		switch {
		case err != nil && ctx.Err() != nil:
			return r, fmt.Errorf("renew %s: %w", id, err) // outcome unknown: resume sends the same token again
		case err != nil && outcomeUnknown(err):
			// The call may have been carried out without its answer reaching us: not failed
			// until the expiry says so. Verify decides, and it is never sent again.
			note := fmt.Sprintf("Alibaba Cloud gave no clear answer to the renewal of %s (%v)", id, err)
			w.log.Warn("renew outcome unknown; checking the expiry", "request", r.ID, "instance", id, "err", err)
			got, err = w.setItems(r.ID, []string{id}, store.ItemPending,
				store.Event{Action: store.ActOrdered, Detail: "no clear answer, the new expiry decides: " + note}, func(it *store.Item) {
					it.State, it.Error, it.Unclear = store.ItemOrdered, note, true
				})
		case err != nil:
			msg := renewFailure(id, termOf(r), err)
			w.log.Warn("renew failed", "request", r.ID, "instance", id, "err", err)
			got, err = w.setItems(r.ID, []string{id}, store.ItemPending,
				store.Event{Action: store.ActItemFailed, Detail: msg}, func(it *store.Item) {
					it.State, it.Error = store.ItemFailed, msg
				})
		default:
			w.log.Info("renew ordered", "request", r.ID, "instance", id, "order", res.OrderID, "api_request", res.RequestID)
			got, err = w.setItems(r.ID, []string{id}, store.ItemPending,
				store.Event{Action: store.ActOrdered, Detail: fmt.Sprintf("order %s (RequestId %s)", res.OrderID, res.RequestID)},
				func(it *store.Item) {
					it.State, it.OrderID, it.APIRequestID = store.ItemOrdered, res.OrderID, res.RequestID
				})
		}
		if err != nil {
			return r, fmt.Errorf("record result of %s: %w", id, err)
		}
		r = got
	}
	return r, nil
}

// reread reads the instance right before its paid call. If its expiry is not the one the
// request quoted (another renewal, or Alibaba's auto-renew deduction, moved it meanwhile) the
// item ends superseded and nothing is sent; an instance that is gone fails, and so does one
// to be renewed to a day that expired since the quote (Alibaba renews only unexpired ones to
// a day). Otherwise the item is marked sent with the expiry just read (verification compares
// with the expiry the term gives from it), in the same transaction that audits the call and
// its ClientToken. A read that fails leaves the item pending: the request stays executing
// and the sweep takes it up.
func (w *Workflow) reread(ctx context.Context, r *store.Request, it store.Item, token string) (*store.Request, error) {
	id, t := it.InstanceID, termOf(r)
	seen, err := w.expiries(ctx, it.RegionID, []string{id})
	cur, ok := seen[id]
	switch {
	case !ok && errors.Is(err, ecs.ErrNotFound):
		msg := fmt.Sprintf("%s no longer exists (released?); nothing was charged", id)
		return w.setItems(r.ID, []string{id}, store.ItemPending, store.Event{Action: store.ActItemFailed, Detail: msg},
			func(it *store.Item) { it.State, it.Error = store.ItemFailed, msg })
	case !ok:
		return r, fmt.Errorf("re-reading %s before renewing it: %w", id, err)
	case !cur.Equal(it.CurrentExpiry):
		msg := supersededText(id, it.CurrentExpiry, cur, t)
		w.log.Warn("expiry moved since the quote; not renewing", "request", r.ID, "instance", id,
			"quoted", it.CurrentExpiry, "now", cur)
		return w.setItems(r.ID, []string{id}, store.ItemPending, store.Event{Action: store.ActSuperseded, Detail: msg},
			func(it *store.Item) { it.State, it.Error = store.ItemSuperseded, msg })
	case t.day != 0 && !cur.After(w.now()):
		msg := fmt.Sprintf("%s expired on %s, after the quote: Alibaba Cloud renews only unexpired instances to a day of the month, so it was not renewed and nothing was charged; renew it for months: /renew %s 1",
			id, FormatTime(cur, ecs.UTC8), id)
		w.log.Warn("expired since the quote; not renewing to a day", "request", r.ID, "instance", id, "expiry", cur)
		return w.setItems(r.ID, []string{id}, store.ItemPending, store.Event{Action: store.ActItemFailed, Detail: msg},
			func(it *store.Item) { it.State, it.Error = store.ItemFailed, msg })
	}
	base := cur
	detail := fmt.Sprintf("RenewInstance %s %d month(s) from expiry %s, ClientToken %s", it.RegionID, r.Months, base.UTC().Format(time.RFC3339), token)
	if t.day != 0 {
		detail = fmt.Sprintf("RenewInstance %s ExpectedRenewDay %d: expiry %s → %s, ClientToken %s", it.RegionID, t.day,
			FormatTime(base, ecs.UTC8), FormatTime(t.expiry(base), ecs.UTC8), token)
	}
	return w.setItems(r.ID, []string{id}, store.ItemPending, store.Event{Action: store.ActCalled, Detail: detail},
		func(it *store.Item) { it.Sent, it.BaseExpiry = true, base })
}

// expiries reads the current expiry of instances in one region, once (one DescribeInstances
// per 100): Verify with a zero target is met by any expiry, so it returns after its first
// read without waiting. An instance that is gone is missing from the map, and the error
// wraps ecs.ErrNotFound.
func (w *Workflow) expiries(ctx context.Context, region string, ids []string) (map[string]time.Time, error) {
	anyExpiry := make(map[string]time.Time, len(ids))
	for _, id := range ids {
		anyExpiry[id] = time.Time{}
	}
	return w.cloud.Verify(ctx, region, anyExpiry)
}

// supersededText says that an instance was not renewed because its expiry moved.
func supersededText(id string, from, to time.Time, t term) string {
	return fmt.Sprintf("the expiry of %s moved from %s to %s after the quote (renewed elsewhere, or by Alibaba's auto-renew), "+
		"so it was not renewed again and nothing was charged; if it still needs renewing, ask again: %s", id, FormatTime(from, ecs.UTC8), FormatTime(to, ecs.UTC8), t.again(id))
}

// target is the expiry a renewed item must show: the one the request's term gives from the
// expiry read just before the paid call (the quote's projection for items sent before that
// was recorded).
func target(r *store.Request, it store.Item) time.Time {
	if it.BaseExpiry.IsZero() {
		return it.ProjectedExpiry
	}
	return termOf(r).expiry(it.BaseExpiry)
}

// byRegion groups the IDs of items in state s by region, regions in first-seen order.
func byRegion(r *store.Request, s store.ItemState) (regions []string, ids map[string][]string) {
	ids = map[string][]string{}
	for _, it := range r.Items {
		if it.State != s {
			continue
		}
		if _, ok := ids[it.RegionID]; !ok {
			regions = append(regions, it.RegionID)
		}
		ids[it.RegionID] = append(ids[it.RegionID], it.InstanceID)
	}
	return regions, ids
}

func item(r *store.Request, id string) store.Item {
	for _, it := range r.Items {
		if it.InstanceID == id {
			return it
		}
	}
	return store.Item{}
}

func hasItems(r *store.Request, s store.ItemState) bool {
	return slices.ContainsFunc(r.Items, func(it store.Item) bool { return it.State == s })
}

// verifyRenewals waits, per region and for all instances together, until the renewed
// expiries show. An ordered instance whose expiry does not show in time stays ordered (the
// request then becomes verifying and the sweep keeps checking): an order, or a call without
// a clear answer, is never failed on a timeout alone, and never sent again.
func (w *Workflow) verifyRenewals(ctx context.Context, r *store.Request) (*store.Request, error) {
	regions, ids := byRegion(r, store.ItemOrdered)
	for _, region := range regions {
		want := map[string]time.Time{}
		for _, id := range ids[region] {
			want[id] = target(r, item(r, id))
		}
		vctx, cancel := context.WithTimeout(ctx, w.verifyTimeout)
		seen, verr := w.cloud.Verify(vctx, region, want)
		cancel()
		if ctx.Err() != nil {
			return r, ctx.Err()
		}
		for _, id := range ids[region] {
			it := item(r, id)
			var (
				ev  store.Event
				set func(*store.Item)
			)
			t, ok := seen[id]
			if !ok || !termOf(r).reached(t, want[id]) {
				w.log.Warn("renewal not visible yet; still checking", "request", r.ID, "instance", id, "order", it.OrderID, "seen", t, "err", verr)
				continue
			}
			ev = store.Event{Action: store.ActVerified, Detail: "new expiry " + t.UTC().Format(time.RFC3339)}
			set = func(it *store.Item) { it.State, it.NewExpiry, it.Error = store.ItemDone, t, "" }
			w.log.Info("renewal verified", "request", r.ID, "instance", id, "expiry", t)
			got, err := w.setItems(r.ID, []string{id}, store.ItemOrdered, ev, set)
			if err != nil {
				return r, fmt.Errorf("record verification of %s: %w", id, err)
			}
			r = got
		}
	}
	return r, nil
}

// sendAutoRenew sends ModifyInstanceAutoRenewAttribute for the pending items, one call per
// region. It charges nothing now, so it is safe to repeat.
func (w *Workflow) sendAutoRenew(ctx context.Context, r *store.Request) (*store.Request, error) {
	ch := ecs.AutoRenewChange{Status: TargetStatus(r.AutoRenew), Duration: r.Duration}
	regions, ids := byRegion(r, store.ItemPending)
	for _, region := range regions {
		if err := ctx.Err(); err != nil {
			return r, err
		}
		group := ids[region]
		if err := w.store.Audit(store.Event{Actor: botActor, Action: store.ActCalled, RequestID: r.ID, InstanceIDs: group,
			Detail: fmt.Sprintf("ModifyInstanceAutoRenewAttribute %s RenewalStatus=%s Duration=%d", region, ch.Status, ch.Duration)}); err != nil {
			return r, err
		}
		reqID, err := w.cloud.SetAutoRenew(ctx, region, group, ch)
		if h := w.hooks.AfterRenewResponse; h != nil {
			h(r.ID, strings.Join(group, ","))
		}
		var got *store.Request
		switch {
		case err != nil && ctx.Err() != nil:
			return r, fmt.Errorf("auto-renew %s: %w", region, err)
		case err != nil && outcomeUnknown(err):
			// Maybe changed without the answer reaching us: reading the attribute back decides.
			note := fmt.Sprintf("Alibaba Cloud gave no clear answer to the auto-renew change of %s (%v)", joinIDs(group), err)
			w.log.Warn("auto-renew outcome unknown; reading it back", "request", r.ID, "region", region, "err", err)
			got, err = w.setItems(r.ID, group, store.ItemPending,
				store.Event{Action: store.ActOrdered, Detail: "no clear answer, reading the attribute back decides: " + note},
				func(it *store.Item) { it.State, it.Error, it.Unclear = store.ItemOrdered, note, true })
		case err != nil:
			msg := autoRenewFailure(group, err)
			w.log.Warn("auto-renew change failed", "request", r.ID, "region", region, "err", err)
			got, err = w.setItems(r.ID, group, store.ItemPending, store.Event{Action: store.ActItemFailed, Detail: msg},
				func(it *store.Item) { it.State, it.Error = store.ItemFailed, msg })
		default:
			got, err = w.setItems(r.ID, group, store.ItemPending, store.Event{Action: store.ActOrdered, Detail: "RequestId " + reqID},
				func(it *store.Item) { it.State, it.APIRequestID = store.ItemOrdered, reqID })
		}
		if err != nil {
			return r, fmt.Errorf("record auto-renew change in %s: %w", region, err)
		}
		r = got
	}
	return r, nil
}

// verifyAutoRenew reads the instances back and checks the new auto-renew state. An instance
// that could not be read stays ordered: its state is unknown (the change may have been made,
// and auto-renew on charges at the next deduction), so the request waits in verifying for
// the sweep to read it, instead of freeing the instance as if nothing had changed.
func (w *Workflow) verifyAutoRenew(ctx context.Context, r *store.Request) (*store.Request, error) {
	var ordered []string
	for _, it := range r.Items {
		if it.State == store.ItemOrdered {
			ordered = append(ordered, it.InstanceID)
		}
	}
	if len(ordered) == 0 {
		return r, nil
	}
	want := TargetStatus(r.AutoRenew)
	insts, lerr := w.cloud.Lookup(ctx, ordered)
	if ctx.Err() != nil {
		return r, ctx.Err()
	}
	seen := map[string]ecs.Instance{}
	for _, in := range insts {
		seen[in.ID] = in
	}
	for _, id := range ordered {
		in, ok := seen[id]
		if !ok && lerr != nil && !errors.Is(lerr, ecs.ErrNotFound) {
			w.log.Warn("auto-renew change not read back; still checking", "request", r.ID, "instance", id, "err", lerr)
			continue
		}
		var (
			ev  store.Event
			set func(*store.Item)
		)
		if ok && in.AutoRenew.Status == want && (want != ecs.AutoRenewal || in.AutoRenew.Duration == r.Duration) {
			ev = store.Event{Action: store.ActVerified, Detail: "auto-renew " + string(want)}
			set = func(it *store.Item) { it.State, it.Error = store.ItemDone, "" }
		} else {
			msg := fmt.Sprintf("changed (RequestId %s) but Alibaba Cloud does not show auto-renew %s yet", item(r, id).APIRequestID, r.AutoRenew)
			if it := item(r, id); it.APIRequestID == "" && it.Error != "" { // sent without a clear answer
				msg = fmt.Sprintf("%s, and it does not show auto-renew %s: most likely it was not changed", it.Error, r.AutoRenew)
			}
			if ok {
				msg += fmt.Sprintf(" (it shows %s)", in.AutoRenew.Status)
			} else if lerr != nil {
				msg += fmt.Sprintf(" (checking failed: %v)", lerr)
			}
			ev = store.Event{Action: store.ActItemFailed, Detail: msg}
			set = func(it *store.Item) { it.State, it.Error = store.ItemFailed, msg }
		}
		got, err := w.setItems(r.ID, []string{id}, store.ItemOrdered, ev, set)
		if err != nil {
			return r, fmt.Errorf("record verification of %s: %w", id, err)
		}
		r = got
	}
	return r, nil
}

// finish moves an executing request whose items are all decided to done or failed.
func (w *Workflow) finish(ctx context.Context, r *store.Request) (*store.Request, error) {
	failed, superseded := 0, 0
	for _, it := range r.Items {
		switch it.State {
		case store.ItemDone:
		case store.ItemFailed:
			failed++
		case store.ItemSuperseded:
			superseded++
		default:
			return r, fmt.Errorf("request %s: %s is still %s", r.ID, it.InstanceID, it.State)
		}
	}
	to, ev := store.StateDone, store.Event{Actor: botActor, Action: store.ActDone, Detail: fmt.Sprintf("%d instance(s) done", len(r.Items))}
	switch {
	case failed > 0:
		to, ev = store.StateFailed, store.Event{Actor: botActor, Action: store.ActFailed, Detail: fmt.Sprintf("%d of %d instance(s) failed", failed, len(r.Items))}
	case superseded > 0:
		to, ev = store.StateSuperseded, store.Event{Actor: botActor, Action: store.ActDone,
			Detail: fmt.Sprintf("%d of %d instance(s) not renewed: their expiry moved before the call", superseded, len(r.Items))}
	}
	got, err := w.store.Transition(r.ID, []store.State{store.StateExecuting, store.StateVerifying}, to, ev, nil)
	if errors.Is(err, store.ErrConflict) {
		return w.store.GetRequest(r.ID) // finished by someone else
	}
	if err != nil {
		return r, fmt.Errorf("finish %s: %w", r.ID, err)
	}
	for _, it := range got.Items {
		outcome := "done"
		switch it.State {
		case store.ItemFailed:
			outcome = "failed"
		case store.ItemSuperseded:
			outcome = "superseded"
		}
		if w.counter != nil {
			w.counter.Renewal(got.Kind.String(), outcome)
		}
	}
	w.log.Info("request finished", "request", got.ID, "state", got.State)
	w.notify(ctx, got)
	return got, nil
}

// renewFailure is the sentence people read when RenewInstance failed for one instance.
func renewFailure(id string, t term, err error) string {
	switch {
	case errors.Is(err, ecs.ErrBalance):
		return fmt.Sprintf("not enough balance in the Alibaba Cloud account to renew %s; nothing was charged: top up and ask again", id)
	case errors.Is(err, ecs.ErrPostPaid):
		return fmt.Sprintf("%s is pay-as-you-go now; there is nothing to renew", id)
	case errors.Is(err, ecs.ErrNotFound):
		return fmt.Sprintf("%s no longer exists (released?)", id)
	case errors.Is(err, ecs.ErrInvalidPeriod):
		return fmt.Sprintf("Alibaba Cloud refused to renew %s %s%s", id, t, alibabaSays(err))
	case errors.Is(err, ecs.ErrAccessDenied):
		return fmt.Sprintf("renewbot's access key may not renew %s (RAM permission ecs:RenewInstance is missing)", id)
	case errors.Is(err, ecs.ErrIncorrectStatus):
		return fmt.Sprintf("%s is in a state that cannot be renewed now%s", id, alibabaSays(err))
	case errors.Is(err, ecs.ErrIdempotence):
		return fmt.Sprintf("Alibaba Cloud refused the renewal of %s: its token was used with other parameters; check the instance's expiry before asking again", id)
	case errors.Is(err, ecs.ErrThrottled):
		return fmt.Sprintf("Alibaba Cloud did not accept the renewal of %s (%v); nothing was charged, ask again in a few minutes", id, err)
	}
	return fmt.Sprintf("renewing %s failed: %v", id, err)
}

// outcomeUnknown reports whether a failed RenewInstance may still have been carried out: no
// answer or a 5xx after every retry, or Alibaba still processing the first call with this
// token. (Throttling and the other refusals happen before anything is charged.)
func outcomeUnknown(err error) bool {
	var ae *ecs.APIError
	return errors.Is(err, ecs.ErrUnavailable) ||
		errors.As(err, &ae) && (ae.Code == "Idempotence.Processing" || ae.Code == "LastTokenProcessing")
}

func autoRenewFailure(ids []string, err error) string {
	switch {
	case errors.Is(err, ecs.ErrAccessDenied):
		return fmt.Sprintf("renewbot's access key may not change auto-renew of %s (RAM permission ecs:ModifyInstanceAutoRenewAttribute is missing)", joinIDs(ids))
	case errors.Is(err, ecs.ErrIncorrectStatus):
		return fmt.Sprintf("the auto-renew of %s cannot be changed in its current state (expired?)", joinIDs(ids))
	}
	return fmt.Sprintf("changing auto-renew of %s failed: %v", joinIDs(ids), err)
}

// alibabaSays quotes Alibaba's own message of an API error, if there is one.
func alibabaSays(err error) string {
	var ae *ecs.APIError
	if errors.As(err, &ae) && ae.Message != "" {
		return fmt.Sprintf(" (%s: %s)", ae.Code, ae.Message)
	}
	return ""
}
