package ecssim_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/renewbot/renewbot/ecs/ecssim"
)

func ids(list []ecs.Instance) []string {
	out := make([]string, 0, len(list))
	for _, in := range list {
		out = append(out, in.InstanceId)
	}
	return out
}

func TestDescribeRegions(t *testing.T) {
	e := newEnv(t, func(o *ecssim.Options) { o.Regions = []string{"ap-southeast-1"} })
	// DescribeRegions answers from any regional endpoint, like Alibaba.
	req := ecs.CreateDescribeRegionsRequest()
	req.AcceptLanguage = "en-US"
	resp, err := e.client(t, "eu-central-1").DescribeRegions(req)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range resp.Regions.Region {
		got = append(got, r.RegionId)
		if r.Status != "available" || r.LocalName == "" || r.RegionEndpoint != "ecs."+r.RegionId+".aliyuncs.com" {
			t.Fatalf("region %+v", r)
		}
	}
	if want := []string{"ap-southeast-1", "cn-hangzhou", "cn-shanghai"}; !slices.Equal(got, want) {
		t.Fatalf("regions %v, want %v", got, want)
	}
	if resp.Regions.Region[1].LocalName != "China (Hangzhou)" {
		t.Fatalf("LocalName %q", resp.Regions.Region[1].LocalName)
	}
	bad := ecs.CreateDescribeRegionsRequest()
	bad.InstanceChargeType = "Monthly"
	_, err = e.client(t, "cn-hangzhou").DescribeRegions(bad)
	serverError(t, err, 400, "InvalidInstanceChargeType.ValueNotSupported")
	bad = ecs.CreateDescribeRegionsRequest()
	bad.ResourceType = "vm"
	_, err = e.client(t, "cn-hangzhou").DescribeRegions(bad)
	serverError(t, err, 400, "InvalidResourceType.ValueNotSupported")
	// a region without instances is known: empty list, not an error
	if resp, err := e.client(t, "ap-southeast-1").DescribeInstances(ecs.CreateDescribeInstancesRequest()); err != nil || resp.TotalCount != 0 {
		t.Fatalf("empty region: %v %v", resp, err)
	}
}

func TestDescribeInstancesFields(t *testing.T) {
	e := newEnv(t, nil)
	req := ecs.CreateDescribeInstancesRequest()
	req.PageSize = "100"
	resp, err := e.client(t, "cn-hangzhou").DescribeInstances(req)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(resp.Instances.Instance); !slices.Equal(got, []string{"i-a1", "i-a2", "i-a3", "i-a4", "i-a5"}) {
		t.Fatalf("ids %v (other regions must not show, order by ID)", got)
	}
	byID := map[string]ecs.Instance{}
	for _, in := range resp.Instances.Instance {
		byID[in.InstanceId] = in
	}
	a1 := byID["i-a1"]
	if a1.ExpiredTime != "2026-11-28T16:00Z" || a1.InstanceChargeType != "PrePaid" || a1.Status != "Running" ||
		a1.RegionId != "cn-hangzhou" || a1.ZoneId != "cn-hangzhou-h" || a1.InstanceType != "ecs.g7.large" ||
		a1.InstanceName != "web-1" || a1.CreationTime == "" || a1.Cpu != 2 || len(a1.OperationLocks.LockReason) != 0 {
		t.Fatalf("i-a1 %+v", a1)
	}
	if tags := a1.Tags.Tag; len(tags) != 2 || tags[0].TagKey != "env" || tags[0].TagValue != "prod" || tags[1].TagKey != "team" {
		t.Fatalf("tags %+v", tags)
	}
	a4 := byID["i-a4"]
	if a4.Status != "Stopped" || len(a4.OperationLocks.LockReason) != 1 || a4.OperationLocks.LockReason[0].LockReason != "financial" {
		t.Fatalf("expired i-a4 %+v %+v", a4.Status, a4.OperationLocks)
	}
	if a5 := byID["i-a5"]; a5.ExpiredTime != "2099-12-31T15:59Z" || a5.InstanceChargeType != "PostPaid" {
		t.Fatalf("PostPaid i-a5 %+v", a5)
	}
	if resp.PageNumber != 1 || resp.PageSize != 100 || resp.TotalCount != 5 || resp.RequestId == "" {
		t.Fatalf("paging fields %d %d %d", resp.PageNumber, resp.PageSize, resp.TotalCount)
	}
}

func TestDescribeInstancesFilters(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client(t, "cn-hangzhou")
	tests := []struct {
		name string
		set  func(*ecs.DescribeInstancesRequest)
		want []string
	}{
		{"InstanceIds", func(r *ecs.DescribeInstancesRequest) { r.InstanceIds = `["i-a2","i-a1","i-b1","i-zz"]` }, []string{"i-a1", "i-a2"}},
		{"empty InstanceIds", func(r *ecs.DescribeInstancesRequest) { r.InstanceIds = `[]` }, nil},
		{"PrePaid", func(r *ecs.DescribeInstancesRequest) { r.InstanceChargeType = "PrePaid" }, []string{"i-a1", "i-a2", "i-a3", "i-a4"}},
		{"PostPaid", func(r *ecs.DescribeInstancesRequest) { r.InstanceChargeType = "PostPaid" }, []string{"i-a5"}},
		{"Status Stopped", func(r *ecs.DescribeInstancesRequest) { r.Status = "Stopped" }, []string{"i-a4"}},
		{"one tag", func(r *ecs.DescribeInstancesRequest) {
			r.Tag = &[]ecs.DescribeInstancesTag{{Key: "env", Value: "prod"}}
		}, []string{"i-a1", "i-a2"}},
		{"tags AND", func(r *ecs.DescribeInstancesRequest) {
			r.Tag = &[]ecs.DescribeInstancesTag{{Key: "env", Value: "prod"}, {Key: "team", Value: "data"}}
		}, []string{"i-a2"}},
		{"tag key only", func(r *ecs.DescribeInstancesRequest) { r.Tag = &[]ecs.DescribeInstancesTag{{Key: "team"}} }, []string{"i-a1", "i-a2"}},
		{"expiry window", func(r *ecs.DescribeInstancesRequest) {
			r.Filter3Key, r.Filter3Value = "ExpiredStartTime", "2026-11-25T08:00Z"
			r.Filter4Key, r.Filter4Value = "ExpiredEndTime", "2026-12-15T16:00Z"
		}, []string{"i-a1", "i-a2"}},
		{"expiry window any slot, inclusive bounds", func(r *ecs.DescribeInstancesRequest) {
			r.Filter1Key, r.Filter1Value = "ExpiredEndTime", "2026-11-28T16:00Z"
			r.Filter2Key, r.Filter2Value = "ExpiredStartTime", "2026-11-28T16:00Z"
		}, []string{"i-a1"}},
		{"InstanceName wildcard", func(r *ecs.DescribeInstancesRequest) { r.InstanceName = "web-*" }, []string{"i-a1", "i-a2"}},
		{"LockReason financial", func(r *ecs.DescribeInstancesRequest) { r.LockReason = "financial" }, []string{"i-a4"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := ecs.CreateDescribeInstancesRequest()
			req.PageSize = "100"
			tc.set(req)
			resp, err := c.DescribeInstances(req)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(resp.Instances.Instance); !slices.Equal(got, tc.want) || resp.TotalCount != len(tc.want) {
				t.Fatalf("got %v (total %d), want %v", got, resp.TotalCount, tc.want)
			}
		})
	}
}

func TestDescribeInstancesErrors(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client(t, "cn-hangzhou")
	hundredOne, _ := json.Marshal(fakeIDs(101))
	tests := []struct {
		name   string
		set    func(*ecs.DescribeInstancesRequest)
		status int
		code   string
	}{
		{"malformed InstanceIds", func(r *ecs.DescribeInstancesRequest) { r.InstanceIds = "i-a1,i-a2" }, 400, "InvalidInstanceIds.Malformed"},
		{"101 InstanceIds", func(r *ecs.DescribeInstancesRequest) { r.InstanceIds = string(hundredOne) }, 400, "InvalidParameter"},
		{"charge type", func(r *ecs.DescribeInstancesRequest) { r.InstanceChargeType = "Prepaid" }, 404, "InvalidInstanceChargeType.NotFound"},
		{"status", func(r *ecs.DescribeInstancesRequest) { r.Status = "Expired" }, 404, "InvalidStatus.NotFound"},
		{"filter key", func(r *ecs.DescribeInstancesRequest) { r.Filter1Key, r.Filter1Value = "ExpiresAt", "2026-11-25T08:00Z" }, 404, "InvalidFilterKey.NotFound"},
		{"filter time with seconds", func(r *ecs.DescribeInstancesRequest) {
			r.Filter1Key, r.Filter1Value = "ExpiredStartTime", "2026-11-25T08:00:00Z"
		}, 404, "InvalidFilterKey.NotFound"},
		{"filter value without key", func(r *ecs.DescribeInstancesRequest) { r.Filter2Value = "2026-11-25T08:00Z" }, 404, "InvalidFilterKey.NotFound"},
		{"tag value without key", func(r *ecs.DescribeInstancesRequest) { r.Tag = &[]ecs.DescribeInstancesTag{{Value: "prod"}} }, 400, "InvalidTag.Mismatch"},
		{"PageSize 101", func(r *ecs.DescribeInstancesRequest) { r.PageSize = "101" }, 400, "InvalidParameter.PageSize"},
		{"PageSize 0", func(r *ecs.DescribeInstancesRequest) { r.PageSize = "0" }, 400, "InvalidParameter.PageSize"},
		{"PageNumber 0", func(r *ecs.DescribeInstancesRequest) { r.PageNumber = "0" }, 400, "InvalidParameter.PageNumber"},
		{"bad NextToken", func(r *ecs.DescribeInstancesRequest) { r.NextToken = "garbage!" }, 400, "InvalidParameter.NextToken"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := ecs.CreateDescribeInstancesRequest()
			tc.set(req)
			_, err := c.DescribeInstances(req)
			serverError(t, err, tc.status, tc.code)
		})
	}
}

func TestDescribeInstancesPaging(t *testing.T) {
	fleet := ecssim.Generate(257, []string{"cn-hangzhou"}, 3, t0)
	e := newEnv(t, func(o *ecssim.Options) { o.Fleet = fleet })
	c := e.client(t, "cn-hangzhou")
	var want []string
	for _, in := range fleet.Instances {
		want = append(want, in.InstanceId)
	}
	// released (expired > 15 days) instances are absent; Generate makes none
	slices.Sort(want)

	t.Run("PageNumber/PageSize", func(t *testing.T) {
		var got []string
		for page := 1; ; page++ {
			req := ecs.CreateDescribeInstancesRequest()
			req.PageSize = "100"
			req.PageNumber = requestsInt(page)
			resp, err := c.DescribeInstances(req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.TotalCount != 257 || resp.PageNumber != page {
				t.Fatalf("page %d: total %d number %d", page, resp.TotalCount, resp.PageNumber)
			}
			if len(resp.Instances.Instance) == 0 {
				break
			}
			got = append(got, ids(resp.Instances.Instance)...)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("got %d ids, want %d", len(got), len(want))
		}
	})
	t.Run("default PageSize 10", func(t *testing.T) {
		resp, err := c.DescribeInstances(ecs.CreateDescribeInstancesRequest())
		if err != nil || len(resp.Instances.Instance) != 10 || resp.PageSize != 10 {
			t.Fatalf("%v %+v", err, resp)
		}
	})
	t.Run("NextToken/MaxResults", func(t *testing.T) {
		var got []string
		token, calls := "", 0
		for {
			req := ecs.CreateDescribeInstancesRequest()
			req.MaxResults = "100"
			req.NextToken = token
			resp, err := c.DescribeInstances(req)
			if err != nil {
				t.Fatal(err)
			}
			calls++
			if resp.TotalCount != 257 {
				t.Fatalf("TotalCount %d with NextToken", resp.TotalCount)
			}
			got = append(got, ids(resp.Instances.Instance)...)
			if token = resp.NextToken; token == "" {
				break
			}
		}
		if !slices.Equal(got, want) || calls != 3 {
			t.Fatalf("got %d ids in %d calls", len(got), calls)
		}
	})
	t.Run("MaxResults clamped", func(t *testing.T) {
		for _, tc := range []struct {
			max  string
			want int
		}{{"5", 10}, {"1000", 100}, {"37", 37}} {
			req := ecs.CreateDescribeInstancesRequest()
			req.MaxResults = requestsStr(tc.max)
			resp, err := c.DescribeInstances(req)
			if err != nil || len(resp.Instances.Instance) != tc.want || resp.NextToken == "" {
				t.Fatalf("MaxResults %s: %v, %d", tc.max, err, len(resp.Instances.Instance))
			}
		}
	})
}

func TestExpiredInstanceReleasedAfter15Days(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client(t, "cn-hangzhou")
	find := func() bool {
		req := ecs.CreateDescribeInstancesRequest()
		req.InstanceIds = `["i-a4"]`
		resp, err := c.DescribeInstances(req)
		if err != nil {
			t.Fatal(err)
		}
		return len(resp.Instances.Instance) == 1
	}
	if !find() {
		t.Fatal("expired instance missing before release")
	}
	// i-a4 expired at day(-5) = 2026-11-20T16:00Z; released 15 days later.
	e.clock.Advance(day(10).Sub(t0) - time.Minute)
	if !find() {
		t.Fatal("released one minute early")
	}
	e.clock.Advance(time.Minute)
	if find() {
		t.Fatal("still there 15 days after expiry")
	}
	if _, ok := e.srv.Instance("i-a4"); ok {
		t.Fatal("Instance() reports a released instance")
	}
	r := ecs.CreateRenewInstanceRequest()
	r.InstanceId, r.Period = "i-a4", "1"
	_, err := c.RenewInstance(r)
	serverError(t, err, 404, "InvalidInstanceId.NotFound")
}

// BenchmarkDescribeInstancesPage measures one signed 100-instance page of a 10,000-instance,
// 10-region fleet through the real SDK client (emulator overhead per call).
func BenchmarkDescribeInstancesPage(b *testing.B) {
	var regions []string
	for i := range 10 {
		regions = append(regions, fmt.Sprintf("cn-region%d", i))
	}
	s := ecssim.NewServer(ecssim.Options{Fleet: ecssim.Generate(10000, regions, 1, t0), Now: func() time.Time { return t0 }})
	defer s.Close()
	c, err := ecs.NewClientWithOptions("cn-region3", sdk.NewConfig(), credentials.NewStaticAKCredentialsProvider("testid", "testsecret"))
	if err != nil {
		b.Fatal(err)
	}
	c.Domain = strings.TrimPrefix(s.URL, "http://")
	c.SetNoProxy(`^127\.0\.0\.1`)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		req := ecs.CreateDescribeInstancesRequest()
		req.InstanceChargeType = "PrePaid"
		req.PageSize = "100"
		req.PageNumber = requestsInt(i%8 + 1)
		resp, err := c.DescribeInstances(req)
		if err != nil || len(resp.Instances.Instance) != 100 {
			b.Fatalf("%v %d", err, len(resp.Instances.Instance))
		}
	}
}
