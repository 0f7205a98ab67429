// Package ecs is renewbot's client for the Alibaba Cloud ECS API: the six actions the bot
// needs (DescribeRegions, DescribeInstances, DescribeRenewalPrice, RenewInstance,
// DescribeInstanceAutoRenewAttribute, ModifyInstanceAutoRenewAttribute), on the real
// alibaba-cloud-sdk-go, with retries, typed errors and batched scans and verification.
package ecs

import (
	"context"
	"log/slog"
	"regexp"
	"sync"
	"time"
)

// RenewalStatus is the auto-renew state Alibaba keeps for a subscription instance.
type RenewalStatus string

// The three renewal states of DescribeInstanceAutoRenewAttribute / ModifyInstanceAutoRenewAttribute.
const (
	AutoRenewal RenewalStatus = "AutoRenewal" // renewed automatically, charged 9 days before expiry at 08:00 UTC+8
	Normal      RenewalStatus = "Normal"      // manual renewal, reminders sent
	NotRenewal  RenewalStatus = "NotRenewal"  // will not be renewed, released after expiry
)

// AutoRenew is the auto-renew attribute of one instance.
type AutoRenew struct {
	Status     RenewalStatus
	Duration   int    // length of each automatic renewal
	PeriodUnit string // "Month", "Year" or "Week", as Alibaba returns it (normalised to Title case)
}

// Instance is one ECS instance as the bot sees it.
type Instance struct {
	Account     string // the account's name (Config.Account); "" = the single default account
	ID          string
	Name        string
	RegionID    string
	ZoneID      string
	Type        string // instance type, e.g. ecs.g7.large
	ChargeType  string // "PrePaid" (subscription) or "PostPaid" (pay-as-you-go)
	Status      string // Running, Stopped, ...
	ExpiredTime time.Time
	Tags        Tags
	LockReasons []string  // OperationLocks, e.g. "financial" for an expired subscription
	AutoRenew   AutoRenew // filled for PrePaid instances by Expiring and Lookup
}

// Quote is the price of renewing one instance (DescribeRenewalPrice).
type Quote struct {
	InstanceID string
	RegionID   string
	Months     int
	Original   float64
	Discount   float64
	Trade      float64 // what will be charged: Original - Discount
	Currency   string
	// ExpectedRenewDay is set (Months 0) for a quote to the unified expiration day (QuoteAligned).
	ExpectedRenewDay int
}

// RenewInput is one RenewInstance call. ClientToken is required: the caller derives it from
// the approval so that every retry, in this process or after a restart, carries the same token.
type RenewInput struct {
	InstanceID  string
	RegionID    string
	Months      int
	ClientToken string
	// ExpectedRenewDay, instead of Months: renew to the unified expiration day (1-28) of the
	// month, at least a month away (AlignedExpiry). Months is then 0.
	ExpectedRenewDay int
}

// RenewResult is what RenewInstance returned.
type RenewResult struct {
	OrderID   string
	RequestID string
}

// AutoRenewChange is a ModifyInstanceAutoRenewAttribute call.
type AutoRenewChange struct {
	Status   RenewalStatus // AutoRenewal (with Duration), Normal or NotRenewal
	Duration int           // months, with AutoRenewal: 1, 2, 3, 6, 12, 24, 36, 48 or 60
}

// RegionError is a region whose scan failed. A failed region is reported, never dropped.
type RegionError struct {
	Account  string // "" = the single default account
	RegionID string
	Err      error
}

func (e RegionError) Error() string {
	if e.Account != "" {
		return e.Account + ":" + e.RegionID + ": " + e.Err.Error()
	}
	return e.RegionID + ": " + e.Err.Error()
}

// Scan is the result of Expiring.
type Scan struct {
	Instances []Instance    // PrePaid instances expiring in the window, sorted by ExpiredTime then ID
	Failed    []RegionError // regions that could not be read completely
	Calls     int           // API calls made (for metrics and the scan benchmark)
}

// RetryPolicy is how Throttling, 5xx and network errors are retried (exponential backoff
// with full jitter). The same request, and so the same ClientToken, is sent every time.
type RetryPolicy struct {
	Attempts int           // total attempts, default 5
	Base     time.Duration // first backoff, default 200ms
	Max      time.Duration // backoff cap, default 10s
}

// Config configures a Client. The zero value of every field has a sensible default.
type Config struct {
	Account         string        // the account's name, carried by every Instance and RegionError; "" = the single default account
	Regions         []string      // regions to scan; empty: all regions from DescribeRegions
	HomeRegion      string        // region used for DescribeRegions, default cn-hangzhou
	Endpoint        string        // "host:port" or "http(s)://host:port": every call goes there (ecssim, VPC endpoint)
	AccessKeyID     string        // with AccessKeySecret: static credentials; empty: the SDK's default chain
	AccessKeySecret string        //
	SecurityToken   string        // optional STS token with the static key
	Role            *Role         // when set: the account's calls are signed with this role's credentials, assumed from the ones above
	BSSEndpoint     string        // like Endpoint, for the BSS (billing) API: QueryAccountBalance; "" = Alibaba's, or Endpoint when that is on loopback (ecssim)
	RateLimit       RateLimit     // pacing per (region, API); zero: the defaults
	Timeout         time.Duration // whole-request timeout per API call, default 10s
	ConnectTimeout  time.Duration // default 5s
	Concurrency     int           // API calls in flight at once, default 16; a region takes at most half
	Retry           RetryPolicy
	VerifyEvery     time.Duration // first poll interval of Verify, default 2s (doubles, capped at 15s)
	Logger          *slog.Logger  // default: discard
	// Observe, when set, is called after every API attempt with the action, the Alibaba error
	// code ("" on success) and the latency. cmd wires it to Prometheus.
	Observe func(action, code string, took time.Duration)
	// Sleep waits between retries and Verify polls; it returns early with ctx's error.
	// Default: a timer. Tests inject one that does not wait.
	Sleep func(ctx context.Context, d time.Duration) error
}

// instanceIDPattern is the shape of an ECS instance ID: "i-" and lower-case letters and digits
// (Alibaba's are about 20 characters, e.g. i-bp1f2o8bxxxxxxxxxxxx; short ones are accepted for
// emulated fleets).
var instanceIDPattern = lazyRegexp(`^i-[0-9a-z]{2,60}$`)

// IsInstanceID reports whether s has the shape of an ECS instance ID. It is the one check
// every entry point (slash command, workflow, CLI) uses.
func IsInstanceID(s string) bool { return instanceIDPattern().MatchString(s) }

// lazyRegexp compiles expr on its first use. A pattern with counted repetitions ({1,64})
// takes a few hundred microseconds to compile, and every renewbot command paid for all of
// them at start (BenchmarkExpiringProcess/startup).
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
