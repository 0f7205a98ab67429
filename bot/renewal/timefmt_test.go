package renewal

import (
	"testing"
	"time"
)

// TestFormatTime: every zone prints its offset, never an abbreviation ("CST" is Shanghai and
// Chicago alike).
func TestFormatTime(t *testing.T) {
	load := func(name string) *time.Location {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		return loc
	}
	at := time.Date(2026, 12, 3, 16, 0, 0, 0, time.UTC)
	summer := time.Date(2026, 7, 1, 14, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		got, want string
	}{
		{FormatTime(at, load("Asia/Shanghai")), "2026-12-04 00:00 UTC+8"},
		{FormatTime(at, load("America/Chicago")), "2026-12-03 10:00 UTC-6"},
		{FormatTime(summer, load("America/Chicago")), "2026-07-01 09:00 UTC-5"},
		{FormatTime(at, load("Asia/Kolkata")), "2026-12-03 21:30 UTC+5:30"},
		{FormatTime(at, time.UTC), "2026-12-03 16:00 UTC"},
		{FormatTime(at, nil), "2026-12-03 16:00 UTC"},
		{FormatTime(time.Time{}, time.UTC), "unknown"},
		{FormatDate(at, load("Asia/Shanghai")), "2026-12-04"},
		{FormatDate(at, load("America/Chicago")), "2026-12-03"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
