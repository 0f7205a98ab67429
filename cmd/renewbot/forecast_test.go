package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

type forecastJSON struct {
	Accounts   []forecastAccountRow   `json:"accounts"`
	Deductions []forecastDeductionRow `json:"deductions"`
}

func TestCLI_ForecastBalanceUnreadable(t *testing.T) {
	_, env := newSim(t, 0)
	// ecssim answers QueryAccountBalance; here the key lacks bss:QueryAccountBalance, as a RAM
	// user's may: the BSS endpoint refuses it (403 NoPermission, not retried).
	bss := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"RequestId":"F0RECA57-0000-4000-8000-000000000001","HostId":"business.aliyuncs.com","Code":"NoPermission","Message":"You are not authorized to do this action."}`))
	}))
	t.Cleanup(bss.Close)
	env["RENEWBOT_BSS_ENDPOINT"] = bss.URL
	r := runCLI(t, env, "", "forecast", "--format", "json")
	var got forecastJSON
	if err := json.Unmarshal([]byte(r.out), &got); err != nil {
		t.Fatalf("exit %d, stdout %q, stderr %q: %v", r.code, r.out, r.stderr, err)
	}
	// i-auto0002 renews itself for 1 month in 12 days: its deduction is in 3 days.
	if len(got.Deductions) != 1 || got.Deductions[0].InstanceID != "i-auto0002" || !got.Deductions[0].Priced || got.Deductions[0].Amount <= 0 || got.Deductions[0].Months != 1 {
		t.Fatalf("deductions = %+v", got.Deductions)
	}
	d := got.Deductions[0]
	if want := d.ExpiredTime.Add(-9 * 24 * time.Hour); d.DeductionTime.Sub(want) > 24*time.Hour || want.Sub(d.DeductionTime) > 24*time.Hour {
		t.Errorf("deduction %s, expiry %s: want 9 days before, at 08:00 UTC+8", d.DeductionTime, d.ExpiredTime)
	}
	if len(got.Accounts) != 1 || got.Accounts[0].BalanceError == "" || got.Accounts[0].Deductions9Days != d.Amount || got.Accounts[0].AtRisk != 0 {
		t.Fatalf("accounts = %+v", got.Accounts)
	}
	if r.code != exitPartial || !strings.Contains(r.stderr, "the balance of the account could not be read") {
		t.Fatalf("exit %d, stderr %q: want 3 naming the unreadable balance", r.code, r.stderr)
	}
}
