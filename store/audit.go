package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Audit appends one event to the log. The store sets its Seq and Time (now): whatever the
// caller put there is ignored, so no client dates an event. Actor defaults to "renewbot";
// Action is required.
func (db *DB) Audit(ev Event) error {
	if ev.Action == "" {
		return fmt.Errorf("audit: %w: empty action", ErrInvalid)
	}
	if ev.Actor == "" {
		ev.Actor = botActor
	}
	ev.Seq, ev.Time = 0, time.Time{}
	return db.write(func(tx *bolt.Tx) error {
		return db.appendEvent(tx, &ev)
	})
}

// appendEvent assigns ev.Seq (and ev.Time when zero), chains ev to the event before it
// (ev.Hash) and writes the event and its index entries. IDs that cannot be keys (empty, too long, NUL) are kept in the event but not
// indexed: the log never refuses to record.
func (db *DB) appendEvent(tx *bolt.Tx, ev *Event) error {
	audit := tx.Bucket(bucketAudit)
	audit.FillPercent = 0.9 // keys grow with time: pack pages densely
	seq, err := audit.NextSequence()
	if err != nil {
		return err
	}
	ev.Seq = seq
	if ev.Time.IsZero() {
		ev.Time = db.now()
	}
	if err := chainEvent(tx, ev); err != nil {
		return err
	}
	v, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	key := auditKey(ev.Time, seq)
	if err := audit.Put(key, v); err != nil {
		return err
	}
	if ev.RequestID != "" {
		if err := validID("request ID", string(ev.RequestID)); err != nil {
			db.log.Warn("audit event not indexed by request", "seq", seq, "err", err)
		} else if err := tx.Bucket(bucketAuditByRequest).Put(indexKey(string(ev.RequestID), key), []byte{}); err != nil {
			return err
		}
	}
	byInstance := tx.Bucket(bucketAuditByInstance)
	for i, inst := range ev.InstanceIDs {
		if slices.Contains(ev.InstanceIDs[:i], inst) {
			continue
		}
		if err := validID("instance ID", inst); err != nil {
			db.log.Warn("audit event not indexed by instance", "seq", seq, "err", err)
			continue
		}
		if err := byInstance.Put(indexKey(inst, key), []byte{}); err != nil {
			return err
		}
	}
	return nil
}

// History returns audit events, oldest first: those of q.RequestID (via the by-request
// index), else of q.InstanceID (via the by-instance index), else all; both set: the
// request's events that name the instance. Since drops older events (a seek, not a scan);
// Limit > 0 keeps the newest Limit.
func (db *DB) History(q HistoryQuery) ([]Event, error) {
	var out []Event
	err := db.bolt.View(func(tx *bolt.Tx) error {
		audit := tx.Bucket(bucketAudit)
		var (
			c      *bolt.Cursor
			prefix []byte
			keep   = func(*Event) bool { return true }
		)
		switch {
		case q.RequestID != "":
			if err := validID("request ID", string(q.RequestID)); err != nil {
				return err
			}
			c, prefix = tx.Bucket(bucketAuditByRequest).Cursor(), indexKey(string(q.RequestID), nil)
			if q.InstanceID != "" {
				keep = func(ev *Event) bool { return slices.Contains(ev.InstanceIDs, q.InstanceID) }
			}
		case q.InstanceID != "":
			if err := validID("instance ID", q.InstanceID); err != nil {
				return err
			}
			c, prefix = tx.Bucket(bucketAuditByInstance).Cursor(), indexKey(q.InstanceID, nil)
		default:
			c = audit.Cursor()
		}
		visit := func(k, v []byte) (bool, error) {
			if prefix != nil { // an index: k ends with the audit key
				v = audit.Get(k[len(prefix):])
				if v == nil {
					return false, fmt.Errorf("audit index entry %x has no event", k)
				}
			}
			var ev Event
			if err := json.Unmarshal(v, &ev); err != nil {
				return false, fmt.Errorf("decode event %x: %w", k, err)
			}
			if !keep(&ev) {
				return false, nil
			}
			out = append(out, ev)
			return q.Limit > 0 && len(out) >= q.Limit, nil
		}
		if err := scan(c, prefix, q.Since, q.Limit > 0, visit); err != nil {
			return err
		}
		if q.Limit > 0 {
			slices.Reverse(out) // collected newest first
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	return out, nil
}

// scan walks the keys that start with prefix and whose audit key (the 16 bytes after the
// prefix) is at or after since: oldest first, or newest first when backward. It stops when
// visit returns true or an error.
func scan(c *bolt.Cursor, prefix []byte, since time.Time, backward bool, visit func(k, v []byte) (bool, error)) error {
	lo := prefix
	if !since.IsZero() {
		lo = append(slices.Clip(prefix), timeKey(since)...)
	}
	in := func(k []byte) bool { return k != nil && bytes.HasPrefix(k, prefix) && bytes.Compare(k, lo) >= 0 }
	var k, v []byte
	switch {
	case !backward && len(lo) == 0:
		k, v = c.First()
	case !backward:
		k, v = c.Seek(lo)
	case len(prefix) == 0:
		k, v = c.Last()
	default:
		// prefix ends with the 0x00 separator: the first key after the range ends with 0x01.
		end := append(slices.Clone(prefix[:len(prefix)-1]), 1)
		if k, _ = c.Seek(end); k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
	}
	for ; in(k); k, v = step(c, backward) {
		stop, err := visit(k, v)
		if err != nil || stop {
			return err
		}
	}
	return nil
}

func step(c *bolt.Cursor, backward bool) ([]byte, []byte) {
	if backward {
		return c.Prev()
	}
	return c.Next()
}
