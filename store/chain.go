package store

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// The audit log is a hash chain: each event's Hash is SHA-256 over the previous event's hash
// (32 zero bytes before the first) and the event's canonical encoding. The meta bucket keeps
// the head (the last event's seq and hash), so a deleted tail shows too. Editing an event in
// the file breaks the chain at that event; rewriting every hash after it is caught only by
// comparing the head with a copy kept elsewhere (`renewbot history --verify` prints it).

// keyAuditHead is the meta key of the chain's head: seq (8 bytes BE) + hash (32 bytes).
var keyAuditHead = []byte("audithead")

// auditDomain starts every canonical encoding, so that the hash is of an audit event of
// this format and nothing else.
const auditDomain = "renewbot audit event v1\x00"

// eventHash is SHA-256(prev ‖ canonical(ev)). The canonical encoding is the domain, Seq and
// Time (unix nanoseconds) as 8 bytes big-endian, then Actor, Action, RequestID, the number
// of InstanceIDs and each of them, and Detail, every string preceded by its length (uvarint).
func eventHash(prev []byte, ev *Event) []byte {
	h := sha256.New()
	h.Write(prev)
	b := []byte(auditDomain)
	b = binary.BigEndian.AppendUint64(b, ev.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(ev.Time.UnixNano()))
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	str(ev.Actor)
	str(string(ev.Action))
	str(string(ev.RequestID))
	b = binary.AppendUvarint(b, uint64(len(ev.InstanceIDs)))
	for _, id := range ev.InstanceIDs {
		str(id)
	}
	str(ev.Detail)
	h.Write(b)
	return h.Sum(nil)
}

// chainEvent sets ev.Hash from the head and makes ev the head.
func chainEvent(tx *bolt.Tx, ev *Event) error {
	meta := tx.Bucket(bucketMeta)
	prev := make([]byte, sha256.Size)
	if head := meta.Get(keyAuditHead); len(head) == 8+sha256.Size {
		prev = head[8:]
	}
	sum := eventHash(prev, ev)
	ev.Hash = hex.EncodeToString(sum)
	return meta.Put(keyAuditHead, append(binary.BigEndian.AppendUint64(nil, ev.Seq), sum...))
}

// ChainError says where the audit chain breaks: the first event (by seq) that is missing,
// unreadable, or whose hash does not follow from the events before it.
type ChainError struct {
	Seq    uint64
	Reason string
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("audit log altered: record %d %s", e.Seq, e.Reason)
}

// AuditHead is the end of a verified chain: how many events, the last one's seq and hash.
type AuditHead struct {
	Events int
	Seq    uint64
	Hash   string
}

// VerifyAudit recomputes the hash chain over every audit event, in seq order. A broken chain
// returns a *ChainError naming the first record that does not follow; a sound one returns
// its head. One read transaction.
func (db *DB) VerifyAudit() (AuditHead, error) {
	var head AuditHead
	err := db.bolt.View(func(tx *bolt.Tx) error {
		evs, err := eventsBySeq(tx)
		if err != nil {
			return err
		}
		prev := make([]byte, sha256.Size)
		for i, ev := range evs {
			want := uint64(i + 1)
			if ev.Seq != want {
				if ev.Seq < want {
					return &ChainError{Seq: ev.Seq, Reason: "appears twice"}
				}
				return &ChainError{Seq: want, Reason: "is missing"}
			}
			sum := eventHash(prev, &ev)
			if got, err := hex.DecodeString(ev.Hash); err != nil || !bytes.Equal(got, sum) {
				return &ChainError{Seq: ev.Seq, Reason: "does not match its hash (its content, or the record before it, was changed)"}
			}
			prev = sum
		}
		stored := tx.Bucket(bucketMeta).Get(keyAuditHead)
		switch {
		case len(evs) == 0 && stored == nil:
		case len(stored) != 8+sha256.Size:
			return &ChainError{Seq: uint64(len(evs)), Reason: "is the last one, but the chain's head is not recorded"}
		case binary.BigEndian.Uint64(stored) != uint64(len(evs)) || !bytes.Equal(stored[8:], prev):
			return &ChainError{Seq: uint64(len(evs)) + 1, Reason: fmt.Sprintf("is missing: the chain's head is record %d", binary.BigEndian.Uint64(stored))}
		}
		head = AuditHead{Events: len(evs), Seq: uint64(len(evs)), Hash: hex.EncodeToString(prev)}
		return nil
	})
	if err != nil {
		if _, ok := errors.AsType[*ChainError](err); ok {
			return AuditHead{}, err
		}
		return AuditHead{}, fmt.Errorf("verify audit: %w", err)
	}
	return head, nil
}

// eventsBySeq reads every audit event, in seq order (the keys sort by time first). An event
// that cannot be decoded is a broken chain at the seq in its key.
func eventsBySeq(tx *bolt.Tx) ([]Event, error) {
	var evs []Event
	err := tx.Bucket(bucketAudit).ForEach(func(k, v []byte) error {
		var ev Event
		if err := json.Unmarshal(v, &ev); err != nil {
			seq := uint64(0)
			if len(k) == 16 {
				seq = binary.BigEndian.Uint64(k[8:])
			}
			return &ChainError{Seq: seq, Reason: "cannot be read: " + err.Error()}
		}
		evs = append(evs, ev)
		return nil
	})
	slices.SortStableFunc(evs, func(a, b Event) int { return cmp.Compare(a.Seq, b.Seq) })
	return evs, err
}

// migrateChainAudit chains an audit log written before events carried hashes: every event,
// in seq order, gets its hash, and the head is recorded.
func migrateChainAudit(tx *bolt.Tx) error {
	audit := tx.Bucket(bucketAudit)
	if audit == nil {
		return nil // a file from before the audit bucket: migrateV1 just made it, empty
	}
	type keyed struct {
		key []byte
		ev  Event
	}
	var all []keyed
	err := audit.ForEach(func(k, v []byte) error {
		var ev Event
		if json.Unmarshal(v, &ev) != nil {
			return nil // left as it is: VerifyAudit names it
		}
		all = append(all, keyed{slices.Clone(k), ev})
		return nil
	})
	if err != nil {
		return err
	}
	slices.SortStableFunc(all, func(a, b keyed) int { return cmp.Compare(a.ev.Seq, b.ev.Seq) })
	meta := tx.Bucket(bucketMeta)
	if err := meta.Delete(keyAuditHead); err != nil {
		return err
	}
	for i := range all {
		if err := chainEvent(tx, &all[i].ev); err != nil {
			return err
		}
		v, err := json.Marshal(all[i].ev)
		if err != nil {
			return err
		}
		if err := audit.Put(all[i].key, v); err != nil {
			return err
		}
	}
	return nil
}
