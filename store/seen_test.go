package store

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestFirstSeen(t *testing.T) {
	clock := newClock()
	path := filepath.Join(t.TempDir(), "renewbot.db")
	db, err := Open(path, Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t0 := clock.Now()
	mustFirst := func(db *DB, key string, at time.Time, want bool) {
		t.Helper()
		got, err := db.FirstSeen([]byte(key), at)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("FirstSeen(%q, t0+%v) = %v, want %v", key, at.Sub(t0), got, want)
		}
	}
	mustFirst(db, "a", t0, true)
	mustFirst(db, "a", t0.Add(time.Second), false)
	mustFirst(db, "b", t0.Add(time.Second), true)
	mustFirst(db, "a", t0.Add(SeenWindow-time.Nanosecond), false)

	// The set survives a restart.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = mustOpenPath(t, path, clock)
	mustFirst(db, "a", t0.Add(2*time.Second), false)
	mustFirst(db, "b", t0.Add(2*time.Second), false)

	// After the window a key is new again, and old keys are pruned.
	mustFirst(db, "a", t0.Add(SeenWindow+time.Second), true)
	mustFirst(db, "c", t0.Add(2*SeenWindow+2*time.Second), true)
	if n, err := db.SeenCount(); err != nil || n != 1 {
		t.Errorf("%d keys held after the window (%v), want 1 (c): the old ones are pruned", n, err)
	}

	// Concurrent calls with the same key: exactly one is first.
	var wg sync.WaitGroup
	var mu sync.Mutex
	firsts := 0
	for i := range 50 {
		wg.Go(func() {
			key := "same"
			if i%2 == 1 {
				key = fmt.Sprintf("k%d", i)
			}
			first, err := db.FirstSeen([]byte(key), t0.Add(3*SeenWindow))
			if err != nil {
				t.Error(err)
				return
			}
			if first && key == "same" {
				mu.Lock()
				firsts++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if firsts != 1 {
		t.Errorf("%d concurrent calls saw the same key first, want 1", firsts)
	}
	if _, err := db.FirstSeen(nil, t0); err == nil {
		t.Error("an empty key was accepted")
	}
}
