// Command renewbot is the Slack chat-ops bot for Alibaba Cloud ECS subscription renewals
// (renewbot serve), its demo (renewbot demo) and its operator CLI (expiring, quote, renew, align, autorenew, history, backup,
// digest, slack-manifest, ram-policy, healthcheck, version).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // RENEWBOT_TIMEZONE works in a scratch/distroless image too
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	ctx, hurry := signalContexts()
	code := runEnv(ctx, env{getenv: os.Getenv, stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, hurry: hurry}, os.Args[1:])
	os.Exit(code)
}

// signalContexts returns ctx, cancelled by the first SIGINT or SIGTERM (stop, draining work
// in flight), and hurry, cancelled by the second (stop waiting for it). A third signal has
// its default effect.
func signalContexts() (ctx, hurry context.Context) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	ctx, stop := context.WithCancelCause(context.Background())
	hurry, hurryUp := context.WithCancelCause(context.Background())
	go func() {
		s := <-sigs
		stop(fmt.Errorf("signal %v", s))
		s = <-sigs
		hurryUp(fmt.Errorf("second signal %v", s))
		signal.Reset(os.Interrupt, syscall.SIGTERM)
	}()
	return ctx, hurry
}

// env is what a subcommand gets from the process: arguments, environment and the standard streams.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	hurry  context.Context  // ends at a second signal: stop waiting for work in flight (nil: never)
	now    func() time.Time // serve's clock (nil: time.Now); the demo runs the bot on the emulator's
}

// command is one subcommand.
type command struct {
	name    string
	args    string // synopsis after the name
	summary string
	run     func(ctx context.Context, e env, args []string) error
}

// commands is the subcommand table; help is generated from it.
func commands() []command {
	return []command{
		{"demo", "[--keep] [--socket] [--playground-listen ADDR]", "see renewbot work in seconds: ecssim fleet, local Slack stand-in, temporary store", runDemo},
		{"playground", "[--socket] [--playground-listen ADDR]", "the demo's world as a web page: a Slack-like channel to type /renew and click in", runPlayground},
		{"serve", "[flags]", "run the Slack bot (HTTP and/or Socket Mode), digests, /healthz, /metrics", runServe},
		{"expiring", "[--within 30d] [--format table|json|csv]", "list PrePaid instances expiring soon, in every region", runExpiring},
		{"forecast", "[--within 30d] [--format table|json|csv]", "each account's balance against the automatic renewals Alibaba will deduct", runForecast},
		{"quote", "ID --period N", "price renewing one instance for N months", runQuote},
		{"renew", "ID --period N [--yes]", "renew one instance now (asks first unless --yes), verify the new expiry", runRenew},
		{"align", "ID[,ID...] --day N [--yes]", "renew instances to day N (1-28) of the month, to expire on the same day (asks first unless --yes), verify", runAlign},
		{"autorenew", "get ID,... | set ID,... --on [--duration N] | --off | --never", "read or change auto-renew", runAutoRenew},
		{"history", "[ID] [--since 7d] [--format table|json|csv] [--verify] [--db FILE]", "print the audit trail, or check its hash chain (works while serve runs)", runHistory},
		{"backup", "FILE [--db FILE]", "write a consistent copy of the store (works while serve runs)", runBackup},
		{"digest", "--now [--force] [--dry-run]", "post the digest now, or print its Block Kit JSON (works while serve runs)", runDigest},
		{"slack-manifest", "--url https://HOST | --socket", "print the Slack app manifest", runManifest},
		{"ram-policy", "[--member --base-uid UID [--external-id ID]]", "print the least-privilege Alibaba Cloud RAM policy (--member: a member account's role and its trust policy)", runRAMPolicy},
		{"healthcheck", "[--url http://127.0.0.1:8080/healthz]", "exit 0 if the running bot is healthy (Docker HEALTHCHECK)", runHealthcheck},
		{"version", "", "print version, commit and Go version", runVersion},
		{"help", "[COMMAND]", "show this help, or a command's flags", nil},
	}
}

// Exit statuses.
const (
	exitOK      = 0
	exitError   = 1 // the command failed
	exitUsage   = 2 // bad arguments or settings
	exitPartial = 3 // a result came back but part of it is missing (failed regions), or a paid call's outcome is unknown
)

// errPartial marks a result printed with parts missing (exit 3).
var errPartial = errors.New("partial result")

// errUnknown marks a renewal or auto-renew change whose outcome is not known yet (exit 3).
var errUnknown = errors.New("outcome unknown")

// run is the whole program: it dispatches to a subcommand and returns the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runEnv(ctx, env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}, args)
}

// runEnv is run with the process environment in one value.
func runEnv(ctx context.Context, e env, args []string) int {
	stdout, stderr := e.stdout, e.stderr
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	name, rest := args[0], args[1:]
	if name == "help" || name == "-h" || name == "--help" || name == "-help" {
		if len(rest) > 0 {
			return helpFor(ctx, e, rest[0])
		}
		usage(stdout)
		return exitOK
	}
	if name == "--version" || name == "-version" {
		name = "version"
	}
	for _, c := range commands() {
		if c.name != name || c.run == nil {
			continue
		}
		err := c.run(ctx, e, rest)
		switch {
		case err == nil:
			return exitOK
		case errors.Is(err, flag.ErrHelp):
			return helpFor(ctx, e, name)
		case errors.Is(err, errPartial), errors.Is(err, errUnknown):
			fmt.Fprintf(stderr, "renewbot %s: %v\n", name, err)
			return exitPartial
		}
		fmt.Fprintf(stderr, "renewbot %s: %v\n", name, err)
		var ue usageError
		var bs badSetting
		switch {
		case errors.As(err, &bs):
			return exitUsage
		case errors.As(err, &ue):
			fmt.Fprintf(stderr, "run 'renewbot help %s' for usage\n", name)
			return exitUsage
		}
		return exitError
	}
	fmt.Fprintf(stderr, "renewbot: unknown command %q\n\n", name)
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprint(w, "renewbot: a Slack bot that renews Alibaba Cloud ECS subscription instances with approval.\n\nUsage:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %s\n      %s\n", strings.TrimSpace("renewbot "+c.name+" "+c.args), c.summary)
	}
	fmt.Fprint(w, "\nSettings have environment twins (see 'renewbot help COMMAND'): an explicit flag wins over the environment,\n"+
		"which wins over the default. Action flags (--yes, --on, --off, --never, --now, --force) have none, on purpose.\n"+
		"Exit status: 0 ok, 1 failed, 2 bad usage or settings, 3 partial result (some regions could not be read).\n")
}

// helpFor prints one command's synopsis and settings.
func helpFor(ctx context.Context, e env, name string) int {
	for _, c := range commands() {
		if c.name != name {
			continue
		}
		fmt.Fprintf(e.stdout, "Usage: %s\n  %s\n", strings.TrimSpace("renewbot "+c.name+" "+c.args), c.summary)
		if t := settingsFor(name); t != nil {
			fmt.Fprint(e.stdout, "\nSettings:\n")
			t.usage(e.stdout)
		}
		return exitOK
	}
	fmt.Fprintf(e.stderr, "renewbot help: unknown command %q\n", name)
	return exitUsage
}

// settingsFor builds a command's settings table for help output.
func settingsFor(name string) *settings {
	switch name {
	case "serve":
		return newServeSettings(&serveConfig{})
	case "expiring":
		return newExpiringSettings(&expiringConfig{})
	case "forecast":
		return newForecastSettings(&forecastConfig{})
	case "quote":
		return newQuoteSettings(&quoteConfig{})
	case "renew":
		return newRenewSettings(&renewConfig{})
	case "align":
		return newAlignSettings(&alignConfig{})
	case "autorenew":
		return newAutoRenewSettings(&autoRenewConfig{})
	case "history":
		return newHistorySettings(&historyConfig{})
	case "backup":
		return newBackupSettings(&backupConfig{})
	case "digest":
		return newDigestSettings(&digestConfig{})
	case "slack-manifest":
		return newManifestSettings(&manifestConfig{})
	case "healthcheck":
		return newHealthcheckSettings(&healthcheckConfig{})
	case "ram-policy":
		return newRAMPolicySettings(&ramPolicyConfig{})
	case "demo":
		var keep, socket bool
		var listen string
		return newDemoSettings(&keep, &socket, &listen)
	case "playground":
		var socket bool
		var listen string
		return newPlaygroundSettings(&socket, &listen)
	}
	return nil
}

// newLogger logs JSON when w is not a terminal, text otherwise.
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if isTerminal(w) {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// isTerminal reports whether a standard stream (an io.Reader or io.Writer) is a terminal.
func isTerminal(stream any) bool {
	f, ok := stream.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func runVersion(_ context.Context, e env, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("takes no arguments, got %q", args)}
	}
	fmt.Fprintln(e.stdout, versionString())
	return nil
}

// versionString is "renewbot VERSION (commit C[, modified], GOVERSION)".
func versionString() string {
	v, commit, gov := version, "unknown", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		gov = bi.GoVersion
		if v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		dirty := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
				if len(commit) > 12 {
					commit = commit[:12]
				}
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if dirty {
			commit += ", modified"
		}
	}
	return fmt.Sprintf("renewbot %s (commit %s, %s)", v, commit, gov)
}
