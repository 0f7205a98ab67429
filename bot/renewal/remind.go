package renewal

import (
	"context"
	"errors"
	"fmt"

	"github.com/renewbot/renewbot/store"
)

// MarkReminded records, in one compare-and-set transaction, that reminder kind is being sent
// for request id, with an audit entry. It reports false (and writes nothing) when the request
// is no longer pending, is past its deadline, or already got that reminder: each reminder is
// sent at most once, and none after the decision. The caller sends the reminder after a true.
func (w *Workflow) MarkReminded(_ context.Context, id store.RequestID, kind store.Reminders, detail string) (bool, error) {
	now := w.now()
	_, err := w.store.Mutate(id, store.Event{Actor: botActor, Action: store.ActReminded, Detail: detail}, func(cur *store.Request) error {
		if cur.State != store.StatePending || cur.EffectiveState(now) != store.StatePending || cur.Reminded&kind != 0 {
			return errStale
		}
		cur.Reminded |= kind
		return nil
	})
	switch {
	case errors.Is(err, errStale):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("record reminder of %s: %w", id, err)
	}
	return true, nil
}
