package ecssim_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/renewbot/renewbot/ecs/ecssim"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fleet.json")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadFleet(t *testing.T) {
	p := writeFile(t, `{"now": "2026-11-25T08:00:00Z", "balance": 500, "currency": "CNY", "instances": [
	  {"InstanceId": "i-1", "RegionId": "cn-hangzhou", "ExpiredTime": "2026-12-01T16:00Z", "MonthlyPrice": 99.5,
	   "RenewalStatus": "AutoRenewal", "Duration": 3, "PeriodUnit": "Month", "Tags": {"env": "prod"}},
	  {"InstanceId": "i-2", "RegionId": "cn-shanghai", "InstanceChargeType": "PostPaid"},
	  {"InstanceId": "i-3", "RegionId": "cn-shanghai", "ExpiredTime": "2027-01-01T16:00:00+00:00"}]}`)
	f, err := ecssim.LoadFleet(p)
	if err != nil {
		t.Fatal(err)
	}
	if f.Now == nil || !f.Now.Equal(t0) || f.Balance != 500 || len(f.Instances) != 3 {
		t.Fatalf("fleet %+v", f)
	}
	if !f.Instances[0].ExpiredTime.Equal(time.Date(2026, 12, 1, 16, 0, 0, 0, time.UTC)) || f.Instances[0].Tags["env"] != "prod" {
		t.Fatalf("instance %+v", f.Instances[0])
	}
	// Fleet.Now drives the business clock when Options.Now is nil.
	s := ecssim.NewServer(ecssim.Options{Fleet: f})
	defer s.Close()
	in, ok := s.Instance("i-3")
	if !ok || in.InstanceName != "i-3" || in.ZoneId != "cn-shanghai-a" || in.InstanceChargeType != "PrePaid" ||
		in.Status != "Running" || in.RenewalStatus != "Normal" || in.PeriodUnit != "Month" || in.MonthlyPrice <= 0 {
		t.Fatalf("defaults %+v", in)
	}
}

func TestLoadFleetErrors(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"not json", `{`, "unexpected EOF"},
		{"unknown field", `{"instances": [], "balanse": 1}`, "balanse"},
		{"missing id", `{"instances": [{"RegionId": "cn-hangzhou", "ExpiredTime": "2026-12-01T16:00Z"}]}`, "instance #1: missing InstanceId"},
		{"missing region", `{"instances": [{"InstanceId": "i-1", "ExpiredTime": "2026-12-01T16:00Z"}]}`, "instance #1 (i-1): missing RegionId"},
		{"charge type", `{"instances": [{"InstanceId": "i-1", "RegionId": "cn-hangzhou", "InstanceChargeType": "Prepaid"}]}`, `(i-1): unknown InstanceChargeType "Prepaid"`},
		{"no expiry", `{"instances": [{"InstanceId": "i-1", "RegionId": "cn-hangzhou"}]}`, "(i-1): PrePaid instance needs an ExpiredTime"},
		{"bad time", `{"instances": [{"InstanceId": "i-1", "RegionId": "cn-hangzhou", "ExpiredTime": "tomorrow"}]}`, `"i-1": ExpiredTime`},
		{"duplicate", `{"instances": [{"InstanceId": "i-1", "RegionId": "cn-hangzhou", "InstanceChargeType": "PostPaid"},
		  {"InstanceId": "i-1", "RegionId": "cn-beijing", "InstanceChargeType": "PostPaid"}]}`, "instance #2 (i-1): duplicate InstanceId"},
		{"renewal status", `{"instances": [{"InstanceId": "i-1", "RegionId": "cn-hangzhou", "ExpiredTime": "2026-12-01T16:00Z", "RenewalStatus": "On"}]}`, "unknown RenewalStatus"},
		{"negative balance", `{"balance": -1, "instances": []}`, "negative"},
		{"unknown instance field", `{"instances": [{"InstanceId": "i-1", "RegionId": "cn-hangzhou", "ExpiredTime": "2026-12-01T16:00Z", "MonthyPrice": 5}]}`, `"MonthyPrice"`},
		{"huge price", `{"instances": [{"InstanceId": "i-1", "RegionId": "cn-hangzhou", "ExpiredTime": "2026-12-01T16:00Z", "MonthlyPrice": 1e308}]}`, "(i-1): MonthlyPrice 1e+308"},
		{"region shape", `{"instances": [{"InstanceId": "i-1", "RegionId": "r1", "ExpiredTime": "2026-12-01T16:00Z"}]}`, `(i-1): RegionId "r1" is not a region ID`},
		{"huge balance", `{"balance": 1e300, "instances": []}`, "balance 1e+300"},
		{"account uid", `{"instances": [], "accounts": [{"uid": "prod", "access_key_id": "AK1", "access_key_secret": "s", "instances": []}]}`, `account #1 (prod): uid "prod"`},
		{"account key twice", `{"instances": [], "accounts": [{"uid": "2", "access_key_id": "AK1", "access_key_secret": "s", "instances": []},
		  {"uid": "3", "access_key_id": "AK1", "access_key_secret": "s", "instances": []}]}`, "account #2 (3): access_key_id AK1 is used by another account"},
		{"account instance ID taken", `{"instances": [{"InstanceId": "i-1", "RegionId": "cn-hangzhou", "InstanceChargeType": "PostPaid"}],
		  "accounts": [{"uid": "2", "access_key_id": "AK1", "access_key_secret": "s", "instances": [{"InstanceId": "i-1", "RegionId": "cn-hangzhou", "InstanceChargeType": "PostPaid"}]}]}`, "account #1 (2): instance #1 (i-1): duplicate InstanceId"},
		{"role trust", `{"instances": [], "accounts": [{"uid": "2", "access_key_id": "AK1", "access_key_secret": "s", "instances": [], "roles": [{"name": "r", "trusts": ["me"]}]}]}`, `role r: trusts "me"`},
		{"account field", `{"instances": [], "accounts": [{"uid": "2", "accesskey": "AK1"}]}`, `"accesskey"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ecssim.LoadFleet(writeFile(t, tc.body))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
	if _, err := ecssim.LoadFleet(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Fatal("missing file accepted")
	}
}

// TestLoadFleetAccounts: the accounts list beside the single-account fields, with its fixed
// field names.
func TestLoadFleetAccounts(t *testing.T) {
	p := writeFile(t, `{"balance": 10, "instances": [{"InstanceId": "i-1", "RegionId": "cn-hangzhou", "ExpiredTime": "2026-12-01T16:00Z"}],
	  "accounts": [{"uid": "2000000000000002", "name": "prod", "access_key_id": "AKprod", "access_key_secret": "SKprod",
	    "balance": 500, "currency": "USD", "instances": [{"InstanceId": "i-2", "RegionId": "cn-shanghai", "ExpiredTime": "2026-12-01T16:00Z"}],
	    "roles": [{"name": "renewbot", "trusts": ["1000000000000001"], "external_id": "ext-1"}]}]}`)
	f, err := ecssim.LoadFleet(p)
	if err != nil {
		t.Fatal(err)
	}
	a := f.Accounts[0]
	if len(f.Accounts) != 1 || a.UID != "2000000000000002" || a.Name != "prod" || a.AccessKeyID != "AKprod" || a.Balance != 500 ||
		a.Currency != "USD" || len(a.Instances) != 1 || a.Roles[0].Name != "renewbot" || a.Roles[0].ExternalID != "ext-1" {
		t.Fatalf("accounts %+v", f.Accounts)
	}
	s := ecssim.NewServer(ecssim.Options{Fleet: f})
	defer s.Close()
	if got := s.Accounts(); len(got) != 2 || got[1].Balance != 500 || got[1].Currency != "USD" || got[0].Balance != 10 {
		t.Fatalf("accounts %+v", got)
	}
}

func TestGenerate(t *testing.T) {
	a := ecssim.Generate(1000, nil, 9, t0)
	if b := ecssim.Generate(1000, nil, 9, t0); !reflect.DeepEqual(a, b) {
		t.Fatal("Generate is not deterministic")
	}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, in := range a.Instances {
		count[in.RegionId]++
		count[in.InstanceChargeType]++
		count[in.RenewalStatus]++
		if in.InstanceChargeType == "PrePaid" {
			switch d := in.ExpiredTime.Sub(t0); {
			case d < 0:
				count["expired"]++
				if d < -15*24*time.Hour {
					t.Fatalf("%s would already be released", in.InstanceId)
				}
			case d <= 7*24*time.Hour+8*time.Hour:
				count["week"]++
			}
		}
	}
	for _, k := range []string{"cn-hangzhou", "cn-shanghai", "cn-beijing", "PostPaid", "AutoRenewal", "NotRenewal", "Normal", "expired", "week"} {
		if count[k] < 20 {
			t.Fatalf("too few %s: %v", k, count)
		}
	}
}

func TestGeneratedFleetRoundTrips(t *testing.T) {
	f := ecssim.Generate(50, []string{"cn-hangzhou", "ap-southeast-1"}, 5, t0)
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	back, err := ecssim.LoadFleet(writeFile(t, string(b)))
	if err != nil {
		t.Fatal(err)
	}
	for i := range back.Instances {
		if back.Instances[i].InstanceChargeType == "PostPaid" {
			back.Instances[i].ExpiredTime = time.Time{}
		}
	}
	if !reflect.DeepEqual(f, back) {
		t.Fatalf("round trip changed the fleet")
	}
}

func TestAddInstancesAndHandler(t *testing.T) {
	c := ecssim.NewClock(t0)
	s := ecssim.NewUnstartedServer(ecssim.Options{Now: c.Now})
	s.AddInstances(
		ecssim.FleetInstance{InstanceId: "i-new", RegionId: "cn-beijing", ExpiredTime: day(1), MonthlyPrice: 10},
		ecssim.FleetInstance{InstanceId: "i-bad", RegionId: "cn-beijing", InstanceChargeType: "Weekly"},
	)
	if _, ok := s.Instance("i-bad"); ok {
		t.Fatal("invalid instance added")
	}
	s.AddInstances(ecssim.FleetInstance{InstanceId: "i-new", RegionId: "cn-beijing", ExpiredTime: day(2), RenewalStatus: "AutoRenewal"})
	in, ok := s.Instance("i-new")
	if !ok || !in.ExpiredTime.Equal(day(2)) || in.RenewalStatus != "AutoRenewal" || in.Duration != 1 {
		t.Fatalf("replaced instance %+v", in)
	}
	c.Advance(day(2).Sub(t0))
	if in, _ := s.Instance("i-new"); in.Status != "Stopped" {
		t.Fatalf("expired instance status %s", in.Status)
	}
	// Handler can be mounted elsewhere (httptest.Server here).
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	resp, err := http.Get(hs.URL + "/_sim/orders")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var orders []ecssim.Order
	if err := json.NewDecoder(resp.Body).Decode(&orders); err != nil || orders == nil || len(orders) != 0 {
		t.Fatalf("orders %v %v", orders, err)
	}
	s.Close() // never started: must not block
}
