package renewal

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/store"
)

// Withdraw cancels a pending request that nobody can decide, because its approval message
// could not be posted. why is audited.
func (w *Workflow) Withdraw(ctx context.Context, id store.RequestID, why string) error {
	got, err := w.store.Transition(id, []store.State{store.StatePending}, store.StateCancelled,
		store.Event{Actor: botActor, Action: store.ActCancelled, Detail: why}, nil)
	if err != nil {
		return fmt.Errorf("withdraw %s: %w", id, err)
	}
	w.log.Info("request withdrawn", "request", id, "why", why)
	w.notify(ctx, got)
	return nil
}

// MaxSnoozeDays is the longest an instance can be left out of the digest.
const MaxSnoozeDays = 366

// Snooze leaves an instance out of the digest for days days, on user's word. It returns
// until when.
func (w *Workflow) Snooze(user, instanceID string, days int) (time.Time, error) {
	if !ecs.IsInstanceID(instanceID) {
		return time.Time{}, userErrorf("%q is not an ECS instance ID", instanceID)
	}
	if days < 1 || days > MaxSnoozeDays {
		return time.Time{}, userErrorf("a snooze is for 1 to %d days, not %d", MaxSnoozeDays, days)
	}
	until := w.now().Add(time.Duration(days) * 24 * time.Hour)
	if err := w.store.Snooze(store.Snooze{InstanceID: instanceID, Until: until, By: user}); err != nil {
		return time.Time{}, fmt.Errorf("snooze %s: %w", instanceID, err)
	}
	return until, nil
}

// operatorNote is the audited reason an operator's CLI request needs no approval.
const operatorNote = "operator's decision: policy exemption (no approval, four-eyes or limits): the operator runs renewbot with the AccessKey"

// OperatorRenewal is a renewal an operator runs with the CLI.
type OperatorRenewal struct {
	Actor      string // "cli:<user>"
	InstanceID string
	Months     int
}

// OperatorAutoRenew is an auto-renew change an operator runs with the CLI.
type OperatorAutoRenew struct {
	Actor       string // "cli:<user>"
	InstanceIDs []string
	Mode        store.AutoRenewMode
	Duration    int
}

// ErrNotOperator refuses an operator request whose actor is not "cli:<user>".
var ErrNotOperator = errors.New(`an operator's request needs an actor "cli:<user>"`)

func checkOperator(actor string) error {
	if len(actor) <= len("cli:") || actor[:len("cli:")] != "cli:" {
		return ErrNotOperator
	}
	return nil
}

// RenewAsOperator renews one instance on an operator's word, through the same path as an
// approved Slack request: a request is created (it takes the instance's open-request lock,
// so it is refused while another request on the instance is open, and names it), recorded as
// approved by the operator's decision (an audited exemption from the policy), then executed
// with the request's ClientToken and verified. The request is returned as it ended; an error
// with a request means the outcome is not known yet (Resume and Sweep finish it).
func (w *Workflow) RenewAsOperator(ctx context.Context, in OperatorRenewal) (*store.Request, error) {
	if err := checkOperator(in.Actor); err != nil {
		return nil, err
	}
	r, err := w.renewalRequest(ctx, RenewalInput{Requester: in.Actor, InstanceIDs: []string{in.InstanceID}, Months: in.Months}, 0)
	if err != nil {
		return nil, err
	}
	return w.runAsOperator(ctx, r)
}

// OperatorAlign renews instances to the unified expiration day on an operator's word.
type OperatorAlign struct {
	Actor       string   // "cli:<user>"
	InstanceIDs []string // IDs or "ACCOUNT:ID"
	Day         int      // 1-28
}

// AlignAsOperator renews instances to day Day of the month on an operator's word, like
// RenewAsOperator: the same request (a renewal to a day), lock, ClientTokens and verification.
func (w *Workflow) AlignAsOperator(ctx context.Context, in OperatorAlign) (*store.Request, error) {
	if err := checkOperator(in.Actor); err != nil {
		return nil, err
	}
	r, err := w.renewalRequest(ctx, RenewalInput{Requester: in.Actor, InstanceIDs: in.InstanceIDs, ExpectedRenewDay: in.Day}, 0)
	if err != nil {
		return nil, err
	}
	return w.runAsOperator(ctx, r)
}

// AutoRenewAsOperator changes auto-renew on an operator's word, like RenewAsOperator.
func (w *Workflow) AutoRenewAsOperator(ctx context.Context, in OperatorAutoRenew) (*store.Request, error) {
	if err := checkOperator(in.Actor); err != nil {
		return nil, err
	}
	r, err := w.autoRenewRequest(ctx, AutoRenewInput{Requester: in.Actor, InstanceIDs: in.InstanceIDs, Mode: in.Mode, Duration: in.Duration}, true)
	if err != nil {
		return nil, err
	}
	return w.runAsOperator(ctx, r)
}

func (w *Workflow) runAsOperator(ctx context.Context, r *store.Request) (*store.Request, error) {
	r.State = store.StateApproved
	r.ApprovalsRequired = 1
	r.Approvals = []store.Decision{{User: r.Requester, At: w.now(), Note: operatorNote}}
	if err := w.store.CreateRequest(r); err != nil {
		return nil, w.createError(err)
	}
	w.log.Info("operator request", "request", r.ID, "kind", r.Kind, "actor", r.Requester, "instances", joinIDs(r.InstanceIDs()))
	got, err := w.Execute(ctx, r.ID)
	if err != nil && got == nil {
		got, _ = w.store.GetRequest(r.ID)
	}
	return got, err
}
