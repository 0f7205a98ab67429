package ecssim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/renewbot/renewbot/ecs"
)

// Fleet is the starting state of the emulator: the account and its instances.
//
// The fleet file (cmd/ecssim -fleet FILE) is this struct as JSON:
//
//	{
//	  "now": "2026-11-25T08:00:00Z",          // optional: the emulator's business clock starts here
//	  "balance": 5000,                         // account balance charged by RenewInstance
//	  "currency": "CNY",                       // default CNY
//	  "instances": [
//	    {"InstanceId": "i-bp1web01", "InstanceName": "web-1", "RegionId": "cn-hangzhou",
//	     "ZoneId": "cn-hangzhou-h", "InstanceType": "ecs.g7.large",
//	     "InstanceChargeType": "PrePaid", "Status": "Running",
//	     "ExpiredTime": "2026-12-01T16:00Z", "RenewalStatus": "Normal",
//	     "Duration": 1, "PeriodUnit": "Month", "MonthlyPrice": 120.5,
//	     "Tags": {"env": "prod", "renewbot-channel": "C0123456"}}
//	  ]
//	}
//
// Per instance only InstanceId and RegionId are required. Defaults: InstanceName = InstanceId,
// ZoneId = RegionId+"-a", InstanceType ecs.g7.large, InstanceChargeType PrePaid, Status Running,
// RenewalStatus Normal, PeriodUnit Month, Duration 1 with AutoRenewal, MonthlyPrice from the
// instance type's vCPUs. ExpiredTime (required for PrePaid) is RFC 3339 or Alibaba's minute
// form "2006-01-02T15:04Z". A PrePaid instance whose ExpiredTime has passed is shown Stopped with
// OperationLocks financial, and is released (gone) 15 days after it expired.
type Fleet struct {
	Now       *time.Time      `json:"now,omitempty"`
	Balance   float64         `json:"balance"`
	Currency  string          `json:"currency"`
	Instances []FleetInstance `json:"instances"`
	// Accounts are more accounts beside the default one (see FleetAccount); optional.
	Accounts []FleetAccount `json:"accounts,omitempty"`
}

// FleetInstance is one instance of a Fleet; JSON names are the Alibaba field names.
type FleetInstance struct {
	InstanceId         string            `json:"InstanceId"`
	InstanceName       string            `json:"InstanceName,omitempty"`
	RegionId           string            `json:"RegionId"`
	ZoneId             string            `json:"ZoneId,omitempty"`
	InstanceType       string            `json:"InstanceType,omitempty"`
	InstanceChargeType string            `json:"InstanceChargeType,omitempty"`
	Status             string            `json:"Status,omitempty"`
	ExpiredTime        time.Time         `json:"ExpiredTime"`
	RenewalStatus      string            `json:"RenewalStatus,omitempty"`
	Duration           int               `json:"Duration,omitempty"`
	PeriodUnit         string            `json:"PeriodUnit,omitempty"`
	MonthlyPrice       float64           `json:"MonthlyPrice,omitempty"`
	Tags               map[string]string `json:"Tags,omitempty"`
	CreationTime       time.Time         `json:"CreationTime,omitzero"` // optional; default: a year before ExpiredTime
}

// UnmarshalJSON accepts ExpiredTime and CreationTime as RFC 3339 or as "2006-01-02T15:04Z".
func (f *FleetInstance) UnmarshalJSON(b []byte) error {
	type plain FleetInstance
	var aux struct {
		plain
		ExpiredTime  string `json:"ExpiredTime"`
		CreationTime string `json:"CreationTime"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields() // a misspelt field would otherwise silently take its default
	if err := dec.Decode(&aux); err != nil {
		var id struct{ InstanceId string }
		_ = json.Unmarshal(b, &id)
		return fmt.Errorf("instance %q: %w", id.InstanceId, err)
	}
	*f = FleetInstance(aux.plain)
	var err error
	if f.ExpiredTime, err = parseFleetTime(aux.ExpiredTime); err != nil {
		return fmt.Errorf("instance %q: ExpiredTime: %w", f.InstanceId, err)
	}
	if f.CreationTime, err = parseFleetTime(aux.CreationTime); err != nil {
		return fmt.Errorf("instance %q: CreationTime: %w", f.InstanceId, err)
	}
	return nil
}

func parseFleetTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, minuteLayout} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is neither RFC 3339 nor yyyy-MM-ddTHH:mmZ", s)
}

// LoadFleet reads and validates a fleet file.
func LoadFleet(path string) (Fleet, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Fleet{}, fmt.Errorf("fleet: %w", err)
	}
	var f Fleet
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return Fleet{}, fmt.Errorf("fleet %s: %w", path, err)
	}
	if err := f.Validate(); err != nil {
		return Fleet{}, fmt.Errorf("fleet %s: %w", path, err)
	}
	return f, nil
}

var instanceIDRE = lazyRegexp(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// maxMoney bounds a balance and a monthly price: beyond it sums and 12-month quotes would lose
// cents in float64 (and 1e308 overflows to +Inf when multiplied), which no account has.
const maxMoney = 1e12

// validMoney reports whether v is a finite amount within 0..maxMoney.
func validMoney(v float64) bool { return !math.IsNaN(v) && v >= 0 && v <= maxMoney }

// Validate checks a fleet: every instance needs an InstanceId (unique) and a RegionId, known
// charge type, status and renewal status, and an ExpiredTime when it is PrePaid. Errors name
// the instance.
func (f Fleet) Validate() error {
	if f.Balance < 0 {
		return fmt.Errorf("balance %v is negative", f.Balance)
	}
	if !validMoney(f.Balance) {
		return fmt.Errorf("balance %v is not an amount (0 to %g)", f.Balance, float64(maxMoney))
	}
	if f.Currency != "" && f.Currency != "CNY" && f.Currency != "USD" {
		return fmt.Errorf("currency %q: want CNY or USD", f.Currency)
	}
	seen := make(map[string]int, len(f.Instances))
	var errs []error
	for i, in := range f.Instances {
		name := fmt.Sprintf("instance #%d", i+1)
		if in.InstanceId != "" {
			name += " (" + in.InstanceId + ")"
		}
		if err := validateInstance(in); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		if j, dup := seen[in.InstanceId]; dup {
			errs = append(errs, fmt.Errorf("%s: duplicate InstanceId, already used by instance #%d", name, j+1))
			continue
		}
		seen[in.InstanceId] = i
	}
	ids := make(map[string]bool, len(seen))
	for id := range seen {
		ids[id] = true
	}
	if err := validateAccounts(f.Accounts, ids); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func validateInstance(in FleetInstance) error {
	switch {
	case in.InstanceId == "":
		return errors.New("missing InstanceId")
	case !instanceIDRE().MatchString(in.InstanceId):
		return fmt.Errorf("InstanceId %q has characters Alibaba does not use", in.InstanceId)
	case in.RegionId == "":
		return errors.New("missing RegionId")
	case !ecs.ValidRegionID(in.RegionId):
		return fmt.Errorf("RegionId %q is not a region ID like cn-hangzhou", in.RegionId)
	}
	switch in.InstanceChargeType {
	case "", chargePrePaid:
		if in.ExpiredTime.IsZero() {
			return errors.New("PrePaid instance needs an ExpiredTime")
		}
	case chargePostPaid:
	default:
		return fmt.Errorf("unknown InstanceChargeType %q (want PrePaid or PostPaid)", in.InstanceChargeType)
	}
	if in.Status != "" && !validStatus(in.Status) {
		return fmt.Errorf("unknown Status %q (want Pending, Running, Starting, Stopping or Stopped)", in.Status)
	}
	if in.RenewalStatus != "" && !validRenewalStatus(in.RenewalStatus) {
		return fmt.Errorf("unknown RenewalStatus %q (want AutoRenewal, Normal or NotRenewal)", in.RenewalStatus)
	}
	if in.PeriodUnit != "" && in.PeriodUnit != "Month" && in.PeriodUnit != "Year" && in.PeriodUnit != "Week" {
		return fmt.Errorf("unknown PeriodUnit %q (want Month, Year or Week)", in.PeriodUnit)
	}
	if in.Duration < 0 {
		return fmt.Errorf("negative Duration %d", in.Duration)
	}
	if in.MonthlyPrice < 0 {
		return fmt.Errorf("negative MonthlyPrice %v", in.MonthlyPrice)
	}
	if !validMoney(in.MonthlyPrice) {
		return fmt.Errorf("MonthlyPrice %v is not a price (0 to %g a month)", in.MonthlyPrice, float64(maxMoney))
	}
	return nil
}

// withDefaults fills the optional fields of a valid instance.
func withDefaults(in FleetInstance) FleetInstance {
	if in.InstanceName == "" {
		in.InstanceName = in.InstanceId
	}
	if in.ZoneId == "" {
		in.ZoneId = in.RegionId + "-a"
	}
	if in.InstanceType == "" {
		in.InstanceType = "ecs.g7.large"
	}
	if in.InstanceChargeType == "" {
		in.InstanceChargeType = chargePrePaid
	}
	if in.Status == "" {
		in.Status = "Running"
	}
	if in.InstanceChargeType == chargePostPaid {
		in.ExpiredTime = postPaidExpiry
		in.RenewalStatus, in.Duration, in.PeriodUnit = "", 0, ""
	} else {
		if in.RenewalStatus == "" {
			in.RenewalStatus = renewNormal
		}
		if in.PeriodUnit == "" {
			in.PeriodUnit = "Month"
		}
		if in.Duration == 0 && in.RenewalStatus == renewAuto {
			in.Duration = 1
		}
	}
	if in.MonthlyPrice == 0 && in.InstanceChargeType == chargePrePaid {
		in.MonthlyPrice = float64(60 * vcpus(in.InstanceType))
	}
	in.ExpiredTime = in.ExpiredTime.UTC()
	if in.CreationTime.IsZero() {
		if in.InstanceChargeType == chargePrePaid {
			in.CreationTime = in.ExpiredTime.AddDate(-1, 0, 0)
		} else {
			in.CreationTime = time.Date(2024, 1, 15, 2, 30, 0, 0, time.UTC)
		}
	}
	in.CreationTime = in.CreationTime.UTC()
	in.Tags = maps.Clone(in.Tags)
	return in
}

// vcpus guesses the vCPU count from an instance type's size suffix (ecs.g7.2xlarge → 8).
func vcpus(instanceType string) int {
	size := instanceType[strings.LastIndex(instanceType, ".")+1:]
	switch size {
	case "small":
		return 1
	case "large":
		return 2
	case "xlarge":
		return 4
	}
	if n, ok := strings.CutSuffix(size, "xlarge"); ok {
		var k int
		if _, err := fmt.Sscanf(n, "%d", &k); err == nil && k > 0 && k <= 64 {
			return 4 * k
		}
	}
	return 2
}

// Generate returns a deterministic fleet of n instances spread over regions (default
// cn-hangzhou, cn-shanghai, cn-beijing) with a realistic mix relative to now: about 10%
// PostPaid; of the PrePaid ones about 5% expired and locked, 25% expiring within 7 days, 20%
// within 8-30 days and the rest within a year; about 20% AutoRenewal and 10% NotRenewal.
// Expiry times are 16:00Z (midnight UTC+8), as Alibaba's billing cycles end.
func Generate(n int, regions []string, seed int64, now time.Time) Fleet {
	if len(regions) == 0 {
		regions = DefaultRegions()
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5eed))
	now = now.UTC()
	types := []string{"ecs.g7.large", "ecs.g7.xlarge", "ecs.c7.2xlarge", "ecs.r7.large", "ecs.t6.small", "ecs.g7.4xlarge"}
	envs := []string{"prod", "prod", "staging", "dev"}
	teams := []string{"web", "data", "infra", "ml"}
	channels := []string{"C0RENEWPROD", "C0RENEWDATA"}
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 16, 0, 0, 0, time.UTC)
	f := Fleet{Now: &now, Balance: 100000, Currency: "CNY"}
	seen := make(map[string]bool, n)
	for i := range n {
		region := regions[i%len(regions)]
		in := FleetInstance{
			InstanceId:         genID(rng, seen),
			RegionId:           region,
			ZoneId:             region + "-" + string(rune('a'+rng.IntN(4))),
			InstanceType:       types[rng.IntN(len(types))],
			InstanceChargeType: chargePrePaid,
			Status:             "Running",
			RenewalStatus:      renewNormal,
			PeriodUnit:         "Month",
			Tags:               map[string]string{"env": envs[rng.IntN(len(envs))], "team": teams[rng.IntN(len(teams))]},
		}
		in.InstanceName = fmt.Sprintf("%s-%s-%03d", in.Tags["team"], in.Tags["env"], i+1)
		if rng.IntN(3) == 0 {
			in.Tags["renewbot-channel"] = channels[rng.IntN(len(channels))]
		}
		in.MonthlyPrice = float64(vcpus(in.InstanceType))*55 + float64(rng.IntN(40))
		switch p := rng.IntN(100); {
		case p < 10:
			in.InstanceChargeType = chargePostPaid
			in.RenewalStatus, in.PeriodUnit = "", ""
		case p < 15:
			in.ExpiredTime = midnight.AddDate(0, 0, -1-rng.IntN(14))
			in.Status = "Stopped"
		case p < 40:
			in.ExpiredTime = midnight.AddDate(0, 0, rng.IntN(8))
		case p < 60:
			in.ExpiredTime = midnight.AddDate(0, 0, 8+rng.IntN(23))
		default:
			in.ExpiredTime = midnight.AddDate(0, 0, 31+rng.IntN(335))
		}
		if in.InstanceChargeType == chargePrePaid && in.ExpiredTime.After(now) {
			switch p := rng.IntN(100); {
			case p < 20:
				in.RenewalStatus, in.Duration = renewAuto, []int{1, 1, 3, 12}[rng.IntN(4)]
			case p < 30:
				in.RenewalStatus = renewNot
			}
		}
		f.Instances = append(f.Instances, in)
	}
	return f
}

// DefaultRegions are the regions Generate uses when none are given.
func DefaultRegions() []string { return []string{"cn-hangzhou", "cn-shanghai", "cn-beijing"} }

func genID(rng *rand.Rand, seen map[string]bool) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	for {
		b := []byte("i-bp1")
		for range 17 {
			b = append(b, alphabet[rng.IntN(len(alphabet))])
		}
		if id := string(b); !seen[id] {
			seen[id] = true
			return id
		}
	}
}

// lazyRegexp compiles expr on its first use: renewbot links the emulator in (demo,
// playground), and every command paid for compiling its patterns at start.
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
