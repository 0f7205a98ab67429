package store

import (
	"errors"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func TestDigestProgress(t *testing.T) {
	clock := newClock()
	path := filepath.Join(t.TempDir(), "renewbot.db")
	db := mustOpenPath(t, path, clock)
	begin := func(force bool, wantOK bool, want DigestProgress) {
		t.Helper()
		p, ok, err := db.BeginDigest("C1", "2026-11-25", force)
		if err != nil || ok != wantOK || p != want {
			t.Fatalf("BeginDigest(force %v) = %+v, %v, %v; want %+v, %v", force, p, ok, err, want, wantOK)
		}
	}
	step := func(p DigestProgress) {
		t.Helper()
		if err := db.DigestStep("C1", "2026-11-25", p); err != nil {
			t.Fatal(err)
		}
	}

	begin(false, true, DigestProgress{})
	step(DigestProgress{TS: "1700000000.000100"})
	step(DigestProgress{TS: "1700000000.000100", Pages: 1})
	step(DigestProgress{TS: "1700000000.000100", Pages: 2})
	begin(false, true, DigestProgress{TS: "1700000000.000100", Pages: 2}) // a Slack error: continue

	// A crash: the file keeps the progress.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = mustOpenPath(t, path, clock)
	begin(false, true, DigestProgress{TS: "1700000000.000100", Pages: 2})
	step(DigestProgress{TS: "1700000000.000100", Pages: 3, CSV: true})
	if p, ok, err := db.BeginDigest("C2", "2026-11-25", false); err != nil || !ok || p != (DigestProgress{}) {
		t.Errorf("another channel: %+v, %v, %v; want zero progress", p, ok, err)
	}
	if p, ok, err := db.BeginDigest("C1", "2026-11-26", false); err != nil || !ok || p != (DigestProgress{}) {
		t.Errorf("another day: %+v, %v, %v; want zero progress", p, ok, err)
	}
	if err := db.DigestStep("C2", "2026-11-25", DigestProgress{TS: "1700000000.000200", Pages: 1}); err != nil {
		t.Fatal(err)
	}
	if p, ok, err := db.BeginDigest("C2", "2026-11-25", true); err != nil || !ok || p != (DigestProgress{}) {
		t.Errorf("forced, unfinished: %+v, %v, %v; want zero progress", p, ok, err)
	}

	// Finished: refused, also after a restart.
	if err := db.FinishDigest("C1", "2026-11-25", "1700000000.000100", 250); err != nil {
		t.Fatal(err)
	}
	begin(false, false, DigestProgress{})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = mustOpenPath(t, path, clock)
	begin(false, false, DigestProgress{})

	// Forced: starts over each time; an unforced run still finds the day done.
	begin(true, true, DigestProgress{})
	step(DigestProgress{TS: "1700000000.000900"})
	begin(false, false, DigestProgress{})
	begin(true, true, DigestProgress{})
	if err := db.FinishDigest("C1", "2026-11-25", "1700000000.000901", 250); err != nil {
		t.Fatal(err)
	}
	begin(false, false, DigestProgress{})

	if err := db.DigestStep("C1", "", DigestProgress{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty day: err = %v, want ErrInvalid", err)
	}
	if err := db.DigestStep("C\x001", "2026-11-25", DigestProgress{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("NUL channel: err = %v, want ErrInvalid", err)
	}
	if evs := mustHistory(t, db, HistoryQuery{}); len(evs) != 2 || evs[0].Action != ActDigest || evs[1].Action != ActDigest {
		t.Errorf("audit = %+v; want two digest events (no event per step)", evs)
	}
}

// Records written before DigestProgress existed still decode: a finished day stays finished,
// an unfinished one continues from zero progress.
func TestDigestOldRecords(t *testing.T) {
	clock := newClock()
	db := mustOpen(t, clock)
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDigests)
		if err := b.Put(compositeKey("C1", "2026-11-25"),
			[]byte(`{"Finished":true,"Started":"2026-11-25T01:00:00Z","At":"2026-11-25T01:00:05Z","TS":"1700000000.000100","Count":3}`)); err != nil {
			return err
		}
		return b.Put(compositeKey("C2", "2026-11-25"), []byte(`{"Finished":false,"Started":"2026-11-25T01:00:00Z","TS":"","Count":0}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	if p, ok, err := db.BeginDigest("C1", "2026-11-25", false); err != nil || ok || p != (DigestProgress{}) {
		t.Errorf("old finished record: %+v, %v, %v; want refused", p, ok, err)
	}
	if p, ok, err := db.BeginDigest("C2", "2026-11-25", false); err != nil || !ok || p != (DigestProgress{}) {
		t.Errorf("old unfinished record: %+v, %v, %v; want zero progress", p, ok, err)
	}
}
