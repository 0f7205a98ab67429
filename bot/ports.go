// Package bot is renewbot's Slack edge: slash commands, approval buttons and their messages,
// and the daily digest. It drives the renewal core (package bot/renewal) through its
// exported API and never writes renewal state itself. It reads ECS and the store only
// through the small interfaces declared where they are used.
package bot

import (
	"context"
	"regexp"
	"time"

	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/store"
	"github.com/slack-go/slack"
)

// Scanner lists subscription instances expiring in a time range (the digest and list).
type Scanner interface {
	Expiring(ctx context.Context, from, to time.Time) (ecs.Scan, error)
}

// Instances is what the slash commands read from ECS: list and status.
type Instances interface {
	Scanner
	renewal.Finder
}

// AuditLog is the audit trail /renew history reads.
type AuditLog interface {
	History(q store.HistoryQuery) ([]store.Event, error)
}

// SeenSet remembers the Slack requests and Socket Mode envelopes already handled, for
// Slack's 5-minute window and across restarts, so that a replay has no effect.
type SeenSet interface {
	FirstSeen(key []byte, now time.Time) (bool, error)
}

// AppStore is what the App reads and writes in the store itself (the workflow does the rest).
type AppStore interface {
	AuditLog
	SeenSet
}

var (
	_ Instances = (*ecs.Client)(nil)
	_ AppStore  = (*store.DB)(nil)
)

// SlackAPI is the part of the Slack Web API the bot calls; *slack.Client implements it.
type SlackAPI interface {
	PostMessageContext(ctx context.Context, channelID string, options ...slack.MsgOption) (string, string, error)
	UpdateMessageContext(ctx context.Context, channelID, timestamp string, options ...slack.MsgOption) (string, string, string, error)
	PostEphemeralContext(ctx context.Context, channelID, userID string, options ...slack.MsgOption) (string, error)
	GetUserGroupMembersContext(ctx context.Context, userGroup string, options ...slack.GetUserGroupMembersOption) ([]string, error)
	UploadFileContext(ctx context.Context, params slack.UploadFileParameters) (*slack.FileSummary, error)
	OpenViewContext(ctx context.Context, triggerID string, view slack.ModalViewRequest) (*slack.ViewResponse, error)
	UpdateViewContext(ctx context.Context, view slack.ModalViewRequest, externalID, hash, viewID string) (*slack.ViewResponse, error)
	PublishViewContext(ctx context.Context, req slack.PublishViewContextRequest) (*slack.ViewResponse, error)
	OpenConversationContext(ctx context.Context, params *slack.OpenConversationParameters) (*slack.Channel, bool, bool, error)
}

var _ SlackAPI = (*slack.Client)(nil)

// channelIDRe is the shape of a Slack channel ID: public (C…), private (G…) or direct (D…).
var channelIDRe = regexp.MustCompile(`^[CGD][A-Z0-9]{2,20}$`)

// IsChannelID reports whether s is a Slack channel ID; the one check of the digest channel,
// route tags and the settings.
func IsChannelID(s string) bool { return channelIDRe.MatchString(s) }

// Block Kit action IDs. "approve" and "reject" are fixed: outside tools click them.
const (
	ActionApprove      = "approve"            // value: request ID
	ActionReject       = "reject"             // value: request ID
	ActionDigestRenew  = "digest_renew"       // overflow in the digest; option value "INSTANCE_ID:MONTHS"
	ActionDigestSnooze = "digest_snooze"      // option value "INSTANCE_ID:DAYS"
	ActionSettleDone   = "settle_renewed"     // value: request ID; an approver, after the console: it was renewed
	ActionSettleFailed = "settle_not_renewed" // value: request ID; an approver, after the console: it was not
)
