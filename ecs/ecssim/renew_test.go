package ecssim_test

import (
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/renewbot/renewbot/ecs/ecssim"
)

func renewReq(id, period, token string) *ecs.RenewInstanceRequest {
	r := ecs.CreateRenewInstanceRequest()
	r.InstanceId = id
	r.Period = requestsStr(period)
	r.ClientToken = token
	return r
}

func expiredTime(t *testing.T, c *ecs.Client, id string) string {
	t.Helper()
	req := ecs.CreateDescribeInstancesRequest()
	req.InstanceIds = `["` + id + `"]`
	resp, err := c.DescribeInstances(req)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Instances.Instance) != 1 {
		t.Fatalf("%s not found", id)
	}
	return resp.Instances.Instance[0].ExpiredTime
}

func TestRenewHappyPathAndDelay(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client(t, "cn-hangzhou")
	resp, err := c.RenewInstance(renewReq("i-a1", "3", "tok-happy"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.OrderId == "" || strings.Trim(resp.OrderId, "0123456789") != "" || resp.RequestId == "" {
		t.Fatalf("OrderId %q RequestId %q", resp.OrderId, resp.RequestId)
	}
	orders := e.srv.Orders()
	want := ecssim.Order{OrderId: resp.OrderId, InstanceId: "i-a1", RegionId: "cn-hangzhou", ClientToken: "tok-happy",
		Period: 3, PeriodUnit: "Month", Amount: 300, Currency: "CNY", Time: t0, AccountUID: ecssim.DefaultAccountUID}
	if len(orders) != 1 || orders[0] != want {
		t.Fatalf("orders %+v, want %+v", orders, want)
	}
	if acc := e.srv.Account(); acc.Balance != 700 || acc.Currency != "CNY" {
		t.Fatalf("account %+v", acc)
	}
	// not visible before RenewDelay
	if got := expiredTime(t, c, "i-a1"); got != "2026-11-28T16:00Z" {
		t.Fatalf("visible too early: %s", got)
	}
	e.clock.Advance(10*time.Second - time.Millisecond)
	if got := expiredTime(t, c, "i-a1"); got != "2026-11-28T16:00Z" {
		t.Fatalf("visible too early: %s", got)
	}
	e.clock.Advance(time.Millisecond)
	if got := expiredTime(t, c, "i-a1"); got != "2027-02-28T16:00Z" {
		t.Fatalf("after delay: %s, want old + 3 calendar months", got)
	}
	if in, _ := e.srv.Instance("i-a1"); !in.ExpiredTime.Equal(day(3).AddDate(0, 3, 0)) {
		t.Fatalf("Instance() %v", in.ExpiredTime)
	}
}

func TestRenewStacksAndImmediateDelay(t *testing.T) {
	e := newEnv(t, func(o *ecssim.Options) { o.RenewDelay = -1 })
	c := e.client(t, "cn-shanghai")
	for _, tok := range []string{"s1", "s2"} {
		if _, err := c.RenewInstance(renewReq("i-b1", "1", tok)); err != nil {
			t.Fatal(err)
		}
	}
	if got := expiredTime(t, c, "i-b1"); got != "2027-01-30T16:00Z" {
		t.Fatalf("two 1-month renewals from 2026-11-30T16:00Z: %s", got)
	}
}

func TestRenewExpiredInstanceUnlocks(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client(t, "cn-hangzhou")
	if _, err := c.RenewInstance(renewReq("i-a4", "1", "")); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(10 * time.Second)
	req := ecs.CreateDescribeInstancesRequest()
	req.InstanceIds = `["i-a4"]`
	resp, err := c.DescribeInstances(req)
	if err != nil {
		t.Fatal(err)
	}
	in := resp.Instances.Instance[0]
	if in.Status != "Running" || len(in.OperationLocks.LockReason) != 0 || in.ExpiredTime != "2026-12-20T16:00Z" {
		t.Fatalf("renewed expired instance: %s %+v %s", in.Status, in.OperationLocks, in.ExpiredTime)
	}
	// it is released 15 days after its new expiry
	e.clock.Advance(day(60).Sub(t0))
	if _, ok := e.srv.Instance("i-a4"); ok {
		t.Fatal("expected release 15 days after the new expiry")
	}
}

func TestRenewIdempotency(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client(t, "cn-hangzhou")
	first, err := c.RenewInstance(renewReq("i-a1", "1", "tok-idem"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.RenewInstance(renewReq("i-a1", "1", "tok-idem"))
	if err != nil {
		t.Fatal(err)
	}
	if again.OrderId != first.OrderId || again.RequestId == first.RequestId {
		t.Fatalf("retry: order %s vs %s, request %s vs %s", again.OrderId, first.OrderId, again.RequestId, first.RequestId)
	}
	_, err = c.RenewInstance(renewReq("i-a1", "2", "tok-idem"))
	serverError(t, err, 400, "IdempotenceParamNotMatch")
	_, err = c.RenewInstance(renewReq("i-a2", "1", "tok-idem"))
	serverError(t, err, 400, "IdempotenceParamNotMatch")
	if n := len(e.srv.Orders()); n != 1 {
		t.Fatalf("%d orders, want 1", n)
	}
	if b := e.srv.Account().Balance; b != 900 {
		t.Fatalf("balance %v, want one charge of 100", b)
	}
	// A token whose first call failed is not burnt.
	e.srv.SetBalance(0)
	_, err = c.RenewInstance(renewReq("i-a2", "1", "tok-poor"))
	serverError(t, err, 403, "InvalidAccountStatus.NotEnoughBalance")
	e.srv.SetBalance(50)
	if _, err := c.RenewInstance(renewReq("i-a2", "1", "tok-poor")); err != nil {
		t.Fatal(err)
	}
	if b := e.srv.Account().Balance; b != 0 {
		t.Fatalf("balance %v", b)
	}
}

func TestRenewConcurrentSameToken(t *testing.T) {
	e := newEnv(t, nil)
	var wg sync.WaitGroup
	orders := make([]string, 8)
	for i := range orders {
		wg.Go(func() {
			resp, err := e.client(t, "cn-hangzhou").RenewInstance(renewReq("i-a1", "1", "tok-race"))
			var se *sdkerrors.ServerError
			if errors.As(err, &se) && se.ErrorCode() == "Idempotence.Processing" {
				return // overlapped the call that places the order, as on Alibaba
			}
			if err != nil {
				t.Error(err)
				return
			}
			orders[i] = resp.OrderId
		})
	}
	wg.Wait()
	first := ""
	for _, o := range orders {
		if first == "" {
			first = o
		}
		if o != "" && o != first {
			t.Fatalf("orders %v", orders)
		}
	}
	if n := len(e.srv.Orders()); n != 1 {
		t.Fatalf("%d orders", n)
	}
}

func TestRenewErrors(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		name   string
		region string
		set    func(*ecs.RenewInstanceRequest)
		status int
		code   string
	}{
		{"missing InstanceId", "", func(r *ecs.RenewInstanceRequest) { r.InstanceId = "" }, 400, "MissingParameter"},
		{"unknown", "", func(r *ecs.RenewInstanceRequest) { r.InstanceId = "i-nope" }, 404, "InvalidInstanceId.NotFound"},
		{"other region", "cn-shanghai", nil, 404, "InvalidInstanceId.NotFound"},
		{"PostPaid", "", func(r *ecs.RenewInstanceRequest) { r.InstanceId = "i-a5" }, 403, "ChargeTypeViolation"},
		{"NotRenewal", "", func(r *ecs.RenewInstanceRequest) { r.InstanceId = "i-a3" }, 403, "IncorrectInstanceStatus"},
		{"period 10", "", func(r *ecs.RenewInstanceRequest) { r.Period = "10" }, 400, "InvalidPeriod"},
		{"period 0", "", func(r *ecs.RenewInstanceRequest) { r.Period = "0" }, 400, "InvalidPeriod"},
		{"period 24", "", func(r *ecs.RenewInstanceRequest) { r.Period = "24" }, 400, "InvalidPeriod"},
		{"period x", "", func(r *ecs.RenewInstanceRequest) { r.Period = "x" }, 400, "InvalidPeriod"},
		{"unit Year", "", func(r *ecs.RenewInstanceRequest) { r.PeriodUnit = "Year" }, 400, "InvalidPeriodUnit.ValueNotSupported"},
		{"unit Week", "", func(r *ecs.RenewInstanceRequest) { r.PeriodUnit = "Week" }, 400, "InvalidPeriodUnit.ValueNotSupported"},
		{"no period", "", func(r *ecs.RenewInstanceRequest) { r.Period = "" }, 400, "InvalidPeriod.NotFound"},
		{"both period and day", "", func(r *ecs.RenewInstanceRequest) { r.ExpectedRenewDay = "5" }, 400, "InvalidExpectedRenewDay.Conflict"},
		{"day 29", "", func(r *ecs.RenewInstanceRequest) { r.Period, r.ExpectedRenewDay = "", "29" }, 400, "InvalidExpectedRenewDay.ValueNotSupported"},
		{"token too long", "", func(r *ecs.RenewInstanceRequest) { r.ClientToken = strings.Repeat("t", 65) }, 400, "InvalidClientToken.ValueNotSupported"},
		{"token not ASCII", "", func(r *ecs.RenewInstanceRequest) { r.ClientToken = "tökén" }, 400, "InvalidClientToken.ValueNotSupported"},
		{"balance", "", func(r *ecs.RenewInstanceRequest) { r.Period = "12" }, 403, "InvalidAccountStatus.NotEnoughBalance"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			region := tc.region
			if region == "" {
				region = "cn-hangzhou"
			}
			r := renewReq("i-a1", "1", "")
			if tc.set != nil {
				tc.set(r)
			}
			_, err := e.client(t, region).RenewInstance(r)
			se := serverError(t, err, tc.status, tc.code)
			if tc.code == "InvalidAccountStatus.NotEnoughBalance" && se.Message() != "Your account does not have enough balance." {
				t.Fatalf("message %q", se.Message())
			}
		})
	}
	if n := len(e.srv.Orders()); n != 0 || e.srv.Account().Balance != 1000 {
		t.Fatalf("failed calls left %d orders, balance %v", n, e.srv.Account().Balance)
	}
}

func TestRenewExpectedRenewDay(t *testing.T) {
	e := newEnv(t, func(o *ecssim.Options) { o.RenewDelay = -1 })
	c := e.client(t, "cn-hangzhou")
	// i-a1 expires 2026-11-29 00:00 UTC+8; day 12 of the month at least a month later: 2027-01-12.
	r := ecs.CreateRenewInstanceRequest()
	r.InstanceId, r.ExpectedRenewDay = "i-a1", "12"
	if _, err := c.RenewInstance(r); err != nil {
		t.Fatal(err)
	}
	if got := expiredTime(t, c, "i-a1"); got != "2027-01-11T16:00Z" {
		t.Fatalf("aligned expiry %s", got)
	}
	r = ecs.CreateRenewInstanceRequest()
	r.InstanceId, r.ExpectedRenewDay = "i-a4", "12"
	_, err := c.RenewInstance(r)
	serverError(t, err, 403, "IncorrectInstanceStatus")
}

func TestRenewalPrice(t *testing.T) {
	e := newEnv(t, func(o *ecssim.Options) { o.Fleet.Balance = 100000 })
	c := e.client(t, "cn-hangzhou")
	tests := []struct {
		period, unit              string
		original, discount, trade float64
		rules                     int
	}{
		{"", "", 100, 0, 100, 0},
		{"3", "Month", 300, 0, 300, 0},
		{"1", "Year", 1200, 180, 1020, 1},
		{"3", "Year", 3600, 540, 3060, 1},
	}
	for _, tc := range tests {
		req := ecs.CreateDescribeRenewalPriceRequest()
		req.ResourceId = "i-a1"
		req.Period = requestsStr(tc.period)
		req.PriceUnit = tc.unit
		resp, err := c.DescribeRenewalPrice(req)
		if err != nil {
			t.Fatal(err)
		}
		p := resp.PriceInfo.Price
		if p.OriginalPrice != tc.original || p.DiscountPrice != tc.discount || p.TradePrice != tc.trade ||
			p.Currency != "CNY" || len(resp.PriceInfo.Rules.Rule) != tc.rules {
			t.Fatalf("%s %s: %+v rules %+v", tc.period, tc.unit, p, resp.PriceInfo.Rules)
		}
		if tc.rules > 0 && (resp.PriceInfo.Rules.Rule[0].RuleId == 0 || resp.PriceInfo.Rules.Rule[0].Description == "") {
			t.Fatalf("rule %+v", resp.PriceInfo.Rules.Rule[0])
		}
	}
	// RenewInstance charges what DescribeRenewalPrice quoted.
	if _, err := c.RenewInstance(renewReq("i-a1", "12", "")); err != nil {
		t.Fatal(err)
	}
	if o := e.srv.Orders(); o[0].Amount != 1020 || e.srv.Account().Balance != 100000-1020 {
		t.Fatalf("charged %v", o[0].Amount)
	}
}

func TestRenewalPriceErrors(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		name   string
		set    func(*ecs.DescribeRenewalPriceRequest)
		status int
		code   string
	}{
		{"missing ResourceId", func(r *ecs.DescribeRenewalPriceRequest) { r.ResourceId = "" }, 400, "MissingParameter"},
		{"resource type", func(r *ecs.DescribeRenewalPriceRequest) { r.ResourceType = "disk" }, 400, "InvalidResourceType.ValueNotSupported"},
		{"month 10", func(r *ecs.DescribeRenewalPriceRequest) { r.Period = "10" }, 400, "InvalidPeriod"},
		{"month 12 (a year is PriceUnit Year)", func(r *ecs.DescribeRenewalPriceRequest) { r.Period = "12" }, 400, "InvalidPeriod"},
		{"year 4", func(r *ecs.DescribeRenewalPriceRequest) { r.Period, r.PriceUnit = "4", "Year" }, 400, "InvalidPeriod"},
		{"price unit", func(r *ecs.DescribeRenewalPriceRequest) { r.PriceUnit = "Week" }, 400, "InvalidPriceUnit.ValueNotSupported"},
		{"day conflict", func(r *ecs.DescribeRenewalPriceRequest) { r.Period, r.ExpectedRenewDay = "1", "5" }, 400, "InvalidExpectedRenewDay.Conflict"},
		{"unknown", func(r *ecs.DescribeRenewalPriceRequest) { r.ResourceId = "i-nope" }, 404, "InvalidInstanceId.NotFound"},
		{"other region", func(r *ecs.DescribeRenewalPriceRequest) { r.ResourceId = "i-b1" }, 404, "InvalidInstanceId.NotFound"},
		{"PostPaid", func(r *ecs.DescribeRenewalPriceRequest) { r.ResourceId = "i-a5" }, 403, "ChargeTypeViolation"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := ecs.CreateDescribeRenewalPriceRequest()
			r.ResourceId = "i-a1"
			tc.set(r)
			_, err := e.client(t, "cn-hangzhou").DescribeRenewalPrice(r)
			serverError(t, err, tc.status, tc.code)
		})
	}
}

func TestAutoRenewCharges(t *testing.T) {
	e := newEnv(t, func(o *ecssim.Options) { o.AutoRenew = true })
	// i-a2: AutoRenewal, 3 months of 50, expires 2026-12-16 00:00 UTC+8: charged 2026-12-07 08:00 UTC+8.
	chargeAt := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	e.clock.Advance(chargeAt.Sub(t0) - time.Minute)
	if n := len(e.srv.Orders()); n != 0 {
		t.Fatalf("%d orders before the charge time", n)
	}
	e.clock.Advance(time.Minute)
	orders := e.srv.Orders()
	if len(orders) != 1 || !orders[0].AutoRenew || orders[0].InstanceId != "i-a2" || orders[0].Amount != 150 ||
		orders[0].Period != 3 || !orders[0].Time.Equal(chargeAt) || e.srv.Account().Balance != 850 {
		t.Fatalf("orders %+v", orders)
	}
	if got := expiredTime(t, e.client(t, "cn-hangzhou"), "i-a2"); got != "2027-03-15T16:00Z" {
		t.Fatalf("auto-renewed expiry %s", got)
	}
	// Without balance the charge is retried until expiry, then the instance locks.
	e.srv.SetBalance(0)
	e.clock.Advance(time.Date(2027, 3, 15, 16, 0, 0, 0, time.UTC).Sub(e.clock.Now()))
	in, _ := e.srv.Instance("i-a2")
	if in.Status != "Stopped" || len(e.srv.Orders()) != 1 {
		t.Fatalf("unpaid auto-renewal: %s, %d orders", in.Status, len(e.srv.Orders()))
	}
	e.srv.SetBalance(1000)
	if len(e.srv.Orders()) != 1 {
		t.Fatal("charged after expiry")
	}
}

// TestRenewMonthEndClamps: a renewal adds calendar months to the expiration date the way
// Alibaba's billing does: a day the target month lacks becomes its last day (Jan 31 + 1
// month is Feb 28), not an overflow into the next month (Go's AddDate gives Mar 3).
func TestRenewMonthEndClamps(t *testing.T) {
	e := newEnv(t, func(o *ecssim.Options) { o.RenewDelay = -1 })
	at := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 16, 0, 0, 0, time.UTC) }
	e.srv.AddInstances(
		ecssim.FleetInstance{InstanceId: "i-dec31", RegionId: "cn-hangzhou", ExpiredTime: at(2026, 12, 31), MonthlyPrice: 10},
		ecssim.FleetInstance{InstanceId: "i-jan31", RegionId: "cn-hangzhou", ExpiredTime: at(2027, 1, 31), MonthlyPrice: 10},
		ecssim.FleetInstance{InstanceId: "i-feb28", RegionId: "cn-hangzhou", ExpiredTime: at(2027, 2, 28), MonthlyPrice: 10},
	)
	c := e.client(t, "cn-hangzhou")
	for _, tc := range []struct{ id, period, want string }{
		{"i-dec31", "2", "2027-02-28T16:00Z"},
		{"i-jan31", "1", "2027-02-28T16:00Z"},
		{"i-feb28", "12", "2028-02-28T16:00Z"},
	} {
		if _, err := c.RenewInstance(renewReq(tc.id, tc.period, "tok-"+tc.id)); err != nil {
			t.Fatal(err)
		}
		if got := expiredTime(t, c, tc.id); got != tc.want {
			t.Errorf("%s + %s months = %s, want %s", tc.id, tc.period, got, tc.want)
		}
	}
}

// TestRenewIdempotenceProcessing: while a RenewInstance with a ClientToken is still running (held
// in the hook, as a slow call is), a second call with the same token gets 400
// Idempotence.Processing and places nothing; once the first has answered, the token returns its
// OrderId. One order.
func TestRenewIdempotenceProcessing(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	e := newEnv(t, func(o *ecssim.Options) {
		o.Hook = func(action string, p url.Values) {
			if action == "RenewInstance" && p.Get("ClientToken") == "tok-slow" && p.Get("Slow") == "1" {
				close(arrived)
				<-release
			}
		}
	})
	first := make(chan string, 1)
	go func() {
		req := renewReq("i-a1", "1", "tok-slow")
		req.QueryParams["Slow"] = "1" // ignored by the action (not an API parameter), seen by the hook
		resp, err := e.client(t, "cn-hangzhou").RenewInstance(req)
		if err != nil {
			t.Error(err)
		}
		first <- resp.OrderId
	}()
	<-arrived
	_, err := e.client(t, "cn-hangzhou").RenewInstance(renewReq("i-a1", "1", "tok-slow"))
	serverError(t, err, 400, "Idempotence.Processing")
	if n := len(e.srv.Orders()); n != 0 {
		t.Fatalf("%d orders while the first call is still running", n)
	}
	close(release)
	orderID := <-first
	resp, err := e.client(t, "cn-hangzhou").RenewInstance(renewReq("i-a1", "1", "tok-slow"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.OrderId != orderID || orderID == "" {
		t.Fatalf("retry got order %q, the first call %q", resp.OrderId, orderID)
	}
	if n := len(e.srv.Orders()); n != 1 {
		t.Fatalf("%d orders, want 1", n)
	}
}

// TestExpectedRenewDayAsDocumented: the unified expiration day as Alibaba's documentation of the
// feature describes it (its example, moved to 2027: 09-10 and 05-17 with day 1 renew to 11-01
// and 07-01; a gap of exactly one calendar month is enough), priced by the monthly price (whole
// months, the rest of the days pro rata), quoted and renewed alike; expired instances refused.
func TestExpectedRenewDayAsDocumented(t *testing.T) {
	at := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d-1, 16, 0, 0, 0, time.UTC) } // 00:00 UTC+8
	fleet := ecssim.Fleet{Balance: 10000, Instances: []ecssim.FleetInstance{
		{InstanceId: "i-sep10", RegionId: "cn-hangzhou", ExpiredTime: at(2027, 9, 10), MonthlyPrice: 100},
		{InstanceId: "i-may17", RegionId: "cn-hangzhou", ExpiredTime: at(2027, 5, 17), MonthlyPrice: 100},
		{InstanceId: "i-feb01", RegionId: "cn-hangzhou", ExpiredTime: at(2027, 2, 1), MonthlyPrice: 100},
		{InstanceId: "i-gone", RegionId: "cn-hangzhou", ExpiredTime: day(-2), MonthlyPrice: 100},
	}}
	e := newEnv(t, func(o *ecssim.Options) { o.Fleet, o.RenewDelay = fleet, -1 })
	c := e.client(t, "cn-hangzhou")
	for _, tc := range []struct {
		id   string
		day  int
		want time.Time
		cost float64
	}{
		{"i-sep10", 1, at(2027, 11, 1), 173.33}, // Oct 10 is one month, then 22 days
		{"i-may17", 1, at(2027, 7, 1), 146.67},  // Jun 17 is one month, then 14 days
		{"i-feb01", 1, at(2027, 3, 1), 100},     // exactly one calendar month (28 days) is not under a month
	} {
		q := ecs.CreateDescribeRenewalPriceRequest()
		q.ResourceId, q.ExpectedRenewDay = tc.id, requestsInt(tc.day)
		qr, err := c.DescribeRenewalPrice(q)
		if err != nil {
			t.Fatal(err)
		}
		if qr.PriceInfo.Price.TradePrice != tc.cost {
			t.Errorf("%s: quote %v, want %v", tc.id, qr.PriceInfo.Price.TradePrice, tc.cost)
		}
		before := e.srv.Account().Balance
		r := ecs.CreateRenewInstanceRequest()
		r.InstanceId, r.ExpectedRenewDay = tc.id, requestsInt(tc.day)
		if _, err := c.RenewInstance(r); err != nil {
			t.Fatal(err)
		}
		if got := expiredTime(t, c, tc.id); got != tc.want.Format("2006-01-02T15:04Z") {
			t.Errorf("%s: renewed to %s, want %s", tc.id, got, tc.want.Format("2006-01-02T15:04Z"))
		}
		if paid := before - e.srv.Account().Balance; paid < tc.cost-0.001 || paid > tc.cost+0.001 {
			t.Errorf("%s: paid %v, quoted %v", tc.id, paid, tc.cost)
		}
	}
	q := ecs.CreateDescribeRenewalPriceRequest()
	q.ResourceId, q.ExpectedRenewDay = "i-gone", "1"
	_, err := c.DescribeRenewalPrice(q)
	serverError(t, err, 403, "IncorrectInstanceStatus")
}
