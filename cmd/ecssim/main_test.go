package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	ecsapi "github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/renewbot/renewbot/ecs/ecssim"
)

func TestRunListensAndStops(t *testing.T) {
	fleet := filepath.Join(t.TempDir(), "fleet.json")
	if err := os.WriteFile(fleet, []byte(`{"balance": 10, "instances": [
	  {"InstanceId": "i-1", "RegionId": "cn-hangzhou", "ExpiredTime": "2026-12-01T16:00Z"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	certFile := filepath.Join(t.TempDir(), "ecssim.pem")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var stderr strings.Builder
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-fleet", fleet, "-balance", "250.5", "-tls-cert-out", certFile}, pw, &stderr)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`^ecssim listening on (http://127\.0\.0\.1:\d+)\n$`).FindStringSubmatch(line)
	if m == nil || strings.HasSuffix(m[1], ":0") {
		t.Fatalf("line %q", line)
	}
	// -tls-cert-out: the same port answers https with the certificate written there.
	pemBytes, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatalf("-tls-cert-out wrote %q", pemBytes)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.CloseIdleConnections()
	tlsResp, err := (&http.Client{Transport: tr}).Get("https://" + strings.TrimPrefix(m[1], "http://") + "/_sim/account")
	if err != nil {
		t.Fatal(err)
	}
	tlsResp.Body.Close()
	if tlsResp.StatusCode != 200 || tlsResp.TLS == nil {
		t.Fatalf("https: %d %v", tlsResp.StatusCode, tlsResp.TLS)
	}
	resp, err := http.Get(m[1] + "/_sim/account")
	if err != nil {
		t.Fatal(err)
	}
	var acc struct {
		Balance  float64
		Currency string
	}
	err = json.NewDecoder(resp.Body).Decode(&acc)
	resp.Body.Close()
	if err != nil || acc.Balance != 250.5 || acc.Currency != "CNY" {
		t.Fatalf("account %+v %v", acc, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	if rest, _ := io.ReadAll(pr); len(rest) != 0 {
		t.Fatalf("more stdout after the line: %q", rest)
	}
}

func TestRunBadInput(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"instances": [{"InstanceId": "i-9", "RegionId": "cn-hangzhou", "InstanceChargeType": "Monthly"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-nope"}, "flag provided but not defined"},
		{[]string{"-generate", "-3"}, "-generate"},
		{[]string{"-generate", "3", "-fleet", bad}, "exclusive"},
		{[]string{"-fleet", bad}, `i-9): unknown InstanceChargeType "Monthly"`},
		{[]string{"-fleet", filepath.Join(t.TempDir(), "none.json")}, "no such file"},
		{[]string{"-regions", "cn hangzhou"}, "-regions"},
		{[]string{"-regions", "cn-hangzhou,-x"}, "-regions"},
		{[]string{"-balance", "lots"}, "not a number"},
		{[]string{"-balance", "-5"}, "negative"},
		{[]string{"-throttle", "-1"}, "must not be negative"},
		{[]string{"-throttle", "2", "-throttle-burst", "-2"}, "must not be negative"},
		{[]string{"-listen", "256.0.0.1:99999"}, "-listen"},
		{[]string{"-access-key-id", ""}, "must not be empty"},
		{[]string{"extra"}, "unexpected arguments"},
	}
	for _, tc := range tests {
		var stdout, stderr strings.Builder
		err := run(context.Background(), tc.args, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error()+stderr.String(), tc.want) {
			t.Errorf("%v: err %v stderr %q, want %q", tc.args, err, stderr.String(), tc.want)
		}
		if stdout.Len() != 0 {
			t.Errorf("%v: stdout %q", tc.args, stdout.String())
		}
	}
}

// start runs the command with args and returns its URL; the command stops at test end.
func start(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"-listen", "127.0.0.1:0"}, args...), pw, io.Discard)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	url, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "ecssim listening on ")
	if !ok {
		t.Fatalf("line %q", line)
	}
	return url
}

func sdkClient(t *testing.T, url, region, ak, sk string) *ecsapi.Client {
	t.Helper()
	c, err := ecsapi.NewClientWithAccessKey(region, ak, sk)
	if err != nil {
		t.Fatal(err)
	}
	c.Domain = strings.TrimPrefix(url, "http://")
	c.SetNoProxy(`^127\.0\.0\.1`)
	return c
}

// TestRunFlags checks that -generate, -regions, -seed, the access key flags and
// -renew-delay reach the emulator.
func TestRunFlags(t *testing.T) {
	regions := []string{"cn-test-1", "cn-test-2"}
	url := start(t, "-generate", "30", "-regions", strings.Join(regions, ","), "-seed", "9",
		"-access-key-id", "AK9", "-access-key-secret", "SK9", "-renew-delay", "0s")

	if _, err := sdkClient(t, url, "cn-test-1", "testid", "testsecret").DescribeRegions(ecsapi.CreateDescribeRegionsRequest()); err == nil ||
		!strings.Contains(err.Error(), "InvalidAccessKeyId.NotFound") {
		t.Fatalf("default key accepted: %v", err)
	}
	c := sdkClient(t, url, "cn-test-1", "AK9", "SK9")
	resp, err := c.DescribeRegions(ecsapi.CreateDescribeRegionsRequest())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range resp.Regions.Region {
		got = append(got, r.RegionId)
	}
	if !slices.Equal(got, regions) {
		t.Fatalf("regions %v, want %v", got, regions)
	}

	// 30 generated instances, 15 per region; the first ID follows from the seed.
	firstID := ecssim.Generate(1, regions, 9, time.Now()).Instances[0].InstanceId
	var ids []string
	for _, r := range regions {
		req := ecsapi.CreateDescribeInstancesRequest()
		req.RegionId, req.PageSize = r, "100"
		resp, err := c.DescribeInstances(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.TotalCount != 15 {
			t.Fatalf("%s: %d instances, want 15", r, resp.TotalCount)
		}
		for _, in := range resp.Instances.Instance {
			ids = append(ids, in.InstanceId)
		}
	}
	if !slices.Contains(ids, firstID) {
		t.Fatalf("-seed 9: %s not among %v", firstID, ids)
	}

	// -renew-delay 0s: a renewal is visible at once.
	attrs := ecsapi.CreateDescribeInstanceAutoRenewAttributeRequest()
	attrs.RegionId, attrs.RenewalStatus, attrs.PageSize = "cn-test-1", "Normal", "100"
	ar, err := c.DescribeInstanceAutoRenewAttribute(attrs)
	if err != nil {
		t.Fatal(err)
	}
	var normal []string
	for _, a := range ar.InstanceRenewAttributes.InstanceRenewAttribute {
		normal = append(normal, a.InstanceId)
	}
	expiry := func() ecsapi.Instance {
		t.Helper()
		req := ecsapi.CreateDescribeInstancesRequest()
		req.RegionId, req.Status, req.InstanceChargeType, req.PageSize = "cn-test-1", "Running", "PrePaid", "100"
		b, _ := json.Marshal(normal)
		req.InstanceIds = string(b)
		resp, err := c.DescribeInstances(req)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Instances.Instance) == 0 {
			t.Fatalf("no running Normal PrePaid instance in cn-test-1 among %v", normal)
		}
		return resp.Instances.Instance[0]
	}
	before := expiry()
	renew := ecsapi.CreateRenewInstanceRequest()
	renew.RegionId, renew.InstanceId, renew.Period = "cn-test-1", before.InstanceId, "1"
	if _, err := c.RenewInstance(renew); err != nil {
		t.Fatal(err)
	}
	old, _ := time.Parse("2006-01-02T15:04Z", before.ExpiredTime)
	normal = []string{before.InstanceId}
	if after := expiry(); after.ExpiredTime != old.AddDate(0, 1, 0).Format("2006-01-02T15:04Z") {
		t.Fatalf("%s expires %s after a 1-month renewal, was %s", before.InstanceId, after.ExpiredTime, before.ExpiredTime)
	}
}

// TestRunThrottle: -throttle and -throttle-burst reach the emulator: the call after the burst
// is refused with 400 Throttling and counted in /_sim/throttled.
func TestRunThrottle(t *testing.T) {
	url := start(t, "-generate", "10", "-regions", "cn-test-1", "-throttle", "0.001", "-throttle-burst", "2")
	c := sdkClient(t, url, "cn-test-1", "testid", "testsecret")
	for i := range 3 {
		req := ecsapi.CreateDescribeInstancesRequest()
		req.RegionId = "cn-test-1"
		_, err := c.DescribeInstances(req)
		if i < 2 && err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
		if i == 2 && (err == nil || !strings.Contains(err.Error(), "Throttling")) {
			t.Fatalf("call 3: %v, want Throttling", err)
		}
	}
	resp, err := http.Get(url + "/_sim/throttled")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got map[string]int
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || got["DescribeInstances"] != 1 || len(got) != 1 {
		t.Fatalf("/_sim/throttled %v (%v), want DescribeInstances 1", got, err)
	}
}
