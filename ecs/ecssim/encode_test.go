package ecssim

import (
	"encoding/json"
	"net/url"
	"testing"
	"time"
)

// asMarshaled turns the rawJSON in an answer into json.RawMessage, so that json.Marshal
// writes what appendJSON should.
func asMarshaled(v any) any {
	switch v := v.(type) {
	case rawJSON:
		return json.RawMessage(v)
	case []rawJSON:
		out := make([]json.RawMessage, len(v))
		for i, r := range v {
			out[i] = json.RawMessage(r)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = asMarshaled(x)
		}
		return out
	}
	return v
}

func encodeFleet(now time.Time) Fleet {
	f := Generate(250, []string{"cn-hangzhou"}, 3, now)
	// Characters json.Marshal escapes: HTML, U+2028, invalid UTF-8; and non-ASCII it keeps.
	f.Instances[0].Tags["note"] = "<b>&\u2028 \xff 杭州 \"q\""
	f.Instances[0].InstanceName = "web<1>&co"
	return f
}

// TestAppendJSONIsMarshal: the answers ecssim writes with appendJSON, cached instance
// encodings included, are byte for byte what json.Marshal wrote before the cache.
func TestAppendJSONIsMarshal(t *testing.T) {
	now := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	s := NewUnstartedServer(Options{Fleet: encodeFleet(now), Now: func() time.Time { return now }})
	a := s.accounts[0]
	for _, p := range []url.Values{
		{"Action": {"DescribeInstances"}, "RegionId": {"cn-hangzhou"}, "PageSize": {"100"}, "PageNumber": {"1"}},
		{"Action": {"DescribeInstances"}, "RegionId": {"cn-hangzhou"}, "PageSize": {"100"}, "PageNumber": {"3"}},
		{"Action": {"DescribeInstances"}, "RegionId": {"cn-hangzhou"}, "PageSize": {"100"}, "PageNumber": {"9"}}, // empty page
		{"Action": {"DescribeInstances"}, "RegionId": {"cn-hangzhou"}, "MaxResults": {"20"}},
		{"Action": {"DescribeInstanceAutoRenewAttribute"}, "RegionId": {"cn-hangzhou"}, "RenewalStatus": {"AutoRenewal"}, "PageSize": {"100"}},
		{"Action": {"DescribeRegions"}, "RegionId": {"cn-hangzhou"}},
	} {
		for range 2 { // the second time from the cache
			s.mu.Lock()
			act := s.actions()[p.Get("Action")]
			body, e := act(s, a, params(p), now)
			s.mu.Unlock()
			if e != nil {
				t.Fatalf("%v: %s %s", p, e.Code, e.Message)
			}
			body["RequestId"] = "0F0E"
			got, err := appendJSON(nil, body)
			if err != nil {
				t.Fatal(err)
			}
			want, err := json.Marshal(asMarshaled(body))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Fatalf("%v:\nappendJSON %s\njson.Marshal %s", p, got, want)
			}
		}
	}
}

// TestEncodedFollowsChanges: an instance's cached encoding is what viewInstance shows now,
// after a renewal became visible and after the instance expired.
func TestEncodedFollowsChanges(t *testing.T) {
	now := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	clock := NewClock(now)
	f := encodeFleet(now)
	f.Instances[0].InstanceChargeType, f.Instances[0].Status = chargePrePaid, "Running"
	f.Instances[0].ExpiredTime = now.Add(48 * time.Hour)
	f.Instances[0].RenewalStatus = renewNormal
	id := f.Instances[0].InstanceId
	s := NewUnstartedServer(Options{Fleet: f, Now: clock.Now, RenewDelay: time.Hour})
	check := func(when string) {
		t.Helper()
		s.mu.Lock()
		defer s.mu.Unlock()
		in, ok := s.lookup(id, clock.Now())
		if !ok {
			t.Fatalf("%s: %s is gone", when, id)
		}
		want, err := json.Marshal(viewInstance(in, clock.Now()))
		if err != nil {
			t.Fatal(err)
		}
		if got := in.encoded(clock.Now()); string(got) != string(want) {
			t.Fatalf("%s: cached\n%s\nwant\n%s", when, got, want)
		}
	}
	check("at the start")
	clock.Advance(72 * time.Hour) // expired: Stopped, locked
	check("expired")
	s.mu.Lock()
	_, e := s.renewInstance(s.accounts[0], params{"InstanceId": {id}, "Period": {"1"}}, clock.Now())
	s.mu.Unlock()
	if e != nil {
		t.Fatalf("renew: %s %s", e.Code, e.Message)
	}
	check("renewed, not visible yet")
	clock.Advance(2 * time.Hour)
	check("renewal visible")
	var renewed map[string]any
	s.mu.Lock()
	in, _ := s.lookup(id, clock.Now())
	err := json.Unmarshal(in.encoded(clock.Now()), &renewed)
	s.mu.Unlock()
	if err != nil || renewed["Status"] != "Running" || renewed["ExpiredTime"] == "" {
		t.Fatalf("renewed instance shows %v (%v)", renewed, err)
	}
}

// TestRenewAttributeJSONIsTheMap: renewAttributeJSON encodes as the map it replaced.
func TestRenewAttributeJSONIsTheMap(t *testing.T) {
	v := renewAttributeJSON{InstanceId: "i-1<&>", AutoRenewEnabled: true, Duration: 3, PeriodUnit: "Month", RenewalStatus: renewAuto}
	got, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	want, err := json.Marshal(map[string]any{
		"InstanceId": v.InstanceId, "AutoRenewEnabled": true, "Duration": 3, "PeriodUnit": "Month",
		"RenewalStatus": renewAuto, "EnableExpectedRenewDay": false,
	})
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("struct %s\nmap    %s", got, want)
	}
}
