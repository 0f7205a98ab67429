package store

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BenchmarkLifecycle measures whole requests on one file: create, approve, claim, done (four
// write transactions, each committed with fsync unless NoSync).
func BenchmarkLifecycle(b *testing.B) {
	for _, noSync := range []bool{false, true} {
		name := "fsync"
		if noSync {
			name = "nosync"
		}
		b.Run(name, func(b *testing.B) {
			db, err := Open(filepath.Join(b.TempDir(), "renewbot.db"), Options{NoSync: noSync})
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = db.Close() }()
			claimed := Event{Actor: "renewbot", Action: ActClaimed}
			i := 0
			for b.Loop() {
				i++
				r := &Request{Kind: KindRenew, Requester: "U0REQ", Months: 1, Deadline: time.Now().Add(time.Hour),
					Items: []Item{{InstanceID: fmt.Sprintf("i-%08d", i), Price: 100, Currency: "CNY"}}}
				if err := db.CreateRequest(r); err != nil {
					b.Fatal(err)
				}
				if _, err := db.Transition(r.ID, []State{StatePending}, StateApproved, Event{Actor: "U0APP"}, func(r *Request) error {
					r.Approvals = append(r.Approvals, Decision{User: "U0APP", At: time.Now()})
					return nil
				}); err != nil {
					b.Fatal(err)
				}
				if _, err := db.Transition(r.ID, []State{StateApproved}, StateExecuting, claimed, nil); err != nil {
					b.Fatal(err)
				}
				if _, err := db.Transition(r.ID, []State{StateExecuting}, StateDone, Event{}, func(r *Request) error {
					r.Items[0].State, r.Items[0].OrderID, r.Items[0].NewExpiry = ItemDone, "O-1", time.Now()
					return nil
				}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "requests/s")
		})
	}
}

// BenchmarkLargeAudit builds a file with 1,000,000 audit events spread over 10,000 instances
// (and 100,000 requests), then measures Open and one instance's History on it.
func BenchmarkLargeAudit(b *testing.B) {
	const (
		events    = 1_000_000
		instances = 10_000
		perReq    = 10
		batch     = 50_000
	)
	path := filepath.Join(b.TempDir(), "large.db")
	start := time.Now()
	db, err := Open(path, Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	acts := []Action{ActRequested, ActApproved, ActClaimed, ActCalled, ActOrdered, ActVerified, ActDone}
	for lo := 0; lo < events; lo += batch {
		err := db.bolt.Update(func(tx *bolt.Tx) error {
			for i := lo; i < lo+batch; i++ {
				req := i / perReq
				ev := Event{
					Time:        t0.Add(time.Duration(i) * time.Second),
					Actor:       "U0APP",
					Action:      acts[i%len(acts)],
					RequestID:   formatRequestID(uint64(req) + 1),
					InstanceIDs: []string{fmt.Sprintf("i-bp1%012d", req%instances)},
					Detail:      "ClientToken rb-0123456789abcdef0123456789abcdef0",
				}
				if err := db.appendEvent(tx, &ev); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("fixture: %d events, %d MB, built in %v", events, fi.Size()>>20, time.Since(start).Round(time.Millisecond))

	b.Run("open", func(b *testing.B) {
		for b.Loop() {
			db, err := Open(path, Options{})
			if err != nil {
				b.Fatal(err)
			}
			if err := db.Close(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "open-ms")
	})

	b.Run("history", func(b *testing.B) {
		db, err := Open(path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer func() { _ = db.Close() }()
		i, n := 0, 0
		for b.Loop() {
			i++
			evs, err := db.History(HistoryQuery{InstanceID: fmt.Sprintf("i-bp1%012d", (i*7919)%instances)})
			if err != nil {
				b.Fatal(err)
			}
			n = len(evs)
		}
		if n != events/instances {
			b.Fatalf("history has %d events, want %d", n, events/instances)
		}
		b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "history-ms")
		b.ReportMetric(float64(n), "events")
	})

	b.Run("history-limit-since", func(b *testing.B) {
		db, err := Open(path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer func() { _ = db.Close() }()
		since := t0.Add(events / 2 * time.Second)
		i := 0
		for b.Loop() {
			i++
			evs, err := db.History(HistoryQuery{InstanceID: fmt.Sprintf("i-bp1%012d", (i*7919)%instances), Since: since, Limit: 20})
			if err != nil {
				b.Fatal(err)
			}
			if len(evs) != 20 {
				b.Fatalf("history has %d events, want 20", len(evs))
			}
		}
		b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "history-ms")
	})
}
