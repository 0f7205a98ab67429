package ecssim_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestConformanceNodePopCore runs the seed article's operations with Node's @alicloud/pop-core
// (signature 1.0; pinned in testdata/node/package-lock.json) against ecssim on loopback: the
// script testdata/node/conformance.js prints what the client saw, this test checks it and what
// the emulator did. Node is required (.ci/run installs it from Debian's packages when it is
// missing); node_modules is installed with `npm ci` from the lockfile when it is not there.
func TestConformanceNodePopCore(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not installed (apt-get install nodejs npm; .ci/run does it): %v", err)
	}
	dir, err := filepath.Abs(filepath.Join("testdata", "node"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@alicloud", "pop-core")); err != nil {
		npm, err := exec.LookPath("npm")
		if err != nil {
			t.Fatalf("testdata/node/node_modules is missing and npm is not installed: %v", err)
		}
		cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
		}
	}
	s := newConformanceSim(t)
	const token = "conformance-node-pop-core"
	cmd := exec.CommandContext(ctx, node, "conformance.js", s.URL,
		conformanceFrom.Format("2006-01-02T15:04Z"), conformanceTo.Format("2006-01-02T15:04Z"),
		conformanceRenewed, conformanceModify, token)
	cmd.Dir = dir
	var stderr []byte
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		stderr = ee.Stderr
	}
	if err != nil {
		t.Fatalf("node conformance.js: %v\n%s", err, stderr)
	}
	var got struct {
		Regions    []string
		Pages      [][]string
		TokenPages [][]string
		Price      struct {
			Trade    float64
			Currency string
		}
		Orders        []string
		Payg, Unknown struct {
			Code   string
			Status int
		}
		AutoRenew map[string]string
		ReadBack  string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("script output %q: %v", out, err)
	}
	t.Run("DescribeRegions", func(t *testing.T) {
		if !slices.Equal(got.Regions, []string{"cn-hangzhou", "cn-shanghai"}) {
			t.Fatalf("regions %v", got.Regions)
		}
	})
	t.Run("DescribeInstances PrePaid, expiry window, PageNumber paging", func(t *testing.T) {
		if len(got.Pages) != 3 || !slices.Equal(slices.Concat(got.Pages...), conformanceExpiring()) {
			t.Fatalf("pages %v", got.Pages)
		}
	})
	t.Run("DescribeInstances NextToken paging (GET)", func(t *testing.T) {
		if !slices.Equal(slices.Concat(got.TokenPages...), conformanceExpiring()) {
			t.Fatalf("pages %v", got.TokenPages)
		}
	})
	t.Run("DescribeRenewalPrice", func(t *testing.T) {
		if got.Price.Trade != 100 || got.Price.Currency != "CNY" {
			t.Fatalf("price %+v", got.Price)
		}
	})
	t.Run("RenewInstance twice with one ClientToken", func(t *testing.T) {
		if len(got.Orders) != 2 || got.Orders[0] == "" || got.Orders[0] != got.Orders[1] {
			t.Fatalf("orders %v", got.Orders)
		}
	})
	t.Run("RenewInstance pay-as-you-go and unknown ID", func(t *testing.T) {
		if got.Payg.Status != 403 || got.Payg.Code != "ChargeTypeViolation" || got.Unknown.Status != 404 || got.Unknown.Code != "InvalidInstanceId.NotFound" {
			t.Fatalf("pay-as-you-go %+v, unknown %+v", got.Payg, got.Unknown)
		}
	})
	t.Run("DescribeInstanceAutoRenewAttribute with a comma list", func(t *testing.T) {
		want := map[string]string{"i-auto": "AutoRenewal/3/Month/true", "i-not": "NotRenewal/0/Month/false", "i-conf01": "Normal/0/Month/false"}
		if len(got.AutoRenew) != 3 || got.AutoRenew["i-auto"] != want["i-auto"] || got.AutoRenew["i-not"] != want["i-not"] || got.AutoRenew["i-conf01"] != want["i-conf01"] {
			t.Fatalf("got %v, want %v", got.AutoRenew, want)
		}
	})
	t.Run("ModifyInstanceAutoRenewAttribute and read back", func(t *testing.T) {
		if got.ReadBack != "AutoRenewal/6" {
			t.Fatalf("read back %q", got.ReadBack)
		}
	})
	orderID := ""
	if len(got.Orders) > 0 {
		orderID = got.Orders[0]
	}
	checkConformanceEffects(t, s, token, orderID)
}
