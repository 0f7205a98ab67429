package renewal

import (
	"fmt"
	"time"
)

// Times shown to people (CLI, Slack, history) are in RENEWBOT_TIMEZONE with the UTC offset
// spelled out: "2026-12-04 00:00 UTC+8". Zone abbreviations are not used: "CST" is China,
// Cuba and the US Central zone alike.

// FormatTime is t in loc with its offset: "2026-12-04 00:00 UTC+8", "2026-07-01 09:00 UTC-5",
// "2026-12-04 05:30 UTC+5:30", "2026-12-03 16:00 UTC". A zero time is "unknown"; a nil loc is UTC.
func FormatTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "unknown"
	}
	t = in(t, loc)
	return t.Format("2006-01-02 15:04") + " " + Offset(t)
}

// FormatDate is the day of t in loc: "2026-12-04". A zero time is "?".
func FormatDate(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "?"
	}
	return in(t, loc).Format("2006-01-02")
}

// Offset is the UTC offset of t's zone at t: "UTC", "UTC+8", "UTC-5", "UTC+5:30".
func Offset(t time.Time) string {
	_, off := t.Zone()
	if off == 0 {
		return "UTC"
	}
	sign := "+"
	if off < 0 {
		sign, off = "-", -off
	}
	h, m := off/3600, off%3600/60
	if m == 0 {
		return fmt.Sprintf("UTC%s%d", sign, h)
	}
	return fmt.Sprintf("UTC%s%d:%02d", sign, h, m)
}

func in(t time.Time, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc)
}
