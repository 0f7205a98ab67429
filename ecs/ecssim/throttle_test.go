package ecssim_test

import (
	"maps"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/renewbot/renewbot/ecs/ecssim"
)

// TestThrottlePerAccountRegionAPI: Options.Throttle keeps one bucket per (account, region,
// API): once a bucket's burst is spent its calls get 400 Throttling and are not carried out,
// while the same API in another region, another API, and another account still answer.
func TestThrottlePerAccountRegionAPI(t *testing.T) {
	e := newEnv(t, func(o *ecssim.Options) {
		o.Fleet.Accounts = []ecssim.FleetAccount{{UID: "2000000000000002", Name: "prod", AccessKeyID: "AKprod",
			AccessKeySecret: "SKprod", Balance: 10, Instances: []ecssim.FleetInstance{{InstanceId: "i-p1", RegionId: "cn-hangzhou", ExpiredTime: day(3)}}}}
		o.Throttle = ecssim.Throttle{PerSecond: 0.001, Burst: 2} // no token comes back during the test
	})
	hz := e.client(t, "cn-hangzhou")
	describe := func(c *ecs.Client, region string) error {
		req := ecs.CreateDescribeInstancesRequest()
		req.RegionId = region
		_, err := c.DescribeInstances(req)
		return err
	}
	for i := range 2 {
		if err := describe(hz, "cn-hangzhou"); err != nil {
			t.Fatalf("call %d within the burst: %v", i+1, err)
		}
	}
	serverError(t, describe(hz, "cn-hangzhou"), 400, "Throttling")
	if err := describe(hz, "cn-shanghai"); err != nil {
		t.Fatalf("another region's bucket: %v", err)
	}
	if err := describe(sdkClient(t, e.srv, "cn-hangzhou", "AKprod", "SKprod"), "cn-hangzhou"); err != nil {
		t.Fatalf("another account's bucket: %v", err)
	}
	modify := func() error {
		req := ecs.CreateModifyInstanceAutoRenewAttributeRequest()
		req.RegionId, req.InstanceId, req.RenewalStatus = "cn-hangzhou", "i-a1", "NotRenewal"
		_, err := hz.ModifyInstanceAutoRenewAttribute(req)
		return err
	}
	for range 2 {
		if err := modify(); err != nil {
			t.Fatalf("another API's bucket: %v", err)
		}
	}
	// A throttled call is not carried out.
	if _, err := hz.ModifyInstanceAutoRenewAttribute(func() *ecs.ModifyInstanceAutoRenewAttributeRequest {
		req := ecs.CreateModifyInstanceAutoRenewAttributeRequest()
		req.RegionId, req.InstanceId, req.RenewalStatus = "cn-hangzhou", "i-a1", "AutoRenewal"
		return req
	}()); err == nil {
		t.Fatal("third ModifyInstanceAutoRenewAttribute was not throttled")
	}
	req := ecs.CreateDescribeInstanceAutoRenewAttributeRequest()
	req.RegionId, req.InstanceId = "cn-hangzhou", "i-a1"
	ar, err := hz.DescribeInstanceAutoRenewAttribute(req)
	if err != nil {
		t.Fatal(err)
	}
	if got := ar.InstanceRenewAttributes.InstanceRenewAttribute[0].RenewalStatus; got != "NotRenewal" {
		t.Fatalf("RenewalStatus %s after a throttled change, want NotRenewal", got)
	}
	want := map[string]int{"DescribeInstances": 1, "ModifyInstanceAutoRenewAttribute": 1}
	if got := e.srv.Throttled(); !maps.Equal(got, want) {
		t.Fatalf("Throttled() = %v, want %v", got, want)
	}
}

// TestNoThrottleByDefault: without Options.Throttle no call is refused.
func TestNoThrottleByDefault(t *testing.T) {
	e := newEnv(t, nil)
	hz := e.client(t, "cn-hangzhou")
	for i := range 50 {
		req := ecs.CreateDescribeInstancesRequest()
		req.RegionId = "cn-hangzhou"
		if _, err := hz.DescribeInstances(req); err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
	}
	if got := e.srv.Throttled(); len(got) != 0 {
		t.Fatalf("Throttled() = %v, want none", got)
	}
}
