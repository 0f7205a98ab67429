package store

import (
	"errors"
	"io"
	"time"
)

var errTODO = errors.New("store: not implemented yet")

// Options configures Open.
type Options struct {
	Timeout time.Duration    // how long to wait for the file lock, default 1s; then ErrLocked
	Now     func() time.Time // clock, default time.Now
	NoSync  bool             // skip fsync (benchmarks only)
}

// DB is the open bbolt file.
type DB struct{}

func Open(path string, opts Options) (*DB, error)               { return nil, errTODO }
func (db *DB) Close() error                                     { return nil }
func (db *DB) CreateRequest(r *Request) error                   { return errTODO }
func (db *DB) GetRequest(id RequestID) (*Request, error)        { return nil, errTODO }
func (db *DB) ListRequests(states ...State) ([]*Request, error) { return nil, errTODO }
func (db *DB) Transition(id RequestID, from []State, to State, ev Event, mutate func(*Request) error) (*Request, error) {
	return nil, errTODO
}
func (db *DB) Mutate(id RequestID, ev Event, mutate func(*Request) error) (*Request, error) {
	return nil, errTODO
}
func (db *DB) Audit(ev Event) error                                      { return errTODO }
func (db *DB) History(q HistoryQuery) ([]Event, error)                   { return nil, errTODO }
func (db *DB) BeginDigest(channel, day string, force bool) (bool, error) { return false, errTODO }
func (db *DB) FinishDigest(channel, day, ts string, count int) error     { return errTODO }
func (db *DB) Snooze(s Snooze) error                                     { return errTODO }
func (db *DB) Snoozed(now time.Time) (map[string]Snooze, error)          { return nil, errTODO }
func (db *DB) Backup(w io.Writer) (int64, error)                         { return 0, errTODO }
