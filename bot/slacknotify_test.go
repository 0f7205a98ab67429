package bot

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/renewbot/renewbot/bot/bottest"
	"github.com/renewbot/renewbot/store"
	"github.com/slack-go/slack"
)

func newFakeAPI(t *testing.T) (*bottest.FakeSlack, *slack.Client) {
	t.Helper()
	fake := bottest.NewFakeSlack()
	t.Cleanup(fake.Close)
	return fake, slack.New("xoxb-test-token", slack.OptionAPIURL(fake.APIURL()))
}

func TestSlackMembers_CachesPerGroup(t *testing.T) {
	fake, api := newFakeAPI(t)
	fake.SetGroup("SOPS", "U1", "U2")
	m := NewSlackMembers(api, time.Minute)
	var mu sync.Mutex
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	m.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	ctx := context.Background()

	// Ten concurrent cold lookups make one call.
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			got, err := m.GroupMembers(ctx, "SOPS")
			if err != nil || strings.Join(got, ",") != "U1,U2" {
				t.Errorf("GroupMembers = %v, %v", got, err)
			}
		})
	}
	wg.Wait()
	if n := len(fake.CallsOf("usergroups.users.list")); n != 1 {
		t.Errorf("%d usergroups.users.list calls for 10 lookups, want 1", n)
	}
	if got := fake.CallsOf("usergroups.users.list")[0].Form.Get("usergroup"); got != "SOPS" {
		t.Errorf("asked for group %q", got)
	}

	// After the TTL the group is read again, and changes show.
	fake.SetGroup("SOPS", "U3")
	mu.Lock()
	now = now.Add(61 * time.Second)
	mu.Unlock()
	if got, err := m.GroupMembers(ctx, "SOPS"); err != nil || strings.Join(got, ",") != "U3" {
		t.Errorf("after the TTL: %v, %v", got, err)
	}
	if n := len(fake.CallsOf("usergroups.users.list")); n != 2 {
		t.Errorf("%d calls after the TTL, want 2", n)
	}

	// Errors are surfaced and not cached.
	for range 2 {
		if _, err := m.GroupMembers(ctx, "SNOPE"); err == nil || !strings.Contains(err.Error(), "no_such_subteam") {
			t.Errorf("unknown group: %v, want no_such_subteam", err)
		}
	}
	if n := len(fake.CallsOf("usergroups.users.list")); n != 4 {
		t.Errorf("%d calls, want 4 (failures are not cached)", n)
	}
}

func notifyRequest(ref store.MessageRef, version uint64, state store.State) *store.Request {
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	return &store.Request{
		ID: "R0NOTIFY", Kind: store.KindRenew, State: state, Requester: "UREQ", Channel: ref.Channel,
		CreatedAt: now, UpdatedAt: now, Deadline: now.Add(24 * time.Hour), Months: 1,
		Items: []store.Item{{InstanceID: "i-bp1notify01", RegionID: "cn-hangzhou", Name: "db",
			CurrentExpiry: now.Add(72 * time.Hour), ProjectedExpiry: now.Add(72*time.Hour + 31*24*time.Hour),
			AutoRenewStatus: "Normal", Price: 99, Currency: "CNY", State: store.ItemPending}},
		Total: 99, Currency: "CNY", ApprovalsRequired: 1, Message: ref, Version: version,
	}
}

func TestSlackNotifier_UpdatesInOrder(t *testing.T) {
	fake, api := newFakeAPI(t)
	ctx := context.Background()
	ch, ts, err := api.PostMessageContext(ctx, "CN", slack.MsgOptionText("approval", false))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	metrics := NewMetrics(reg)
	n := NewSlackNotifier(api, nil, nil).WithMetrics(metrics)
	ref := store.MessageRef{Channel: ch, TS: ts}

	changed := func(r *store.Request) {
		t.Helper()
		n.RequestChanged(ctx, r)
		if err := n.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	changed(notifyRequest(store.MessageRef{}, 1, store.StatePending)) // no message: skipped
	changed(notifyRequest(ref, 3, store.StateRejected))
	changed(notifyRequest(ref, 2, store.StatePending)) // older than what is shown: skipped
	updates := fake.CallsOf("chat.update")
	if len(updates) != 1 {
		t.Fatalf("%d chat.update calls, want 1", len(updates))
	}
	if u := updates[0].Form; u.Get("channel") != ch || u.Get("ts") != ts || !strings.Contains(u.Get("text"), "R0NOTIFY") {
		t.Errorf("update %v", u)
	}
	if msg, _ := fake.Message(ch, ts); strings.Contains(msg.Get("blocks"), `"approve"`) {
		t.Errorf("a rejected request's message still has the approve button: %s", msg.Get("blocks"))
	}

	// A message Slack does not know: logged and counted, not fatal.
	changed(notifyRequest(store.MessageRef{Channel: ch, TS: "1.000000"}, 4, store.StateDone))
	if got := testutil.ToFloat64(metrics.slackErrors.WithLabelValues("chat.update", "message_not_found")); got != 1 {
		t.Errorf("message_not_found counted %v", got)
	}

	// 429: Retry-After is waited out and the update retried, at most 3 attempts.
	var waited []time.Duration
	n.wait = func(_ context.Context, d time.Duration) error { waited = append(waited, d); return nil }
	fake.FailNext("chat.update", 429, 3)
	changed(notifyRequest(ref, 5, store.StateDone))
	if got := testutil.ToFloat64(metrics.slackRateLimited.WithLabelValues("chat.update")); got != 1 {
		t.Errorf("rate limits counted %v", got)
	}
	if len(waited) != 1 || waited[0] != 3*time.Second {
		t.Errorf("waited %v, want [3s]", waited)
	}
	if msg, _ := fake.Message(ch, ts); !strings.Contains(msg.Get("text"), "R0NOTIFY") || len(fake.CallsOf("chat.update")) != 4 {
		t.Errorf("after the retry: %d updates, message %v", len(fake.CallsOf("chat.update")), msg)
	}
	for range 3 {
		fake.FailNext("chat.update", 429, 1)
	}
	changed(notifyRequest(ref, 6, store.StateDone))
	if got := testutil.ToFloat64(metrics.slackRateLimited.WithLabelValues("chat.update")); got != 4 {
		t.Errorf("rate limits counted %v, want 4", got)
	}
	if len(fake.CallsOf("chat.update")) != 7 {
		t.Errorf("%d updates, want 7 (3 attempts for the last change)", len(fake.CallsOf("chat.update")))
	}
}

// One request's message waiting out a 429 does not hold up the updates of other requests.
func TestSlackNotifier_RateLimitedMessageDoesNotBlockOthers(t *testing.T) {
	fake, api := newFakeAPI(t)
	ctx := context.Background()
	post := func() store.MessageRef {
		ch, ts, err := api.PostMessageContext(ctx, "CN", slack.MsgOptionText("approval", false))
		if err != nil {
			t.Fatal(err)
		}
		return store.MessageRef{Channel: ch, TS: ts}
	}
	refA, refB := post(), post()
	n := NewSlackNotifier(api, nil, nil)
	waiting, release := make(chan struct{}), make(chan struct{})
	n.wait = func(context.Context, time.Duration) error { close(waiting); <-release; return nil }

	fake.FailNext("chat.update", 429, 30)
	a := notifyRequest(refA, 2, store.StateRejected)
	n.RequestChanged(ctx, a) // returns at once: the update waits in its own queue
	<-waiting                // A is waiting out its Retry-After

	b := notifyRequest(refB, 2, store.StateRejected)
	b.ID = "R0NOTIFYB"
	n.RequestChanged(ctx, b)
	if _, err := fake.WaitFor(ctx, "chat.update", 0, func(c bottest.Call) bool { return c.Form.Get("ts") == refB.TS }); err != nil {
		t.Fatalf("B's message was not updated while A waited: %v", err)
	}
	if msg, _ := fake.Message(refB.Channel, refB.TS); !strings.Contains(msg.Get("text"), "R0NOTIFYB") {
		t.Errorf("B's message was not updated while A waited: %v", msg)
	}
	close(release)
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if msg, _ := fake.Message(refA.Channel, refA.TS); !strings.Contains(msg.Get("text"), "R0NOTIFY") {
		t.Errorf("A's message after its retry: %v", msg)
	}
}
