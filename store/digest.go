package store

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// digestRecord is the digest log entry of one channel and day. Records written before
// Progress existed decode with zero progress.
type digestRecord struct {
	Finished bool
	Started  time.Time // last BeginDigest
	At       time.Time // FinishDigest
	TS       string    // Slack ts of the summary message
	Count    int       // instances in the digest
	Progress DigestProgress
}

// BeginDigest reports whether the digest of channel for day (e.g. "2026-11-25" in the
// digest's time zone) should be posted, and from where. ok is false when FinishDigest
// recorded it already, unless force. Otherwise p is the progress DigestStep recorded (zero
// for a digest not started); force starts over with zero progress. A finished day stays
// finished under force, so a forced digest cut off halfway is not continued by an unforced
// run (the day had its digest). It records the attempt.
func (db *DB) BeginDigest(channel, day string, force bool) (p DigestProgress, ok bool, err error) {
	key, err := digestKey(channel, day)
	if err != nil {
		return DigestProgress{}, false, err
	}
	err = db.editDigest(key, func(_ *bolt.Tx, rec *digestRecord) (bool, error) {
		if rec.Finished && !force {
			return false, nil
		}
		if force {
			rec.Progress = DigestProgress{}
		}
		ok, p = true, rec.Progress
		rec.Started = db.now()
		return true, nil
	})
	if err != nil {
		return DigestProgress{}, false, fmt.Errorf("begin digest %s %s: %w", channel, day, err)
	}
	return p, ok, nil
}

// DigestStep records p as the progress of the digest of channel for day, after each post.
func (db *DB) DigestStep(channel, day string, p DigestProgress) error {
	key, err := digestKey(channel, day)
	if err != nil {
		return err
	}
	err = db.editDigest(key, func(_ *bolt.Tx, rec *digestRecord) (bool, error) {
		rec.Progress = p
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("digest step %s %s: %w", channel, day, err)
	}
	return nil
}

// FinishDigest records that the digest of channel for day was posted (ts: the summary
// message, count: instances listed) and writes an ActDigest audit event.
func (db *DB) FinishDigest(channel, day, ts string, count int) error {
	key, err := digestKey(channel, day)
	if err != nil {
		return err
	}
	err = db.editDigest(key, func(tx *bolt.Tx, rec *digestRecord) (bool, error) {
		now := db.now()
		rec.Finished, rec.At, rec.TS, rec.Count = true, now, ts, count
		return true, db.appendEvent(tx, &Event{
			Time:   now,
			Actor:  botActor,
			Action: ActDigest,
			Detail: fmt.Sprintf("digest for %s posted to %s: %d instance(s), ts %s", day, channel, count, ts),
		})
	})
	if err != nil {
		return fmt.Errorf("finish digest %s %s: %w", channel, day, err)
	}
	return nil
}

// editDigest loads the digest record under key (zero if none) in one write transaction, lets
// edit change it, and stores it if edit says so; an error from edit aborts.
func (db *DB) editDigest(key []byte, edit func(tx *bolt.Tx, rec *digestRecord) (bool, error)) error {
	return db.write(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDigests)
		var rec digestRecord
		if v := b.Get(key); v != nil {
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("decode digest record: %w", err)
			}
		}
		if write, err := edit(tx, &rec); err != nil || !write {
			return err
		}
		v, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		return b.Put(key, v)
	})
}

func digestKey(channel, day string) ([]byte, error) {
	if err := validID("channel", channel); err != nil {
		return nil, err
	}
	if err := validID("day", day); err != nil {
		return nil, err
	}
	return compositeKey(channel, day), nil
}

// Snooze leaves s.InstanceID out of digests until s.Until; an Until not after now clears
// the instance's snooze. Expired snoozes of other instances are dropped on the way. Writes
// an ActSnoozed audit event (Actor = s.By).
func (db *DB) Snooze(s Snooze) error {
	if err := validID("instance ID", s.InstanceID); err != nil {
		return fmt.Errorf("snooze: %w", err)
	}
	err := db.write(func(tx *bolt.Tx) error {
		now := db.now()
		b := tx.Bucket(bucketSnoozes)
		var stale [][]byte
		err := b.ForEach(func(k, v []byte) error {
			var old Snooze
			if err := json.Unmarshal(v, &old); err != nil {
				return fmt.Errorf("decode snooze %s: %w", k, err)
			}
			if !old.Until.After(now) {
				stale = append(stale, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range stale {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		detail := "snooze cleared"
		if s.Until.After(now) {
			detail = "left out of digests until " + s.Until.UTC().Format(time.RFC3339)
			v, err := json.Marshal(s)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(s.InstanceID), v); err != nil {
				return err
			}
		} else if err := b.Delete([]byte(s.InstanceID)); err != nil {
			return err
		}
		actor := s.By
		if actor == "" {
			actor = botActor
		}
		return db.appendEvent(tx, &Event{Time: now, Actor: actor, Action: ActSnoozed, InstanceIDs: []string{s.InstanceID}, Detail: detail})
	})
	if err != nil {
		return fmt.Errorf("snooze %s: %w", s.InstanceID, err)
	}
	return nil
}

// Snoozed returns the snoozes still active at now, by instance ID.
func (db *DB) Snoozed(now time.Time) (map[string]Snooze, error) {
	out := make(map[string]Snooze)
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSnoozes).ForEach(func(k, v []byte) error {
			var s Snooze
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("decode snooze %s: %w", k, err)
			}
			if s.Until.After(now) {
				out[s.InstanceID] = s
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("snoozes: %w", err)
	}
	return out, nil
}
