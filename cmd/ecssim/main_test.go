package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestRunListensAndStops(t *testing.T) {
	fleet := filepath.Join(t.TempDir(), "fleet.json")
	if err := os.WriteFile(fleet, []byte(`{"balance": 10, "instances": [
	  {"InstanceId": "i-1", "RegionId": "cn-hangzhou", "ExpiredTime": "2026-12-01T16:00Z"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var stderr strings.Builder
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-fleet", fleet, "-balance", "250.5"}, pw, &stderr)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`^ecssim listening on (http://127\.0\.0\.1:\d+)\n$`).FindStringSubmatch(line)
	if m == nil || strings.HasSuffix(m[1], ":0") {
		t.Fatalf("line %q", line)
	}
	resp, err := http.Get(m[1] + "/_sim/account")
	if err != nil {
		t.Fatal(err)
	}
	var acc struct {
		Balance  float64
		Currency string
	}
	err = json.NewDecoder(resp.Body).Decode(&acc)
	resp.Body.Close()
	if err != nil || acc.Balance != 250.5 || acc.Currency != "CNY" {
		t.Fatalf("account %+v %v", acc, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	if rest, _ := io.ReadAll(pr); len(rest) != 0 {
		t.Fatalf("more stdout after the line: %q", rest)
	}
}

func TestRunBadInput(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"instances": [{"InstanceId": "i-9", "RegionId": "cn-hangzhou", "InstanceChargeType": "Monthly"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-nope"}, "flag provided but not defined"},
		{[]string{"-generate", "-3"}, "-generate"},
		{[]string{"-generate", "3", "-fleet", bad}, "exclusive"},
		{[]string{"-fleet", bad}, `i-9): unknown InstanceChargeType "Monthly"`},
		{[]string{"-fleet", filepath.Join(t.TempDir(), "none.json")}, "no such file"},
		{[]string{"-regions", "cn hangzhou"}, "-regions"},
		{[]string{"-balance", "lots"}, "not a number"},
		{[]string{"-balance", "-5"}, "negative"},
		{[]string{"-listen", "256.0.0.1:99999"}, "-listen"},
		{[]string{"-access-key-id", ""}, "must not be empty"},
		{[]string{"extra"}, "unexpected arguments"},
	}
	for _, tc := range tests {
		var stdout, stderr strings.Builder
		err := run(context.Background(), tc.args, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error()+stderr.String(), tc.want) {
			t.Errorf("%v: err %v stderr %q, want %q", tc.args, err, stderr.String(), tc.want)
		}
		if stdout.Len() != 0 {
			t.Errorf("%v: stdout %q", tc.args, stdout.String())
		}
	}
}
