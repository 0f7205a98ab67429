package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/store"
	"github.com/slack-go/slack"
)

// laterTimeout bounds one piece of work done after an ack (an Execute waits for verification).
const laterTimeout = 15 * time.Minute

// AppConfig configures an App. Workflow, Cloud, Store and Slack are required.
type AppConfig struct {
	Workflow *renewal.Workflow
	Cloud    Instances // list and status
	Store    AppStore  // history; the requests and envelopes already seen
	Slack    SlackAPI

	Now        func() time.Time // default time.Now
	Location   *time.Location   // for times shown to people, default UTC
	Log        *slog.Logger     // default: discard
	Metrics    *Metrics
	ListWindow time.Duration // default window of "list", default 30 days
	HTTPClient *http.Client  // posts answers to response_url; default: a client with a 10s timeout

	Requests       RequestReader  // the Home tab and reject clicks; default: Store, if it reads requests
	Quoter         renewal.Quoter // the request modal's live quote; default: Cloud, if it quotes
	Changes        *AppNotifier   // bound to the App: Home tabs and the requester's DMs follow request changes
	DefaultChannel string         // preselected in the request modal opened from the Home tab
	EscalateTo     []string       // user (U…) and group (S…) IDs mentioned when a request nears its deadline (reminders.go)
	Forecast       Forecaster     // each account's balance warning in the Home tab; nil: none
}

// App is the Slack edge: it turns slash commands and button clicks, from HTTP or Socket Mode,
// into workflow calls. It acknowledges first and does slow work afterwards, in goroutines that
// Shutdown waits for.
type App struct {
	wf         *renewal.Workflow
	cloud      Instances
	store      AppStore
	slack      SlackAPI
	now        func() time.Time
	loc        *time.Location
	log        *slog.Logger
	metrics    *Metrics
	listWindow time.Duration
	wait       func(context.Context, time.Duration) error // waits out a 429's Retry-After
	http       *http.Client                               // posts to response_url

	base   context.Context // parent of all later work; cancelled when Shutdown gives up
	cancel context.CancelFunc

	mu      sync.Mutex
	closing bool
	work    sync.WaitGroup

	seen SeenSet // Slack requests and Socket Mode envelopes already handled

	requests       RequestReader
	quoter         renewal.Quoter
	defaultChannel string
	scans          *scanCache // the last list of every subscription (Home tab, instance picker)
	homes          *homeQueue // Home tab refreshes
	tells          *tellQueue // the requester's DMs and thread replies (requester.go)
	escalateTo     []string
	forecast       Forecaster // the balance forecast in the Home tab (forecast.go); nil: none
	forecasts      *forecastCache
}

// NewApp checks cfg and builds an App.
func NewApp(cfg AppConfig) (*App, error) {
	if cfg.Workflow == nil || cfg.Cloud == nil || cfg.Store == nil || cfg.Slack == nil {
		return nil, errors.New("app: Workflow, Cloud, Store and Slack are required")
	}
	a := &App{
		wf: cfg.Workflow, cloud: cfg.Cloud, store: cfg.Store, slack: cfg.Slack,
		now: cfg.Now, loc: cfg.Location, log: cfg.Log, metrics: cfg.Metrics, listWindow: cfg.ListWindow,
		seen: cfg.Store, wait: waitCtx, http: cfg.HTTPClient,
		requests: cfg.Requests, quoter: cfg.Quoter, defaultChannel: cfg.DefaultChannel, escalateTo: slices.Clone(cfg.EscalateTo),
		scans: &scanCache{}, homes: newHomeQueue(), tells: newTellQueue(), forecast: cfg.Forecast, forecasts: &forecastCache{},
	}
	for _, id := range a.escalateTo {
		if !renewal.IsUserID(id) && !renewal.IsGroupID(id) {
			return nil, fmt.Errorf("app: escalation contact %q is neither a user ID (U…/W…) nor a user-group ID (S…)", id)
		}
	}
	if a.requests == nil {
		a.requests, _ = cfg.Store.(RequestReader)
	}
	if a.quoter == nil {
		a.quoter, _ = cfg.Cloud.(renewal.Quoter)
	}
	if cfg.Changes != nil {
		cfg.Changes.mu.Lock()
		cfg.Changes.app = a
		cfg.Changes.mu.Unlock()
	}
	if a.http == nil {
		a.http = &http.Client{Timeout: 10 * time.Second}
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.loc == nil {
		a.loc = time.UTC
	}
	if a.log == nil {
		a.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if a.listWindow <= 0 {
		a.listWindow = 30 * 24 * time.Hour
	}
	a.base, a.cancel = context.WithCancel(context.Background())
	return a, nil
}

// later registers fn, work to do after an ack, and returns start, which lets it begin. The
// caller calls start once the ack is written, so the work never runs before it (a fast answer
// through response_url would otherwise reach Slack ahead of the ack). Shutdown waits for
// registered work from the moment it is registered. After Shutdown started, new work is
// dropped (a restart resumes approved requests). start may be called more than once.
func (a *App) later(what string, fn func(context.Context)) (start func()) {
	if fn == nil {
		return func() {}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closing {
		a.log.Warn("shutting down: dropped work after ack", "work", what)
		return func() {}
	}
	acked := make(chan struct{})
	a.work.Go(func() {
		select {
		case <-acked:
		case <-a.base.Done(): // Shutdown gave up before the ack was written
			return
		}
		ctx, cancel := context.WithTimeout(a.base, laterTimeout)
		defer cancel()
		defer func() {
			if p := recover(); p != nil {
				a.log.Error("panic in work after ack", "work", what, "panic", p)
			}
		}()
		fn(ctx)
	})
	var once sync.Once
	return func() { once.Do(func() { close(acked) }) }
}

// Shutdown stops taking new work and waits for work in flight. When ctx ends first, the work
// is cancelled and ctx's error returned.
func (a *App) Shutdown(ctx context.Context) error {
	a.mu.Lock()
	a.closing = true
	a.mu.Unlock()
	err := waitGroup(ctx, &a.work)
	a.cancel()
	if err != nil {
		a.work.Wait() // the cancelled work ends
	}
	return err
}

// waitGroup waits for wg, or until ctx ends (then with ctx's error).
func waitGroup(ctx context.Context, wg *sync.WaitGroup) error {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// noChannelOrUser answers a request that came without a channel to post its approval
// message in, or without the user who asks.
const noChannelOrUser = "⚠️ I need the channel and the user of a request to post its approval message; Slack did not send them. Try again from a channel renewbot is in."

// ephemeral is a reply only the user sees.
func ephemeral(text string, blocks ...slack.Block) slack.Msg {
	m := slack.Msg{ResponseType: slack.ResponseTypeEphemeral, Text: text}
	if len(blocks) > 0 {
		m.Blocks = slack.Blocks{BlockSet: blocks}
	}
	return m
}

// handleCommand answers a slash command: the ack to send at once and, for anything that
// calls ECS or Slack, work to run after the ack.
func (a *App) handleCommand(sc slack.SlashCommand) (slack.Msg, func(context.Context)) {
	if strings.TrimSpace(sc.Text) == "" && sc.TriggerID != "" && sc.UserID != "" && sc.ChannelID != "" {
		a.metrics.Command("modal")
		to := replyTo{url: sc.ResponseURL, channel: sc.ChannelID, user: sc.UserID}
		return ephemeral("Opening the request form… (`/renew help` lists the commands.)"),
			func(ctx context.Context) {
				a.openRequestModal(ctx, sc.TriggerID, to, RequestModalData{Channel: sc.ChannelID})
			}
	}
	cmd, err := ParseCommand(sc.Text)
	if err != nil {
		a.metrics.Command("invalid")
		return ephemeral(err.Error()), nil
	}
	a.metrics.Command(cmd.Verb.String())
	a.log.Info("command", "verb", cmd.Verb, "user", sc.UserID, "channel", sc.ChannelID,
		"instances", strings.Join(cmd.InstanceIDs, ","), "text", cmd.String())
	if (cmd.Verb == VerbRenew || cmd.Verb == VerbAutoRenew || cmd.Verb == VerbAlign) && (sc.UserID == "" || sc.ChannelID == "") {
		return ephemeral(noChannelOrUser), nil
	}
	to := replyTo{url: sc.ResponseURL, channel: sc.ChannelID, user: sc.UserID}
	ids := strings.Join(cmd.InstanceIDs, ", ")
	switch cmd.Verb {
	case VerbHelp:
		text, blocks := HelpMessage()
		return ephemeral(text, blocks...), nil
	case VerbList:
		window := cmd.Window
		if window <= 0 {
			window = a.listWindow
		}
		return ephemeral(fmt.Sprintf("Looking for subscriptions expiring in the next %s…", renewal.FormatWindow(window))),
			func(ctx context.Context) { a.list(ctx, to, window) }
	case VerbStatus:
		return ephemeral("Looking up " + ids + "…"),
			func(ctx context.Context) { a.status(ctx, to, cmd.InstanceIDs) }
	case VerbRenew:
		in := renewal.RenewalInput{Requester: sc.UserID, Channel: sc.ChannelID, InstanceIDs: cmd.InstanceIDs, Months: cmd.Months}
		return ephemeral(fmt.Sprintf("Getting a price quote to renew %s for %d month(s)…", ids, cmd.Months)),
			func(ctx context.Context) {
				a.open(ctx, to, func(ctx context.Context) (*store.Request, error) { return a.wf.RequestRenewal(ctx, in) })
			}
	case VerbAlign:
		in := renewal.RenewalInput{Requester: sc.UserID, Channel: sc.ChannelID, InstanceIDs: cmd.InstanceIDs, ExpectedRenewDay: cmd.Day}
		return ephemeral(fmt.Sprintf("Getting a price quote to renew %s to day %d of the month…", ids, cmd.Day)),
			func(ctx context.Context) {
				a.open(ctx, to, func(ctx context.Context) (*store.Request, error) { return a.wf.RequestRenewal(ctx, in) })
			}
	case VerbAutoRenew:
		in := renewal.AutoRenewInput{Requester: sc.UserID, Channel: sc.ChannelID, InstanceIDs: cmd.InstanceIDs,
			Mode: cmd.AutoRenew, Duration: cmd.Duration}
		return ephemeral(fmt.Sprintf("Preparing an auto-renew %s request for %s…", cmd.AutoRenew, ids)),
			func(ctx context.Context) {
				a.open(ctx, to, func(ctx context.Context) (*store.Request, error) { return a.wf.RequestAutoRenew(ctx, in) })
			}
	case VerbHistory:
		if cmd.Export {
			if sc.ChannelID == "" {
				return ephemeral(noChannelOrUser), nil
			}
			return ephemeral("Exporting the audit log as CSV…"), func(ctx context.Context) { a.exportHistory(ctx, to, cmd) }
		}
		q := store.HistoryQuery{RequestID: cmd.RequestID, Limit: 50}
		if len(cmd.InstanceIDs) > 0 {
			q.InstanceID = cmd.InstanceIDs[0]
		}
		return ephemeral("Reading the audit log…"), func(ctx context.Context) { a.history(ctx, to, q) }
	case VerbCancel:
		if sc.UserID == "" {
			return ephemeral(noChannelOrUser), nil
		}
		return ephemeral("Cancelling " + string(cmd.RequestID) + "…"), func(ctx context.Context) { a.cancelRequest(ctx, to, cmd.RequestID) }
	}
	return ephemeral(Usage), nil
}

func (a *App) list(ctx context.Context, to replyTo, window time.Duration) {
	now := a.now()
	scan, err := a.cloud.Expiring(ctx, now.Add(-ecs.ReleaseGrace), now.Add(window)) // expired but not yet released too
	if err != nil {
		a.replyErr(ctx, to, "could not list expiring instances", err)
		return
	}
	text, blocks := ListMessage(scan, window, now.In(a.loc))
	a.reply(ctx, to, text, blocks...)
}

func (a *App) status(ctx context.Context, to replyTo, ids []string) {
	insts, err := a.cloud.Lookup(ctx, ids)
	if err != nil {
		a.replyErr(ctx, to, "could not look up "+strings.Join(ids, ", "), err)
		return
	}
	text, blocks := StatusMessage(insts, a.now().In(a.loc))
	a.reply(ctx, to, text, blocks...)
}

func (a *App) history(ctx context.Context, to replyTo, q store.HistoryQuery) {
	evs, err := a.store.History(q)
	if err != nil {
		a.replyErr(ctx, to, "could not read the audit log", err)
		return
	}
	if q.RequestID != "" && len(evs) == 0 { // every request has at least its "requested" event
		a.reply(ctx, to, "no request "+string(q.RequestID))
		return
	}
	text, blocks := HistoryMessage(evs, a.loc)
	a.reply(ctx, to, text, blocks...)
}

// exportHistory uploads the audit log since cmd's SINCE (all of it without one) as a CSV file
// to the channel the command came from (files upload v2, as the digest's CSV), and tells the
// user. Like everything in Slack, the details leave out ClientTokens and API request IDs.
func (a *App) exportHistory(ctx context.Context, to replyTo, cmd Command) {
	now := a.now()
	var q store.HistoryQuery
	from := "the start"
	switch {
	case cmd.SinceDay != "":
		d, err := time.ParseInLocation(time.DateOnly, cmd.SinceDay, a.loc)
		if err != nil { // ParseCommand checked it
			a.replyErr(ctx, to, "could not export the audit log", err)
			return
		}
		q.Since, from = d, d.Format("2006-01-02 MST")
	case cmd.Since > 0:
		q.Since = now.Add(-cmd.Since)
		from = q.Since.In(a.loc).Format("2006-01-02 15:04 MST")
	}
	evs, err := a.store.History(q)
	if err != nil {
		a.replyErr(ctx, to, "could not read the audit log", err)
		return
	}
	var buf bytes.Buffer
	if err := WriteAuditCSV(&buf, evs, true); err != nil {
		a.replyErr(ctx, to, "could not write the audit CSV", err)
		return
	}
	name := "renewbot-audit-" + now.In(a.loc).Format("2006-01-02") + ".csv"
	var file *slack.FileSummary
	err = retryRateLimited(ctx, a.wait, a.metrics, "files.upload", maxAttempts, func() (err error) {
		file, err = a.slack.UploadFileContext(ctx, slack.UploadFileParameters{
			Channel: to.channel, Filename: name, FileSize: buf.Len(), Reader: bytes.NewReader(buf.Bytes()),
			Title:          fmt.Sprintf("renewbot audit log since %s (%s)", from, plural(len(evs), "event", "events")),
			InitialComment: fmt.Sprintf("Audit log export requested by <@%s>. ClientTokens and API request IDs are left out: `renewbot history --format csv` on the server has them, and `renewbot history --verify` checks the hash chain.", to.user),
		})
		return withoutURL(err) // the upload_url carries a one-time ticket
	})
	if err != nil {
		recordSlackError(a.metrics, "files.upload", err)
		a.log.Error("upload audit CSV", "channel", to.channel, "user", to.user, "err", err)
		a.reply(ctx, to, fmt.Sprintf("❌ I could not upload the audit CSV to this channel (%s). Is renewbot a member of it, with the files:write scope?", slackErrText(err)))
		return
	}
	a.log.Info("audit log exported", "channel", to.channel, "user", to.user, "events", len(evs), "file", fileID(file))
	a.reply(ctx, to, fmt.Sprintf("Uploaded the audit log since %s (%s) to <#%s> as %s.", from, plural(len(evs), "event", "events"), to.channel, name))
}

func fileID(f *slack.FileSummary) string {
	if f == nil {
		return ""
	}
	return f.ID
}

// open creates a request with create, posts its approval message into the request's channel,
// attaches the message to it and tells the requester.
func (a *App) open(ctx context.Context, to replyTo, create func(context.Context) (*store.Request, error)) {
	r, err := create(ctx)
	if err != nil {
		a.replyErr(ctx, to, "could not open the request", err)
		return
	}
	got, err := a.wf.PostApproval(ctx, r.ID)
	switch {
	case errors.Is(err, renewal.ErrUndeliverable):
		a.reply(ctx, to, fmt.Sprintf("I could not post the approval message for %s in this channel (%v), so I withdrew the request. Is renewbot a member of the channel?", r.ID, err))
		return
	case err != nil:
		a.reply(ctx, to, fmt.Sprintf("Request %s is open, but Slack did not take its approval message just now (%v); I will post it within a few minutes. `/renew cancel %s` withdraws it.", r.ID, err, r.ID))
		return
	}
	ch := r.Channel
	if got != nil && got.Message.Channel != "" {
		ch = got.Message.Channel
	}
	a.homes.changed(a, []string{r.Requester}, true) // a new request waits for approvers (home.go)
	a.reply(ctx, to, fmt.Sprintf("Request %s is waiting for approval: %s, total %.2f %s. An approver has to click Approve on the message in <#%s>.",
		r.ID, strings.Join(r.InstanceIDs(), ", "), r.Total, r.Currency, ch))
}

// click is what the bot uses of a block_actions interaction: who clicked which action, with
// which value, where.
type click struct {
	Type        string // "block_actions"
	User        string
	Channel     string // the channel, else the container's
	ResponseURL string
	ActionID    string // of the first action
	Value       string // the button's value, or the selected menu option's
	TriggerID   string // opens a modal within 3 seconds
}

// parseClick reads an interaction payload. It decodes only the fields it uses, so any valid
// payload works, including shapes slack-go's InteractionCallback refuses or misfiles (an
// action without block_id is taken for a legacy attachment action there).
func parseClick(payload []byte) (click, error) {
	var raw struct {
		Type string `json:"type"`
		User struct {
			ID string `json:"id"`
		} `json:"user"`
		Channel struct {
			ID string `json:"id"`
		} `json:"channel"`
		Container struct {
			ChannelID string `json:"channel_id"`
		} `json:"container"`
		ResponseURL string `json:"response_url"`
		TriggerID   string `json:"trigger_id"`
		Actions     []struct {
			ActionID       string `json:"action_id"`
			Value          string `json:"value"`
			SelectedOption struct {
				Value string `json:"value"`
			} `json:"selected_option"`
		} `json:"actions"`
	}
	if err := json.Unmarshal(payload, &raw); err != nil {
		return click{}, fmt.Errorf("interaction payload: %w", err)
	}
	c := click{Type: raw.Type, User: raw.User.ID, Channel: raw.Channel.ID, ResponseURL: raw.ResponseURL, TriggerID: raw.TriggerID}
	if c.Channel == "" {
		c.Channel = raw.Container.ChannelID
	}
	if len(raw.Actions) > 0 {
		c.ActionID, c.Value = raw.Actions[0].ActionID, raw.Actions[0].Value
		if c.Value == "" {
			c.Value = raw.Actions[0].SelectedOption.Value
		}
	}
	return c, nil
}

// handleInteraction returns the work for a click; the click itself is acknowledged empty.
func (a *App) handleInteraction(c click) func(context.Context) {
	if c.Type != string(slack.InteractionTypeBlockActions) || c.ActionID == "" {
		a.log.Debug("ignored interaction", "type", c.Type)
		return nil
	}
	to := replyTo{url: c.ResponseURL, channel: c.Channel, user: c.User}
	value := c.Value
	valueKey := "value" // a digest menu option "INSTANCE_ID:N"
	if c.ActionID == ActionApprove || c.ActionID == ActionReject || c.ActionID == ActionSettleDone || c.ActionID == ActionSettleFailed {
		valueKey = "request"
	}
	a.log.Info("click", "action", c.ActionID, "user", c.User, "channel", c.Channel, valueKey, value)
	switch c.ActionID {
	case ActionApprove:
		return func(ctx context.Context) { a.approve(ctx, to, store.RequestID(value)) }
	case ActionReject:
		return func(ctx context.Context) { a.rejectClick(ctx, to, store.RequestID(value), c.TriggerID) }
	case ActionSettleDone, ActionSettleFailed:
		renewed := c.ActionID == ActionSettleDone
		return func(ctx context.Context) {
			_, err := a.wf.Settle(ctx, store.RequestID(value), to.user, renewed, "checked in the console, settled in Slack")
			a.decided(ctx, to, "settle", err)
		}
	case ActionDigestRenew:
		if id, ok := strings.CutSuffix(value, digestFormSuffix); ok { // the request modal (modal.go)
			return func(ctx context.Context) { a.digestForm(ctx, to, id, c.TriggerID) }
		}
		return func(ctx context.Context) { a.digestRenew(ctx, to, value) }
	case ActionDigestSnooze:
		return func(ctx context.Context) { a.digestSnooze(ctx, to, value) }
	}
	a.metrics.Interaction("other", "ignored") // not the action ID: any text could become a label value
	return nil
}

// decided reports the outcome of an approve or reject click to the metrics and, when it was
// not accepted, to the clicker.
func (a *App) decided(ctx context.Context, to replyTo, action string, err error) bool {
	if err == nil {
		a.metrics.Interaction(action, "accepted")
		return true
	}
	var ref *renewal.Refusal
	if errors.As(err, &ref) {
		a.metrics.Interaction(action, "refused")
	} else {
		a.metrics.Interaction(action, "error")
	}
	a.replyErr(ctx, to, "could not record your "+action, err)
	return false
}

func (a *App) approve(ctx context.Context, to replyTo, id store.RequestID) {
	r, err := a.wf.Approve(ctx, id, to.user)
	if !a.decided(ctx, to, "approve", err) || r.State != store.StateApproved {
		return
	}
	if _, err := a.wf.Execute(ctx, id); err != nil {
		a.log.Error("execute", "request", id, "err", err)
	}
}

func (a *App) reject(ctx context.Context, to replyTo, id store.RequestID, reason string) {
	_, err := a.wf.RejectWithReason(ctx, id, to.user, reason)
	a.decided(ctx, to, "reject", err)
}

// cancelRequest withdraws a pending request on its requester's or an approver's word; its message
// loses its buttons and says who cancelled it (the notifier updates it).
func (a *App) cancelRequest(ctx context.Context, to replyTo, id store.RequestID) {
	r, err := a.wf.Cancel(ctx, id, to.user)
	if err != nil {
		a.replyErr(ctx, to, "could not cancel "+string(id), err)
		return
	}
	a.reply(ctx, to, fmt.Sprintf("Request %s (%s) is cancelled; nothing was charged.", r.ID, strings.Join(r.InstanceIDs(), ", ")))
}

// parseOption splits an overflow option value "INSTANCE_ID:N".
func parseOption(v string) (string, int, bool) {
	id, n, ok := strings.Cut(v, ":")
	num, err := strconv.Atoi(n)
	return id, num, ok && err == nil && id != "" && num > 0
}

func (a *App) digestRenew(ctx context.Context, to replyTo, value string) {
	id, months, ok := parseOption(value)
	if !ok {
		a.metrics.Interaction(ActionDigestRenew, "error")
		a.reply(ctx, to, fmt.Sprintf("That menu option (%q) is not one I understand.", value))
		return
	}
	if to.channel == "" || to.user == "" {
		a.metrics.Interaction(ActionDigestRenew, "error")
		a.reply(ctx, to, noChannelOrUser)
		return
	}
	a.metrics.Interaction(ActionDigestRenew, "accepted")
	in := renewal.RenewalInput{Requester: to.user, Channel: to.channel, InstanceIDs: []string{id}, Months: months}
	a.open(ctx, to, func(ctx context.Context) (*store.Request, error) { return a.wf.RequestRenewal(ctx, in) })
}

func (a *App) digestSnooze(ctx context.Context, to replyTo, value string) {
	id, days, ok := parseOption(value)
	if !ok {
		a.metrics.Interaction(ActionDigestSnooze, "error")
		a.reply(ctx, to, fmt.Sprintf("That menu option (%q) is not one I understand.", value))
		return
	}
	until, err := a.wf.Snooze(to.user, id, days)
	if err != nil {
		a.metrics.Interaction(ActionDigestSnooze, "error")
		a.replyErr(ctx, to, "could not snooze "+id, err)
		return
	}
	a.metrics.Interaction(ActionDigestSnooze, "accepted")
	a.reply(ctx, to, fmt.Sprintf("%s is left out of the digest until %s.", id, renewal.FormatTime(until, a.loc)))
}

// replyTo is where an answer to one user goes: the response_url when there is one, else an
// ephemeral message in the channel.
type replyTo struct {
	url, channel, user string
	dm                 bool // no channel (the Home tab): answer in the app's messages tab
}

// reply sends an ephemeral answer. A failed response_url (expired, used up) falls back to
// chat.postEphemeral.
func (a *App) reply(ctx context.Context, to replyTo, text string, blocks ...slack.Block) {
	if ctx.Err() != nil { // shutting down: still tell the user, briefly
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
	}
	if to.url != "" {
		err := a.respond(ctx, to.url, text, blocks)
		if err == nil {
			return
		}
		recordSlackError(a.metrics, "response_url", err)
		a.log.Warn("reply through response_url", "user", to.user, "err", err)
	}
	opts := []slack.MsgOption{slack.MsgOptionText(text, false)}
	if len(blocks) > 0 {
		opts = append(opts, slack.MsgOptionBlocks(blocks...))
	}
	if to.dm && to.channel == "" && to.user != "" {
		if _, _, err := a.slack.PostMessageContext(ctx, to.user, opts...); err != nil {
			recordSlackError(a.metrics, "chat.postMessage", err)
			a.log.Error("reply in the app's messages tab", "user", to.user, "err", err)
		}
		return
	}
	if to.channel == "" || to.user == "" {
		return
	}
	if _, err := a.slack.PostEphemeralContext(ctx, to.channel, to.user, opts...); err != nil {
		recordSlackError(a.metrics, "chat.postEphemeral", err)
		a.log.Error("ephemeral reply", "user", to.user, "channel", to.channel, "err", err)
	}
}

// responseJSON is an answer posted to a response_url. replace_original is sent as false on
// purpose: an answer to a click must never replace the approval message it came from.
type responseJSON struct {
	ResponseType    string        `json:"response_type"`
	Text            string        `json:"text"`
	Blocks          []slack.Block `json:"blocks,omitempty"`
	ReplaceOriginal bool          `json:"replace_original"`
}

// respond posts an ephemeral answer to a response_url. Any 2xx answer is success: Slack
// answers text/plain "ok", but proxies and stand-ins answer an empty 200, 204 or JSON; only a
// JSON {"ok":false,…} is a failure. Errors never contain the URL: it works as a credential.
func (a *App) respond(ctx context.Context, responseURL, text string, blocks []slack.Block) error {
	body, err := json.Marshal(responseJSON{ResponseType: slack.ResponseTypeEphemeral, Text: text, Blocks: blocks})
	if err != nil {
		return fmt.Errorf("response_url: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, responseURL, bytes.NewReader(body))
	if err != nil || (req.URL.Scheme != "https" && req.URL.Scheme != "http") {
		return errors.New("response_url: not an http(s) URL")
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := a.http.Do(req)
	if err != nil {
		return fmt.Errorf("response_url: %w", withoutURL(err))
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return slack.StatusCodeError{Code: resp.StatusCode, Status: resp.Status}
	}
	var res struct {
		OK    *bool  `json:"ok"`
		Error string `json:"error"`
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "application/json" &&
		json.Unmarshal(answer, &res) == nil && res.OK != nil && !*res.OK {
		return slack.SlackErrorResponse{Err: res.Error}
	}
	return nil
}

// withoutURL is err with the URL of an HTTP client error in it (*url.Error quotes it in
// full) cut down to its scheme and host: a response_url or an upload_url works as a
// credential. errors.Is and errors.As see err as before.
func withoutURL(err error) error {
	ue, ok := errors.AsType[*url.Error](err)
	if !ok {
		return err
	}
	short := "URL"
	if u, perr := url.Parse(ue.URL); perr == nil && u.Host != "" {
		short = u.Scheme + "://" + u.Host
	}
	return urlFree{err: err, msg: strings.ReplaceAll(err.Error(), ue.URL, short)}
}

// urlFree is an error with its text rewritten by withoutURL.
type urlFree struct {
	err error
	msg string
}

func (e urlFree) Error() string { return e.msg }
func (e urlFree) Unwrap() error { return e.err }

// replyErr tells the user why something failed: refusals and bad input in their own words,
// anything else prefixed with what failed. The full error is logged.
func (a *App) replyErr(ctx context.Context, to replyTo, what string, err error) {
	var ref *renewal.Refusal
	var uerr *renewal.UserError
	switch {
	case errors.As(err, &ref):
		a.reply(ctx, to, "🚫 "+sentence(forSlack(ref.Error())))
	case errors.As(err, &uerr):
		a.log.Info(what, "user", to.user, "err", err)
		a.reply(ctx, to, "⚠️ "+sentence(forSlack(uerr.Error())))
	case ctx.Err() != nil:
		a.log.Warn(what, "user", to.user, "err", err)
		a.reply(ctx, to, "❌ "+sentence(what+": renewbot was interrupted (it is restarting); please try again in a minute"))
	default:
		a.log.Error(what, "user", to.user, "err", err)
		a.reply(ctx, to, "❌ "+sentence(what+": "+forSlack(err.Error())))
	}
}

// sentence capitalises a leading word ("you …" but not "i-bp1…") and ends s with a full stop.
func sentence(s string) string {
	if s == "" {
		return s
	}
	if len(s) > 1 && s[0] >= 'a' && s[0] <= 'z' && s[1] != '-' {
		s = string(s[0]-'a'+'A') + s[1:]
	}
	if !strings.HasSuffix(s, ".") && !strings.HasSuffix(s, "?") && !strings.HasSuffix(s, "!") {
		s += "."
	}
	return s
}
