package ecssim_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/bssopenapi"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/sts"

	"github.com/renewbot/renewbot/ecs/ecssim"
)

const prodUID = "2000000000000002"

// accountsFleet: the default account (testid) with i-d1; account prod (AKprod) with i-p1 and
// i-p2 and three roles: renewbot (trusts the default account), strict (also wants an
// ExternalId) and closed (trusts nobody here).
func accountsFleet() ecssim.Fleet {
	return ecssim.Fleet{Balance: 1000, Instances: []ecssim.FleetInstance{
		{InstanceId: "i-d1", RegionId: "cn-hangzhou", ExpiredTime: day(5), MonthlyPrice: 50},
	}, Accounts: []ecssim.FleetAccount{{
		UID: prodUID, Name: "prod", AccessKeyID: "AKprod", AccessKeySecret: "SKprod", Balance: 300, Currency: "CNY",
		Instances: []ecssim.FleetInstance{
			{InstanceId: "i-p1", RegionId: "cn-hangzhou", ExpiredTime: day(3), MonthlyPrice: 100},
			{InstanceId: "i-p2", RegionId: "cn-shanghai", ExpiredTime: day(9), MonthlyPrice: 100},
		},
		Roles: []ecssim.FleetRole{
			{Name: "renewbot", Trusts: []string{ecssim.DefaultAccountUID}},
			{Name: "strict", Trusts: []string{ecssim.DefaultAccountUID}, ExternalID: "ext-123"},
			{Name: "closed", Trusts: []string{"9"}},
		},
	}}}
}

func newAccountsEnv(t *testing.T) (*ecssim.Server, *ecssim.Clock) {
	t.Helper()
	stsClock := ecssim.NewClock(time.Now())
	s := ecssim.NewServer(ecssim.Options{Fleet: accountsFleet(), Now: ecssim.NewClock(t0).Now, RenewDelay: -1, STSNow: stsClock.Now})
	t.Cleanup(s.Close)
	return s, stsClock
}

func clientWith(t *testing.T, s *ecssim.Server, p credentials.CredentialsProvider) *sdk.Client {
	t.Helper()
	c, err := sdk.NewClientWithOptions("cn-hangzhou", sdk.NewConfig(), p)
	if err != nil {
		t.Fatal(err)
	}
	c.Domain = strings.TrimPrefix(s.URL, "http://")
	c.SetNoProxy(`^127\.0\.0\.1`)
	return c
}

func instanceIDs(t *testing.T, c *sdk.Client, region string) []string {
	t.Helper()
	req := ecs.CreateDescribeInstancesRequest()
	req.RegionId = region
	resp := ecs.CreateDescribeInstancesResponse()
	if err := c.DoAction(req, resp); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, in := range resp.Instances.Instance {
		out = append(out, in.InstanceId)
	}
	return out
}

func renewWith(c *sdk.Client, id, token string) (string, error) {
	req := ecs.CreateRenewInstanceRequest()
	req.RegionId = "cn-hangzhou"
	req.InstanceId, req.Period, req.ClientToken = id, "1", token
	resp := ecs.CreateRenewInstanceResponse()
	err := c.DoAction(req, resp)
	return resp.OrderId, err
}

// TestAccountsSeeOnlyTheirInstances: each account sees its own instances, pays from its own
// balance, and has its own ClientTokens.
func TestAccountsSeeOnlyTheirInstances(t *testing.T) {
	s, _ := newAccountsEnv(t)
	def := clientWith(t, s, credentials.NewStaticAKCredentialsProvider("testid", "testsecret"))
	prod := clientWith(t, s, credentials.NewStaticAKCredentialsProvider("AKprod", "SKprod"))
	if got := instanceIDs(t, def, "cn-hangzhou"); !slices.Equal(got, []string{"i-d1"}) {
		t.Fatalf("default account sees %v", got)
	}
	if got := instanceIDs(t, prod, "cn-hangzhou"); !slices.Equal(got, []string{"i-p1"}) {
		t.Fatalf("prod sees %v", got)
	}
	if _, err := renewWith(prod, "i-d1", "tok-1"); err == nil {
		t.Fatal("prod renewed the default account's instance")
	} else {
		serverError(t, err, 404, "InvalidInstanceId.NotFound")
	}
	a, err := renewWith(prod, "i-p1", "tok-1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := renewWith(def, "i-d1", "tok-1") // the same token in another account is another request
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatalf("one order %s for two accounts", a)
	}
	accts := s.Accounts()
	if len(accts) != 2 || accts[0].UID != ecssim.DefaultAccountUID || accts[0].Balance != 950 ||
		accts[1].UID != prodUID || accts[1].Name != "prod" || accts[1].Balance != 200 {
		t.Fatalf("accounts %+v", accts)
	}
	orders := s.Orders()
	if len(orders) != 2 || orders[0].AccountUID != prodUID || orders[1].AccountUID != ecssim.DefaultAccountUID {
		t.Fatalf("orders %+v", orders)
	}
}

func assumeRole(c *sdk.Client, arn, session, external string, duration int) (*sts.AssumeRoleResponse, error) {
	req := sts.CreateAssumeRoleRequest()
	req.RoleArn, req.RoleSessionName, req.ExternalId = arn, session, external
	if duration > 0 {
		req.DurationSeconds = requestsInt(duration)
	}
	resp := sts.CreateAssumeRoleResponse()
	err := c.DoAction(req, resp)
	return resp, err
}

// TestAssumeRole: STS AssumeRole at the same endpoint (signature 1.0 here, ACS3 below) gives
// credentials that act for the role's account until they expire; an untrusted caller, a wrong
// ExternalId and bad parameters get Alibaba's errors.
func TestAssumeRole(t *testing.T) {
	s, stsClock := newAccountsEnv(t)
	def := clientWith(t, s, credentials.NewStaticAKCredentialsProvider("testid", "testsecret"))
	arn := "acs:ram::" + prodUID + ":role/renewbot"
	resp, err := assumeRole(def, arn, "renewbot-test", "", 900)
	if err != nil {
		t.Fatal(err)
	}
	cr := resp.Credentials
	exp, err := time.Parse("2006-01-02T15:04:05Z", cr.Expiration)
	if err != nil || !strings.HasPrefix(cr.AccessKeyId, "STS.") || cr.SecurityToken == "" ||
		exp.Sub(stsClock.Now()) > 900*time.Second || exp.Sub(stsClock.Now()) < 899*time.Second {
		t.Fatalf("credentials %+v (%v)", cr, err)
	}
	if resp.AssumedRoleUser.Arn != arn+"/renewbot-test" || resp.RequestId == "" {
		t.Fatalf("assumed role user %+v", resp.AssumedRoleUser)
	}
	role := clientWith(t, s, credentials.NewStaticSTSCredentialsProvider(cr.AccessKeyId, cr.AccessKeySecret, cr.SecurityToken))
	if got := instanceIDs(t, role, "cn-shanghai"); !slices.Equal(got, []string{"i-p2"}) {
		t.Fatalf("role sees %v, want prod's instance", got)
	}
	bad := clientWith(t, s, credentials.NewStaticSTSCredentialsProvider(cr.AccessKeyId, cr.AccessKeySecret, "CAISwrong"))
	_, err = renewWith(bad, "i-p1", "tok-bad")
	serverError(t, err, 400, "InvalidSecurityToken.MismatchWithAccessKey")

	stsClock.Advance(900 * time.Second)
	_, err = renewWith(role, "i-p1", "tok-late")
	serverError(t, err, 400, "InvalidSecurityToken.Expired")

	for _, tc := range []struct {
		name, arn, session, external string
		duration, status             int
		code                         string
	}{
		{"untrusted", "acs:ram::" + prodUID + ":role/closed", "s1", "", 0, 403, "NoPermission"},
		{"no ExternalId", "acs:ram::" + prodUID + ":role/strict", "s1", "", 0, 403, "NoPermission"},
		{"wrong ExternalId", "acs:ram::" + prodUID + ":role/strict", "s1", "ext-999", 0, 403, "NoPermission"},
		{"bad ARN", "arn:aws:iam::1:role/x", "s1", "", 0, 400, "InvalidParameter.RoleArn"},
		{"unknown role", "acs:ram::" + prodUID + ":role/nope", "s1", "", 0, 404, "EntityNotExist.Role"},
		{"unknown account", "acs:ram::7:role/renewbot", "s1", "", 0, 404, "EntityNotExist.Role"},
		{"short session", arn, "s", "", 0, 400, "InvalidParameter.RoleSessionName"},
		{"too short", arn, "s1", "", 899, 400, "InvalidParameter.DurationSeconds"},
		{"too long", arn, "s1", "", 3601, 400, "InvalidParameter.DurationSeconds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := assumeRole(def, tc.arn, tc.session, tc.external, tc.duration)
			serverError(t, err, tc.status, tc.code)
		})
	}
	if _, err := assumeRole(def, "acs:ram::"+prodUID+":role/strict", "s1", "ext-123", 0); err != nil {
		t.Fatalf("right ExternalId: %v", err)
	}
}

// TestAssumeRoleACS3: the same with the V3 signature, and the credentials' token sent as
// x-acs-security-token.
func TestAssumeRoleACS3(t *testing.T) {
	s, _ := newAccountsEnv(t)
	req, err := http.NewRequest("POST", s.URL+"/?"+url.Values{"RoleArn": {"acs:ram::" + prodUID + ":role/renewbot"}, "RoleSessionName": {"acs3"}}.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ecssim.SignACS3(req, nil, "AssumeRole", "2015-04-01", "testid", "testsecret")
	st, body := do(t, req)
	if st != 200 {
		t.Fatalf("%d %v", st, body)
	}
	cr := body["Credentials"].(map[string]any)
	req, err = http.NewRequest("POST", s.URL+"/?RegionId=cn-hangzhou", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("x-acs-security-token", cr["SecurityToken"].(string))
	ecssim.SignACS3(req, nil, "DescribeInstances", "2014-05-26", cr["AccessKeyId"].(string), cr["AccessKeySecret"].(string))
	st, body = do(t, req)
	if st != 200 || body["TotalCount"] != float64(1) {
		t.Fatalf("%d %v", st, body)
	}
}

// TestQueryAccountBalance: BSS QueryAccountBalance answers the calling account's balance, amounts
// as strings; through a role, the role's account.
func TestQueryAccountBalance(t *testing.T) {
	s, _ := newAccountsEnv(t)
	balance := func(c *sdk.Client) bssopenapi.Data {
		t.Helper()
		resp := bssopenapi.CreateQueryAccountBalanceResponse()
		if err := c.DoAction(bssopenapi.CreateQueryAccountBalanceRequest(), resp); err != nil {
			t.Fatal(err)
		}
		if !resp.Success || resp.Code != "200" {
			t.Fatalf("%+v", resp)
		}
		return resp.Data
	}
	def := clientWith(t, s, credentials.NewStaticAKCredentialsProvider("testid", "testsecret"))
	if d := balance(def); d.AvailableAmount != "1000.00" || d.AvailableCashAmount != "1000.00" || d.CreditAmount != "0.00" || d.Currency != "CNY" {
		t.Fatalf("default %+v", d)
	}
	resp, err := assumeRole(def, "acs:ram::"+prodUID+":role/renewbot", "bss", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	role := clientWith(t, s, credentials.NewStaticSTSCredentialsProvider(resp.Credentials.AccessKeyId, resp.Credentials.AccessKeySecret, resp.Credentials.SecurityToken))
	s.SetAccountBalance(prodUID, 123.4)
	if d := balance(role); d.AvailableAmount != "123.40" {
		t.Fatalf("prod through the role %+v", d)
	}
}
