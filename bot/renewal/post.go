package renewal

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/renewbot/renewbot/store"
)

// Poster posts a request's approval message, and tells a requester something, in chat; the
// Slack edge implements it. An error wrapping ErrUndeliverable means the message can never
// be posted as it is (the channel is gone, the bot is not in it): the request is withdrawn.
// Any other error (rate limited, chat down) is tried again at the next sweep.
type Poster interface {
	PostApproval(ctx context.Context, r *store.Request) (store.MessageRef, error)
	TellRequester(ctx context.Context, r *store.Request, text string) error
}

// ErrUndeliverable marks a Poster error that trying again will not cure.
var ErrUndeliverable = errors.New("the approval message cannot be posted")

// postTimeout bounds one post by the sweep (a long Retry-After is waited out at the next sweep).
const postTimeout = 30 * time.Second

// PostApproval posts the approval message of a pending request that has none yet and
// attaches it; it is the one place an approval message is posted, by the edge right after
// the request was made and by the sweep for requests left without one (the post failed, or
// the process died before it). A message that cannot ever be posted withdraws the request
// (the caller tells the requester; the sweep does). It returns the request as it is now. The error is nil when the
// message is there (or no longer needed), wraps ErrUndeliverable when the request was
// withdrawn, and is the Poster's error when the sweep should try again.
func (w *Workflow) PostApproval(ctx context.Context, id store.RequestID) (*store.Request, error) {
	if w.poster == nil {
		return nil, errors.New("post approval: no Poster configured")
	}
	if !w.beginPost(id) {
		return w.store.GetRequest(id) // being posted right now
	}
	defer w.endPost(id)
	r, err := w.store.GetRequest(id)
	if err != nil || r.State != store.StatePending || r.Message.TS != "" || r.EffectiveState(w.now()) != store.StatePending {
		return r, err
	}
	ref, err := w.poster.PostApproval(ctx, r)
	switch {
	case errors.Is(err, ErrUndeliverable):
		why := "approval message could not be posted: " + err.Error()
		if werr := w.Withdraw(ctx, id, why); werr != nil {
			return r, errors.Join(err, werr)
		}
		got, _ := w.store.GetRequest(id)
		return got, err
	case err != nil:
		w.log.Warn("approval message not posted; the sweep tries again", "request", id, "err", err)
		return r, err
	}
	return w.AttachMessage(ctx, id, ref)
}

func (w *Workflow) beginPost(id store.RequestID) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.posting[id] {
		return false
	}
	w.posting[id] = true
	return true
}

func (w *Workflow) endPost(id store.RequestID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.posting, id)
}

// postMissing posts the approval message of every pending request that has none (oldest
// first), or withdraws it; it runs at start-up and at every sweep.
func (w *Workflow) postMissing(ctx context.Context) error {
	if w.poster == nil {
		return nil
	}
	rs, err := w.store.ListRequests(store.StatePending)
	if err != nil {
		return fmt.Errorf("pending requests: %w", err)
	}
	slices.Reverse(rs)
	now := w.now()
	var errs []error
	for _, r := range rs {
		if ctx.Err() != nil {
			return errors.Join(append(errs, ctx.Err())...)
		}
		if r.Message.TS != "" || r.EffectiveState(now) != store.StatePending {
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, postTimeout)
		got, err := w.PostApproval(pctx, r.ID)
		cancel()
		switch {
		case errors.Is(err, ErrUndeliverable):
			if terr := w.poster.TellRequester(ctx, r, fmt.Sprintf("I could not post the approval message of your request %s for %s in <#%s> (%v), so I withdrew it; nothing was charged. Is renewbot a member of the channel?",
				r.ID, joinIDs(r.InstanceIDs()), r.Channel, err)); terr != nil {
				w.log.Error("tell the requester of a withdrawn request", "request", r.ID, "user", r.Requester, "err", terr)
			}
		case err != nil:
			errs = append(errs, fmt.Errorf("post approval message of %s: %w", r.ID, err))
		case err == nil && got != nil && got.Message.TS != "":
			if aerr := w.store.Audit(store.Event{Actor: botActor, Action: store.ActPosted, RequestID: r.ID, InstanceIDs: r.InstanceIDs(),
				Detail: "approval message posted by the sweep, in " + got.Message.Channel}); aerr != nil {
				errs = append(errs, aerr)
			}
		}
	}
	return errors.Join(errs...)
}
