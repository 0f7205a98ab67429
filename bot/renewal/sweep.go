package renewal

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/renewbot/renewbot/store"
)

// stallAfter is how long an approved or executing request may sit unchanged, and not
// running in this process, before Sweep takes it up.
const stallAfter = time.Minute

// SweepEvery runs Sweep every interval until ctx ends (serve runs it every minute).
func (w *Workflow) SweepEvery(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := w.Sweep(ctx); err != nil {
				w.log.Warn("expiry sweep", "err", err)
			} else if n > 0 {
				w.log.Info("expired pending requests", "count", n)
			}
		}
	}
}

// Sweep expires pending requests past their deadline and tells the notifier, posts the
// approval messages pending requests lack (or withdraws them), takes up
// executions that stopped in this process: an approved request nobody executed, or an
// executing one whose run ended early (its context ended, a store write failed). Resume
// covers a crash at start-up; without this such a request would wait for the next restart.
// Then it reads again the expiries of verifying requests whose next check is due. It
// returns how many requests it expired.
func (w *Workflow) Sweep(ctx context.Context) (int, error) {
	rs, err := w.store.ListRequests(store.StatePending)
	if err != nil {
		return 0, err
	}
	now := w.now()
	n := 0
	for _, r := range rs {
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		if r.EffectiveState(now) != store.StateExpired {
			continue
		}
		if got := w.expire(ctx, r); got.State == store.StateExpired {
			n++
		}
	}
	stalled := func(r *store.Request) bool {
		return !r.UpdatedAt.After(now.Add(-stallAfter)) && !w.isRunning(r.ID)
	}
	return n, errors.Join(w.postMissing(ctx), w.resume(ctx, stalled), w.checkVerifying(ctx))
}

// Resume runs what a previous process left unfinished: it posts missing approval messages,
// continues executing requests (with the same ClientTokens, so nothing is ordered twice) and
// approved requests never started, and checks verifying ones that are due.
func (w *Workflow) Resume(ctx context.Context) error {
	return errors.Join(w.postMissing(ctx), w.resume(ctx, func(*store.Request) bool { return true }), w.checkVerifying(ctx))
}

// resume runs the approved and executing requests that keep selects, oldest first, with the
// same ClientTokens. Resume (at start-up) takes all of them, Sweep the stalled ones.
func (w *Workflow) resume(ctx context.Context, keep func(*store.Request) bool) error {
	rs, err := w.store.ListRequests(store.StateExecuting, store.StateApproved)
	if err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	slices.Reverse(rs) // oldest first
	var errs []error
	for _, r := range rs {
		if ctx.Err() != nil {
			return errors.Join(append(errs, ctx.Err())...)
		}
		if !keep(r) {
			continue
		}
		if err := w.resumeOne(ctx, r); err != nil {
			errs = append(errs, fmt.Errorf("resume %s: %w", r.ID, err))
		}
	}
	return errors.Join(errs...)
}
