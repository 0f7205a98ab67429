package ecssim_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/renewbot/renewbot/ecs/ecssim"
)

// outcomes makes n sequential DescribeRegions calls and returns their error codes ("" = ok).
func outcomes(t *testing.T, seed int64, n int) []string {
	t.Helper()
	e := newEnv(t, func(o *ecssim.Options) { o.Seed = seed })
	e.srv.SetFaults(ecssim.Faults{ThrottleRate: 0.3, ErrorRate: 0.2})
	c := e.client(t, "cn-hangzhou")
	var out []string
	for range n {
		_, err := c.DescribeRegions(ecs.CreateDescribeRegionsRequest())
		var se *sdkerrors.ServerError
		switch {
		case err == nil:
			out = append(out, "")
		case errors.As(err, &se):
			want := map[string]int{"Throttling": 400, "InternalError": 500, "ServiceUnavailable": 503}[se.ErrorCode()]
			if want == 0 || se.HttpStatus() != want {
				t.Fatalf("fault %d %s", se.HttpStatus(), se.ErrorCode())
			}
			if se.ErrorCode() == "Throttling" && se.Message() != "Request was denied due to request throttling." {
				t.Fatalf("message %q", se.Message())
			}
			out = append(out, se.ErrorCode())
		default:
			t.Fatal(err)
		}
	}
	if got := e.srv.Calls()["DescribeRegions"]; got != n {
		t.Fatalf("calls %d, want %d (faulted calls count)", got, n)
	}
	return out
}

func TestFaultsDeterministic(t *testing.T) {
	a, b := outcomes(t, 42, 60), outcomes(t, 42, 60)
	if len(a) != len(b) {
		t.Fatal("length")
	}
	count := map[string]int{}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("call %d: %q vs %q with the same seed", i, a[i], b[i])
		}
		count[a[i]]++
	}
	if count[""] == 0 || count["Throttling"] == 0 || count["InternalError"]+count["ServiceUnavailable"] == 0 {
		t.Fatalf("expected a mix of outcomes, got %v", count)
	}
	c := outcomes(t, 43, 60)
	same := true
	for i := range a {
		same = same && a[i] == c[i]
	}
	if same {
		t.Fatal("another seed gave the same 60 outcomes")
	}
}

func TestFaultsPerActionAndLatency(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client(t, "cn-hangzhou")
	e.srv.SetFaults(ecssim.Faults{Action: "RenewInstance", ThrottleRate: 1})
	if _, err := c.DescribeRegions(ecs.CreateDescribeRegionsRequest()); err != nil {
		t.Fatalf("other action faulted: %v", err)
	}
	_, err := c.RenewInstance(renewReq("i-a1", "1", "tok-throttled"))
	serverError(t, err, 400, "Throttling")
	if len(e.srv.Orders()) != 0 {
		t.Fatal("throttled call placed an order")
	}
	e.srv.SetFaults(ecssim.Faults{Action: "RenewInstance"}) // clear
	if _, err := c.RenewInstance(renewReq("i-a1", "1", "tok-throttled")); err != nil {
		t.Fatalf("retry after throttling: %v", err)
	}

	e.srv.SetFaults(ecssim.Faults{LatencyMs: 30})
	start := time.Now()
	if _, err := c.DescribeRegions(ecs.CreateDescribeRegionsRequest()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Fatalf("latency %v < 30ms", d)
	}
}

func TestControlEndpoints(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client(t, "cn-hangzhou")
	if _, err := c.RenewInstance(renewReq("i-a1", "2", "tok-ctl")); err != nil {
		t.Fatal(err)
	}
	get := func(path string, v any) {
		t.Helper()
		resp, err := http.Get(e.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	var orders []map[string]any
	get("/_sim/orders", &orders)
	if len(orders) != 1 || orders[0]["InstanceId"] != "i-a1" || orders[0]["Period"] != 2.0 || orders[0]["Amount"] != 200.0 ||
		orders[0]["ClientToken"] != "tok-ctl" || orders[0]["RegionId"] != "cn-hangzhou" || orders[0]["Currency"] != "CNY" ||
		orders[0]["PeriodUnit"] != "Month" || orders[0]["OrderId"] == "" || orders[0]["Time"] != "2026-11-25T08:00:00Z" {
		t.Fatalf("orders %v", orders)
	}
	var acc map[string]any
	get("/_sim/account", &acc)
	if acc["Balance"] != 800.0 || acc["Currency"] != "CNY" {
		t.Fatalf("account %v", acc)
	}
	var calls map[string]int
	get("/_sim/calls", &calls)
	if calls["RenewInstance"] != 1 {
		t.Fatalf("calls %v", calls)
	}

	post := func(body string) int {
		resp, err := http.Post(e.srv.URL+"/_sim/faults", "application/json", bytes.NewBufferString(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, bad := range []string{`{"Action":"Nope","ThrottleRate":1}`, `{"ThrottleRate":2}`, `{"Rate":1}`, `not json`} {
		if st := post(bad); st != 400 {
			t.Fatalf("%s: status %d", bad, st)
		}
	}
	if st := post(`{"Action":"DescribeRegions","ErrorRate":1}`); st != 200 {
		t.Fatalf("status %d", st)
	}
	_, err := c.DescribeRegions(ecs.CreateDescribeRegionsRequest())
	var se *sdkerrors.ServerError
	if !errors.As(err, &se) || se.HttpStatus() < 500 {
		t.Fatalf("want 5xx, got %v", err)
	}
}

func TestHookAndCloseWaitsForInFlight(t *testing.T) {
	entered, release := make(chan string, 1), make(chan struct{})
	e := newEnv(t, func(o *ecssim.Options) {
		o.Hook = func(action string, p url.Values) {
			if p.Get("InstanceId") == "i-a1" {
				entered <- action
				<-release
			}
		}
	})
	c := e.client(t, "cn-hangzhou")
	done := make(chan error, 1)
	go func() {
		_, err := c.RenewInstance(renewReq("i-a1", "1", "tok-hook"))
		done <- err
	}()
	if a := <-entered; a != "RenewInstance" {
		t.Fatalf("hook saw %s", a)
	}
	closed := make(chan struct{})
	go func() { e.srv.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned while a call was in flight")
	case <-done:
		t.Fatal("call finished while blocked in the hook")
	default:
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("in-flight call: %v", err)
	}
	<-closed
	if len(e.srv.Orders()) != 1 {
		t.Fatal("in-flight renewal lost")
	}
}

// TestFaultsLostAnswer: a LostRate fault runs the action and then answers 500 InternalError,
// like Alibaba failing after the work is done: the order is placed and charged, and only the
// same ClientToken gets its OrderId back.
func TestFaultsLostAnswer(t *testing.T) {
	e := newEnv(t, nil)
	c := e.client(t, "cn-hangzhou")
	e.srv.SetFaults(ecssim.Faults{Action: "RenewInstance", LostRate: 1})
	_, err := c.RenewInstance(renewReq("i-a1", "1", "tok-lost"))
	serverError(t, err, 500, "InternalError")
	orders := e.srv.Orders()
	if len(orders) != 1 || orders[0].ClientToken != "tok-lost" {
		t.Fatalf("orders %+v, want the one whose answer was lost", orders)
	}
	if acc := e.srv.Account(); acc.Balance != 900 {
		t.Fatalf("balance %v, want 900 (charged although the answer was lost)", acc.Balance)
	}
	e.srv.SetFaults(ecssim.Faults{Action: "RenewInstance"}) // clear
	resp, err := c.RenewInstance(renewReq("i-a1", "1", "tok-lost"))
	if err != nil || resp.OrderId != orders[0].OrderId {
		t.Fatalf("retry with the same token: %v, order %q, want %q", err, resp.OrderId, orders[0].OrderId)
	}
	if n := len(e.srv.Orders()); n != 1 {
		t.Fatalf("%d orders after the retry, want 1", n)
	}
	resp2, err := http.Post(e.srv.URL+"/_sim/faults", "application/json", bytes.NewBufferString(`{"LostRate":1.5}`))
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != 400 {
		t.Fatalf("LostRate 1.5: status %d, want 400", resp2.StatusCode)
	}
}
