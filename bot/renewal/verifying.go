package renewal

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/renewbot/renewbot/store"
)

// An order, or a paid call without a clear answer, holds its instance until the new expiry
// is verified. When it does not show within the verify timeout the request becomes verifying
// and the minute sweep reads the expiry again, first after CheckFirst, then at doubling
// intervals of at most CheckMax, for VerifyFor. After that it stops asking Alibaba and waits
// for an approver to settle it (Settle); the request keeps its instances all along.
const (
	CheckFirst = time.Minute
	CheckMax   = time.Hour
	VerifyFor  = 48 * time.Hour
)

// checkInterval is the wait after the n-th check (n from 0).
func checkInterval(n int) time.Duration {
	d := CheckFirst
	for range n {
		if d >= CheckMax {
			break
		}
		d *= 2
	}
	return min(d, CheckMax)
}

// startVerifying moves an executing request with instances ordered but not yet verified to
// verifying, and tells the notifier: "ordered, not visible yet, still checking".
func (w *Workflow) startVerifying(ctx context.Context, r *store.Request) (*store.Request, error) {
	now := w.now()
	var ids []string
	for _, it := range r.Items {
		if it.State == store.ItemOrdered {
			ids = append(ids, it.InstanceID)
		}
	}
	detail := fmt.Sprintf("ordered, new expiry of %s not visible after %s; checking again with backoff for up to %d hours; do not renew again", joinIDs(ids), w.verifyTimeout, int(VerifyFor.Hours()))
	if r.Kind == store.KindAutoRenew {
		detail = fmt.Sprintf("auto-renew of %s changed without a clear answer and not read back; checking again with backoff for up to %d hours", joinIDs(ids), int(VerifyFor.Hours()))
	}
	got, err := w.store.Transition(r.ID, []store.State{store.StateExecuting}, store.StateVerifying, store.Event{Actor: botActor, Action: store.ActVerifying,
		Detail: detail},
		func(cur *store.Request) error {
			cur.VerifyingSince, cur.Checks, cur.NextCheck = now, 0, now.Add(checkInterval(0))
			return nil
		})
	if errors.Is(err, store.ErrConflict) {
		return w.store.GetRequest(r.ID)
	}
	if err != nil {
		return r, fmt.Errorf("verifying %s: %w", r.ID, err)
	}
	w.log.Warn("ordered, not visible yet; still checking", "request", r.ID, "instances", strings.Join(ids, ","))
	w.notify(ctx, got)
	return got, nil
}

// checkVerifying reads the expiries of verifying requests whose next check is due, once each
// (no waiting), and finishes those whose instances all show their new expiry. A request past
// VerifyFor is marked as no longer checked, once, and waits for an approver.
func (w *Workflow) checkVerifying(ctx context.Context) error {
	rs, err := w.store.ListRequests(store.StateVerifying)
	if err != nil {
		return fmt.Errorf("verifying requests: %w", err)
	}
	slices.Reverse(rs) // oldest first
	var errs []error
	for _, r := range rs {
		if ctx.Err() != nil {
			return errors.Join(append(errs, ctx.Err())...)
		}
		if err := w.checkOne(ctx, r); err != nil {
			errs = append(errs, fmt.Errorf("check %s: %w", r.ID, err))
		}
	}
	return errors.Join(errs...)
}

func (w *Workflow) checkOne(ctx context.Context, r *store.Request) error {
	now := w.now()
	if r.CheckingStopped || now.Before(r.NextCheck) || !w.begin(r.ID) {
		return nil
	}
	defer w.end(r.ID)
	if now.Sub(r.VerifyingSince) >= VerifyFor {
		got, err := w.store.Mutate(r.ID, store.Event{Actor: botActor, Action: store.ActChecked,
			Detail: fmt.Sprintf("new expiry still not visible after %d hours and %d checks: checking stopped; do not renew again; an approver settles it after checking the console", int(VerifyFor.Hours()), r.Checks)},
			func(cur *store.Request) error {
				if cur.State != store.StateVerifying {
					return errStale
				}
				cur.CheckingStopped = true
				return nil
			})
		if err != nil {
			return ignoreStale(err)
		}
		w.notify(ctx, got)
		return nil
	}
	var err error
	if r.Kind == store.KindAutoRenew {
		r, err = w.verifyAutoRenew(ctx, r)
	} else {
		r, err = w.sweepExpiries(ctx, r)
	}
	if err != nil {
		return ignoreStale(err)
	}
	if !hasItems(r, store.ItemOrdered) {
		_, err := w.finish(ctx, r)
		return err
	}
	_, err = w.store.Mutate(r.ID, store.Event{}, func(cur *store.Request) error {
		if cur.State != store.StateVerifying {
			return errStale
		}
		cur.Checks++
		cur.NextCheck = now.Add(checkInterval(cur.Checks))
		return nil
	})
	return ignoreStale(err)
}

// sweepExpiries reads the expiries of a verifying renewal's ordered instances, once, and
// marks done those that show their new expiry.
func (w *Workflow) sweepExpiries(ctx context.Context, r *store.Request) (*store.Request, error) {
	regions, ids := byRegion(r, store.ItemOrdered)
	for _, region := range regions {
		seen, lerr := w.expiries(ctx, region, ids[region])
		if ctx.Err() != nil {
			return r, ctx.Err()
		}
		if lerr != nil {
			w.log.Warn("checking a verifying request", "request", r.ID, "region", region, "err", lerr)
		}
		for _, id := range ids[region] {
			it, t := item(r, id), seen[id]
			if it.State != store.ItemOrdered || !termOf(r).reached(t, target(r, it)) {
				continue
			}
			got, err := w.setItems(r.ID, []string{id}, store.ItemOrdered,
				store.Event{Action: store.ActVerified, Detail: "new expiry " + t.UTC().Format(time.RFC3339) + ", seen by the sweep"},
				func(it *store.Item) { it.State, it.NewExpiry, it.Error = store.ItemDone, t, "" })
			if err != nil {
				return r, err
			}
			r = got
			w.log.Info("renewal verified by the sweep", "request", r.ID, "instance", id, "expiry", t)
		}
	}
	return r, nil
}

func ignoreStale(err error) error {
	if errors.Is(err, errStale) || errors.Is(err, store.ErrConflict) {
		return nil
	}
	return err
}

// Settle is an approver's explicit decision on a verifying request, after checking the
// instances in the console: renewed (the instances still ordered count as done) or not (they
// fail). It is audited with why, in the one transaction that ends the request and frees its
// instances. Only an approver may settle, and only a verifying request.
func (w *Workflow) Settle(ctx context.Context, id store.RequestID, user string, renewed bool, why string) (*store.Request, error) {
	r, err := w.get(id)
	if err != nil {
		return nil, err
	}
	if r.State != store.StateVerifying {
		return nil, w.refuse(user, id, r.InstanceIDs(), RefuseDecided, fmt.Sprintf("request %s is %s: only a request still being verified is settled by hand", id, r.State))
	}
	ap, err := w.MayApprove(ctx, user, r.Accounts())
	if err != nil {
		return nil, err
	}
	if !ap.Allowed {
		return nil, w.refuse(user, id, r.InstanceIDs(), RefuseNotApprover, fmt.Sprintf("only %s can settle request %s", approversNamed(ap), id))
	}
	verdict, to := "not renewed", store.StateFailed
	if renewed {
		verdict, to = "renewed", store.StateDone
		switch {
		case hasItems(r, store.ItemFailed): // failed before it became verifying; that stays
			to = store.StateFailed
		case hasItems(r, store.ItemSuperseded):
			to = store.StateSuperseded
		}
	}
	now := w.now()
	detail := fmt.Sprintf("settled by %s after checking the console: %s", user, verdict)
	if why != "" {
		detail += " (" + why + ")"
	}
	got, err := w.store.Transition(id, []store.State{store.StateVerifying}, to, store.Event{Actor: user, Action: store.ActSettled, Detail: detail},
		func(cur *store.Request) error {
			cur.Closed = &store.Decision{User: user, At: now, Note: detail}
			for i := range cur.Items {
				if it := &cur.Items[i]; it.State == store.ItemOrdered {
					it.State, it.Error = store.ItemFailed, detail
					if renewed {
						it.State = store.ItemDone
					}
				}
			}
			return nil
		})
	if errors.Is(err, store.ErrConflict) {
		cur, gerr := w.get(id)
		if gerr != nil {
			return nil, gerr
		}
		return nil, w.decidedRefusal(user, cur)
	}
	if err != nil {
		return nil, err
	}
	w.log.Info("verifying request settled", "request", id, "user", user, "renewed", renewed)
	w.notify(ctx, got)
	return got, nil
}
