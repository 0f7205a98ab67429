// Package store keeps renewbot's state in one embedded bbolt file: renewal and auto-renew
// requests with their approvals and results, the append-only audit log, the digest log and
// snoozes. Every state change is one bbolt write transaction (compare-and-set).
package store

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"
)

// RequestID identifies a request. It is short, URL- and Slack-safe, and sortable by creation.
type RequestID string

// Kind is what a request asks for.
type Kind uint8

const (
	KindRenew     Kind = iota + 1 // renew instances for Months, or to the day ExpectedRenewDay
	KindAutoRenew                 // change auto-renew (on with Duration, off, never)
)

func (k Kind) String() string {
	switch k {
	case KindRenew:
		return "renew"
	case KindAutoRenew:
		return "autorenew"
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// State is the life cycle of a request.
//
//	pending ──approve──▶ approved ──claim──▶ executing ──▶ done | failed | superseded
//	   │ ╲                  │                   │
//	   │  ╲reject/expire    └─cancel            └─▶ verifying ──▶ done | failed | superseded
//	   ▼   ▼
//	cancelled rejected expired
//
// verifying: an order was placed, or a paid call got no clear answer, and the new expiry has
// not shown yet. It holds the instances (one open request per instance) until the expiry is
// verified, a clear error answer comes, or an approver decides (Settle).
// superseded: the expiry moved between the quote and the paid call (another renewal, or
// Alibaba's auto-renew deduction), so nothing was sent for that instance.
type State uint8

const (
	StatePending State = iota + 1
	StateApproved
	StateExecuting
	StateDone
	StateFailed
	StateRejected
	StateExpired
	StateCancelled
	StateVerifying  // ordered (or unclear), the new expiry not visible yet: still checking
	StateSuperseded // the expiry moved before the paid call: nothing sent (for those instances)
)

var stateNames = [...]string{"", "pending", "approved", "executing", "done", "failed", "rejected", "expired", "cancelled", "verifying", "superseded"}

func (s State) String() string {
	if int(s) < len(stateNames) && s != 0 {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", s)
}

// Open reports whether the request still holds its instances (one open request per instance).
func (s State) Open() bool {
	return s == StatePending || s == StateApproved || s == StateExecuting || s == StateVerifying
}

// Terminal reports whether no transition leaves s.
func (s State) Terminal() bool { return !s.Open() }

// CanTransition reports whether from → to is a legal transition.
func (s State) CanTransition(to State) bool {
	switch s {
	case StatePending:
		return to == StateApproved || to == StateRejected || to == StateExpired || to == StateCancelled
	case StateApproved:
		return to == StateExecuting || to == StateCancelled
	case StateExecuting:
		return to == StateDone || to == StateFailed || to == StateVerifying || to == StateSuperseded
	case StateVerifying:
		return to == StateDone || to == StateFailed || to == StateSuperseded
	}
	return false
}

// ItemState is the state of one instance inside a request.
type ItemState uint8

const (
	ItemPending    ItemState = iota + 1 // nothing sent yet
	ItemOrdered                         // RenewInstance / Modify… sent (answered, or unanswered: Error says so); not yet verified
	ItemDone                            // verified
	ItemFailed                          // Error says why
	ItemSuperseded                      // the expiry moved before the paid call: nothing was sent (Error says from, to)
)

var itemStateNames = [...]string{"", "pending", "ordered", "done", "failed", "superseded"}

func (s ItemState) String() string {
	if int(s) < len(itemStateNames) && s != 0 {
		return itemStateNames[s]
	}
	return fmt.Sprintf("ItemState(%d)", s)
}

// AutoRenewMode is what a KindAutoRenew request sets.
type AutoRenewMode uint8

const (
	AutoRenewOn    AutoRenewMode = iota + 1 // RenewalStatus=AutoRenewal with Duration months
	AutoRenewOff                            // RenewalStatus=Normal (manual renewal)
	AutoRenewNever                          // RenewalStatus=NotRenewal (released at expiry)
)

func (m AutoRenewMode) String() string {
	switch m {
	case AutoRenewOn:
		return "on"
	case AutoRenewOff:
		return "off"
	case AutoRenewNever:
		return "never"
	}
	return fmt.Sprintf("AutoRenewMode(%d)", m)
}

// Item is one instance of a request: the quote snapshot taken when the request was made and,
// later, the result.
type Item struct {
	Account         string `json:",omitempty"` // the instance's account (RENEWBOT_ACCOUNTS); "" = the single default account
	InstanceID      string
	RegionID        string
	Name            string
	CurrentExpiry   time.Time
	ProjectedExpiry time.Time // CurrentExpiry + Months calendar months, or aligned to ExpectedRenewDay (renewals)
	AutoRenewStatus string    // ecs.RenewalStatus at request time
	Price           float64   // quoted trade price for this instance
	Currency        string

	State        ItemState
	OrderID      string
	APIRequestID string
	NewExpiry    time.Time // verified new expiry
	Error        string    // a sentence for people: why it failed (ItemFailed), or the unanswered call (ItemOrdered)
	Unclear      bool      `json:",omitempty"` // the paid call got no clear answer (5xx, timeout): only the expiry read back tells
	// Sent: the instance was re-read and the paid call is (about to be) sent. BaseExpiry is the
	// expiry read just before it; the renewal is verified against BaseExpiry + Months (or
	// BaseExpiry aligned to ExpectedRenewDay).
	Sent       bool      `json:",omitempty"`
	BaseExpiry time.Time `json:",omitzero"`
}

// Decision is an approval, rejection or cancellation by one person.
type Decision struct {
	User string // Slack user ID (or "cli:<name>" for the operator CLI)
	At   time.Time
	Note string `json:",omitempty"` // why, when it is not an approver's click (an operator's decision)
}

// MessageRef is the Slack message a request lives in.
type MessageRef struct {
	Channel string
	TS      string
}

// Request is a renewal or auto-renew change waiting for, or past, approval.
type Request struct {
	ID        RequestID
	Kind      Kind
	State     State
	Requester string // Slack user ID
	Channel   string // where it was requested
	CreatedAt time.Time
	UpdatedAt time.Time
	Deadline  time.Time // pending past this is expired

	Reason   string    `json:",omitempty"` // why the requester asks (the request modal), optional
	Reminded Reminders `json:",omitempty"` // reminders sent while pending, each once
	Months   int       // KindRenew
	// ExpectedRenewDay: a KindRenew request that renews to this day of a month (1-28, the
	// unified expiration day 统一到期日) instead of for Months (then 0). 0: for Months.
	ExpectedRenewDay int           `json:",omitempty"`
	AutoRenew        AutoRenewMode // KindAutoRenew
	Duration         int           // KindAutoRenew with AutoRenewOn: months per automatic renewal

	Items    []Item
	Total    float64
	Currency string
	// Balances: each account's balance when the request was made, and the automatic renewals
	// due from it within 9 days; the approval card shows the balance after the renewal.
	Balances []AccountBalance `json:",omitempty"`

	ApprovalsRequired int
	Approvals         []Decision
	Closed            *Decision // who rejected or cancelled it
	Message           MessageRef
	Version           uint64 // incremented by every write

	// Verifying: when it started, how many checks the sweep made since, when the next is due,
	// and whether checking stopped at the bound (an approver decides then).
	VerifyingSince  time.Time `json:",omitzero"`
	Checks          int       `json:",omitempty"`
	NextCheck       time.Time `json:",omitzero"`
	CheckingStopped bool      `json:",omitempty"`
}

// AccountBalance is an account's balance and the automatic renewals due from it soon.
type AccountBalance struct {
	Account   string  `json:",omitempty"` // "" = the single default account
	Available float64 // QueryAccountBalance AvailableAmount
	Currency  string
	Due9Days  float64 // automatic renewals Alibaba will deduct within 9 days
	Err       string  `json:",omitempty"` // why the balance could not be read
}

// EffectiveState is State, except that a pending request past its deadline is expired
// (the sweep writes that down later; readers must not wait for it).
func (r *Request) EffectiveState(now time.Time) State {
	if r.State == StatePending && !r.Deadline.IsZero() && !now.Before(r.Deadline) {
		return StateExpired
	}
	return r.State
}

// InstanceIDs lists the request's instances in order.
// Accounts lists the accounts of the request's instances, in order, each once; none for
// the single default account.
func (r *Request) Accounts() []string {
	var out []string
	for _, it := range r.Items {
		if it.Account != "" && !slices.Contains(out, it.Account) {
			out = append(out, it.Account)
		}
	}
	return out
}

func (r *Request) InstanceIDs() []string {
	ids := make([]string, len(r.Items))
	for i, it := range r.Items {
		ids[i] = it.InstanceID
	}
	return ids
}

// ClientToken is the idempotency token of the paid call for one instance of this request:
// derived from the request and the instance only, so every retry and every restart sends the
// same one. 36 ASCII characters (Alibaba allows 64).
func (r *Request) ClientToken(instanceID string) string {
	sum := sha256.Sum256([]byte(string(r.ID) + "/" + instanceID))
	return "rb-" + hex.EncodeToString(sum[:])[:33]
}

// Errors.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	ErrLocked   = errors.New("database is in use by another process (in use by another renewbot?)")
	ErrInvalid  = errors.New("invalid")
)

// StateError is the conflict Transition returns when the request is not in a state it may
// leave for the target: another click, event or process got there first, or it expired.
// errors.Is(err, ErrConflict) is true.
type StateError struct {
	ID       RequestID
	Current  State     // stored state
	To       State     // the refused target
	Deadline time.Time // set when Current is pending but the deadline has passed
}

func (e *StateError) Error() string {
	if !e.Deadline.IsZero() {
		return fmt.Sprintf("request %s expired at %s (deadline passed): it cannot become %s",
			e.ID, e.Deadline.UTC().Format(time.RFC3339), e.To)
	}
	return fmt.Sprintf("request %s is %s: it cannot become %s", e.ID, e.Current, e.To)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *StateError) Is(target error) bool { return target == ErrConflict }

// OpenRequestError refuses a second open request for an instance.
type OpenRequestError struct {
	InstanceID string
	Existing   RequestID
	State      State
}

func (e *OpenRequestError) Error() string {
	return fmt.Sprintf("%s already has an open request %s (%s)", e.InstanceID, e.Existing, e.State)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *OpenRequestError) Is(target error) bool { return target == ErrConflict }

// Reminders are the reminders a pending request got, each at most once.
type Reminders uint8

const (
	RemindedApprovers  Reminders = 1 << iota // approvers reminded at half the TTL
	RemindedEscalation                       // the escalation contacts mentioned (90% of the TTL, or an instance expiring first)
)

// Action is what an audit event records.
type Action string

const (
	ActRequested   Action = "requested"    // request created (Detail: period, quote)
	ActApproved    Action = "approved"     // one approval recorded
	ActRejected    Action = "rejected"     // request rejected
	ActCancelled   Action = "cancelled"    // request cancelled
	ActExpired     Action = "expired"      // deadline passed
	ActRefused     Action = "refused"      // a click or command refused (Detail: why)
	ActClaimed     Action = "claimed"      // approved → executing
	ActCalled      Action = "called"       // paid API call about to be sent (Detail: ClientToken)
	ActOrdered     Action = "ordered"      // paid call answered (Detail: OrderId, RequestId), or unanswered and left to verification
	ActVerified    Action = "verified"     // new expiry confirmed
	ActItemFailed  Action = "item-failed"  // one instance failed (Detail: why)
	ActDone        Action = "done"         // request finished, all instances done
	ActFailed      Action = "failed"       // request finished, some instance failed
	ActResumed     Action = "resumed"      // executing request picked up after a restart
	ActSnoozed     Action = "snoozed"      // instance left out of digests until a time
	ActDigest      Action = "digest"       // digest posted to a channel
	ActOperatorRun Action = "operator-run" // renewbot CLI renewal outside Slack
	ActReminded    Action = "reminded"     // a pending request's approvers or escalation contacts were reminded (Detail: which)
	ActVerifying   Action = "verifying"    // ordered, the new expiry not visible yet: the sweep keeps checking
	ActChecked     Action = "checked"      // the sweep read a verifying request's expiries (Detail: what it saw)
	ActSuperseded  Action = "superseded"   // the expiry moved before the paid call: nothing sent (Detail: from, to)
	ActSettled     Action = "settled"      // an approver decided a verifying request (Detail: renewed or not, why)
	ActPosted      Action = "posted"       // a missing approval message was posted by the sweep
)

// Event is one audit log entry. The log is append-only.
type Event struct {
	Seq         uint64 // assigned by the store, increasing
	Time        time.Time
	Actor       string // Slack user ID, "renewbot" for the bot itself, or "cli:<user>"
	Action      Action
	RequestID   RequestID
	InstanceIDs []string
	Accounts    []string `json:",omitempty"` // the accounts of the request's instances; none = the single default account
	Detail      string
	// Hash is the hex SHA-256 of the previous event's Hash and this event's canonical
	// encoding (set by the store; VerifyAudit checks the chain).
	Hash string `json:",omitempty"`
}

// HistoryQuery selects audit events. Empty fields do not filter.
type HistoryQuery struct {
	RequestID  RequestID
	InstanceID string
	Since      time.Time
	Limit      int // newest Limit events; 0 = all
}

// DigestProgress is how far the digest of one channel and day got: what is already in
// Slack, so that a run cut off by a crash or a Slack error continues instead of starting over.
type DigestProgress struct {
	TS    string // the summary message's Slack ts; "" = not posted yet
	Pages int    // thread pages posted, in order
	CSV   bool   // the CSV is uploaded
}

// Snooze leaves one instance out of digests until a time.
type Snooze struct {
	InstanceID string
	Until      time.Time
	By         string
}
