package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/renewbot/renewbot/bot"
	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/store"
)

// The admin endpoints on the admin socket (admin_socket.go), and the commands that use them:
// history, backup and digest; renew and autorenew set (operator.go) post to /renew and
// /autorenew.

// adminStore is what the admin endpoints need from the store.
type adminStore interface {
	History(q store.HistoryQuery) ([]store.Event, error)
	VerifyAudit() (store.AuditHead, error)
	Backup(w io.Writer) (int64, error)
}

// adminHandler serves GET /history, GET /verify, GET /backup, POST /digest, POST /renew and
// POST /autorenew on the admin socket.
type adminHandler struct {
	db       adminStore
	workflow *renewal.Workflow
	digester *bot.Digester
	log      *slog.Logger
}

func (h *adminHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/history":
		h.history(w, r)
	case r.Method == http.MethodGet && r.URL.Path == "/verify":
		h.verify(w)
	case r.Method == http.MethodGet && r.URL.Path == "/backup":
		h.backup(w)
	case r.Method == http.MethodPost && r.URL.Path == "/digest":
		h.digest(w, r)
	case r.Method == http.MethodPost && (r.URL.Path == "/renew" || r.URL.Path == "/align" || r.URL.Path == "/autorenew"):
		h.operator(w, r)
	default:
		http.Error(w, "unknown admin endpoint", http.StatusNotFound)
	}
}

func (h *adminHandler) history(w http.ResponseWriter, r *http.Request) {
	q, err := historyQueryFromURL(r.URL.Query())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	evs, err := h.db.History(q)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, evs)
}

// verify checks the audit chain: 200 with the outcome (a broken chain is an answer, not a
// failure of the endpoint).
func (h *adminHandler) verify(w http.ResponseWriter) {
	head, err := h.db.VerifyAudit()
	if ce, ok := errors.AsType[*store.ChainError](err); ok {
		writeJSON(w, verifyResult{Broken: ce})
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, verifyResult{Head: &head})
}

// verifyResult is VerifyAudit's outcome across the admin socket.
type verifyResult struct {
	Head   *store.AuditHead  `json:"head,omitempty"`
	Broken *store.ChainError `json:"broken,omitempty"`
}

// backup streams the file. An error after the first byte is reported in the trailer.
func (h *adminHandler) backup(w http.ResponseWriter) {
	w.Header().Set("Trailer", "X-Backup-Error, X-Backup-Bytes")
	w.Header().Set("Content-Type", "application/octet-stream")
	n, err := h.db.Backup(w)
	if err != nil {
		h.log.Error("backup over admin socket", "err", err)
		w.Header().Set("X-Backup-Error", err.Error())
	}
	w.Header().Set("X-Backup-Bytes", strconv.FormatInt(n, 10))
}

func (h *adminHandler) digest(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("dry_run") == "true" {
		plan, err := h.digester.Plan(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		js, err := plan.JSON()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(js)
		return
	}
	rep, err := h.digester.Run(r.Context(), q.Get("force") == "true")
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	writeJSON(w, digestResultOf(rep))
}

// digestResult is a bot.DigestReport with errors as text (it crosses the admin socket).
type digestResult struct {
	Day      string          `json:"day"`
	Channels []channelResult `json:"channels"`
	Failed   []regionResult  `json:"failed_regions"`
	Snoozed  int             `json:"snoozed"`
	Unrouted int             `json:"unrouted"`
	RouteTag string          `json:"route_tag"`
}

type channelResult struct {
	Channel   string `json:"channel"`
	Instances int    `json:"instances"`
	Pages     int    `json:"pages"`
	Skipped   bool   `json:"skipped"`
	TS        string `json:"ts,omitempty"`
	File      string `json:"file,omitempty"`
	Error     string `json:"error,omitempty"`
	CSVError  string `json:"csv_error,omitempty"` // posted without the CSV, which Slack refused
}

type regionResult struct {
	Region string `json:"region"`
	Error  string `json:"error"`
}

func digestResultOf(rep bot.DigestReport) digestResult {
	out := digestResult{Day: rep.Day, Channels: []channelResult{}, Failed: []regionResult{},
		Snoozed: rep.Snoozed, Unrouted: rep.Unrouted, RouteTag: rep.RouteTag}
	for _, c := range rep.Channels {
		cr := channelResult{Channel: c.Channel, Instances: c.Instances, Pages: c.Pages, Skipped: c.Skipped, TS: c.TS, File: c.File}
		if c.Err != nil {
			cr.Error = c.Err.Error()
		}
		if c.CSVErr != nil {
			cr.CSVError = c.CSVErr.Error()
		}
		out.Channels = append(out.Channels, cr)
	}
	for _, f := range rep.Failed {
		out.Failed = append(out.Failed, regionResult{Region: f.RegionID, Error: f.Err.Error()})
	}
	return out
}

// printDigestResult writes one line per channel and says whether anything went wrong.
func printDigestResult(e env, res digestResult) error {
	failed := 0
	for _, c := range res.Channels {
		switch {
		case c.Error != "":
			failed++
			fmt.Fprintf(e.stdout, "%s: failed: %s\n", c.Channel, c.Error)
		case c.Skipped:
			fmt.Fprintf(e.stdout, "%s: already posted on %s (use --force to post again)\n", c.Channel, res.Day)
		case c.CSVError != "":
			fmt.Fprintf(e.stdout, "%s: posted %d instance(s) in %d thread page(s), message %s, no CSV\n", c.Channel, c.Instances, c.Pages, c.TS)
			fmt.Fprintf(e.stderr, "%s: %s (does the Slack app have the files:write scope?)\n", c.Channel, c.CSVError)
		default:
			fmt.Fprintf(e.stdout, "%s: posted %d instance(s) in %d thread page(s), message %s, CSV %s\n", c.Channel, c.Instances, c.Pages, c.TS, c.File)
		}
	}
	if len(res.Channels) == 0 {
		fmt.Fprintln(e.stdout, "nothing to post: RENEWBOT_DIGEST_CHANNEL is not set and no expiring instance has a channel tag (RENEWBOT_ROUTE_TAG)")
	}
	printLeftOut(e, res)
	for _, f := range res.Failed {
		fmt.Fprintf(e.stderr, "region %s could not be read: %s\n", f.Region, f.Error)
	}
	switch {
	case failed > 0:
		return fmt.Errorf("%d channel(s) failed", failed)
	case len(res.Failed) > 0:
		return fmt.Errorf("%d region(s) could not be read; the digest says so: %w", len(res.Failed), errPartial)
	}
	return nil
}

// operator runs an operator's renew, align or autorenew set (from the CLI) through the workflow.
// It is not cut off when the CLI goes away: a paid call runs to its verified end (or stays
// for Resume and the sweep), like one approved in Slack.
func (h *adminHandler) operator(w http.ResponseWriter, r *http.Request) {
	var call operatorCall
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&call); err != nil {
		http.Error(w, "operator request: "+err.Error(), http.StatusBadRequest)
		return
	}
	ctx := context.WithoutCancel(r.Context())
	var (
		req *store.Request
		err error
	)
	switch r.URL.Path {
	case "/renew":
		if len(call.InstanceIDs) != 1 {
			http.Error(w, "renew: exactly one instance", http.StatusBadRequest)
			return
		}
		req, err = h.workflow.RenewAsOperator(ctx, renewal.OperatorRenewal{Actor: call.Actor, InstanceID: call.InstanceIDs[0], Months: call.Months})
	case "/align":
		req, err = h.workflow.AlignAsOperator(ctx, renewal.OperatorAlign{Actor: call.Actor, InstanceIDs: call.InstanceIDs, Day: call.Day})
	default:
		req, err = h.workflow.AutoRenewAsOperator(ctx, renewal.OperatorAutoRenew{Actor: call.Actor, InstanceIDs: call.InstanceIDs, Mode: call.Mode, Duration: call.Duration})
	}
	res := operatorResult{Request: req}
	if err != nil {
		res.Error = err.Error()
		h.log.Info("operator request", "path", r.URL.Path, "actor", call.Actor, "err", err)
	}
	writeJSON(w, res)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// historyQueryFromURL reads request=, instance=, since= (RFC 3339) and limit=.
func historyQueryFromURL(v url.Values) (store.HistoryQuery, error) {
	q := store.HistoryQuery{RequestID: store.RequestID(v.Get("request")), InstanceID: v.Get("instance")}
	if s := v.Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return q, fmt.Errorf("since: %q is not an RFC 3339 time", s)
		}
		q.Since = t
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return q, fmt.Errorf("limit: %q is not a count", s)
		}
		q.Limit = n
	}
	return q, nil
}

func historyQueryToURL(q store.HistoryQuery) url.Values {
	v := url.Values{}
	if q.RequestID != "" {
		v.Set("request", string(q.RequestID))
	}
	if q.InstanceID != "" {
		v.Set("instance", q.InstanceID)
	}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339Nano))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	return v
}

// operatorName is the OS user running the CLI, for the audit log.
func operatorName(getenv func(string) string) string {
	for _, k := range []string{"SUDO_USER", "USER", "LOGNAME", "USERNAME"} {
		if v := getenv(k); v != "" {
			return v
		}
	}
	return "operator"
}

// ---- history

type historyConfig struct {
	DB     string
	Since  time.Duration
	Limit  int
	Format string
	Verify bool
	Loc    *time.Location
}

func newHistorySettings(c *historyConfig) *settings {
	return newSettings("history", []setting{
		dbSetting(&c.DB),
		{flag: "since", env: "RENEWBOT_SINCE", usage: "only events newer than this (7d, 12h); default: all",
			parse: func(s string) (err error) {
				if s == "" {
					c.Since = 0
					return nil
				}
				c.Since, err = parseDuration(s)
				return
			}},
		{flag: "limit", env: "RENEWBOT_HISTORY_LIMIT", def: "0", usage: "only the newest N events (0: all)",
			parse: func(s string) (err error) { c.Limit, err = parseInt(s, 0, 1_000_000); return }},
		formatSetting("RENEWBOT_HISTORY_FORMAT", &c.Format),
		boolSetting("verify", "", "check the audit log's hash chain instead of printing it; exit 1 naming the first altered record", &c.Verify),
		timezoneSetting(&c.Loc),
	})
}

// historyQuery builds the query from an optional ID argument: a request (R…) or an instance (i-…).
func historyQuery(pos []string, since time.Duration, limit int, now time.Time) (store.HistoryQuery, error) {
	q := store.HistoryQuery{Limit: limit}
	if since > 0 {
		q.Since = now.Add(-since)
	}
	switch len(pos) {
	case 0:
	case 1:
		id := pos[0]
		if strings.HasPrefix(id, "i-") {
			if !ecs.IsInstanceID(id) {
				return q, fmt.Errorf("%q is not an instance ID like i-bp1abc", id)
			}
			q.InstanceID = id
			break
		}
		rid, err := store.ParseRequestID(id)
		if err != nil && strings.HasPrefix(strings.ToUpper(id), "R") {
			return q, noRequestError{id}
		}
		if err != nil {
			return q, fmt.Errorf("%q is neither an instance ID (i-…) nor a request ID (R…)", id)
		}
		q.RequestID = rid
	default:
		return q, fmt.Errorf("give at most one ID (a request R… or an instance i-…), got %d", len(pos))
	}
	return q, nil
}

func runHistory(ctx context.Context, e env, args []string) error {
	var c historyConfig
	pos, err := newHistorySettings(&c).parse(args, e.getenv)
	if err != nil {
		return err
	}
	if c.Verify {
		if len(pos) > 0 || c.Since > 0 || c.Limit > 0 {
			return usageError{errors.New("--verify checks the whole log: give no ID, --since or --limit with it")}
		}
		return runVerify(ctx, e, c.DB)
	}
	q, err := historyQuery(pos, c.Since, c.Limit, time.Now())
	if nr := (noRequestError{}); errors.As(err, &nr) {
		return err
	}
	if err != nil {
		return usageError{err}
	}
	var evs []store.Event
	err = withStore(ctx, c.DB, false,
		func(db *store.DB) (err error) { evs, err = db.History(q); return },
		func(cl *http.Client) error {
			resp, err := adminDo(ctx, cl, http.MethodGet, "/history", historyQueryToURL(q), nil)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			return json.NewDecoder(resp.Body).Decode(&evs)
		})
	if err != nil {
		return err
	}
	if q.RequestID != "" && len(evs) == 0 && q.Since.IsZero() { // every request has its "requested" event
		return noRequestError{pos[0]}
	}
	return printHistory(e.stdout, c.Format, evs, c.Loc)
}

// runVerify checks the audit chain, on the file or through the running bot.
func runVerify(ctx context.Context, e env, dbPath string) error {
	var res verifyResult
	err := withStore(ctx, dbPath, false,
		func(db *store.DB) error {
			head, err := db.VerifyAudit()
			if ce, ok := errors.AsType[*store.ChainError](err); ok {
				res.Broken = ce
				return nil
			}
			res.Head = &head
			return err
		},
		func(cl *http.Client) error {
			resp, err := adminDo(ctx, cl, http.MethodGet, "/verify", nil, nil)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			return json.NewDecoder(resp.Body).Decode(&res)
		})
	switch {
	case err != nil:
		return err
	case res.Broken != nil:
		return res.Broken
	case res.Head == nil:
		return errors.New("running renewbot: no answer to the audit check")
	}
	fmt.Fprintf(e.stdout, "audit log intact: %d record(s); last record %d, hash %s\n", res.Head.Events, res.Head.Seq, res.Head.Hash)
	fmt.Fprintf(e.stdout, "Keep this line off the server: record %d must keep this hash (renewbot history --format csv), or the log was rewritten.\n", res.Head.Seq)
	return nil
}

func printHistory(w io.Writer, format string, evs []store.Event, loc *time.Location) error {
	if format == "csv" {
		return bot.WriteAuditCSV(w, evs, false)
	}
	if format == "json" {
		return writeJSONList(w, len(evs), func(i int) any { return eventRowOf(evs[i]) })
	}
	return writeTable(w, []string{"TIME", "ACTOR", "ACTION", "REQUEST", "INSTANCES", "DETAIL"}, len(evs),
		func(i int, cells []string) []string {
			ev := evs[i]
			return append(cells, renewal.FormatTime(ev.Time, loc), ev.Actor, string(ev.Action), string(ev.RequestID),
				strings.Join(ev.InstanceIDs, ","), strings.ReplaceAll(ev.Detail, "\n", " "))
		}, "(no events)")
}

// ---- backup

type backupConfig struct{ DB string }

func newBackupSettings(c *backupConfig) *settings {
	return newSettings("backup", []setting{dbSetting(&c.DB)})
}

func runBackup(ctx context.Context, e env, args []string) error {
	var c backupConfig
	pos, err := newBackupSettings(&c).parse(args, e.getenv)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{errors.New("give the file to write, e.g. renewbot backup renewbot-backup.db")}
	}
	dst := pos[0]
	if abs(dst) == abs(c.DB) {
		return usageError{errors.New("the backup file must not be the store itself")}
	}
	var n int64
	err = writeAtomically(dst, func(f *os.File) error {
		return withStore(ctx, c.DB, false,
			func(db *store.DB) (err error) { n, err = db.Backup(f); return },
			func(cl *http.Client) error {
				resp, err := adminDo(ctx, cl, http.MethodGet, "/backup", nil, nil)
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				if n, err = io.Copy(f, resp.Body); err != nil {
					return fmt.Errorf("receiving backup: %w", err)
				}
				if msg := resp.Trailer.Get("X-Backup-Error"); msg != "" {
					return fmt.Errorf("running renewbot: %s", msg)
				}
				if want := resp.Trailer.Get("X-Backup-Bytes"); want != strconv.FormatInt(n, 10) {
					return fmt.Errorf("backup truncated: got %d bytes, the bot sent %s", n, want)
				}
				return nil
			})
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "wrote %s (%d bytes)\n", dst, n)
	return nil
}

func abs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

// writeAtomically writes FILE.tmp, syncs it and renames it to FILE: a failed backup never
// leaves a half-written FILE.
func writeAtomically(path string, write func(*os.File) error) (err error) {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = write(f); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ---- digest

type digestConfig struct {
	Slack  slackSettings
	ECS    ecsSettings
	Digest digestSettings
	DB     string
	Now    bool
	Force  bool
	DryRun bool
}

func newDigestSettings(c *digestConfig) *settings {
	t := []setting{
		boolSetting("now", "", "post the digest now (once per channel per day, like the schedule)", &c.Now),
		boolSetting("force", "", "post again even if today's digest was posted", &c.Force),
		boolSetting("dry-run", "RENEWBOT_DRY_RUN", "print the Block Kit JSON instead of posting", &c.DryRun),
		dbSetting(&c.DB),
	}
	t = append(t, c.Slack.table(false)...)
	t = append(t, c.ECS.table()...)
	t = append(t, c.Digest.table()...)
	t = append(t, setting{flag: "max-period", env: "RENEWBOT_MAX_PERIOD", def: "12", usage: "the renew menu offers renewals up to this many months (serve's approval limit)",
		parse: func(s string) (err error) { c.Digest.MaxPeriod, err = parseInt(s, 1, 60); return }})
	return newSettings("digest", t)
}

func runDigest(ctx context.Context, e env, args []string) error {
	var c digestConfig
	if err := newDigestSettings(&c).parseNoArgs(args, e.getenv); err != nil {
		return err
	}
	if !c.Now && !c.DryRun {
		return usageError{errors.New("say --now to post the digest now, or --dry-run to print it (serve posts it on RENEWBOT_DIGEST_SCHEDULE)")}
	}
	if c.Force && c.DryRun {
		return usageError{errors.New("--force posts and --dry-run does not: choose one")}
	}
	q := url.Values{"dry_run": {strconv.FormatBool(c.DryRun)}, "force": {strconv.FormatBool(c.Force)}}
	if c.DryRun && !fileExists(c.DB) {
		return dryRunWithoutStore(ctx, e, c) // a dry run writes nothing: it never creates the store
	}
	return withStore(ctx, c.DB, !c.DryRun,
		func(db *store.DB) error {
			if !c.DryRun {
				if err := checkToken(c.Slack.BotToken, "xoxb-", "a bot token"); err != nil {
					return usageError{fmt.Errorf("SLACK_BOT_TOKEN: %w", err)}
				}
			}
			log := cliLogger(e)
			accts, specs, err := c.ECS.clients(log, nil)
			if err != nil {
				return err
			}
			dg, err := newDigester(c.Digest, newAccountCloud(accts, specs, c.Digest.RouteTag, c.Digest.Window), db, c.Slack.client(), log, nil, clockOf(e))
			if err != nil {
				return err
			}
			if c.DryRun {
				return printPlan(ctx, e, dg)
			}
			rep, err := dg.Run(ctx, c.Force)
			if err != nil {
				return err
			}
			return printDigestResult(e, digestResultOf(rep))
		},
		func(cl *http.Client) error {
			fmt.Fprintln(e.stderr, "renewbot serve is running on this store: asking it (its settings apply)")
			resp, err := adminDo(ctx, cl, http.MethodPost, "/digest", q, nil)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if c.DryRun {
				_, err = io.Copy(e.stdout, resp.Body)
				return err
			}
			var res digestResult
			if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
				return fmt.Errorf("running renewbot: %w", err)
			}
			return printDigestResult(e, res)
		})
}
