package bot_test

import (
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/renewbot/renewbot/bot"
	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/ecs/ecssim"
	"github.com/renewbot/renewbot/store"
	"github.com/slack-go/slack"
)

// Issue 12 §4 through the signed HTTP handler: `/renew align ID,ID DAY` posts a card with
// each instance's expiry now and after, its price and the total; the requester cannot
// approve it; an approver's click pays once per instance with ExpectedRenewDay and the
// request's ClientToken, and the card ends with the verified aligned expiries.
func TestApp_AlignFlow(t *testing.T) {
	var mu sync.Mutex
	var renews []url.Values
	e := newEdgeEnv(t, func(o *ecssim.Options) {
		o.Hook = func(action string, p url.Values) {
			if action == "RenewInstance" {
				mu.Lock()
				renews = append(renews, p)
				mu.Unlock()
			}
		}
	})
	ctx := edgeCtx(t)

	// Wrong input is answered at once, and nothing is asked of ECS or stored.
	for text, want := range map[string]string{
		"align i-bp1hz00001 31":           "from 1 to 28",
		"align i-bp1hz00001":              "the day of the month",
		"align i-bp1hz00001 i-bp1hz00002": `"i-bp1hz00002" is not a day`,
	} {
		if ack := e.ack(t, edgeReq, text); !strings.Contains(ack.Text, want) {
			t.Errorf("%q answered %q, want %q", text, ack.Text, want)
		}
	}
	if n := len(e.sim.Calls()); n != 0 {
		t.Errorf("%d kinds of ECS calls for wrong input", n)
	}

	r, ts := e.openRequest(t, ctx, "align i-bp1hz00001,i-bp1hz00002 15")
	if r.ExpectedRenewDay != 15 || r.Months != 0 || len(r.Items) != 2 {
		t.Fatalf("request %+v", r)
	}
	want := time.Date(2027, 1, 15, 0, 0, 0, 0, ecs.UTC8) // from 2026-12-01 and 2026-12-06 UTC+8
	card, _ := e.fake.Message(edgeChannel, ts)
	for _, s := range []string{"to day 15 of the month", renewal.FormatTime(r.Items[0].CurrentExpiry, time.UTC), renewal.FormatTime(r.Items[1].CurrentExpiry, time.UTC),
		"new expiry " + renewal.FormatTime(want, time.UTC), renewal.Money(r.Items[0].Price, "CNY"), renewal.Money(r.Total, "CNY")} {
		if !strings.Contains(card.Get("text")+card.Get("blocks"), s) {
			t.Errorf("card lacks %q: %s", s, card.Get("blocks"))
		}
	}

	e.click(t, edgeReq, ts, bot.ActionApprove, string(r.ID))
	if text := e.responseText(t, ctx, 2); !strings.Contains(text, "someone else") {
		t.Errorf("self-approval answered %q", text)
	}
	e.click(t, edgeApprover, ts, bot.ActionApprove, string(r.ID))
	e.drain(t)

	done, _ := e.db.GetRequest(r.ID)
	if done.State != store.StateDone {
		t.Fatalf("request %s: %+v", done.State, done.Items)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(renews) != 2 {
		t.Fatalf("%d RenewInstance calls, want 2", len(renews))
	}
	for _, p := range renews {
		if p.Get("ExpectedRenewDay") != "15" || p.Has("Period") || p.Get("ClientToken") != r.ClientToken(p.Get("InstanceId")) {
			t.Errorf("RenewInstance %v", p)
		}
	}
	for _, it := range done.Items {
		if !it.NewExpiry.Equal(want) {
			t.Errorf("%s verified at %v, want %v", it.InstanceID, it.NewExpiry, want)
		}
	}
	card, _ = e.fake.Message(edgeChannel, ts)
	if !strings.Contains(card.Get("blocks"), "verified new expiry "+renewal.FormatTime(want, time.UTC)) {
		t.Errorf("done card: %s", card.Get("blocks"))
	}

	// The history says the day and the new expiry, without the ClientToken.
	evs, err := e.db.History(store.HistoryQuery{RequestID: r.ID})
	if err != nil {
		t.Fatal(err)
	}
	_, blocks := bot.HistoryMessage(evs, ecs.UTC8)
	hist := blocksText(t, slack.Blocks{BlockSet: blocks})
	for _, s := range []string{"to day 15 of the month", "ExpectedRenewDay 15", "→ 2027-01-15 00:00 UTC+8"} {
		if !strings.Contains(hist, s) {
			t.Errorf("history lacks %q: %s", s, hist)
		}
	}
	if strings.Contains(hist, r.ClientToken("i-bp1hz00001")) {
		t.Error("history shows a ClientToken")
	}
}

// An expired instance, or an unknown one, is refused with a clear answer; nothing is stored.
func TestApp_AlignRefused(t *testing.T) {
	e := newEdgeEnv(t)
	ctx := edgeCtx(t)
	e.clock.Advance(6 * 24 * time.Hour) // i-bp1hz00001 expired on 2026-12-01 UTC+8
	e.ack(t, edgeReq, "align i-bp1hz00001 15")
	if text := e.responseText(t, ctx, 1); !strings.Contains(text, "i-bp1hz00001 expired") || !strings.Contains(text, "unexpired") {
		t.Errorf("expired instance answered %q", text)
	}
	e.ack(t, edgeReq, "align i-bp1nothere 15")
	if text := e.responseText(t, ctx, 2); !strings.Contains(text, "o instance i-bp1nothere in any region") {
		t.Errorf("unknown instance answered %q", text)
	}
	e.drain(t)
	if rs, _ := e.db.ListRequests(); len(rs) != 0 {
		t.Errorf("%d requests stored", len(rs))
	}
}
