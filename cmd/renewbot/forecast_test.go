package main

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/ecs/ecssim"
)

type forecastJSON struct {
	Accounts   []forecastAccountRow   `json:"accounts"`
	Deductions []forecastDeductionRow `json:"deductions"`
}

func TestCLI_ForecastOneAccount(t *testing.T) {
	sim, env := newSim(t, 0)
	r := runCLI(t, env, "", "forecast", "--format", "json")
	var got forecastJSON
	if err := json.Unmarshal([]byte(r.out), &got); err != nil || r.code != 0 {
		t.Fatalf("exit %d, stdout %q, stderr %q: %v", r.code, r.out, r.stderr, err)
	}
	// i-auto0002 renews itself for 1 month in 12 days: its deduction is in 3 days.
	if len(got.Deductions) != 1 || got.Deductions[0].InstanceID != "i-auto0002" || !got.Deductions[0].Priced || got.Deductions[0].Amount <= 0 || got.Deductions[0].Months != 1 {
		t.Fatalf("deductions = %+v", got.Deductions)
	}
	d := got.Deductions[0]
	if want := ecs.DeductionTime(d.ExpiredTime); !d.DeductionTime.Equal(want) {
		t.Errorf("deduction %s, want %s (9 days before the expiry %s, 08:00 UTC+8)", d.DeductionTime, want, d.ExpiredTime)
	}
	if len(got.Accounts) != 1 || got.Accounts[0].Balance != 100000 || got.Accounts[0].Deductions9Days != d.Amount || !got.Accounts[0].Covered {
		t.Fatalf("accounts = %+v", got.Accounts)
	}

	// A balance that cannot be read: the rest is printed, the balance is named, exit 3.
	sim.SetFaults(ecssim.Faults{Action: "QueryAccountBalance", ErrorRate: 1})
	r = runCLI(t, env, "", "forecast")
	if r.code != exitPartial || !strings.Contains(r.stderr, "the balance of the account could not be read") || !strings.Contains(r.out, "i-auto0002") {
		t.Fatalf("exit %d, stdout %q, stderr %q: want 3 naming the unreadable balance, the deduction still listed", r.code, r.out, r.stderr)
	}
}

// Two accounts, one through a role (AssumeRole over TLS with RENEWBOT_CA_FILE): the forecast
// reads each balance and flags the account whose balance does not cover its deduction.
func TestCLI_ForecastTwoAccountsOneThroughARole(t *testing.T) {
	now := time.Now()
	at := func(days int) time.Time { return now.Add(time.Duration(days) * 24 * time.Hour).Truncate(time.Minute) }
	fleet := ecssim.Fleet{Balance: 100000, Currency: "CNY", Instances: []ecssim.FleetInstance{
		{InstanceId: "i-base0001", InstanceName: "web", RegionId: "cn-hangzhou", ExpiredTime: at(12), MonthlyPrice: 300, RenewalStatus: "AutoRenewal", Duration: 1},
	}, Accounts: []ecssim.FleetAccount{{UID: "3000000000000003", Name: "shop", AccessKeyID: "AKshop", AccessKeySecret: "SKshop", Balance: 150, Currency: "CNY",
		Instances: []ecssim.FleetInstance{
			{InstanceId: "i-shop0001", InstanceName: "cart", RegionId: "cn-hangzhou", ExpiredTime: at(11), MonthlyPrice: 200, RenewalStatus: "AutoRenewal", Duration: 1},
		},
		Roles: []ecssim.FleetRole{{Name: "renewbot", Trusts: []string{ecssim.DefaultAccountUID}}},
	}}}
	sim := ecssim.NewServer(ecssim.Options{Fleet: fleet, Regions: []string{"cn-hangzhou"}})
	t.Cleanup(sim.Close)
	dir := t.TempDir()
	ca, file := filepath.Join(dir, "ecssim.pem"), filepath.Join(dir, "accounts.yaml")
	if err := os.WriteFile(ca, sim.CertificatePEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := "accounts:\n  - name: base\n    uid: \"" + ecssim.DefaultAccountUID + "\"\n" +
		"  - name: shop\n    uid: \"3000000000000003\"\n    credentials: {ram_role_arn: \"acs:ram::3000000000000003:role/renewbot\", duration: 15m}\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"RENEWBOT_ECS_ENDPOINT": sim.URL, "RENEWBOT_STS_ENDPOINT": strings.TrimPrefix(sim.URL, "http://"), "RENEWBOT_CA_FILE": ca,
		"RENEWBOT_ACCOUNTS": file, "RENEWBOT_REGIONS": "cn-hangzhou", "RENEWBOT_TIMEZONE": "UTC",
		"ALIBABA_CLOUD_ACCESS_KEY_ID": "testid", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "testsecret",
	}
	r := runCLI(t, env, "", "forecast", "--format", "json")
	var got forecastJSON
	if err := json.Unmarshal([]byte(r.out), &got); err != nil || r.code != 0 {
		t.Fatalf("exit %d, stdout %q, stderr %q: %v", r.code, r.out, r.stderr, err)
	}
	if len(got.Accounts) != 2 {
		t.Fatalf("accounts = %+v", got.Accounts)
	}
	base, shop := got.Accounts[0], got.Accounts[1]
	if base.Account != "base" || base.Balance != 100000 || base.AtRisk != 0 || !base.Covered {
		t.Errorf("base = %+v, want covered", base)
	}
	if shop.Account != "shop" || shop.Balance != 150 || shop.AtRisk != 1 || shop.Covered || shop.Deductions9Days <= 150 {
		t.Errorf("shop = %+v, want 1 at risk", shop)
	}
	var risky []string
	for _, d := range got.Deductions {
		if d.AtRisk {
			risky = append(risky, d.Account+":"+d.InstanceID)
		}
	}
	if strings.Join(risky, ",") != "shop:i-shop0001" {
		t.Errorf("at risk = %v, want shop:i-shop0001", risky)
	}
	// ACCOUNT:ID quotes in that account only.
	if r := runCLI(t, env, "", "quote", "shop:i-shop0001"); r.code != 0 || !strings.Contains(r.out, "i-shop0001") {
		t.Errorf("quote shop:i-shop0001: exit %d, %q %q", r.code, r.out, r.stderr)
	}
	if r := runCLI(t, env, "", "quote", "base:i-shop0001"); r.code == 0 || !strings.Contains(r.stderr, "base:i-shop0001") {
		t.Errorf("quote base:i-shop0001: exit %d, stderr %q; want not found", r.code, r.stderr)
	}
}

// An account whose price calls hang does not hold back another account's: while every
// DescribeRenewalPrice of account slow is held at the emulator, all of account fast's arrive;
// an account whose key is refused is named in the error, and the others are priced.
func TestForecastPricingOfOneAccountDoesNotWaitForAnother(t *testing.T) {
	now := time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC)
	regions := []string{"cn-bench-1", "cn-bench-2"}
	fleet, cfgs := pricingFleet(60, 2, regions, now) // acct00 (the default key) and acct01: 30 each
	cfgs = append(cfgs, ecs.Config{Account: "refused", AccessKeyID: "AKnobody", AccessKeySecret: "x", Regions: regions})
	fastKey := cfgs[1].AccessKeyID
	held, fastArrived := make(chan struct{}), make(chan struct{})
	var fast atomic.Int64
	sim := ecssim.NewServer(ecssim.Options{Fleet: fleet, Now: func() time.Time { return now }, Hook: func(action string, p url.Values) {
		if action != "DescribeRenewalPrice" {
			return
		}
		switch p.Get("AccessKeyId") {
		case "testid": // acct00: slow
			<-held
		case fastKey:
			if fast.Add(1) == 30 {
				close(fastArrived)
			}
		}
	}})
	t.Cleanup(sim.Close)
	for i := range cfgs {
		cfgs[i].Endpoint = sim.URL
	}
	accts, err := ecs.NewAccounts(cfgs)
	if err != nil {
		t.Fatal(err)
	}
	const window = 30 * 24 * time.Hour
	scan, err := accts.Expiring(t.Context(), now, renewal.ForecastScanTo(now, window))
	if len(scan.Failed) != 2 || err != nil { // refused: both regions named
		t.Fatalf("scan: %v, failed %v", err, scan.Failed)
	}
	done := make(chan forecastResult, 1)
	go func() {
		var prices renewal.PriceCache
		done <- forecastOfScan(t.Context(), accts, &prices, now, window, forecastHorizon, scan)
	}()
	select {
	case <-fastArrived:
	case <-time.After(30 * time.Second): // a failsafe: the fast account's prices are asked at once
		close(held)
		t.Fatalf("account acct01's prices waited for acct00's: %d of 30 asked", fast.Load())
	}
	close(held)
	res := <-done
	if len(res.Accounts) != 3 {
		t.Fatalf("accounts = %+v", res.Accounts)
	}
	for _, f := range res.Accounts[:2] {
		if len(f.Deductions) != 30 || f.Unpriced != 0 || f.BalanceErr != nil {
			t.Errorf("%s: %d deductions, %d unpriced, balance error %v; want 30 priced", f.Account, len(f.Deductions), f.Unpriced, f.BalanceErr)
		}
	}
	if refused := res.Accounts[2]; refused.Account != "refused" || refused.BalanceErr == nil {
		t.Errorf("refused = %+v, want its balance error", refused)
	}
}
