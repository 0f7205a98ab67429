package bottest_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/renewbot/renewbot/bot/bottest"
	"github.com/slack-go/slack"
)

func modal(blocks ...slack.Block) slack.ModalViewRequest {
	return slack.ModalViewRequest{Type: slack.VTModal, Title: slack.NewTextBlockObject("plain_text", "Test", false, false),
		Blocks: slack.Blocks{BlockSet: blocks}}
}

func slackErr(err error) string {
	var e slack.SlackErrorResponse
	if errors.As(err, &e) {
		return e.Err
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

// The fake answers views.* as Slack documents: a trigger_id once and within 3 seconds,
// views up to 250 KB and 100 blocks, updates by view ID and hash.
func TestFakeSlack_Views(t *testing.T) {
	f := bottest.NewFakeSlack()
	defer f.Close()
	api := slack.New("xoxb-test", slack.OptionAPIURL(f.APIURL()))
	ctx := context.Background()
	text := slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", "hello", false, false), nil, nil)

	trig := f.Trigger("U1")
	res, err := api.OpenViewContext(ctx, trig, modal(text))
	if err != nil || res.View.ID == "" || res.View.Hash == "" {
		t.Fatalf("views.open: %+v, %v", res, err)
	}
	if _, err := api.OpenViewContext(ctx, trig, modal(text)); slackErr(err) != "exchanged_trigger_id" {
		t.Errorf("a trigger used twice: %v, want exchanged_trigger_id", err)
	}
	late := f.Trigger("U1")
	f.ExpireTrigger(late)
	if _, err := api.OpenViewContext(ctx, late, modal(text)); slackErr(err) != "expired_trigger_id" {
		t.Errorf("an expired trigger: %v, want expired_trigger_id", err)
	}
	big := slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", strings.Repeat("x", 3000), false, false), nil, nil)
	var blocks []slack.Block
	for range 90 {
		blocks = append(blocks, big)
	}
	if _, err := api.OpenViewContext(ctx, f.Trigger("U1"), modal(blocks...)); slackErr(err) != "view_too_large" {
		t.Errorf("a 270 KB view: %v, want view_too_large", err)
	}
	var many []slack.Block
	for range 101 {
		many = append(many, text)
	}
	if _, err := api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: "U1",
		View: slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: many}}}); slackErr(err) != "invalid_arguments" {
		t.Errorf("101 blocks: %v, want invalid_arguments", err)
	}

	upd, err := api.UpdateViewContext(ctx, modal(text), "", res.View.Hash, res.View.ID)
	if err != nil || upd.View.Hash == res.View.Hash {
		t.Fatalf("views.update: %+v, %v", upd, err)
	}
	if _, err := api.UpdateViewContext(ctx, modal(text), "", res.View.Hash, res.View.ID); slackErr(err) != "hash_conflict" {
		t.Errorf("an update with a stale hash: %v, want hash_conflict", err)
	}
	if _, err := api.UpdateViewContext(ctx, modal(text), "", "", "V404"); slackErr(err) != "not_found" {
		t.Errorf("an update of no view: %v, want not_found", err)
	}

	home := slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: []slack.Block{text}}}
	if _, err := api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: "U2", View: home}); err != nil {
		t.Fatal(err)
	}
	if v, ok := f.HomeView("U2"); !ok || v["type"] != "home" {
		t.Errorf("home of U2: %v %v", v, ok)
	}
	f.ErrorNext("views.publish", "ratelimited")
	if _, err := api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: "U2", View: home}); slackErr(err) != "ratelimited" {
		t.Errorf("ErrorNext: %v", err)
	}

	ch, _, _, err := api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{"U2"}})
	if err != nil || ch.ID != "D2" {
		t.Errorf("conversations.open: %+v, %v", ch, err)
	}
}
