package store

import (
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// SeenWindow is how long FirstSeen remembers a key: Slack refuses requests older than 5
// minutes, so a copy replayed after that is refused by its timestamp, and a minute more
// covers clock skew.
const SeenWindow = 6 * time.Minute

// seenPruneEvery is how often FirstSeen also deletes the entries older than SeenWindow.
const seenPruneEvery = time.Minute

// FirstSeen records key (a digest of one Slack request or Socket Mode envelope) at now and
// reports whether it was new: false means the same key was recorded less than SeenWindow
// before now, a replay or redelivery. The set is in the file, so it survives restarts.
//
// Calls from concurrent requests share write transactions (group commit): a call made while
// a transaction runs waits for it and joins the next one, so a burst costs a few fsyncs, not
// one each, and a lone call waits for nothing but its own. Entries older than SeenWindow are
// pruned about once a minute.
func (db *DB) FirstSeen(key []byte, now time.Time) (bool, error) {
	if len(key) == 0 || len(key) > bolt.MaxKeySize {
		return false, fmt.Errorf("first seen: %w: key of %d bytes", ErrInvalid, len(key))
	}
	c := &seenCall{key: key, at: now.UnixNano(), done: make(chan bool, 1)}
	q := &db.seen
	q.mu.Lock()
	q.queue = append(q.queue, c)
	if q.busy {
		q.mu.Unlock()
		if lead := <-c.done; !lead {
			return c.first, c.err
		}
	} else {
		q.busy = true
		q.mu.Unlock()
	}
	// This call leads: commit everything queued (itself included) in one transaction, then
	// hand the lead to the first call that queued meanwhile.
	q.mu.Lock()
	batch := q.queue
	q.queue = nil
	q.mu.Unlock()
	db.commitSeen(batch)
	q.mu.Lock()
	if len(q.queue) > 0 {
		q.queue[0].done <- true
	} else {
		q.busy = false
	}
	q.mu.Unlock()
	return c.first, c.err
}

// seenQueue is FirstSeen's group commit: the calls waiting for the next transaction.
type seenQueue struct {
	mu     sync.Mutex
	busy   bool // a call leads a commit
	queue  []*seenCall
	pruned int64 // unix nanos of the last prune
}

type seenCall struct {
	key   []byte
	at    int64 // unix nanos
	first bool
	err   error
	done  chan bool // true: lead the next commit; false: first and err are set
}

// commitSeen records the calls of one batch in one write transaction and tells each its
// result; the leader, one of them, reads its own when commitSeen returns.
func (db *DB) commitSeen(batch []*seenCall) {
	latest := batch[0].at
	for _, c := range batch {
		latest = max(latest, c.at)
	}
	prune := latest-db.seen.pruned >= int64(seenPruneEvery)
	err := db.write(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSeen)
		if prune {
			if err := pruneSeen(b, latest-int64(SeenWindow)); err != nil {
				return err
			}
		}
		for _, c := range batch {
			v := b.Get(c.key)
			c.first = len(v) != 8 || c.at-int64(binary.BigEndian.Uint64(v)) >= int64(SeenWindow)
			if !c.first {
				continue
			}
			if err := b.Put(c.key, binary.BigEndian.AppendUint64(nil, uint64(c.at))); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil && prune {
		db.seen.pruned = latest // only the leader touches it
	}
	for _, c := range batch {
		if err != nil {
			c.first, c.err = false, fmt.Errorf("first seen: %w", err)
		}
		c.done <- false
	}
}

// pruneSeen deletes the entries recorded before cutoff (unix nanoseconds).
func pruneSeen(b *bolt.Bucket, cutoff int64) error {
	var old [][]byte
	err := b.ForEach(func(k, v []byte) error {
		if len(v) != 8 || int64(binary.BigEndian.Uint64(v)) < cutoff {
			old = append(old, append([]byte(nil), k...))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range old {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// SeenCount is the number of keys FirstSeen holds (tests).
func (db *DB) SeenCount() (int, error) {
	n := 0
	err := db.bolt.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketSeen).Stats().KeyN
		return nil
	})
	return n, err
}
