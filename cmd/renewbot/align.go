package main

// renewbot align: renew instances to the unified expiration day (统一到期日), an operator's
// renewal like renewbot renew, through the workflow.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/store"
)

type alignConfig struct {
	ECS           ecsSettings
	DB            string
	Day           int
	Yes           bool
	VerifyTimeout time.Duration
	Loc           *time.Location
}

func newAlignSettings(c *alignConfig) *settings {
	t := append(c.ECS.table(),
		setting{flag: "day", usage: "the day of the month to renew to, 1 to 28 (required)",
			parse: func(s string) (err error) {
				if s == "" {
					return errRequired
				}
				c.Day, err = renewal.ParseAlignDay(s)
				return err
			}},
		dbSetting(&c.DB), yesSetting(&c.Yes), verifyTimeoutSetting(&c.VerifyTimeout), timezoneSetting(&c.Loc),
	)
	return newSettings("align", t)
}

// runAlign prices renewing each instance to --day, asks (unless --yes), then renews them in
// one request through the workflow (on the store file, or through serve's admin socket) and
// reports each verified expiry.
func runAlign(ctx context.Context, e env, args []string) error {
	var c alignConfig
	pos, err := newAlignSettings(&c).parse(args, e.getenv)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{errors.New("usage: align ID[,ID...] --day N (IDs or ACCOUNT:ID, comma separated)")}
	}
	refs, err := parseRefs(pos[0])
	if err != nil {
		return usageError{err}
	}
	cl, err := c.ECS.cloud(cliLogger(e))
	if err != nil {
		return err
	}
	insts, err := cl.LookupRefs(ctx, refs)
	if err != nil {
		return err // ACCOUNT:ID not in that account, or not found at all
	}
	now := clockOf(e)()
	var total float64
	var currency string
	for _, in := range insts {
		if err := checkRenewable(in); err != nil {
			return err
		}
		if !in.ExpiredTime.After(now) {
			return fmt.Errorf("%s expired on %s: Alibaba Cloud renews only unexpired instances to a day of the month; renew it for months first: renewbot renew %s --period 1",
				in.ID, renewal.FormatTime(in.ExpiredTime, c.Loc), in.ID)
		}
		q, err := cl.QuoteAligned(ctx, in.RegionID, in.ID, c.Day)
		if err != nil {
			return err
		}
		if q.Trade <= 0 { // the workflow refuses it too; say so before asking
			return fmt.Errorf("no price from Alibaba Cloud for renewing %s to day %d (%s): nothing is renewed without a positive quote", in.ID, c.Day, renewal.Money(q.Trade, q.Currency))
		}
		printQuote(e.stdout, in, q, c.Loc)
		total, currency = total+q.Trade, q.Currency
	}
	ids := make([]string, len(refs))
	for i, r := range refs {
		ids[i] = r.String()
	}
	if !c.Yes {
		ok, err := confirm(e, fmt.Sprintf("Renew %d instance(s) to day %d of the month for %s? [y/N] ", len(ids), c.Day, renewal.Money(total, currency)))
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("not renewed: not confirmed")
		}
	}
	call := operatorCall{Actor: operatorActor(e.getenv), InstanceIDs: ids, Day: c.Day}
	r, runErr, err := runAsOperator(ctx, e, c.DB, "/align", call, func(wf *renewal.Workflow) (*store.Request, error) {
		return wf.AlignAsOperator(ctx, renewal.OperatorAlign{Actor: call.Actor, InstanceIDs: ids, Day: c.Day})
	}, cl, c.VerifyTimeout)
	if err != nil {
		return err
	}
	return reportOperatorRun(e, r, runErr, c.Loc)
}
