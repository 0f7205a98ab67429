package bot

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/store"
	"github.com/slack-go/slack"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// testNow is in UTC+8 (Asia/Shanghai, the default RENEWBOT_TIMEZONE): messages show times in
// now's location.
var testNow = time.Date(2026, 11, 25, 1, 0, 0, 0, time.UTC).In(ecs.UTC8)

func testRequest() *store.Request {
	exp1 := time.Date(2026, 11, 30, 16, 0, 0, 0, time.UTC) // 2026-12-01 00:00 UTC+8
	exp2 := time.Date(2026, 12, 5, 16, 0, 0, 0, time.UTC)
	return &store.Request{
		ID: "R0K3QF2A9", Kind: store.KindRenew, State: store.StatePending,
		Requester: "U0REQUEST", Channel: "C0OPS",
		CreatedAt: testNow, UpdatedAt: testNow, Deadline: testNow.Add(24 * time.Hour),
		Months: 3,
		Items: []store.Item{
			{InstanceID: "i-bp1web000001", RegionID: "cn-hangzhou", Name: "web-1 <prod>", CurrentExpiry: exp1,
				ProjectedExpiry: exp1.In(ecs.UTC8).AddDate(0, 3, 0), AutoRenewStatus: "Normal", Price: 1234.5, Currency: "CNY", State: store.ItemPending},
			{InstanceID: "i-bp1db0000002", RegionID: "cn-shanghai", Name: "db-1", CurrentExpiry: exp2,
				ProjectedExpiry: exp2.In(ecs.UTC8).AddDate(0, 3, 0), AutoRenewStatus: "NotRenewal", Price: 8000, Currency: "CNY", State: store.ItemPending},
		},
		Total: 9234.5, Currency: "CNY", ApprovalsRequired: 1, Version: 1,
	}
}

func doneRequest() *store.Request {
	r := testRequest()
	at := testNow.Add(10 * time.Minute)
	r.State, r.Version, r.UpdatedAt = store.StateDone, 5, at.Add(time.Minute)
	r.Approvals = []store.Decision{{User: "U0APPROVE", At: at}}
	for i := range r.Items {
		r.Items[i].State = store.ItemDone
		r.Items[i].OrderID = fmt.Sprintf("21198765432%d", i)
		r.Items[i].NewExpiry = r.Items[i].ProjectedExpiry
	}
	return r
}

func messageJSON(t *testing.T, text string, blocks []slack.Block) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(struct {
		Text   string        `json:"text"`
		Blocks []slack.Block `json:"blocks"`
	}{text, blocks}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// golden compares got with testdata/name; go test -update rewrites it.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -run %s -update to accept):\n%s", path, t.Name(), got)
	}
}

func mustFit(t *testing.T, what, text string, blocks []slack.Block) {
	t.Helper()
	if err := CheckLimits(text, blocks); err != nil {
		t.Errorf("%s breaks Slack's limits: %v", what, err)
	}
}

// actions returns the actions blocks.
func actions(blocks []slack.Block) []*slack.ActionBlock {
	var out []*slack.ActionBlock
	for _, b := range blocks {
		if a, ok := b.(*slack.ActionBlock); ok {
			out = append(out, a)
		}
	}
	return out
}

func allText(t *testing.T, text string, blocks []slack.Block) string {
	return string(messageJSON(t, text, blocks))
}

func TestApprovalMessageGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    *store.Request
	}{{"approval_pending.json", testRequest()}, {"approval_done.json", doneRequest()}} {
		t.Run(tc.name, func(t *testing.T) {
			text, blocks := ApprovalMessage(tc.r, testNow)
			mustFit(t, tc.name, text, blocks)
			golden(t, tc.name, messageJSON(t, text, blocks))
		})
	}
}

func TestApprovalMessagePending(t *testing.T) {
	r := testRequest()
	text, blocks := ApprovalMessage(r, testNow)
	acts := actions(blocks)
	if len(acts) != 1 {
		t.Fatalf("%d actions blocks, want 1", len(acts))
	}
	els := acts[0].Elements.ElementSet
	approve, ok1 := els[0].(*slack.ButtonBlockElement)
	reject, ok2 := els[1].(*slack.ButtonBlockElement)
	if !ok1 || !ok2 || len(els) != 2 {
		t.Fatalf("elements %#v", els)
	}
	if approve.ActionID != "approve" || approve.Value != "R0K3QF2A9" || approve.Style != slack.StylePrimary {
		t.Errorf("approve button %+v", approve)
	}
	if reject.ActionID != "reject" || reject.Value != "R0K3QF2A9" || reject.Style != slack.StyleDanger {
		t.Errorf("reject button %+v", reject)
	}
	if approve.Confirm == nil || !strings.Contains(approve.Confirm.Text.Text, "¥9,234.50 CNY") {
		t.Errorf("confirm dialog does not state the amount: %+v", approve.Confirm)
	}
	all := allText(t, text, blocks)
	for _, want := range []string{"i-bp1web000001", "web-1 &lt;prod&gt;", "cn-hangzhou", "2026-12-01 00:00 UTC+8", "before 2026-11-26 09:00 UTC+8",
		"5 days left", "auto-renew: Normal", "3 months", "2027-03-01 00:00 UTC+8", "¥1,234.50 CNY", "¥9,234.50 CNY", "<@U0REQUEST>", "0 of 1"} {
		if !strings.Contains(all, want) {
			t.Errorf("pending message lacks %q", want)
		}
	}
	if strings.Contains(all, "<prod>") {
		t.Error("instance name not escaped")
	}

	// Each iteration of the message has new block IDs.
	r2 := testRequest()
	r2.Version = 2
	r2.Approvals = []store.Decision{{User: "U0APPROVE", At: testNow}}
	r2.ApprovalsRequired = 2
	_, blocks2 := ApprovalMessage(r2, testNow)
	if id1, id2 := actions(blocks2)[0].BlockID, acts[0].BlockID; id1 == id2 {
		t.Errorf("block_id %q reused across versions", id1)
	}
	if all := allText(t, "", blocks2); !strings.Contains(all, "1 of 2") || !strings.Contains(all, "<@U0APPROVE>") {
		t.Error("approvals so far are not shown")
	}
}

// Issue 9 item 1: an auto-renew-on request shows what each automatic renewal costs, per
// instance and in total, in the card and in the confirm dialog (not ¥0), and when an
// instance's deduction date has passed it says the first deduction can happen at once
// instead of printing a past date.
func TestApprovalMessageAutoRenewOnPriced(t *testing.T) {
	r := testRequest()
	r.Kind, r.AutoRenew, r.Duration, r.Months = store.KindAutoRenew, store.AutoRenewOn, 3, 0
	r.Items[0].Price, r.Items[1].Price, r.Total = 300, 750, 1050
	text, blocks := ApprovalMessage(r, testNow)
	all := allText(t, text, blocks)
	for _, want := range []string{"¥300.00 CNY", "¥750.00 CNY", "¥1,050.00 CNY",
		"first deduction can happen at once (its date, 2026-11-22 08:00 UTC+8, has passed)", "first deduction 2026-11-27 08:00 UTC+8"} {
		if !strings.Contains(all, want) {
			t.Errorf("card lacks %q:\n%s", want, all)
		}
	}
	approve := actions(blocks)[0].Elements.ElementSet[0].(*slack.ButtonBlockElement)
	c := approve.Confirm.Text.Text
	for _, want := range []string{"¥1,050.00 CNY", "every automatic renewal of 3 months", "i-bp1web000001 has passed: the first deduction can happen at once"} {
		if !strings.Contains(c, want) {
			t.Errorf("confirm dialog %q lacks %q", c, want)
		}
	}
	if strings.Contains(c, "¥0.00") || strings.Contains(c, "i-bp1db0000002") {
		t.Errorf("confirm dialog %q", c)
	}
}

func TestApprovalMessageStates(t *testing.T) {
	base := doneRequest
	failed := base()
	failed.State = store.StateFailed
	failed.Items[1].State, failed.Items[1].OrderID, failed.Items[1].Error = store.ItemFailed, "", "not enough account balance to renew i-bp1db0000002"
	rejected := testRequest()
	rejected.State, rejected.Closed = store.StateRejected, &store.Decision{User: "U0BOSS", At: testNow}
	cancelled := testRequest()
	cancelled.State, cancelled.Closed = store.StateCancelled, &store.Decision{User: "cli:alice", At: testNow}
	expired := testRequest() // still pending in the store, but past its deadline
	approved := base()
	approved.State = store.StateApproved
	executing := base()
	executing.State = store.StateExecuting
	executing.Items[1].State, executing.Items[1].NewExpiry = store.ItemOrdered, time.Time{}
	never := testRequest()
	never.Kind, never.AutoRenew, never.Months = store.KindAutoRenew, store.AutoRenewNever, 0
	on := testRequest()
	on.Kind, on.AutoRenew, on.Duration, on.Months = store.KindAutoRenew, store.AutoRenewOn, 12, 0
	verifying := base()
	verifying.State = store.StateVerifying
	verifying.Items[1].State, verifying.Items[1].NewExpiry = store.ItemOrdered, time.Time{}
	unclear := base()
	unclear.State = store.StateVerifying
	unclear.Items[1].State, unclear.Items[1].NewExpiry, unclear.Items[1].OrderID, unclear.Items[1].Unclear = store.ItemOrdered, time.Time{}, "", true
	stopped := base()
	stopped.State, stopped.CheckingStopped = store.StateVerifying, true
	stopped.Items[1].State, stopped.Items[1].NewExpiry = store.ItemOrdered, time.Time{}
	onUnclear := testRequest() // auto-renew on, changed without an answer, not read back
	onUnclear.Kind, onUnclear.AutoRenew, onUnclear.Duration, onUnclear.Months = store.KindAutoRenew, store.AutoRenewOn, 12, 0
	onUnclear.State, onUnclear.Approvals = store.StateVerifying, []store.Decision{{User: "U0APPROVE", At: testNow}}
	for i := range onUnclear.Items {
		onUnclear.Items[i].State, onUnclear.Items[i].Unclear = store.ItemOrdered, true
	}
	settled := base()
	settled.Closed = &store.Decision{User: "U0BOSS", At: testNow}
	settled.Items[1].NewExpiry, settled.Items[1].Error = time.Time{}, "settled by U0BOSS after checking the console: renewed"
	superseded := base()
	superseded.State = store.StateSuperseded
	superseded.Items[0].State, superseded.Items[0].OrderID = store.ItemSuperseded, ""
	superseded.Items[0].Error = "not renewed: the expiry of i-bp1web000001 moved from 2026-12-01 00:00 UTC+8 to 2027-01-01 00:00 UTC+8 after the quote"

	tests := []struct {
		name    string
		r       *store.Request
		now     time.Time
		buttons bool
		want    []string
	}{
		{"done", base(), testNow, false, []string{"Done", "211987654320", "211987654321", "verified new expiry 2027-03-01 00:00 UTC+8", "<@U0APPROVE>"}},
		{"failed", failed, testNow, false, []string{"Failed", "not enough account balance", "`i-bp1db0000002`"}},
		{"rejected", rejected, testNow, false, []string{"Rejected", "<@U0BOSS>"}},
		{"cancelled", cancelled, testNow, false, []string{"Cancelled", "`cli:alice`"}},
		{"expired", expired, testNow.Add(25 * time.Hour), false, []string{"Expired", "run /renew again"}},
		{"approved", approved, testNow, false, []string{"Approved", "<@U0APPROVE>"}},
		{"executing", executing, testNow, false, []string{"Renewing…", "not verified yet"}},
		{"never", never, testNow, true, []string{"RELEASED 15 days after expiry", "NotRenewal", "Never renew 2 instances"}},
		{"on", on, testNow, true, []string{"every 12 months (1 year)", "first deduction can happen at once (its date, 2026-11-22 08:00 UTC+8, has passed)", "first deduction 2026-11-27 08:00 UTC+8", "9 days before expiry"}},
		{"verifying", verifying, testNow, false, []string{"Ordered, not visible yet, still checking", "Do not renew again"}},
		{"verifying unclear", unclear, testNow, true, []string{"sent without a clear answer", "do not renew again"}},
		{"verifying stopped", stopped, testNow, true, []string{"still not visible", "after 2 days", "Do not renew again", "an approver settles it"}},
		{"auto-renew verifying", onUnclear, testNow, true, []string{"Auto-renew changed without a clear answer", "still checking", "Changed (checked in the console)", "Not changed (checked in the console)"}},
		{"settled", settled, testNow, false, []string{"settled as renewed by <@U0BOSS>", "settled by U0BOSS after checking the console: renewed"}},
		{"superseded", superseded, testNow, false, []string{"Not renewed", "moved from 2026-12-01", "Nothing was charged"}},
	}
	for _, tt := range tests {
		text, blocks := ApprovalMessage(tt.r, tt.now)
		mustFit(t, tt.name, text, blocks)
		if got := len(actions(blocks)) > 0; got != tt.buttons {
			t.Errorf("%s: buttons %v, want %v", tt.name, got, tt.buttons)
		}
		all := allText(t, text, blocks)
		for _, w := range tt.want {
			if !strings.Contains(all, w) {
				t.Errorf("%s: message lacks %q:\n%s", tt.name, w, all)
			}
		}
	}
}

func manyInstances(n int, now time.Time) []ecs.Instance {
	statuses := []ecs.RenewalStatus{ecs.Normal, ecs.AutoRenewal, ecs.NotRenewal}
	out := make([]ecs.Instance, n)
	for i := range out {
		out[i] = ecs.Instance{
			ID: fmt.Sprintf("i-bp%010d", i), Name: strings.Repeat("n", i%90), RegionID: "cn-hangzhou", ZoneID: "cn-hangzhou-h",
			Type: "ecs.g7.large", ChargeType: "PrePaid", Status: "Running",
			ExpiredTime: now.Add(time.Duration(i%40-5) * 24 * time.Hour),
			AutoRenew:   ecs.AutoRenew{Status: statuses[i%3], Duration: 1, PeriodUnit: "Month"},
			Tags:        ecs.NewTags(map[string]string{"team": "infra"}),
		}
	}
	return out
}

func TestBuildersFitSlackLimits(t *testing.T) {
	huge := testRequest()
	huge.Items = nil
	for i := range 300 {
		huge.Items = append(huge.Items, store.Item{InstanceID: fmt.Sprintf("i-bp%010d", i), RegionID: "cn-beijing",
			Name: strings.Repeat("x", 200), CurrentExpiry: testNow, Price: 1e6, Currency: "USD",
			State: store.ItemFailed, Error: strings.Repeat("boom ", 200)})
	}
	huge.State = store.StateFailed
	var events []store.Event
	for i := range 2000 {
		events = append(events, store.Event{Seq: uint64(i), Time: testNow.Add(time.Duration(i) * time.Minute), Actor: "U0X",
			Action: store.ActApproved, RequestID: "R1", InstanceIDs: []string{"i-a", "i-b", "i-c", "i-d", "i-e", "i-f"}, Detail: strings.Repeat("d", 400)})
	}
	var failed []ecs.RegionError
	for i := range 40 {
		failed = append(failed, ecs.RegionError{RegionID: fmt.Sprintf("r-%d", i), Err: errors.New(strings.Repeat("e", 500))})
	}
	cases := map[string]func() (string, []slack.Block){
		"approval small": func() (string, []slack.Block) { return ApprovalMessage(testRequest(), testNow) },
		"approval huge":  func() (string, []slack.Block) { return ApprovalMessage(huge, testNow) },
		"status empty":   func() (string, []slack.Block) { return StatusMessage(nil, testNow) },
		"status small":   func() (string, []slack.Block) { return StatusMessage(manyInstances(3, testNow), testNow) },
		"status huge":    func() (string, []slack.Block) { return StatusMessage(manyInstances(500, testNow), testNow) },
		"list empty":     func() (string, []slack.Block) { return ListMessage(ecs.Scan{}, 30*24*time.Hour, testNow) },
		"list small": func() (string, []slack.Block) {
			return ListMessage(ecs.Scan{Instances: manyInstances(5, testNow)}, 7*24*time.Hour, testNow)
		},
		"list huge": func() (string, []slack.Block) {
			return ListMessage(ecs.Scan{Instances: manyInstances(3000, testNow), Failed: failed}, 365*24*time.Hour, testNow)
		},
		"history empty": func() (string, []slack.Block) { return HistoryMessage(nil, nil) },
		"history small": func() (string, []slack.Block) { return HistoryMessage(events[:3], time.UTC) },
		"history huge":  func() (string, []slack.Block) { return HistoryMessage(events, ecs.UTC8) },
		"help":          HelpMessage,
		"approval 1 item": func() (string, []slack.Block) {
			r := testRequest()
			r.Items = r.Items[:1]
			return ApprovalMessage(r, testNow)
		},
	}
	for name, build := range cases {
		text, blocks := build()
		mustFit(t, name, text, blocks)
		if len(blocks) == 0 || text == "" {
			t.Errorf("%s: empty message", name)
		}
	}

	// Long outputs say what they left out.
	_, blocks := ListMessage(ecs.Scan{Instances: manyInstances(3000, testNow), Failed: failed}, 365*24*time.Hour, testNow)
	if all := allText(t, "", blocks); !strings.Contains(all, "more; see the digest CSV") || !strings.Contains(all, "Could not read 40 regions") {
		t.Errorf("huge list does not say what it left out:\n%.2000s", all)
	}
	_, blocks = HistoryMessage(events, nil)
	if all := allText(t, "", blocks); !strings.Contains(all, "earlier events not shown") || !strings.Contains(all, "2026-11-26 18:19") {
		t.Errorf("huge history does not end with the newest event or say what it left out:\n%.1000s", all)
	}
}

func TestListMessageTiers(t *testing.T) {
	insts := []ecs.Instance{
		{ID: "i-expired01", ExpiredTime: testNow.Add(-time.Hour), AutoRenew: ecs.AutoRenew{Status: ecs.Normal}},
		{ID: "i-in5days01", ExpiredTime: testNow.Add(5 * 24 * time.Hour), AutoRenew: ecs.AutoRenew{Status: ecs.NotRenewal}},
		{ID: "i-in20days1", ExpiredTime: testNow.Add(20 * 24 * time.Hour), AutoRenew: ecs.AutoRenew{Status: ecs.AutoRenewal}},
	}
	_, blocks := ListMessage(ecs.Scan{Instances: insts}, 30*24*time.Hour, testNow)
	all := allText(t, "", blocks)
	iE, i5, i20 := strings.Index(all, "Expired or within 3 days"), strings.Index(all, "Within 7 days"), strings.Index(all, "Within 30 days")
	if iE < 0 || i5 < 0 || i20 < 0 || !(iE < strings.Index(all, "i-expired01") && i5 < strings.Index(all, "i-in5days01") && i20 < strings.Index(all, "i-in20days1")) {
		t.Errorf("tiers wrong:\n%s", all)
	}
	if strings.Contains(all, "Within 15 days") {
		t.Error("empty tier shown")
	}
	if !strings.Contains(all, "RELEASED") || !strings.Contains(all, "deduction 2026-12-06") {
		t.Errorf("auto-renew state missing:\n%s", all)
	}
}

func TestCheckLimitsFindsViolations(t *testing.T) {
	long := strings.Repeat("a", 3001)
	btn := func(id, val, label string) *slack.ButtonBlockElement {
		return slack.NewButtonBlockElement(id, val, plain(label))
	}
	var fifty []slack.Block
	for range 51 {
		fifty = append(fifty, slack.NewDividerBlock())
	}
	tests := []struct {
		name   string
		text   string
		blocks []slack.Block
		want   string
	}{
		{"blocks", "x", fifty, "51 blocks"},
		{"section", "x", []slack.Block{slack.NewSectionBlock(mrkdwn(long), nil, nil)}, "section text is 3001"},
		{"empty section", "x", []slack.Block{slack.NewSectionBlock(mrkdwn(""), nil, nil)}, "section text is empty"},
		{"header", "x", []slack.Block{slack.NewHeaderBlock(plain(strings.Repeat("h", 151)))}, "header is 151"},
		{"header mrkdwn", "x", []slack.Block{slack.NewHeaderBlock(mrkdwn("h"))}, "must be plain_text"},
		{"fields", "x", []slack.Block{slack.NewSectionBlock(nil, make11Fields(), nil)}, "11 fields"},
		{"button text", "x", []slack.Block{slack.NewActionBlock("a", btn("x", "v", strings.Repeat("b", 76)))}, "button text is 76"},
		{"button value", "x", []slack.Block{slack.NewActionBlock("a", btn("x", strings.Repeat("v", 2001), "ok"))}, "button value is 2001"},
		{"action id", "x", []slack.Block{slack.NewActionBlock("a", btn(strings.Repeat("i", 256), "v", "ok"))}, "action_id is 256"},
		{"dup action id", "x", []slack.Block{slack.NewActionBlock("a", btn("x", "v", "ok"), btn("x", "v", "ok"))}, `action_id "x" is used twice`},
		{"dup block id", "x", []slack.Block{slack.NewActionBlock("a", btn("x", "v", "ok")), slack.NewActionBlock("a", btn("y", "v", "ok"))}, `block_id "a" is used twice`},
		{"confirm", "x", []slack.Block{slack.NewActionBlock("a", btn("x", "v", "ok").WithConfirm(
			slack.NewConfirmationBlockObject(plain(strings.Repeat("t", 101)), mrkdwn(strings.Repeat("t", 301)), plain(strings.Repeat("c", 31)), plain("no"))))},
			"confirm title is 101"},
		{"overflow", "x", []slack.Block{slack.NewSectionBlock(mrkdwn("s"), nil, slack.NewAccessory(slack.NewOverflowBlockElement("o",
			opt("1"), opt("2"), opt("3"), opt("4"), opt("5"), opt("6"))))}, "overflow has 6 options"},
		{"total", "x", []slack.Block{slack.NewSectionBlock(mrkdwn(long[:2999]), nil, nil), slack.NewSectionBlock(mrkdwn(long[:2999]), nil, nil),
			slack.NewSectionBlock(mrkdwn(long[:2999]), nil, nil), slack.NewSectionBlock(mrkdwn(long[:2999]), nil, nil)}, "11996 characters of text"},
		{"fallback", strings.Repeat("f", 40001), nil, "fallback text is 40001"},
		{"nothing", "", nil, "neither text nor blocks"},
	}
	for _, tt := range tests {
		err := CheckLimits(tt.text, tt.blocks)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: CheckLimits = %v, want %q", tt.name, err, tt.want)
		}
	}
	if err := CheckLimits("ok", []slack.Block{slack.NewSectionBlock(mrkdwn("fine"), nil, nil)}); err != nil {
		t.Errorf("a fine message: %v", err)
	}
}

func make11Fields() []*slack.TextBlockObject {
	var f []*slack.TextBlockObject
	for range 11 {
		f = append(f, mrkdwn("f"))
	}
	return f
}

func opt(v string) *slack.OptionBlockObject { return slack.NewOptionBlockObject(v, plain(v), nil) }

func TestFormatting(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{money(1234, "CNY"), "¥1,234.00 CNY"},
		{money(0.5, ""), "¥0.50 CNY"},
		{money(1234567.891, "USD"), "$1,234,567.89 USD"},
		{money(-12, "XYZ"), "-12.00 XYZ"},
		{escape("<!channel> & <@U1>"), "&lt;!channel&gt; &amp; &lt;@U1&gt;"},
		{mention("U0ABC"), "<@U0ABC>"},
		{mention("cli:bob"), "`cli:bob`"},
		{renewal.FormatTime(ecs.DeductionTime(time.Date(2026, 12, 9, 16, 0, 0, 0, time.UTC)), ecs.UTC8), "2026-12-01 08:00 UTC+8"},
		{daysLeftText(testNow.Add(-49*time.Hour), testNow), "⛔ *expired 2 days ago*"},
		{daysLeftText(testNow.Add(5*time.Hour), testNow), "⚠️ *expires within a day*"},
		{daysLeftText(testNow.Add(72*time.Hour+time.Minute), testNow), "3 days left"},
		{stripMarkup("*Done* at <!date^1^{time}|2026-01-01 UTC> `x`"), "Done at 2026-01-01 UTC x"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
