package main

import (
	"context"
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
	"strings"
	"syscall"
	"time"

	"github.com/renewbot/renewbot/store"
)

// The admin socket lets history, backup and digest reach a running serve: bbolt lets one
// process hold the file, so while serve runs these commands cannot open it themselves.
// The socket is <db>.sock, mode 0600 (only the bot's user) from the moment it exists, created
// by serve and removed on exit. The admin endpoints set the time and sequence of what they
// record; nothing a client sends chooses them.

// adminSocketPath is where serve listens for admin requests.
func adminSocketPath(dbPath string) string { return dbPath + ".sock" }

// adminServer is the admin socket's HTTP server.
type adminServer struct {
	srv  *http.Server
	path string
}

// errSocketTaken is listenAdmin's refusal of a path that serve did not create: a file that is
// not a socket, a socket of another user, or a socket another process answers on.
var errSocketTaken = errors.New("admin socket path is taken")

// listenAdmin starts the admin socket at path. serve holds the store's lock, so a socket file
// left at path by this user that nobody answers on belongs to a serve that is gone, and is
// replaced; anything else there is refused (errSocketTaken), never replaced.
func listenAdmin(path string, h http.Handler, log *slog.Logger) (*adminServer, error) {
	return listenAdminHooked(path, h, log, nil)
}

// listenAdminHooked is listenAdmin; bound, when not nil, is called with the temporary path
// once the socket is bound there, before it is linked at path (tests).
func listenAdminHooked(path string, h http.Handler, log *slog.Logger, bound func(tmp string)) (*adminServer, error) {
	if err := claimSocketPath(path); err != nil {
		return nil, err
	}
	// Bind in a fresh 0700 folder next to path, make the socket 0600, then link it at path:
	// it is never reachable by anyone else with looser permissions, and the link fails
	// rather than replace a file that appeared at path meanwhile.
	dir, err := os.MkdirTemp(filepath.Dir(path), ".renewbot-admin-")
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "s")
	addr, release, err := unixAddr(tmp)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("unix", addr)
	release()
	if err != nil {
		return nil, err
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false) // close removes path itself
	if err := os.Chmod(tmp, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	if bound != nil {
		bound(tmp)
	}
	if err := os.Link(tmp, path); err != nil {
		ln.Close()
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("%w: %s appeared while serve was creating it; not touching it", errSocketTaken, path)
		}
		return nil, fmt.Errorf("admin socket: %w", err)
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

// claimSocketPath makes path free for a new admin socket: nothing there, or a socket of this
// user that nobody answers on (left by a serve that was killed), which it removes.
func claimSocketPath(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("admin socket: %w", err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("%w: %s exists and is not a socket; not touching it", errSocketTaken, path)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		return fmt.Errorf("%w: %s belongs to user %d, not to this one; not touching it", errSocketTaken, path, st.Uid)
	}
	addr, release, err := unixAddr(path)
	if err != nil {
		return err
	}
	conn, err := net.DialTimeout("unix", addr, time.Second)
	release()
	if err == nil {
		conn.Close()
		return fmt.Errorf("%w: another process answers on %s (this serve holds the store, so it is not a renewbot on it); stop it or remove the socket", errSocketTaken, path)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove stale admin socket: %w", err)
	}
	return nil
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
			return badSetting{fmt.Errorf("RENEWBOT_DB: no store at %s (set --db or RENEWBOT_DB to the bot's file)", dbPath)}
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
		return storeError(dbPath, err)
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
