package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// writeV0File writes a schema-0 file: the prototype layout, a requests bucket and nothing
// else (no meta, no indexes).
func writeV0File(t *testing.T, path string, reqs ...*Request) {
	t.Helper()
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = b.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucket(bucketRequests)
		if err != nil {
			return err
		}
		for _, r := range reqs {
			v, err := json.Marshal(r)
			if err != nil {
				return err
			}
			if err := bk.Put([]byte(r.ID), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestMigrate_FromV0(t *testing.T) {
	clock := newClock()
	path := filepath.Join(t.TempDir(), "old.db")
	pending := &Request{ID: "R038GKVSH86000", Kind: KindRenew, State: StatePending, Version: 1,
		Deadline: clock.Now().Add(time.Hour), Items: []Item{{InstanceID: "i-1"}}}
	done := &Request{ID: "R038GKVSH86001", Kind: KindRenew, State: StateDone, Version: 4,
		Items: []Item{{InstanceID: "i-2"}}}
	writeV0File(t, path, pending, done)

	db := mustOpenPath(t, path, clock)
	if v, err := db.SchemaVersion(); err != nil || v != currentSchema() {
		t.Fatalf("SchemaVersion() = %d, %v; want %d", v, err, currentSchema())
	}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		for _, name := range allBuckets() {
			if tx.Bucket(name) == nil {
				t.Errorf("bucket %s missing", name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The open index was rebuilt from the old requests.
	var oe *OpenRequestError
	if err := db.CreateRequest(newRenewal(clock, "i-1")); !errors.As(err, &oe) || oe.Existing != pending.ID {
		t.Errorf("i-1: err = %v, want pointer to %s", err, pending.ID)
	}
	r := mustCreate(t, db, newRenewal(clock, "i-2"))
	if r.ID <= done.ID {
		t.Errorf("new ID %s does not sort after the old %s", r.ID, done.ID)
	}
	if got, err := db.GetRequest(done.ID); err != nil || got.Version != 4 {
		t.Errorf("old request = %+v, %v", got, err)
	}
}

func TestMigrate_Mechanism(t *testing.T) {
	clock := newClock()
	path := filepath.Join(t.TempDir(), "renewbot.db")
	db := mustOpenPath(t, path, clock) // the current schema
	cur := currentSchema()
	next := cur + 1
	r := mustCreate(t, db, newRenewal(clock, "i-1"))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	runs := 0
	boom := errors.New("disk on fire")
	v2 := func(fail bool) []migration {
		return append(migrations(), migration{to: next, name: "mark requests", run: func(tx *bolt.Tx) error {
			runs++
			if err := tx.Bucket(bucketMeta).Put([]byte("v2"), []byte(r.ID)); err != nil {
				return err
			}
			if fail {
				return boom
			}
			return nil
		}})
	}
	reopen := func(migs []migration) (*DB, error) {
		return open(path, Options{Now: clock.Now}, migs)
	}
	version := func() (v uint64, marker []byte) {
		t.Helper()
		b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = b.Close() }()
		_ = b.View(func(tx *bolt.Tx) error {
			v = schemaVersion(tx)
			marker = append([]byte(nil), tx.Bucket(bucketMeta).Get([]byte("v2"))...)
			return nil
		})
		return v, marker
	}

	// A failing migration leaves the file as it was.
	if _, err := reopen(v2(true)); !errors.Is(err, boom) || !strings.Contains(err.Error(), fmt.Sprintf("migrate to schema %d (mark requests)", next)) {
		t.Fatalf("err = %v, want the migration's error", err)
	}
	if v, marker := version(); v != cur || marker != nil {
		t.Errorf("after a failed migration: version %d, marker %q", v, marker)
	}

	// A good one runs once.
	db, err := reopen(v2(false))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := db.GetRequest(r.ID); got == nil {
		t.Error("request lost")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if v, marker := version(); v != next || string(marker) != string(r.ID) {
		t.Errorf("after migrating: version %d, marker %q", v, marker)
	}
	db, err = reopen(v2(false))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if runs != 2 {
		t.Errorf("migration ran %d times, want 2 (one failed, one applied)", runs)
	}

	// A renewbot that only knows the current schema refuses the newer file.
	if _, err := Open(path, Options{}); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("old renewbot on a newer file: err = %v", err)
	}
}

// currentSchema is the schema version this store writes.
func currentSchema() uint64 {
	migs := migrations()
	return migs[len(migs)-1].to
}
