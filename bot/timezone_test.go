package bot

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/store"
)

// TestMessagesShowTimesInOneZone: approval cards, status, lists and history show every time
// in the configured zone with its UTC offset; no UTC+8 expiry next to a UTC deadline, no zone
// abbreviation (issue 11 #4).
func TestMessagesShowTimesInOneZone(t *testing.T) {
	chicago, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Fatal(err)
	}
	now := testNow.In(chicago)
	done := doneRequest()
	events := []store.Event{{Time: testNow, Actor: "U0ALICE", Action: store.ActRequested, RequestID: done.ID}}
	insts := manyInstances(3, testNow)
	msgs := map[string]string{}
	text, blocks := ApprovalMessage(testRequest(), now)
	msgs["approval pending"] = allText(t, text, blocks)
	text, blocks = ApprovalMessage(done, now)
	msgs["approval done"] = allText(t, text, blocks)
	text, blocks = StatusMessage(insts, now)
	msgs["status"] = allText(t, text, blocks)
	text, blocks = ListMessage(ecs.Scan{Instances: insts}, 30*24*time.Hour, now)
	msgs["list"] = allText(t, text, blocks)
	text, blocks = HistoryMessage(events, chicago)
	msgs["history"] = allText(t, text, blocks)

	stamp := regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d( UTC[+-]?[0-9:]*)?`)
	for name, all := range msgs {
		if strings.Contains(all, "<!date") || strings.Contains(all, " CST") {
			t.Errorf("%s: a reader-dependent or abbreviated time in %s", name, all)
		}
		for _, m := range stamp.FindAllStringSubmatch(all, -1) {
			if m[1] != " UTC-6" {
				t.Errorf("%s: time %q is not in UTC-6 (America/Chicago)", name, m[0])
			}
		}
	}
	if !strings.Contains(msgs["approval pending"], "*Deadline*\\n2026-11-25 19:00 UTC-6") {
		t.Errorf("deadline not in Chicago time: %s", msgs["approval pending"])
	}
}

// TestDaysLeftAgree: the CLI's days_left, the digest CSV and Slack's words come from one
// function, renewal.DaysLeft: an instance 11.5 days past expiry is -11 and "expired 11 days
// ago" everywhere (issue 11 #5).
func TestDaysLeftAgree(t *testing.T) {
	day := 24 * time.Hour
	for _, off := range []time.Duration{-14*day - time.Hour, -11*day - 12*time.Hour, -day - time.Minute, -time.Hour, time.Hour, day + time.Minute, 4*day + 12*time.Hour} {
		exp := testNow.Add(off)
		d := renewal.DaysLeft(exp, testNow)
		text, short := daysLeftText(exp, testNow), shortDaysLeft(exp, testNow)
		var want string
		switch {
		case off < 0 && d == 0:
			want = "expired today"
		case off < 0:
			want = "expired " + plural(-d, "day", "days") + " ago"
		case d == 0:
			want = "expires within a day"
		default:
			want = plural(d, "day", "days") + " left"
			if short != strconv.Itoa(d)+"d" {
				t.Errorf("%v: short %q, want %dd", off, short, d)
			}
		}
		if !strings.Contains(text, want) {
			t.Errorf("%v: DaysLeft %d, Slack says %q, want %q", off, d, text, want)
		}
		csv := string(digestCSV([]DigestItem{{Instance: ecs.Instance{ID: "i-x", ExpiredTime: exp}}}, testNow, []int{30}))
		if !strings.Contains(csv, ","+strconv.Itoa(d)+",30,") {
			t.Errorf("%v: CSV %q lacks days_left %d", off, csv, d)
		}
	}
}

// TestNotRenewalWording: every Slack text about NotRenewal says the instance is released 15
// days after expiry (ecs.ReleaseGrace), never "at expiry" (issue 11 #6).
func TestNotRenewalWording(t *testing.T) {
	r := testRequest()
	r.Kind, r.AutoRenew = store.KindAutoRenew, store.AutoRenewNever
	text, blocks := ApprovalMessage(r, testNow)
	all := allText(t, text, blocks)
	in := ecs.Instance{ID: "i-x", ExpiredTime: testNow.Add(72 * time.Hour), AutoRenew: ecs.AutoRenew{Status: ecs.NotRenewal}}
	text, blocks = StatusMessage([]ecs.Instance{in}, testNow)
	all += allText(t, text, blocks) + Usage
	if strings.Contains(strings.ToLower(all), "at expiry") {
		t.Errorf("\"at expiry\" in %s", all)
	}
	if n := strings.Count(all, "15 days after expiry"); n < 4 {
		t.Errorf("%d mentions of 15 days after expiry, want title, warning, confirm, status, help: %s", n, all)
	}
}

// TestTierAgreesWithDaysLeft: the urgency tier of an instance follows the days left it
// shows: "3 days left" (3 days 15 hours) is under "within 3 days", not "within 7 days"
// (issue 11 #5).
func TestTierAgreesWithDaysLeft(t *testing.T) {
	tiers := []int{3, 7, 15, 30}
	for _, off := range []time.Duration{3*24*time.Hour + 15*time.Hour, 7*24*time.Hour + 23*time.Hour, 15 * 24 * time.Hour, -2 * time.Hour} {
		exp := testNow.Add(off)
		d := renewal.DaysLeft(exp, testNow)
		want := len(tiers) - 1
		for i, tier := range tiers {
			if d <= tier {
				want = i
				break
			}
		}
		if got := tierOf(exp, testNow, tiers); got != want {
			t.Errorf("%v: %d days left (%q) is in tier %q, want %q", off, d, daysLeftText(exp, testNow), tierName(got, tiers), tierName(want, tiers))
		}
	}
}
