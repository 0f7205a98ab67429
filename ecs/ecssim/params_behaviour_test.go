package ecssim_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/renewbot/renewbot/ecs/ecssim"
)

// TestParamsAsMetadataSays: required parameters by Alibaba's metadata (no RegionId where the
// API has none), documented codes for bad values, unknown parameters ignored.
func TestParamsAsMetadataSays(t *testing.T) {
	e := newEnv(t, func(o *ecssim.Options) { o.RenewDelay = -1 })
	tests := []struct {
		name    string
		p       url.Values
		status  int
		code    string
		message string // part of the message, for MissingParameter the parameter's name
	}{
		{"DescribeRegions has no RegionId", url.Values{"Action": {"DescribeRegions"}, "RegionId": nil}, 200, "", ""},
		{"RenewInstance has no RegionId", url.Values{"Action": {"RenewInstance"}, "RegionId": nil, "InstanceId": {"i-b1"}, "Period": {"1"}, "ClientToken": {"p-1"}}, 200, "", ""},
		{"RenewInstance by ID, any region", url.Values{"Action": {"RenewInstance"}, "RegionId": nil, "InstanceId": {"i-nope"}, "Period": {"1"}}, 404, "InvalidInstanceId.NotFound", ""},
		{"RenewInstance needs InstanceId", url.Values{"Action": {"RenewInstance"}, "Period": {"1"}}, 400, "MissingParameter", "InstanceId"},
		{"DescribeRenewalPrice needs ResourceId", url.Values{"Action": {"DescribeRenewalPrice"}}, 400, "MissingParameter", "ResourceId"},
		{"DescribeRenewalPrice needs RegionId", url.Values{"Action": {"DescribeRenewalPrice"}, "RegionId": nil, "ResourceId": {"i-a1"}}, 400, "MissingParameter", "RegionId"},
		{"Modify needs InstanceId", url.Values{"Action": {"ModifyInstanceAutoRenewAttribute"}}, 403, "MissingParameter.InstanceId", "InstanceId"},
		{"bad Status", url.Values{"Action": {"DescribeInstances"}, "Status": {"Gone"}}, 404, "InvalidStatus.NotFound", ""},
		{"bad network type", url.Values{"Action": {"DescribeInstances"}, "InstanceNetworkType": {"ipx"}}, 404, "InvalidNetworkType.NotFound", ""},
		{"bad DryRun", url.Values{"Action": {"DescribeInstances"}, "DryRun": {"maybe"}}, 400, "InvalidParameter", "DryRun"},
		{"Period 10", url.Values{"Action": {"RenewInstance"}, "InstanceId": {"i-a1"}, "Period": {"10"}}, 400, "InvalidPeriod", ""},
		{"Period not a number", url.Values{"Action": {"RenewInstance"}, "InstanceId": {"i-a1"}, "Period": {"one"}}, 400, "InvalidPeriod", ""},
		{"PeriodUnit Year", url.Values{"Action": {"RenewInstance"}, "InstanceId": {"i-a1"}, "Period": {"1"}, "PeriodUnit": {"Year"}}, 400, "InvalidPeriodUnit.ValueNotSupported", ""},
		{"PageSize 101", url.Values{"Action": {"DescribeInstanceAutoRenewAttribute"}, "InstanceId": {"i-a1"}, "PageSize": {"101"}}, 403, "InvalidParameter.PageSize", ""},
		{"ResourceType disk", url.Values{"Action": {"DescribeRenewalPrice"}, "ResourceId": {"i-a1"}, "ResourceType": {"disk"}}, 400, "InvalidResourceType.ValueNotSupported", ""},
		{"unknown parameter ignored", url.Values{"Action": {"DescribeInstances"}, "NoSuchParameter": {"x"}}, 200, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, body := do(t, signed(t, e.srv, "POST", tc.p, "testsecret"))
			if st != tc.status || tc.code != "" && body["Code"] != tc.code {
				t.Fatalf("got %d %v, want %d %s", st, body, tc.status, tc.code)
			}
			if msg, _ := body["Message"].(string); !strings.Contains(msg, tc.message) {
				t.Fatalf("message %q does not name %q", msg, tc.message)
			}
		})
	}
	orders := e.srv.Orders()
	if len(orders) != 1 || orders[0].InstanceId != "i-b1" || orders[0].RegionId != "cn-shanghai" {
		t.Fatalf("orders %+v, want one for i-b1 in cn-shanghai", orders)
	}
}
