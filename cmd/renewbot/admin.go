package main

import (
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
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/renewbot/renewbot/bot"
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
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if ul, ok := ln.(*net.UnixListener); ok {
		ul.SetUnlinkOnClose(true)
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

func (s *adminServer) close(ctx context.Context) {
	_ = s.srv.Shutdown(ctx)
	_ = os.Remove(s.path)
}

// adminStore is what the admin endpoints need from the store.
type adminStore interface {
	History(q store.HistoryQuery) ([]store.Event, error)
	Backup(w io.Writer) (int64, error)
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
	writeJSON(w, rep)
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
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}
}

// lockTimeout is how long the CLI waits for the store's file lock before asking serve.
const lockTimeout = 300 * time.Millisecond

// withStore runs local on the store file if it is free, or remote through the running
// bot's admin socket if serve holds it. It says clearly when neither works.
// A missing file is an error unless create is set.
func withStore(ctx context.Context, dbPath string, create bool, local func(*store.DB) error, remote func(*http.Client) error) error {
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
	sock := adminSocketPath(dbPath)
	c := adminClient(sock)
	// A cheap probe first, so that "nobody answers" is told apart from an endpoint error.
	if perr := probeAdmin(ctx, c); perr != nil {
		return fmt.Errorf("%s is locked by another process but no running renewbot answers on %s: %v",
			filepath.Base(dbPath), filepath.Base(sock), perr)
	}
	return remote(c)
}

func probeAdmin(ctx context.Context, c *http.Client) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://renewbot/history?limit=1", nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("admin socket answered %s", resp.Status)
	}
	return nil
}

// adminDo sends one admin request and returns the response if it is 200.
func adminDo(ctx context.Context, c *http.Client, method, path string, q url.Values) (*http.Response, error) {
	u := "http://renewbot" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
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
		{flag: "format", env: "RENEWBOT_FORMAT", def: "table", usage: "table or json",
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
			if !reInstance.MatchString(id) {
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
			resp, err := adminDo(ctx, cl, http.MethodGet, "/history", historyQueryToURL(q))
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
				resp, err := adminDo(ctx, cl, http.MethodGet, "/backup", nil)
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
	boolSetting := func(name, env, usage string, p *bool) setting {
		return setting{flag: name, env: env, isBool: true, def: "false", usage: usage,
			parse: func(s string) (err error) { *p, err = parseBool(s); return }}
	}
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
	pos, err := newDigestSettings(&c).parse(args, e.getenv)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{fmt.Errorf("takes no arguments, got %q", pos)}
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
			enc := json.NewEncoder(e.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(rep)
		},
		func(cl *http.Client) error {
			fmt.Fprintln(e.stderr, "renewbot serve is running on this store: asking it (its settings apply)")
			resp, err := adminDo(ctx, cl, http.MethodPost, "/digest", q)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			_, err = io.Copy(e.stdout, resp.Body)
			return err
		})
}
