package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/robfig/cron/v3"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/renewbot/renewbot/bot"
	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/store"
)

// slackSettings are the Slack settings of serve (all) and digest (bot token and API URL).
type slackSettings struct {
	BotToken      string
	SigningSecret string
	AppToken      string
	APIURL        string
}

func (c *slackSettings) table(all bool) []setting {
	t := []setting{
		{flag: "slack-bot-token", env: "SLACK_BOT_TOKEN", secret: true, usage: "bot token (xoxb-…); prefer the environment: flags show in ps",
			parse: func(s string) error { c.BotToken = s; return nil }},
		{flag: "slack-api-url", env: "SLACK_API_URL", def: "https://slack.com/api/", usage: "Slack Web API base URL",
			parse: func(s string) (err error) { c.APIURL, err = parseAPIURL(s); return }},
	}
	if all {
		t = append(t,
			setting{flag: "slack-signing-secret", env: "SLACK_SIGNING_SECRET", secret: true, usage: "signing secret that verifies requests to /slack/* (required unless SLACK_APP_TOKEN is set)",
				parse: func(s string) error { c.SigningSecret = s; return nil }},
			setting{flag: "slack-app-token", env: "SLACK_APP_TOKEN", secret: true, usage: "app-level token (xapp-…, scope connections:write): use Socket Mode",
				parse: func(s string) error { c.AppToken = s; return nil }},
		)
	}
	return t
}

// client builds the Slack Web API client (with the app-level token for Socket Mode).
func (c *slackSettings) client() *slack.Client {
	hc := &http.Client{Timeout: 30 * time.Second, Transport: bearer{base: http.DefaultTransport, api: c.APIURL, token: c.BotToken}}
	opts := []slack.Option{slack.OptionAPIURL(c.APIURL), slack.OptionHTTPClient(hc)}
	if c.AppToken != "" {
		opts = append(opts, slack.OptionAppLevelToken(c.AppToken))
	}
	return slack.New(c.BotToken, opts...)
}

// bearer sends the bot token in an Authorization header with every Web API call that has
// none. slack-go sends it as a form field only; Slack takes either, but a stand-in written
// from Slack's examples may read only the header. Nothing outside the Web API gets it.
type bearer struct {
	base  http.RoundTripper
	api   string // the Web API base URL, ending with "/"
	token string
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	if b.token != "" && r.Header.Get("Authorization") == "" && strings.HasPrefix(r.URL.String(), b.api) {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+b.token)
	}
	return b.base.RoundTrip(r)
}

// digestSettings are the digest settings of serve and digest.
type digestSettings struct {
	Channel  string
	Schedule string
	sched    cron.Schedule
	Loc      *time.Location
	Window   time.Duration
	RouteTag string
	Pace     time.Duration
	// MaxPeriod is RENEWBOT_MAX_PERIOD (serve's policy, digest's own setting): the renew
	// menu offers no longer renewal.
	MaxPeriod int
}

func (c *digestSettings) table() []setting {
	return []setting{
		{flag: "digest-channel", env: "RENEWBOT_DIGEST_CHANNEL", usage: "channel ID (C…) for the daily digest; instances tagged RENEWBOT_ROUTE_TAG go to their own channel",
			parse: func(s string) error {
				if s != "" && !bot.IsChannelID(s) {
					return errors.New("is not a Slack channel ID like C0123ABCD")
				}
				c.Channel = s
				return nil
			}},
		{flag: "digest-schedule", env: "RENEWBOT_DIGEST_SCHEDULE", def: "0 9 * * *", usage: "cron schedule of the digest (minute hour day month weekday), in RENEWBOT_TIMEZONE",
			parse: func(s string) (err error) { c.Schedule = s; c.sched, err = parseCron(s); return }},
		timezoneSetting(&c.Loc),
		{flag: "window", env: "RENEWBOT_WINDOW", def: "30d", usage: "digests and /renew list show instances expiring within this window (30d, 720h)",
			parse: func(s string) (err error) { c.Window, err = renewal.ParseWindow(s); return }},
		{flag: "route-tag", env: "RENEWBOT_ROUTE_TAG", def: "renewbot-channel", usage: "instance tag whose value (a channel ID) routes the instance's digest entry",
			parse: func(s string) error {
				if !reTag().MatchString(s) {
					return errors.New("is not a tag key")
				}
				c.RouteTag = s
				return nil
			}},
		{flag: "digest-pace", env: "RENEWBOT_DIGEST_PACE", def: "1s", usage: "least time between two digest posts to one channel (Slack allows about 1 per second)",
			parse: func(s string) (err error) { c.Pace, err = parseDuration(s); return }},
	}
}

// dbSetting is RENEWBOT_DB.
func dbSetting(p *string) setting {
	return setting{flag: "db", env: "RENEWBOT_DB", def: "renewbot.db", usage: "bbolt file (the admin socket is FILE.sock)",
		parse: func(s string) error {
			if s == "" {
				return errRequired
			}
			*p = s
			return nil
		}}
}

// serveConfig is everything serve needs.
type serveConfig struct {
	Slack           slackSettings
	ECS             ecsSettings
	Digest          digestSettings
	Listen          string
	DB              string
	Policy          renewal.Policy // parsed straight from the RENEWBOT_* approval settings
	EscalateTo      []string       // RENEWBOT_ESCALATE_TO
	VerifyTimeout   time.Duration
	ShutdownTimeout time.Duration
	LogLevel        slog.Level
	Now             func() time.Time // the bot's clock; nil: time.Now (the demo passes the emulator's)
}

func newServeSettings(c *serveConfig) *settings {
	t := c.Slack.table(true)
	t = append(t,
		setting{flag: "listen", env: "RENEWBOT_LISTEN", def: ":8080", usage: "HTTP address for /slack/*, /healthz and /metrics",
			parse: func(s string) (err error) { c.Listen, err = parseListen(s); return }},
		dbSetting(&c.DB),
	)
	t = append(t, c.ECS.table()...)
	t = append(t,
		setting{flag: "approvers", env: "RENEWBOT_APPROVERS", usage: "comma list of Slack user IDs (U…/W…) and user-group IDs (S…) who may approve (none: requests can be made but not approved)",
			parse: func(s string) (err error) { c.Policy.Approvers, err = parseApprovers(s); return }},
		setting{flag: "escalate-to", env: "RENEWBOT_ESCALATE_TO", usage: "comma list of Slack user and user-group IDs mentioned when a request is not approved by 90% of its TTL, or an instance expires before its deadline (none: no escalation)",
			parse: func(s string) (err error) { c.EscalateTo, err = parseApprovers(s); return }},
	)
	t = append(t, c.Digest.table()...)
	t = append(t,
		setting{flag: "approval-ttl", env: "RENEWBOT_APPROVAL_TTL", def: "24h", usage: "a request not approved within this time expires",
			parse: func(s string) (err error) { c.Policy.TTL, err = parseDuration(s); return }},
		setting{flag: "max-period", env: "RENEWBOT_MAX_PERIOD", def: "12", usage: "longest renewal, and longest automatic renewal (auto-renew on), a request may ask for, in months (1-60; renewals stop at 12)",
			parse: func(s string) (err error) { c.Policy.MaxMonths, err = parseInt(s, 1, 60); return }},
		setting{flag: "approvals-required", env: "RENEWBOT_APPROVALS_REQUIRED", def: "1", usage: "approvals every request needs (1 or 2)",
			parse: func(s string) (err error) { c.Policy.Required, err = parseInt(s, 1, 2); return }},
		setting{flag: "second-approval-above", env: "RENEWBOT_SECOND_APPROVAL_ABOVE", def: "0", usage: "a request whose total is above this amount needs 2 approvals (0: never)",
			parse: func(s string) (err error) { c.Policy.SecondAbove, err = parseAmount(s); return }},
		setting{flag: "max-amount", env: "RENEWBOT_MAX_AMOUNT", def: "0", usage: "refuse requests whose total is above this amount (0: no limit)",
			parse: func(s string) (err error) { c.Policy.MaxAmount, err = parseAmount(s); return }},
		boolSetting("allow-self-approval", "RENEWBOT_ALLOW_SELF_APPROVAL", "let the requester approve their own request (turns four-eyes off)", &c.Policy.AllowSelf),
		setting{flag: "verify-timeout", env: "RENEWBOT_VERIFY_TIMEOUT", def: "2m", usage: "how long to wait for a renewed expiry to show before calling it unverified",
			parse: func(s string) (err error) { c.VerifyTimeout, err = parseDuration(s); return }},
		setting{flag: "shutdown-timeout", env: "RENEWBOT_SHUTDOWN_TIMEOUT", def: "30s", usage: "how long shutdown waits for in-flight work",
			parse: func(s string) (err error) { c.ShutdownTimeout, err = parseDuration(s); return }},
		setting{flag: "log-level", env: "RENEWBOT_LOG_LEVEL", def: "info", usage: "debug, info, warn or error",
			parse: func(s string) (err error) { c.LogLevel, err = parseLevel(s); return }},
	)
	return newSettings("serve", t)
}

// validate checks the settings that depend on each other. Tokens are never quoted.
func (c *serveConfig) validate() error {
	if err := checkToken(c.Slack.BotToken, "xoxb-", "a bot token"); err != nil {
		return fmt.Errorf("SLACK_BOT_TOKEN: %w", err)
	}
	if c.Slack.AppToken != "" {
		if err := checkToken(c.Slack.AppToken, "xapp-", "an app-level token"); err != nil {
			return fmt.Errorf("SLACK_APP_TOKEN: %w", err)
		}
	} else if c.Slack.SigningSecret == "" {
		return errors.New("SLACK_SIGNING_SECRET: is required (or set SLACK_APP_TOKEN to use Socket Mode)")
	}
	if p := c.Policy; p.SecondAbove > 0 && p.MaxAmount > 0 && p.SecondAbove >= p.MaxAmount {
		return errors.New("RENEWBOT_SECOND_APPROVAL_ABOVE: must be below RENEWBOT_MAX_AMOUNT, or no request could ever need it")
	}
	return nil
}

func runServe(ctx context.Context, e env, args []string) error {
	var c serveConfig
	if err := newServeSettings(&c).parseNoArgs(args, e.getenv); err != nil {
		return err
	}
	if err := c.validate(); err != nil {
		return usageError{err}
	}
	hurry := e.hurry
	if hurry == nil {
		hurry = context.Background()
	}
	c.Now = e.now
	return serve(ctx, hurry, c, newLogger(e.stderr, c.LogLevel), e.stdout)
}

// serve runs the bot until ctx is cancelled, then shuts down in order: stop accepting, drain
// HTTP handlers, stop Socket Mode and the schedulers, drain async work (for at most
// ShutdownTimeout, or until hurry ends), close the store.
func serve(ctx, hurry context.Context, c serveConfig, log *slog.Logger, stdout io.Writer) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := bot.NewMetrics(reg)

	// The port first: a busy port fails the start before the store file is created.
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return listenError(c.Listen, err)
	}
	defer ln.Close() // on an early return; after Serve starts, Shutdown closes it
	db, err := store.Open(c.DB, store.Options{Log: log.With("component", "store"), Now: c.Now})
	if err != nil {
		return storeError(c.DB, err)
	}
	defer db.Close()

	accts, specs, err := c.ECS.clients(log.With("component", "ecs"), metrics.ECSCallIn)
	if err != nil {
		return err
	}
	c.Policy.AccountApprovers = accountApprovers(specs) // an account's own approvers replace RENEWBOT_APPROVERS for its requests
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	acctCloud := newAccountCloud(accts, specs, c.Digest.RouteTag, c.Digest.Window)
	acctCloud.metrics = bot.NewForecastMetrics(reg) // the balance forecast's gauges (accounts.go)
	acctCloud.now = now                             // the approval card's forecast runs on serve's clock
	cloud := &scanTracker{ecsClient: acctCloud, now: now, metrics: metrics}
	api := c.Slack.client()

	notifier := bot.NewSlackNotifier(api, now, log.With("component", "notifier")).WithMetrics(metrics).WithLocation(c.Digest.Loc)
	homes := &bot.AppNotifier{} // Home tabs and the requester's DMs; bound to the app below
	wf, err := renewal.NewWorkflow(renewal.WorkflowConfig{
		Cloud:         cloud,
		Store:         db,
		Members:       bot.NewSlackMembers(api, 5*time.Minute),
		Notifier:      bot.Notifiers{notifier, homes},
		Poster:        notifier,
		Policy:        c.Policy,
		Now:           now,
		Log:           log.With("component", "workflow"),
		Counter:       metrics,
		VerifyTimeout: c.VerifyTimeout,
	})
	if err != nil {
		return fmt.Errorf("workflow: %w", err)
	}
	c.Digest.MaxPeriod = c.Policy.MaxMonths
	dg, err := newDigester(c.Digest, cloud, db, api, log, metrics, now)
	if err != nil {
		return err
	}
	if c.Digest.Channel == "" {
		log.Warn("RENEWBOT_DIGEST_CHANNEL is not set: only instances whose "+c.Digest.RouteTag+" tag is a channel ID get a digest; "+
			"every other expiring instance is left out of every digest (the digest report counts them)", "route_tag", c.Digest.RouteTag)
	}
	app, err := bot.NewApp(bot.AppConfig{
		Workflow: wf, Cloud: cloud, Store: db, Slack: api,
		Now: now, Location: c.Digest.Loc, Log: log.With("component", "slack"), Metrics: metrics,
		ListWindow: c.Digest.Window, Changes: homes, DefaultChannel: c.Digest.Channel, EscalateTo: c.EscalateTo, Forecast: forecasterOf(cloud),
	})
	if err != nil {
		return fmt.Errorf("slack app: %w", err)
	}

	hc := &healthCheck{db: db, scans: cloud, started: now(), maxAge: 2 * scheduleInterval(c.Digest.sched, now().In(c.Digest.Loc)), now: now}
	mux := http.NewServeMux()
	if c.Slack.SigningSecret != "" {
		mux.Handle("/slack/", app.Handler(c.Slack.SigningSecret))
	}
	mux.Handle("GET /healthz", hc)
	mux.Handle("GET /metrics", metricsHandler(reg, db, metrics, log))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}

	admin, err := listenAdmin(adminSocketPath(c.DB), &adminHandler{db: db, workflow: wf, digester: dg, log: log.With("component", "admin")}, log)
	if errors.Is(err, errSocketTaken) {
		// The CLI would talk to whatever answers there: refuse to run beside it.
		ln.Close()
		return fmt.Errorf("admin socket: %w", err)
	}
	if err != nil {
		// The bot works without it; only history/backup/digest from another process will not.
		log.Warn("admin socket unavailable: history, backup and digest cannot reach this process", "err", err)
	}

	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRun()
	errc := make(chan error, 2)
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http: %w", err)
		}
	}()
	var bg sync.WaitGroup
	// Requests resumed from the last run are work in flight: drained like the app's, not
	// cut off by the first signal.
	resumeCtx, stopResume := context.WithCancel(context.WithoutCancel(ctx))
	defer stopResume()
	bg.Go(func() {
		if err := wf.Resume(resumeCtx); err != nil && resumeCtx.Err() == nil {
			log.Error("resuming requests left from the last run", "err", err)
		}
	})
	bg.Go(func() { wf.SweepEvery(runCtx, time.Minute) })
	bg.Go(func() { app.RemindEvery(runCtx, time.Minute) }) // approvers at half the TTL, escalation at 90%
	bg.Go(func() {
		if err := dg.Schedule(runCtx, c.Digest.Schedule); err != nil && runCtx.Err() == nil {
			log.Error("digest scheduler stopped", "err", err)
		}
	})
	mode := "http"
	if c.Slack.AppToken != "" {
		mode = "socket"
		sm := socketmode.New(api, socketmode.OptionLog(slog.NewLogLogger(log.With("component", "socketmode").Handler(), slog.LevelDebug)))
		bg.Go(func() {
			if err := app.RunSocketMode(runCtx, sm); err != nil && runCtx.Err() == nil {
				errc <- fmt.Errorf("socket mode: %w", err)
			}
		})
	}
	log.Info("renewbot started", "addr", ln.Addr().String(), "mode", mode, "db", c.DB, "version", version,
		"regions", c.ECS.Regions, "digest_channel", c.Digest.Channel, "digest_schedule", c.Digest.Schedule)
	fmt.Fprintf(stdout, "renewbot listening on http://%s\n", ln.Addr())

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down", "cause", context.Cause(ctx))
	case runErr = <-errc:
		log.Error("shutting down", "err", runErr)
	}
	sctx, cancel := context.WithTimeout(hurry, c.ShutdownTimeout)
	defer cancel()
	context.AfterFunc(sctx, stopResume)
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("http shutdown", "err", err)
		_ = srv.Close()
	}
	if admin != nil {
		admin.close(sctx)
	}
	stopRun()
	if err := app.Shutdown(sctx); err != nil {
		why := "shutdown timeout"
		if hurry.Err() != nil {
			why = "second signal"
		}
		log.Warn("in-flight work did not finish; approved renewals resume at the next start", "cause", why, "err", err)
		if runErr == nil {
			runErr = fmt.Errorf("stopped before work in flight finished (%s); approved renewals resume at the next start", why)
		}
	}
	bg.Wait()
	if err := notifier.Close(sctx); err != nil {
		log.Warn("approval messages not brought up to date before shutdown", "err", err)
	}
	if err := db.Close(); err != nil && runErr == nil {
		runErr = fmt.Errorf("close store: %w", err)
	}
	log.Info("stopped")
	return runErr
}

// newDigester builds the digest runner from the digest settings.
func newDigester(c digestSettings, cloud bot.Scanner, db bot.DigestStore, api bot.SlackAPI, log *slog.Logger, m *bot.Metrics, now func() time.Time) (*bot.Digester, error) {
	dg, err := bot.NewDigester(bot.DigestConfig{
		Cloud: cloud, Store: db, Slack: api, Now: now, Location: c.Loc, Log: log, Metrics: m, // the digester names its component
		DefaultChannel: c.Channel, RouteTag: c.RouteTag, Window: c.Window, Pace: c.Pace, MaxPeriod: c.MaxPeriod,
		Forecast: scanForecasterOf(cloud), // the balance forecast in the summary, from the digest's one scan (accounts.go)
	})
	if err != nil {
		return nil, fmt.Errorf("digest: %w", err)
	}
	return dg, nil
}

// ecsClient is everything serve asks of ECS: the workflow's needs and the scans.
type ecsClient interface {
	renewal.Cloud
	bot.Scanner
}

// scanTracker is the ECS client with a note of the last complete expiring scan (healthz and
// the last-scan metric).
type scanTracker struct {
	ecsClient
	now     func() time.Time
	metrics *bot.Metrics
	last    atomic.Int64 // unix nanos of the last complete scan
}

func (s *scanTracker) Expiring(ctx context.Context, from, to time.Time) (ecs.Scan, error) {
	scan, err := s.ecsClient.Expiring(ctx, from, to)
	if err == nil && len(scan.Failed) == 0 {
		at := s.now()
		s.last.Store(at.UnixNano())
		s.metrics.ScanSucceeded(at)
	}
	return scan, err
}

// lastScan is the time of the last complete scan (zero if none yet).
func (s *scanTracker) lastScan() time.Time {
	if n := s.last.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// scheduleInterval is the longest gap between consecutive runs of sched over the next ten
// runs after now: a weekday schedule has a three-day gap over the weekend.
func scheduleInterval(sched cron.Schedule, now time.Time) time.Duration {
	var longest time.Duration
	t := sched.Next(now)
	for range 10 {
		n := sched.Next(t)
		if n.IsZero() {
			break
		}
		longest = max(longest, n.Sub(t))
		t = n
	}
	if longest == 0 {
		longest = 24 * time.Hour
	}
	return longest
}

// healthCheck answers GET /healthz: the store takes a write, and the last complete scan
// (or, before the first one, the start) is not older than maxAge.
type healthCheck struct {
	db      interface{ WriteCheck() error }
	scans   interface{ lastScan() time.Time }
	started time.Time
	maxAge  time.Duration
	now     func() time.Time
}

// check returns why the bot is unhealthy, or "".
func (h *healthCheck) check() string {
	if err := h.db.WriteCheck(); err != nil {
		return "store not writable: " + err.Error()
	}
	last := h.scans.lastScan()
	since := last
	if since.IsZero() {
		since = h.started
	}
	if age := h.now().Sub(since); age > h.maxAge {
		if last.IsZero() {
			return fmt.Sprintf("no complete expiring scan since start %s ago (limit %s)", age.Round(time.Second), h.maxAge)
		}
		return fmt.Sprintf("last complete expiring scan %s ago (limit %s)", age.Round(time.Second), h.maxAge)
	}
	return ""
}

func (h *healthCheck) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if why := h.check(); why != "" {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, why)
		return
	}
	fmt.Fprintln(w, "ok")
}

// metricsHandler refreshes the request-state gauge from the store, then serves the registry.
func metricsHandler(reg *prometheus.Registry, db interface {
	Counts() (map[store.State]int, error)
}, m *bot.Metrics, log *slog.Logger) http.Handler {
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if counts, err := db.Counts(); err != nil {
			log.Warn("metrics: counting requests", "err", err)
		} else {
			byName := make(map[string]int, len(counts))
			for s, n := range counts {
				byName[s.String()] = n
			}
			m.SetRequests(byName)
		}
		h.ServeHTTP(w, r)
	})
}
