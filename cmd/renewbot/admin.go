package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/renewbot/renewbot/bot"
	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/store"
)

// The admin socket lets history, backup and digest reach a running serve: bbolt lets one
// process hold the file, so while serve runs these commands cannot open it themselves.
// The socket is <db>.sock, mode 0600 (only the bot's user), created by serve and removed on exit.

// adminSocketPath is where serve listens for admin requests.
func adminSocketPath(dbPath string) string { return dbPath + ".sock" }

// adminServer is the admin socket's HTTP server.
type adminServer struct {
	srv  *http.Server
	path string
}

// listenAdmin starts the admin socket. serve holds the store's lock, so any socket file left
// at path belongs to a process that is gone and is removed.
func listenAdmin(path string, h http.Handler, log *slog.Logger) (*adminServer, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("%s exists and is not a socket; not touching it", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale admin socket: %w", err)
		}
	}
	addr, release, err := unixAddr(path)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("unix", addr)
	release()
	if err != nil {
		return nil, err
	}
	if ul, ok := ln.(*net.UnixListener); ok {
		ul.SetUnlinkOnClose(addr == path) // a /proc/self/fd address is gone by then; close removes path
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	s := &adminServer{path: path, srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}}
	go func() {
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Warn("admin socket stopped", "err", err)
		}
	}()
	return s, nil
}

// maxSocketPath is the longest path bind and connect take for a Unix socket (sun_path holds
// 108 bytes with the terminating NUL).
const maxSocketPath = 107

// unixAddr is an address of the Unix socket at path that fits sun_path: path itself or, on
// Linux when path is too long, the same file reached through /proc/self/fd of its open
// folder. Call release once the socket is bound or connected.
func unixAddr(path string) (addr string, release func(), err error) {
	if len(path) <= maxSocketPath || runtime.GOOS != "linux" {
		return path, func() {}, nil
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return "", nil, err
	}
	addr = fmt.Sprintf("/proc/self/fd/%d/%s", dir.Fd(), filepath.Base(path))
	if len(addr) > maxSocketPath { // a very long file name: fail the usual way
		dir.Close()
		return path, func() {}, nil
	}
	return addr, func() { dir.Close() }, nil
}

// close stops the admin server, waiting for requests in flight until ctx ends, and removes
// the socket.
func (s *adminServer) close(ctx context.Context) {
	if s.srv.Shutdown(ctx) != nil {
		_ = s.srv.Close() // a digest in flight sees its request's context end
	}
	_ = os.Remove(s.path)
}

// adminStore is what the admin endpoints need from the store.
type adminStore interface {
	History(q store.HistoryQuery) ([]store.Event, error)
	Backup(w io.Writer) (int64, error)
	Audit(ev store.Event) error
}

// adminHandler serves GET /history, GET /backup and POST /digest on the admin socket.
type adminHandler struct {
	db       adminStore
	digester *bot.Digester
	log      *slog.Logger
}

func (h *adminHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/history":
		h.history(w, r)
	case r.Method == http.MethodGet && r.URL.Path == "/backup":
		h.backup(w)
	case r.Method == http.MethodPost && r.URL.Path == "/digest":
		h.digest(w, r)
	case r.Method == http.MethodPost && r.URL.Path == "/audit":
		h.audit(w, r)
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
	out := digestResult{Day: rep.Day, Channels: []channelResult{}, Failed: []regionResult{}}
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

// audit records an operator's CLI action (renew, autorenew set) done while serve runs.
func (h *adminHandler) audit(w http.ResponseWriter, r *http.Request) {
	var ev store.Event
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&ev); err != nil {
		http.Error(w, "audit: "+err.Error(), http.StatusBadRequest)
		return
	}
	if err := checkOperatorEvent(ev); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := h.db.Audit(ev); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, map[string]bool{"ok": true})
}

// checkOperatorEvent accepts only what the CLI records: operator runs by a cli: actor.
func checkOperatorEvent(ev store.Event) error {
	if ev.Action != store.ActOperatorRun || !strings.HasPrefix(ev.Actor, "cli:") || ev.RequestID != "" {
		return errors.New("audit: only operator-run events by a cli: actor are accepted")
	}
	return nil
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

// ---- the client side: open the file, or reach the running bot

// adminClient talks HTTP over the admin socket.
func adminClient(sock string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			addr, release, err := unixAddr(sock)
			if err != nil {
				return nil, err
			}
			defer release()
			var d net.Dialer
			return d.DialContext(ctx, "unix", addr)
		},
	}}
}

// lockTimeout is how long the CLI waits for the store's file lock before asking serve.
const lockTimeout = 300 * time.Millisecond

// withStore runs remote through the running bot's admin socket if serve answers there, or
// else local on the store file. It says clearly when it can reach neither.
// A missing file is an error unless create is set.
func withStore(ctx context.Context, dbPath string, create bool, local func(*store.DB) error, remote func(*http.Client) error) error {
	sock := adminSocketPath(dbPath)
	c := adminClient(sock)
	if _, err := os.Stat(sock); err == nil && probeAdmin(ctx, c) == nil {
		return remote(c)
	}
	if _, err := os.Stat(dbPath); err != nil && !(create && errors.Is(err, os.ErrNotExist)) {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("no store at %s (set --db or RENEWBOT_DB to the bot's file)", dbPath)
		}
		return err
	}
	db, err := store.Open(dbPath, store.Options{Timeout: lockTimeout})
	if err == nil {
		err = local(db)
		if cerr := db.Close(); err == nil {
			err = cerr
		}
		return err
	}
	if !errors.Is(err, store.ErrLocked) {
		return err
	}
	// Locked: serve may have started a moment ago; ask it once more.
	if perr := probeAdmin(ctx, c); perr != nil {
		return fmt.Errorf("%s is locked by another process but no running renewbot answers on %s: %v",
			filepath.Base(dbPath), filepath.Base(sock), perr)
	}
	return remote(c)
}

// probeAdmin asks the admin socket for one history event: is a bot answering there?
func probeAdmin(ctx context.Context, c *http.Client) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := adminDo(ctx, c, http.MethodGet, "/history", url.Values{"limit": {"1"}}, nil)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// adminDo sends one admin request (body may be nil) and returns the response if it is 200.
func adminDo(ctx context.Context, c *http.Client, method, path string, q url.Values, body io.Reader) (*http.Response, error) {
	u := "http://renewbot" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("running renewbot: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return nil, fmt.Errorf("running renewbot: %s", strings.TrimSpace(string(body)))
	}
	return resp, nil
}

// recordOperatorRun writes an operator's paid or auto-renew change to the audit log: into
// the file if it is free, through the running bot if serve holds it. There being no store
// is not an error (the CLI works without one); the operator is told.
func recordOperatorRun(ctx context.Context, e env, dbPath string, ev store.Event) {
	ev.Action = store.ActOperatorRun
	ev.Actor = "cli:" + operatorName(e.getenv)
	if _, err := os.Stat(dbPath); errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(e.stderr, "note: not recorded in the audit log: no store at %s (set --db or RENEWBOT_DB)\n", dbPath)
		return
	}
	err := withStore(ctx, dbPath, false,
		func(db *store.DB) error { return db.Audit(ev) },
		func(cl *http.Client) error {
			body, err := json.Marshal(ev)
			if err != nil {
				return err
			}
			resp, err := adminDo(ctx, cl, http.MethodPost, "/audit", nil, bytes.NewReader(body))
			if err != nil {
				return err
			}
			return resp.Body.Close()
		})
	if err != nil {
		fmt.Fprintf(e.stderr, "warning: not recorded in the audit log: %v\n", err)
	}
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
				c.Since, err = parseWindow(s)
				return
			}},
		{flag: "limit", env: "RENEWBOT_HISTORY_LIMIT", def: "0", usage: "only the newest N events (0: all)",
			parse: func(s string) (err error) { c.Limit, err = parseInt(s, 0, 1_000_000); return }},
		{flag: "format", env: "RENEWBOT_HISTORY_FORMAT", def: "table", usage: "table or json",
			parse: func(s string) error {
				if s != "table" && s != "json" {
					return errors.New("is not one of table, json")
				}
				c.Format = s
				return nil
			}},
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
	q, err := historyQuery(pos, c.Since, c.Limit, time.Now())
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
	return printHistory(e.stdout, c.Format, evs, c.Loc)
}

func printHistory(w io.Writer, format string, evs []store.Event, loc *time.Location) error {
	if format == "json" {
		if evs == nil {
			evs = []store.Event{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(evs)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tACTOR\tACTION\tREQUEST\tINSTANCES\tDETAIL")
	for _, ev := range evs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", ev.Time.In(loc).Format("2006-01-02 15:04:05 MST"), ev.Actor, ev.Action,
			ev.RequestID, strings.Join(ev.InstanceIDs, ","), strings.ReplaceAll(ev.Detail, "\n", " "))
	}
	if len(evs) == 0 {
		fmt.Fprintln(tw, "(no events)")
	}
	return tw.Flush()
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
	return withStore(ctx, c.DB, true,
		func(db *store.DB) error {
			if !c.DryRun {
				if err := checkToken(c.Slack.BotToken, "xoxb-", "a bot token"); err != nil {
					return usageError{fmt.Errorf("SLACK_BOT_TOKEN: %w", err)}
				}
			}
			log := cliLogger(e)
			cl, err := c.ECS.client(log, nil)
			if err != nil {
				return err
			}
			dg, err := newDigester(c.Digest, cl, db, c.Slack.client(), log, nil)
			if err != nil {
				return err
			}
			if c.DryRun {
				plan, err := dg.Plan(ctx)
				if err != nil {
					return err
				}
				js, err := plan.JSON()
				if err != nil {
					return err
				}
				_, err = e.stdout.Write(append(js, '\n'))
				return err
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
