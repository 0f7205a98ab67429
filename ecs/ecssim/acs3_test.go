package ecssim_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/renewbot/renewbot/ecs/ecssim"
)

// acs3Request builds an ACS3-signed request: query parameters in the URL, form parameters in
// the body. mod runs before signing (to preset headers such as x-acs-date).
func acs3Request(t *testing.T, s *ecssim.Server, action string, query, form url.Values, keyID, secret string, mod func(*http.Request)) (*http.Request, []byte) {
	t.Helper()
	body := []byte(form.Encode())
	req, err := http.NewRequest("POST", s.URL+"/?"+query.Encode(), strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	if len(form) > 0 {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if mod != nil {
		mod(req)
	}
	ecssim.SignACS3(req, body, action, "2014-05-26", keyID, secret)
	return req, body
}

func TestACS3(t *testing.T) {
	e := newEnv(t, nil)
	t.Run("query", func(t *testing.T) {
		req, _ := acs3Request(t, e.srv, "DescribeInstances", url.Values{"RegionId": {"cn-hangzhou"}, "InstanceChargeType": {"PrePaid"}}, nil, "testid", "testsecret", nil)
		st, body := do(t, req)
		if st != 200 || body["TotalCount"] != float64(4) {
			t.Fatalf("%d %v", st, body)
		}
	})
	t.Run("form body", func(t *testing.T) {
		req, _ := acs3Request(t, e.srv, "DescribeInstances", url.Values{"RegionId": {"cn-hangzhou"}}, url.Values{"InstanceIds": {`["i-a1","i-a2"]`}}, "testid", "testsecret", nil)
		st, body := do(t, req)
		if st != 200 || body["TotalCount"] != float64(2) {
			t.Fatalf("%d %v", st, body)
		}
	})
}

// TestACS3Failures: the same failure answers as signature 1.0.
func TestACS3Failures(t *testing.T) {
	e := newEnv(t, nil)
	q := url.Values{"RegionId": {"cn-hangzhou"}}
	check := func(t *testing.T, req *http.Request, status int, code string, msgParts ...string) {
		t.Helper()
		st, body := do(t, req)
		if st != status || body["Code"] != code {
			t.Fatalf("got %d %v, want %d %s", st, body, status, code)
		}
		msg, _ := body["Message"].(string)
		for _, part := range msgParts {
			if !strings.Contains(msg, part) {
				t.Fatalf("message %q lacks %q", msg, part)
			}
		}
	}
	t.Run("wrong secret", func(t *testing.T) {
		req, _ := acs3Request(t, e.srv, "DescribeRegions", q, nil, "testid", "wrong", nil)
		check(t, req, 400, "SignatureDoesNotMatch", "server string to sign is:ACS3-HMAC-SHA256\n",
			"server canonical request is:POST\n/\nRegionId=cn-hangzhou\n", "x-acs-action:DescribeRegions\n")
	})
	t.Run("unknown key", func(t *testing.T) {
		req, _ := acs3Request(t, e.srv, "DescribeRegions", q, nil, "nobody", "testsecret", nil)
		check(t, req, 400, "InvalidAccessKeyId.NotFound")
	})
	t.Run("stale x-acs-date", func(t *testing.T) {
		req, _ := acs3Request(t, e.srv, "DescribeRegions", q, nil, "testid", "testsecret", func(r *http.Request) {
			r.Header.Set("x-acs-date", time.Now().Add(-16*time.Minute).UTC().Format("2006-01-02T15:04:05Z"))
		})
		check(t, req, 400, "InvalidTimeStamp.Expired")
	})
	t.Run("reused nonce", func(t *testing.T) {
		req, _ := acs3Request(t, e.srv, "DescribeRegions", q, nil, "testid", "testsecret", nil)
		again := req.Clone(t.Context())
		if st, body := do(t, req); st != 200 {
			t.Fatalf("first: %d %v", st, body)
		}
		check(t, again, 400, "SignatureNonceUsed")
	})
	t.Run("body does not match its SHA-256", func(t *testing.T) {
		req, _ := acs3Request(t, e.srv, "DescribeInstances", q, url.Values{"InstanceIds": {`["i-a1"]`}}, "testid", "testsecret", nil)
		tampered, err := http.NewRequest("POST", req.URL.String(), strings.NewReader(url.Values{"InstanceIds": {`["i-a2"]`}}.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		tampered.Header = req.Header.Clone() // signed for the other body
		check(t, tampered, 400, "SignatureDoesNotMatch", "x-acs-content-sha256")
	})
	t.Run("unsigned x-acs-date", func(t *testing.T) {
		req, _ := acs3Request(t, e.srv, "DescribeRegions", q, nil, "testid", "testsecret", nil)
		req.Header.Set("Authorization", strings.Replace(req.Header.Get("Authorization"), "x-acs-date;", "", 1))
		check(t, req, 400, "IncompleteSignature", "x-acs-date")
	})
	t.Run("wrong version", func(t *testing.T) {
		req, _ := acs3Request(t, e.srv, "DescribeRegions", q, nil, "testid", "testsecret", func(r *http.Request) {
			r.Header.Set("x-acs-version", "2016-03-14")
		})
		check(t, req, 400, "InvalidVersion")
	})
}
