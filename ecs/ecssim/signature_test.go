package ecssim_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/renewbot/renewbot/ecs/ecssim"
)

// The documented test vector of signature v1 (Alibaba "Request signatures").
func TestSignTestVector(t *testing.T) {
	p := url.Values{
		"AccessKeyId": {"testid"}, "Action": {"DescribeRegions"}, "Format": {"XML"},
		"SignatureMethod": {"HMAC-SHA1"}, "SignatureNonce": {"3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"},
		"SignatureVersion": {"1.0"}, "Timestamp": {"2016-02-23T12:46:24Z"}, "Version": {"2014-05-26"},
		"Signature": {"ignored"},
	}
	const wantSTS = "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26"
	sts := ecssim.StringToSign("GET", p)
	if sts != wantSTS {
		t.Fatalf("string to sign\n got %s\nwant %s", sts, wantSTS)
	}
	if got := ecssim.Sign(sts, "testsecret"); got != "OLeaidS1JvxuMvnyHOwuJ+uX5qY=" {
		t.Fatalf("signature %s", got)
	}
}

func TestStringToSignEncoding(t *testing.T) {
	p := url.Values{"Tag.1.Value": {"prod x*~/é"}, "SignatureType": {""}}
	got := ecssim.StringToSign("POST", p)
	want := "POST&%2F&" + url.QueryEscape("SignatureType=&Tag.1.Value=prod%20x%2A~%2F%C3%A9")
	if got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
}

func TestSDKSignatures(t *testing.T) {
	e := newEnv(t, nil)
	host := strings.TrimPrefix(e.srv.URL, "http://")

	t.Run("good AK with special characters in values", func(t *testing.T) {
		req := ecs.CreateDescribeInstancesRequest()
		req.Tag = &[]ecs.DescribeInstancesTag{{Key: "env", Value: "prod x*~"}}
		req.InstanceIds = `["i-a1","i-a2"]`
		if _, err := e.client(t, "cn-hangzhou").DescribeInstances(req); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("STS token accepted", func(t *testing.T) {
		c, err := ecs.NewClientWithOptions("cn-hangzhou", sdk.NewConfig(),
			credentials.NewStaticSTSCredentialsProvider("testid", "testsecret", "sts-token-xyz"))
		if err != nil {
			t.Fatal(err)
		}
		c.Domain = host
		c.SetNoProxy(`^127\.0\.0\.1`)
		if _, err := c.DescribeRegions(ecs.CreateDescribeRegionsRequest()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("wrong secret", func(t *testing.T) {
		c := sdkClient(t, e.srv, "cn-hangzhou", "testid", "wrong")
		_, err := c.DescribeRegions(ecs.CreateDescribeRegionsRequest())
		se := serverError(t, err, 400, "SignatureDoesNotMatch")
		if !strings.Contains(se.Message(), "server string to sign is:POST&%2F&AccessKeyId%3Dtestid") {
			t.Fatalf("message lacks the string to sign: %s", se.Message())
		}
		// The SDK compares our string-to-sign with its own: equal means "wrong secret".
		if !strings.Contains(se.Recommend(), "InvalidAccessKeySecret") {
			t.Fatalf("SDK did not recognise a wrong secret: %q", se.Recommend())
		}
	})
	t.Run("unknown access key", func(t *testing.T) {
		c := sdkClient(t, e.srv, "cn-hangzhou", "nobody", "testsecret")
		_, err := c.DescribeRegions(ecs.CreateDescribeRegionsRequest())
		serverError(t, err, 400, "InvalidAccessKeyId.NotFound")
	})
	if n := e.srv.Calls()["DescribeRegions"]; n != 1 {
		t.Fatalf("calls counted %d, want 1 (only the validly signed STS call)", n)
	}
}

func TestRawProtocol(t *testing.T) {
	e := newEnv(t, nil)
	base := func() url.Values { return url.Values{"Action": {"DescribeRegions"}} }

	t.Run("replayed nonce", func(t *testing.T) {
		req := signed(t, e.srv, "POST", base(), "testsecret")
		if st, body := do(t, req); st != 200 {
			t.Fatalf("first: %d %v", st, body)
		}
		again, _ := http.NewRequest("POST", req.URL.String(), nil)
		st, body := do(t, again)
		if st != 400 || body["Code"] != "SignatureNonceUsed" {
			t.Fatalf("replay: %d %v", st, body)
		}
	})
	t.Run("GET and form body", func(t *testing.T) {
		if st, body := do(t, signed(t, e.srv, "GET", base(), "testsecret")); st != 200 {
			t.Fatalf("GET: %d %v", st, body)
		}
		q := base()
		q.Set("AccessKeyId", "testid")
		req := signed(t, e.srv, "POST", q, "testsecret")
		form := req.URL.Query()
		req2, _ := http.NewRequest("POST", e.srv.URL+"/", strings.NewReader(form.Encode()))
		req2.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		st, body := do(t, req2)
		if st != 200 || body["RequestId"] == "" {
			t.Fatalf("form POST: %d %v", st, body)
		}
	})

	stale := time.Now().Add(-16 * time.Minute).UTC().Format("2006-01-02T15:04:05Z")
	future := time.Now().Add(16 * time.Minute).UTC().Format("2006-01-02T15:04:05Z")
	tests := []struct {
		name   string
		set    map[string]string
		drop   string
		secret string
		status int
		code   string
	}{
		{name: "stale timestamp", set: map[string]string{"Timestamp": stale}, status: 400, code: "InvalidTimeStamp.Expired"},
		{name: "future timestamp", set: map[string]string{"Timestamp": future}, status: 400, code: "InvalidTimeStamp.Expired"},
		{name: "bad timestamp", set: map[string]string{"Timestamp": "2026-11-25 10:00"}, status: 400, code: "InvalidTimeStamp.Format"},
		{name: "wrong version", set: map[string]string{"Version": "2016-03-14"}, status: 400, code: "InvalidVersion"},
		{name: "unknown action", set: map[string]string{"Action": "DeleteInstance"}, status: 404, code: "InvalidAction.NotFound"},
		{name: "unknown key", set: map[string]string{"AccessKeyId": "other"}, status: 400, code: "InvalidAccessKeyId.NotFound"},
		{name: "wrong secret", secret: "nope", status: 400, code: "SignatureDoesNotMatch"},
		{name: "bad signature method", set: map[string]string{"SignatureMethod": "HMAC-SHA256"}, status: 400, code: "InvalidSignatureMethod"},
		{name: "missing region", set: map[string]string{"Action": "DescribeInstances"}, drop: "RegionId", status: 400, code: "MissingParameter"},
		{name: "missing Action", drop: "Action", status: 400, code: "MissingParameter"},
		{name: "missing AccessKeyId", drop: "AccessKeyId", status: 400, code: "MissingParameter"},
		{name: "missing Timestamp", drop: "Timestamp", status: 400, code: "MissingParameter"},
		{name: "missing Version", drop: "Version", status: 400, code: "MissingParameter"},
		{name: "missing SignatureNonce", drop: "SignatureNonce", status: 400, code: "MissingParameter"},
		{name: "missing Signature", drop: "Signature", status: 400, code: "MissingParameter"},
		{name: "unknown region", set: map[string]string{"Action": "DescribeInstances", "RegionId": "cn-nowhere"}, status: 404, code: "InvalidRegionId.NotFound"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := base()
			for k, v := range tc.set {
				p.Set(k, v)
			}
			secret := tc.secret
			if secret == "" {
				secret = "testsecret"
			}
			req := signed(t, e.srv, "POST", p, secret)
			if tc.drop != "" {
				q := req.URL.Query()
				q.Del(tc.drop)
				if tc.drop != "Signature" {
					q.Set("Signature", ecssim.Sign(ecssim.StringToSign("POST", q), secret))
				}
				req.URL.RawQuery = q.Encode()
			}
			st, body := do(t, req)
			if st != tc.status || body["Code"] != tc.code {
				t.Fatalf("got %d %v, want %d %s", st, body, tc.status, tc.code)
			}
			for _, k := range []string{"RequestId", "HostId", "Code", "Message", "Recommend"} {
				if s, ok := body[k].(string); !ok || s == "" {
					t.Fatalf("error field %s = %#v", k, body[k])
				}
			}
		})
	}
}
