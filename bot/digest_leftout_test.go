package bot

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/ecs/ecssim"
	"github.com/renewbot/renewbot/store"
)

// TestDigestReportSaysWhatWasLeftOut: without RENEWBOT_DIGEST_CHANNEL, untagged instances
// are in no digest; the report counts them and the snoozed ones, and names the tag
// (issue 11 #8).
func TestDigestReportSaysWhatWasLeftOut(t *testing.T) {
	fleet := ecssim.Fleet{Balance: 1, Instances: []ecssim.FleetInstance{
		simInstance("i-tagged00001", "cn-hangzhou", 3, ecs.Normal, map[string]string{"renewbot-channel": taggedCh}),
		simInstance("i-untagged001", "cn-hangzhou", 4, ecs.Normal, nil),
		simInstance("i-untagged002", "cn-hangzhou", 5, ecs.Normal, nil),
		simInstance("i-snoozed0001", "cn-hangzhou", 6, ecs.Normal, nil),
	}}
	e := newDigestEnv(t, fleet, []string{"cn-hangzhou"})
	if err := e.db.Snooze(store.Snooze{InstanceID: "i-snoozed0001", Until: digestNow.Add(7 * 24 * time.Hour), By: "UALICE"}); err != nil {
		t.Fatal(err)
	}
	d := e.digester(t, func(c *DigestConfig) { c.DefaultChannel = "" })
	rep, err := d.Run(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Channels) != 1 || rep.Channels[0].Channel != taggedCh || rep.Channels[0].Instances != 1 {
		t.Errorf("channels %+v", rep.Channels)
	}
	if rep.Unrouted != 2 || rep.Snoozed != 1 || rep.RouteTag != "renewbot-channel" {
		t.Errorf("report: unrouted %d, snoozed %d, tag %q; want 2, 1, renewbot-channel", rep.Unrouted, rep.Snoozed, rep.RouteTag)
	}
}

// TestDigestRenewMenuFollowsThePolicy: with RENEWBOT_MAX_PERIOD=3 the digest's renew menu
// offers 1 and 3 months, not 6 and 12 that the click would then refuse (issue 9 item 8);
// the last option ("form") opens the request modal, whose period list follows the policy too.
func TestDigestRenewMenuFollowsThePolicy(t *testing.T) {
	fleet := ecssim.Fleet{Balance: 1, Instances: []ecssim.FleetInstance{simInstance("i-manual00001", "cn-hangzhou", 3, ecs.Normal, nil)}}
	e := newDigestEnv(t, fleet, []string{"cn-hangzhou"})
	for _, tc := range []struct {
		max  int
		want []string
	}{
		{0, []string{"1", "3", "6", "12", "form"}}, {12, []string{"1", "3", "6", "12", "form"}}, {9, []string{"1", "3", "6", "9", "form"}},
		{3, []string{"1", "3", "form"}}, {2, []string{"1", "2", "form"}}, {1, []string{"1", "form"}},
		{24, []string{"1", "3", "6", "12", "form"}}, // auto-renew goes to 60; renewals stop at 12
	} {
		d := e.digester(t, func(c *DigestConfig) { c.MaxPeriod = tc.max })
		plan, err := d.Plan(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, b := range plan.Channels[0].Pages[0].Blocks {
			s, ok := b.(*slack.SectionBlock)
			if !ok || s.Accessory == nil || s.Accessory.OverflowElement == nil {
				continue
			}
			for _, o := range s.Accessory.OverflowElement.Options {
				got = append(got, strings.TrimPrefix(o.Value, "i-manual00001:"))
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("max %d: menu offers %v months, want %v", tc.max, got, tc.want)
		}
	}
}
