package bot

import (
	"testing"
	"time"

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
