package ecssim_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
)

func autoRenew(t *testing.T, c *ecs.Client, ids, status string) *ecs.DescribeInstanceAutoRenewAttributeResponse {
	t.Helper()
	req := ecs.CreateDescribeInstanceAutoRenewAttributeRequest()
	req.InstanceId, req.RenewalStatus, req.PageSize = ids, status, "100"
	resp, err := c.DescribeInstanceAutoRenewAttribute(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestDescribeAutoRenew(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client(t, "cn-hangzhou")
	resp := autoRenew(t, c, "i-a1,i-a2, i-a3,i-a4", "")
	got := resp.InstanceRenewAttributes.InstanceRenewAttribute
	want := []ecs.InstanceRenewAttribute{
		{InstanceId: "i-a1", RenewalStatus: "Normal", PeriodUnit: "Month"},
		{InstanceId: "i-a2", RenewalStatus: "AutoRenewal", AutoRenewEnabled: true, Duration: 3, PeriodUnit: "Month"},
		{InstanceId: "i-a3", RenewalStatus: "NotRenewal", PeriodUnit: "Month"},
		{InstanceId: "i-a4", RenewalStatus: "Normal", PeriodUnit: "Month"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || resp.TotalCount != 4 {
		t.Fatalf("got %+v", got)
	}
	if resp := autoRenew(t, c, "", "AutoRenewal"); resp.TotalCount != 1 || resp.InstanceRenewAttributes.InstanceRenewAttribute[0].InstanceId != "i-a2" {
		t.Fatalf("by status: %+v", resp)
	}
	if resp := autoRenew(t, c, "i-a1,i-a2", "Normal"); resp.TotalCount != 1 {
		t.Fatalf("ids and status: %+v", resp)
	}
	// paging with string PageNumber/PageSize
	req := ecs.CreateDescribeInstanceAutoRenewAttributeRequest()
	req.RenewalStatus, req.PageSize, req.PageNumber = "Normal", "1", "2"
	page, err := c.DescribeInstanceAutoRenewAttribute(req)
	if err != nil {
		t.Fatal(err)
	}
	if page.TotalCount != 2 || page.PageNumber != 2 || page.PageSize != 1 ||
		len(page.InstanceRenewAttributes.InstanceRenewAttribute) != 1 || page.InstanceRenewAttributes.InstanceRenewAttribute[0].InstanceId != "i-a4" {
		t.Fatalf("page %+v", page)
	}
}

func TestDescribeAutoRenewErrors(t *testing.T) {
	e := newEnv(t, nil)
	many := fakeIDs(101)
	tests := []struct {
		name                 string
		ids, status, page, n string
		code                 string
	}{
		{"both empty", "", "", "", "", "InvalidParameter.RenewalStatusInstanceId"},
		{"101 ids", strings.Join(many, ","), "", "", "", "InvalidParameter.ToManyInstanceIds"},
		{"bad status", "i-a1", "Auto", "", "", "InvalidParameter.RenewalStatus"},
		{"unknown id", "i-a1,i-nope", "", "", "", "InvalidParameter.InvalidInstanceId"},
		{"other region", "i-b1", "", "", "", "InvalidParameter.InvalidInstanceId"},
		{"PostPaid", "i-a5", "", "", "", "ChargeTypeViolation"},
		{"page size 101", "i-a1", "", "", "101", "InvalidParameter.PageSize"},
		{"page number 0", "i-a1", "", "0", "", "InvalidParameter.PageNumber"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := ecs.CreateDescribeInstanceAutoRenewAttributeRequest()
			req.InstanceId, req.RenewalStatus, req.PageNumber, req.PageSize = tc.ids, tc.status, tc.page, tc.n
			_, err := e.client(t, "cn-hangzhou").DescribeInstanceAutoRenewAttribute(req)
			serverError(t, err, 403, tc.code)
		})
	}
}

func TestModifyAutoRenew(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client(t, "cn-hangzhou")
	modify := func(set func(*ecs.ModifyInstanceAutoRenewAttributeRequest)) error {
		req := ecs.CreateModifyInstanceAutoRenewAttributeRequest()
		set(req)
		_, err := c.ModifyInstanceAutoRenewAttribute(req)
		return err
	}
	// AutoRenew=true with Duration
	if err := modify(func(r *ecs.ModifyInstanceAutoRenewAttributeRequest) {
		r.InstanceId, r.AutoRenew, r.Duration = "i-a1,i-a3", "true", "6"
	}); err != nil {
		t.Fatal(err)
	}
	got := autoRenew(t, c, "i-a1,i-a3", "").InstanceRenewAttributes.InstanceRenewAttribute
	for _, a := range got {
		if a.RenewalStatus != "AutoRenewal" || !a.AutoRenewEnabled || a.Duration != 6 || a.PeriodUnit != "Month" {
			t.Fatalf("after enable: %+v", a)
		}
	}
	// RenewalStatus takes precedence over AutoRenew
	if err := modify(func(r *ecs.ModifyInstanceAutoRenewAttributeRequest) {
		r.InstanceId, r.AutoRenew, r.RenewalStatus = "i-a1", "true", "NotRenewal"
	}); err != nil {
		t.Fatal(err)
	}
	// AutoRenew absent, no RenewalStatus: Normal (auto-renew off)
	if err := modify(func(r *ecs.ModifyInstanceAutoRenewAttributeRequest) { r.InstanceId = "i-a3" }); err != nil {
		t.Fatal(err)
	}
	// Year units
	if err := modify(func(r *ecs.ModifyInstanceAutoRenewAttributeRequest) {
		r.InstanceId, r.RenewalStatus, r.Duration, r.PeriodUnit = "i-a2", "AutoRenewal", "2", "Year"
	}); err != nil {
		t.Fatal(err)
	}
	got = autoRenew(t, c, "i-a1,i-a2,i-a3", "").InstanceRenewAttributes.InstanceRenewAttribute
	if got[0].RenewalStatus != "NotRenewal" || got[0].AutoRenewEnabled ||
		got[1].RenewalStatus != "AutoRenewal" || got[1].Duration != 2 || got[1].PeriodUnit != "Year" ||
		got[2].RenewalStatus != "Normal" {
		t.Fatalf("got %+v", got)
	}
	if in, _ := e.srv.Instance("i-a1"); in.RenewalStatus != "NotRenewal" {
		t.Fatalf("Instance() %+v", in)
	}
}

func TestModifyAutoRenewErrors(t *testing.T) {
	e := newEnv(t, nil)
	many := fakeIDs(101)
	tests := []struct {
		name string
		set  func(*ecs.ModifyInstanceAutoRenewAttributeRequest)
		code string
	}{
		{"missing id", func(r *ecs.ModifyInstanceAutoRenewAttributeRequest) { r.InstanceId = "" }, "MissingParameter.InstanceId"},
		{"101 ids", func(r *ecs.ModifyInstanceAutoRenewAttributeRequest) { r.InstanceId = strings.Join(many, ",") }, "InvalidParameter.ToManyInstanceIds"},
		{"status", func(r *ecs.ModifyInstanceAutoRenewAttributeRequest) { r.RenewalStatus = "Yes" }, "InvalidParameter.RenewalStatus"},
		{"month 4", func(r *ecs.ModifyInstanceAutoRenewAttributeRequest) { r.Duration = "4" }, "InvalidParameter.Duration"},
		{"year 6", func(r *ecs.ModifyInstanceAutoRenewAttributeRequest) { r.Duration, r.PeriodUnit = "6", "Year" }, "InvalidParameter.Duration"},
		{"week 5", func(r *ecs.ModifyInstanceAutoRenewAttributeRequest) { r.Duration, r.PeriodUnit = "5", "Week" }, "InvalidParameter.Duration"},
		{"unit Day", func(r *ecs.ModifyInstanceAutoRenewAttributeRequest) { r.PeriodUnit = "Day" }, "InvalidPeriodUnit.ValueNotSupported"},
		{"unknown (all or nothing)", func(r *ecs.ModifyInstanceAutoRenewAttributeRequest) { r.InstanceId = "i-a1,i-nope" }, "InvalidParameter.InvalidInstanceId"},
		{"PostPaid", func(r *ecs.ModifyInstanceAutoRenewAttributeRequest) { r.InstanceId = "i-a1,i-a5" }, "ChargeTypeViolation"},
		{"expired", func(r *ecs.ModifyInstanceAutoRenewAttributeRequest) { r.InstanceId = "i-a1,i-a4" }, "IncorrectInstanceStatus"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := ecs.CreateModifyInstanceAutoRenewAttributeRequest()
			req.InstanceId, req.RenewalStatus, req.Duration = "i-a1", "AutoRenewal", "1"
			tc.set(req)
			_, err := e.client(t, "cn-hangzhou").ModifyInstanceAutoRenewAttribute(req)
			serverError(t, err, 403, tc.code)
		})
	}
	if in, _ := e.srv.Instance("i-a1"); in.RenewalStatus != "Normal" {
		t.Fatalf("a failed call changed i-a1: %+v", in)
	}
	// disabling on an expired instance is fine
	req := ecs.CreateModifyInstanceAutoRenewAttributeRequest()
	req.InstanceId, req.RenewalStatus = "i-a4", "NotRenewal"
	if _, err := e.client(t, "cn-hangzhou").ModifyInstanceAutoRenewAttribute(req); err != nil {
		t.Fatal(err)
	}
}
