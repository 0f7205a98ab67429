package bot_test

import (
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/renewbot/renewbot/bot"
	"github.com/renewbot/renewbot/store"
)

func TestParseCommand_HistoryExport(t *testing.T) {
	for text, want := range map[string]bot.Command{
		"history export":            {Verb: bot.VerbHistory, Export: true},
		"history EXPORT 30d":        {Verb: bot.VerbHistory, Export: true, Since: 30 * 24 * time.Hour},
		"log export 2026-11-01":     {Verb: bot.VerbHistory, Export: true, SinceDay: "2026-11-01"},
		"history export 48h":        {Verb: bot.VerbHistory, Export: true, Since: 48 * time.Hour},
		"history i-bp1hz00001":      {Verb: bot.VerbHistory, InstanceIDs: []string{"i-bp1hz00001"}},
		"history export 2026-11-01": {Verb: bot.VerbHistory, Export: true, SinceDay: "2026-11-01"},
	} {
		got, err := bot.ParseCommand(text)
		if err != nil || got.String() != want.String() || got.Export != want.Export || got.Since != want.Since || got.SinceDay != want.SinceDay {
			t.Errorf("ParseCommand(%q) = %+v, %v; want %+v", text, got, err, want)
		}
		if again, err := bot.ParseCommand(got.String()); err != nil || again.String() != got.String() {
			t.Errorf("%q → %q does not parse back: %+v, %v", text, got.String(), again, err)
		}
	}
	for _, text := range []string{"history export yesterday", "history export 2026-13-01", "history export 30d 2026-11-01", "history export 400d"} {
		if _, err := bot.ParseCommand(text); err == nil || !strings.Contains(err.Error(), "history export") && !strings.Contains(err.Error(), "window") {
			t.Errorf("ParseCommand(%q) err = %v, want a refusal naming the grammar", text, err)
		}
	}
}

// `/renew history export [SINCE]` uploads the audit log as a CSV file to the channel (files
// upload v2) and tells the user where; the file has one row per event, with the chain hash,
// and no ClientToken or API request ID.
func TestSlack_HistoryExportUploadsTheCSV(t *testing.T) {
	e := newEdgeEnv(t)
	ctx := edgeCtx(t)
	r, ts := e.openRequest(t, ctx, "i-bp1hz00001 1")
	e.click(t, edgeApprover, ts, bot.ActionApprove, string(r.ID))
	e.drain(t)
	e.restartApp(t)
	evs, err := e.db.History(store.HistoryQuery{})
	if err != nil || len(evs) < 5 {
		t.Fatalf("audit log %d events (%v)", len(evs), err)
	}

	n := len(e.fake.CallsOf("response_url"))
	if ack := e.ack(t, edgeStranger, "history export 7d"); !strings.Contains(ack.Text, "Exporting") {
		t.Errorf("ack %q", ack.Text)
	}
	if text := e.responseText(t, ctx, n+1); !strings.Contains(text, "Uploaded the audit log") || !strings.Contains(text, "<#"+edgeChannel+">") {
		t.Errorf("answer %q", text)
	}
	uploads, err := e.fake.Wait(ctx, "upload", 1)
	if err != nil {
		t.Fatal(err)
	}
	done := e.fake.CallsOf("files.completeUploadExternal")
	if len(done) != 1 || done[0].Form.Get("channel_id") != edgeChannel || !strings.Contains(done[0].Form.Get("initial_comment"), "<@"+edgeStranger+">") {
		t.Fatalf("completeUploadExternal %+v", done)
	}
	rows, err := csv.NewReader(strings.NewReader(string(uploads[0].File))).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v\n%s", err, uploads[0].File)
	}
	if len(rows) != len(evs)+1 || rows[0][0] != "seq" || rows[0][7] != "hash" {
		t.Fatalf("%d rows for %d events: %q", len(rows), len(evs), rows)
	}
	for i, row := range rows[1:] {
		if row[7] != evs[i].Hash || row[3] != string(evs[i].Action) {
			t.Errorf("row %d %q, want event %+v", i+1, row, evs[i])
		}
	}
	csvText := string(uploads[0].File)
	if strings.Contains(csvText, r.ClientToken("i-bp1hz00001")) || strings.Contains(csvText, "RequestId") {
		t.Errorf("the CSV in Slack shows a ClientToken or request ID:\n%s", csvText)
	}

	// A date after every event: an empty export, said so. A bad SINCE: refused, nothing uploaded.
	e.ack(t, edgeStranger, "history export 2026-11-26")
	if text := e.responseText(t, ctx, n+2); !strings.Contains(text, "0 events") {
		t.Errorf("answer %q, want 0 events", text)
	}
	if ack := e.ack(t, edgeStranger, "history export soon"); !strings.Contains(ack.Text, "history export") {
		t.Errorf("bad SINCE answered %q", ack.Text)
	}
	e.drain(t)
	if n := len(e.fake.CallsOf("upload")); n != 2 {
		t.Errorf("%d uploads, want 2", n)
	}
}
