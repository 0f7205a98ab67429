package renewal

import (
	"fmt"
	"time"

	"github.com/renewbot/renewbot/store"
)

// Approver is someone who clicked Approve: their user ID and whether the policy lets them
// approve at all (listed by ID, or a member of a listed user group; resolved before deciding
// because a group's members may have to be asked of Slack).
type Approver struct {
	ID      string
	Allowed bool
	Account string // when not Allowed: the account with its own approvers that lacks ID ("" for the global ones)
}

// DecideApproval is the approval policy as one pure function: given the request as stored,
// who approves, the time and the policy, it returns the state the request moves to with this
// approval (pending while more are needed, approved with the last one) or the refusal. It
// does no I/O; the store applies its answer in one compare-and-set transaction.
func DecideApproval(r *store.Request, user Approver, now time.Time, p Policy) (store.State, *Refusal) {
	switch {
	case r.EffectiveState(now) == store.StateExpired:
		return 0, expiredRefusal(r)
	case r.State != store.StatePending:
		return 0, decidedRefusal(user.ID, r)
	case user.ID == r.Requester && !p.AllowSelf:
		return 0, &Refusal{Reason: RefuseSelfApproval,
			Msg: fmt.Sprintf("you asked for request %s, so someone else has to approve it (four-eyes)", r.ID)}
	case hasDecision(r.Approvals, user.ID):
		return 0, decidedRefusal(user.ID, r)
	case !user.Allowed:
		msg := fmt.Sprintf("only renewal approvers can approve request %s", r.ID)
		if user.Account != "" {
			msg = fmt.Sprintf("only approvers of account %s can approve request %s (it is for instances of that account)", user.Account, r.ID)
		}
		switch {
		case len(p.ApproversOf(user.Account)) > 0:
		case user.Account != "":
			msg += ", and it lists none (an operator sets its approvers in RENEWBOT_ACCOUNTS)"
		default:
			msg += ", and none are configured yet (an operator sets RENEWBOT_APPROVERS)"
		}
		return 0, &Refusal{Reason: RefuseNotApprover, Msg: msg}
	}
	if len(r.Approvals)+1 >= r.ApprovalsRequired {
		return store.StateApproved, nil
	}
	return store.StatePending, nil
}

func expiredRefusal(r *store.Request) *Refusal {
	return &Refusal{Reason: RefuseExpired,
		Msg: fmt.Sprintf("request %s expired at %s without enough approvals; ask again if it is still needed", r.ID, r.Deadline.UTC().Format("2006-01-02 15:04 UTC"))}
}

func decidedRefusal(user string, r *store.Request) *Refusal {
	var msg string
	switch {
	case r.State == store.StatePending && hasDecision(r.Approvals, user):
		msg = fmt.Sprintf("you already approved request %s; it needs %d more approval(s) from someone else", r.ID, r.ApprovalsRequired-len(r.Approvals))
	case r.State == store.StatePending:
		msg = fmt.Sprintf("request %s changed meanwhile; look at it again", r.ID)
	default:
		msg = fmt.Sprintf("request %s is already %s", r.ID, r.State)
	}
	return &Refusal{Reason: RefuseDecided, Msg: msg}
}

// refusalEvent is the audit entry of a refusal.
func refusalEvent(user string, ref *Refusal) store.Event {
	return store.Event{Actor: user, Action: store.ActRefused, Detail: ref.Reason.String() + ": " + ref.Msg}
}

// approversNamed is who may decide, for a refusal: "renewal approvers", or "approvers of
// account NAME" when that account's own approvers refused.
func approversNamed(ap Approver) string {
	if ap.Account != "" {
		return "approvers of account " + ap.Account
	}
	return "renewal approvers"
}

// anApprover is approversNamed for one person.
func anApprover(ap Approver) string {
	if ap.Account != "" {
		return "an approver of account " + ap.Account
	}
	return "a renewal approver"
}
