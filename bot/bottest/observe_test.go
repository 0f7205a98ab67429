package bottest_test

import (
	"context"
	"testing"

	"github.com/slack-go/slack"
)

func TestFakeSlack_MessagesAndChanged(t *testing.T) {
	f, api := newClient(t)
	ctx := context.Background()
	changed := f.Changed()
	_, ts1, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("first", false))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	default:
		t.Fatal("Changed was not closed by a post")
	}
	_, ts2, err := api.PostMessageContext(ctx, "C2", slack.MsgOptionText("second", false), slack.MsgOptionTS(ts1))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := api.UpdateMessageContext(ctx, "C1", ts1, slack.MsgOptionText("first, edited", false)); err != nil {
		t.Fatal(err)
	}
	got := f.Messages()
	if len(got) != 2 {
		t.Fatalf("%d messages", len(got))
	}
	if got[0].Channel != "C1" || got[0].TS != ts1 || got[0].Form.Get("text") != "first, edited" || got[0].Edits != 1 || got[0].At.IsZero() {
		t.Errorf("first: %+v", got[0])
	}
	if got[1].Channel != "C2" || got[1].TS != ts2 || got[1].Form.Get("thread_ts") != ts1 || got[1].Edits != 0 {
		t.Errorf("second: %+v", got[1])
	}
	select {
	case <-f.Changed():
		t.Fatal("a fresh Changed channel is already closed")
	default:
	}
}
