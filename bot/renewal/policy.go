package renewal

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/renewbot/renewbot/ecs"
)

// Policy is who may approve what. The zero value means: one approval by someone other than
// the requester, a 24-hour deadline, at most 12 months per renewal, no amount limit, and no
// approvers (so nothing can be approved until some are configured).
type Policy struct {
	Approvers []string // U…/W… user IDs and S… user-group IDs (resolved via Members)
	// AccountApprovers are an account's own approvers (RENEWBOT_ACCOUNTS), in Approvers'
	// syntax: for a request on that account's instances they replace Approvers.
	AccountApprovers map[string][]string
	AllowSelf        bool          // false (default): four-eyes, the requester may not approve
	Required         int           // approvals needed, default 1
	SecondAbove      float64       // > 0: a request whose Total is above it needs 2 approvals
	TTL              time.Duration // pending deadline, default 24h
	MaxMonths        int           // longest renewal and longest automatic renewal (auto-renew on), default 12
	MaxAmount        float64       // 0: no limit
}

func (p Policy) withDefaults() Policy {
	if p.Required <= 0 {
		p.Required = 1
	}
	if p.TTL <= 0 {
		p.TTL = 24 * time.Hour
	}
	if p.MaxMonths <= 0 {
		p.MaxMonths = 12
	}
	return p
}

func (p Policy) validate() error {
	for _, a := range p.Approvers {
		if !IsUserID(a) && !IsGroupID(a) {
			return fmt.Errorf("approver %q is neither a Slack user ID (U…/W…) nor a user-group ID (S…): approvers are matched by ID, never by name", a)
		}
	}
	for acct, list := range p.AccountApprovers {
		if acct == "" {
			return errors.New("policy: approvers for an account without a name")
		}
		for _, a := range list {
			if !IsUserID(a) && !IsGroupID(a) {
				return fmt.Errorf("account %q: approver %q is neither a Slack user ID (U…/W…) nor a user-group ID (S…): approvers are matched by ID, never by name", acct, a)
			}
		}
	}
	if p.Required > 5 {
		return fmt.Errorf("policy: %d approvals required; at most 5 are supported", p.Required)
	}
	if p.SecondAbove < 0 || p.MaxAmount < 0 {
		return fmt.Errorf("policy: amounts must not be negative")
	}
	if longest := slices.Max(ecs.AutoRenewDurations()); p.MaxMonths > longest {
		return fmt.Errorf("policy: MaxMonths %d: Alibaba renews for at most 12 months, automatically for at most %d", p.MaxMonths, longest)
	}
	return nil
}

// required is the number of approvals a request with this total needs.
func (p Policy) required(total float64) int {
	n := p.Required
	if p.SecondAbove > 0 && total > p.SecondAbove && n < 2 {
		n = 2
	}
	return n
}

// ApproversOf are the approvers of requests on account's instances: the account's own
// (AccountApprovers) or, when it has none or for the single default account (""), Approvers.
func (p Policy) ApproversOf(account string) []string {
	if list, ok := p.AccountApprovers[account]; ok && account != "" {
		return list
	}
	return p.Approvers
}

// approverLists are every distinct approver list of the policy.
func (p Policy) approverLists() [][]string {
	out := [][]string{p.Approvers}
	for _, acct := range slices.Sorted(maps.Keys(p.AccountApprovers)) {
		out = append(out, p.AccountApprovers[acct])
	}
	return out
}

// IsUserID reports whether s is a Slack user ID (U… or W…); IsGroupID a user-group ID (S…).
// Approvers are matched by these IDs, never by names.
func IsUserID(s string) bool  { return len(s) > 1 && (s[0] == 'U' || s[0] == 'W') && isSlackID(s) }
func IsGroupID(s string) bool { return len(s) > 1 && s[0] == 'S' && isSlackID(s) }

func isSlackID(s string) bool {
	for _, c := range s {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// MayApprove says whether user may approve, reject, cancel or settle requests on the
// instances of accounts (a request's Accounts(); none: the single default account): user
// must be an approver of every one of them (Policy.ApproversOf), matched by ID. When not,
// Account names the first account refused (it is "" for the default account). Every
// authorization of an approver's action goes through here.
func (w *Workflow) MayApprove(ctx context.Context, user string, accounts []string) (Approver, error) {
	out := Approver{ID: user}
	if len(accounts) == 0 {
		accounts = []string{""}
	}
	for _, acct := range accounts {
		ok, err := w.inList(ctx, user, w.policy.ApproversOf(acct))
		if !ok {
			out.Account = acct
			if _, own := w.policy.AccountApprovers[acct]; !own {
				out.Account = "" // refused by the global list: no account to name
			}
			return out, err
		}
	}
	out.Allowed = true
	return out, nil
}

// MayApproveSome reports whether user is an approver of some account (or of the default one):
// whether the Home tab has requests that may wait for them.
func (w *Workflow) MayApproveSome(ctx context.Context, user string) (bool, error) {
	var errs []error
	for _, list := range w.policy.approverLists() {
		ok, err := w.inList(ctx, user, list)
		if ok {
			return true, nil
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return false, errors.Join(errs...)
}

// inList reports whether user is in list: listed by user ID, or a member of a listed user
// group (asked of Members at decision time; Members may cache). A group whose members
// cannot be read does not stop the search: the user may be in another one. Only when no
// group answered yes and some failed is the answer an error.
func (w *Workflow) inList(ctx context.Context, user string, list []string) (bool, error) {
	if !IsUserID(user) {
		return false, nil // a group ID or a name is never a clicker
	}
	if slices.Contains(list, user) {
		return true, nil
	}
	var errs []error
	for _, a := range list {
		if !IsGroupID(a) {
			continue
		}
		if w.members == nil {
			errs = append(errs, fmt.Errorf("approver group %s: no Members to resolve it", a))
			continue
		}
		members, err := w.members.GroupMembers(ctx, a)
		if err != nil {
			errs = append(errs, fmt.Errorf("members of approver group %s: %w", a, err))
			continue
		}
		if slices.Contains(members, user) {
			return true, nil
		}
	}
	return false, errors.Join(errs...)
}

// RefusalReason says why a decision was refused.
type RefusalReason int

const (
	RefuseSelfApproval RefusalReason = iota + 1 // the requester tried to approve their own request
	RefuseNotApprover                           // the user is not an approver (or, for Cancel, not the requester)
	RefuseExpired                               // the request is past its deadline
	RefuseOverLimit                             // the request costs more than Policy.MaxAmount
	RefuseDecided                               // already approved, rejected, cancelled, executing or finished
)

var refusalNames = [...]string{"", "self-approval", "not-approver", "expired", "over-limit", "decided"}

func (r RefusalReason) String() string {
	if r > 0 && int(r) < len(refusalNames) {
		return refusalNames[r]
	}
	return fmt.Sprintf("RefusalReason(%d)", int(r))
}

// Refusal is a policy decision against a user's action. It is audited (store.ActRefused)
// and changes nothing else. Error is a sentence for the user.
type Refusal struct {
	Reason RefusalReason
	Msg    string
}

func (e *Refusal) Error() string { return e.Msg }

// UserError is bad input: an unknown or unsuitable instance, a bad period, an open request
// for the same instance. Nothing was stored. Error is a sentence for the user; Err, when
// set, is the underlying cause for the log.
type UserError struct {
	Msg string
	Err error
}

func (e *UserError) Error() string { return e.Msg }
func (e *UserError) Unwrap() error { return e.Err }

func userErrorf(format string, args ...any) *UserError {
	return &UserError{Msg: fmt.Sprintf(format, args...)}
}

func joinIDs(ids []string) string { return strings.Join(ids, ", ") }
