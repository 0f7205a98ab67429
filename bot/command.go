package bot

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/renewbot/renewbot/bot/renewal"
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
	VerbCancel
	VerbAlign
)

var verbNames = [...]string{"help", "list", "status", "renew", "autorenew", "history", "cancel", "align"}

func (v Verb) String() string {
	if v >= 0 && int(v) < len(verbNames) {
		return verbNames[v]
	}
	return fmt.Sprintf("Verb(%d)", int(v))
}

// Command is a parsed slash command. Only the fields of its Verb are set.
type Command struct {
	Verb        Verb
	InstanceIDs []string            // status, renew, autorenew; history: at most one; align: IDs or ACCOUNT:ID
	Months      int                 // renew: 1-9 or 12, default 1
	Day         int                 // align: the day of the month (1-28) to renew to
	Window      time.Duration       // list: 0 means the configured default
	AutoRenew   store.AutoRenewMode // autorenew
	Duration    int                 // autorenew on: months per automatic renewal, default 1
	RequestID   store.RequestID     // history R…; cancel R… (required)
	Export      bool                // history export: upload the audit log as CSV
	Since       time.Duration       // history export SINCE as a window: events of the last Since; 0: all
	SinceDay    string              // history export SINCE as a date, YYYY-MM-DD (from midnight in the bot's time zone)
}

// String is the canonical text of the command; ParseCommand(c.String()) gives c back.
func (c Command) String() string {
	ids := strings.Join(c.InstanceIDs, ",")
	switch c.Verb {
	case VerbList:
		if c.Window > 0 {
			return "list " + renewal.FormatWindow(c.Window)
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
		case c.Export && c.SinceDay != "":
			return "history export " + c.SinceDay
		case c.Export && c.Since > 0:
			return "history export " + renewal.FormatWindow(c.Since)
		case c.Export:
			return "history export"
		case c.RequestID != "":
			return "history " + string(c.RequestID)
		case ids != "":
			return "history " + ids
		}
		return "history"
	case VerbCancel:
		return "cancel " + string(c.RequestID)
	case VerbAlign:
		return fmt.Sprintf("align %s %d", ids, c.Day)
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
	"• `align ID[,ID...] DAY`: ask to renew to day DAY (`1`-`28`) of the month, so that the instances expire on the same day (统一到期日): " +
	"each runs to the first such day at least a month after its expiry, priced pro rata; expired instances cannot be aligned. `ACCOUNT:ID` picks the account\n" +
	"• `history [ID|REQUEST_ID]`: the audit trail\n" +
	"• `history export [30d|2026-11-01]`: the audit trail as a CSV file in this channel\n" +
	"• `cancel REQUEST_ID`: withdraw a request waiting for approval (its requester or an approver)\n" +
	"IDs look like `i-bp1a2b3c4d5e6f7g8h9i`; at most 20 per command, separated by commas or spaces."

// Parser limits.
const (
	maxCommandIDs    = 20
	maxCommandLength = 4000
)

var requestIDRe = regexp.MustCompile(`^[Rr][A-Za-z0-9]{3,19}$`)

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
	case "cancel":
		return parseCancel(args)
	case "align":
		return parseAlign(args)
	}
	if looksLikeRef(verb) {
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
		w, err := renewal.ParseWindow(args[0])
		if err != nil {
			return Command{}, err
		}
		c.Window = w
		return c, nil
	}
	return Command{}, fmt.Errorf("`list` takes one window such as `7d`; got %q", strings.Join(args, " "))
}

// takeIDs takes the leading instance references of args, IDs or ACCOUNT:ID (IDs lowercased,
// deduplicated), and returns the tokens after them. A token that looks meant as one but is
// not valid is an error, and so is no ID at all (with the message missing, and the tokens).
func takeIDs(args []string, missing string) (ids, rest []string, err error) {
	i := 0
	for ; i < len(args); i++ {
		if !looksLikeRef(args[i]) {
			break
		}
		ref, err := ecs.ParseRef(lowerID(args[i]))
		if err != nil {
			return nil, nil, notInstanceID(args[i])
		}
		if slices.Contains(ids, ref.String()) {
			continue
		}
		if ids = append(ids, ref.String()); len(ids) > maxCommandIDs {
			return nil, nil, fmt.Errorf("too many instances: at most %d per command", maxCommandIDs)
		}
	}
	if len(ids) == 0 {
		return nil, args[i:], errors.New(missing)
	}
	return ids, args[i:], nil
}

// looksLikeRef reports whether tok is meant as an instance reference: "i-…" or "ACCOUNT:i-…".
func looksLikeRef(tok string) bool {
	if _, id, ok := strings.Cut(tok, ":"); ok {
		tok = id
	}
	return strings.HasPrefix(strings.ToLower(tok), "i-")
}

func notInstanceID(s string) error {
	return fmt.Errorf("%q is not an ECS instance ID (`i-` then 6 to 32 lowercase letters or digits, optionally after `ACCOUNT:`)", clip(s))
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
	period, err := periodText(rest, "renewal period")
	if err != nil {
		return Command{}, err
	}
	if c.Months, err = renewal.ParsePeriod(period); err != nil {
		return Command{}, err
	}
	return c, nil
}

// parseAlign reads `align ID[,ID...] DAY`: instance IDs, each optionally ACCOUNT:ID, then
// the day of the month (1-28) to renew them to.
func parseAlign(args []string) (Command, error) {
	const example = "e.g. `align i-bp1a2b3c4d5e6f,i-bp7g8h9i0j1k2l 15`"
	if len(args) < 2 {
		return Command{}, errors.New("`align` needs instance IDs and then the day of the month (1-28) to renew them to, " + example)
	}
	day, err := renewal.ParseAlignDay(args[len(args)-1])
	if err != nil {
		return Command{}, err
	}
	ids, rest, err := takeIDs(args[:len(args)-1], "`align` needs instance IDs before the day, "+example)
	switch {
	case len(rest) > 0 && isDigits(rest[0]):
		return Command{}, fmt.Errorf("`align` takes one day, at the end; got %q before it, %s", clip(rest[0]), example)
	case len(rest) > 0:
		return Command{}, notInstanceID(rest[0])
	case err != nil:
		return Command{}, err
	}
	return Command{Verb: VerbAlign, InstanceIDs: ids, Day: day}, nil
}

// lowerID lowercases the instance ID of "ID" or "ACCOUNT:ID", leaving the account as written.
func lowerID(tok string) string {
	if acct, id, ok := strings.Cut(tok, ":"); ok {
		return acct + ":" + strings.ToLower(id)
	}
	return strings.ToLower(tok)
}

// periodText joins a period given as one token ("3m") or two ("3 months").
func periodText(toks []string, what string) (string, error) {
	if len(toks) == 2 && isDigits(toks[0]) && isLetters(toks[1]) {
		return toks[0] + " " + toks[1], nil
	}
	if len(toks) > 1 {
		return "", fmt.Errorf("unexpected %q after the %s", clip(strings.Join(toks[1:], " ")), what)
	}
	return toks[0], nil
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
			d, err := periodText(rest[1:], "auto-renew duration")
			if err != nil {
				return Command{}, err
			}
			if c.Duration, err = renewal.ParseAutoRenewDuration(d); err != nil {
				return Command{}, err
			}
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
	if len(args) > 0 && strings.EqualFold(args[0], "export") {
		return parseHistoryExport(args[1:])
	}
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
			c.RequestID = store.RequestID(strings.ToUpper(a)) // as cancel reads it: request IDs are upper case
			return c, nil
		}
		return Command{}, fmt.Errorf("%q is neither an instance ID (`i-…`) nor a request ID (`R…`)", clip(a))
	}
	return Command{}, errors.New("`history` takes at most one instance ID or request ID")
}

// parseHistoryExport reads `history export [SINCE]`: SINCE is a window (30d, 2w, 48h) or a
// date (2026-11-01).
func parseHistoryExport(args []string) (Command, error) {
	c := Command{Verb: VerbHistory, Export: true}
	switch len(args) {
	case 0:
		return c, nil
	case 1:
		if d, err := time.Parse(time.DateOnly, args[0]); err == nil {
			c.SinceDay = d.Format(time.DateOnly)
			return c, nil
		}
		w, err := renewal.ParseWindow(args[0])
		if err != nil {
			return Command{}, fmt.Errorf("`history export` takes a window such as `30d` or a date such as `2026-11-01`: %w", err)
		}
		c.Since = w
		return c, nil
	}
	return Command{}, errors.New("`history export` takes at most one window (`30d`) or date (`2026-11-01`)")
}

// parseCancel reads `cancel REQUEST_ID`: exactly one request ID.
func parseCancel(args []string) (Command, error) {
	if len(args) != 1 {
		return Command{}, errors.New("`cancel` takes exactly one request ID, e.g. `cancel R038GKY16JG000`")
	}
	if !requestIDRe.MatchString(args[0]) {
		return Command{}, fmt.Errorf("%q is not a request ID (`R…`)", clip(args[0]))
	}
	return Command{Verb: VerbCancel, RequestID: store.RequestID(strings.ToUpper(args[0]))}, nil
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
