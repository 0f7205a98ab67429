package bot_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/renewbot/renewbot/bot"
)

// readSpy is a request body that records whether anything read it.
type readSpy struct {
	read atomic.Bool
	r    io.Reader
}

func (s *readSpy) Read(p []byte) (int, error) {
	s.read.Store(true)
	return s.r.Read(p)
}

// lookalikeHeaders are signature headers of the right shape at ts, with a signature nobody
// made: what an attacker can send without the secret.
func lookalikeHeaders(h http.Header, ts time.Time) {
	h.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts.Unix(), 10))
	h.Set("X-Slack-Signature", "v0="+strings.Repeat("ab", 32))
	h.Set("Content-Type", "application/x-www-form-urlencoded")
}

// A request without the signature headers, with a stale timestamp, a signature of the wrong
// shape, or a declared body over the limit is refused without reading its body.
func TestHTTP_RefusedBeforeTheBodyIsRead(t *testing.T) {
	wf, cloud, db, api := offlineParts(t)
	app, err := bot.NewApp(bot.AppConfig{Workflow: wf, Cloud: cloud, Store: db, Slack: api})
	if err != nil {
		t.Fatal(err)
	}
	h := app.Handler(edgeSecret)
	now := time.Now()
	tests := []struct {
		name   string
		path   string
		size   int
		header func(http.Header)
		status int
	}{
		{"no signature headers", "/slack/commands", 511 << 10, func(http.Header) {}, http.StatusUnauthorized},
		{"no signature headers, small", "/slack/interactions", 100, func(http.Header) {}, http.StatusUnauthorized},
		{"timestamp only", "/slack/commands", 511 << 10, func(h http.Header) {
			h.Set("X-Slack-Request-Timestamp", strconv.FormatInt(now.Unix(), 10))
		}, http.StatusUnauthorized},
		{"stale timestamp", "/slack/commands", 511 << 10, func(h http.Header) { lookalikeHeaders(h, now.Add(-6*time.Minute)) }, http.StatusUnauthorized},
		{"timestamp not a number", "/slack/interactions", 511 << 10, func(h http.Header) {
			lookalikeHeaders(h, now)
			h.Set("X-Slack-Request-Timestamp", "soon")
		}, http.StatusUnauthorized},
		{"signature not v0 hex", "/slack/interactions", 511 << 10, func(h http.Header) {
			lookalikeHeaders(h, now)
			h.Set("X-Slack-Signature", "v0=zz")
		}, http.StatusUnauthorized},
		{"declared body over 512 KiB", "/slack/commands", 600 << 10, func(h http.Header) { lookalikeHeaders(h, now) }, http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spy := &readSpy{r: strings.NewReader(strings.Repeat("a", tt.size))}
			req := httptest.NewRequest(http.MethodPost, "http://bot"+tt.path, spy)
			req.ContentLength = int64(tt.size)
			tt.header(req.Header)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != tt.status {
				t.Errorf("status %d, want %d", w.Code, tt.status)
			}
			if spy.read.Load() {
				t.Error("the body was read before the request was refused")
			}
			if got := w.Header().Get("Connection"); got != "close" {
				t.Errorf("Connection %q, want close: the unread body is not drained", got)
			}
		})
	}
}

// Bodies of requests that look signed are read within a budget shared by all connections
// (8 MiB): 20 stalled 511 KiB bodies get 16 readers at once; the others wait at most 1 s for a
// share and then get 503 with Retry-After.
func TestHTTP_BodiesBeingReadAreBounded(t *testing.T) {
	wf, cloud, db, api := offlineParts(t)
	synctest.Test(t, func(t *testing.T) {
		app, err := bot.NewApp(bot.AppConfig{Workflow: wf, Cloud: cloud, Store: db, Slack: api})
		if err != nil {
			t.Fatal(err)
		}
		h := app.Handler(edgeSecret)
		const conns, size = 20, 511 << 10
		type result struct {
			status     int
			retryAfter string
			read       bool
		}
		results := make(chan result, conns)
		var writers []*io.PipeWriter
		for range conns {
			pr, pw := io.Pipe()
			writers = append(writers, pw)
			spy := &readSpy{r: pr}
			req := httptest.NewRequest(http.MethodPost, "http://bot/slack/interactions", spy)
			req.ContentLength = size
			lookalikeHeaders(req.Header, time.Now())
			go func() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				results <- result{w.Code, w.Header().Get("Retry-After"), spy.read.Load()}
			}()
		}
		synctest.Wait()
		if n := len(results); n != 0 {
			t.Fatalf("%d requests answered before any waited", n)
		}
		time.Sleep(time.Second) // the bubble's clock: the waiters' second is up
		synctest.Wait()
		busy := 0
		for len(results) > 0 {
			r := <-results
			if r.status != http.StatusServiceUnavailable || r.retryAfter != "1" || r.read {
				t.Errorf("after 1 s: status %d, Retry-After %q, body read %v; want 503, 1, not read", r.status, r.retryAfter, r.read)
			}
			busy++
		}
		if want := conns - bodyShares(size); busy != want {
			t.Errorf("%d requests turned away, want %d: %d bodies may be read at once", busy, want, bodyShares(size))
		}
		for _, pw := range writers {
			pw.CloseWithError(errors.New("client went away"))
		}
		synctest.Wait()
		if n := len(results); n != bodyShares(size) {
			t.Errorf("%d readers answered after their clients went away, want %d", n, bodyShares(size))
		}
		if err := app.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

// bodyShares is how many bodies of size fit the 8 MiB budget at once.
func bodyShares(size int) int { return (8 << 20) / size }

// pipeListener is a net.Listener of in-memory connections (net.Pipe), whose deadlines run on
// the synctest bubble's clock.
type pipeListener struct {
	conns chan net.Conn
	once  sync.Once
	done  chan struct{}
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return &net.UnixAddr{Name: "pipe", Net: "pipe"} }

func (l *pipeListener) dial() net.Conn {
	client, server := net.Pipe()
	l.conns <- server
	return client
}

// A client that sends the headers and then stalls in the middle of the body is cut off after
// 3 s (408), and its connection closed.
func TestHTTP_StalledBodyIsCutOff(t *testing.T) {
	wf, cloud, db, api := offlineParts(t)
	synctest.Test(t, func(t *testing.T) {
		app, err := bot.NewApp(bot.AppConfig{Workflow: wf, Cloud: cloud, Store: db, Slack: api})
		if err != nil {
			t.Fatal(err)
		}
		ln := newPipeListener()
		srv := &http.Server{Handler: app.Handler(edgeSecret)}
		go func() { _ = srv.Serve(ln) }()
		conn := ln.dial()
		defer conn.Close()
		start := time.Now()
		go fmt.Fprintf(conn, "POST /slack/commands HTTP/1.1\r\nHost: bot\r\nContent-Type: application/x-www-form-urlencoded\r\n"+
			"Content-Length: 4096\r\nX-Slack-Request-Timestamp: %d\r\nX-Slack-Signature: v0=%s\r\n\r\ntext=stalled", start.Unix(), strings.Repeat("ab", 32))
		type answer struct {
			status int
			err    error
			after  time.Duration
		}
		answers := make(chan answer, 1)
		go func() {
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				answers <- answer{err: err, after: time.Since(start)}
				return
			}
			resp.Body.Close()
			answers <- answer{status: resp.StatusCode, after: time.Since(start)}
		}()
		select {
		case a := <-answers:
			if a.err != nil || a.status != http.StatusRequestTimeout {
				t.Errorf("answer %d (%v), want 408", a.status, a.err)
			}
			if a.after != 3*time.Second {
				t.Errorf("cut off after %v, want 3s", a.after)
			}
		case <-time.After(time.Minute):
			t.Error("a stalled body was still being read after a minute")
		}
		conn.Close()
		if err := srv.Close(); err != nil {
			t.Fatal(err)
		}
		if err := app.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}
