package bot_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/renewbot/renewbot/bot"
	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/store"
)

// reminderApp is an App on e's workflow and store that escalates to escalate.
func (e *edgeEnv) reminderApp(t *testing.T, escalate ...string) *bot.App {
	t.Helper()
	cloud, err := ecs.New(ecs.Config{Regions: []string{"cn-hangzhou"}, Endpoint: e.sim.URL, AccessKeyID: "testid", AccessKeySecret: "testsecret"})
	if err != nil {
		t.Fatal(err)
	}
	app, err := bot.NewApp(bot.AppConfig{Workflow: e.wf, Cloud: cloud, Store: e.db, Slack: e.api, Now: e.clock.Now,
		Metrics: e.metrics, Log: slog.New(slog.NewTextHandler(e.log, nil)), EscalateTo: escalate})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = app.Shutdown(context.Background()) })
	return app
}

func remind(t *testing.T, app *bot.App, want int) {
	t.Helper()
	n, err := app.Remind(context.Background())
	if err != nil || n != want {
		t.Fatalf("Remind = %d, %v; want %d", n, err, want)
	}
}

// threadPosts are the chat.postMessage calls in the thread of ts.
func (e *edgeEnv) threadPosts(ts string) []string {
	var out []string
	for _, c := range e.fake.CallsOf("chat.postMessage") {
		if c.Form.Get("thread_ts") == ts && c.Form.Get("channel") == edgeChannel {
			out = append(out, c.Form.Get("text"))
		}
	}
	return out
}

// Approvers are reminded in the thread at half the TTL, the escalation contacts at 90%;
// each once, and none after the decision.
func TestReminders_HalfTTLAndEscalation(t *testing.T) {
	e := newEdgeEnv(t)
	ctx := edgeCtx(t)
	app := e.reminderApp(t, "UBOSS", "SONCALL")
	r, ts := e.openRequest(t, ctx, "i-bp1hz00002 1") // 24h TTL; expires in 10 days
	decided, _ := e.openRequest(t, ctx, "i-bp1hz00001 1")

	remind(t, app, 0)
	e.clock.Advance(11*time.Hour + 59*time.Minute)
	remind(t, app, 0)
	if _, err := e.wf.Cancel(ctx, decided.ID, edgeReq); err != nil { // decided: never reminded
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute) // half the TTL
	remind(t, app, 1)
	remind(t, app, 0) // once
	posts := e.threadPosts(ts)
	if len(posts) != 1 || !strings.Contains(posts[0], "<@"+edgeApprover+">") || !strings.Contains(posts[0], "<!subteam^SAPPROVERS>") ||
		strings.Contains(posts[0], "UBOSS") || !strings.Contains(posts[0], string(r.ID)) {
		t.Fatalf("half-TTL reminder %q, want the approvers (user and group) mentioned", posts)
	}
	e.clock.Advance(9*time.Hour + 35*time.Minute) // 21h35m: under 90%
	remind(t, app, 0)
	e.clock.Advance(time.Minute) // 21h36m = 90%
	remind(t, app, 1)
	remind(t, app, 0)
	posts = e.threadPosts(ts)
	if len(posts) != 2 || !strings.Contains(posts[1], "<@UBOSS> <!subteam^SONCALL>") || !strings.Contains(posts[1], "Escalation") {
		t.Fatalf("escalation %q", posts)
	}
	got, _ := e.db.GetRequest(r.ID)
	if got.Reminded != store.RemindedApprovers|store.RemindedEscalation {
		t.Errorf("Reminded = %b", got.Reminded)
	}
	evs, _ := e.db.History(store.HistoryQuery{RequestID: r.ID})
	n := 0
	for _, ev := range evs {
		if ev.Action == store.ActReminded {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d reminded audit entries, want 2", n)
	}
	if p := e.threadPosts(decided.Message.TS); len(p) > 0 && strings.Contains(strings.Join(p, "\n"), "Reminder") {
		t.Errorf("the cancelled request was reminded: %q", p)
	}
	// A second App (a restart) sends nothing again: the store remembers.
	remind(t, e.reminderApp(t, "UBOSS"), 0)
}

// An instance that expires before the request's deadline escalates at once; without
// escalation contacts nothing escalates.
func TestReminders_InstanceExpiresFirst(t *testing.T) {
	e := newEdgeEnv(t)
	ctx := edgeCtx(t)
	e.clock.Advance(5*24*time.Hour + 2*time.Hour) // i-bp1hz00001 expires in 14h, the deadline in 24h
	_, ts := e.openRequest(t, ctx, "i-bp1hz00001 1")
	remind(t, e.reminderApp(t), 0)
	remind(t, e.reminderApp(t, "UBOSS"), 1)
	if posts := e.threadPosts(ts); len(posts) != 1 || !strings.Contains(posts[0], "`i-bp1hz00001` expires") || !strings.Contains(posts[0], "<@UBOSS>") {
		t.Errorf("escalation %q", posts)
	}
	cloud, _ := ecs.New(ecs.Config{Regions: []string{"cn-hangzhou"}, Endpoint: e.sim.URL, AccessKeyID: "testid", AccessKeySecret: "testsecret"})
	if _, err := bot.NewApp(bot.AppConfig{Workflow: e.wf, Cloud: cloud, Store: e.db, Slack: e.api, EscalateTo: []string{"bob"}}); err == nil {
		t.Error("NewApp accepted the escalation contact \"bob\" (a name, not an ID)")
	}
}
