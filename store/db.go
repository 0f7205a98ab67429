package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Options configures Open.
type Options struct {
	Timeout time.Duration    // how long to wait for the file lock, default 1s; then ErrLocked
	Now     func() time.Time // clock, default time.Now; use the workflow's clock (deadlines are judged by it)
	NoSync  bool             // skip fsync (benchmarks only)
	Log     *slog.Logger     // nil: discard
}

// DB is the open bbolt file.
type DB struct {
	bolt   *bolt.DB
	path   string
	now    func() time.Time
	log    *slog.Logger
	writes atomic.Uint64 // write transactions run (Transactions)

	seen seenQueue // FirstSeen's group commit
}

// write runs fn in one write transaction and counts it.
func (db *DB) write(fn func(*bolt.Tx) error) error {
	db.writes.Add(1)
	return db.bolt.Update(fn)
}

// Transactions reports how many read and write transactions this DB ran since it was
// opened: what one operation costs in store round trips (tests and benchmarks).
func (db *DB) Transactions() (reads, writes uint64) {
	return uint64(db.bolt.Stats().TxN), db.writes.Load()
}

// Bucket names. The layout:
//
//	meta               "schema" → uint64 BE; "lastid" → uint64 BE (last request ID); "writecheck" → time;
//	                   "audithead" → seq (uint64 BE) + SHA-256 of the audit chain's last event
//	requests           RequestID → Request (JSON)
//	open               instanceID → RequestID of its open request (one open request per instance)
//	audit              auditKey = time (8 bytes, sortable unix nanos) + seq (8 bytes BE) → Event (JSON)
//	audit_by_instance  instanceID 0x00 auditKey → empty
//	audit_by_request   requestID 0x00 auditKey → empty
//	digests            channel 0x00 day → digestRecord (JSON)
//	snoozes            instanceID → Snooze (JSON)
//	seen               digest of a Slack request or envelope → unix nanos first seen (FirstSeen)
var (
	bucketMeta            = []byte("meta")
	bucketRequests        = []byte("requests")
	bucketOpen            = []byte("open")
	bucketAudit           = []byte("audit")
	bucketAuditByInstance = []byte("audit_by_instance")
	bucketAuditByRequest  = []byte("audit_by_request")
	bucketDigests         = []byte("digests")
	bucketSnoozes         = []byte("snoozes")
	bucketSeen            = []byte("seen")

	keySchema     = []byte("schema")
	keyLastID     = []byte("lastid")
	keyWriteCheck = []byte("writecheck")
)

func allBuckets() [][]byte {
	return [][]byte{bucketMeta, bucketRequests, bucketOpen, bucketAudit, bucketAuditByInstance,
		bucketAuditByRequest, bucketDigests, bucketSnoozes, bucketSeen}
}

// Open opens (or creates) the bbolt file at path with mode 0600, creates the buckets and
// brings the schema up to date. If another process holds the file for longer than
// opts.Timeout, the error wraps ErrLocked.
func Open(path string, opts Options) (*DB, error) {
	return open(path, opts, migrations())
}

func open(path string, opts Options, migs []migration) (*DB, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.Timeout, NoSync: opts.NoSync})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open %s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	clock := opts.Now
	now := func() time.Time { return clock().Round(0) } // no monotonic reading: stored and returned times compare equal
	db := &DB{bolt: b, path: path, now: now, log: opts.Log}
	if err := db.migrate(migs); err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// Close closes the file. It waits for running transactions.
func (db *DB) Close() error { return db.bolt.Close() }

// Path is the file's path.
func (db *DB) Path() string { return db.path }

// Backup writes a consistent copy of the whole file to w (a read transaction: the bot keeps
// running) and returns the number of bytes written.
func (db *DB) Backup(w io.Writer) (int64, error) {
	var n int64
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("backup %s: %w", db.path, err)
	}
	return n, nil
}

// WriteCheck runs a tiny write transaction (for health checks: the disk accepts writes and
// the file is not wedged).
func (db *DB) WriteCheck() error {
	return db.write(func(tx *bolt.Tx) error {
		v, err := db.now().UTC().MarshalBinary()
		if err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keyWriteCheck, v)
	})
}

// Counts returns the number of requests in each state. A pending request past its deadline
// counts as expired (EffectiveState).
func (db *DB) Counts() (map[State]int, error) {
	now := db.now()
	counts := make(map[State]int)
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRequests).ForEach(func(k, v []byte) error {
			r, err := decodeRequest(v)
			if err != nil {
				return fmt.Errorf("request %s: %w", k, err)
			}
			counts[r.EffectiveState(now)]++
			return nil
		})
	})
	return counts, err
}

// SchemaVersion is the file's schema version.
func (db *DB) SchemaVersion() (uint64, error) {
	var v uint64
	err := db.bolt.View(func(tx *bolt.Tx) error {
		v = schemaVersion(tx)
		return nil
	})
	return v, err
}

// migration brings the file from version to-1 to version to. It runs inside the open
// transaction, so a failure leaves the file as it was.
type migration struct {
	to   uint64
	name string
	run  func(tx *bolt.Tx) error
}

// migrations is the schema history, oldest first. The last entry's version is the current
// schema. Version 0 is a file without a meta bucket: a new file, or a prototype file holding
// only the requests bucket.
func migrations() []migration {
	return []migration{
		{to: 1, name: "create buckets, index open requests", run: migrateV1},
		{to: 2, name: "chain the audit log", run: migrateChainAudit},
	}
}

// migrateV1 creates every bucket, rebuilds the one-open-request-per-instance index from the
// requests and sets the last request ID so new IDs sort after the old ones (a new file has
// no requests).
func migrateV1(tx *bolt.Tx) error {
	for _, name := range allBuckets() {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	open := tx.Bucket(bucketOpen)
	var last uint64
	err := tx.Bucket(bucketRequests).ForEach(func(k, v []byte) error {
		if n, ok := requestNumber(RequestID(k)); ok {
			last = max(last, n)
		}
		r, err := decodeRequest(v)
		if err != nil {
			return fmt.Errorf("request %s: %w", k, err)
		}
		if !r.State.Open() {
			return nil
		}
		for _, id := range r.InstanceIDs() {
			if err := open.Put([]byte(id), []byte(r.ID)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil || last == 0 {
		return err
	}
	return tx.Bucket(bucketMeta).Put(keyLastID, binary.BigEndian.AppendUint64(nil, last))
}

func schemaVersion(tx *bolt.Tx) uint64 {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return 0
	}
	v := meta.Get(keySchema)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// migrate runs the missing migrations and makes sure every bucket exists, in one Update.
func (db *DB) migrate(migs []migration) error {
	current := uint64(0)
	if len(migs) > 0 {
		current = migs[len(migs)-1].to
	}
	return db.write(func(tx *bolt.Tx) error {
		v := schemaVersion(tx)
		if v > current {
			return fmt.Errorf("schema version %d is newer than this renewbot knows (%d): use a newer renewbot", v, current)
		}
		for _, m := range migs {
			if m.to <= v {
				continue
			}
			if err := m.run(tx); err != nil {
				return fmt.Errorf("migrate to schema %d (%s): %w", m.to, m.name, err)
			}
			db.log.Info("store migrated", "path", db.path, "from", v, "to", m.to, "migration", m.name)
			v = m.to
		}
		for _, name := range allBuckets() {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		if schemaVersion(tx) == v {
			return nil
		}
		return tx.Bucket(bucketMeta).Put(keySchema, binary.BigEndian.AppendUint64(nil, v))
	})
}
