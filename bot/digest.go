package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/store"
	"github.com/slack-go/slack"
)

// DigestConfig configures the daily digest. Zero values have defaults.
type DigestConfig struct {
	Cloud    Scanner
	Store    DigestStore
	Slack    SlackAPI         // needed by Run only (Plan works without it, for --dry-run)
	Now      func() time.Time // the one clock of plans, pacing and the schedule; default time.Now
	Location *time.Location   // the digest day and the schedule; default Asia/Shanghai
	Log      *slog.Logger
	Metrics  *Metrics

	// DefaultChannel gets every instance without a RouteTag tag, and a summary every day
	// even when nothing expires. Instances with the tag go to that channel only.
	DefaultChannel string
	RouteTag       string         // default "renewbot-channel"
	Window         time.Duration  // how far ahead to look, default 30 days
	Tiers          []int          // urgency tiers in days, default 3, 7, 15, 30
	Pace           time.Duration  // least time between two posts to one channel, default 1s
	MaxPages       int            // thread pages per channel, default 20; the CSV always has every instance
	MaxPeriod      int            // longest renewal a request may ask for, in months (RENEWBOT_MAX_PERIOD), default 12: the renew menu offers no more
	Forecast       ScanForecaster // optional: the balance forecast in the default channel's summary, from the digest's own scan (forecast.go)
}

// Digest constants.
const (
	maxPageItems    = 100 // snooze menu options per page
	digestAttempts  = 5   // tries of one digest post when Slack answers 429 (the digest can wait)
	defaultMaxPages = 20
	snoozeDays      = 7
)

// DigestStore is what the digest keeps in the store: its progress per channel and day, and
// the snoozes it honours.
type DigestStore interface {
	BeginDigest(channel, day string, force bool) (store.DigestProgress, bool, error)
	DigestStep(channel, day string, p store.DigestProgress) error
	FinishDigest(channel, day, ts string, count int) error
	Snoozed(now time.Time) (map[string]store.Snooze, error)
}

var _ DigestStore = (*store.DB)(nil)

// Digester builds and posts the daily digest.
type Digester struct {
	cfg DigestConfig
	log *slog.Logger
	run func(ctx context.Context, force bool) (DigestReport, error) // Run; Schedule's seam for tests
}

// NewDigester checks cfg and fills in defaults.
func NewDigester(cfg DigestConfig) (*Digester, error) {
	if cfg.Cloud == nil || cfg.Store == nil {
		return nil, errors.New("digest: Cloud and Store are required")
	}
	if cfg.DefaultChannel != "" && !IsChannelID(cfg.DefaultChannel) {
		return nil, fmt.Errorf("digest: default channel %q is not a Slack channel ID (C…, G… or D…)", cfg.DefaultChannel)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Location == nil {
		loc, err := time.LoadLocation("Asia/Shanghai")
		if err != nil {
			loc = ecs.UTC8
		}
		cfg.Location = loc
	}
	if cfg.RouteTag == "" {
		cfg.RouteTag = "renewbot-channel"
	}
	if cfg.Window == 0 {
		cfg.Window = 30 * 24 * time.Hour
	}
	if cfg.Window < renewal.MinWindow || cfg.Window > renewal.MaxWindow {
		return nil, fmt.Errorf("digest: window %s is out of range (1h to 365d)", cfg.Window)
	}
	if len(cfg.Tiers) == 0 {
		cfg.Tiers = defaultTiers
	}
	if !slices.IsSorted(cfg.Tiers) || cfg.Tiers[0] <= 0 || len(cfg.Tiers) > 8 {
		return nil, fmt.Errorf("digest: tiers %v must be 1 to 8 increasing numbers of days", cfg.Tiers)
	}
	if cfg.Pace == 0 {
		cfg.Pace = time.Second
	}
	if cfg.MaxPages <= 0 {
		cfg.MaxPages = defaultMaxPages
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxPeriod <= 0 {
		cfg.MaxPeriod = 12
	}
	d := &Digester{cfg: cfg, log: log.With("component", "digest")}
	d.run = d.Run
	return d, nil
}

// DigestPlan is a digest ready to post: per channel, a summary, thread pages and a CSV.
type DigestPlan struct {
	Day    string // YYYY-MM-DD in the digest's time zone
	Now    time.Time
	Window time.Duration
	Failed []ecs.RegionError // regions that could not be read: shown in every summary
	// ScanError is set when no region could be read. The plan then only tells the default
	// channel so, and Run does not count the day as done.
	ScanError error
	Snoozed   int             // instances left out because someone snoozed them
	Unrouted  int             // untagged instances when there is no default channel
	Channels  []ChannelDigest // the default channel first, then by channel ID
	// Forecast is every account's balance forecast (nil without a ScanForecaster); ForecastErr
	// says why there is none.
	Forecast    []renewal.AccountForecast
	ForecastErr error
}

// ChannelDigest is the digest of one channel.
type ChannelDigest struct {
	Channel string
	Items   []DigestItem // most urgent first
	Counts  []int        // instances per tier
	Tiers   []int        // tier limits in days
	Summary DigestMessage
	Pages   []DigestMessage // thread replies
	Omitted int             // instances only in the CSV (more than MaxPages pages)
	CSV     []byte
	CSVName string
}

// DigestMessage is one Slack message.
type DigestMessage struct {
	Text   string
	Blocks []slack.Block
}

// DigestItem is one instance of a digest.
type DigestItem struct {
	Instance      ecs.Instance
	Tier          int
	Deduction     time.Time // AutoRenewal: when Alibaba charges the automatic renewal
	NeedsDecision bool      // manual or NotRenewal, or an automatic deduction that has passed
}

// DigestReport is what Run did, per channel.
type DigestReport struct {
	Day      string
	Channels []ChannelReport
	Failed   []ecs.RegionError
	Snoozed  int    // instances left out because someone snoozed them
	Unrouted int    // instances left out: no RouteTag tag and no default channel
	RouteTag string // the tag that routes an instance to a channel
}

// ChannelReport is the outcome of one channel's digest.
type ChannelReport struct {
	Channel   string
	Instances int
	Pages     int
	Skipped   bool   // already posted today
	TS        string // the summary message
	File      string // the uploaded CSV's file ID
	Err       error
	CSVErr    error // Slack refused the CSV for good (no files:write, no files.* methods): posted without it
}
