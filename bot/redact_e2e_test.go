package bot_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/renewbot/renewbot/bot"
	"github.com/renewbot/renewbot/store"
	"github.com/slack-go/slack"
)

// /renew history stays open to everyone, and nothing in Slack shows a paid call's
// ClientToken or Alibaba's API request IDs: not the history, not the approval message. The
// audit log keeps them (the CLI shows them).
func TestSlack_NoClientTokensOrRequestIDs(t *testing.T) {
	e := newEdgeEnv(t)
	ctx := edgeCtx(t)
	r, ts := e.openRequest(t, ctx, "i-bp1hz00001 1")
	e.click(t, edgeApprover, ts, bot.ActionApprove, string(r.ID))
	e.drain(t) // the renewal ran; a restarted app answers the history
	e.restartApp(t)
	n := len(e.fake.CallsOf("response_url"))
	e.ack(t, edgeStranger, "history "+string(r.ID)) // anyone may read the audit
	if text := e.responseText(t, ctx, n+1); !strings.HasPrefix(text, "History") {
		t.Fatalf("history answer %q", text)
	}

	// What must not be shown, as recorded in the audit log.
	secrets := []string{r.ClientToken("i-bp1hz00001")}
	reqID := regexp.MustCompile(`RequestId ([A-Za-z0-9-]+)`)
	evs, err := e.db.History(store.HistoryQuery{RequestID: r.ID})
	if err != nil {
		t.Fatal(err)
	}
	tokenLogged := false
	for _, ev := range evs {
		tokenLogged = tokenLogged || strings.Contains(ev.Detail, secrets[0])
		for _, m := range reqID.FindAllStringSubmatch(ev.Detail, -1) {
			secrets = append(secrets, m[1])
		}
	}
	got, _ := e.db.GetRequest(r.ID)
	for _, it := range got.Items {
		if it.APIRequestID != "" {
			secrets = append(secrets, it.APIRequestID)
		}
		for _, m := range reqID.FindAllStringSubmatch(it.Error, -1) {
			secrets = append(secrets, m[1])
		}
	}
	if !tokenLogged || len(secrets) < 2 {
		t.Fatalf("the audit log and request hold %v: no ClientToken or RequestId to look for; events %+v; items %+v", secrets, evs, got.Items)
	}
	for _, c := range e.fake.Calls() {
		sent := url.Values(c.Form).Encode() + string(c.JSON)
		if dec, err := url.QueryUnescape(sent); err == nil {
			sent = dec
		}
		for _, s := range append(secrets, "ClientToken ", "RequestId") {
			if strings.Contains(sent, s) {
				t.Errorf("%s sent %q to Slack", c.Method, s)
			}
		}
	}

	// A renewal that failed with an API error, and audit details of every shape the workflow
	// writes, as the approval message and the history render them.
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	failed := &store.Request{ID: "R038GG02400000", Kind: store.KindRenew, State: store.StateFailed, Requester: edgeReq, Channel: edgeChannel,
		Months: 1, Currency: "CNY", Total: 100, Deadline: now.Add(time.Hour), Items: []store.Item{{InstanceID: "i-bp1hz00001", RegionID: "cn-hangzhou",
			Price: 100, Currency: "CNY", State: store.ItemFailed, APIRequestID: "5A1B-77C9",
			Error: "ECS API error for i-bp1hz00001 (Forbidden.Unknown: nope; RenewInstance, RequestId 5A1B-77C9)"}}}
	token := failed.ClientToken("i-bp1hz00001")
	details := []string{"RenewInstance cn-hangzhou 1 month(s), ClientToken " + token, "order 2000001 (RequestId 6A1F-22B3)",
		"RequestId 6A1F-22B3", "changed (RequestId 9C0D-1E2F) but Alibaba Cloud does not show auto-renew on yet"}
	var rendered []store.Event
	for i, d := range details {
		rendered = append(rendered, store.Event{Seq: uint64(i + 1), Time: now, Actor: "renewbot", Action: store.ActCalled, RequestID: failed.ID, Detail: d})
	}
	text, blocks := bot.ApprovalMessage(failed, now)
	htext, hblocks := bot.HistoryMessage(rendered, time.UTC)
	shown := text + htext + blocksText(t, slack.Blocks{BlockSet: append(blocks, hblocks...)})
	for _, s := range []string{token, "5A1B-77C9", "6A1F-22B3", "9C0D-1E2F", "RequestId", "ClientToken"} {
		if strings.Contains(shown, s) {
			t.Errorf("Slack would show %q:\n%s", s, shown)
		}
	}
	if !strings.Contains(shown, "order 2000001") || !strings.Contains(shown, "Forbidden.Unknown") {
		t.Errorf("the redaction took more than the IDs:\n%s", shown)
	}
}
