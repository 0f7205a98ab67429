package bot

import (
	"regexp"
	"strings"
	"testing"
	"time"

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
