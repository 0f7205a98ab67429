package bot

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/store"
)

// Verb is what a slash command asks for.
type Verb int

// The slash command verbs.
const (
	VerbHelp Verb = iota
	VerbList
	VerbStatus
	VerbRenew
	VerbAutoRenew
	VerbHistory
)

var verbNames = [...]string{"help", "list", "status", "renew", "autorenew", "history"}

func (v Verb) String() string {
	if v >= 0 && int(v) < len(verbNames) {
		return verbNames[v]
	}
	return fmt.Sprintf("Verb(%d)", int(v))
}

// Command is a parsed slash command. Only the fields of its Verb are set.
type Command struct {
	Verb        Verb
	InstanceIDs []string            // status, renew, autorenew; history: at most one
	Months      int                 // renew: 1-9 or 12, default 1
	Window      time.Duration       // list: 0 means the configured default
	AutoRenew   store.AutoRenewMode // autorenew
	Duration    int                 // autorenew on: months per automatic renewal, default 1
	RequestID   store.RequestID     // history R…
}

// String is the canonical text of the command; ParseCommand(c.String()) gives c back.
func (c Command) String() string {
	ids := strings.Join(c.InstanceIDs, ",")
	switch c.Verb {
	case VerbList:
		if c.Window > 0 {
			return "list " + formatWindow(c.Window)
		}
		return "list"
	case VerbStatus:
		return "status " + ids
	case VerbRenew:
		return fmt.Sprintf("%s %dm", ids, c.Months)
	case VerbAutoRenew:
		if c.AutoRenew == store.AutoRenewOn {
			return fmt.Sprintf("autorenew %s on %dm", ids, c.Duration)
		}
		return "autorenew " + ids + " " + c.AutoRenew.String()
	case VerbHistory:
		switch {
		case c.RequestID != "":
			return "history " + string(c.RequestID)
		case ids != "":
			return "history " + ids
		}
		return "history"
	}
	return "help"
}

// Usage is the command grammar shown with help and with every parse error.
const Usage = "Usage:\n" +
	"• `help`: this text\n" +
	"• `list [WINDOW]`: instances expiring within WINDOW (`7d`, `2w`, `48h`; default 30d, at most 365d)\n" +
	"• `status ID[,ID...]`: expiry and auto-renew state of instances\n" +
	"• `ID[,ID...] [PERIOD]`: ask to renew for PERIOD: `1`-`9` or `12` months (`3`, `3m`, `1y`; default 1 month)\n" +
	"• `autorenew ID[,ID...] on [DURATION]`: renew automatically every DURATION (1, 2, 3, 6, 12, 24, 36, 48 or 60 months; default 1)\n" +
	"• `autorenew ID[,ID...] off`: back to manual renewal\n" +
	"• `autorenew ID[,ID...] never`: do not renew; the instance is released 15 days after expiry\n" +
	"• `history [ID|REQUEST_ID]`: the audit trail\n" +
	"IDs look like `i-bp1a2b3c4d5e6f7g8h9i`; at most 20 per command, separated by commas or spaces."

// Parser limits.
const (
	maxCommandIDs    = 20
	maxWindow        = 365 * 24 * time.Hour
	maxCommandLength = 4000
)

var (
	requestIDRe = regexp.MustCompile(`^[Rr][A-Za-z0-9]{3,19}$`)
	numUnitRe   = regexp.MustCompile(`^([0-9]{1,4})([a-z]*)$`)
)

// validRenewMonths reports whether RenewInstance accepts m months (PeriodUnit Month).
func validRenewMonths(m int) bool { return m >= 1 && m <= 9 || m == 12 }

// validAutoRenewMonths reports whether ModifyInstanceAutoRenewAttribute accepts m months.
func validAutoRenewMonths(m int) bool {
	switch m {
	case 1, 2, 3, 6, 12, 24, 36, 48, 60:
		return true
	}
	return false
}

// ParseCommand parses the text of a slash command. It never panics and does no I/O. An
// empty text asks for help. The error text is for the Slack user: it says what was wrong
// and ends with Usage.
func ParseCommand(text string) (Command, error) {
	c, err := parseCommand(text)
	if err != nil {
		return Command{}, fmt.Errorf("%w\n\n%s", err, Usage)
	}
	return c, nil
}

func parseCommand(text string) (Command, error) {
	if len(text) > maxCommandLength {
		return Command{}, fmt.Errorf("that command is %d characters long; the limit is %d", len(text), maxCommandLength)
	}
	toks := strings.FieldsFunc(text, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\u00a0' || r == '\u3000' || r == '，'
	})
	if len(toks) == 0 {
		return Command{Verb: VerbHelp}, nil
	}
	verb := strings.ToLower(toks[0])
	args := toks[1:]
	switch verb {
	case "help", "usage", "?":
		return Command{Verb: VerbHelp}, nil
	case "list", "ls":
		return parseList(args)
	case "status":
		ids, rest, err := takeIDs(args, "`status` needs at least one instance ID")
		if err != nil {
			return Command{}, err
		}
		if len(rest) > 0 {
			return Command{}, fmt.Errorf("`status` takes only instance IDs; %q is not one", rest[0])
		}
		return Command{Verb: VerbStatus, InstanceIDs: ids}, nil
	case "autorenew", "auto-renew":
		return parseAutoRenew(args)
	case "history", "log":
		return parseHistory(args)
	case "renew":
		return parseRenew(args)
	}
	if strings.HasPrefix(verb, "i-") {
		return parseRenew(toks)
	}
	return Command{}, fmt.Errorf("there is no command %q", clip(toks[0]))
}

func parseList(args []string) (Command, error) {
	c := Command{Verb: VerbList}
	switch len(args) {
	case 0:
		return c, nil
	case 1:
		w, err := parseWindow(args[0])
		if err != nil {
			return Command{}, err
		}
		c.Window = w
		return c, nil
	}
	return Command{}, fmt.Errorf("`list` takes one window such as `7d`; got %q", strings.Join(args, " "))
}

// parseWindow reads Nd, Nw, Nh or a bare N (days).
func parseWindow(s string) (time.Duration, error) {
	notWindow := fmt.Errorf("%q is not a window; use days, weeks or hours such as `7d`, `2w` or `48h`", clip(s))
	m := numUnitRe.FindStringSubmatch(strings.ToLower(s))
	if m == nil {
		return 0, notWindow
	}
	n, _ := strconv.Atoi(m[1]) // at most 4 digits
	var unit time.Duration
	switch m[2] {
	case "", "d", "day", "days":
		unit = 24 * time.Hour
	case "w", "wk", "week", "weeks":
		unit = 7 * 24 * time.Hour
	case "h", "hr", "hour", "hours":
		unit = time.Hour
	default:
		return 0, notWindow
	}
	w := time.Duration(n) * unit
	if w <= 0 {
		return 0, fmt.Errorf("the window %q must be longer than zero", clip(s))
	}
	if w > maxWindow {
		return 0, fmt.Errorf("the window %q is too long; the most is 365d", clip(s))
	}
	return w, nil
}

func formatWindow(w time.Duration) string {
	if w%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", w/(24*time.Hour))
	}
	return fmt.Sprintf("%dh", w/time.Hour)
}

// takeIDs takes the leading instance IDs of args (lowercased, deduplicated) and returns the
// tokens after them. A token that looks meant as an ID but is not valid is an error, and so
// is no ID at all (with the message missing).
func takeIDs(args []string, missing string) (ids, rest []string, err error) {
	seen := map[string]bool{}
	i := 0
	for ; i < len(args); i++ {
		tok := strings.ToLower(args[i])
		if !strings.HasPrefix(tok, "i-") {
			break
		}
		if !ecs.IsInstanceID(tok) {
			return nil, nil, notInstanceID(args[i])
		}
		if seen[tok] {
			continue
		}
		seen[tok] = true
		ids = append(ids, tok)
		if len(ids) > maxCommandIDs {
			return nil, nil, fmt.Errorf("too many instances: at most %d per command", maxCommandIDs)
		}
	}
	if len(ids) == 0 {
		return nil, nil, errors.New(missing)
	}
	return ids, args[i:], nil
}

func notInstanceID(s string) error {
	return fmt.Errorf("%q is not an ECS instance ID (`i-` then 6 to 32 lowercase letters or digits)", clip(s))
}

func parseRenew(args []string) (Command, error) {
	ids, rest, err := takeIDs(args, "say which instances to renew, e.g. `i-bp1a2b3c4d5e6f 3`")
	if err != nil {
		return Command{}, err
	}
	c := Command{Verb: VerbRenew, InstanceIDs: ids, Months: 1}
	if len(rest) == 0 {
		return c, nil
	}
	months, err := parsePeriod(rest, "renewal period")
	if err != nil {
		return Command{}, err
	}
	if !validRenewMonths(months) {
		return Command{}, fmt.Errorf("a renewal period of %d months is not possible: Alibaba renews for 1 to 9 months or 12 months (`1y`) at a time", months)
	}
	c.Months = months
	return c, nil
}

// parsePeriod reads N, Nm, Ny, "N month(s)" or "N year(s)" into months.
func parsePeriod(toks []string, what string) (int, error) {
	s := strings.ToLower(toks[0])
	if len(toks) == 2 && isDigits(s) && isLetters(toks[1]) {
		s += strings.ToLower(toks[1]) // "3 months"
	} else if len(toks) > 1 {
		return 0, fmt.Errorf("unexpected %q after the %s", clip(strings.Join(toks[1:], " ")), what)
	}
	m := numUnitRe.FindStringSubmatch(s)
	if m != nil {
		n, _ := strconv.Atoi(m[1]) // at most 4 digits
		switch m[2] {
		case "", "m", "mo", "mon", "month", "months":
			return n, nil
		case "y", "yr", "year", "years":
			return n * 12, nil
		}
	}
	return 0, fmt.Errorf("%q is not a %s; use months or years such as `3`, `3m` or `1y`", clip(strings.Join(toks, " ")), what)
}

func parseAutoRenew(args []string) (Command, error) {
	ids, rest, err := takeIDs(args, "`autorenew` needs instance IDs, then `on`, `off` or `never`")
	if err != nil {
		return Command{}, err
	}
	if len(rest) == 0 {
		return Command{}, errors.New("`autorenew` needs `on`, `off` or `never` after the instance IDs")
	}
	c := Command{Verb: VerbAutoRenew, InstanceIDs: ids}
	switch strings.ToLower(rest[0]) {
	case "on":
		c.AutoRenew, c.Duration = store.AutoRenewOn, 1
		if len(rest) > 1 {
			d, err := parsePeriod(rest[1:], "auto-renew duration")
			if err != nil {
				return Command{}, err
			}
			if !validAutoRenewMonths(d) {
				return Command{}, fmt.Errorf("an auto-renew duration of %d months is not possible: use 1, 2, 3, 6, 12, 24, 36, 48 or 60 months (`1y`-`5y`)", d)
			}
			c.Duration = d
		}
		return c, nil
	case "off":
		c.AutoRenew = store.AutoRenewOff
	case "never":
		c.AutoRenew = store.AutoRenewNever
	default:
		return Command{}, fmt.Errorf("%q: say `on`, `off` or `never` after the instance IDs", clip(rest[0]))
	}
	if len(rest) > 1 {
		return Command{}, fmt.Errorf("`autorenew … %s` takes nothing after it; got %q", c.AutoRenew, clip(strings.Join(rest[1:], " ")))
	}
	return c, nil
}

func parseHistory(args []string) (Command, error) {
	c := Command{Verb: VerbHistory}
	switch len(args) {
	case 0:
		return c, nil
	case 1:
		a := args[0]
		if strings.HasPrefix(strings.ToLower(a), "i-") {
			id := strings.ToLower(a)
			if !ecs.IsInstanceID(id) {
				return Command{}, notInstanceID(a)
			}
			c.InstanceIDs = []string{id}
			return c, nil
		}
		if requestIDRe.MatchString(a) {
			c.RequestID = store.RequestID(a)
			return c, nil
		}
		return Command{}, fmt.Errorf("%q is neither an instance ID (`i-…`) nor a request ID (`R…`)", clip(a))
	}
	return Command{}, errors.New("`history` takes at most one instance ID or request ID")
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

func isLetters(s string) bool {
	return s != "" && strings.Trim(strings.ToLower(s), "abcdefghijklmnopqrstuvwxyz") == ""
}

// clip shortens user input quoted back in an error.
func clip(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	return string(r[:max]) + "…"
}
