package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// actor of events the store writes on its own behalf.
const botActor = "renewbot"

// CreateRequest stores a new pending request, in one transaction: it refuses with
// *OpenRequestError when one of the instances already has an open request (pending,
// approved or executing; a pending one past its deadline does not count and the new request
// takes over its instances — the sweep expires the old one and tells Slack), assigns r.ID,
// State=pending, CreatedAt=UpdatedAt=now, Version=1, Item.State=ItemPending where zero, and
// writes the ActRequested audit event (Actor = Requester). A request given as StateApproved
// with exactly one approval is an operator's decision (the CLI): it is stored approved, in
// the same transaction, with an ActApproved event by that approval's user saying its Note.
// On error nothing is written and r is unchanged.
func (db *DB) CreateRequest(r *Request) error {
	if err := checkNew(r); err != nil {
		return err
	}
	c := cloneRequest(r)
	err := db.write(func(tx *bolt.Tx) error {
		now := db.now()
		open := tx.Bucket(bucketOpen)
		for _, inst := range c.InstanceIDs() {
			v := open.Get([]byte(inst))
			if v == nil {
				continue
			}
			ex, err := getRequest(tx, RequestID(v))
			if errors.Is(err, ErrNotFound) {
				continue // stale entry: overwritten below
			}
			if err != nil {
				return err
			}
			if ex.EffectiveState(now).Open() {
				return &OpenRequestError{InstanceID: inst, Existing: ex.ID, State: ex.State}
			}
		}

		meta := tx.Bucket(bucketMeta)
		var last uint64
		if v := meta.Get(keyLastID); len(v) == 8 {
			last = binary.BigEndian.Uint64(v)
		}
		n := nextRequestID(now, last)
		for tx.Bucket(bucketRequests).Get([]byte(formatRequestID(n))) != nil {
			n++ // only after someone edited lastid; never reuse an ID
		}
		if err := meta.Put(keyLastID, binary.BigEndian.AppendUint64(nil, n)); err != nil {
			return err
		}
		c.ID = formatRequestID(n)
		operator := c.State == StateApproved
		c.State = StatePending
		if operator {
			c.State = StateApproved
		}
		c.CreatedAt, c.UpdatedAt = now, now
		c.Version = 1
		for i := range c.Items {
			if c.Items[i].State == 0 {
				c.Items[i].State = ItemPending
			}
		}
		if err := putRequest(tx, c); err != nil {
			return err
		}
		for _, inst := range c.InstanceIDs() {
			if err := open.Put([]byte(inst), []byte(c.ID)); err != nil {
				return err
			}
		}
		if err := db.appendEvent(tx, &Event{
			Time:        now,
			Actor:       c.Requester,
			Action:      ActRequested,
			RequestID:   c.ID,
			InstanceIDs: c.InstanceIDs(),
			Accounts:    c.Accounts(),
			Detail:      describe(c),
		}); err != nil || !operator {
			return err
		}
		return db.appendEvent(tx, &Event{
			Time:        now,
			Actor:       c.Approvals[0].User,
			Action:      ActApproved,
			RequestID:   c.ID,
			InstanceIDs: c.InstanceIDs(),
			Accounts:    c.Accounts(),
			Detail:      c.Approvals[0].Note,
		})
	})
	if err != nil {
		return fmt.Errorf("create request: %w", err)
	}
	*r = *c
	return nil
}

// checkNew validates a request before it is created.
func checkNew(r *Request) error {
	if r == nil {
		return fmt.Errorf("create request: %w: nil request", ErrInvalid)
	}
	if r.Kind != KindRenew && r.Kind != KindAutoRenew {
		return fmt.Errorf("create request: %w: kind %s", ErrInvalid, r.Kind)
	}
	if len(r.Items) == 0 {
		return fmt.Errorf("create request: %w: no instances", ErrInvalid)
	}
	if r.ExpectedRenewDay != 0 && (r.Kind != KindRenew || r.Months != 0 || r.ExpectedRenewDay < 1 || r.ExpectedRenewDay > 28) {
		return fmt.Errorf("create request: %w: a renewal to day %d is a renewal (not %s) of 0 months (not %d) to a day 1-28", ErrInvalid, r.ExpectedRenewDay, r.Kind, r.Months)
	}
	switch {
	case r.State == 0 || r.State == StatePending:
	case r.State == StateApproved && len(r.Approvals) == 1 && r.Approvals[0].Note != "":
	default:
		return fmt.Errorf("create request: %w: a new request is pending, or approved by one operator's decision with a note", ErrInvalid)
	}
	seen := make(map[string]bool, len(r.Items))
	for _, it := range r.Items {
		if err := validID("instance ID", it.InstanceID); err != nil {
			return fmt.Errorf("create request: %w", err)
		}
		if seen[it.InstanceID] {
			return fmt.Errorf("create request: %w: instance %s listed twice", ErrInvalid, it.InstanceID)
		}
		seen[it.InstanceID] = true
	}
	return nil
}

// describe is the Detail of the ActRequested event.
func describe(r *Request) string {
	switch r.Kind {
	case KindRenew:
		d := fmt.Sprintf("renew %d instance(s) for %d month(s), quote %.2f %s", len(r.Items), r.Months, r.Total, r.Currency)
		if r.ExpectedRenewDay != 0 {
			d = fmt.Sprintf("renew %d instance(s) to day %d of the month (unified expiration day), quote %.2f %s",
				len(r.Items), r.ExpectedRenewDay, r.Total, r.Currency)
		}
		if r.Reason != "" {
			d += "; reason: " + r.Reason
		}
		return d
	case KindAutoRenew:
		if r.AutoRenew == AutoRenewOn {
			return fmt.Sprintf("auto-renew on (%d month(s) per renewal) for %d instance(s)", r.Duration, len(r.Items))
		}
		return fmt.Sprintf("auto-renew %s for %d instance(s)", r.AutoRenew, len(r.Items))
	}
	return r.Kind.String()
}

// GetRequest returns the request, or an error wrapping ErrNotFound.
func (db *DB) GetRequest(id RequestID) (*Request, error) {
	var r *Request
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		r, err = getRequest(tx, id)
		return err
	})
	return r, err
}

// OpenRequest returns the open request holding instanceID (pending before its deadline,
// approved or executing), or an error wrapping ErrNotFound.
func (db *DB) OpenRequest(instanceID string) (*Request, error) {
	if err := validID("instance ID", instanceID); err != nil {
		return nil, err
	}
	var r *Request
	err := db.bolt.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketOpen).Get([]byte(instanceID))
		if v == nil {
			return nil
		}
		var err error
		r, err = getRequest(tx, RequestID(v))
		return err
	})
	if err != nil {
		return nil, err
	}
	if r == nil || !r.EffectiveState(db.now()).Open() {
		return nil, fmt.Errorf("open request for %s: %w", instanceID, ErrNotFound)
	}
	return r, nil
}

// ListRequests returns the requests in the given stored states (none: all), newest first.
// It filters on the stored State: a pending request past its deadline is listed as pending
// (the sweep finds it that way); use EffectiveState to show it.
func (db *DB) ListRequests(states ...State) ([]*Request, error) {
	var out []*Request
	err := db.bolt.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketRequests).Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			r, err := decodeRequest(v)
			if err != nil {
				return fmt.Errorf("request %s: %w", k, err)
			}
			if len(states) == 0 || slices.Contains(states, r.State) {
				out = append(out, r)
			}
		}
		return nil
	})
	return out, err
}

// Transition moves a request to state to, in one transaction (compare-and-set): the stored
// state must be one of from (empty from: any) and State.CanTransition(to) must hold, else
// the error is a *StateError wrapping ErrConflict and nothing is written. A pending request
// past its deadline may only become expired. Then mutate (may be nil) edits the request; an
// error from it aborts and nothing is written. mutate must not change ID, State or the
// instances. The store sets State, UpdatedAt, Version+1, releases the instances when to is
// terminal, and appends ev: Time, RequestID and InstanceIDs are filled in when empty, Actor
// defaults to "renewbot" and Action to the one matching to (approved, claimed, done, failed,
// rejected, expired, cancelled).
func (db *DB) Transition(id RequestID, from []State, to State, ev Event, mutate func(*Request) error) (*Request, error) {
	r, err := db.update(id, &ev, func(tx *bolt.Tx, r *Request, now time.Time) error {
		if (len(from) > 0 && !slices.Contains(from, r.State)) || !r.State.CanTransition(to) {
			return &StateError{ID: id, Current: r.State, To: to}
		}
		if to != StateExpired && r.EffectiveState(now) == StateExpired {
			return &StateError{ID: id, Current: r.State, To: to, Deadline: r.Deadline}
		}
		if err := applyMutate(r, mutate); err != nil {
			return err
		}
		r.State = to
		if ev.Action == "" {
			ev.Action = actionFor(to)
		}
		if to.Terminal() {
			return release(tx, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("transition %s to %s: %w", id, to, err)
	}
	return r, nil
}

// Mutate edits a request without changing its state, in one transaction (record one of two
// approvals, an item's result, the Slack message). mutate's error aborts: nothing is
// written. mutate must not change ID, State or the instances. UpdatedAt and Version are set;
// ev is appended like in Transition, unless ev.Action is empty (no audit entry).
func (db *DB) Mutate(id RequestID, ev Event, mutate func(*Request) error) (*Request, error) {
	r, err := db.update(id, &ev, func(_ *bolt.Tx, r *Request, _ time.Time) error {
		return applyMutate(r, mutate)
	})
	if err != nil {
		return nil, fmt.Errorf("update request %s: %w", id, err)
	}
	return r, nil
}

// update is the compare-and-set under Transition and Mutate, in one transaction: it loads the
// request, lets change check and edit it (an error aborts: nothing is written), sets
// UpdatedAt and Version+1, stores it, and appends ev unless ev.Action is empty (Actor
// defaults to "renewbot"; Time, RequestID and InstanceIDs are filled in when empty).
func (db *DB) update(id RequestID, ev *Event, change func(tx *bolt.Tx, r *Request, now time.Time) error) (*Request, error) {
	var out *Request
	err := db.write(func(tx *bolt.Tx) error {
		now := db.now()
		r, err := getRequest(tx, id)
		if err != nil {
			return err
		}
		if err := change(tx, r, now); err != nil {
			return err
		}
		if err := db.commit(tx, r, ev, now); err != nil {
			return err
		}
		out = r
		return nil
	})
	return out, err
}

// commit writes a changed request (UpdatedAt, Version+1) and appends ev unless its Action is
// empty, in tx.
func (db *DB) commit(tx *bolt.Tx, r *Request, ev *Event, now time.Time) error {
	r.UpdatedAt = now
	r.Version++
	if err := putRequest(tx, r); err != nil {
		return err
	}
	if ev.Action == "" {
		return nil
	}
	fillEvent(ev, r, now)
	return db.appendEvent(tx, ev)
}

// fillEvent completes an event about r: Actor defaults to the bot, Time to now, RequestID
// and InstanceIDs to r's.
func fillEvent(ev *Event, r *Request, now time.Time) {
	if ev.Actor == "" {
		ev.Actor = botActor
	}
	if ev.Time.IsZero() {
		ev.Time = now
	}
	if ev.RequestID == "" {
		ev.RequestID = r.ID
	}
	if len(ev.InstanceIDs) == 0 {
		ev.InstanceIDs = r.InstanceIDs()
	}
	if len(ev.Accounts) == 0 {
		ev.Accounts = r.Accounts()
	}
}

// applyMutate runs mutate and refuses changes to the fields the store owns.
func applyMutate(r *Request, mutate func(*Request) error) error {
	if mutate == nil {
		return nil
	}
	id, state, version, insts := r.ID, r.State, r.Version, r.InstanceIDs()
	if err := mutate(r); err != nil {
		return err
	}
	if r.ID != id || r.State != state || r.Version != version || !slices.Equal(r.InstanceIDs(), insts) {
		return fmt.Errorf("%w: mutate may not change the ID, state, version or instances", ErrInvalid)
	}
	return nil
}

// actionFor is the default audit action of a transition to s.
func actionFor(s State) Action {
	switch s {
	case StateApproved:
		return ActApproved
	case StateExecuting:
		return ActClaimed
	case StateDone:
		return ActDone
	case StateFailed:
		return ActFailed
	case StateRejected:
		return ActRejected
	case StateExpired:
		return ActExpired
	case StateCancelled:
		return ActCancelled
	case StateVerifying:
		return ActVerifying
	case StateSuperseded:
		return ActSuperseded
	}
	return Action(s.String())
}

// release frees the request's instances in the open index (entries that point to it only:
// a newer request may have taken over after this one's deadline).
func release(tx *bolt.Tx, r *Request) error {
	open := tx.Bucket(bucketOpen)
	for _, inst := range r.InstanceIDs() {
		if string(open.Get([]byte(inst))) != string(r.ID) {
			continue
		}
		if err := open.Delete([]byte(inst)); err != nil {
			return err
		}
	}
	return nil
}

func getRequest(tx *bolt.Tx, id RequestID) (*Request, error) {
	if err := validID("request ID", string(id)); err != nil {
		return nil, err
	}
	v := tx.Bucket(bucketRequests).Get([]byte(id))
	if v == nil {
		return nil, fmt.Errorf("request %s: %w", id, ErrNotFound)
	}
	r, err := decodeRequest(v)
	if err != nil {
		return nil, fmt.Errorf("request %s: %w", id, err)
	}
	return r, nil
}

func putRequest(tx *bolt.Tx, r *Request) error {
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketRequests).Put([]byte(r.ID), v)
}

// decodeRequest decodes a stored request. json.Unmarshal copies, so the result outlives the
// transaction.
func decodeRequest(v []byte) (*Request, error) {
	var r Request
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	return &r, nil
}

// cloneRequest copies r with its slices and pointers.
func cloneRequest(r *Request) *Request {
	c := *r
	c.Items = slices.Clone(r.Items)
	c.Approvals = slices.Clone(r.Approvals)
	if r.Closed != nil {
		d := *r.Closed
		c.Closed = &d
	}
	return &c
}

// Decide applies a decision to a request in one transaction (compare-and-set on what is
// stored, not on what the caller read earlier). decide sees the stored request and now, may
// edit it (not its ID, state, version or instances), and returns the state to move to (the
// current one: stay) and the event to append. The move must be legal (State.CanTransition),
// else nothing is written and the error is a *StateError. If decide returns an error, the
// request is not written, but an event it returns with an Action is still appended: a
// refused decision is audited in the same transaction.
func (db *DB) Decide(id RequestID, decide func(r *Request, now time.Time) (State, Event, error)) (*Request, error) {
	var out *Request
	var refused error
	err := db.write(func(tx *bolt.Tx) error {
		now := db.now()
		r, err := getRequest(tx, id)
		if err != nil {
			return err
		}
		from, version, insts := r.State, r.Version, r.InstanceIDs()
		to, ev, derr := decide(r, now)
		if r.ID != id || r.State != from || r.Version != version || !slices.Equal(r.InstanceIDs(), insts) {
			return fmt.Errorf("%w: a decision may not change the ID, state, version or instances", ErrInvalid)
		}
		if derr != nil {
			if ev.Action == "" {
				return derr
			}
			refused = derr
			fillEvent(&ev, r, now)
			return db.appendEvent(tx, &ev)
		}
		if to != from {
			if !from.CanTransition(to) {
				return &StateError{ID: id, Current: from, To: to}
			}
			r.State = to
			if ev.Action == "" {
				ev.Action = actionFor(to)
			}
			if to.Terminal() {
				if err := release(tx, r); err != nil {
					return err
				}
			}
		}
		if err := db.commit(tx, r, &ev, now); err != nil {
			return err
		}
		out = r
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("decide on request %s: %w", id, err)
	}
	if refused != nil {
		return nil, refused
	}
	return out, nil
}
