package renewal

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/renewbot/renewbot/ecs"
)

// Money writes an amount with its currency's symbol, thousands separated, and its code:
// "¥1,234.50 CNY". An empty currency is CNY, Alibaba China's.
func Money(v float64, currency string) string {
	if currency == "" {
		currency = "CNY"
	}
	sym := map[string]string{"CNY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "HKD": "HK$"}[currency]
	s := strconv.FormatFloat(math.Abs(v), 'f', 2, 64)
	intPart, frac := s[:len(s)-3], s[len(s)-3:]
	var b strings.Builder
	if v < 0 {
		b.WriteByte('-')
	}
	b.WriteString(sym)
	for i, r := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String() + frac + " " + currency
}

// DaysLeft is whole days from now to the expiry, rounded toward zero: 0 within the last day
// and the first day after expiry, negative after that.
func DaysLeft(expiry, now time.Time) int {
	return int(expiry.Sub(now).Hours() / 24)
}

// AutoRenewText is an auto-renew state in plain words: "on (3 month(s))", "off" (manual
// renewal) or "NEVER (released 15 days after expiry)".
func AutoRenewText(status ecs.RenewalStatus, duration int) string {
	switch status {
	case ecs.AutoRenewal:
		return fmt.Sprintf("on (%d month(s))", duration)
	case ecs.Normal:
		return "off"
	case ecs.NotRenewal:
		return "NEVER (released " + ecs.ReleaseAfterExpiry() + ")"
	}
	return string(status)
}
