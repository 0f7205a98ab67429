package ecssim_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"

	"github.com/renewbot/renewbot/ecs/ecssim"
)

// TestTLSOnTheSamePort: one port answers plain HTTP and TLS with the self-signed certificate
// for 127.0.0.1 and localhost.
func TestTLSOnTheSamePort(t *testing.T) {
	s := ecssim.NewServer(ecssim.Options{Fleet: testFleet(), Now: ecssim.NewClock(t0).Now})
	defer s.Close()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(s.CertificatePEM()) {
		t.Fatalf("certificate PEM %q", s.CertificatePEM())
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, Proxy: nil}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	port := s.URL[strings.LastIndex(s.URL, ":")+1:]
	for _, u := range []string{s.TLSURL(), "https://localhost:" + port, s.URL} {
		resp, err := client.Get(u + "/_sim/account")
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		var acct ecssim.Account
		err = json.NewDecoder(resp.Body).Decode(&acct)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || acct.Balance != 1000 {
			t.Fatalf("%s: %d %+v %v", u, resp.StatusCode, acct, err)
		}
		if strings.HasPrefix(u, "https") != (resp.TLS != nil) {
			t.Fatalf("%s answered with TLS state %v", u, resp.TLS)
		}
	}
	// An untrusting client fails the handshake rather than reading plain HTTP.
	if _, err := http.Get(s.TLSURL() + "/_sim/account"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("untrusted TLS: %v", err)
	}
}

// TestRAMRoleProviderOverTLS: the v1 SDK's own RAM-role credential provider, which calls STS
// only as https://ENDPOINT/, gets credentials from ecssim with its certificate trusted through
// SSL_CERT_FILE, refreshes them before they expire, and its ECS calls act for the role's
// account. It runs in a child process: Go reads SSL_CERT_FILE once per process.
func TestRAMRoleProviderOverTLS(t *testing.T) {
	if os.Getenv("ECSSIM_TLS_CHILD") == "" {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestRAMRoleProviderOverTLS$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "ECSSIM_TLS_CHILD="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestRAMRoleProviderOverTLS") {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	// The tokens' lifetime runs on a clock 721 s behind: a 900 s token expires 179 s from now
	// by the real clock, within the provider's margin (it refreshes at 180 s or less left), so
	// the second call refreshes it; ecssim still accepts it (its clock says 900 s are not over).
	s := ecssim.NewServer(ecssim.Options{Fleet: accountsFleet(), Now: ecssim.NewClock(t0).Now,
		STSNow: func() time.Time { return time.Now().Add(-721 * time.Second) }})
	defer s.Close()
	certFile := filepath.Join(os.Getenv("ECSSIM_TLS_CHILD"), "ecssim.pem")
	if err := os.WriteFile(certFile, s.CertificatePEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SSL_CERT_FILE", certFile)
	host := strings.TrimPrefix(s.URL, "http://")
	provider, err := credentials.NewRAMRoleARNCredentialsProviderBuilder().
		WithCredentialsProvider(credentials.NewStaticAKCredentialsProvider("testid", "testsecret")).
		WithRoleArn("acs:ram::" + prodUID + ":role/renewbot").WithRoleSessionName("renewbot").
		WithDurationSeconds(900).WithStsEndpoint(host).Build()
	if err != nil {
		t.Fatal(err)
	}
	c, err := sdk.NewClientWithOptions("cn-hangzhou", sdk.NewConfig(), provider)
	if err != nil {
		t.Fatal(err)
	}
	c.Domain = host
	c.SetNoProxy(`^127\.0\.0\.1`)
	for range 2 {
		if got := instanceIDs(t, c, "cn-hangzhou"); !slices.Equal(got, []string{"i-p1"}) {
			t.Fatalf("through the role: %v, want prod's i-p1", got)
		}
	}
	if n := s.Calls()["AssumeRole"]; n != 2 {
		t.Fatalf("%d AssumeRole calls, want 2: one, then a refresh of a token about to expire", n)
	}
}
