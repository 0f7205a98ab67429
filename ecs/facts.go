package ecs

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Alibaba Cloud's renewal rules. Each is defined here once; parsers, checks and messages in
// the bot and the CLI call these.

// ChargePrePaid is the InstanceChargeType of a subscription (包年包月) instance.
const ChargePrePaid = "PrePaid"

// UTC8 is the time zone of Alibaba Cloud's expiry and deduction rules (China Standard Time).
var UTC8 = time.FixedZone("UTC+8", 8*3600)

// ReleaseGrace is how long an expired subscription instance is kept (stopped) before Alibaba
// releases it with its data; until then it can still be renewed.
const ReleaseGrace = 15 * 24 * time.Hour

// ReleaseAfterExpiry is ReleaseGrace in words, the one wording of what NotRenewal means for
// every message: "15 days after expiry".
func ReleaseAfterExpiry() string {
	return fmt.Sprintf("%d days after expiry", ReleaseGrace/(24*time.Hour))
}

// regionIDShape is the shape of an Alibaba Cloud region ID: a lower-case area code, then
// hyphenated lower-case words or numbers (cn-hangzhou, ap-southeast-1, cn-hongkong).
var regionIDShape = regexp.MustCompile(`^[a-z]{2,}(-[a-z0-9]+)+$`)

// ValidRegionID reports whether s looks like an Alibaba Cloud region ID (cn-hangzhou,
// ap-southeast-1); "r1" and "CN-HANGZHOU" do not.
func ValidRegionID(s string) bool { return regionIDShape.MatchString(s) }

// renewalMonths are the Period values RenewInstance accepts with PeriodUnit Month.
var renewalMonths = []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 12}

// autoRenewMonths are the Duration values ModifyInstanceAutoRenewAttribute accepts (months).
var autoRenewMonths = []int{1, 2, 3, 6, 12, 24, 36, 48, 60}

// RenewalPeriods lists the renewal periods RenewInstance accepts, in months.
func RenewalPeriods() []int { return slices.Clone(renewalMonths) }

// AutoRenewDurations lists the durations of one automatic renewal, in months.
func AutoRenewDurations() []int { return slices.Clone(autoRenewMonths) }

// ValidRenewalPeriod reports whether RenewInstance accepts a renewal of m months.
func ValidRenewalPeriod(m int) bool { return slices.Contains(renewalMonths, m) }

// ValidAutoRenewDuration reports whether ModifyInstanceAutoRenewAttribute accepts m months.
func ValidAutoRenewDuration(m int) bool { return slices.Contains(autoRenewMonths, m) }

// RenewalPeriodsText is the valid renewal periods for messages: "1-9 or 12".
const RenewalPeriodsText = "1-9 or 12"

// AutoRenewDurationsText is the valid auto-renew durations for messages.
func AutoRenewDurationsText() string {
	s := make([]string, len(autoRenewMonths))
	for i, m := range autoRenewMonths {
		s[i] = fmt.Sprint(m)
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// DeductionTime is when Alibaba charges the automatic renewal of an AutoRenewal instance:
// 9 days before expiry, at 08:00 UTC+8.
func DeductionTime(expiry time.Time) time.Time {
	e := expiry.In(UTC8)
	return time.Date(e.Year(), e.Month(), e.Day()-9, 8, 0, 0, 0, UTC8)
}

// Subscription reports whether the instance is a subscription (PrePaid) instance, the only
// kind that expires and can be renewed. An unknown charge type (empty) counts as one: scans
// ask for PrePaid instances only.
func (in Instance) Subscription() bool { return in.ChargeType == "" || in.ChargeType == ChargePrePaid }

// Released reports whether Alibaba is taking the instance away: released or deleted, or
// locked for recycling or a refund. It can no longer be renewed.
func (in Instance) Released() bool {
	if in.Status == "Deleted" || in.Status == "Released" {
		return true
	}
	for _, l := range in.LockReasons {
		if strings.EqualFold(l, "recycling") || strings.EqualFold(l, "refunded") {
			return true
		}
	}
	return false
}

// ReleaseTime is about when Alibaba releases the instance if it is not renewed.
func (in Instance) ReleaseTime() time.Time { return in.ExpiredTime.Add(ReleaseGrace) }
