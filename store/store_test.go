package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// fakeClock is the store's clock in tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// mustOpen opens a new file in a temp dir; it is closed at cleanup.
func mustOpen(tb testing.TB, clock *fakeClock) *DB {
	tb.Helper()
	return mustOpenPath(tb, filepath.Join(tb.TempDir(), "renewbot.db"), clock)
}

func mustOpenPath(tb testing.TB, path string, clock *fakeClock) *DB {
	tb.Helper()
	db, err := Open(path, Options{Now: clock.Now})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = db.Close() })
	return db
}

// newRenewal is a valid renewal request for the instances, with a one-hour deadline.
func newRenewal(clock *fakeClock, instances ...string) *Request {
	r := &Request{
		Kind:      KindRenew,
		Requester: "U0REQ",
		Channel:   "C0OPS",
		Deadline:  clock.Now().Add(time.Hour),
		Months:    1,
		Currency:  "CNY",
	}
	for _, id := range instances {
		r.Items = append(r.Items, Item{InstanceID: id, RegionID: "cn-hangzhou", Price: 100, Currency: "CNY"})
		r.Total += 100
	}
	return r
}

func mustCreate(tb testing.TB, db *DB, r *Request) *Request {
	tb.Helper()
	if err := db.CreateRequest(r); err != nil {
		tb.Fatal(err)
	}
	return r
}

// pathTo lists the transitions that bring a new (pending) request to s.
func pathTo(s State) []State {
	switch s {
	case StatePending:
		return nil
	case StateApproved:
		return []State{StateApproved}
	case StateExecuting:
		return []State{StateApproved, StateExecuting}
	case StateDone, StateFailed:
		return []State{StateApproved, StateExecuting, s}
	}
	return []State{s} // rejected, expired, cancelled
}

func mustReach(tb testing.TB, db *DB, id RequestID, s State) *Request {
	tb.Helper()
	r, err := db.GetRequest(id)
	if err != nil {
		tb.Fatal(err)
	}
	for _, to := range pathTo(s) {
		if r, err = db.Transition(id, []State{r.State}, to, Event{}, nil); err != nil {
			tb.Fatal(err)
		}
	}
	return r
}

func mustHistory(tb testing.TB, db *DB, q HistoryQuery) []Event {
	tb.Helper()
	evs, err := db.History(q)
	if err != nil {
		tb.Fatal(err)
	}
	return evs
}

// rawRequest is the stored bytes of a request.
func rawRequest(tb testing.TB, db *DB, id RequestID) []byte {
	tb.Helper()
	var raw []byte
	err := db.bolt.View(func(tx *bolt.Tx) error {
		raw = append([]byte(nil), tx.Bucket(bucketRequests).Get([]byte(id))...)
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

func actions(evs []Event) []Action {
	out := make([]Action, len(evs))
	for i, ev := range evs {
		out[i] = ev.Action
	}
	return out
}

var allStates = []State{StatePending, StateApproved, StateExecuting, StateDone, StateFailed, StateRejected, StateExpired, StateCancelled}

func TestOpen_FileMode(t *testing.T) {
	db := mustOpen(t, newClock())
	fi, err := os.Stat(db.Path())
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("mode = %v, want 0600", got)
	}
	v, err := db.SchemaVersion()
	if want := currentSchema(); err != nil || v != want {
		t.Errorf("SchemaVersion() = %d, %v; want %d", v, err, want)
	}
}

// bbolt locks the file with flock, which conflicts between two open file descriptions even
// inside one process, so a second Open here behaves like a second renewbot.
func TestOpen_Locked(t *testing.T) {
	db := mustOpen(t, newClock())
	start := time.Now()
	db2, err := Open(db.Path(), Options{Timeout: 100 * time.Millisecond})
	elapsed := time.Since(start)
	if err == nil {
		_ = db2.Close()
		t.Fatal("second Open succeeded")
	}
	if !errors.Is(err, ErrLocked) {
		t.Errorf("err = %v, want ErrLocked", err)
	}
	want := "open " + db.Path() + ": database is in use by another process (in use by another renewbot?)"
	if err.Error() != want {
		t.Errorf("err = %q\nwant  %q", err, want)
	}
	if elapsed > time.Second {
		t.Errorf("second Open took %v with a 100ms timeout", elapsed)
	}

	// Once the first one closes, the file opens again with its data.
	r := mustCreate(t, db, newRenewal(newClock(), "i-1"))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db3 := mustOpenPath(t, db.Path(), newClock())
	if _, err := db3.GetRequest(r.ID); err != nil {
		t.Fatal(err)
	}
}

func TestCreateRequest(t *testing.T) {
	clock := newClock()
	db := mustOpen(t, clock)
	r := newRenewal(clock, "i-1", "i-2")
	r.Items[1].State = ItemFailed // kept: only zero states become pending
	mustCreate(t, db, r)

	if len(r.ID) != 14 || r.ID[0] != 'R' {
		t.Errorf("ID = %q, want R + 13 characters", r.ID)
	}
	if r.State != StatePending || r.Version != 1 || !r.CreatedAt.Equal(clock.Now()) || !r.UpdatedAt.Equal(clock.Now()) {
		t.Errorf("created = %+v", r)
	}
	if r.Items[0].State != ItemPending || r.Items[1].State != ItemFailed {
		t.Errorf("item states = %v, %v", r.Items[0].State, r.Items[1].State)
	}
	got, err := db.GetRequest(r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(r) {
		t.Errorf("GetRequest = %+v\nwant %+v", got, r)
	}
	evs := mustHistory(t, db, HistoryQuery{RequestID: r.ID})
	if len(evs) != 1 || evs[0].Action != ActRequested || evs[0].Actor != "U0REQ" ||
		!slices.Equal(evs[0].InstanceIDs, []string{"i-1", "i-2"}) || !evs[0].Time.Equal(clock.Now()) {
		t.Errorf("history = %+v", evs)
	}
	if _, err := db.GetRequest("R0000000000000"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetRequest(unknown) err = %v, want ErrNotFound", err)
	}
}

func TestCreateRequest_Invalid(t *testing.T) {
	clock := newClock()
	db := mustOpen(t, clock)
	long := strings.Repeat("i", 129)
	tests := map[string]*Request{
		"no instances":   {Kind: KindRenew},
		"no kind":        {Items: []Item{{InstanceID: "i-1"}}},
		"empty ID":       {Kind: KindRenew, Items: []Item{{InstanceID: ""}}},
		"NUL":            {Kind: KindRenew, Items: []Item{{InstanceID: "i-\x00"}}},
		"too long":       {Kind: KindRenew, Items: []Item{{InstanceID: long}}},
		"listed twice":   {Kind: KindRenew, Items: []Item{{InstanceID: "i-1"}, {InstanceID: "i-1"}}},
		"bad kind (99)":  {Kind: 99, Items: []Item{{InstanceID: "i-1"}}},
		"day and months": {Kind: KindRenew, Months: 1, ExpectedRenewDay: 5, Items: []Item{{InstanceID: "i-1"}}},
		"day 29":         {Kind: KindRenew, ExpectedRenewDay: 29, Items: []Item{{InstanceID: "i-1"}}},
		"day auto-renew": {Kind: KindAutoRenew, ExpectedRenewDay: 5, Items: []Item{{InstanceID: "i-1"}}},
	}
	for name, r := range tests {
		t.Run(name, func(t *testing.T) {
			before := fmt.Sprint(r)
			if err := db.CreateRequest(r); !errors.Is(err, ErrInvalid) {
				t.Errorf("err = %v, want ErrInvalid", err)
			}
			if fmt.Sprint(r) != before {
				t.Errorf("request changed to %+v", r)
			}
		})
	}
	if err := db.CreateRequest(nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("nil: err = %v, want ErrInvalid", err)
	}
	if all, _ := db.ListRequests(); len(all) != 0 {
		t.Errorf("stored %d requests", len(all))
	}
	if evs := mustHistory(t, db, HistoryQuery{}); len(evs) != 0 {
		t.Errorf("audit = %+v", evs)
	}
}

func TestRequestID(t *testing.T) {
	clock := newClock()
	db := mustOpen(t, clock)
	var ids []RequestID
	for i := range 5 {
		if i == 3 {
			clock.Add(-time.Minute) // a clock going back still gives larger IDs
		}
		r := mustCreate(t, db, newRenewal(clock, fmt.Sprintf("i-%d", i)))
		ids = append(ids, r.ID)
	}
	if !slices.IsSorted(ids) || len(slices.Compact(slices.Clone(ids))) != len(ids) {
		t.Errorf("IDs not increasing: %v", ids)
	}
	for _, id := range ids {
		if strings.Trim(string(id[1:]), crockford) != "" {
			t.Errorf("ID %q has characters outside Crockford base32", id)
		}
		if n, ok := requestNumber(id); !ok || formatRequestID(n) != id {
			t.Errorf("requestNumber(%s) = %d, %v: does not round-trip", id, n, ok)
		}
	}
	if _, ok := requestNumber("RZ000000000000"); ok {
		t.Error("requestNumber accepted a 65-bit ID")
	}
	// An ID starts with the creation time in milliseconds.
	if want := formatRequestID(uint64(newClock().Now().UnixMilli()) << 16); ids[0] != want {
		t.Errorf("first ID = %s, want %s", ids[0], want)
	}

	id := ids[0]
	for _, in := range []string{string(id), strings.ToLower(string(id)), " " + string(id[1:]) + " ",
		strings.ReplaceAll(string(id), "0", "o"), strings.ReplaceAll(string(id), "1", "l")} {
		got, err := ParseRequestID(in)
		if err != nil || got != id {
			t.Errorf("ParseRequestID(%q) = %q, %v; want %q", in, got, err, id)
		}
	}
	for _, in := range []string{"", "R", "R01KBB6V3W000U", "X01KBB6V3W0000", "R01KBB6V3W00000", "hello"} {
		if got, err := ParseRequestID(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseRequestID(%q) = %q, %v; want ErrInvalid", in, got, err)
		}
	}
}

func TestTransition_AllPairs(t *testing.T) {
	clock := newClock()
	db := mustOpen(t, clock)
	n := 0
	for _, from := range allStates {
		for _, to := range allStates {
			t.Run(from.String()+"→"+to.String(), func(t *testing.T) {
				n++
				inst := fmt.Sprintf("i-%d", n)
				r := mustCreate(t, db, newRenewal(clock, inst))
				r = mustReach(t, db, r.ID, from)
				raw := rawRequest(t, db, r.ID)
				auditBefore := len(mustHistory(t, db, HistoryQuery{}))

				got, err := db.Transition(r.ID, []State{from}, to, Event{Actor: "U0APP"}, func(r *Request) error {
					r.Total = 42
					return nil
				})
				if !from.CanTransition(to) {
					var se *StateError
					if !errors.Is(err, ErrConflict) || !errors.As(err, &se) || se.Current != from || se.To != to {
						t.Fatalf("err = %v, want a StateError conflict", err)
					}
					if !strings.Contains(err.Error(), "is "+from.String()) {
						t.Errorf("error %q does not name the current state", err)
					}
					if !bytes.Equal(rawRequest(t, db, r.ID), raw) {
						t.Error("request changed")
					}
					if n := len(mustHistory(t, db, HistoryQuery{})); n != auditBefore {
						t.Errorf("audit grew from %d to %d", auditBefore, n)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if got.State != to || got.Version != r.Version+1 || got.Total != 42 {
					t.Errorf("got state %s version %d total %v", got.State, got.Version, got.Total)
				}
				stored, _ := db.GetRequest(r.ID)
				if fmt.Sprint(stored) != fmt.Sprint(got) {
					t.Errorf("stored %+v\nreturned %+v", stored, got)
				}
				evs := mustHistory(t, db, HistoryQuery{RequestID: r.ID, Limit: 1})
				if len(evs) != 1 || evs[0].Action != actionFor(to) || evs[0].Actor != "U0APP" ||
					!slices.Equal(evs[0].InstanceIDs, []string{inst}) {
					t.Errorf("last event = %+v", evs)
				}
				// A terminal state frees the instance; an open one keeps it.
				err = db.CreateRequest(newRenewal(clock, inst))
				if to.Terminal() && err != nil {
					t.Errorf("after %s: CreateRequest = %v", to, err)
				}
				if !to.Terminal() && !errors.Is(err, ErrConflict) {
					t.Errorf("after %s: CreateRequest = %v, want OpenRequestError", to, err)
				}
			})
		}
	}
}

func TestTransition_FromMismatch(t *testing.T) {
	clock := newClock()
	db := mustOpen(t, clock)
	r := mustCreate(t, db, newRenewal(clock, "i-1"))
	// pending → cancelled is legal, but the caller expected approved.
	_, err := db.Transition(r.ID, []State{StateApproved}, StateCancelled, Event{}, nil)
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("err = %v, want ErrConflict", err)
	}
	if got, _ := db.GetRequest(r.ID); got.State != StatePending || got.Version != 1 {
		t.Errorf("request changed: %+v", got)
	}
	// Empty from: any state, CanTransition decides.
	if _, err := db.Transition(r.ID, nil, StateCancelled, Event{}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Transition("R0000000000000", nil, StateApproved, Event{}, nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown request: err = %v, want ErrNotFound", err)
	}
}

func TestTransition_Concurrent(t *testing.T) {
	clock := newClock()
	db := mustOpen(t, clock)
	r := mustCreate(t, db, newRenewal(clock, "i-1"))
	mustReach(t, db, r.ID, StateApproved)

	const n = 50
	var (
		wg        sync.WaitGroup
		start     = make(chan struct{})
		errs      = make([]error, n)
		succeeded = make([]bool, n)
	)
	for i := range n {
		wg.Go(func() {
			<-start
			_, err := db.Transition(r.ID, []State{StateApproved}, StateExecuting, Event{Actor: fmt.Sprintf("w%d", i)}, nil)
			errs[i], succeeded[i] = err, err == nil
		})
	}
	close(start)
	wg.Wait()
	wins := 0
	for i, ok := range succeeded {
		if ok {
			wins++
		} else if !errors.Is(errs[i], ErrConflict) {
			t.Errorf("goroutine %d: %v, want ErrConflict", i, errs[i])
		}
	}
	if wins != 1 {
		t.Errorf("%d claims succeeded, want exactly 1", wins)
	}
	claims := 0
	for _, ev := range mustHistory(t, db, HistoryQuery{RequestID: r.ID}) {
		if ev.Action == ActClaimed {
			claims++
		}
	}
	if claims != 1 {
		t.Errorf("%d claimed events, want 1", claims)
	}
	if got, _ := db.GetRequest(r.ID); got.State != StateExecuting || got.Version != 3 {
		t.Errorf("request = %s version %d", got.State, got.Version)
	}
}

func TestTransition_PastDeadline(t *testing.T) {
	clock := newClock()
	db := mustOpen(t, clock)
	r := mustCreate(t, db, newRenewal(clock, "i-1"))
	clock.Add(time.Hour) // deadline reached
	for _, to := range []State{StateApproved, StateRejected, StateCancelled} {
		_, err := db.Transition(r.ID, []State{StatePending}, to, Event{Actor: "U0APP"}, nil)
		var se *StateError
		if !errors.Is(err, ErrConflict) || !errors.As(err, &se) || !se.Deadline.Equal(r.Deadline) {
			t.Errorf("to %s: err = %v, want an expired conflict", to, err)
		} else if !strings.Contains(err.Error(), "expired") {
			t.Errorf("error %q does not say expired", err)
		}
	}
	got, err := db.Transition(r.ID, []State{StatePending}, StateExpired, Event{}, nil)
	if err != nil || got.State != StateExpired {
		t.Fatalf("expire: %v, %v", got, err)
	}
	evs := mustHistory(t, db, HistoryQuery{RequestID: r.ID})
	if want := []Action{ActRequested, ActExpired}; !slices.Equal(actions(evs), want) || evs[1].Actor != "renewbot" {
		t.Errorf("history = %+v, want %v by renewbot", evs, want)
	}
}

func TestTransition_MutateAborts(t *testing.T) {
	clock := newClock()
	db := mustOpen(t, clock)
	r := mustCreate(t, db, newRenewal(clock, "i-1"))
	raw := rawRequest(t, db, r.ID)
	boom := errors.New("boom")

	_, err := db.Transition(r.ID, []State{StatePending}, StateApproved, Event{}, func(r *Request) error {
		r.Total = 1
		r.Approvals = append(r.Approvals, Decision{User: "U0APP"})
		return boom
	})
	if !errors.Is(err, boom) {
		t.Errorf("Transition err = %v, want boom", err)
	}
	_, err = db.Mutate(r.ID, Event{Action: ActApproved}, func(r *Request) error {
		r.Total = 1
		return boom
	})
	if !errors.Is(err, boom) {
		t.Errorf("Mutate err = %v, want boom", err)
	}
	// mutate may not touch what the store owns.
	for name, f := range map[string]func(*Request){
		"state":     func(r *Request) { r.State = StateDone },
		"id":        func(r *Request) { r.ID = "R1" },
		"version":   func(r *Request) { r.Version = 9 },
		"instances": func(r *Request) { r.Items = append(r.Items, Item{InstanceID: "i-2"}) },
	} {
		_, err := db.Mutate(r.ID, Event{Action: ActApproved}, func(r *Request) error { f(r); return nil })
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("mutate %s: err = %v, want ErrInvalid", name, err)
		}
	}
	if !bytes.Equal(rawRequest(t, db, r.ID), raw) {
		t.Error("request changed")
	}
	if evs := mustHistory(t, db, HistoryQuery{}); len(evs) != 1 {
		t.Errorf("audit = %v, want only the request", actions(evs))
	}
}

func TestMutate(t *testing.T) {
	clock := newClock()
	db := mustOpen(t, clock)
	r := mustCreate(t, db, newRenewal(clock, "i-1"))
	clock.Add(time.Minute)
	got, err := db.Mutate(r.ID, Event{Actor: "U0APP", Action: ActApproved, Detail: "1 of 2"}, func(r *Request) error {
		r.Approvals = append(r.Approvals, Decision{User: "U0APP", At: clock.Now()})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.State != StatePending || got.Version != 2 || len(got.Approvals) != 1 || !got.UpdatedAt.Equal(clock.Now()) {
		t.Errorf("got %+v", got)
	}
	// No action: no audit entry.
	got, err = db.Mutate(r.ID, Event{}, func(r *Request) error {
		r.Message = MessageRef{Channel: "C0OPS", TS: "1700000000.000100"}
		return nil
	})
	if err != nil || got.Version != 3 || got.Message.TS != "1700000000.000100" {
		t.Fatalf("got %+v, %v", got, err)
	}
	evs := mustHistory(t, db, HistoryQuery{RequestID: r.ID})
	if want := []Action{ActRequested, ActApproved}; !slices.Equal(actions(evs), want) {
		t.Errorf("history = %v, want %v", actions(evs), want)
	}
	if evs[1].Detail != "1 of 2" || evs[1].RequestID != r.ID || !slices.Equal(evs[1].InstanceIDs, []string{"i-1"}) {
		t.Errorf("event = %+v", evs[1])
	}
}

func TestCreateRequest_OneOpenPerInstance(t *testing.T) {
	clock := newClock()
	db := mustOpen(t, clock)
	first := mustCreate(t, db, newRenewal(clock, "i-1", "i-2"))

	second := newRenewal(clock, "i-3", "i-2")
	err := db.CreateRequest(second)
	var oe *OpenRequestError
	if !errors.As(err, &oe) || oe.InstanceID != "i-2" || oe.Existing != first.ID || oe.State != StatePending {
		t.Fatalf("err = %v, want OpenRequestError pointing to %s", err, first.ID)
	}
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), string(first.ID)) {
		t.Errorf("err = %v", err)
	}
	if second.ID != "" {
		t.Errorf("refused request got ID %s", second.ID)
	}
	if all, _ := db.ListRequests(); len(all) != 1 {
		t.Errorf("%d requests stored, want 1", len(all))
	}
	// i-3 was not taken by the refused request.
	if _, err := db.OpenRequest("i-3"); !errors.Is(err, ErrNotFound) {
		t.Errorf("OpenRequest(i-3) err = %v, want ErrNotFound", err)
	}
	third := mustCreate(t, db, newRenewal(clock, "i-3"))
	if got, err := db.OpenRequest("i-2"); err != nil || got.ID != first.ID {
		t.Errorf("OpenRequest(i-2) = %v, %v; want %s", got, err, first.ID)
	}

	// Still refused while approved and executing; freed by done.
	mustReach(t, db, first.ID, StateExecuting)
	if err := db.CreateRequest(newRenewal(clock, "i-1")); !errors.As(err, &oe) || oe.State != StateExecuting {
		t.Errorf("while executing: err = %v", err)
	}
	if _, err := db.Transition(first.ID, []State{StateExecuting}, StateDone, Event{}, nil); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, db, newRenewal(clock, "i-1", "i-2"))

	// A pending request past its deadline does not hold its instance: a new one takes over,
	// the old one stays pending until the sweep expires it, and expiring it later does not
	// free the instance of the new one.
	clock.Add(2 * time.Hour)
	fourth := mustCreate(t, db, newRenewal(clock, "i-3"))
	if old, _ := db.GetRequest(third.ID); old.State != StatePending || old.EffectiveState(clock.Now()) != StateExpired {
		t.Errorf("old request = %s", old.State)
	}
	if _, err := db.Transition(third.ID, []State{StatePending}, StateExpired, Event{}, nil); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateRequest(newRenewal(clock, "i-3")); !errors.As(err, &oe) || oe.Existing != fourth.ID {
		t.Errorf("after expiring the old one: err = %v, want pointer to %s", err, fourth.ID)
	}
	if _, err := db.OpenRequest("i-1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("OpenRequest(i-1) after its deadline: err = %v, want ErrNotFound", err)
	}
}

func TestListRequestsAndCounts(t *testing.T) {
	clock := newClock()
	db := mustOpen(t, clock)
	var ids []RequestID
	for i := range 4 {
		ids = append(ids, mustCreate(t, db, newRenewal(clock, fmt.Sprintf("i-%d", i))).ID)
	}
	mustReach(t, db, ids[1], StateDone)
	mustReach(t, db, ids[2], StateRejected)

	all, err := db.ListRequests()
	if err != nil {
		t.Fatal(err)
	}
	var got []RequestID
	for _, r := range all {
		got = append(got, r.ID)
	}
	if want := []RequestID{ids[3], ids[2], ids[1], ids[0]}; !slices.Equal(got, want) {
		t.Errorf("ListRequests() = %v, want newest first %v", got, want)
	}
	pending, _ := db.ListRequests(StatePending, StateDone)
	if len(pending) != 3 || pending[0].ID != ids[3] || pending[1].ID != ids[1] {
		t.Errorf("ListRequests(pending, done) = %v", pending)
	}

	counts, err := db.Counts()
	if err != nil {
		t.Fatal(err)
	}
	if want := map[State]int{StatePending: 2, StateDone: 1, StateRejected: 1}; fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("Counts() = %v, want %v", counts, want)
	}
	clock.Add(time.Hour) // the pending ones are now expired
	counts, _ = db.Counts()
	if want := map[State]int{StateExpired: 2, StateDone: 1, StateRejected: 1}; fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("Counts() after the deadline = %v, want %v", counts, want)
	}
}

func TestAudit(t *testing.T) {
	clock := newClock()
	db := mustOpen(t, clock)
	if err := db.Audit(Event{Actor: "U1"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("no action: err = %v, want ErrInvalid", err)
	}
	// Bad IDs are recorded but not indexed.
	long := strings.Repeat("x", 200)
	if err := db.Audit(Event{Action: ActRefused, Actor: "U1", InstanceIDs: []string{long, "i-1", "i-1"}, Detail: "unknown instance"}); err != nil {
		t.Fatal(err)
	}
	evs := mustHistory(t, db, HistoryQuery{})
	if len(evs) != 1 || evs[0].Seq != 1 || !evs[0].Time.Equal(clock.Now()) || evs[0].InstanceIDs[0] != long {
		t.Fatalf("history = %+v", evs)
	}
	if evs := mustHistory(t, db, HistoryQuery{InstanceID: "i-1"}); len(evs) != 1 {
		t.Errorf("by instance: %d events, want 1 (indexed once)", len(evs))
	}
	if _, err := db.History(HistoryQuery{InstanceID: long}); !errors.Is(err, ErrInvalid) {
		t.Errorf("History(long ID) err = %v, want ErrInvalid", err)
	}
	if err := db.Audit(Event{Action: ActRefused}); err != nil {
		t.Fatal(err)
	}
	if evs := mustHistory(t, db, HistoryQuery{Limit: 1}); evs[0].Actor != "renewbot" || evs[0].Seq != 2 {
		t.Errorf("default actor: %+v", evs)
	}
}

func TestHistory(t *testing.T) {
	clock := newClock()
	db := mustOpen(t, clock)
	t0 := clock.Now()
	a := mustCreate(t, db, newRenewal(clock, "i-1", "i-2")) // t0
	clock.Add(time.Minute)
	b := mustCreate(t, db, newRenewal(clock, "i-3")) // t0+1m
	clock.Add(time.Minute)
	mustReach(t, db, a.ID, StateDone) // approved, claimed, done at t0+2m
	clock.Add(time.Minute)
	if err := db.Audit(Event{Action: ActRefused, Actor: "U9", RequestID: b.ID, InstanceIDs: []string{"i-3"}, Detail: "not an approver"}); err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Minute)
	// An event whose caller put an older time on it is recorded at the store's time (t0+4m).
	if err := db.Audit(Event{Time: t0.Add(30 * time.Second), Action: ActItemFailed, RequestID: a.ID, InstanceIDs: []string{"i-2"}}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		q    HistoryQuery
		want []Action
	}{
		{"all", HistoryQuery{}, []Action{ActRequested, ActRequested, ActApproved, ActClaimed, ActDone, ActRefused, ActItemFailed}},
		{"request a", HistoryQuery{RequestID: a.ID}, []Action{ActRequested, ActApproved, ActClaimed, ActDone, ActItemFailed}},
		{"request b", HistoryQuery{RequestID: b.ID}, []Action{ActRequested, ActRefused}},
		{"instance i-1", HistoryQuery{InstanceID: "i-1"}, []Action{ActRequested, ActApproved, ActClaimed, ActDone}},
		{"instance i-2", HistoryQuery{InstanceID: "i-2"}, []Action{ActRequested, ActApproved, ActClaimed, ActDone, ActItemFailed}},
		{"instance i-3", HistoryQuery{InstanceID: "i-3"}, []Action{ActRequested, ActRefused}},
		{"request and instance", HistoryQuery{RequestID: a.ID, InstanceID: "i-2"}, []Action{ActRequested, ActApproved, ActClaimed, ActDone, ActItemFailed}},
		{"request and other instance", HistoryQuery{RequestID: a.ID, InstanceID: "i-3"}, nil},
		{"unknown instance", HistoryQuery{InstanceID: "i-9"}, nil},
		{"unknown request", HistoryQuery{RequestID: "R0000000000000"}, nil},
		{"since", HistoryQuery{Since: t0.Add(time.Minute)}, []Action{ActRequested, ActApproved, ActClaimed, ActDone, ActRefused, ActItemFailed}},
		{"since, i-2", HistoryQuery{InstanceID: "i-2", Since: t0.Add(2 * time.Minute)}, []Action{ActApproved, ActClaimed, ActDone, ActItemFailed}},
		{"since, request a", HistoryQuery{RequestID: a.ID, Since: t0.Add(time.Second)}, []Action{ActApproved, ActClaimed, ActDone, ActItemFailed}},
		{"since after all", HistoryQuery{Since: t0.Add(time.Hour)}, nil},
		{"limit", HistoryQuery{Limit: 2}, []Action{ActRefused, ActItemFailed}},
		{"limit more than all", HistoryQuery{RequestID: b.ID, Limit: 10}, []Action{ActRequested, ActRefused}},
		{"limit, instance", HistoryQuery{InstanceID: "i-1", Limit: 3}, []Action{ActApproved, ActClaimed, ActDone}},
		{"limit, request", HistoryQuery{RequestID: a.ID, Limit: 1}, []Action{ActItemFailed}},
		{"limit and since", HistoryQuery{InstanceID: "i-3", Since: t0.Add(2 * time.Minute), Limit: 5}, []Action{ActRefused}},
		{"limit, request and instance", HistoryQuery{RequestID: a.ID, InstanceID: "i-2", Limit: 4}, []Action{ActApproved, ActClaimed, ActDone, ActItemFailed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs := mustHistory(t, db, tt.q)
			if got := actions(evs); !slices.Equal(got, tt.want) {
				t.Errorf("History(%+v) = %v\nwant %v", tt.q, got, tt.want)
			}
			for i := 1; i < len(evs); i++ {
				if evs[i].Time.Before(evs[i-1].Time) {
					t.Errorf("not oldest first: %v before %v", evs[i-1].Time, evs[i].Time)
				}
			}
		})
	}
	// The instance history is not fooled by an instance ID that is a prefix of another.
	mustCreate(t, db, newRenewal(clock, "i-11"))
	if got := actions(mustHistory(t, db, HistoryQuery{InstanceID: "i-1"})); len(got) != 4 {
		t.Errorf("i-1 history picked up i-11: %v", got)
	}
}

func TestDigests(t *testing.T) {
	clock := newClock()
	path := filepath.Join(t.TempDir(), "renewbot.db")
	db, err := Open(path, Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	begin := func(channel, day string, force, want bool) {
		t.Helper()
		_, got, err := db.BeginDigest(channel, day, force)
		if err != nil || got != want {
			t.Errorf("BeginDigest(%s, %s, %v) = %v, %v; want %v", channel, day, force, got, err, want)
		}
	}
	begin("C1", "2026-11-25", false, true)
	begin("C1", "2026-11-25", false, true) // started but not finished (a crash): continue
	if err := db.FinishDigest("C1", "2026-11-25", "1700000000.000100", 12); err != nil {
		t.Fatal(err)
	}
	begin("C1", "2026-11-25", false, false)
	begin("C2", "2026-11-25", false, true)
	begin("C1", "2026-11-26", false, true)
	begin("C1", "2026-11-25", true, true) // forced

	// Across a restart.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = mustOpenPath(t, path, clock)
	begin("C1", "2026-11-25", false, false)

	if _, _, err := db.BeginDigest("C\x001", "2026-11-25", false); !errors.Is(err, ErrInvalid) {
		t.Errorf("NUL channel: err = %v, want ErrInvalid", err)
	}
	if err := db.FinishDigest("C1", "", "", 0); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty day: err = %v, want ErrInvalid", err)
	}
	evs := mustHistory(t, db, HistoryQuery{})
	if len(evs) != 1 || evs[0].Action != ActDigest || !strings.Contains(evs[0].Detail, "C1") || !strings.Contains(evs[0].Detail, "12") {
		t.Errorf("audit = %+v", evs)
	}
}

func TestSnoozes(t *testing.T) {
	clock := newClock()
	db := mustOpen(t, clock)
	now := clock.Now()
	for _, s := range []Snooze{
		{InstanceID: "i-1", Until: now.Add(24 * time.Hour), By: "U1"},
		{InstanceID: "i-2", Until: now.Add(72 * time.Hour), By: "U2"},
		{InstanceID: "i-3", Until: now.Add(time.Hour), By: "U3"},
	} {
		if err := db.Snooze(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Snooze(Snooze{InstanceID: "i-3", By: "U3"}); err != nil { // cleared
		t.Fatal(err)
	}
	got, err := db.Snoozed(now)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["i-1"].By != "U1" || !got["i-2"].Until.Equal(now.Add(72*time.Hour)) {
		t.Errorf("Snoozed(now) = %v", got)
	}
	if got, _ := db.Snoozed(now.Add(48 * time.Hour)); len(got) != 1 || got["i-2"].By != "U2" {
		t.Errorf("Snoozed(+48h) = %v", got)
	}
	if got, _ := db.Snoozed(now.Add(72 * time.Hour)); len(got) != 0 {
		t.Errorf("Snoozed(+72h) = %v", got)
	}
	if err := db.Snooze(Snooze{InstanceID: ""}); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty instance: err = %v, want ErrInvalid", err)
	}
	evs := mustHistory(t, db, HistoryQuery{InstanceID: "i-3"})
	if len(evs) != 2 || evs[0].Action != ActSnoozed || evs[0].Actor != "U3" || evs[1].Detail != "snooze cleared" {
		t.Errorf("i-3 history = %+v", evs)
	}
}

func TestBackup(t *testing.T) {
	clock := newClock()
	db := mustOpen(t, clock)
	a := mustCreate(t, db, newRenewal(clock, "i-1"))
	b := mustCreate(t, db, newRenewal(clock, "i-2"))
	mustReach(t, db, b.ID, StateDone)

	path := filepath.Join(t.TempDir(), "backup.db")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := db.Backup(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Size() != n || n == 0 {
		t.Errorf("Backup wrote %d bytes, file has %d", n, fi.Size())
	}
	// The original is still open: a backup is taken while the bot runs.
	if err := db.WriteCheck(); err != nil {
		t.Fatal(err)
	}

	copyDB := mustOpenPath(t, path, clock)
	want, _ := db.ListRequests()
	got, err := copyDB.ListRequests()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) || len(got) != 2 {
		t.Errorf("backup requests = %v\nwant %v", got, want)
	}
	if h1, h2 := mustHistory(t, db, HistoryQuery{}), mustHistory(t, copyDB, HistoryQuery{}); !reflect.DeepEqual(h1, h2) || len(h1) != 5 {
		t.Errorf("backup history differs")
	}
	// The open-request index came along.
	if err := copyDB.CreateRequest(newRenewal(clock, "i-1")); !errors.Is(err, ErrConflict) {
		t.Errorf("backup lost the open index for %s: %v", a.ID, err)
	}
}

// The store sets an event's time and sequence: a caller's backdated 2020 event and its own
// sequence number are ignored, so it cannot show first in the history.
func TestAudit_ServerSetsTimeAndSeq(t *testing.T) {
	clock := newClock()
	db := mustOpen(t, clock)
	if err := db.Audit(Event{Action: ActRefused, Actor: "U1", Detail: "first"}); err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Minute)
	backdated := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := db.Audit(Event{Seq: 1, Time: backdated, Action: ActRefused, Actor: "cli:mallory", Detail: "backdated"}); err != nil {
		t.Fatal(err)
	}
	evs := mustHistory(t, db, HistoryQuery{})
	if len(evs) != 2 || evs[0].Detail != "first" || evs[1].Detail != "backdated" {
		t.Fatalf("history %+v, want the backdated event last", evs)
	}
	if got := evs[1]; got.Seq != 2 || !got.Time.Equal(clock.Now()) {
		t.Errorf("backdated event recorded as seq %d at %v, want seq 2 at the store's %v", got.Seq, got.Time, clock.Now())
	}
}
