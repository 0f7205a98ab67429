package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/renewbot/renewbot/bot"
	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/store"
)

// ecsSettings are the Alibaba Cloud settings every ECS-facing command shares.
type ecsSettings struct {
	Regions         []string
	Endpoint        string
	AccessKeyID     string
	AccessKeySecret string
	SecurityToken   string
	Accounts        accountSettings // RENEWBOT_ACCOUNTS and the STS, BSS and CA settings (accounts.go)
}

func (c *ecsSettings) table() []setting {
	return append([]setting{
		{flag: "regions", env: "RENEWBOT_REGIONS", usage: "comma list of regions to scan (empty: every region from DescribeRegions)",
			parse: func(s string) (err error) { c.Regions, err = parseRegions(s); return }},
		{flag: "ecs-endpoint", env: "RENEWBOT_ECS_ENDPOINT", usage: "send every ECS call to this endpoint (ecssim, a VPC endpoint); empty: Alibaba's public endpoints",
			parse: func(s string) (err error) { c.Endpoint, err = parseEndpoint(s); return }},
		{env: "ALIBABA_CLOUD_ACCESS_KEY_ID", secret: true, usage: "AccessKey ID; unset: the SDK's default credential chain (profile, ECS RAM role)",
			parse: func(s string) error { c.AccessKeyID = s; return nil }},
		{env: "ALIBABA_CLOUD_ACCESS_KEY_SECRET", secret: true, usage: "AccessKey secret, with ALIBABA_CLOUD_ACCESS_KEY_ID",
			parse: func(s string) error {
				c.AccessKeySecret = s
				if (s == "") != (c.AccessKeyID == "") {
					return errors.New("set both ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, or neither")
				}
				return nil
			}},
		{env: "ALIBABA_CLOUD_SECURITY_TOKEN", secret: true, usage: "optional STS security token with the AccessKey pair",
			parse: func(s string) error { c.SecurityToken = s; return nil }},
	}, c.Accounts.table()...)
}

// timezoneSetting is RENEWBOT_TIMEZONE: the digest schedule and day, and printed times.
// formatSetting is the --format of the commands that print tables: table, json or csv.
func formatSetting(env string, format *string) setting {
	return setting{flag: "format", env: env, def: "table", usage: "table, json or csv",
		parse: func(s string) error {
			if s != "table" && s != "json" && s != "csv" {
				return errors.New("is not one of table, json, csv")
			}
			*format = s
			return nil
		}}
}

func timezoneSetting(loc **time.Location) setting {
	return setting{flag: "timezone", env: "RENEWBOT_TIMEZONE", def: "Asia/Shanghai", usage: "time zone for schedules and printed times",
		parse: func(s string) (err error) { *loc, err = parseLocation(s); return }}
}

// cliLogger logs warnings and errors of the CLI to stderr.
func cliLogger(e env) *slog.Logger { return newLogger(e.stderr, slog.LevelWarn) }

// ---- expiring

type expiringConfig struct {
	ECS    ecsSettings
	Within time.Duration
	Format string
	Loc    *time.Location
}

func newExpiringSettings(c *expiringConfig) *settings {
	t := append(c.ECS.table(),
		setting{flag: "within", env: "RENEWBOT_WINDOW", def: "30d", usage: "list instances expiring within this window (30d, 720h); already expired ones are listed too",
			parse: func(s string) (err error) { c.Within, err = renewal.ParseWindow(s); return }},
		formatSetting("RENEWBOT_FORMAT", &c.Format),
		timezoneSetting(&c.Loc),
	)
	return newSettings("expiring", t)
}

func runExpiring(ctx context.Context, e env, args []string) error {
	var c expiringConfig
	if err := newExpiringSettings(&c).parseNoArgs(args, e.getenv); err != nil {
		return err
	}
	accts, _, err := c.ECS.clients(cliLogger(e), nil)
	if err != nil {
		return err
	}
	now := clockOf(e)()
	scan, err := accts.Expiring(ctx, now.Add(-ecs.ReleaseGrace), now.Add(c.Within))
	if err != nil {
		return err
	}
	if err := printInstances(e.stdout, c.Format, scan.Instances, now, c.Loc); err != nil {
		return err
	}
	if len(scan.Failed) > 0 {
		for _, f := range scan.Failed {
			where := f.RegionID
			if f.Account != "" {
				where = f.Account + ":" + where // many accounts: name the account
			}
			fmt.Fprintf(e.stderr, "region %s could not be read: %v\n", where, f.Err)
		}
		return fmt.Errorf("%d region(s) could not be read; the list above is incomplete: %w", len(scan.Failed), errPartial)
	}
	return nil
}

// instanceRow is one instance as the CLI prints it (also the JSON shape).
type instanceRow struct {
	InstanceID        string    `json:"instance_id"`
	Name              string    `json:"name"`
	RegionID          string    `json:"region_id"`
	Status            string    `json:"status"`
	ExpiredTime       time.Time `json:"expired_time"`
	DaysLeft          int       `json:"days_left"`
	AutoRenew         string    `json:"auto_renew"`
	AutoRenewDuration int       `json:"auto_renew_duration,omitempty"`
}

func rowOf(in ecs.Instance, now time.Time) instanceRow {
	return instanceRow{
		InstanceID: in.ID, Name: in.Name, RegionID: in.RegionID, Status: in.Status,
		ExpiredTime: in.ExpiredTime, DaysLeft: renewal.DaysLeft(in.ExpiredTime, now),
		AutoRenew: string(in.AutoRenew.Status), AutoRenewDuration: in.AutoRenew.Duration,
	}
}

// printInstances prints a scan's instances, one at a time: a table, JSON or CSV of 200,000
// rows is written without a copy of them.
func printInstances(out io.Writer, format string, insts []ecs.Instance, now time.Time, loc *time.Location) error {
	switch format {
	case "json":
		return writeJSONList(out, len(insts), func(i int) any { return rowOf(insts[i], now) })
	case "csv":
		bw := bufio.NewWriter(out)
		cw := csv.NewWriter(bw)
		_ = cw.Write([]string{"instance_id", "name", "region_id", "status", "expired_time", "days_left", "auto_renew", "auto_renew_duration"})
		for _, in := range insts {
			r := rowOf(in, now)
			_ = cw.Write([]string{r.InstanceID, r.Name, r.RegionID, r.Status, r.ExpiredTime.UTC().Format(time.RFC3339),
				strconv.Itoa(r.DaysLeft), r.AutoRenew, strconv.Itoa(r.AutoRenewDuration)})
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
		return bw.Flush()
	}
	return writeTable(out, []string{"INSTANCE", "NAME", "REGION", "STATUS", "EXPIRES", "DAYS LEFT", "AUTO-RENEW"}, len(insts),
		func(i int, cells []string) []string {
			r := rowOf(insts[i], now)
			return append(cells, r.InstanceID, r.Name, r.RegionID, r.Status, renewal.FormatTime(r.ExpiredTime, loc),
				strconv.Itoa(r.DaysLeft), renewal.AutoRenewText(ecs.RenewalStatus(r.AutoRenew), r.AutoRenewDuration))
		}, "(none)")
}

// ---- quote and renew

type quoteConfig struct {
	ECS    ecsSettings
	Period int
	Loc    *time.Location
}

func periodSetting(p *int) setting {
	return setting{flag: "period", env: "RENEWBOT_PERIOD", def: "1", usage: "months: 1 to 9, or 12 (3, 3m, 1y)",
		parse: func(s string) (err error) { *p, err = renewal.ParsePeriod(s); return }}
}

func newQuoteSettings(c *quoteConfig) *settings {
	return newSettings("quote", append(c.ECS.table(), periodSetting(&c.Period), timezoneSetting(&c.Loc)))
}

// oneInstance reads exactly one instance ID argument (ID or ACCOUNT:ID).
func oneInstance(pos []string) (ecs.Ref, error) {
	if len(pos) != 1 {
		return ecs.Ref{}, usageError{fmt.Errorf("give exactly one instance ID (like i-bp1abc), got %d arguments", len(pos))}
	}
	refs, err := parseRefs(pos[0])
	if err != nil {
		return ecs.Ref{}, usageError{err}
	}
	if len(refs) != 1 {
		return ecs.Ref{}, usageError{errors.New("give exactly one instance ID")}
	}
	return refs[0], nil
}

// renewable looks an instance up (in its account, or in every one) and checks that it can be renewed.
func renewable(ctx context.Context, cl *accountCloud, ref ecs.Ref) (ecs.Instance, error) {
	id := ref.ID
	insts, err := cl.LookupRefs(ctx, []ecs.Ref{ref})
	if err != nil {
		return ecs.Instance{}, err
	}
	for _, in := range insts {
		if in.ID == id {
			return in, checkRenewable(in)
		}
	}
	return ecs.Instance{}, fmt.Errorf("%s: %w", id, ecs.ErrNotFound)
}

// checkRenewable refuses an instance that cannot be renewed at all.
func checkRenewable(in ecs.Instance) error {
	if !in.Subscription() {
		return fmt.Errorf("%s is pay-as-you-go (%s); only subscription (PrePaid) instances are renewed", in.ID, in.ChargeType)
	}
	if in.Released() {
		return fmt.Errorf("%s is being released by Alibaba Cloud and can no longer be renewed", in.ID)
	}
	return nil
}

// quoteOne reads the one instance ID of pos, checks that the instance can be renewed, prices
// renewing it for months and prints the quote. quote and renew start with it.
func quoteOne(ctx context.Context, e env, ecsCfg ecsSettings, pos []string, months int, loc *time.Location) (*accountCloud, ecs.Instance, ecs.Quote, error) {
	ref, err := oneInstance(pos)
	if err != nil {
		return nil, ecs.Instance{}, ecs.Quote{}, err
	}
	cl, err := ecsCfg.cloud(cliLogger(e))
	if err != nil {
		return nil, ecs.Instance{}, ecs.Quote{}, err
	}
	in, err := renewable(ctx, cl, ref)
	if err != nil {
		return nil, ecs.Instance{}, ecs.Quote{}, err
	}
	q, err := cl.Quote(ctx, in.RegionID, in.ID, months)
	if err != nil {
		return nil, ecs.Instance{}, ecs.Quote{}, err
	}
	printQuote(e.stdout, in, q, loc)
	return cl, in, q, nil
}

func runQuote(ctx context.Context, e env, args []string) error {
	var c quoteConfig
	pos, err := newQuoteSettings(&c).parse(args, e.getenv)
	if err != nil {
		return err
	}
	_, _, _, err = quoteOne(ctx, e, c.ECS, pos, c.Period, c.Loc)
	return err
}

// printQuote prints the price of renewing in for q.Months, or to day q.ExpectedRenewDay, and
// its expiry before and after.
func printQuote(w io.Writer, in ecs.Instance, q ecs.Quote, loc *time.Location) {
	what, next := fmt.Sprintf("renew for %d month(s)", q.Months), ecs.AddMonths(in.ExpiredTime, q.Months)
	if q.ExpectedRenewDay != 0 {
		what, next = fmt.Sprintf("renew to day %d of the month", q.ExpectedRenewDay), ecs.AlignedExpiry(in.ExpiredTime, q.ExpectedRenewDay)
	}
	fmt.Fprintf(w, "%s (%s, %s): %s: %s", in.ID, in.Name, in.RegionID, what, renewal.Money(q.Trade, q.Currency))
	if q.Discount > 0 {
		fmt.Fprintf(w, " (list %s, discount %s)", renewal.Money(q.Original, q.Currency), renewal.Money(q.Discount, q.Currency))
	}
	fmt.Fprintf(w, "\n  expiry %s → %s\n", renewal.FormatTime(in.ExpiredTime, loc), renewal.FormatTime(next, loc))
}

type renewConfig struct {
	ECS           ecsSettings
	DB            string
	Period        int
	Yes           bool
	VerifyTimeout time.Duration
	Loc           *time.Location
}

func newRenewSettings(c *renewConfig) *settings {
	t := append(c.ECS.table(), periodSetting(&c.Period), dbSetting(&c.DB), yesSetting(&c.Yes), verifyTimeoutSetting(&c.VerifyTimeout),
		timezoneSetting(&c.Loc),
	)
	return newSettings("renew", t)
}

// yesSetting is --yes of the commands that pay. No environment twin on purpose: a variable
// left in a shell must never approve a payment.
func yesSetting(p *bool) setting {
	return boolSetting("yes", "", "do not ask for confirmation (no environment twin on purpose)", p)
}

func verifyTimeoutSetting(p *time.Duration) setting {
	return setting{flag: "verify-timeout", env: "RENEWBOT_VERIFY_TIMEOUT", def: "2m", usage: "how long to wait for the new expiry to show",
		parse: func(s string) (err error) { *p, err = parseDuration(s); return }}
}

func runRenew(ctx context.Context, e env, args []string) error {
	var c renewConfig
	pos, err := newRenewSettings(&c).parse(args, e.getenv)
	if err != nil {
		return err
	}
	cl, in, q, err := quoteOne(ctx, e, c.ECS, pos, c.Period, c.Loc)
	if err != nil {
		return err
	}
	if in.AutoRenew.Status == ecs.NotRenewal {
		fmt.Fprintf(e.stdout, "  note: auto-renew is set to never (NotRenewal); renewing now still extends it.\n")
	}
	if !c.Yes {
		ok, err := confirm(e, fmt.Sprintf("Renew %s for %d month(s) for %s? [y/N] ", in.ID, c.Period, renewal.Money(q.Trade, q.Currency)))
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("not renewed: not confirmed")
		}
	}
	call := operatorCall{Actor: operatorActor(e.getenv), InstanceIDs: []string{in.ID}, Months: c.Period}
	r, runErr, err := runAsOperator(ctx, e, c.DB, "/renew", call, func(wf *renewal.Workflow) (*store.Request, error) {
		return wf.RenewAsOperator(ctx, renewal.OperatorRenewal{Actor: call.Actor, InstanceID: in.ID, Months: c.Period})
	}, cl, c.VerifyTimeout)
	if err != nil {
		return err
	}
	return reportOperatorRun(e, r, runErr, c.Loc)
}

// confirm asks a yes/no question on stdout and reads the answer from stdin.
func confirm(e env, question string) (bool, error) {
	fmt.Fprint(e.stdout, question)
	line, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && (line == "" || !errors.Is(err, io.EOF)) {
		fmt.Fprintln(e.stdout)
		return false, errors.New("not renewed: no answer on standard input (use --yes to skip the question)")
	}
	if !isTerminal(e.stdin) {
		fmt.Fprintln(e.stdout) // the answer was not echoed: end the question's line
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// ---- autorenew

type autoRenewConfig struct {
	ECS             ecsSettings
	DB              string
	On, Off, Never  bool
	Duration        int
	durationChanged bool
	Loc             *time.Location
}

func newAutoRenewSettings(c *autoRenewConfig) *settings {
	t := append(c.ECS.table(), dbSetting(&c.DB),
		boolSetting("on", "", "set: renew automatically (with --duration)", &c.On),
		boolSetting("off", "", "set: renew manually (Normal)", &c.Off),
		boolSetting("never", "", "set: never renew (NotRenewal): released "+ecs.ReleaseAfterExpiry(), &c.Never),
		setting{flag: "duration", env: "RENEWBOT_AUTORENEW_DURATION", usage: "months per automatic renewal with --on: " + ecs.AutoRenewDurationsText() + " (3, 1y; default 1)",
			parse: func(s string) error {
				if s == "" {
					c.Duration = 1
					return nil
				}
				n, err := renewal.ParseAutoRenewDuration(s)
				if err != nil {
					return err
				}
				c.Duration, c.durationChanged = n, true
				return nil
			}},
		timezoneSetting(&c.Loc),
	)
	return newSettings("autorenew", t)
}

func runAutoRenew(ctx context.Context, e env, args []string) error {
	var c autoRenewConfig
	pos, err := newAutoRenewSettings(&c).parse(args, e.getenv)
	if err != nil {
		return err
	}
	if len(pos) != 2 || (pos[0] != "get" && pos[0] != "set") {
		return usageError{errors.New("usage: autorenew get ID,... | autorenew set ID,... --on [--duration N] | --off | --never")}
	}
	refs, err := parseRefs(pos[1])
	if err != nil {
		return usageError{err}
	}
	ids := bareIDs(refs)
	modes := 0
	for _, b := range []bool{c.On, c.Off, c.Never} {
		if b {
			modes++
		}
	}
	var mode store.AutoRenewMode
	duration := 0
	if pos[0] == "get" {
		if modes > 0 || c.durationChanged {
			return usageError{errors.New("--on, --off, --never and --duration go with 'autorenew set'")}
		}
	} else {
		switch {
		case modes != 1:
			return usageError{errors.New("give exactly one of --on, --off, --never")}
		case c.durationChanged && !c.On:
			return usageError{errors.New("--duration goes with --on")}
		case c.On:
			mode, duration = store.AutoRenewOn, c.Duration
		case c.Off:
			mode = store.AutoRenewOff
		default:
			mode = store.AutoRenewNever
		}
	}
	cl, err := c.ECS.cloud(cliLogger(e))
	if err != nil {
		return err
	}
	if _, err := cl.LookupRefs(ctx, refs); err != nil {
		return err // ACCOUNT:ID not in that account, or not found at all
	}
	var setErr error
	if pos[0] == "set" {
		call := operatorCall{Actor: operatorActor(e.getenv), InstanceIDs: ids, Mode: mode, Duration: duration}
		r, runErr, err := runAsOperator(ctx, e, c.DB, "/autorenew", call, func(wf *renewal.Workflow) (*store.Request, error) {
			return wf.AutoRenewAsOperator(ctx, renewal.OperatorAutoRenew{Actor: call.Actor, InstanceIDs: ids, Mode: mode, Duration: duration})
		}, cl, 0)
		if err != nil {
			return err
		}
		if setErr = reportOperatorRun(e, r, runErr, c.Loc); r == nil {
			return fmt.Errorf("%w; nothing changed", setErr)
		}
	}
	insts, err := cl.Lookup(ctx, ids)
	if err != nil {
		return errors.Join(setErr, err)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "INSTANCE\tREGION\tEXPIRES\tAUTO-RENEW")
	for _, in := range insts {
		if !in.Subscription() { // Alibaba reports a far-future expiry and no renewal status
			fmt.Fprintf(tw, "%s\t%s\t-\tpay-as-you-go (%s): nothing to renew\n", in.ID, in.RegionID, in.ChargeType)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", in.ID, in.RegionID, renewal.FormatTime(in.ExpiredTime, c.Loc),
			renewal.AutoRenewText(in.AutoRenew.Status, in.AutoRenew.Duration))
	}
	return errors.Join(setErr, tw.Flush())
}

// ---- digest --dry-run without a store

// fileExists reports whether path names an existing file.
func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// dryRunWithoutStore prints the digest plan when there is no store file yet: nothing is
// snoozed, and the dry run creates nothing.
func dryRunWithoutStore(ctx context.Context, e env, c digestConfig) error {
	log := cliLogger(e)
	accts, specs, err := c.ECS.clients(log, nil)
	if err != nil {
		return err
	}
	dg, err := newDigester(c.Digest, newAccountCloud(accts, specs, c.Digest.RouteTag, c.Digest.Window), noStore{}, nil, log, nil, clockOf(e))
	if err != nil {
		return err
	}
	return printPlan(ctx, e, dg)
}

// printPlan prints the digest's plan as JSON without posting anything (digest --dry-run).
func printPlan(ctx context.Context, e env, dg *bot.Digester) error {
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

// noStore is the digest's store for a dry run without a store file: no snoozes, no writes.
type noStore struct{}

var errNoStore = errors.New("no store: a dry run writes nothing")

func (noStore) BeginDigest(string, string, bool) (store.DigestProgress, bool, error) {
	return store.DigestProgress{}, false, errNoStore
}
func (noStore) DigestStep(string, string, store.DigestProgress) error { return errNoStore }
func (noStore) FinishDigest(string, string, string, int) error        { return errNoStore }
func (noStore) Snoozed(time.Time) (map[string]store.Snooze, error)    { return nil, nil }

// noRequestError is `history R…` of a request that does not exist (exit 1).
type noRequestError struct{ id string }

func (e noRequestError) Error() string { return "no request " + e.id }

// eventRow is an audit event as `history --format json` prints it: snake_case keys, like
// every JSON the CLI prints, and [] for no instances. (The store keeps its own encoding.)
type eventRow struct {
	Seq         uint64    `json:"seq"`
	Time        time.Time `json:"time"`
	Actor       string    `json:"actor"`
	Action      string    `json:"action"`
	RequestID   string    `json:"request_id"`
	InstanceIDs []string  `json:"instance_ids"`
	Detail      string    `json:"detail"`
}

func eventRowOf(ev store.Event) eventRow {
	ids := ev.InstanceIDs
	if ids == nil {
		ids = []string{}
	}
	return eventRow{Seq: ev.Seq, Time: ev.Time, Actor: ev.Actor, Action: string(ev.Action),
		RequestID: string(ev.RequestID), InstanceIDs: ids, Detail: ev.Detail}
}

// printLeftOut says which expiring instances are in no digest, and why.
func printLeftOut(e env, res digestResult) {
	if res.Unrouted > 0 {
		fmt.Fprintf(e.stdout, "left out: %d instance(s) in no digest: no %s tag with a channel ID, and RENEWBOT_DIGEST_CHANNEL is not set\n",
			res.Unrouted, res.RouteTag)
	}
	if res.Snoozed > 0 {
		fmt.Fprintf(e.stdout, "left out: %d instance(s) snoozed from the digest in Slack\n", res.Snoozed)
	}
}
