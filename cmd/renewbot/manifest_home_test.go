package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
)

// The manifest subscribes to app_home_opened, turns the Home tab on and sets the options
// load URL of the instance picker: at fixed paths over HTTP, none with Socket Mode.
func TestSlackManifest_HomeEventsOptions(t *testing.T) {
	for _, tt := range []struct {
		args                []string
		wantEvents, wantOpt string
	}{
		{[]string{"slack-manifest", "--url", "https://bot.example.com/renewbot"}, "https://bot.example.com/renewbot/slack/events", "https://bot.example.com/renewbot/slack/options"},
		{[]string{"slack-manifest", "--socket"}, "", ""},
	} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), tt.args, getenvOf(nil), nil, &out, &errOut); code != 0 {
			t.Fatalf("%v: exit %d: %s", tt.args, code, errOut.String())
		}
		var m struct {
			Features struct {
				AppHome struct {
					Home     bool `json:"home_tab_enabled"`
					Messages bool `json:"messages_tab_enabled"`
					ReadOnly bool `json:"messages_tab_read_only_enabled"`
				} `json:"app_home"`
			} `json:"features"`
			Settings struct {
				Events struct {
					RequestURL string   `json:"request_url"`
					BotEvents  []string `json:"bot_events"`
				} `json:"event_subscriptions"`
				Interactivity struct {
					Options string `json:"message_menu_options_url"`
				} `json:"interactivity"`
			} `json:"settings"`
		}
		if err := json.Unmarshal(out.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		if h := m.Features.AppHome; !h.Home || !h.Messages || !h.ReadOnly {
			t.Errorf("%v: app_home %+v", tt.args, h)
		}
		ev := m.Settings.Events
		if len(ev.BotEvents) != 1 || ev.BotEvents[0] != "app_home_opened" || ev.RequestURL != tt.wantEvents {
			t.Errorf("%v: event_subscriptions %+v, want app_home_opened at %q", tt.args, ev, tt.wantEvents)
		}
		if got := m.Settings.Interactivity.Options; got != tt.wantOpt {
			t.Errorf("%v: options load URL %q, want %q", tt.args, got, tt.wantOpt)
		}
	}
}
