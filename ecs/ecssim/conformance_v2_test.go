package ecssim_test

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/utils"
	ecs20140526 "github.com/alibabacloud-go/ecs-20140526/v7/client"
	"github.com/alibabacloud-go/tea/tea"

	"github.com/renewbot/renewbot/ecs/ecssim"
)

// TestConformanceV2GoSDK runs the seed article's operations with Alibaba's v2 Go SDK
// (github.com/alibabacloud-go/ecs-20140526/v7 on darabonba-openapi/v2), once with its default
// signature (ACS3-HMAC-SHA256) and once with SignatureAlgorithm "v2" (signature 1.0). The v2
// SDK is a test-only dependency: no package of renewbot's binary imports it.
func TestConformanceV2GoSDK(t *testing.T) {
	for _, algo := range []string{"", "v2"} {
		name := "ACS3-HMAC-SHA256"
		if algo == "v2" {
			name = "signature 1.0 (SignatureAlgorithm v2)"
		}
		t.Run(name, func(t *testing.T) {
			s := newConformanceSim(t)
			cfg := &openapi.Config{
				AccessKeyId:     tea.String("testid"),
				AccessKeySecret: tea.String("testsecret"),
				Endpoint:        tea.String(strings.TrimPrefix(s.URL, "http://")),
				Protocol:        tea.String("HTTP"),
				RegionId:        tea.String("cn-hangzhou"),
				NoProxy:         tea.String("127.0.0.1"),
			}
			if algo != "" {
				cfg.SignatureAlgorithm = tea.String(algo)
			}
			c, err := ecs20140526.NewClient(cfg)
			if err != nil {
				t.Fatal(err)
			}
			runV2Conformance(t, s, c)
		})
	}
}

// sdkCode returns the v2 SDK error's HTTP status and Alibaba code.
func sdkCode(err error) (int, string) {
	var se *tea.SDKError
	if !errors.As(err, &se) {
		return 0, ""
	}
	return tea.IntValue(se.StatusCode), tea.StringValue(se.Code)
}

func runV2Conformance(t *testing.T, s *ecssim.Server, c *ecs20140526.Client) {
	t.Run("DescribeRegions", func(t *testing.T) {
		resp, err := c.DescribeRegions(&ecs20140526.DescribeRegionsRequest{AcceptLanguage: tea.String("en-US")})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range resp.Body.Regions.Region {
			got = append(got, tea.StringValue(r.RegionId))
		}
		if !slices.Equal(got, []string{"cn-hangzhou", "cn-shanghai"}) {
			t.Fatalf("regions %v", got)
		}
	})
	filters := []*ecs20140526.DescribeInstancesRequestFilter{
		{Key: tea.String("ExpiredStartTime"), Value: tea.String(conformanceFrom.Format("2006-01-02T15:04Z"))},
		{Key: tea.String("ExpiredEndTime"), Value: tea.String(conformanceTo.Format("2006-01-02T15:04Z"))},
	}
	t.Run("DescribeInstances PrePaid, expiry window, PageNumber paging", func(t *testing.T) {
		var got []string
		for page := int32(1); ; page++ {
			resp, err := c.DescribeInstances(&ecs20140526.DescribeInstancesRequest{
				RegionId: tea.String("cn-hangzhou"), InstanceChargeType: tea.String("PrePaid"), Filter: filters,
				PageNumber: tea.Int32(page), PageSize: tea.Int32(10),
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, in := range resp.Body.Instances.Instance {
				got = append(got, tea.StringValue(in.InstanceId))
				if tea.StringValue(in.InstanceChargeType) != "PrePaid" || tea.StringValue(in.ExpiredTime) == "" {
					t.Fatalf("instance %v", in)
				}
			}
			if tea.Int32Value(resp.Body.TotalCount) != 23 || int(page)*10 >= 23 {
				break
			}
		}
		if !slices.Equal(got, conformanceExpiring()) {
			t.Fatalf("got %v", got)
		}
	})
	t.Run("DescribeInstances NextToken paging", func(t *testing.T) {
		var got []string
		token := ""
		for range 10 {
			req := &ecs20140526.DescribeInstancesRequest{
				RegionId: tea.String("cn-hangzhou"), InstanceChargeType: tea.String("PrePaid"), Filter: filters, MaxResults: tea.Int32(10),
			}
			if token != "" {
				req.NextToken = tea.String(token)
			}
			resp, err := c.DescribeInstances(req)
			if err != nil {
				t.Fatal(err)
			}
			for _, in := range resp.Body.Instances.Instance {
				got = append(got, tea.StringValue(in.InstanceId))
			}
			if token = tea.StringValue(resp.Body.NextToken); token == "" {
				break
			}
		}
		if !slices.Equal(got, conformanceExpiring()) {
			t.Fatalf("got %v", got)
		}
	})
	t.Run("DescribeRenewalPrice", func(t *testing.T) {
		resp, err := c.DescribeRenewalPrice(&ecs20140526.DescribeRenewalPriceRequest{
			RegionId: tea.String("cn-hangzhou"), ResourceId: tea.String(conformanceRenewed), ResourceType: tea.String("instance"),
			Period: tea.Int32(1), PriceUnit: tea.String("Month"),
		})
		if err != nil {
			t.Fatal(err)
		}
		p := resp.Body.PriceInfo.Price
		if tea.Float32Value(p.TradePrice) != 100 || tea.StringValue(p.Currency) != "CNY" {
			t.Fatalf("price %v", p)
		}
	})
	const token = "conformance-v2-go"
	var orderID string
	t.Run("RenewInstance twice with one ClientToken", func(t *testing.T) {
		for i := range 2 {
			resp, err := c.RenewInstance(&ecs20140526.RenewInstanceRequest{
				InstanceId: tea.String(conformanceRenewed), Period: tea.Int32(1), PeriodUnit: tea.String("Month"), ClientToken: tea.String(token),
			})
			if err != nil {
				t.Fatal(err)
			}
			id := tea.StringValue(resp.Body.OrderId)
			if i == 0 {
				orderID = id
			}
			if id == "" || id != orderID {
				t.Fatalf("call %d: OrderId %q, first %q", i+1, id, orderID)
			}
		}
	})
	t.Run("RenewInstance pay-as-you-go and unknown ID", func(t *testing.T) {
		for _, tc := range []struct {
			id     string
			status int
			code   string
		}{{"i-payg", 403, "ChargeTypeViolation"}, {"i-nosuch", 404, "InvalidInstanceId.NotFound"}} {
			_, err := c.RenewInstance(&ecs20140526.RenewInstanceRequest{
				InstanceId: tea.String(tc.id), Period: tea.Int32(1), PeriodUnit: tea.String("Month"), ClientToken: tea.String("conf-" + tc.id),
			})
			if st, code := sdkCode(err); st != tc.status || code != tc.code {
				t.Fatalf("%s: %d %s (%v), want %d %s", tc.id, st, code, err, tc.status, tc.code)
			}
		}
	})
	t.Run("DescribeInstanceAutoRenewAttribute with a comma list", func(t *testing.T) {
		resp, err := c.DescribeInstanceAutoRenewAttribute(&ecs20140526.DescribeInstanceAutoRenewAttributeRequest{
			RegionId: tea.String("cn-hangzhou"), InstanceId: tea.String("i-auto,i-not,i-conf01"),
		})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, a := range resp.Body.InstanceRenewAttributes.InstanceRenewAttribute {
			got[tea.StringValue(a.InstanceId)] = tea.StringValue(a.RenewalStatus) + "/" + strconv.Itoa(int(tea.Int32Value(a.Duration))) + "/" +
				tea.StringValue(a.PeriodUnit) + "/" + strconv.FormatBool(tea.BoolValue(a.AutoRenewEnabled))
		}
		want := map[string]string{"i-auto": "AutoRenewal/3/Month/true", "i-not": "NotRenewal/0/Month/false", "i-conf01": "Normal/0/Month/false"}
		if len(got) != 3 || got["i-auto"] != want["i-auto"] || got["i-not"] != want["i-not"] || got["i-conf01"] != want["i-conf01"] {
			t.Fatalf("got %v, want %v", got, want)
		}
	})
	t.Run("ModifyInstanceAutoRenewAttribute and read back", func(t *testing.T) {
		if _, err := c.ModifyInstanceAutoRenewAttribute(&ecs20140526.ModifyInstanceAutoRenewAttributeRequest{
			RegionId: tea.String("cn-hangzhou"), InstanceId: tea.String(conformanceModify), RenewalStatus: tea.String("AutoRenewal"),
			Duration: tea.Int32(6), PeriodUnit: tea.String("Month"),
		}); err != nil {
			t.Fatal(err)
		}
		resp, err := c.DescribeInstanceAutoRenewAttribute(&ecs20140526.DescribeInstanceAutoRenewAttributeRequest{
			RegionId: tea.String("cn-hangzhou"), InstanceId: tea.String(conformanceModify),
		})
		if err != nil {
			t.Fatal(err)
		}
		a := resp.Body.InstanceRenewAttributes.InstanceRenewAttribute
		if len(a) != 1 || tea.StringValue(a[0].RenewalStatus) != "AutoRenewal" || tea.Int32Value(a[0].Duration) != 6 {
			t.Fatalf("read back %v", a)
		}
	})
	checkConformanceEffects(t, s, token, orderID)
}
