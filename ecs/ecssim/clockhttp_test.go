package ecssim_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/renewbot/renewbot/ecs/ecssim"
)

// clockCall sends a /_sim/clock request and decodes the answer.
func clockCall(t *testing.T, s *ecssim.Server, method, body string) (int, map[string]string) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+"/_sim/clock", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

func TestClockEndpoint(t *testing.T) {
	e := newEnv(t, nil)
	if code, got := clockCall(t, e.srv, "GET", ""); code != 200 || got["Now"] != "2026-11-25T08:00:00Z" {
		t.Fatalf("GET: %d %v", code, got)
	}
	if code, got := clockCall(t, e.srv, "POST", `{"Advance":"24h"}`); code != 200 || got["Now"] != "2026-11-26T08:00:00Z" {
		t.Fatalf("Advance 24h: %d %v", code, got)
	}
	if code, got := clockCall(t, e.srv, "POST", `{"Now":"2026-12-01T00:00:00Z"}`); code != 200 || got["Now"] != "2026-12-01T00:00:00Z" {
		t.Fatalf("Now: %d %v", code, got)
	}
	if got := e.srv.Now(); !got.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("Server.Now %v", got)
	}
	// The source clock still moves the business clock, shifted.
	e.clock.Advance(time.Hour)
	if code, got := clockCall(t, e.srv, "GET", ""); code != 200 || got["Now"] != "2026-12-01T01:00:00Z" {
		t.Fatalf("GET after the source moved: %d %v", code, got)
	}
	for _, tc := range []struct{ body, want string }{
		{`{"Advance":"-1h"}`, "only moves forward"},
		{`{"Advance":"0s"}`, "only moves forward"},
		{`{"Advance":"1d"}`, "not a duration like 24h"},
		{`{"Now":"2026-11-30T00:00:00Z"}`, "is before the clock's 2026-12-01T01:00:00Z"},
		{`{"Advance":"1h","Now":"2027-01-01T00:00:00Z"}`, "not both"},
		{`{}`, `send {"Advance":"24h"}`},
		{`{"advance":"1h","Later":1}`, "unknown field"},
		{`{"Now":"tomorrow"}`, "cannot parse"},
	} {
		code, got := clockCall(t, e.srv, "POST", tc.body)
		if code != 400 || !strings.Contains(got["error"], tc.want) {
			t.Errorf("POST %s: %d %v, want 400 with %q", tc.body, code, got, tc.want)
		}
	}
	if code, got := clockCall(t, e.srv, "GET", ""); code != 200 || got["Now"] != "2026-12-01T01:00:00Z" {
		t.Fatalf("a refused move moved the clock: %d %v", code, got)
	}
}

// TestClockMovesExpiryLockAndRelease: an instance the clock has passed the expiry of is
// Stopped, and it is released 15 days later, all through the SDK.
func TestClockMovesExpiryLockAndRelease(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client(t, "cn-hangzhou")
	status := func() string {
		req := ecs.CreateDescribeInstancesRequest()
		req.InstanceIds = `["i-a1"]`
		resp, err := c.DescribeInstances(req)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Instances.Instance) == 0 {
			return "released"
		}
		return resp.Instances.Instance[0].Status
	}
	if got := status(); got != "Running" {
		t.Fatalf("before: %s", got)
	}
	// i-a1 expires at day(3).
	clockCall(t, e.srv, "POST", `{"Now":"`+day(3).Format(time.RFC3339)+`"}`)
	if got := status(); got != "Stopped" {
		t.Fatalf("at expiry: %s", got)
	}
	r := renewReq("i-a1", "1", "")
	if _, err := c.RenewInstance(r); err != nil { // an expired, not yet released instance can be renewed
		t.Fatal(err)
	}
	clockCall(t, e.srv, "POST", `{"Advance":"10s"}`) // the renew delay
	if got := status(); got != "Running" {
		t.Fatalf("after renewing: %s", got)
	}
	// i-b1 (cn-shanghai, day(5)) is left to expire and be released.
	clockCall(t, e.srv, "POST", `{"Now":"`+day(5+15).Format(time.RFC3339)+`"}`)
	if _, ok := e.srv.Instance("i-b1"); ok {
		t.Fatal("i-b1 not released 15 days after expiry")
	}
}

// TestClockChargesAutoRenewOnTheWay: a jump past an AutoRenewal instance's expiry charges the
// deduction due on the way (nine days before expiry), so the instance never expires.
func TestClockChargesAutoRenewOnTheWay(t *testing.T) {
	e := newEnv(t, func(o *ecssim.Options) { o.AutoRenew = true })
	// i-a2: AutoRenewal, 3 months at ¥50, expires day(20); the jump lands past its expiry.
	code, got := clockCall(t, e.srv, "POST", `{"Advance":"`+(day(25).Sub(t0)).String()+`"}`)
	if code != 200 {
		t.Fatalf("advance: %d %v", code, got)
	}
	orders := e.srv.Orders()
	if len(orders) != 1 || orders[0].InstanceId != "i-a2" || !orders[0].AutoRenew || orders[0].Period != 3 {
		t.Fatalf("orders %+v", orders)
	}
	if want := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC); !orders[0].Time.Equal(want) { // 08:00 UTC+8, nine days before 2026-12-16 00:00 UTC+8
		t.Fatalf("charged at %v, want %v", orders[0].Time, want)
	}
	in, ok := e.srv.Instance("i-a2")
	if !ok || in.Status != "Running" || !in.ExpiredTime.Equal(day(20).AddDate(0, 3, 0)) {
		t.Fatalf("i-a2 %+v", in)
	}
	if acct := e.srv.Account(); acct.Balance != 1000-orders[0].Amount {
		t.Fatalf("balance %v after an order of %v", acct.Balance, orders[0].Amount)
	}
}
