package ecs_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/renewbot/renewbot/ecs"
)

// Codes that ecssim does not produce but Alibaba documents (ecs-api.md §1.6, §3-§6, §7.5).
func TestErrorCodeTable(t *testing.T) {
	for _, tc := range []struct {
		code   string
		status int
		want   error
	}{
		{"InvalidInstanceId.NotFound", 404, ecs.ErrNotFound},
		{"InvalidParameter.InvalidInstanceId", 403, ecs.ErrNotFound},
		{"ChargeTypeViolation", 403, ecs.ErrPostPaid},
		{"InvalidChargeType.NotSupported", 403, ecs.ErrPostPaid},
		{"InvalidAccountStatus.NotEnoughBalance", 403, ecs.ErrBalance},
		{"InsufficientBalance", 400, ecs.ErrBalance},
		{"Account.Arrearage", 400, ecs.ErrBalance},
		{"InvalidPeriod", 400, ecs.ErrInvalidPeriod},
		{"InvalidPeriod.ExceededMaximumExpirationDate", 400, ecs.ErrInvalidPeriod},
		{"InvalidPeriodUnit.ValueNotSupported", 400, ecs.ErrInvalidPeriod},
		{"InvalidParameter.Duration", 403, ecs.ErrInvalidPeriod},
		{"InvalidPriceUnit.ValueNotSupported", 400, ecs.ErrInvalidPeriod},
		{"Throttling", 400, ecs.ErrThrottled},
		{"Throttling.User", 400, ecs.ErrThrottled},
		{"Throttling.Api", 400, ecs.ErrThrottled},
		{"Forbidden.RAM", 403, ecs.ErrAccessDenied},
		{"Forbidden.AccessKeyDisabled", 403, ecs.ErrAccessDenied},
		{"InvalidAccessKeyId.NotFound", 400, ecs.ErrAccessDenied},
		{"SignatureDoesNotMatch", 400, ecs.ErrAccessDenied},
		{"NoPermission.Price", 400, ecs.ErrAccessDenied},
		{"IdempotenceParamNotMatch", 400, ecs.ErrIdempotence},
		{"IdempotentParameterMismatch", 400, ecs.ErrIdempotence},
		{"InvalidIdempotenceParameter.Mismatch", 403, ecs.ErrIdempotence},
		{"IncorrectInstanceStatus", 403, ecs.ErrIncorrectStatus},
		{"Instance.UnPaidOrder", 403, ecs.ErrIncorrectStatus},
		{"LastTokenProcessing", 403, ecs.ErrIncorrectStatus},
		{"InternalError", 500, ecs.ErrUnavailable},
		{"InternalError", 400, ecs.ErrUnavailable},
		{"ServiceUnavailable", 503, ecs.ErrUnavailable},
		{"", 502, ecs.ErrUnavailable},
		{"MissingParameter", 400, ecs.ErrInvalidParam},
		{"InvalidRegionId.NotFound", 404, ecs.ErrInvalidParam},
	} {
		if got := ecs.KindOf(tc.code, tc.status); !errors.Is(got, tc.want) {
			t.Errorf("%s (%d) -> %v, want %v", tc.code, tc.status, got, tc.want)
		}
	}
}

func TestParseExpiryBothLayouts(t *testing.T) {
	want := time.Date(2026, 12, 9, 16, 0, 0, 0, time.UTC)
	for _, s := range []string{"2026-12-09T16:00Z", "2026-12-09T16:00:00Z"} {
		if got := ecs.ParseExpiry(s); !got.Equal(want) {
			t.Errorf("ParseExpiry(%q) = %v", s, got)
		}
	}
	if got := ecs.ParseExpiry("soon"); !got.IsZero() {
		t.Errorf("ParseExpiry(garbage) = %v, want zero", got)
	}
}

func TestBackoffIsFullJitterUnderTheCap(t *testing.T) {
	p := ecs.RetryPolicy{Attempts: 10, Base: 100 * time.Millisecond, Max: time.Second}
	for n := 1; n <= 40; n++ {
		capd := min(p.Max, p.Base<<min(n-1, 20))
		for range 50 {
			if d := ecs.Backoff(p, n); d < 0 || d > capd {
				t.Fatalf("attempt %d: backoff %v outside [0, %v]", n, d, capd)
			}
		}
	}
}

func TestIsInstanceID(t *testing.T) {
	for id, want := range map[string]bool{
		"i-bp1f2o8bxxxxxxxxxxxx": true, "i-bp1web01": true, "i-ab": true,
		"i-a": false, "i-": false, "i-BP1X": false, "i-bp1_x": false, "bp1web01": false, "d-bp1web01": false,
		"i-" + strings.Repeat("a", 61): false,
	} {
		if got := ecs.IsInstanceID(id); got != want {
			t.Errorf("IsInstanceID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestAddMonthsClampsToTheMonthEnd(t *testing.T) {
	at := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 16, 0, 0, 0, time.UTC) }
	for _, tc := range []struct {
		from   time.Time
		months int
		want   time.Time
	}{
		{at(2026, 11, 30), 1, at(2026, 12, 30)},
		{at(2026, 12, 31), 2, at(2027, 2, 28)},
		{at(2027, 1, 31), 1, at(2027, 2, 28)},
		{at(2027, 1, 31), 13, at(2028, 2, 29)},
		{at(2026, 8, 31), 1, at(2026, 9, 30)},
		{at(2026, 2, 28), 12, at(2027, 2, 28)},
		{at(2026, 3, 15), 9, at(2026, 12, 15)},
	} {
		if got := ecs.AddMonths(tc.from, tc.months); !got.Equal(tc.want) {
			t.Errorf("AddMonths(%s, %d) = %s, want %s", tc.from.Format(time.DateOnly), tc.months, got, tc.want)
		}
	}
}
