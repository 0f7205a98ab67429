package bot

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/store"
	"github.com/slack-go/slack"
)

func viewJSONOf(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func mustFitView(t *testing.T, what string, blocks []slack.Block) {
	t.Helper()
	if err := CheckViewLimits(blocks); err != nil {
		t.Errorf("%s breaks Slack's view limits: %v", what, err)
	}
}

func testInstances(n int) []ecs.Instance {
	out := make([]ecs.Instance, n)
	for i := range out {
		out[i] = ecs.Instance{ID: fmt.Sprintf("i-bp1home%06d", i), Name: fmt.Sprintf("web-%d <prod>", i), RegionID: "cn-hangzhou",
			ChargeType: "PrePaid", Status: "Running", ExpiredTime: testNow.Add(time.Duration(i+1) * 20 * time.Hour),
			Tags: ecs.NewTags(map[string]string{"team": "web"}), AutoRenew: ecs.AutoRenew{Status: ecs.RenewalStatus("Normal")}}
	}
	return out
}

func TestHomeView_Golden(t *testing.T) {
	rejected := testRequest()
	rejected.ID, rejected.State, rejected.Version = "R0K3QF2B0", store.StateRejected, 3
	rejected.Closed = &store.Decision{User: "U0APPROVE", At: testNow.Add(time.Hour), Note: "db-1 is retired next week"}
	waiting := testRequest()
	waiting.Reason = "Black Friday traffic"
	d := HomeData{User: "U0APPROVE", Waiting: []*store.Request{waiting}, Mine: []*store.Request{doneRequest(), rejected},
		Expiring: testInstances(3), Window: 30 * 24 * time.Hour, ScanAt: testNow.Add(-5 * time.Minute), Now: testNow}
	v := HomeView(d)
	mustFitView(t, "home", v.Blocks.BlockSet)
	golden(t, "home.json", viewJSONOf(t, v))

	got := string(viewJSONOf(t, v))
	for _, want := range []string{"Waiting for your approval (1)", "Your requests", "Expiring soon", "Request a renewal",
		`"action_id": "approve"`, `"action_id": "reject"`, "211987654320", "db-1 is retired next week", "Black Friday traffic"} {
		if !strings.Contains(got, want) {
			t.Errorf("home view lacks %q", want)
		}
	}
	// Most urgent first.
	if i, j := strings.Index(got, "i-bp1home000000"), strings.Index(got, "i-bp1home000002"); i < 0 || j < i {
		t.Errorf("expiring instances not most urgent first (%d, %d)", i, j)
	}

	empty := HomeView(HomeData{User: "U0NEW", Window: 30 * 24 * time.Hour, Now: testNow})
	mustFitView(t, "empty home", empty.Blocks.BlockSet)
}

// However much there is, the Home tab stays within 100 blocks and 250 KB.
func TestHomeView_Limits(t *testing.T) {
	var waiting, mine []*store.Request
	for i := range 80 {
		r := testRequest()
		r.ID = store.RequestID(fmt.Sprintf("R0K3Q%04d", i))
		r.Reason = strings.Repeat("why ", 125)
		for j := range 20 {
			r.Items = append(r.Items, store.Item{InstanceID: fmt.Sprintf("i-bp1many%06d", j), Name: strings.Repeat("n", 128)})
		}
		waiting = append(waiting, r)
		done := doneRequest()
		done.ID = store.RequestID(fmt.Sprintf("R0K3M%04d", i))
		mine = append(mine, done)
	}
	v := HomeView(HomeData{User: "U0APPROVE", Waiting: waiting, Mine: mine, Expiring: testInstances(5000),
		Window: 30 * 24 * time.Hour, ScanAt: testNow, ScanErr: strings.Repeat("region down ", 100), Now: testNow})
	mustFitView(t, "full home", v.Blocks.BlockSet)
	js, _ := json.Marshal(v)
	t.Logf("full home: %d blocks, %d bytes", len(v.Blocks.BlockSet), len(js))
	if !strings.Contains(string(js), "…and 65 more") {
		t.Error("the waiting requests beyond the first 15 are not counted")
	}
}

func TestRequestModal_Golden(t *testing.T) {
	in := testInstances(1)[0]
	m := RequestModal(RequestModalData{Channel: "C0OPS", Instance: &in, Months: 3, MaxMonths: 6,
		Quote: "*i-bp1home000000* for 3 months: *CNY 300.00*"})
	mustFitView(t, "request modal", m.Blocks.BlockSet)
	golden(t, "request_modal.json", viewJSONOf(t, m))
	// From the Home tab: no channel yet, so the modal asks for one.
	h := RequestModal(RequestModalData{Default: "C0OPS", MaxMonths: 12})
	mustFitView(t, "request modal from home", h.Blocks.BlockSet)
	golden(t, "request_modal_home.json", viewJSONOf(t, h))

	r := RejectModal(testRequest(), "C0OPS")
	mustFitView(t, "reject modal", r.Blocks.BlockSet)
	golden(t, "reject_modal.json", viewJSONOf(t, r))
	for _, v := range []slack.ModalViewRequest{m, h, r} {
		if n := len([]rune(v.Title.Text)); n > maxViewTitle {
			t.Errorf("title %q is %d characters (max %d)", v.Title.Text, n, maxViewTitle)
		}
	}
}

// The period picker offers what Alibaba accepts, up to the policy's limit.
func TestRequestModal_PeriodsWithinPolicy(t *testing.T) {
	for max, want := range map[int]string{1: "1", 6: "1,2,3,4,5,6", 12: "1,2,3,4,5,6,7,8,9,12"} {
		m := RequestModal(RequestModalData{Channel: "C0OPS", MaxMonths: max})
		var got []string
		for _, b := range m.Blocks.BlockSet {
			if in, ok := b.(*slack.InputBlock); ok && in.BlockID == blockPeriod {
				for _, o := range in.Element.(*slack.SelectBlockElement).Options {
					got = append(got, o.Value)
				}
			}
		}
		if strings.Join(got, ",") != want {
			t.Errorf("MaxMonths %d: periods %v, want %s", max, got, want)
		}
	}
}

func TestMatchInstances(t *testing.T) {
	insts := testInstances(300)
	insts[7].Tags = ecs.NewTags(map[string]string{"team": "payments", "env": "prod"})
	for _, tt := range []struct {
		query string
		want  int
		first string
	}{
		{"", 100, "i-bp1home000000"},
		{"i-bp1home000007", 1, "i-bp1home000007"},
		{"WEB-12", 11, "i-bp1home000012"}, // web-12, web-120..129
		{"payments", 1, "i-bp1home000007"},
		{"env=prod team=pay", 1, "i-bp1home000007"},
		{"nothing-like-it", 0, ""},
	} {
		got := MatchInstances(insts, tt.query, 100)
		if len(got) != tt.want || (tt.want > 0 && got[0].ID != tt.first) {
			t.Errorf("MatchInstances(%q): %d results, first %v; want %d, first %s", tt.query, len(got), got[:min(1, len(got))], tt.want, tt.first)
		}
	}
}

func TestRequesterNotice(t *testing.T) {
	now := testNow.In(ecs.UTC8)
	rejected := testRequest()
	rejected.State, rejected.Closed = store.StateRejected, &store.Decision{User: "U0APPROVE", At: testNow, Note: "use <spot> instead"}
	failed := doneRequest()
	failed.State = store.StateFailed
	failed.Items[1].State, failed.Items[1].Error = store.ItemFailed, "InvalidAccountStatus.NotEnoughBalance"
	cancelled := testRequest()
	cancelled.State, cancelled.Closed = store.StateCancelled, &store.Decision{User: "U0OPS", At: testNow}
	expired := testRequest()
	expired.State = store.StateExpired
	approved := testRequest()
	approved.State, approved.Approvals = store.StateApproved, []store.Decision{{User: "U0APPROVE", At: testNow}}
	superseded := doneRequest()
	superseded.State = store.StateSuperseded
	for _, tt := range []struct {
		r    *store.Request
		want []string
	}{
		{approved, []string{"✅", "was approved by <@U0APPROVE>"}},
		{doneRequest(), []string{"is done", "order `211987654320`", "verified expiry 2027-03-01 00:00 UTC+8"}},
		{failed, []string{"failed", "NotEnoughBalance"}},
		{rejected, []string{"was rejected by <@U0APPROVE>", "use &lt;spot&gt; instead"}},
		{cancelled, []string{"cancelled by <@U0OPS>", "Nothing was charged"}},
		{expired, []string{"expired", "Nothing was charged"}},
		{superseded, []string{"expiry moved"}},
	} {
		got := RequesterNotice(tt.r, now)
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q lacks %q", tt.r.State, got, w)
			}
		}
		mustFit(t, tt.r.State.String(), got, nil)
	}
}

// The instance picker's answer from the last scan: a search of 10,000 instances and the
// options Slack gets (what /slack/options does within its 3 seconds, the scan aside).
func BenchmarkSuggest10k(b *testing.B) {
	insts := testInstances(10000)
	for _, q := range []string{"", "web-12", "i-bp1home009999", "team=web web-99"} {
		b.Run("q="+q, func(b *testing.B) {
			for b.Loop() {
				var opts []*slack.OptionBlockObject
				for _, in := range MatchInstances(insts, q, maxSuggestions) {
					opts = append(opts, instanceOption(in, testNow))
				}
				if _, err := json.Marshal(optionsAnswer{Options: opts}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Building and checking the fullest Home tab.
func BenchmarkHomeView(b *testing.B) {
	var waiting, mine []*store.Request
	for i := range 50 {
		r := testRequest()
		r.ID = store.RequestID(fmt.Sprintf("R0K3Q%04d", i))
		waiting, mine = append(waiting, r), append(mine, doneRequest())
	}
	d := HomeData{User: "U0APPROVE", Waiting: waiting, Mine: mine[:10], Expiring: testInstances(5000), Window: 30 * 24 * time.Hour, ScanAt: testNow, Now: testNow}
	for b.Loop() {
		v := HomeView(d)
		if _, err := json.Marshal(v); err != nil {
			b.Fatal(err)
		}
	}
}
