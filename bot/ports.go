// Package bot is renewbot's Slack edge and its renewal workflow: slash commands, approval
// buttons, daily digests, and the domain logic that turns an approved request into exactly
// one renewal. It talks to Alibaba and to the store only through the small interfaces below.
package bot

import (
	"context"
	"io"
	"time"

	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/store"
)

// Cloud is what the bot needs from ECS; *ecs.Client implements it.
type Cloud interface {
	Expiring(ctx context.Context, from, to time.Time) (ecs.Scan, error)
	Lookup(ctx context.Context, ids []string) ([]ecs.Instance, error)
	Quote(ctx context.Context, regionID, instanceID string, months int) (ecs.Quote, error)
	Renew(ctx context.Context, in ecs.RenewInput) (ecs.RenewResult, error)
	SetAutoRenew(ctx context.Context, regionID string, ids []string, ch ecs.AutoRenewChange) (requestID string, err error)
	Verify(ctx context.Context, regionID string, want map[string]time.Time) (map[string]time.Time, error)
}

// Store is what the bot needs from the bbolt file; *store.DB implements it.
type Store interface {
	CreateRequest(r *store.Request) error
	GetRequest(id store.RequestID) (*store.Request, error)
	ListRequests(states ...store.State) ([]*store.Request, error)
	Transition(id store.RequestID, from []store.State, to store.State, ev store.Event, mutate func(*store.Request) error) (*store.Request, error)
	Mutate(id store.RequestID, ev store.Event, mutate func(*store.Request) error) (*store.Request, error)
	Audit(ev store.Event) error
	History(q store.HistoryQuery) ([]store.Event, error)
	BeginDigest(channel, day string, force bool) (bool, error)
	FinishDigest(channel, day, ts string, count int) error
	Snooze(s store.Snooze) error
	Snoozed(now time.Time) (map[string]store.Snooze, error)
	Backup(w io.Writer) (int64, error)
}

var (
	_ Cloud = (*ecs.Client)(nil)
	_ Store = (*store.DB)(nil)
)
