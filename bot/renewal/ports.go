// Package renewal is renewbot's renewal core: requests with a price quote, the approval
// policy, and the workflow that turns an approved request into exactly one paid call per
// instance, verified, resumed after a crash, swept when stalled. Every call that costs money
// or changes renewal state (RenewInstance, ModifyInstanceAutoRenewAttribute) goes through it,
// whether it comes from Slack, the operator CLI or the admin socket. It imports ecs and store
// and nothing of Slack; the interfaces it consumes are declared here, one per need.
package renewal

import (
	"context"
	"time"

	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/store"
)

// Finder reads instances (DescribeInstances with their auto-renew attribute).
type Finder interface {
	Lookup(ctx context.Context, ids []string) ([]ecs.Instance, error)
}

// Quoter prices a renewal (DescribeRenewalPrice).
type Quoter interface {
	Quote(ctx context.Context, regionID, instanceID string, months int) (ecs.Quote, error)
}

// AlignQuoter prices a renewal to the unified expiration day (DescribeRenewalPrice with
// ExpectedRenewDay).
type AlignQuoter interface {
	QuoteAligned(ctx context.Context, regionID, instanceID string, day int) (ecs.Quote, error)
}

// Renewer places a renewal order (RenewInstance): the paid call.
type Renewer interface {
	Renew(ctx context.Context, in ecs.RenewInput) (ecs.RenewResult, error)
}

// AutoRenewSetter changes auto-renew (ModifyInstanceAutoRenewAttribute).
type AutoRenewSetter interface {
	SetAutoRenew(ctx context.Context, regionID string, ids []string, ch ecs.AutoRenewChange) (requestID string, err error)
}

// Verifier waits until renewed expiries show.
type Verifier interface {
	Verify(ctx context.Context, regionID string, want map[string]time.Time) (map[string]time.Time, error)
}

// Cloud is every ECS need of the workflow together; *ecs.Client implements it.
type Cloud interface {
	Finder
	Quoter
	AlignQuoter
	Renewer
	AutoRenewSetter
	Verifier
}

// Requests is where requests live and change, each change one compare-and-set transaction.
type Requests interface {
	CreateRequest(r *store.Request) error
	GetRequest(id store.RequestID) (*store.Request, error)
	ListRequests(states ...store.State) ([]*store.Request, error)
	Transition(id store.RequestID, from []store.State, to store.State, ev store.Event, mutate func(*store.Request) error) (*store.Request, error)
	Mutate(id store.RequestID, ev store.Event, mutate func(*store.Request) error) (*store.Request, error)
	Decide(id store.RequestID, decide func(r *store.Request, now time.Time) (store.State, store.Event, error)) (*store.Request, error)
}

// Auditor appends to the audit log.
type Auditor interface {
	Audit(ev store.Event) error
}

// Snoozer records that an instance is left out of digests for a while.
type Snoozer interface {
	Snooze(s store.Snooze) error
}

// Store is every store need of the workflow together; *store.DB implements it.
type Store interface {
	Requests
	Auditor
	Snoozer
}

var (
	_ Cloud = (*ecs.Client)(nil)
	_ Store = (*store.DB)(nil)
)

// Members resolves a user group (S…) to its member user IDs.
type Members interface {
	GroupMembers(ctx context.Context, groupID string) ([]string, error)
}

// Notifier is told whenever a request changes (approved, executing, done, failed, rejected,
// expired, cancelled). It must not block: the workflow calls it between the claim and the
// paid call, and nothing may wait for a chat message there.
type Notifier interface {
	RequestChanged(ctx context.Context, r *store.Request)
}

// Counter counts finished renewals by kind (renew, autorenew) and outcome (done, failed).
type Counter interface {
	Renewal(kind, outcome string)
}
