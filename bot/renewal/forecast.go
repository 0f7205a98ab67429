package renewal

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/store"
)

// The balance forecast: Alibaba charges each AutoRenewal instance's automatic renewal 9 days
// before its expiry at 08:00 UTC+8 (ecs.DeductionTime) and, when the balance is short,
// retries daily until the instance expires and stops. Nobody is told in advance. The
// forecast compares each account's balance with the deductions to come.

// DeductionMargin is added to the time until the next digest to decide what is at risk: a
// deduction due before the digest after next can still be covered if the warning comes now.
const DeductionMargin = 2 * 24 * time.Hour

// ForecastScanTo is the end of the expiring scan a forecast of window needs: a deduction due
// before now+window (ecs.DeductionTime: 9 days before the expiry, 08:00 UTC+8) is the
// automatic renewal of an expiry up to 10 days after now+window. The digest scans this far
// once and takes its own rows (up to now+window) and the forecast from that one scan.
func ForecastScanTo(now time.Time, window time.Duration) time.Time {
	return now.Add(forecastReach(window) + 10*24*time.Hour)
}

// NextDays is the near sum every forecast has (AccountForecast.Next9Days), whatever its
// window: the deductions of the next 9 days.
const NextDays = 9 * 24 * time.Hour

// forecastReach is how far ahead a forecast of window lists deductions: the window, and at
// least NextDays, so that Next9Days is whole with a shorter window.
func forecastReach(window time.Duration) time.Duration { return max(window, NextDays) }

// Deduction is one automatic renewal Alibaba will charge (or failed to charge).
type Deduction struct {
	Instance ecs.Instance
	At       time.Time // ecs.DeductionTime of the expiry
	Months   int       // one automatic renewal
	Amount   float64   // its price (DescribeRenewalPrice); 0 when Priced is false
	Currency string
	Priced   bool
	Overdue  bool // At has passed and the expiry has not moved: the deduction failed, Alibaba retries daily
	AtRisk   bool // due before the horizon, and the balance does not cover it after the earlier ones
}

// AccountForecast is one account's balance against its deductions to come.
type AccountForecast struct {
	Account    string
	Balance    ecs.Balance
	BalanceErr error // the balance could not be read: nothing is marked at risk, the error is shown
	Next9Days  float64
	InWindow   float64
	Deductions []Deduction // in the order Alibaba takes them: overdue first, then by time
	Unpriced   int         // deductions whose price could not be read (not in the sums)
}

// AtRisk lists the account's deductions at risk.
func (f AccountForecast) AtRisk() []Deduction {
	var out []Deduction
	for _, d := range f.Deductions {
		if d.AtRisk {
			out = append(out, d)
		}
	}
	return out
}

// ForecastInput is everything the forecast is computed from.
type ForecastInput struct {
	Now      time.Time
	Window   time.Duration // deductions due within this window are summed in InWindow (listed: at least NextDays)
	Horizon  time.Duration // deductions due within this are at risk when the balance is short (next digest + DeductionMargin)
	Accounts []string      // every account, in order, even one without instances
	// Instances are the scanned instances (any account, any renewal status); only
	// AutoRenewal ones whose deduction falls before Now+Window, or has passed while the
	// instance has not expired, are deductions.
	Instances   []ecs.Instance
	Balances    map[string]ecs.Balance // by account
	BalanceErrs map[string]error       // by account
	Prices      map[PriceKey]ecs.Quote // one automatic renewal of each instance
}

// PriceKey names the price of one automatic renewal.
type PriceKey struct {
	Account, InstanceID string
	Months              int
}

// AutoRenewMonths is the length of one automatic renewal in months; 0 when it cannot be
// priced in months (Week).
func AutoRenewMonths(a ecs.AutoRenew) int {
	d := max(a.Duration, 1)
	switch a.PeriodUnit {
	case "", "Month":
		return d
	case "Year":
		return 12 * d
	}
	return 0
}

// Due lists the AutoRenewal instances whose deduction is due before now+window (at least
// NextDays), or has passed while the instance has not yet expired: the instances the
// forecast needs priced.
func Due(insts []ecs.Instance, now time.Time, window time.Duration) []ecs.Instance {
	var out []ecs.Instance
	end := now.Add(forecastReach(window))
	for _, in := range insts {
		if in.AutoRenew.Status != ecs.AutoRenewal || in.Released() || !in.ExpiredTime.After(now) {
			continue
		}
		if ecs.DeductionTime(in.ExpiredTime).Before(end) {
			out = append(out, in)
		}
	}
	return out
}

// Forecast computes every account's forecast. It is pure.
func Forecast(in ForecastInput) []AccountForecast {
	byAccount := map[string]*AccountForecast{}
	var out []*AccountForecast
	get := func(name string) *AccountForecast {
		f, ok := byAccount[name]
		if !ok {
			f = &AccountForecast{Account: name, Balance: in.Balances[name], BalanceErr: in.BalanceErrs[name]}
			byAccount[name] = f
			out = append(out, f)
		}
		return f
	}
	for _, name := range in.Accounts {
		get(name)
	}
	for _, inst := range Due(in.Instances, in.Now, in.Window) {
		f := get(inst.Account)
		d := Deduction{Instance: inst, At: ecs.DeductionTime(inst.ExpiredTime), Months: AutoRenewMonths(inst.AutoRenew)}
		d.Overdue = !d.At.After(in.Now)
		if q, ok := in.Prices[PriceKey{inst.Account, inst.ID, d.Months}]; ok && d.Months > 0 {
			d.Amount, d.Currency, d.Priced = q.Trade, q.Currency, true
		} else {
			f.Unpriced++
		}
		f.Deductions = append(f.Deductions, d)
	}
	horizon := in.Now.Add(in.Horizon)
	var res []AccountForecast
	for _, f := range out {
		slices.SortFunc(f.Deductions, func(a, b Deduction) int {
			return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.Instance.ID, b.Instance.ID))
		})
		var cum float64
		for i := range f.Deductions {
			d := &f.Deductions[i]
			if !d.Priced {
				continue
			}
			if d.At.Before(in.Now.Add(NextDays)) {
				f.Next9Days += d.Amount
			}
			if d.At.Before(in.Now.Add(in.Window)) {
				f.InWindow += d.Amount
			}
			cum += d.Amount
			// Deductions are taken in time order: the earliest are covered first.
			if f.BalanceErr == nil && d.At.Before(horizon) && cum > f.Balance.Available+1e-9 {
				d.AtRisk = true
			}
		}
		f.Next9Days, f.InWindow = round2(f.Next9Days), round2(f.InWindow)
		res = append(res, *f)
	}
	return res
}

func round2(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }

// PriceCache prices one automatic renewal of each instance, once per day (UTC+8, Alibaba's
// billing day): renewal prices change rarely, and a digest or a forecast asks for every
// AutoRenewal instance. Safe for concurrent use: a forecast that needs a price another one
// is asking for waits for that answer instead of asking again (the digest's forecast, the
// Home tab's and an approval card's can overlap).
type PriceCache struct {
	mu     sync.Mutex
	day    string
	cache  map[PriceKey]ecs.Quote
	asking map[PriceKey]*pricing // asked today, not answered yet
}

// pricing is one price being asked; done is closed when q and err are set.
type pricing struct {
	done chan struct{}
	q    ecs.Quote
	err  error
}

// Prices returns the price of one automatic renewal of every instance due, asking quote
// for those not asked today (in parallel; quote is the account's client's Quote). Those
// that fail are left out, with the joined error. A price another call is asking for is
// waited for; if that ask fails (its caller's deadline, say), it is asked again here.
func (p *PriceCache) Prices(ctx context.Context, now time.Time, due []ecs.Instance,
	quote func(ctx context.Context, in ecs.Instance, months int) (ecs.Quote, error)) (map[PriceKey]ecs.Quote, error) {
	day := now.In(ecs.UTC8).Format(time.DateOnly)
	type want struct {
		in  ecs.Instance
		k   PriceKey
		pr  *pricing
		own bool // this call asks; else it waits for pr
	}
	out := map[PriceKey]ecs.Quote{}
	var wants []want
	p.mu.Lock()
	if p.day != day {
		p.day, p.cache, p.asking = day, map[PriceKey]ecs.Quote{}, map[PriceKey]*pricing{}
	}
	for _, in := range due {
		k := PriceKey{in.Account, in.ID, AutoRenewMonths(in.AutoRenew)}
		if k.Months == 0 {
			continue
		}
		if q, ok := p.cache[k]; ok {
			out[k] = q
			continue
		}
		if pr, ok := p.asking[k]; ok {
			wants = append(wants, want{in, k, pr, false})
			continue
		}
		pr := &pricing{done: make(chan struct{})}
		p.asking[k] = pr
		wants = append(wants, want{in, k, pr, true})
	}
	p.mu.Unlock()
	ask := func(in ecs.Instance, months int) (ecs.Quote, error) {
		q, err := quote(ctx, in, months)
		if err == nil && q.Trade <= 0 {
			err = fmt.Errorf("%s: a zero price for %d months", in.ID, months)
		}
		return q, err
	}
	type got struct {
		q   ecs.Quote
		err error
	}
	results := make([]got, len(wants))
	var wg sync.WaitGroup
	for i, w := range wants {
		wg.Go(func() {
			if w.own {
				q, err := ask(w.in, w.k.Months)
				p.settle(day, w.k, w.pr, q, err)
				results[i] = got{q, err}
				return
			}
			select {
			case <-w.pr.done:
			case <-ctx.Done():
				results[i] = got{err: fmt.Errorf("%s: %w", w.in.ID, ctx.Err())}
				return
			}
			if w.pr.err == nil {
				results[i] = got{w.pr.q, nil}
				return
			}
			q, err := ask(w.in, w.k.Months)
			p.settle(day, w.k, nil, q, err)
			results[i] = got{q, err}
		})
	}
	wg.Wait()
	var errs []error
	for i, r := range results {
		if r.err != nil {
			errs = append(errs, r.err)
			continue
		}
		out[wants[i].k] = r.q
	}
	return out, joinErrs(errs)
}

// settle records the answer to k asked on day: in the cache when it is a price and the day
// has not turned, and to those waiting for pr (nil: nobody waits).
func (p *PriceCache) settle(day string, k PriceKey, pr *pricing, q ecs.Quote, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pr != nil {
		pr.q, pr.err = q, err
		close(pr.done)
		if p.asking[k] == pr {
			delete(p.asking, k)
		}
	}
	if err == nil && p.day == day {
		p.cache[k] = q
	}
}

func joinErrs(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return fmt.Errorf("%w (and %d more)", errs[0], len(errs)-1)
}

// BalanceReader reads an account's balance and the automatic renewals due from it within 9
// days. A Cloud that has one lets the approval card show the balance after the renewal.
type BalanceReader interface {
	AccountBalance(ctx context.Context, account string) (store.AccountBalance, error)
}

// balances notes the balance of every account of a renewal request. It never stops the
// request: an account whose balance cannot be read is noted with the error.
func (w *Workflow) balances(ctx context.Context, r *store.Request) []store.AccountBalance {
	br, ok := w.cloud.(BalanceReader)
	if !ok {
		return nil
	}
	accounts := r.Accounts()
	if len(accounts) == 0 {
		accounts = []string{""}
	}
	out := make([]store.AccountBalance, len(accounts))
	var wg sync.WaitGroup
	for i, a := range accounts {
		wg.Go(func() {
			b, err := br.AccountBalance(ctx, a)
			if err != nil {
				b = store.AccountBalance{Account: a, Err: err.Error()}
			}
			b.Account = a
			out[i] = b
		})
	}
	wg.Wait()
	return out
}
