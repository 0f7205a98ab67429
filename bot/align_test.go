package bot

import (
	"reflect"
	"strings"
	"testing"

	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/store"
	"github.com/slack-go/slack"
)

// Issue 12 §4: `/renew align ID[,ID...] DAY`.
func TestParseAlign(t *testing.T) {
	const a, b = "i-bp1abcdef", "i-bp2ghijkl"
	for in, want := range map[string]Command{
		"align " + a + " 15":                   {Verb: VerbAlign, InstanceIDs: []string{a}, Day: 15},
		"ALIGN " + a + "," + b + " 1":          {Verb: VerbAlign, InstanceIDs: []string{a, b}, Day: 1},
		"align " + a + ", shop:I-BP2GHIJKL 28": {Verb: VerbAlign, InstanceIDs: []string{a, "shop:" + b}, Day: 28},
		"align " + a + "," + a + " 05":         {Verb: VerbAlign, InstanceIDs: []string{a}, Day: 5},
	} {
		got, err := ParseCommand(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ParseCommand(%q) = %+v, %v; want %+v", in, got, err, want)
			continue
		}
		if again, err := ParseCommand(got.String()); err != nil || !reflect.DeepEqual(again, got) {
			t.Errorf("ParseCommand(%q) = %+v, %v; want %+v", got.String(), again, err, got)
		}
	}
	for in, want := range map[string]string{
		"align":                      "needs instance IDs and then the day",
		"align " + a:                 "needs instance IDs and then the day",
		"align 15":                   "needs instance IDs and then the day",
		"align " + a + " 29":         `"29" is not a day to renew to`,
		"align " + a + " 0":          "from 1 to 28",
		"align " + a + " 15th":       `"15th" is not a day`,
		"align " + a + " +5":         "from 1 to 28",
		"align " + a + " 3 15":       "one day, at the end",
		"align " + a + " bad:x 15":   `"bad:x" is not an ECS instance ID`,
		"align " + a + ",web-1 15":   `"web-1" is not an ECS instance ID`,
		"align " + a + " 1 months":   `"months" is not a day`,
		"align " + a + " 15 extra":   `"extra" is not a day`,
		"align " + a + ",b:c:d 15":   "is not an ECS instance ID",
		"align " + a + " 2147483648": "from 1 to 28",
	} {
		_, err := ParseCommand(in)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "Usage:") {
			t.Errorf("ParseCommand(%q) = %v; want an error saying %q, with the usage", in, err, want)
		}
	}
	if !strings.Contains(Usage, "`align ID[,ID...] DAY`") {
		t.Error("the help text does not list align")
	}
}

// alignRequest is testRequest renewing to day 15 instead of for 3 months, with the balance.
func alignRequest() *store.Request {
	r := testRequest()
	r.Months, r.ExpectedRenewDay = 0, 15
	for i := range r.Items {
		r.Items[i].ProjectedExpiry = ecs.AlignedExpiry(r.Items[i].CurrentExpiry, 15)
	}
	r.Balances = []store.AccountBalance{{Available: 20000, Currency: "CNY", Due9Days: 500}}
	return r
}

// The card of a renewal to a day: per instance the expiry now and after, and the price; the
// total, the balance after it, and a confirm dialog with the amount and the day.
func TestApprovalMessageAlign(t *testing.T) {
	text, blocks := ApprovalMessage(alignRequest(), testNow)
	mustFit(t, "align", text, blocks)
	golden(t, "approval_align_pending.json", messageJSON(t, text, blocks))
	all := allText(t, text, blocks)
	for _, want := range []string{
		"Renew 2 instances to day 15 of the month (R0K3QF2A9)", "*Renew to*\\nday 15 of the month",
		"expires 2026-12-01 00:00 UTC+8", "→ new expiry 2027-01-15 00:00 UTC+8 · ¥1,234.50 CNY", // Dec 15 is under a month away
		"expires 2026-12-06 00:00 UTC+8", "→ new expiry 2027-01-15 00:00 UTC+8 · ¥8,000.00 CNY",
		"*Total quote*\\n¥9,234.50 CNY", "¥10,765.50 CNY after this renewal",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("align card lacks %q", want)
		}
	}
	approve := actions(blocks)[0].Elements.ElementSet[0].(*slack.ButtonBlockElement)
	if c := approve.Confirm; c == nil || c.Title.Text != "Renew 2 instances to day 15?" || !strings.Contains(c.Text.Text, "¥9,234.50 CNY") {
		t.Errorf("confirm dialog %+v", c)
	}
	if strings.Contains(all, "Period") || strings.Contains(all, "0 months") {
		t.Error("an alignment shown as a period")
	}
}
