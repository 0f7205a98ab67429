package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/ecs"
)

// ---- forecast: each account's balance against the automatic renewals Alibaba will deduct

type forecastConfig struct {
	ECS    ecsSettings
	Within time.Duration
	Format string
	Loc    *time.Location
}

func newForecastSettings(c *forecastConfig) *settings {
	t := append(c.ECS.table(),
		setting{flag: "within", env: "RENEWBOT_WINDOW", def: "30d", usage: "sum the deductions due within this window (30d, 720h)",
			parse: func(s string) (err error) { c.Within, err = renewal.ParseWindow(s); return }},
		formatSetting("RENEWBOT_FORMAT", &c.Format),
		timezoneSetting(&c.Loc),
	)
	return newSettings("forecast", t)
}

// forecastHorizon is how far ahead a short balance puts deductions at risk: a day until the
// next daily digest, plus the margin.
const forecastHorizon = 24*time.Hour + renewal.DeductionMargin

// forecastResult is a forecast and what could not be read for it.
type forecastResult struct {
	Accounts []renewal.AccountForecast
	Failed   []ecs.RegionError
	PriceErr error
}

// gatherForecast scans every account for the instances whose automatic renewal is due, then
// makes the forecast of that scan (forecastOfScan).
func gatherForecast(ctx context.Context, accts *ecs.Accounts, prices *renewal.PriceCache, now time.Time, window, horizon time.Duration) (forecastResult, error) {
	scan, err := accts.Expiring(ctx, now, renewal.ForecastScanTo(now, window))
	if err != nil {
		return forecastResult{Failed: scan.Failed}, err
	}
	return forecastOfScan(ctx, accts, prices, now, window, horizon, scan), nil
}

// forecastOfScan is the forecast of a scan that reaches renewal.ForecastScanTo(now, window):
// it reads every balance and prices one automatic renewal of each due instance (cached per
// day), all accounts at once and the balances while the prices are asked.
func forecastOfScan(ctx context.Context, accts *ecs.Accounts, prices *renewal.PriceCache, now time.Time, window, horizon time.Duration, scan ecs.Scan) forecastResult {
	balances, balanceErrs := map[string]ecs.Balance{}, map[string]error{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, cl := range accts.Clients() {
		wg.Go(func() {
			b, err := cl.Balance(ctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				balanceErrs[cl.Name()] = err
			} else {
				balances[cl.Name()] = b
			}
		})
	}
	due := renewal.Due(scan.Instances, now, window)
	got, priceErr := prices.Prices(ctx, now, due, func(ctx context.Context, in ecs.Instance, months int) (ecs.Quote, error) {
		cl, err := accts.Client(in.Account)
		if err != nil {
			return ecs.Quote{}, err
		}
		return cl.Quote(ctx, in.RegionID, in.ID, months)
	})
	wg.Wait()
	fc := renewal.Forecast(renewal.ForecastInput{
		Now: now, Window: window, Horizon: horizon, Accounts: accts.Names(),
		Instances: scan.Instances, Balances: balances, BalanceErrs: balanceErrs, Prices: got,
	})
	return forecastResult{Accounts: fc, Failed: scan.Failed, PriceErr: priceErr}
}

func runForecast(ctx context.Context, e env, args []string) error {
	var c forecastConfig
	if err := newForecastSettings(&c).parseNoArgs(args, e.getenv); err != nil {
		return err
	}
	accts, _, err := c.ECS.clients(cliLogger(e), nil)
	if err != nil {
		return err
	}
	res, err := gatherForecast(ctx, accts, &renewal.PriceCache{}, clockOf(e)(), c.Within, forecastHorizon)
	if err != nil {
		return err
	}
	if err := printForecast(e.stdout, c.Format, res.Accounts, c.Within, c.Loc); err != nil {
		return err
	}
	var partial []string
	for _, f := range res.Failed {
		fmt.Fprintf(e.stderr, "region %s could not be read: %v\n", regionName(f), f.Err)
	}
	if len(res.Failed) > 0 {
		partial = append(partial, fmt.Sprintf("%d region(s) could not be read", len(res.Failed)))
	}
	for _, f := range res.Accounts {
		if f.BalanceErr != nil {
			fmt.Fprintf(e.stderr, "the balance of %s could not be read: %v\n", accountName(f.Account), f.BalanceErr)
			partial = append(partial, "the balance of "+accountName(f.Account)+" could not be read")
		}
	}
	if res.PriceErr != nil {
		fmt.Fprintf(e.stderr, "some renewal prices could not be read: %v\n", res.PriceErr)
		partial = append(partial, "some renewal prices could not be read")
	}
	if len(partial) > 0 {
		return fmt.Errorf("%s; the forecast above is incomplete: %w", strings.Join(partial, "; "), errPartial)
	}
	return nil
}

func regionName(f ecs.RegionError) string {
	if f.Account != "" {
		return f.Account + ":" + f.RegionID
	}
	return f.RegionID
}

func accountName(name string) string {
	if name == "" {
		return "the account"
	}
	return "account " + name
}

// forecastAccountRow is one account of the forecast (JSON shape).
type forecastAccountRow struct {
	Account         string  `json:"account"`
	Balance         float64 `json:"balance"`
	Currency        string  `json:"currency"`
	BalanceError    string  `json:"balance_error,omitempty"`
	Deductions9Days float64 `json:"deductions_9_days"`
	DeductionsInWin float64 `json:"deductions_in_window"`
	WindowDays      int     `json:"window_days"`
	Unpriced        int     `json:"unpriced"`
	AtRisk          int     `json:"at_risk"`
	Covered         bool    `json:"covered"`
}

// forecastDeductionRow is one deduction (JSON and CSV shape).
type forecastDeductionRow struct {
	Account       string    `json:"account"`
	InstanceID    string    `json:"instance_id"`
	Name          string    `json:"name"`
	RegionID      string    `json:"region_id"`
	DeductionTime time.Time `json:"deduction_time"`
	ExpiredTime   time.Time `json:"expired_time"`
	Months        int       `json:"months"`
	Amount        float64   `json:"amount"`
	Currency      string    `json:"currency"`
	Priced        bool      `json:"priced"`
	Overdue       bool      `json:"overdue"`
	AtRisk        bool      `json:"at_risk"`
}

func forecastRows(fc []renewal.AccountForecast, window time.Duration) ([]forecastAccountRow, []forecastDeductionRow) {
	accounts := []forecastAccountRow{}
	deductions := []forecastDeductionRow{}
	for _, f := range fc {
		r := forecastAccountRow{Account: f.Account, Balance: f.Balance.Available, Currency: f.Balance.Currency,
			Deductions9Days: f.Next9Days, DeductionsInWin: f.InWindow, WindowDays: int(window.Hours() / 24),
			Unpriced: f.Unpriced, AtRisk: len(f.AtRisk())}
		if f.BalanceErr != nil {
			r.BalanceError = f.BalanceErr.Error()
		} else {
			r.Covered = r.AtRisk == 0 && f.Next9Days <= f.Balance.Available
		}
		accounts = append(accounts, r)
		for _, d := range f.Deductions {
			deductions = append(deductions, forecastDeductionRow{Account: f.Account, InstanceID: d.Instance.ID, Name: d.Instance.Name,
				RegionID: d.Instance.RegionID, DeductionTime: d.At.UTC(), ExpiredTime: d.Instance.ExpiredTime.UTC(), Months: d.Months,
				Amount: d.Amount, Currency: d.Currency, Priced: d.Priced, Overdue: d.Overdue, AtRisk: d.AtRisk})
		}
	}
	return accounts, deductions
}

func printForecast(w io.Writer, format string, fc []renewal.AccountForecast, window time.Duration, loc *time.Location) error {
	accounts, deductions := forecastRows(fc, window)
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Accounts   []forecastAccountRow   `json:"accounts"`
			Deductions []forecastDeductionRow `json:"deductions"`
		}{accounts, deductions})
	case "csv":
		cw := csv.NewWriter(w)
		_ = cw.Write([]string{"account", "instance_id", "name", "region_id", "deduction_time", "expired_time", "months", "amount", "currency", "priced", "overdue", "at_risk"})
		for _, d := range deductions {
			_ = cw.Write([]string{d.Account, d.InstanceID, d.Name, d.RegionID, d.DeductionTime.Format(time.RFC3339), d.ExpiredTime.Format(time.RFC3339),
				strconv.Itoa(d.Months), strconv.FormatFloat(d.Amount, 'f', 2, 64), d.Currency,
				strconv.FormatBool(d.Priced), strconv.FormatBool(d.Overdue), strconv.FormatBool(d.AtRisk)})
		}
		cw.Flush()
		return cw.Error()
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	days := int(window.Hours() / 24)
	fmt.Fprintf(tw, "ACCOUNT\tBALANCE\tNEXT 9 DAYS\tNEXT %d DAYS\tSTATUS\n", days)
	for i, r := range accounts {
		name := r.Account
		if name == "" {
			name = "(default)"
		}
		bal, status := renewal.Money(r.Balance, r.Currency), "covered"
		switch {
		case r.BalanceError != "":
			bal, status = "?", "balance not readable"
		case r.AtRisk > 0:
			status = fmt.Sprintf("SHORT: %d deduction(s) at risk", r.AtRisk)
		case !r.Covered:
			status = "short within 9 days"
		}
		cur := fc[i].Balance.Currency
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", name, bal, renewal.Money(r.Deductions9Days, cur), renewal.Money(r.DeductionsInWin, cur), status)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(deductions) == 0 {
		_, err := fmt.Fprintf(w, "\nNo automatic renewal is due within %d days.\n", days)
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT\tINSTANCE\tNAME\tREGION\tDEDUCTION\tEXPIRES\tRENEWAL\tAMOUNT\t")
	for _, d := range deductions {
		amount := renewal.Money(d.Amount, d.Currency)
		if !d.Priced {
			amount = "?"
		}
		var flags []string
		if d.Overdue {
			flags = append(flags, "OVERDUE (deduction failed, retried daily)")
		}
		if d.AtRisk {
			flags = append(flags, "AT RISK: balance short")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d month(s)\t%s\t%s\n", d.Account, d.InstanceID, d.Name, d.RegionID,
			renewal.FormatTime(d.DeductionTime, loc), renewal.FormatTime(d.ExpiredTime, loc),
			d.Months, amount, strings.Join(flags, "; "))
	}
	return tw.Flush()
}

// clockOf is a command's clock: e.now when it has one (the demo runs on the emulator's),
// else time.Now.
func clockOf(e env) func() time.Time {
	if e.now != nil {
		return e.now
	}
	return time.Now
}
