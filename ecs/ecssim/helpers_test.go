package ecssim_test

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/renewbot/renewbot/ecs/ecssim"
)

// t0 is the business "now" of most tests: 2026-11-25 08:00 UTC.
var t0 = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)

// day returns 16:00Z (00:00 UTC+8) d days after t0's date.
func day(d int) time.Time {
	return time.Date(2026, 11, 25, 16, 0, 0, 0, time.UTC).AddDate(0, 0, d)
}

// testFleet: two regions, PrePaid (normal, auto-renew, NotRenewal, expired), PostPaid.
func testFleet() ecssim.Fleet {
	return ecssim.Fleet{Balance: 1000, Currency: "CNY", Instances: []ecssim.FleetInstance{
		{InstanceId: "i-a1", InstanceName: "web-1", RegionId: "cn-hangzhou", ZoneId: "cn-hangzhou-h", InstanceType: "ecs.g7.large",
			ExpiredTime: day(3), MonthlyPrice: 100, Tags: map[string]string{"env": "prod", "team": "web"}},
		{InstanceId: "i-a2", InstanceName: "web-2", RegionId: "cn-hangzhou", ExpiredTime: day(20), MonthlyPrice: 50,
			RenewalStatus: "AutoRenewal", Duration: 3, Tags: map[string]string{"env": "prod", "team": "data"}},
		{InstanceId: "i-a3", InstanceName: "db-1", RegionId: "cn-hangzhou", ExpiredTime: day(40), MonthlyPrice: 80,
			RenewalStatus: "NotRenewal", Tags: map[string]string{"env": "staging"}},
		{InstanceId: "i-a4", InstanceName: "old-1", RegionId: "cn-hangzhou", ExpiredTime: day(-5), MonthlyPrice: 10, Status: "Stopped"},
		{InstanceId: "i-a5", InstanceName: "payg-1", RegionId: "cn-hangzhou", InstanceChargeType: "PostPaid"},
		{InstanceId: "i-b1", InstanceName: "sh-1", RegionId: "cn-shanghai", ExpiredTime: day(5), MonthlyPrice: 200},
	}}
}

type env struct {
	srv   *ecssim.Server
	clock *ecssim.Clock
}

func newEnv(t *testing.T, mod func(*ecssim.Options)) *env {
	t.Helper()
	c := ecssim.NewClock(t0)
	opts := ecssim.Options{Fleet: testFleet(), Now: c.Now, RenewDelay: 10 * time.Second, Seed: 1}
	if mod != nil {
		mod(&opts)
	}
	s := ecssim.NewServer(opts)
	t.Cleanup(s.Close)
	return &env{srv: s, clock: c}
}

// client returns a real SDK client for region pointed at the emulator.
func (e *env) client(t *testing.T, region string) *ecs.Client {
	t.Helper()
	return sdkClient(t, e.srv, region, "testid", "testsecret")
}

func sdkClient(t *testing.T, s *ecssim.Server, region, ak, sk string) *ecs.Client {
	t.Helper()
	c, err := ecs.NewClientWithOptions(region, sdk.NewConfig(), credentials.NewStaticAKCredentialsProvider(ak, sk))
	if err != nil {
		t.Fatal(err)
	}
	c.Domain = strings.TrimPrefix(s.URL, "http://")
	c.SetNoProxy(`^127\.0\.0\.1`) // the SDK would send loopback calls through HTTP_PROXY otherwise
	c.SetReadTimeout(5 * time.Second)
	return c
}

// serverError asserts err is an SDK ServerError with the given status and code.
func serverError(t *testing.T, err error, status int, code string) *sdkerrors.ServerError {
	t.Helper()
	var se *sdkerrors.ServerError
	if !errors.As(err, &se) {
		t.Fatalf("want ServerError %d %s, got %v", status, code, err)
	}
	if se.HttpStatus() != status || se.ErrorCode() != code {
		t.Fatalf("want %d %s, got %d %s: %s", status, code, se.HttpStatus(), se.ErrorCode(), se.Message())
	}
	if se.RequestId() == "" || se.HostId() == "" || se.Message() == "" {
		t.Fatalf("error lacks RequestId/HostId/Message: %v", se)
	}
	return se
}

// signed builds a signed raw request (as the SDK does: all parameters in the query). A key
// of p set to nil is left out instead of getting its default (p["RegionId"] = nil: no RegionId).
func signed(t *testing.T, s *ecssim.Server, method string, p url.Values, secret string) *http.Request {
	t.Helper()
	defaults := map[string]string{
		"Format": "JSON", "Version": "2014-05-26", "AccessKeyId": "testid", "SignatureMethod": "HMAC-SHA1",
		"SignatureVersion": "1.0", "SignatureType": "", "Timestamp": time.Now().UTC().Format("2006-01-02T15:04:05Z"),
		"SignatureNonce": rand.Text(), "RegionId": "cn-hangzhou",
	}
	for k, v := range defaults {
		if _, ok := p[k]; !ok {
			p.Set(k, v)
		}
	}
	for k, v := range p {
		if v == nil {
			delete(p, k)
		}
	}
	p.Set("Signature", ecssim.Sign(ecssim.StringToSign(method, p), secret))
	req, err := http.NewRequest(method, s.URL+"/?"+p.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// do sends a raw request and decodes the JSON body.
func do(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

func requestsInt(n int) requests.Integer    { return requests.NewInteger(n) }
func requestsStr(s string) requests.Integer { return requests.Integer(s) }

// fakeIDs returns n instance IDs the emulator does not know: i-x0, i-x1, ...
func fakeIDs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("i-x%d", i)
	}
	return out
}
