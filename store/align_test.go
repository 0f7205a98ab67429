package store

import (
	"bytes"
	"strings"
	"testing"
)

// A renewal to a day of the month (issue 12 §4) is a KindRenew request with
// ExpectedRenewDay: stored and read back as such, audited with its day, and a request of
// months (every file written before) keeps its JSON without the field.
func TestCreateRequest_RenewToDay(t *testing.T) {
	clock := newClock()
	db := mustOpen(t, clock)
	r := newRenewal(clock, "i-1", "i-2")
	r.Months, r.ExpectedRenewDay = 0, 15
	mustCreate(t, db, r)
	got, err := db.GetRequest(r.ID)
	if err != nil || got.Kind != KindRenew || got.ExpectedRenewDay != 15 || got.Months != 0 {
		t.Fatalf("read back %+v, %v", got, err)
	}
	evs := mustHistory(t, db, HistoryQuery{RequestID: r.ID})
	if len(evs) != 1 || !strings.Contains(evs[0].Detail, "renew 2 instance(s) to day 15 of the month") {
		t.Errorf("requested event %+v", evs)
	}
	months := mustCreate(t, db, newRenewal(clock, "i-3"))
	if raw := rawRequest(t, db, months.ID); bytes.Contains(raw, []byte("ExpectedRenewDay")) {
		t.Errorf("a renewal for months is stored with ExpectedRenewDay: %s", raw)
	}
}
