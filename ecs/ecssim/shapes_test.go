package ecssim_test

import (
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"testing"

	ecs20140526 "github.com/alibabacloud-go/ecs-20140526/v7/client"
)

// knownKeys checks that every key of the JSON value v is a field of the v2 SDK's model typ, with
// the same casing (the SDK's decoder is case-sensitive: a key it does not know is dropped),
// recursively. Keys the model lacks are reported with their path.
func knownKeys(t *testing.T, path string, v any, typ reflect.Type) {
	t.Helper()
	for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
		typ = typ.Elem()
	}
	switch v := v.(type) {
	case map[string]any:
		if typ.Kind() != reflect.Struct {
			t.Errorf("%s: ecssim sends an object, the v2 SDK expects %s", path, typ)
			return
		}
		for k, sub := range v {
			f, ok := fieldByJSON(typ, k)
			if !ok {
				t.Errorf("%s.%s: ecssim sends a field the v2 SDK's %s does not have", path, k, typ.Name())
				continue
			}
			knownKeys(t, path+"."+k, sub, f.Type)
		}
	case []any:
		for _, sub := range v {
			knownKeys(t, path+"[]", sub, typ)
		}
	}
}

func fieldByJSON(typ reflect.Type, key string) (reflect.StructField, bool) {
	for i := range typ.NumField() {
		f := typ.Field(i)
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// TestV2ResponseShapes: ecssim's answers have the fields, casing and types of the models of
// Alibaba's v2 Go SDK, and the values Alibaba shows for the details the v1 SDK tests do not see.
func TestV2ResponseShapes(t *testing.T) {
	e := newEnv(t, nil)
	call := func(p url.Values) map[string]any {
		t.Helper()
		st, body := do(t, signed(t, e.srv, "POST", p, "testsecret"))
		if st != 200 {
			t.Fatalf("%v: %d %v", p, st, body)
		}
		return body
	}
	// i-a2 goes from AutoRenewal (3 months) to Normal: its Duration no longer applies.
	call(url.Values{"Action": {"ModifyInstanceAutoRenewAttribute"}, "InstanceId": {"i-a2"}, "RenewalStatus": {"Normal"}})
	instances := call(url.Values{"Action": {"DescribeInstances"}, "PageSize": {"100"}})
	knownKeys(t, "DescribeInstances", instances, reflect.TypeFor[ecs20140526.DescribeInstancesResponseBody]())
	attrs := call(url.Values{"Action": {"DescribeInstanceAutoRenewAttribute"}, "InstanceId": {"i-a1,i-a2,i-a3"}})
	knownKeys(t, "DescribeInstanceAutoRenewAttribute", attrs, reflect.TypeFor[ecs20140526.DescribeInstanceAutoRenewAttributeResponseBody]())
	price := call(url.Values{"Action": {"DescribeRenewalPrice"}, "ResourceId": {"i-a1"}, "Period": {"1"}, "PriceUnit": {"Year"}})
	knownKeys(t, "DescribeRenewalPrice", price, reflect.TypeFor[ecs20140526.DescribeRenewalPriceResponseBody]())
	regions := call(url.Values{"Action": {"DescribeRegions"}})
	knownKeys(t, "DescribeRegions", regions, reflect.TypeFor[ecs20140526.DescribeRegionsResponseBody]())
	renew := call(url.Values{"Action": {"RenewInstance"}, "InstanceId": {"i-a1"}, "Period": {"1"}, "ClientToken": {"shape-1"}})
	knownKeys(t, "RenewInstance", renew, reflect.TypeFor[ecs20140526.RenewInstanceResponseBody]())
	if _, ok := renew["OrderId"].(string); !ok {
		t.Errorf("OrderId %#v: the v2 SDK's model is a string", renew["OrderId"])
	}

	byID := map[string]map[string]any{}
	for _, in := range instances["Instances"].(map[string]any)["Instance"].([]any) {
		m := in.(map[string]any)
		byID[m["InstanceId"].(string)] = m
	}
	// SaleCycle: lower case, as ecs-api.md's sample ("month"); pay-as-you-go instances have none.
	if got := byID["i-a1"]["SaleCycle"]; got != "month" {
		t.Errorf("SaleCycle of a PrePaid instance %#v, want month", got)
	}
	if got, ok := byID["i-a5"]["SaleCycle"]; ok && got != "" {
		t.Errorf("SaleCycle of a PostPaid instance %#v, want none", got)
	}
	if byID["i-a1"]["OSNameEn"] == "" || byID["i-a1"]["OSNameEn"] == nil {
		t.Errorf("OSNameEn missing: %v", byID["i-a1"])
	}
	got := map[string]string{}
	for _, a := range attrs["InstanceRenewAttributes"].(map[string]any)["InstanceRenewAttribute"].([]any) {
		m := a.(map[string]any)
		if _, ok := m["EnableExpectedRenewDay"].(bool); !ok {
			t.Errorf("EnableExpectedRenewDay missing: %v", m)
		}
		got[m["InstanceId"].(string)] = fmt.Sprint(m["RenewalStatus"], "/", m["Duration"], "/", m["PeriodUnit"])
	}
	// Duration is the length of an automatic renewal: 0 when auto-renewal is off (Normal,
	// NotRenewal), also after it was on; PeriodUnit stays Month (Title case, as
	// ModifyInstanceAutoRenewAttribute takes it back).
	want := map[string]string{"i-a1": "Normal/0/Month", "i-a2": "Normal/0/Month", "i-a3": "NotRenewal/0/Month"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("auto-renew attributes %v, want %v", got, want)
	}
}
