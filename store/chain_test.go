package store

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// auditN writes n events, one minute apart.
func auditN(t *testing.T, db *DB, clock *fakeClock, n int) {
	t.Helper()
	for i := range n {
		if err := db.Audit(Event{Action: ActRefused, Actor: "U1", RequestID: "R038GG02400000", InstanceIDs: []string{"i-1", "i-2"},
			Detail: strings.Repeat("x", i)}); err != nil {
			t.Fatal(err)
		}
		clock.Add(time.Minute)
	}
}

// editAudit rewrites the stored event with seq in place (as someone editing the file would).
func editAudit(t *testing.T, db *DB, seq uint64, edit func(ev *Event) (keep bool)) {
	t.Helper()
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAudit)
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var ev Event
			if err := json.Unmarshal(v, &ev); err != nil {
				return err
			}
			if ev.Seq != seq {
				continue
			}
			if !edit(&ev) {
				return b.Delete(k)
			}
			nv, err := json.Marshal(ev)
			if err != nil {
				return err
			}
			return b.Put(k, nv)
		}
		t.Fatalf("no event %d", seq)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestVerifyAudit_Sound(t *testing.T) {
	clock := newClock()
	db := mustOpen(t, clock)
	if head, err := db.VerifyAudit(); err != nil || head.Events != 0 {
		t.Fatalf("empty log: %+v, %v", head, err)
	}
	auditN(t, db, clock, 5)
	r := mustCreate(t, db, newRenewal(clock, "i-9")) // events written inside other transactions chain too
	mustReach(t, db, r.ID, StateDone)
	head, err := db.VerifyAudit()
	if err != nil {
		t.Fatal(err)
	}
	evs := mustHistory(t, db, HistoryQuery{})
	last := evs[len(evs)-1]
	if head.Events != len(evs) || head.Seq != last.Seq || head.Hash != last.Hash || len(last.Hash) != 64 {
		t.Errorf("head %+v, last event %+v", head, last)
	}
	// Each hash follows from the one before.
	for i := 1; i < len(evs); i++ {
		if evs[i].Hash == evs[i-1].Hash {
			t.Errorf("events %d and %d share a hash", evs[i-1].Seq, evs[i].Seq)
		}
	}
}

func TestVerifyAudit_EditedRecordIsNamed(t *testing.T) {
	for name, edit := range map[string]func(ev *Event) bool{
		"detail":   func(ev *Event) bool { ev.Detail = "nothing happened"; return true },
		"actor":    func(ev *Event) bool { ev.Actor = "UOTHER"; return true },
		"time":     func(ev *Event) bool { ev.Time = ev.Time.Add(-time.Hour); return true },
		"instance": func(ev *Event) bool { ev.InstanceIDs = ev.InstanceIDs[:1]; return true },
		"hash":     func(ev *Event) bool { ev.Hash = strings.Repeat("0", 64); return true },
		"rehashed": func(ev *Event) bool {
			ev.Detail = "forged"
			ev.Hash = hex.EncodeToString(eventHash(make([]byte, 32), ev))
			return true
		},
		"moved fields": func(ev *Event) bool { ev.Actor, ev.Detail = ev.Actor+ev.Detail[:1], ev.Detail[1:]; return true },
	} {
		t.Run(name, func(t *testing.T) {
			clock := newClock()
			db := mustOpen(t, clock)
			auditN(t, db, clock, 6)
			editAudit(t, db, 3, edit)
			_, err := db.VerifyAudit()
			if ce, ok := errors.AsType[*ChainError](err); !ok || ce.Seq != 3 {
				t.Errorf("VerifyAudit() = %v, want a broken chain at record 3", err)
			}
		})
	}
}

func TestVerifyAudit_DeletedRecords(t *testing.T) {
	for name, tc := range map[string]struct {
		del  uint64
		want uint64
	}{
		"middle": {del: 3, want: 3},
		"first":  {del: 1, want: 1},
		"last":   {del: 6, want: 6},
	} {
		t.Run(name, func(t *testing.T) {
			clock := newClock()
			db := mustOpen(t, clock)
			auditN(t, db, clock, 6)
			editAudit(t, db, tc.del, func(*Event) bool { return false })
			_, err := db.VerifyAudit()
			if ce, ok := errors.AsType[*ChainError](err); !ok || ce.Seq != tc.want || !strings.Contains(ce.Error(), "missing") {
				t.Errorf("VerifyAudit() = %v, want record %d missing", err, tc.want)
			}
		})
	}
}

// A file written before events carried hashes (schema 1) is chained when it is opened, and
// its events keep their content.
func TestMigrate_ChainsTheAuditLog(t *testing.T) {
	clock := newClock()
	path := filepath.Join(t.TempDir(), "renewbot.db")
	old, err := open(path, Options{Now: clock.Now}, migrations()[:1])
	if err != nil {
		t.Fatal(err)
	}
	auditN(t, old, clock, 4)
	r := mustCreate(t, old, newRenewal(clock, "i-9"))
	// As schema 1 wrote them: no hashes, no head.
	err = old.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAudit)
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var ev Event
			if err := json.Unmarshal(v, &ev); err != nil {
				return err
			}
			ev.Hash = ""
			nv, _ := json.Marshal(ev)
			if err := b.Put(k, nv); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Delete(keyAuditHead)
	})
	if err != nil {
		t.Fatal(err)
	}
	before := mustHistory(t, old, HistoryQuery{})
	if _, err := old.VerifyAudit(); err == nil {
		t.Fatal("an unchained log verified")
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	db := mustOpenPath(t, path, clock)
	if v, _ := db.SchemaVersion(); v != currentSchema() {
		t.Errorf("schema %d, want %d", v, currentSchema())
	}
	head, err := db.VerifyAudit()
	if err != nil {
		t.Fatalf("after the migration: %v", err)
	}
	after := mustHistory(t, db, HistoryQuery{})
	if head.Events != len(before) || len(after) != len(before) {
		t.Fatalf("%d events before, %d after, head %+v", len(before), len(after), head)
	}
	for i := range before {
		b, a := before[i], after[i]
		if a.Hash == "" || a.Seq != b.Seq || !a.Time.Equal(b.Time) || a.Actor != b.Actor || a.Action != b.Action || a.Detail != b.Detail {
			t.Errorf("event %d changed: %+v → %+v", b.Seq, b, a)
		}
	}
	// New events continue the chain.
	mustReach(t, db, r.ID, StateRejected)
	if head, err := db.VerifyAudit(); err != nil || head.Events != len(before)+1 {
		t.Errorf("after a new event: %+v, %v", head, err)
	}
}
