package ecssim_test

import (
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
)

func TestSmokeSDK(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client(t, "cn-hangzhou")
	rr, err := c.DescribeRegions(ecs.CreateDescribeRegionsRequest())
	if err != nil {
		t.Fatal(err)
	}
	if len(rr.Regions.Region) != 2 {
		t.Fatalf("regions %+v", rr.Regions)
	}
	req := ecs.CreateDescribeInstancesRequest()
	req.PageSize = "100"
	resp, err := c.DescribeInstances(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.TotalCount != 5 || len(resp.Instances.Instance) != 5 {
		t.Fatalf("got %d / %d", resp.TotalCount, len(resp.Instances.Instance))
	}
	r := ecs.CreateRenewInstanceRequest()
	r.InstanceId = "i-a1"
	r.Period = "1"
	r.ClientToken = "tok-1"
	out, err := c.RenewInstance(r)
	if err != nil {
		t.Fatal(err)
	}
	if out.OrderId == "" {
		t.Fatal("no order id")
	}
}
