package bot_test

import (
	"strings"
	"testing"
)

// TestApp_HistoryOfUnknownRequest: `/renew history RNOPE` says there is no such request
// instead of "0 events" (issue 11 #11).
func TestApp_HistoryOfUnknownRequest(t *testing.T) {
	e := newEdgeEnv(t)
	ctx := edgeCtx(t)
	e.ack(t, edgeReq, "history RNOPE")
	if got := e.responseText(t, ctx, 1); got != "no request RNOPE" {
		t.Errorf("history RNOPE answered %q, want %q", got, "no request RNOPE")
	}
	e.ack(t, edgeReq, "history")
	if got := e.responseText(t, ctx, 2); strings.Contains(got, "no request") {
		t.Errorf("history without an ID answered %q", got)
	}
}

// TestApp_HistoryOfRequestInLowerCase: a request ID typed in lower case finds the request,
// as `cancel` does; it does not answer "no request".
func TestApp_HistoryOfRequestInLowerCase(t *testing.T) {
	e := newEdgeEnv(t)
	ctx := edgeCtx(t)
	r, _ := e.openRequest(t, ctx, "i-bp1hz00001 1")
	n := len(e.fake.CallsOf("response_url"))
	e.ack(t, edgeReq, "history "+strings.ToLower(string(r.ID)))
	if got := e.responseText(t, ctx, n+1); strings.Contains(got, "no request") || !strings.Contains(got, "event") {
		t.Errorf("history %s answered %q", strings.ToLower(string(r.ID)), got)
	}
}
