package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/renewbot/renewbot/bot/bottest"
	"github.com/renewbot/renewbot/bot/playground"
	"github.com/renewbot/renewbot/ecs/ecssim"
)

// demoCarol is the demo's third person: in the channel, not an approver.
const demoCarol = "U03CAROL"

func newPlaygroundSettings(socket *bool, listen *string) *settings {
	return newSettings("playground", []setting{
		{flag: "socket", isBool: true, def: "false", usage: "run the bot in Socket Mode against the Slack stand-in's WebSocket",
			parse: func(s string) (err error) { *socket, err = parseBool(s); return }},
		{flag: "playground-listen", def: "127.0.0.1:0", usage: "address of the playground web page (port 0 picks a free port)",
			parse: func(s string) error { *listen = s; return nil }},
	})
}

// runPlayground starts what the demo starts (ecssim, the Slack stand-in, renewbot serve) and
// serves the playground page on it, without the transcript, until Ctrl-C.
func runPlayground(ctx context.Context, e env, args []string) error {
	var socket bool
	var listen string
	if err := newPlaygroundSettings(&socket, &listen).parseNoArgs(args, e.getenv); err != nil {
		return err
	}
	ln, err := listenPlayground(listen) // a bad address fails before anything starts
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := startDemoStack(ctx, e, socket)
	if err != nil {
		ln.Close()
		return err
	}
	defer st.close()
	stop, err := st.servePlayground(ln, e.stdout)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "ECS emulator %s · Slack stand-in %s · renewbot %s · store %s\nCtrl-C stops everything.\n",
		st.sim.URL, strings.TrimSuffix(st.fake.APIURL(), "/api/"), st.base, st.dbPath)
	<-ctx.Done()
	stop()
	return st.stop()
}

// demoStack is the demo's world: an ecssim fleet, the Slack stand-in, and renewbot serve
// running in this process on a bbolt file in a temporary folder.
type demoStack struct {
	sim       *ecssim.Server
	instances int // in the fleet
	fake      *bottest.FakeSlack
	base      string // renewbot's HTTP endpoints
	pageURL   string // the playground page, once served
	dir       string
	dbPath    string
	getenv    func(string) string
	socket    bool // the bot runs in Socket Mode, not behind signed HTTP endpoints
	cancel    context.CancelFunc
	served    chan int // serve's exit status
}

// startDemoStack starts ecssim, the Slack stand-in and renewbot serve, in HTTP mode or, with
// socket, in Socket Mode connected to the stand-in's WebSocket. The bot's clock is the
// emulator's business clock, so moving the latter (POST /_sim/clock) moves both.
func startDemoStack(ctx context.Context, e env, socket bool) (_ *demoStack, err error) {
	st := &demoStack{socket: socket}
	defer func() {
		if err != nil {
			st.close()
		}
	}()
	if st.dir, err = os.MkdirTemp("", "renewbot-demo-"); err != nil {
		return nil, err
	}
	st.dbPath = filepath.Join(st.dir, "renewbot.db")
	fleet := demoFleet(time.Now().UTC())
	st.instances = len(fleet.Instances) + addDemoAccount(&fleet, time.Now().UTC()) // a second account, through a role (accounts.go)
	st.sim = ecssim.NewServer(ecssim.Options{Fleet: fleet, RenewDelay: time.Second, Seed: 1})
	st.fake = bottest.NewFakeSlack()
	st.fake.SetGroup(demoGroup, demoBob)

	vars := map[string]string{
		"SLACK_BOT_TOKEN":                 "xoxb-demo",
		"SLACK_SIGNING_SECRET":            demoSecret,
		"SLACK_API_URL":                   st.fake.APIURL(),
		"RENEWBOT_LISTEN":                 "127.0.0.1:0",
		"RENEWBOT_DB":                     st.dbPath,
		"RENEWBOT_ECS_ENDPOINT":           strings.TrimPrefix(st.sim.URL, "http://"),
		"RENEWBOT_REGIONS":                demoRegions,
		"RENEWBOT_APPROVERS":              demoAlice + "," + demoGroup,
		"RENEWBOT_DIGEST_CHANNEL":         demoChannel,
		"RENEWBOT_LOG_LEVEL":              "error",
		"ALIBABA_CLOUD_ACCESS_KEY_ID":     "testid",
		"ALIBABA_CLOUD_ACCESS_KEY_SECRET": "testsecret",
	}
	if err := demoAccountsEnv(st.dir, st.sim, vars); err != nil {
		return nil, err
	}
	if socket { // as a Socket Mode app is set up: an app-level token and no signing secret
		vars["SLACK_APP_TOKEN"] = "xapp-demo"
		delete(vars, "SLACK_SIGNING_SECRET")
	}
	st.getenv = func(k string) string { return vars[k] }

	// Boot `renewbot serve` in this process and wait for its "listening on" line.
	sctx, cancel := context.WithCancel(ctx)
	st.cancel = cancel
	pr, pw := io.Pipe()
	st.served = make(chan int, 1)
	go func() {
		st.served <- runEnv(sctx, env{getenv: st.getenv, stdin: strings.NewReader(""), stdout: pw, stderr: e.stderr, now: st.sim.Now}, []string{"serve"})
		pw.Close()
	}()
	if st.base, err = waitListening(pr); err != nil {
		return nil, fmt.Errorf("renewbot serve did not start: %w", err)
	}
	go io.Copy(io.Discard, pr) //nolint:errcheck // drain serve's stdout
	if socket {
		wctx, done := context.WithTimeout(ctx, demoWait)
		defer done()
		if _, err := st.fake.Wait(wctx, "socket.hello", 1); err != nil {
			return nil, fmt.Errorf("renewbot serve did not connect in Socket Mode: %w", err)
		}
	}
	return st, nil
}

// transport is how commands and clicks reach the bot, as Slack would send them.
func (st *demoStack) transport() playground.Transport {
	if st.socket {
		return playground.SocketTransport{Slack: st.fake}
	}
	return playground.HTTPTransport{Bot: st.base, Secret: demoSecret}
}

// stop stops renewbot serve and returns an error if it did not exit cleanly.
func (st *demoStack) stop() error {
	if st.cancel == nil {
		return nil
	}
	st.cancel()
	st.cancel = nil
	if code := <-st.served; code != 0 {
		return fmt.Errorf("renewbot serve exited %d", code)
	}
	return nil
}

// close stops everything and removes the temporary folder.
func (st *demoStack) close() {
	_ = st.stop()
	if st.fake != nil {
		st.fake.Close()
	}
	if st.sim != nil {
		st.sim.Close()
	}
	if st.dir != "" {
		os.RemoveAll(st.dir)
	}
}

// digest posts the digest now through the running bot's admin socket, as
// `renewbot digest --now --force` does.
func (st *demoStack) digest(ctx context.Context) error {
	var out strings.Builder
	if code := run(ctx, []string{"digest", "--now", "--force"}, st.getenv, strings.NewReader(""), &out, &out); code != 0 {
		return fmt.Errorf("renewbot digest --now exited %d: %s", code, strings.TrimSpace(out.String()))
	}
	return nil
}

// playgroundHandler is the playground page wired to the stack.
func (st *demoStack) playgroundHandler() (http.Handler, error) {
	pg, err := playground.New(playground.Config{
		Transport: st.transport(), Slack: st.fake, Sim: st.sim.URL,
		Channel: demoChannel, ChannelName: "renewals", Command: "/renew",
		People: []playground.Person{
			{ID: demoAlice, Name: "Alice", Role: "asks for renewals"},
			{ID: demoBob, Name: "Bob", Role: "approver (user group @ops)"},
			{ID: demoCarol, Name: "Carol", Role: "in the channel, not an approver"},
		},
		Groups: map[string]string{demoGroup: "ops"},
		Examples: []string{
			"/renew help", "/renew list", "/renew " + demoInstance + " 3", "/renew status " + demoInstance,
			"/renew autorenew i-bp1demolegacy on 1", "/renew history",
		},
		Digest: st.digest,
		Log:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return nil, err
	}
	return pg.Handler(), nil
}

// listenPlayground listens on the playground's address; failing to is a bad setting (exit 2).
func listenPlayground(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, usageError{fmt.Errorf("--playground-listen %s: %w", addr, err)}
	}
	return ln, nil
}

// servePlayground serves the playground page on ln and prints, exactly,
// "playground: open http://HOST:PORT/". stop shuts the page down; ln is closed either way.
func (st *demoStack) servePlayground(ln net.Listener, w io.Writer) (stop func(), err error) {
	h, err := st.playgroundHandler()
	if err != nil {
		ln.Close()
		return nil, err
	}
	st.pageURL = "http://" + ln.Addr().String() + "/"
	// The event streams never go idle: their requests' context ends when the page stops.
	base, cancel := context.WithCancel(context.Background())
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return base }}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(w, "playground:", err)
		}
	}()
	fmt.Fprintf(w, "playground: open %s\n", st.pageURL)
	return func() {
		cancel()
		ctx, done2 := context.WithTimeout(context.Background(), 5*time.Second)
		defer done2()
		if srv.Shutdown(ctx) != nil {
			srv.Close()
		}
		<-done
	}, nil
}
