package renewal

import (
	"fmt"
	"time"

	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/store"
)

// term is what a renewal buys: months calendar months, or up to day, the unified expiration
// day (统一到期日, RenewInstance's ExpectedRenewDay 1-28) instead of a period. Exactly one is
// set. A request that aligns expiries is a renewal whose term has a day; everything else
// about it (approval, policy, lock, ClientToken, re-read, verification) is the renewal's.
type term struct{ months, day int }

func termOf(r *store.Request) term { return term{months: r.Months, day: r.ExpectedRenewDay} }

// expiry is the expiry after renewing an instance that expires at cur (the one definition
// of each is in ecs).
func (t term) expiry(cur time.Time) time.Time {
	if t.day != 0 {
		return ecs.AlignedExpiry(cur, t.day)
	}
	return ecs.AddMonths(cur, t.months)
}

// reached reports whether the expiry seen after the paid call shows the renewal whose new
// expiry is want. A renewal for months counts at or after want (an automatic renewal may
// have added more); an alignment only at want exactly: anything else is left to the sweep
// and, at worst, to an approver.
func (t term) reached(seen, want time.Time) bool {
	if seen.IsZero() {
		return false
	}
	if t.day != 0 {
		return seen.Equal(want)
	}
	return !seen.Before(want)
}

// input is the paid call for one instance.
func (t term) input(id, region, token string) ecs.RenewInput {
	return ecs.RenewInput{InstanceID: id, RegionID: region, Months: t.months, ExpectedRenewDay: t.day, ClientToken: token}
}

// String says the term in a sentence: "for 3 month(s)", "to day 15 of the month".
func (t term) String() string {
	if t.day != 0 {
		return fmt.Sprintf("to day %d of the month", t.day)
	}
	return fmt.Sprintf("for %d month(s)", t.months)
}

// again is the slash command that asks for the same renewal of id.
func (t term) again(id string) string {
	if t.day != 0 {
		return fmt.Sprintf("/renew align %s %d", id, t.day)
	}
	return fmt.Sprintf("/renew %s %d", id, t.months)
}

// monthsSpanned is how many calendar months a renewal from cur to next runs, rounded up:
// what an alignment counts against Policy.MaxMonths.
func monthsSpanned(cur, next time.Time) int {
	cur = cur.In(ecs.UTC8) // calendar months of Alibaba's expiration dates
	n := 0
	for ecs.AddMonths(cur, n).Before(next) {
		n++
	}
	return n
}
