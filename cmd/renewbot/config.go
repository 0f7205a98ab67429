package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/store"
)

// A setting is one configuration value: a flag, its environment twin and a default.
// Explicit flag > environment > default. parse turns the raw text into the config field and
// returns an error saying what is wrong with the value (the caller names the setting).
type setting struct {
	flag   string // flag name without dashes; "" = environment only (secrets such as cloud keys)
	env    string // environment twin; "" = flag only
	def    string // default, as text
	usage  string
	isBool bool // --flag alone means true
	secret bool // never echoed in errors or help
	parse  func(raw string) error
	// parseEnv, when set, is used instead of parse, for a setting that reads more of the
	// environment (the accounts file names the variables holding each account's keys).
	parseEnv func(raw string, getenv func(string) string) error
}

// settings binds a table of settings to one subcommand's FlagSet.
type settings struct {
	fs   *flag.FlagSet
	list []*setting
	vals map[string]*rawValue
}

// rawValue holds a flag's text until load parses it.
type rawValue struct {
	s      string
	isBool bool
}

func (v *rawValue) String() string     { return v.s }
func (v *rawValue) Set(s string) error { v.s = s; return nil }
func (v *rawValue) IsBoolFlag() bool   { return v.isBool }

// newSettings makes the FlagSet of one subcommand (ContinueOnError, no output of its own)
// and registers every setting of the table on it.
func newSettings(name string, table []setting) *settings {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	s := &settings{fs: fs, vals: map[string]*rawValue{}}
	for i := range table {
		st := &table[i]
		s.list = append(s.list, st)
		if st.flag != "" {
			v := &rawValue{s: st.def, isBool: st.isBool}
			s.vals[st.flag] = v
			fs.Var(v, st.flag, st.usage)
		}
	}
	return s
}

// parse parses args, allowing flags before, between and after positional arguments
// ("renew i-1 --period 3"), then loads every setting. It returns the positional arguments.
func (s *settings) parse(args []string, getenv func(string) string) ([]string, error) {
	var pos []string
	for {
		if err := s.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{fmt.Errorf("%s: %w", s.fs.Name(), err)}
		}
		args = s.fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			pos = append(pos, args[1:]...)
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	return pos, s.load(getenv)
}

// parseNoArgs is parse for a command that takes no positional arguments.
func (s *settings) parseNoArgs(args []string, getenv func(string) string) error {
	pos, err := s.parse(args, getenv)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{fmt.Errorf("takes no arguments, got %q", pos)}
	}
	return nil
}

// boolSetting is a switch: --name alone means true. env "" means no environment twin.
func boolSetting(name, env, usage string, p *bool) setting {
	return setting{flag: name, env: env, isBool: true, def: "false", usage: usage,
		parse: func(s string) (err error) { *p, err = parseBool(s); return }}
}

// load gives every setting its value: explicit flag, else environment, else default.
func (s *settings) load(getenv func(string) string) error {
	explicit := map[string]bool{}
	s.fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	for _, st := range s.list {
		raw, name := st.def, st.name()
		switch {
		case st.flag != "" && explicit[st.flag]:
			raw, name = s.vals[st.flag].s, "--"+st.flag
		case st.env != "" && getenv(st.env) != "":
			raw, name = getenv(st.env), st.env
		}
		parse := st.parse
		if st.parseEnv != nil {
			parse = func(raw string) error { return st.parseEnv(raw, getenv) }
		}
		if err := parse(strings.TrimSpace(raw)); err != nil {
			return usageError{settingError(name, raw, st.secret, err)}
		}
	}
	return nil
}

// name is how messages refer to a setting: its environment name, else its flag.
func (st *setting) name() string {
	if st.env != "" {
		return st.env
	}
	return "--" + st.flag
}

// settingError names the setting and, unless it is a secret, quotes the bad value.
func settingError(name, raw string, secret bool, err error) error {
	if secret || strings.TrimSpace(raw) == "" || strings.Contains(err.Error(), strconv.Quote(raw)) {
		return fmt.Errorf("%s: %v", name, err) // no value, or the shared parsers' message quotes it already
	}
	return fmt.Errorf("%s: %q %v", name, raw, err)
}

// usage writes the settings of a subcommand: flag, environment twin, default, help.
func (s *settings) usage(w io.Writer) {
	for _, st := range s.list {
		var left string
		switch {
		case st.flag == "":
			left = st.env
		case st.isBool:
			left = "--" + st.flag
		default:
			left = "--" + st.flag + " VALUE"
		}
		var extra []string
		if st.flag != "" && st.env != "" {
			extra = append(extra, "env "+st.env)
		}
		if st.def != "" && !st.secret {
			extra = append(extra, "default "+st.def)
		}
		line := "  " + left
		if len(extra) > 0 {
			line += "  (" + strings.Join(extra, ", ") + ")"
		}
		fmt.Fprintf(w, "%s\n      %s\n", line, st.usage)
	}
}

// usageError marks bad input (exit status 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// badSetting marks a setting that is well-formed but does not work, found when it is used
// (a store path in a missing folder, a busy port): exit status 2, and the message alone,
// without the usage hint.
type badSetting struct{ err error }

func (e badSetting) Error() string { return e.err.Error() }
func (e badSetting) Unwrap() error { return e.err }

// ---- parsers: pure functions from text to a value, with a message that says what is expected.

var errRequired = errors.New("is required")

// parseDuration reads a timeout or an interval: "30d", "12h", "90m" or any Go duration; it
// must be positive. (How far ahead to look is a window: renewal.ParseWindow.)
func parseDuration(s string) (time.Duration, error) {
	bad := errors.New("is not a duration like 30d or 720h")
	if s == "" {
		return 0, errRequired
	}
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 || days > 3650 {
			return 0, bad
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, bad
		}
	}
	if d <= 0 {
		return 0, errors.New("must be longer than zero")
	}
	return d, nil
}

// parseInt reads an integer in [lo, hi].
func parseInt(s string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("is not a whole number from %d to %d", lo, hi)
	}
	return n, nil
}

// parseAmount reads a non-negative amount of money; 0 means no limit.
func parseAmount(s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || v < 0 || v > 1e12 {
		return 0, errors.New("is not an amount like 0 or 5000")
	}
	return v, nil
}

func parseBool(s string) (bool, error) {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, errors.New("is not true or false")
	}
	return b, nil
}

// splitList splits a comma (or space) separated list, dropping empty entries.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
}

var reTag = lazyRegexp(`^[A-Za-z0-9_.:/=+\-@]{1,128}$`)

// lazyRegexp compiles expr on its first use, not at every command's start: a pattern with
// counted repetitions ({1,128}) takes a few hundred microseconds to compile
// (BenchmarkExpiringProcess/startup).
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

// parseRegions reads a comma list of region IDs (cn-hangzhou,ap-southeast-1); empty = all.
func parseRegions(s string) ([]string, error) {
	var out []string
	for _, r := range splitList(s) {
		if !ecs.ValidRegionID(r) {
			return nil, fmt.Errorf("has %q, which is not a region ID like cn-hangzhou", r)
		}
		out = append(out, r)
	}
	return out, nil
}

// parseApprovers reads a comma list of Slack user IDs (U…, W…) and user-group IDs (S…).
// An empty list is allowed (digests and lists work; serve warns that nothing can be approved).
func parseApprovers(s string) ([]string, error) {
	ids := splitList(s)
	for _, id := range ids {
		if !renewal.IsUserID(id) && !renewal.IsGroupID(id) {
			return nil, fmt.Errorf("has %q, which is not a Slack user ID (U…/W…) or user-group ID (S…); names are not accepted", id)
		}
	}
	return ids, nil
}

// parseEndpoint reads "host:port" or "http(s)://host[:port]"; empty = Alibaba's public endpoints.
func parseEndpoint(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	bad := errors.New("is not an endpoint like 127.0.0.1:18080 or https://ecs-vpc.cn-hangzhou.aliyuncs.com")
	u := s
	if !strings.Contains(s, "://") {
		u = "http://" + s
	}
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || (p.Path != "" && p.Path != "/") || p.RawQuery != "" {
		return "", bad
	}
	return s, nil
}

// parseAPIURL reads the Slack Web API base URL and makes sure it ends with "/".
func parseAPIURL(s string) (string, error) {
	p, err := url.Parse(s)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.RawQuery != "" {
		return "", errors.New("is not a URL like https://slack.com/api/")
	}
	if !strings.HasSuffix(s, "/") {
		s += "/"
	}
	return s, nil
}

// parseCron checks a standard 5-field cron spec ("0 9 * * *").
func parseCron(s string) (cron.Schedule, error) {
	if strings.HasPrefix(s, "CRON_TZ=") || strings.HasPrefix(s, "TZ=") {
		return nil, errors.New("must not set a time zone (use RENEWBOT_TIMEZONE)")
	}
	sch, err := cron.ParseStandard(s)
	if err != nil {
		return nil, errors.New("is not a cron schedule like \"0 9 * * *\" (minute hour day month weekday)")
	}
	return sch, nil
}

// parseLocation reads an IANA time zone name.
func parseLocation(s string) (*time.Location, error) {
	if s == "" {
		return nil, errRequired
	}
	loc, err := time.LoadLocation(s)
	if err != nil {
		return nil, errors.New("is not a time zone like Asia/Shanghai or UTC")
	}
	return loc, nil
}

// parseLevel reads debug, info, warn or error.
func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, errors.New("is not one of debug, info, warn, error")
	}
	return l, nil
}

// parseListen reads a listen address like :8080 or 127.0.0.1:0.
func parseListen(s string) (string, error) {
	i := strings.LastIndex(s, ":")
	if s == "" || i < 0 {
		return "", errors.New("is not a listen address like :8080 or 127.0.0.1:8080")
	}
	if _, err := strconv.ParseUint(s[i+1:], 10, 16); err != nil {
		return "", errors.New("is not a listen address like :8080 or 127.0.0.1:8080")
	}
	return s, nil
}

// checkToken checks a Slack token's prefix without ever echoing it.
func checkToken(s, prefix, what string) error {
	if s == "" {
		return errRequired
	}
	if !strings.HasPrefix(s, prefix) {
		return fmt.Errorf("must be %s starting with %s", what, prefix)
	}
	if strings.ContainsAny(s, " \t\r\n") {
		return errors.New("contains white space")
	}
	return nil
}

// storeError turns a failure to open the store file into one sentence that names the
// setting and the path once. A missing folder, a permission or a file that is not a store is
// a bad setting (exit 2); a store held by another process is not.
func storeError(path string, err error) error {
	var pe *fs.PathError
	switch {
	case err == nil || errors.Is(err, store.ErrLocked):
		return err
	case errors.Is(err, fs.ErrNotExist):
		return badSetting{fmt.Errorf("RENEWBOT_DB: cannot create %s: the folder %s does not exist", path, filepath.Dir(path))}
	case errors.As(err, &pe):
		return badSetting{fmt.Errorf("RENEWBOT_DB: cannot open %s: %v", path, pe.Err)}
	}
	return badSetting{fmt.Errorf("RENEWBOT_DB: %w", err)} // "open PATH: invalid database", a schema too new
}

// listenError turns a failure to listen into one sentence that names the setting.
func listenError(addr string, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return badSetting{fmt.Errorf("RENEWBOT_LISTEN: %s is already in use by another process", addr)}
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		err = oe.Err
	}
	return badSetting{fmt.Errorf("RENEWBOT_LISTEN: cannot listen on %s: %v", addr, err)}
}
