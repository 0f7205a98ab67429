package ecssim

import (
	"encoding/base64"
	"encoding/json"
	"maps"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ---- DescribeRegions ----

func (s *Server) describeRegions(a *account, p params, _ time.Time) (map[string]any, *apiError) {
	if ct := p.get("InstanceChargeType"); ct != "" && ct != chargePrePaid && ct != chargePostPaid &&
		ct != "SpotWithPriceLimit" && ct != "SpotAsPriceGo" {
		return nil, errorf(400, "InvalidInstanceChargeType.ValueNotSupported", "The specified InstanceChargeType is not supported.")
	}
	if rt := p.get("ResourceType"); rt != "" && rt != "instance" && rt != "disk" && rt != "reservedinstance" && rt != "scu" {
		return nil, errorf(400, "InvalidResourceType.ValueNotSupported", "The specified ResourceType is not supported.")
	}
	english := strings.HasPrefix(p.get("AcceptLanguage"), "en")
	regions := []map[string]string{}
	for _, r := range s.regionList() {
		regions = append(regions, map[string]string{
			"RegionId":       r,
			"LocalName":      localName(r, english),
			"RegionEndpoint": "ecs." + r + ".aliyuncs.com",
			"Status":         "available",
		})
	}
	return map[string]any{"Regions": map[string]any{"Region": regions}}, nil
}

func localName(region string, english bool) string {
	names := map[string][2]string{
		"cn-hangzhou":    {"华东1（杭州）", "China (Hangzhou)"},
		"cn-shanghai":    {"华东2（上海）", "China (Shanghai)"},
		"cn-beijing":     {"华北2（北京）", "China (Beijing)"},
		"cn-shenzhen":    {"华南1（深圳）", "China (Shenzhen)"},
		"cn-qingdao":     {"华北1（青岛）", "China (Qingdao)"},
		"cn-zhangjiakou": {"华北3（张家口）", "China (Zhangjiakou)"},
		"cn-hongkong":    {"中国香港", "China (Hong Kong)"},
		"ap-southeast-1": {"新加坡", "Singapore"},
		"ap-northeast-1": {"日本（东京）", "Japan (Tokyo)"},
		"us-west-1":      {"美国（硅谷）", "US (Silicon Valley)"},
		"us-east-1":      {"美国（弗吉尼亚）", "US (Virginia)"},
		"eu-central-1":   {"德国（法兰克福）", "Germany (Frankfurt)"},
		"eu-west-1":      {"英国（伦敦）", "UK (London)"},
	}
	n, ok := names[region]
	if !ok {
		return region
	}
	if english {
		return n[1]
	}
	return n[0]
}

// ---- DescribeInstances ----

type tagFilter struct{ key, value string }

type timeFilter struct{ expStart, expEnd, creStart, creEnd *time.Time }

func (s *Server) describeInstances(a *account, p params, now time.Time) (map[string]any, *apiError) {
	region := p.get("RegionId")
	var ids map[string]bool
	if p.has("InstanceIds") {
		var list []string
		if err := json.Unmarshal([]byte(p.get("InstanceIds")), &list); err != nil {
			return nil, errorf(400, "InvalidInstanceIds.Malformed", "The specified parameter InstanceIds is not valid: it must be a JSON array of instance IDs.")
		}
		if len(list) > 100 {
			return nil, errorf(400, "InvalidParameter", "The specified parameter InstanceIds has more than 100 IDs.")
		}
		ids = make(map[string]bool, len(list))
		for _, id := range list {
			ids[id] = true
		}
	}
	charge := p.get("InstanceChargeType")
	if charge != "" && charge != chargePrePaid && charge != chargePostPaid {
		return nil, errorf(404, "InvalidInstanceChargeType.NotFound", "The InstanceChargeType does not exist in our records.")
	}
	status := p.get("Status")
	if status != "" && !validStatus(status) {
		return nil, errorf(404, "InvalidStatus.NotFound", "The specified Status is not found.")
	}
	lock := p.get("LockReason")
	if lock != "" && lock != "financial" && lock != "security" && lock != "recycling" && lock != "dedicatedhostfinancial" && lock != "refunded" {
		return nil, errorf(404, "InvalidLockReason.NotFound", "The specified LockReason is not found.")
	}
	tags, e := parseTags(p)
	if e != nil {
		return nil, e
	}
	tf, e := parseTimeFilters(p)
	if e != nil {
		return nil, e
	}
	var nameRE *regexp.Regexp
	if name := p.get("InstanceName"); name != "" {
		parts := strings.Split(name, "*")
		for i := range parts {
			parts[i] = regexp.QuoteMeta(parts[i])
		}
		nameRE = regexp.MustCompile("^" + strings.Join(parts, ".*") + "$")
	}

	tokenMode := p.has("NextToken") || p.has("MaxResults")
	var pageNumber, pageSize int
	after := ""
	if tokenMode {
		pageSize = 10
		if p.has("MaxResults") {
			n, err := strconv.Atoi(p.get("MaxResults"))
			if err != nil {
				return nil, errorf(400, "InvalidParameter.MaxResults", "The specified parameter MaxResults is not valid.")
			}
			pageSize = min(max(n, 10), 100)
		}
		if tok := p.get("NextToken"); tok != "" {
			last, ok := decodeToken(tok)
			if !ok {
				return nil, errorf(400, "InvalidParameter.NextToken", "The specified parameter NextToken is not valid.")
			}
			after = last
		}
	} else {
		var e *apiError
		if pageNumber, e = intParam(p, "PageNumber", 1, 1, math.MaxInt32, 400, "InvalidParameter.PageNumber"); e != nil {
			return nil, e
		}
		if pageSize, e = intParam(p, "PageSize", 10, 1, 100, 400, "InvalidParameter.PageSize"); e != nil {
			return nil, e
		}
	}

	zone, itype, family := p.get("ZoneId"), p.get("InstanceType"), p.get("InstanceTypeFamily")
	key := matchKey{owner: a, region: region, filter: filterKey(p)}
	match, ok := s.cachedMatch(key, now)
	if !ok {
		for _, in := range s.sortedInstances(a, region, now) {
			shownStatus := in.Status
			if in.expired(now) {
				shownStatus = "Stopped"
			}
			switch {
			case ids != nil && !ids[in.InstanceId],
				charge != "" && in.InstanceChargeType != charge,
				status != "" && shownStatus != status,
				lock != "" && (lock != "financial" || !in.expired(now)),
				zone != "" && in.ZoneId != zone,
				itype != "" && in.InstanceType != itype,
				family != "" && typeFamily(in.InstanceType) != family,
				nameRE != nil && !nameRE.MatchString(in.InstanceName),
				!tagsMatch(in.Tags, tags),
				!tf.match(in):
				continue
			}
			match = append(match, in)
		}
		s.cacheMatch(key, match, now)
	}

	out := map[string]any{"TotalCount": len(match), "PageSize": pageSize}
	var page []*instance
	if tokenMode {
		start := sort.Search(len(match), func(i int) bool { return match[i].InstanceId > after })
		end := min(start+pageSize, len(match))
		page = match[start:end]
		next := ""
		if end < len(match) {
			next = encodeToken(match[end-1].InstanceId)
		}
		out["NextToken"] = next
	} else {
		start := min((pageNumber-1)*pageSize, len(match))
		page = match[start:min(start+pageSize, len(match))]
		out["PageNumber"] = pageNumber
	}
	list := make([]rawJSON, 0, len(page))
	for _, in := range page {
		list = append(list, in.encoded(now))
	}
	out["Instances"] = map[string]any{"Instance": list}
	return out, nil
}

// sortedInstances returns the live instances of account a in a region ordered by InstanceId.
// s.mu is held.
func (s *Server) sortedInstances(a *account, region string, now time.Time) []*instance {
	if s.byRegion == nil {
		s.byRegion = make(map[regionKey][]*instance)
		for _, in := range s.instances {
			k := regionKey{in.owner, in.RegionId}
			s.byRegion[k] = append(s.byRegion[k], in)
		}
		for _, list := range s.byRegion {
			sort.Slice(list, func(i, j int) bool { return list[i].InstanceId < list[j].InstanceId })
		}
	}
	list := s.byRegion[regionKey{a, region}]
	out := make([]*instance, 0, len(list))
	for _, in := range list {
		in.settle(now)
		if !in.released(now) {
			out = append(out, in)
		}
	}
	return out
}

// matchKey is one DescribeInstances filter of an account's region.
type matchKey struct {
	owner          *account
	region, filter string
}

// matchEntry is what a filter matched: valid while no instance has changed (gen) and from
// its time until the first instance of the region changes with time (expires, is released,
// or shows a renewal).
type matchEntry struct {
	gen         uint64
	from, until time.Time
	match       []*instance
}

// maxMatches bounds the cache: filters carry times, so a long-running emulator sees new ones.
const maxMatches = 4096

// cachedMatch returns the cached match of key at now. s.mu is held.
func (s *Server) cachedMatch(key matchKey, now time.Time) ([]*instance, bool) {
	e, ok := s.matches[key]
	if !ok || e.gen != s.gen || now.Before(e.from) || !now.Before(e.until) {
		return nil, false
	}
	return e.match, true
}

// cacheMatch keeps what key matched at now. Pages of a scan then slice one match instead of
// walking the region's instances again each. s.mu is held.
func (s *Server) cacheMatch(key matchKey, match []*instance, now time.Time) {
	until := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, in := range s.byRegion[regionKey{key.owner, key.region}] {
		next := []time.Time{in.ExpiredTime, in.ExpiredTime.Add(releaseAfter)}
		if len(in.pending) > 0 {
			next = append(next, in.pending[0].visibleAt)
		}
		for _, t := range next {
			if now.Before(t) && t.Before(until) {
				until = t
			}
		}
	}
	if len(s.matches) >= maxMatches {
		clear(s.matches)
	}
	s.matches[key] = matchEntry{gen: s.gen, from: now, until: until, match: match}
}

// filterKey is the parameters that choose which instances DescribeInstances matches.
func filterKey(p params) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(p)) {
		switch {
		case k == "InstanceIds", k == "InstanceChargeType", k == "Status", k == "LockReason", k == "ZoneId",
			k == "InstanceType", k == "InstanceTypeFamily", k == "InstanceName",
			strings.HasPrefix(k, "Tag."), strings.HasPrefix(k, "Filter."):
			b.WriteString(k)
			b.WriteByte('=')
			b.WriteString(p.get(k))
			b.WriteByte(0)
		}
	}
	return b.String()
}

func encodeToken(lastID string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("ecssim1:" + lastID))
}

func decodeToken(tok string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return "", false
	}
	return strings.CutPrefix(string(b), "ecssim1:")
}

func parseTags(p params) ([]tagFilter, *apiError) {
	byN := map[int]*tagFilter{}
	for k := range p {
		rest, ok := strings.CutPrefix(k, "Tag.")
		if !ok {
			continue
		}
		nStr, field, ok := strings.Cut(rest, ".")
		n, err := strconv.Atoi(nStr)
		if !ok || err != nil || n < 1 {
			return nil, errorf(400, "InvalidParameter", "The specified parameter %q is not valid.", k)
		}
		if n > 20 {
			return nil, errorf(400, "InvalidTagCount", "The specified tags are beyond the permitted range.")
		}
		t := byN[n]
		if t == nil {
			t = &tagFilter{}
			byN[n] = t
		}
		switch field {
		case "Key", "key":
			if t.key == "" {
				t.key = p.get(k)
			}
		case "Value", "value":
			if t.value == "" {
				t.value = p.get(k)
			}
		default:
			return nil, errorf(400, "InvalidParameter", "The specified parameter %q is not valid.", k)
		}
	}
	ns := make([]int, 0, len(byN))
	for n := range byN {
		ns = append(ns, n)
	}
	sort.Ints(ns)
	var out []tagFilter
	for _, n := range ns {
		t := byN[n]
		if t.key == "" && t.value != "" {
			return nil, errorf(400, "InvalidTag.Mismatch", "The specified Tag.%d.Value has no Tag.%d.Key.", n, n)
		}
		if t.key != "" {
			out = append(out, *t)
		}
	}
	return out, nil
}

func tagsMatch(have map[string]string, want []tagFilter) bool {
	for _, t := range want {
		v, ok := have[t.key]
		if !ok || t.value != "" && v != t.value {
			return false
		}
	}
	return true
}

func parseTimeFilters(p params) (timeFilter, *apiError) {
	var tf timeFilter
	bad := errorf(404, "InvalidFilterKey.NotFound", "The specified filter key or its time value (yyyy-MM-ddTHH:mmZ, UTC) is not valid.")
	for n := 1; n <= 4; n++ {
		key, val := p.get("Filter."+strconv.Itoa(n)+".Key"), p.get("Filter."+strconv.Itoa(n)+".Value")
		if key == "" && val == "" {
			continue
		}
		t, err := time.Parse(minuteLayout, val)
		if key == "" || err != nil {
			return tf, bad
		}
		switch key {
		case "ExpiredStartTime":
			tf.expStart = &t
		case "ExpiredEndTime":
			tf.expEnd = &t
		case "CreationStartTime":
			tf.creStart = &t
		case "CreationEndTime":
			tf.creEnd = &t
		default:
			return tf, bad
		}
	}
	for k := range p {
		if rest, ok := strings.CutPrefix(k, "Filter."); ok {
			n, _, _ := strings.Cut(rest, ".")
			if i, err := strconv.Atoi(n); err != nil || i < 1 || i > 4 {
				return tf, bad
			}
		}
	}
	return tf, nil
}

// match compares at minute precision, bounds inclusive.
func (tf timeFilter) match(in *instance) bool {
	exp := in.ExpiredTime.Truncate(time.Minute)
	cre := in.CreationTime.Truncate(time.Minute)
	return (tf.expStart == nil || !exp.Before(*tf.expStart)) &&
		(tf.expEnd == nil || !exp.After(*tf.expEnd)) &&
		(tf.creStart == nil || !cre.Before(*tf.creStart)) &&
		(tf.creEnd == nil || !cre.After(*tf.creEnd))
}

type tagJSON struct {
	TagKey   string
	TagValue string
}

type lockJSON struct {
	LockReason string
	LockMsg    string
}

type ipsJSON struct {
	IpAddress []string
}

// instanceJSON is an instance as DescribeInstances returns it (the fields of the SDK's
// ecs.Instance that an emulator can fill meaningfully).
type instanceJSON struct {
	InstanceId          string
	InstanceName        string
	HostName            string
	Description         string
	RegionId            string
	ZoneId              string
	InstanceType        string
	InstanceTypeFamily  string
	Cpu                 int
	Memory              int
	ImageId             string
	OSName              string
	OSNameEn            string
	OSType              string
	Status              string
	InstanceChargeType  string
	InternetChargeType  string
	InstanceNetworkType string
	IoOptimized         bool
	ExpiredTime         string
	CreationTime        string
	StartTime           string
	AutoReleaseTime     string
	StoppedMode         string
	SaleCycle           string
	SerialNumber        string
	Tags                struct{ Tag []tagJSON }
	OperationLocks      struct{ LockReason []lockJSON }
	SecurityGroupIds    struct{ SecurityGroupId []string }
	PublicIpAddress     ipsJSON
	InnerIpAddress      ipsJSON
	VpcAttributes       struct {
		VpcId            string
		VSwitchId        string
		NatIpAddress     string
		PrivateIpAddress ipsJSON
	}
}

// encoded is the instance as DescribeInstances writes it (viewInstance, JSON-encoded). The
// encoding is kept until what it shows changes: the fields settle changes (ExpiredTime,
// Status) and whether the instance is expired at now. No other field of an instance changes
// after AddInstances (which makes a new instance). s.mu is held.
func (in *instance) encoded(now time.Time) rawJSON {
	key := viewKey{expiry: in.ExpiredTime, status: in.Status, expired: in.expired(now)}
	if in.view != nil && in.viewKey == key {
		return in.view
	}
	b, err := json.Marshal(viewInstance(in, now))
	if err != nil { // only strings, numbers and booleans: cannot happen
		panic("ecssim: encoding an instance: " + err.Error())
	}
	in.view, in.viewKey = b, key
	return b
}

// viewKey is what an instance's cached encoding depends on that can change.
type viewKey struct {
	expiry  time.Time
	status  string
	expired bool
}

func viewInstance(in *instance, now time.Time) instanceJSON {
	v := instanceJSON{
		InstanceId:          in.InstanceId,
		InstanceName:        in.InstanceName,
		HostName:            "iZ" + strings.TrimPrefix(in.InstanceId, "i-") + "Z",
		RegionId:            in.RegionId,
		ZoneId:              in.ZoneId,
		InstanceType:        in.InstanceType,
		InstanceTypeFamily:  typeFamily(in.InstanceType),
		Cpu:                 vcpus(in.InstanceType),
		Memory:              vcpus(in.InstanceType) * 4096,
		ImageId:             "aliyun_3_x64_20G_alibase_20240819.vhd",
		OSName:              "Alibaba Cloud Linux 3.2104 LTS 64位",
		OSNameEn:            "Alibaba Cloud Linux 3.2104 LTS 64 bit",
		OSType:              "linux",
		Status:              in.Status,
		InstanceChargeType:  in.InstanceChargeType,
		InternetChargeType:  "PayByTraffic",
		InstanceNetworkType: "vpc",
		IoOptimized:         true,
		ExpiredTime:         in.ExpiredTime.UTC().Format(minuteLayout),
		CreationTime:        in.CreationTime.UTC().Format(minuteLayout),
		StartTime:           in.CreationTime.UTC().Add(2 * time.Minute).Format(minuteLayout),
		StoppedMode:         "Not-applicable",
		SerialNumber:        serialFor(in.InstanceId),
	}
	if in.prePaid() {
		// ecs-api.md's sample shows SaleCycle in lower case ("month"); the SDKs pass it through
		// as a string, so the casing of the reference is kept. Pay-as-you-go: none.
		v.SaleCycle = "month"
	}
	if in.expired(now) {
		v.Status = "Stopped"
		v.OperationLocks.LockReason = []lockJSON{{LockReason: "financial"}}
	} else {
		v.OperationLocks.LockReason = []lockJSON{}
	}
	keys := make([]string, 0, len(in.Tags))
	for k := range in.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	v.Tags.Tag = make([]tagJSON, 0, len(keys))
	for _, k := range keys {
		v.Tags.Tag = append(v.Tags.Tag, tagJSON{TagKey: k, TagValue: in.Tags[k]})
	}
	suffix := strings.TrimPrefix(in.InstanceId, "i-")
	v.SecurityGroupIds.SecurityGroupId = []string{"sg-" + suffix}
	v.PublicIpAddress.IpAddress = []string{}
	v.InnerIpAddress.IpAddress = []string{}
	v.VpcAttributes.VpcId = "vpc-" + in.RegionId
	v.VpcAttributes.VSwitchId = "vsw-" + in.ZoneId
	v.VpcAttributes.PrivateIpAddress.IpAddress = []string{privateIP(in.InstanceId)}
	return v
}

func typeFamily(instanceType string) string {
	if i := strings.LastIndex(instanceType, "."); i > 0 {
		return instanceType[:i]
	}
	return instanceType
}

func hash32(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return h
}

func privateIP(id string) string {
	h := hash32(id)
	return "172.16." + strconv.Itoa(int(h>>8&0xff)) + "." + strconv.Itoa(int(h&0xfd)+1)
}

func serialFor(id string) string {
	h := hash32(id)
	return strings.ToLower(strconv.FormatUint(uint64(h), 16)) + "-0000-4000-8000-" + strconv.FormatUint(uint64(h)*7919, 16)
}

// ---- shared validation ----

func validStatus(s string) bool {
	switch s {
	case "Pending", "Running", "Starting", "Stopping", "Stopped":
		return true
	}
	return false
}

func validRenewalStatus(s string) bool { return s == renewAuto || s == renewNormal || s == renewNot }

// intParam reads an optional integer parameter within [lo, hi].
func intParam(p params, name string, def, lo, hi, status int, code string) (int, *apiError) {
	if !p.has(name) {
		return def, nil
	}
	n, err := strconv.Atoi(p.get(name))
	if err != nil || n < lo || n > hi {
		return 0, errorf(status, code, "The specified parameter %s is not valid.", name)
	}
	return n, nil
}

// idList splits a comma-separated InstanceId list, dropping blanks and duplicates.
func idList(s string) []string {
	var out []string
	seen := map[string]bool{}
	for _, id := range strings.Split(s, ",") {
		id = strings.TrimSpace(id)
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// inRegion returns a live instance of account a in the call's region (another account's
// instance does not exist for a); with region "" (RenewInstance
// without RegionId, as Alibaba's v2 SDKs send it) an instance of any region.
func (s *Server) inRegion(a *account, id, region string, now time.Time) (*instance, bool) {
	in, ok := s.lookup(id, now)
	if !ok || in.owner != a || region != "" && in.RegionId != region {
		return nil, false
	}
	return in, true
}

// ---- prices ----

// yearDiscount is the discount of renewals of 12 months or more.
const (
	yearDiscount     = 0.15
	yearDiscountRule = 102030
)

type price struct {
	original, discount, trade float64
	rule                      bool
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// quote prices months of renewal; fraction prorates ExpectedRenewDay renewals (months = 0).
func quote(monthly float64, months int, days float64) price {
	var p price
	if months > 0 {
		p.original = round2(monthly * float64(months))
	} else {
		p.original = round2(monthly * days / 30)
	}
	if months >= 12 {
		p.discount = round2(p.original * yearDiscount)
		p.rule = true
	}
	p.trade = round2(p.original - p.discount)
	return p
}

var utc8 = time.FixedZone("UTC+8", 8*3600)

// alignedExpiry is the expiry of a renewal to the unified expiration day (统一到期日), as
// Alibaba's documentation of the feature describes it: the gap between the current expiry
// and the unified day may not be under one month; when the next such day is less than a month
// away, the renewal runs to the first such day 30 days or more after the current expiry.
// Its example: expiries 2018-09-10 and 2018-05-17 with day 1 renew to 2018-11-01 and
// 2018-07-01. Days are 00:00 UTC+8. Only unexpired instances (the callers check).
func alignedExpiry(cur time.Time, day int) time.Time {
	old := cur.In(utc8)
	next := time.Date(old.Year(), old.Month(), day, 0, 0, 0, 0, utc8)
	if !next.After(old) {
		next = time.Date(old.Year(), old.Month()+1, day, 0, 0, 0, 0, utc8)
	}
	if next.Before(addMonths(old, 1)) {
		earliest := old.AddDate(0, 0, 30)
		next = time.Date(earliest.Year(), earliest.Month(), day, 0, 0, 0, 0, utc8)
		if next.Before(earliest) {
			next = time.Date(earliest.Year(), earliest.Month()+1, day, 0, 0, 0, 0, utc8)
		}
	}
	return next.UTC()
}

// alignedQuote prices a renewal from cur to the aligned expiry by the monthly price, as the
// documentation says ("the renewal is priced by the monthly price"): whole calendar months at
// the monthly price, the days left over pro rata, a month counted as 30 days.
func alignedQuote(monthly float64, cur, aligned time.Time) price {
	months := 0
	for !addMonths(cur, months+1).After(aligned) {
		months++
	}
	days := aligned.Sub(addMonths(cur, months)).Hours() / 24
	p := price{original: round2(monthly*float64(months) + monthly*days/30)}
	p.trade = p.original
	return p
}

// addMonths adds calendar months to an expiry the way Alibaba's billing does: the day of the
// month is kept, or becomes the target month's last day when that month is shorter (Jan 31
// + 1 month = Feb 28), never spilling into the month after like time.AddDate. Expiries are
// 16:00Z, so the UTC date is the expiration date in UTC+8.
func addMonths(t time.Time, n int) time.Time {
	y, m, d := t.Date()
	first := time.Date(y, m+time.Month(n), 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
	last := first.AddDate(0, 1, -1).Day()
	return first.AddDate(0, 0, min(d, last)-1)
}

// ---- RenewInstance ----

func (s *Server) renewInstance(a *account, p params, now time.Time) (map[string]any, *apiError) {
	region, id := p.get("RegionId"), p.get("InstanceId")
	if id == "" {
		return nil, missing("InstanceId")
	}
	token := p.get("ClientToken")
	if len(token) > 64 || !isASCII(token) {
		return nil, errorf(400, "InvalidClientToken.ValueNotSupported", "The specified ClientToken is not valid: at most 64 ASCII characters.")
	}
	hasPeriod, hasUnit, hasDay := p.has("Period"), p.has("PeriodUnit"), p.has("ExpectedRenewDay")
	switch {
	case hasDay && (hasPeriod || hasUnit):
		return nil, errorf(400, "InvalidExpectedRenewDay.Conflict", "The specified ExpectedRenewDay conflicts with Period or PeriodUnit.")
	case !hasDay && !hasPeriod:
		return nil, errorf(400, "InvalidPeriod.NotFound", "The specified period and expectedRenewDay cannot both be empty.")
	}
	unit := p.get("PeriodUnit")
	if unit == "" {
		unit = "Month"
	}
	if unit != "Month" {
		return nil, errorf(400, "InvalidPeriodUnit.ValueNotSupported", "The specified parameter PeriodUnit is not valid.")
	}
	period, day := 0, 0
	if hasPeriod {
		n, err := strconv.Atoi(p.get("Period"))
		if err != nil || n < 1 || n > 9 && n != 12 {
			return nil, errorf(400, "InvalidPeriod", "The specified period is not valid.")
		}
		period = n
	} else {
		n, err := strconv.Atoi(p.get("ExpectedRenewDay"))
		if err != nil || n < 1 || n > 28 {
			return nil, errorf(400, "InvalidExpectedRenewDay.ValueNotSupported", "The specified ExpectedRenewDay is not valid.")
		}
		day = n
	}
	// Instance IDs are unique across regions, so the region is not part of the request's
	// identity: a retry that adds or drops RegionId is the same request.
	fingerprint := strings.Join([]string{id, strconv.Itoa(period), unit, strconv.Itoa(day)}, "|")
	if token != "" {
		if rec, ok := s.tokens[a.uid+"|RenewInstance|"+token]; ok {
			if rec.fingerprint != fingerprint {
				return nil, errorf(400, "IdempotenceParamNotMatch", "The ClientToken was used before with other parameters.")
			}
			return map[string]any{"OrderId": rec.orderID}, nil
		}
	}
	in, ok := s.inRegion(a, id, region, now)
	if !ok {
		return nil, errorf(404, "InvalidInstanceId.NotFound", "The specified InstanceId does not exist.")
	}
	if !in.prePaid() {
		return nil, errorf(403, "ChargeTypeViolation", "The operation is not permitted due to charge type of the instance.")
	}
	if in.RenewalStatus == renewNot {
		return nil, errorf(403, "IncorrectInstanceStatus", "The current status of the resource does not support this operation: its RenewalStatus is NotRenewal; set it to Normal (ModifyInstanceAutoRenewAttribute) to renew it.")
	}
	cur := in.latestExpiry()
	var newExpiry time.Time
	var pr price
	if hasPeriod {
		newExpiry = addMonths(cur, period)
		pr = quote(in.MonthlyPrice, period, 0)
	} else {
		if in.expired(now) {
			return nil, errorf(403, "IncorrectInstanceStatus", "The current status of the resource does not support this operation: an expired instance cannot be renewed to a unified expiration day.")
		}
		newExpiry = alignedExpiry(cur, day)
		pr = alignedQuote(in.MonthlyPrice, cur, newExpiry)
	}
	if newExpiry.After(now.AddDate(5, 0, 0)) {
		return nil, errorf(400, "InvalidPeriod.ExceededMaximumExpirationDate", "The renewal would move the expiration date beyond the maximum (5 years from now).")
	}
	if a.balance < pr.trade {
		return nil, errorf(403, "InvalidAccountStatus.NotEnoughBalance", "Your account does not have enough balance.")
	}
	a.balance = round2(a.balance - pr.trade)
	s.orderSeq++
	orderID := strconv.FormatInt(s.orderSeq, 10)
	orderPeriod := period
	if !hasPeriod {
		orderPeriod = int(math.Round(newExpiry.Sub(cur).Hours() / 24 / 30))
	}
	s.orders = append(s.orders, Order{
		OrderId: orderID, AccountUID: a.uid, InstanceId: id, RegionId: in.RegionId, ClientToken: token,
		Period: orderPeriod, PeriodUnit: unit, Amount: pr.trade, Currency: a.currency, Time: now.UTC(),
	})
	visibleAt := now
	if s.opts.RenewDelay > 0 {
		visibleAt = now.Add(s.opts.RenewDelay)
	}
	in.pending = append(in.pending, pendingExpiry{visibleAt: visibleAt, expiry: newExpiry, unlock: in.expired(now)})
	s.gen++
	in.settle(now)
	if token != "" {
		s.tokens[a.uid+"|RenewInstance|"+token] = tokenRecord{fingerprint: fingerprint, orderID: orderID}
	}
	s.opts.Log.Info("ecssim: renewed", "instance", id, "order", orderID, "amount", pr.trade, "expiry", newExpiry)
	return map[string]any{"OrderId": orderID}, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// ---- DescribeRenewalPrice ----

func (s *Server) describeRenewalPrice(a *account, p params, now time.Time) (map[string]any, *apiError) {
	region, id := p.get("RegionId"), p.get("ResourceId")
	if id == "" {
		return nil, missing("ResourceId")
	}
	if rt := p.get("ResourceType"); rt != "" && rt != "instance" {
		return nil, errorf(400, "InvalidResourceType.ValueNotSupported", "The specified ResourceType is not supported.")
	}
	hasDay := p.has("ExpectedRenewDay")
	if hasDay && (p.has("Period") || p.has("PriceUnit")) {
		return nil, errorf(400, "InvalidExpectedRenewDay.Conflict", "The specified ExpectedRenewDay conflicts with Period or PriceUnit.")
	}
	unit := p.get("PriceUnit")
	if unit == "" {
		unit = "Month"
	}
	if unit != "Month" && unit != "Year" {
		return nil, errorf(400, "InvalidPriceUnit.ValueNotSupported", "The specified PriceUnit is not supported.")
	}
	period, day := 1, 0
	if hasDay {
		n, err := strconv.Atoi(p.get("ExpectedRenewDay"))
		if err != nil || n < 1 || n > 28 {
			return nil, errorf(400, "InvalidExpectedRenewDay.ValueNotSupported", "The specified ExpectedRenewDay is not valid.")
		}
		day = n
	} else if p.has("Period") {
		n, err := strconv.Atoi(p.get("Period"))
		ok := err == nil && (unit == "Month" && n >= 1 && n <= 9 || unit == "Year" && n >= 1 && n <= 3)
		if !ok {
			return nil, errorf(400, "InvalidPeriod", "The specified period is not valid.")
		}
		period = n
	}
	in, ok := s.inRegion(a, id, region, now)
	if !ok {
		return nil, errorf(404, "InvalidInstanceId.NotFound", "The specified InstanceId does not exist.")
	}
	if !in.prePaid() {
		return nil, errorf(403, "ChargeTypeViolation", "The operation is not permitted due to charge type of the instance.")
	}
	var pr price
	switch {
	case hasDay:
		cur := in.latestExpiry()
		if in.expired(now) {
			return nil, errorf(403, "IncorrectInstanceStatus", "The current status of the resource does not support this operation: an expired instance cannot be renewed to a unified expiration day.")
		}
		pr = alignedQuote(in.MonthlyPrice, cur, alignedExpiry(cur, day))
	case unit == "Year":
		pr = quote(in.MonthlyPrice, 12*period, 0)
	default:
		pr = quote(in.MonthlyPrice, period, 0)
	}
	rules := []map[string]any{}
	if pr.rule {
		rules = append(rules, map[string]any{"RuleId": yearDiscountRule, "Description": "Renewals of a year or more: 15% off"})
	}
	detail := map[string]any{
		"Resource": "instanceType", "OriginalPrice": pr.original, "DiscountPrice": pr.discount, "TradePrice": pr.trade,
	}
	return map[string]any{"PriceInfo": map[string]any{
		"Price": map[string]any{
			"OriginalPrice": pr.original, "DiscountPrice": pr.discount, "TradePrice": pr.trade, "Currency": a.currency,
			"DetailInfos": map[string]any{"DetailInfo": []any{detail}},
		},
		"Rules": map[string]any{"Rule": rules},
	}}, nil
}

// ---- DescribeInstanceAutoRenewAttribute ----

func (s *Server) describeAutoRenew(a *account, p params, now time.Time) (map[string]any, *apiError) {
	region := p.get("RegionId")
	ids := idList(p.get("InstanceId"))
	if len(ids) > 100 {
		return nil, errorf(403, "InvalidParameter.ToManyInstanceIds", "InstanceId should be less than 100.")
	}
	status := p.get("RenewalStatus")
	if status != "" && !validRenewalStatus(status) {
		return nil, errorf(403, "InvalidParameter.RenewalStatus", "The specified RenewalStatus %q is not valid.", status)
	}
	if len(ids) == 0 && status == "" {
		return nil, errorf(403, "InvalidParameter.RenewalStatusInstanceId", "The parameter RenewalStatus and InstanceId can not be both empty.")
	}
	pageNumber, e := intParam(p, "PageNumber", 1, 1, math.MaxInt32, 403, "InvalidParameter.PageNumber")
	if e != nil {
		return nil, e
	}
	pageSize, e := intParam(p, "PageSize", 10, 1, 100, 403, "InvalidParameter.PageSize")
	if e != nil {
		return nil, e
	}
	var list []*instance
	if len(ids) > 0 {
		for _, id := range ids {
			in, ok := s.inRegion(a, id, region, now)
			if !ok {
				return nil, errorf(403, "InvalidParameter.InvalidInstanceId", "The specified InstanceId does not exist.")
			}
			if !in.prePaid() {
				return nil, errorf(403, "ChargeTypeViolation", "Pay-As-You-Go instances do not support this operation.")
			}
			list = append(list, in)
		}
	} else {
		for _, in := range s.sortedInstances(a, region, now) {
			if in.prePaid() {
				list = append(list, in)
			}
		}
	}
	var match []renewAttributeJSON
	for _, in := range list {
		if status != "" && in.RenewalStatus != status {
			continue
		}
		// Duration is the length of one automatic renewal, so 0 when auto-renewal is off
		// (Normal, NotRenewal), even after it was on (ecssim keeps the old Duration for when it
		// is switched on again without one). The reference does not settle this; 0 with the
		// unit kept breaks no client: the field stays an integer, the unit a value
		// ModifyInstanceAutoRenewAttribute accepts back. PeriodUnit is Title case (Month,
		// Year, Week) although samples show "week" too: renewbot and the request enums use
		// Title case. EnableExpectedRenewDay is in the v2 model; ecssim has no unified
		// expiration day set per instance, so false.
		duration := 0
		if in.RenewalStatus == renewAuto {
			duration = in.Duration
		}
		match = append(match, renewAttributeJSON{
			InstanceId:             in.InstanceId,
			AutoRenewEnabled:       in.RenewalStatus == renewAuto,
			Duration:               duration,
			PeriodUnit:             in.PeriodUnit,
			RenewalStatus:          in.RenewalStatus,
			EnableExpectedRenewDay: false,
		})
	}
	start := min((pageNumber-1)*pageSize, len(match))
	page := match[start:min(start+pageSize, len(match))]
	if page == nil {
		page = []renewAttributeJSON{}
	}
	return map[string]any{
		"PageNumber": pageNumber, "PageSize": pageSize, "TotalCount": len(match),
		"InstanceRenewAttributes": map[string]any{"InstanceRenewAttribute": page},
	}, nil
}

// renewAttributeJSON is one instance of a DescribeInstanceAutoRenewAttribute answer. Its
// fields are in the order of their names, as encoding/json writes a map's keys (the answer
// was a map).
type renewAttributeJSON struct {
	AutoRenewEnabled       bool
	Duration               int
	EnableExpectedRenewDay bool
	InstanceId             string
	PeriodUnit             string
	RenewalStatus          string
}

// ---- ModifyInstanceAutoRenewAttribute ----

func (s *Server) modifyAutoRenew(a *account, p params, now time.Time) (map[string]any, *apiError) {
	region := p.get("RegionId")
	ids := idList(p.get("InstanceId"))
	if len(ids) == 0 {
		return nil, errorf(403, "MissingParameter.InstanceId", "The input parameter InstanceId that is mandatory for processing this request is not supplied.")
	}
	if len(ids) > 100 {
		return nil, errorf(403, "InvalidParameter.ToManyInstanceIds", "InstanceId should be less than 100.")
	}
	status := p.get("RenewalStatus")
	if status != "" && !validRenewalStatus(status) {
		return nil, errorf(403, "InvalidParameter.RenewalStatus", "The specified RenewalStatus %q is not valid.", status)
	}
	if status == "" {
		status = renewNormal
		if p.has("AutoRenew") {
			on, err := strconv.ParseBool(p.get("AutoRenew"))
			if err != nil {
				return nil, errorf(400, "InvalidParameter", "The specified parameter AutoRenew is not valid.")
			}
			if on {
				status = renewAuto
			}
		}
	}
	unit := p.get("PeriodUnit")
	if unit == "" {
		unit = "Month"
	}
	var allowed func(int) bool
	switch unit {
	case "Month":
		allowed = func(n int) bool {
			switch n {
			case 1, 2, 3, 6, 12, 24, 36, 48, 60:
				return true
			}
			return false
		}
	case "Year":
		allowed = func(n int) bool { return n >= 1 && n <= 5 }
	case "Week":
		allowed = func(n int) bool { return n >= 1 && n <= 4 }
	default:
		return nil, errorf(403, "InvalidPeriodUnit.ValueNotSupported", "The specified parameter PeriodUnit is not valid.")
	}
	duration := 0
	if p.has("Duration") {
		n, err := strconv.Atoi(p.get("Duration"))
		if err != nil || !allowed(n) {
			return nil, errorf(403, "InvalidParameter.Duration", "The specified Duration %q is not valid for PeriodUnit %s.", p.get("Duration"), unit)
		}
		duration = n
	}
	targets := make([]*instance, 0, len(ids))
	for _, id := range ids {
		in, ok := s.inRegion(a, id, region, now)
		if !ok {
			return nil, errorf(403, "InvalidParameter.InvalidInstanceId", "The specified InstanceId %s does not exist.", id)
		}
		if !in.prePaid() {
			return nil, errorf(403, "ChargeTypeViolation", "Pay-As-You-Go instances do not support this operation.")
		}
		if status == renewAuto && in.expired(now) {
			return nil, errorf(403, "IncorrectInstanceStatus", "The current status of the resource does not support this operation: auto-renewal cannot be enabled on the expired instance %s.", id)
		}
		targets = append(targets, in)
	}
	for _, in := range targets {
		s.gen++
		in.RenewalStatus = status
		if status == renewAuto {
			in.PeriodUnit = unit
			if duration > 0 {
				in.Duration = duration
			} else if !allowed(in.Duration) {
				in.Duration = 1
			}
		}
	}
	return map[string]any{}, nil
}

// ---- automatic renewal (Options.AutoRenew) ----

// autoRenewChargeAt is when Alibaba charges an auto-renewal: 08:00 UTC+8, nine days before expiry.
func autoRenewChargeAt(expiry time.Time) time.Time {
	e := expiry.In(utc8)
	return time.Date(e.Year(), e.Month(), e.Day()-9, 8, 0, 0, 0, utc8)
}

// autoRenew charges the AutoRenewal instances whose charge time has come. s.mu is held.
func (s *Server) autoRenew(now time.Time) {
	if !s.opts.AutoRenew {
		return
	}
	ids := make([]string, 0, len(s.instances))
	for id, in := range s.instances {
		if in.RenewalStatus == renewAuto && in.prePaid() {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids) // deterministic order of charges when the balance runs short
	for _, id := range ids {
		in, ok := s.lookup(id, now)
		for i := 0; ok && i < 120; i++ {
			cur := in.latestExpiry()
			if now.Before(autoRenewChargeAt(cur)) || !now.Before(cur) {
				break
			}
			var next time.Time
			var pr price
			switch in.PeriodUnit {
			case "Year":
				next, pr = addMonths(cur, 12*in.Duration), quote(in.MonthlyPrice, 12*in.Duration, 0)
			case "Week":
				next = cur.AddDate(0, 0, 7*in.Duration)
				pr = quote(in.MonthlyPrice, 0, float64(7*in.Duration))
			default:
				next, pr = addMonths(cur, in.Duration), quote(in.MonthlyPrice, in.Duration, 0)
			}
			if in.owner.balance < pr.trade {
				break // retried on a later call, until the instance expires
			}
			in.owner.balance = round2(in.owner.balance - pr.trade)
			s.orderSeq++
			s.orders = append(s.orders, Order{
				OrderId: strconv.FormatInt(s.orderSeq, 10), AccountUID: in.owner.uid, InstanceId: id, RegionId: in.RegionId,
				Period: in.Duration, PeriodUnit: in.PeriodUnit, Amount: pr.trade, Currency: in.owner.currency,
				Time: autoRenewChargeAt(cur).UTC(), AutoRenew: true,
			})
			in.pending = append(in.pending, pendingExpiry{visibleAt: now, expiry: next})
			s.gen++
			in.settle(now)
		}
	}
}
