package renewal

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/renewbot/renewbot/ecs"
)

// The parsers below are the only ones for periods and windows: slash commands and CLI flags
// share them. They are pure and say in their error what is expected.

// Window bounds: lists and digests look ahead at least an hour and at most a year.
const (
	MinWindow = time.Hour
	MaxWindow = 365 * 24 * time.Hour
)

var numUnitRe = regexp.MustCompile(`^([0-9]{1,4}) ?([a-z]*)$`)

// ParsePeriod reads a renewal period, N, Nm, Ny, "N months" or "N years", into months that
// RenewInstance accepts (1-9 or 12).
func ParsePeriod(s string) (int, error) {
	m, err := parseMonths(s, "renewal period")
	if err != nil {
		return 0, err
	}
	if !ecs.ValidRenewalPeriod(m) {
		return 0, fmt.Errorf("a renewal period of %d months is not possible: Alibaba renews for 1 to 9 months or 12 months (1y) at a time", m)
	}
	return m, nil
}

// ParseAutoRenewDuration reads the length of one automatic renewal like ParsePeriod, into
// months that ModifyInstanceAutoRenewAttribute accepts.
func ParseAutoRenewDuration(s string) (int, error) {
	m, err := parseMonths(s, "auto-renew duration")
	if err != nil {
		return 0, err
	}
	if !ecs.ValidAutoRenewDuration(m) {
		return 0, fmt.Errorf("an auto-renew duration of %d months is not possible: use %s months (1y-5y)", m, ecs.AutoRenewDurationsText())
	}
	return m, nil
}

// ParseAlignDay reads the day of the month to renew to (the unified expiration day,
// RenewInstance's ExpectedRenewDay): a number from 1 to 28.
func ParseAlignDay(s string) (int, error) {
	s = strings.TrimSpace(s)
	n, err := strconv.Atoi(s)
	if err != nil || len(s) > 2 || strings.Trim(s, "0123456789") != "" || !ecs.ValidAlignDay(n) {
		return 0, fmt.Errorf("%q is not a day to renew to: give a day of the month from 1 to 28 (the same day every month, so 29-31 are not possible), e.g. 15", clip(s))
	}
	return n, nil
}

func parseMonths(s, what string) (int, error) {
	m := numUnitRe.FindStringSubmatch(strings.ToLower(strings.TrimSpace(s)))
	if m != nil {
		n, _ := strconv.Atoi(m[1]) // at most 4 digits
		switch m[2] {
		case "", "m", "mo", "mon", "month", "months":
			return n, nil
		case "y", "yr", "year", "years":
			return n * 12, nil
		}
	}
	return 0, fmt.Errorf("%q is not a %s; use months or years such as 3, 3m or 1y", clip(s), what)
}

// ParseWindow reads how far ahead to look: Nd, Nw, Nh (or a bare N, days), or a Go duration
// such as 720h or 36h30m; from 1h to 365d.
func ParseWindow(s string) (time.Duration, error) {
	notWindow := fmt.Errorf("%q is not a window like 30d, 2w or 720h", clip(s))
	w, ok := time.Duration(0), false
	if m := numUnitRe.FindStringSubmatch(strings.ToLower(strings.TrimSpace(s))); m != nil {
		n, _ := strconv.Atoi(m[1]) // at most 4 digits
		unit := map[string]time.Duration{"": day, "d": day, "day": day, "days": day,
			"w": 7 * day, "wk": 7 * day, "week": 7 * day, "weeks": 7 * day,
			"h": time.Hour, "hr": time.Hour, "hour": time.Hour, "hours": time.Hour}[m[2]]
		w, ok = time.Duration(n)*unit, unit > 0
	}
	if !ok {
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, notWindow
		}
		w = d
	}
	switch {
	case w <= 0:
		return 0, fmt.Errorf("the window %q must be longer than zero", clip(s))
	case w < MinWindow:
		return 0, fmt.Errorf("the window %q is too short: at least 1h", clip(s))
	case w > MaxWindow:
		return 0, fmt.Errorf("the window %q is too long: at most 365d", clip(s))
	}
	return w, nil
}

const day = 24 * time.Hour

// FormatWindow writes a window the way ParseWindow reads it.
func FormatWindow(w time.Duration) string {
	if w%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", w/(24*time.Hour))
	}
	return fmt.Sprintf("%dh", w/time.Hour)
}

// clip shortens user input quoted back in an error.
func clip(s string) string {
	const max = 40
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	return string(r[:max]) + "…"
}
