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
	"github.com/slack-go/slack"
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
	BeginDigest(channel, day string, force bool) (store.DigestProgress, bool, error)
	DigestStep(channel, day string, p store.DigestProgress) error
	FinishDigest(channel, day, ts string, count int) error
	Snooze(s store.Snooze) error
	Snoozed(now time.Time) (map[string]store.Snooze, error)
	Backup(w io.Writer) (int64, error)
}

var (
	_ Cloud = (*ecs.Client)(nil)
	_ Store = (*store.DB)(nil)
)

// SlackAPI is the part of the Slack Web API the bot calls; *slack.Client implements it.
type SlackAPI interface {
	PostMessageContext(ctx context.Context, channelID string, options ...slack.MsgOption) (string, string, error)
	UpdateMessageContext(ctx context.Context, channelID, timestamp string, options ...slack.MsgOption) (string, string, string, error)
	PostEphemeralContext(ctx context.Context, channelID, userID string, options ...slack.MsgOption) (string, error)
	GetUserGroupMembersContext(ctx context.Context, userGroup string, options ...slack.GetUserGroupMembersOption) ([]string, error)
	UploadFileContext(ctx context.Context, params slack.UploadFileParameters) (*slack.FileSummary, error)
}

var _ SlackAPI = (*slack.Client)(nil)

// Members resolves a Slack user group (S…) to its member user IDs. The Slack implementation
// calls usergroups.users.list and caches the answer.
type Members interface {
	GroupMembers(ctx context.Context, groupID string) ([]string, error)
}

// Notifier is told whenever a request changes (approved, executing, done, failed, rejected,
// expired, cancelled). The Slack implementation updates the approval message in place.
type Notifier interface {
	RequestChanged(ctx context.Context, r *store.Request)
}

// Block Kit action IDs. "approve" and "reject" are fixed: outside tools click them.
const (
	ActionApprove      = "approve"       // value: request ID
	ActionReject       = "reject"        // value: request ID
	ActionDigestRenew  = "digest_renew"  // overflow in the digest; option value "INSTANCE_ID:MONTHS"
	ActionDigestSnooze = "digest_snooze" // option value "INSTANCE_ID:DAYS"
)
