package ecs_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/ecs/ecssim"
)

const shopUID = "3000000000000003"

// stsFleet: the base account (testid) with i-base1, and account shop with i-shop1, reached
// only through its roles: renewbot (trusts the base account), strict (wants an ExternalId)
// and closed (trusts another account).
func stsFleet() ecssim.Fleet {
	return ecssim.Fleet{Balance: 1000, Currency: "CNY", Instances: []ecssim.FleetInstance{instance("i-base1", "cn-hangzhou", 3)},
		Accounts: []ecssim.FleetAccount{{
			UID: shopUID, Name: "shop", AccessKeyID: "AKshop", AccessKeySecret: "SKshop", Balance: 70, Currency: "CNY",
			Instances: []ecssim.FleetInstance{instance("i-shop1", "cn-hangzhou", 4)},
			Roles: []ecssim.FleetRole{
				{Name: "renewbot", Trusts: []string{ecssim.DefaultAccountUID}},
				{Name: "strict", Trusts: []string{ecssim.DefaultAccountUID}, ExternalID: "ext-123"},
				{Name: "closed", Trusts: []string{"9"}},
			},
		}}}
}

// newSTSSim starts ecssim with the accounts fleet; STS credentials follow stsClock (the SDK's
// provider compares their Expiration with the wall clock), and its certificate is trusted.
func newSTSSim(t *testing.T) (*ecssim.Server, *ecssim.Clock) {
	t.Helper()
	stsClock := ecssim.NewClock(time.Now())
	sim := newSim(t, ecssim.Options{Fleet: stsFleet(), Regions: []string{"cn-hangzhou"}, STSNow: stsClock.Now}, nil)
	if err := ecs.TrustCAs(sim.CertificatePEM()); err != nil {
		t.Fatal(err)
	}
	return sim, stsClock
}

// roleConfig is account shop through a role, assumed with the base account's key.
func roleConfig(sim *ecssim.Server, role ecs.Role) ecs.Config {
	role.STSEndpoint = strings.TrimPrefix(sim.URL, "http://")
	return ecs.Config{Account: "shop", Endpoint: sim.URL, AccessKeyID: "testid", AccessKeySecret: "testsecret", Role: &role,
		Regions: []string{"cn-hangzhou"}, Timeout: 5 * time.Second, Retry: ecs.RetryPolicy{Attempts: 2, Base: time.Millisecond, Max: time.Millisecond}, Sleep: noWait}
}

func TestTwoAccountsOneThroughARole(t *testing.T) {
	sim, _ := newSTSSim(t)
	base := ecs.Config{Account: "base", Endpoint: sim.URL, AccessKeyID: "testid", AccessKeySecret: "testsecret",
		Regions: []string{"cn-hangzhou"}, Retry: ecs.RetryPolicy{Attempts: 2}, Sleep: noWait}
	accts, err := ecs.NewAccounts([]ecs.Config{base, roleConfig(sim, ecs.Role{ARN: "acs:ram::" + shopUID + ":role/renewbot"})})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	scan, err := accts.Expiring(ctx, t0, t0.Add(30*24*time.Hour))
	if err != nil || len(scan.Failed) > 0 {
		t.Fatalf("Expiring: %v, failed %v", err, scan.Failed)
	}
	var got []string
	for _, in := range scan.Instances {
		got = append(got, in.Account+":"+in.ID)
	}
	if strings.Join(got, " ") != "base:i-base1 shop:i-shop1" {
		t.Fatalf("instances = %v: each account must see its own, the role's being shop's", got)
	}
	// Each account pays from its own balance.
	for name, want := range map[string]float64{"base": 1000, "shop": 70} {
		cl, _ := accts.Client(name)
		b, err := cl.Balance(ctx)
		if err != nil || b.Available != want || b.Currency != "CNY" || b.Account != name {
			t.Errorf("balance of %s = %+v, %v; want %v CNY", name, b, err, want)
		}
	}
	// More calls reuse the role's credentials: one AssumeRole in all.
	if _, err := accts.Lookup(ctx, []string{"i-shop1", "i-base1"}); err != nil {
		t.Fatal(err)
	}
	if n := sim.Calls()["AssumeRole"]; n != 1 {
		t.Errorf("AssumeRole called %d times for credentials valid an hour, want 1 (cached)", n)
	}
}

func TestRoleCredentialsRefreshedBeforeExpiry(t *testing.T) {
	sim, stsClock := newSTSSim(t)
	// Credentials last 15 minutes; STS's clock is 13 minutes behind the wall clock, so each
	// set expires 2 minutes from now: inside the SDK provider's 3-minute margin.
	stsClock.Set(time.Now().Add(-13 * time.Minute))
	c, err := ecs.New(roleConfig(sim, ecs.Role{ARN: "acs:ram::" + shopUID + ":role/renewbot", Duration: 15 * time.Minute}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := 1; i <= 3; i++ {
		if _, err := c.Lookup(ctx, []string{"i-shop1"}); err != nil {
			t.Fatalf("lookup %d: %v", i, err)
		}
		if n := sim.Calls()["AssumeRole"]; n < i {
			t.Fatalf("after %d calls with credentials 2 minutes from expiry, AssumeRole was called %d times: not refreshed", i, n)
		}
	}
	// With STS on time, the next set lasts 15 minutes: no more AssumeRole.
	stsClock.Set(time.Now())
	if _, err := c.Lookup(ctx, []string{"i-shop1"}); err != nil {
		t.Fatal(err)
	}
	n := sim.Calls()["AssumeRole"]
	if _, err := c.Lookup(ctx, []string{"i-shop1"}); err != nil {
		t.Fatal(err)
	}
	if m := sim.Calls()["AssumeRole"]; m != n {
		t.Fatalf("credentials valid 15 minutes were assumed again (%d → %d)", n, m)
	}
}

func TestRoleExpiredTokenRefused(t *testing.T) {
	sim, stsClock := newSTSSim(t)
	c, err := ecs.New(roleConfig(sim, ecs.Role{ARN: "acs:ram::" + shopUID + ":role/renewbot", Duration: 15 * time.Minute}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.Lookup(ctx, []string{"i-shop1"}); err != nil {
		t.Fatal(err)
	}
	// STS's clock passes the credentials' expiry; the provider, on the wall clock, still
	// sends them: ecssim refuses them as Alibaba does.
	stsClock.Advance(16 * time.Minute)
	_, err = c.Lookup(ctx, []string{"i-shop1"})
	if !errors.Is(err, ecs.ErrAccessDenied) || !strings.Contains(err.Error(), "InvalidSecurityToken.Expired") {
		t.Fatalf("expired token: err = %v, want access denied, InvalidSecurityToken.Expired", err)
	}
}

func TestRoleUntrustedOrWrongExternalIDRefused(t *testing.T) {
	sim, _ := newSTSSim(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		role ecs.Role
		want string
	}{
		{"untrusted", ecs.Role{ARN: "acs:ram::" + shopUID + ":role/closed"}, "NoPermission"},
		{"no such role", ecs.Role{ARN: "acs:ram::" + shopUID + ":role/nobody"}, "EntityNotExist.Role"},
		{"wrong external ID", ecs.Role{ARN: "acs:ram::" + shopUID + ":role/strict", ExternalID: "ext-999"}, "NoPermission"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ecs.New(roleConfig(sim, tc.role))
			if err != nil {
				t.Fatal(err)
			}
			insts, err := c.Lookup(ctx, []string{"i-shop1"})
			if !errors.Is(err, ecs.ErrAccessDenied) || !strings.Contains(err.Error(), tc.want) || len(insts) != 0 {
				t.Fatalf("err = %v (%d instances), want access denied naming %s", err, len(insts), tc.want)
			}
		})
	}
	// The right external ID opens the strict role.
	c, err := ecs.New(roleConfig(sim, ecs.Role{ARN: "acs:ram::" + shopUID + ":role/strict", ExternalID: "ext-123"}))
	if err != nil {
		t.Fatal(err)
	}
	if insts, err := c.Lookup(ctx, []string{"i-shop1"}); err != nil || len(insts) != 1 {
		t.Fatalf("strict role with its external ID: %v, %v", insts, err)
	}
}
