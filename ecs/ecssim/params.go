package ecssim

import (
	"slices"
	"strconv"
	"strings"
)

// paramSpec is one request parameter of an action as Alibaba's API metadata describes it
// (../shared/reference/ecs-api-params/*.json, from aliyun-openapi-meta): whether it is
// required, its type, and the values or range its description allows. TestParamTableMatches
// AlibabaMetadata keeps this table and the metadata in step.
type paramSpec struct {
	Name     string
	Type     string // the metadata's type: String, Integer, Long, Boolean, RepeatList
	Required bool
	Enum     []string // accepted values (case-sensitive); empty: any
	Ints     []int    // accepted integer values; empty: any within Min..Max
	Min, Max int      // inclusive integer range, when Max > 0 (checked even for a String type)
	// Code and Status answer a value outside Enum, Ints or Min..Max, or not of Type: the
	// code the action's documentation gives (default 400 InvalidParameter).
	Code   string
	Status int
	// MissingCode and MissingStatus answer a missing required parameter when the action
	// documents its own code (default 400 MissingParameter).
	MissingCode   string
	MissingStatus int
	// Source names where Enum, Ints or the range come from when the metadata's description
	// does not state them; the table test checks the description only when it is empty.
	Source string
}

// actionParams is the one table of the parameters of the six ECS actions, STS AssumeRole and
// BSS QueryAccountBalance. Parameters not listed are
// ignored, as Alibaba ignores parameters an API does not have (the common ones, AccessKeyId
// and so on, are checked by the signature code). Checks that depend on two parameters
// (Period's range by PriceUnit, Duration's by PeriodUnit, ExpectedRenewDay against Period)
// stay in the actions.
var actionParams = map[string][]paramSpec{
	// DescribeRegions has no RegionId: the endpoint names the region and the answer lists all.
	"DescribeRegions": {
		// AcceptLanguage: the description lists zh-CN, zh_TW, en-US, ja, fr, de, ko; ecssim
		// answers English for any "en…" and Chinese otherwise, so no value is refused.
		{Name: "AcceptLanguage", Type: "String"},
		{Name: "InstanceChargeType", Type: "String", Enum: []string{"PrePaid", "PostPaid", "SpotWithPriceLimit", "SpotAsPriceGo"},
			Code: "InvalidInstanceChargeType.ValueNotSupported"},
		{Name: "ResourceType", Type: "String", Enum: []string{"instance", "disk", "reservedinstance", "scu"},
			Code: "InvalidResourceType.ValueNotSupported"},
	},
	"DescribeInstances": {
		{Name: "AdditionalAttributes", Type: "RepeatList"},
		{Name: "DeviceAvailable", Type: "Boolean"},
		{Name: "DryRun", Type: "Boolean"},
		{Name: "EipAddresses", Type: "String"},
		{Name: "Filter.1.Key", Type: "String"},
		{Name: "Filter.1.Value", Type: "String"},
		{Name: "Filter.2.Key", Type: "String"},
		{Name: "Filter.2.Value", Type: "String"},
		{Name: "Filter.3.Key", Type: "String"},
		{Name: "Filter.3.Value", Type: "String"},
		{Name: "Filter.4.Key", Type: "String"},
		{Name: "Filter.4.Value", Type: "String"},
		{Name: "HpcClusterId", Type: "String"},
		{Name: "HttpEndpoint", Type: "String", Enum: []string{"enabled", "disabled"}},
		{Name: "HttpPutResponseHopLimit", Type: "Integer"},
		{Name: "HttpTokens", Type: "String", Enum: []string{"optional", "required"}},
		{Name: "ImageId", Type: "String"},
		{Name: "InnerIpAddresses", Type: "String"},
		{Name: "InstanceChargeType", Type: "String", Enum: []string{"PostPaid", "PrePaid"},
			Code: "InvalidInstanceChargeType.NotFound", Status: 404},
		{Name: "InstanceIds", Type: "String"},
		{Name: "InstanceName", Type: "String"},
		{Name: "InstanceNetworkType", Type: "String", Enum: []string{"classic", "vpc"},
			Code: "InvalidNetworkType.NotFound", Status: 404},
		{Name: "InstanceType", Type: "String"},
		{Name: "InstanceTypeFamily", Type: "String"},
		{Name: "InternetChargeType", Type: "String", Enum: []string{"PayByBandwidth", "PayByTraffic"},
			Code: "InvalidInternetChargeType.ValueNotSupported", Status: 404},
		{Name: "IoOptimized", Type: "Boolean"},
		{Name: "Ipv6Address", Type: "RepeatList"},
		{Name: "KeyPairName", Type: "String"},
		{Name: "LockReason", Type: "String", Enum: []string{"financial", "security", "recycling", "dedicatedhostfinancial", "refunded"},
			Code: "InvalidLockReason.NotFound", Status: 404},
		// MaxResults: "Valid values: 1 to 100", but below 10 becomes 10 and above 100 becomes
		// 100, so only its type is checked.
		{Name: "MaxResults", Type: "Integer", Code: "InvalidParameter.MaxResults"},
		{Name: "NeedSaleCycle", Type: "Boolean"},
		{Name: "NextToken", Type: "String"},
		// PageNumber and PageSize are ignored with NextToken; the action checks their range.
		{Name: "PageNumber", Type: "Integer", Code: "InvalidParameter.PageNumber"},
		{Name: "PageSize", Type: "Integer", Code: "InvalidParameter.PageSize"},
		{Name: "PrivateIpAddresses", Type: "String"},
		{Name: "PublicIpAddresses", Type: "String"},
		{Name: "RdmaIpAddresses", Type: "String"},
		{Name: "RegionId", Type: "String", Required: true},
		{Name: "ResourceGroupId", Type: "String"},
		{Name: "SecurityGroupId", Type: "String"},
		{Name: "Status", Type: "String", Enum: []string{"Pending", "Running", "Starting", "Stopping", "Stopped"},
			Code: "InvalidStatus.NotFound", Status: 404},
		{Name: "Tag", Type: "RepeatList"}, // Tag.N.Key / Tag.N.Value (and the old lower-case key / value)
		{Name: "VSwitchId", Type: "String"},
		{Name: "VpcId", Type: "String"},
		{Name: "ZoneId", Type: "String"},
	},
	"DescribeRenewalPrice": {
		{Name: "ExpectedRenewDay", Type: "Integer", Min: 1, Max: 28, Code: "InvalidExpectedRenewDay.ValueNotSupported"},
		// Period: 1-9 with PriceUnit Month, 1-3 with Year; the action narrows it for Year.
		{Name: "Period", Type: "Integer", Min: 1, Max: 9, Code: "InvalidPeriod"},
		{Name: "PriceUnit", Type: "String", Enum: []string{"Month", "Year"}, Code: "InvalidPriceUnit.ValueNotSupported"},
		{Name: "RegionId", Type: "String", Required: true},
		{Name: "ResourceId", Type: "String", Required: true},
		{Name: "ResourceType", Type: "String", Enum: []string{"instance"}, Code: "InvalidResourceType.ValueNotSupported"},
	},
	// RenewInstance has no RegionId: the instance ID names the instance, the endpoint the
	// region. ecssim has one endpoint for all regions, so it finds the instance by its ID.
	"RenewInstance": {
		{Name: "ClientToken", Type: "String"},
		{Name: "ExpectedRenewDay", Type: "Integer", Min: 1, Max: 28, Code: "InvalidExpectedRenewDay.ValueNotSupported"},
		{Name: "InstanceId", Type: "String", Required: true},
		{Name: "Period", Type: "Integer", Ints: []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 12}, Code: "InvalidPeriod"},
		{Name: "PeriodUnit", Type: "String", Enum: []string{"Month"}, Code: "InvalidPeriodUnit.ValueNotSupported"},
	},
	"DescribeInstanceAutoRenewAttribute": {
		{Name: "InstanceId", Type: "String"},
		{Name: "PageNumber", Type: "String", Min: 1, Max: 1<<31 - 1, Code: "InvalidParameter.PageNumber", Status: 403,
			Source: "ecs-api.md §4: PageNumber >= 1"},
		{Name: "PageSize", Type: "String", Min: 1, Max: 100, Code: "InvalidParameter.PageSize", Status: 403},
		{Name: "RegionId", Type: "String", Required: true},
		{Name: "RenewalStatus", Type: "String", Enum: []string{"AutoRenewal", "Normal", "NotRenewal"},
			Code: "InvalidParameter.RenewalStatus", Status: 403},
	},
	"ModifyInstanceAutoRenewAttribute": {
		{Name: "AutoRenew", Type: "Boolean"},
		// Duration: Month 1, 2, 3, 6, 12, 24, 36, 48, 60; Year 1-5 (the action checks the pair).
		{Name: "Duration", Type: "Integer", Ints: []int{1, 2, 3, 4, 5, 6, 12, 24, 36, 48, 60},
			Code: "InvalidParameter.Duration", Status: 403},
		{Name: "InstanceId", Type: "String", Required: true, MissingCode: "MissingParameter.InstanceId", MissingStatus: 403},
		{Name: "PeriodUnit", Type: "String", Enum: []string{"Month", "Year", "Week"},
			Code: "InvalidPeriodUnit.ValueNotSupported", Status: 403,
			Source: "ecs-api.md §5: Week (1-4) on the China site, per the V2 SDK's documentation"},
		{Name: "RegionId", Type: "String", Required: true},
		{Name: "RenewalStatus", Type: "String", Enum: []string{"AutoRenewal", "Normal", "NotRenewal"},
			Code: "InvalidParameter.RenewalStatus", Status: 403},
	},
	// STS (2015-04-01) and BSS OpenAPI (2017-12-14), from ../shared/reference/sts-bss-api-params.
	"AssumeRole": {
		// DurationSeconds: 900 to the role's MaxSessionDuration, which is 3600 for ecssim's roles.
		{Name: "DurationSeconds", Type: "Long", Min: 900, Max: 3600, Code: "InvalidParameter.DurationSeconds"},
		{Name: "ExternalId", Type: "String"},
		{Name: "Policy", Type: "String"}, // accepted and not applied: ecssim's roles may do everything
		{Name: "RoleArn", Type: "String", Required: true},
		{Name: "RoleSessionName", Type: "String", Required: true},
		{Name: "SourceIdentity", Type: "String"},
	},
	"QueryAccountBalance": {},
}

// takesRegion reports whether an action has a RegionId parameter.
func takesRegion(action string) bool {
	return slices.ContainsFunc(actionParams[action], func(ps paramSpec) bool { return ps.Name == "RegionId" })
}

// checkParams checks the parameters of a call against actionParams: every required one
// present, every given one of its type and within its values. A parameter given empty counts
// as not given (the SDKs send unset optional parameters that way, or not at all).
func checkParams(action string, p params) *apiError {
	specs := actionParams[action]
	for _, ps := range specs {
		if ps.Required && !p.has(ps.Name) {
			if ps.MissingCode != "" {
				return errorf(ps.MissingStatus, ps.MissingCode,
					"The input parameter %s that is mandatory for processing this request is not supplied.", ps.Name)
			}
			return missing(ps.Name)
		}
	}
	for _, ps := range specs {
		if ps.Type == "RepeatList" || !p.has(ps.Name) {
			continue
		}
		if !ps.accepts(p.get(ps.Name)) {
			code, status := ps.Code, ps.Status
			if code == "" {
				code = "InvalidParameter"
			}
			if status == 0 {
				status = 400
			}
			return errorf(status, code, "The specified parameter %s is not valid.", ps.Name)
		}
	}
	return nil
}

// accepts reports whether v is a valid value of the parameter.
func (ps paramSpec) accepts(v string) bool {
	switch ps.Type {
	case "Boolean":
		if _, err := strconv.ParseBool(strings.ToLower(v)); err != nil {
			return false
		}
	case "Integer", "Long":
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return false
		}
	}
	if len(ps.Enum) > 0 && !slices.Contains(ps.Enum, v) {
		return false
	}
	if len(ps.Ints) > 0 || ps.Max > 0 {
		n, err := strconv.Atoi(v)
		if err != nil {
			return false
		}
		if len(ps.Ints) > 0 && !slices.Contains(ps.Ints, n) {
			return false
		}
		if ps.Max > 0 && (n < ps.Min || n > ps.Max) {
			return false
		}
	}
	return true
}
