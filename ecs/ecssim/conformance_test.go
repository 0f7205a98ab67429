package ecssim_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/renewbot/renewbot/ecs/ecssim"
)

// The conformance tests run the seed article's operations with clients written by Alibaba
// (the v2 Go SDK with both signatures, Node's @alicloud/pop-core; the v1 Go SDK is what the
// rest of the tests use) against one fleet, and check both what the client saw and what the
// emulator did.

// conformanceWindow is the expiry window the clients ask for: t0 to t0 + 30 days.
var (
	conformanceFrom = t0.Truncate(time.Minute)
	conformanceTo   = day(30)
)

// conformanceFleet: 23 PrePaid instances in cn-hangzhou expiring within the window (three
// pages of 10), one expiring after it, one AutoRenewal and one NotRenewal outside it, one
// pay-as-you-go, and one instance in cn-shanghai.
func conformanceFleet() ecssim.Fleet {
	f := ecssim.Fleet{Balance: 10000, Currency: "CNY"}
	for i := 1; i <= 23; i++ {
		f.Instances = append(f.Instances, ecssim.FleetInstance{
			InstanceId: fmt.Sprintf("i-conf%02d", i), RegionId: "cn-hangzhou", ExpiredTime: day(i), MonthlyPrice: 100,
		})
	}
	f.Instances = append(f.Instances,
		ecssim.FleetInstance{InstanceId: "i-late", RegionId: "cn-hangzhou", ExpiredTime: day(200), MonthlyPrice: 100},
		ecssim.FleetInstance{InstanceId: "i-auto", RegionId: "cn-hangzhou", ExpiredTime: day(40), MonthlyPrice: 100,
			RenewalStatus: "AutoRenewal", Duration: 3},
		ecssim.FleetInstance{InstanceId: "i-not", RegionId: "cn-hangzhou", ExpiredTime: day(50), MonthlyPrice: 100,
			RenewalStatus: "NotRenewal"},
		ecssim.FleetInstance{InstanceId: "i-payg", RegionId: "cn-hangzhou", InstanceChargeType: "PostPaid"},
		ecssim.FleetInstance{InstanceId: "i-sh1", RegionId: "cn-shanghai", ExpiredTime: day(5), MonthlyPrice: 200},
	)
	return f
}

// conformanceExpiring are the IDs DescribeInstances must return for the window, in order.
func conformanceExpiring() []string {
	var out []string
	for i := 1; i <= 23; i++ {
		out = append(out, fmt.Sprintf("i-conf%02d", i))
	}
	return out
}

// conformanceRenewed is the instance each client renews, with the ClientToken it uses.
const (
	conformanceRenewed = "i-conf02"
	conformanceModify  = "i-conf03" // set to AutoRenewal, 6 months, and read back
)

func newConformanceSim(t *testing.T) *ecssim.Server {
	t.Helper()
	c := ecssim.NewClock(t0)
	s := ecssim.NewServer(ecssim.Options{Fleet: conformanceFleet(), Now: c.Now, RenewDelay: -1, Seed: 1})
	t.Cleanup(s.Close)
	return s
}

// checkConformanceEffects checks what the emulator did: one order for the renewed instance
// with the client's token, and the modified instance's auto-renewal.
func checkConformanceEffects(t *testing.T, s *ecssim.Server, token, orderID string) {
	t.Helper()
	orders := s.Orders()
	if len(orders) != 1 || orders[0].InstanceId != conformanceRenewed || orders[0].ClientToken != token ||
		orders[0].OrderId != orderID || orders[0].RegionId != "cn-hangzhou" {
		t.Errorf("orders %+v, want one for %s with token %s and OrderId %s", orders, conformanceRenewed, token, orderID)
	}
	in, ok := s.Instance(conformanceModify)
	if !ok || in.RenewalStatus != "AutoRenewal" || in.Duration != 6 || in.PeriodUnit != "Month" {
		t.Errorf("%s after Modify: %+v", conformanceModify, in)
	}
}
