package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const exampleAccounts = `accounts:
  - name: prod
    uid: "1234567890123456"
    credentials: {access_key_id_env: PROD_AK_ID, access_key_secret_env: PROD_AK_SECRET}
  - name: shop
    uid: "2345678901234567"
    regions: [cn-hangzhou, cn-shanghai]
    credentials:
      ram_role_arn: "acs:ram::2345678901234567:role/renewbot"
      external_id: renewbot-x
      session_name: renewbot
      duration: 45m
    digest_channel: C0SHOP1234
    approvers: [U0ALICE123, S0FINANCE1]
    rate_limit: {calls_per_second: 10, burst: 5, apis: {DescribeInstances: 4}}
  - name: base
    uid: "3456789012345678"
`

func accountsEnv(k string) string {
	return map[string]string{"PROD_AK_ID": "prod-id", "PROD_AK_SECRET": "prod-secret"}[k]
}

func TestParseAccountsExample(t *testing.T) {
	specs, err := parseAccounts([]byte(exampleAccounts), accountsEnv)
	if err != nil {
		t.Fatalf("parseAccounts: %v", err)
	}
	if len(specs) != 3 {
		t.Fatalf("%d accounts, want 3", len(specs))
	}
	prod, shop, base := specs[0], specs[1], specs[2]
	if prod.Name != "prod" || prod.AccessKeyID != "prod-id" || prod.AccessKeySecret != "prod-secret" || prod.Role != nil || prod.Regions != nil {
		t.Errorf("prod = %+v", prod)
	}
	if shop.Role == nil || shop.Role.ARN != "acs:ram::2345678901234567:role/renewbot" || shop.Role.ExternalID != "renewbot-x" ||
		shop.Role.SessionName != "renewbot" || shop.Role.Duration != 45*time.Minute || shop.AccessKeyID != "" {
		t.Errorf("shop role = %+v", shop.Role)
	}
	if strings.Join(shop.Regions, ",") != "cn-hangzhou,cn-shanghai" || shop.DigestChannel != "C0SHOP1234" || strings.Join(shop.Approvers, ",") != "U0ALICE123,S0FINANCE1" {
		t.Errorf("shop overrides = %+v", shop)
	}
	if shop.RateLimit.PerSecond != 10 || shop.RateLimit.Burst != 5 || shop.RateLimit.Actions["DescribeInstances"] != 4 {
		t.Errorf("shop rate limit = %+v", shop.RateLimit)
	}
	if base.AccessKeyID != "" || base.Role != nil {
		t.Errorf("base = %+v, want the base credentials", base)
	}
	// serve's policy: shop's own approvers; prod and base keep RENEWBOT_APPROVERS.
	got := accountApprovers(specs)
	if len(got) != 1 || !slices.Equal(got["shop"], []string{"U0ALICE123", "S0FINANCE1"}) {
		t.Errorf("accountApprovers = %v, want only shop's", got)
	}
}

func TestParseAccountsErrorsNameAccountAndField(t *testing.T) {
	acct := func(body string) string { return "accounts:\n  - name: prod\n    uid: \"1\"\n" + body }
	for _, tc := range []struct{ name, yaml, want string }{
		{"empty", "", "empty"},
		{"no accounts", "accounts: []\n", "lists no account"},
		{"top-level unknown", "acounts: []\n", `unknown field "acounts"`},
		{"unknown account field", acct("    region: [cn-hangzhou]\n"), `account "prod": line 4: unknown field "region"`},
		{"unknown credentials field", acct("    credentials: {role_arn: x}\n"), `account "prod": credentials.role_arn: line 4: unknown field`},
		{"unknown rate field", acct("    rate_limit: {qps: 3}\n"), `account "prod": rate_limit.qps`},
		{"no name", "accounts:\n  - uid: \"1\"\n", "accounts[0]: name: is required"},
		{"bad name", "accounts:\n  - name: \"a:b\"\n    uid: \"1\"\n", `account "a:b": name:`},
		{"no uid", "accounts:\n  - name: prod\n", `account "prod": uid: is required`},
		{"numeric-looking uid", "accounts:\n  - name: prod\n    uid: 12x\n", `account "prod": uid: "12x" is not`},
		{"duplicate name", acct("  - name: prod\n    uid: \"2\"\n"), `account "prod": name: is used by another account`},
		{"duplicate uid", acct("  - name: dev\n    uid: \"1\"\n"), `account "dev": uid: is also account "prod"'s`},
		{"bad region", acct("    regions: [Hangzhou]\n"), `account "prod": regions: has "Hangzhou"`},
		{"empty regions", acct("    regions: []\n"), `account "prod": regions: is an empty list`},
		{"bad channel", acct("    digest_channel: general\n"), `account "prod": digest_channel: "general"`},
		{"bad approver", acct("    approvers: [alice]\n"), `account "prod": approvers: has "alice"`},
		{"both kinds", acct("    credentials: {access_key_id_env: A, access_key_secret_env: B, ram_role_arn: x}\n"), `account "prod": credentials.: give either`},
		{"half pair", acct("    credentials: {access_key_id_env: PROD_AK_ID}\n"), `account "prod": credentials.access_key_secret_env: is required`},
		{"unset variable", acct("    credentials: {access_key_id_env: PROD_AK_ID, access_key_secret_env: NOPE}\n"), `credentials.access_key_secret_env: the environment variable NOPE is not set`},
		{"bad variable name", acct("    credentials: {access_key_id_env: \"1X\", access_key_secret_env: B}\n"), `credentials.access_key_id_env: "1X" is not`},
		{"role without arn", acct("    credentials: {session_name: x1}\n"), `credentials.ram_role_arn: is required`},
		{"bad arn", acct("    credentials: {ram_role_arn: \"arn:aws:iam::1:role/x\"}\n"), `credentials.ram_role_arn: "arn:aws:iam::1:role/x" is not a RAM role ARN`},
		{"arn of another account", acct("    credentials: {ram_role_arn: \"acs:ram::2:role/x\"}\n"), `credentials.ram_role_arn: the role is in account 2`},
		{"short duration", acct("    credentials: {ram_role_arn: \"acs:ram::1:role/x\", duration: 5m}\n"), `credentials.duration: "5m" is not from 15m to 12h`},
		{"bad duration", acct("    credentials: {ram_role_arn: \"acs:ram::1:role/x\", duration: soon}\n"), `credentials.duration: "soon" is not a duration`},
		{"bad session", acct("    credentials: {ram_role_arn: \"acs:ram::1:role/x\", session_name: \"a b\"}\n"), `credentials.session_name:`},
		{"bad rate", acct("    rate_limit: {calls_per_second: -2}\n"), `account "prod": rate_limit: calls per second -2`},
		{"wrong type", acct("    approvers: U1\n"), "cannot unmarshal"},
		{"not yaml", "accounts: [\n", "not YAML"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseAccounts([]byte(tc.yaml), accountsEnv)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestAccountsFileSchemaErrorExits2(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "accounts.yaml")
	if err := os.WriteFile(file, []byte("accounts:\n  - name: prod\n    uid: \"1\"\n    colour: blue\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"expiring", "--accounts", file}, {"expiring"}} {
		var out, errb bytes.Buffer
		getenv := func(k string) string {
			if k == "RENEWBOT_ACCOUNTS" {
				return file
			}
			return ""
		}
		code := run(context.Background(), args, getenv, strings.NewReader(""), &out, &errb)
		if code != exitUsage || !strings.Contains(errb.String(), strconv.Quote(file)+`: account "prod": line 4: unknown field "colour"`) {
			t.Fatalf("%v: exit %d, stderr %q; want 2 naming the file, the account and the field", args, code, errb.String())
		}
	}
}

func TestRAMPolicyMember(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"ram-policy", "--member", "--base-uid", "1234567890123456", "--external-id", "renewbot-x"},
		getenvOf(nil), nil, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var doc struct {
		RolePolicy  ramPolicy `json:"role_policy"`
		TrustPolicy struct {
			Statement []struct {
				Effect    string
				Action    []string
				Principal struct{ RAM []string }
				Condition map[string]map[string][]string
			}
		} `json:"trust_policy"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if got := doc.RolePolicy.Statement[0].Action; !slices.Contains(got, "bssapi:QueryAccountBalance") || !slices.Contains(got, "ecs:RenewInstance") || len(got) != 7 {
		t.Errorf("role policy actions = %v", got)
	}
	st := doc.TrustPolicy.Statement
	if len(st) != 1 || st[0].Effect != "Allow" || !slices.Equal(st[0].Action, []string{"sts:AssumeRole"}) ||
		!slices.Equal(st[0].Principal.RAM, []string{"acs:ram::1234567890123456:root"}) ||
		!slices.Equal(st[0].Condition["StringEquals"]["sts:ExternalId"], []string{"renewbot-x"}) {
		t.Errorf("trust policy = %+v", st)
	}
	for _, args := range [][]string{{"ram-policy", "--member"}, {"ram-policy", "--base-uid", "1"}, {"ram-policy", "--member", "--base-uid", "abc"}} {
		if code := run(context.Background(), args, getenvOf(nil), nil, &out, &errb); code != exitUsage {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

// The demo works in two accounts, the second through a RAM role (AssumeRole over TLS against
// ecssim's STS), and its digest shows both balances and warns about the short one.
func TestDemoTwoAccounts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"demo"}, func(string) string { return "" }, strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("demo exited %d\nstderr:\n%s", code, errOut.String())
	}
	got := out.String()
	for _, want := range []string{
		"💰 *Balance forecast*",
		"*main*: balance ¥20,000.00 CNY",
		"*shop*: balance ¥600.00 CNY",
		"AUTO-RENEW AT RISK: the balance of account shop (¥600.00 CNY)",
		"`i-bp1shopcart01` cart (shop)",
		"shop:cn-hangzhou", // the role account's instances, listed with their account
	} {
		if !strings.Contains(got, want) {
			t.Errorf("demo transcript lacks %q:\n%s", want, got)
		}
	}
}
