package bot

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/renewbot/renewbot/bot/bottest"
	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/ecs/ecssim"
	"github.com/renewbot/renewbot/store"
	"github.com/slack-go/slack"
)

// digestNow is 09:00 in Shanghai, away from the 16:00Z expiry times.
var digestNow = time.Date(2026, 11, 25, 1, 0, 0, 0, time.UTC)

const (
	defaultCh = "C0DEFAULT"
	taggedCh  = "C0TAGGED"
)

func midnight8(days int) time.Time { // 00:00 UTC+8, `days` after digestNow's day
	return time.Date(2026, 11, 24, 16, 0, 0, 0, time.UTC).AddDate(0, 0, days)
}

func simInstance(id, region string, days int, status ecs.RenewalStatus, tags map[string]string) ecssim.FleetInstance {
	in := ecssim.FleetInstance{
		InstanceId: id, InstanceName: "name-" + id, RegionId: region, ZoneId: region + "-a", InstanceType: "ecs.g7.large",
		InstanceChargeType: "PrePaid", Status: "Running", ExpiredTime: midnight8(days), RenewalStatus: string(status),
		PeriodUnit: "Month", MonthlyPrice: 100, Tags: tags,
	}
	if status == ecs.AutoRenewal {
		in.Duration = 1
	}
	if days < 0 {
		in.Status = "Stopped"
	}
	return in
}

type digestEnv struct {
	sim    *ecssim.Server
	cloud  *ecs.Client
	dbPath string
	db     *store.DB
	slack  *bottest.FakeSlack
	api    *slack.Client
	reg    *prometheus.Registry
	m      *Metrics
}

func newDigestEnv(t *testing.T, fleet ecssim.Fleet, regions []string) *digestEnv {
	t.Helper()
	now := digestNow
	fleet.Now = &now
	sim := ecssim.NewServer(ecssim.Options{Fleet: fleet, Now: func() time.Time { return digestNow }})
	t.Cleanup(sim.Close)
	cloud, err := ecs.New(ecs.Config{Endpoint: sim.URL, AccessKeyID: "testid", AccessKeySecret: "testsecret", Regions: regions,
		Retry: ecs.RetryPolicy{Attempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	e := &digestEnv{sim: sim, cloud: cloud, dbPath: filepath.Join(t.TempDir(), "renewbot.db"), slack: bottest.NewFakeSlack()}
	t.Cleanup(e.slack.Close)
	e.reopen(t)
	t.Cleanup(func() { e.db.Close() })
	e.api = slack.New("xoxb-test", slack.OptionAPIURL(e.slack.APIURL()),
		slack.OptionHTTPClient(&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}))
	e.reg = prometheus.NewRegistry()
	e.m = NewMetrics(e.reg)
	return e
}

func (e *digestEnv) reopen(t *testing.T) {
	t.Helper()
	if e.db != nil {
		if err := e.db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	db, err := store.Open(e.dbPath, store.Options{Now: func() time.Time { return digestNow }})
	if err != nil {
		t.Fatal(err)
	}
	e.db = db
}

func (e *digestEnv) digester(t *testing.T, mod func(*DigestConfig)) *Digester {
	t.Helper()
	cfg := DigestConfig{Cloud: e.cloud, Store: e.db, Slack: e.api, Now: func() time.Time { return digestNow },
		Metrics: e.m, DefaultChannel: defaultCh, Pace: time.Millisecond}
	if mod != nil {
		mod(&cfg)
	}
	d, err := NewDigester(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// posted is one chat.postMessage as the fake received it.
type posted struct {
	channel, threadTS, text string
	blocks                  []slack.Block
	raw                     string
}

func postsOf(t *testing.T, f *bottest.FakeSlack) []posted {
	t.Helper()
	var out []posted
	for _, c := range f.CallsOf("chat.postMessage") {
		if c.Status != http.StatusOK {
			continue
		}
		var bs slack.Blocks
		if err := json.Unmarshal([]byte(c.Form.Get("blocks")), &bs); err != nil {
			t.Fatalf("blocks of a post: %v", err)
		}
		out = append(out, posted{channel: c.Form.Get("channel"), threadTS: c.Form.Get("thread_ts"), text: c.Form.Get("text"),
			blocks: bs.BlockSet, raw: c.Form.Get("blocks")})
	}
	return out
}

// uploads maps file name to the CSV rows the fake received.
func uploads(t *testing.T, f *bottest.FakeSlack) map[string][][]string {
	t.Helper()
	out := map[string][][]string{}
	for _, c := range f.CallsOf("upload") {
		rows, err := csv.NewReader(strings.NewReader(string(c.File))).ReadAll()
		if err != nil {
			t.Fatalf("CSV %s: %v", c.Form.Get("filename"), err)
		}
		out[c.Form.Get("filename")] = rows
	}
	return out
}

func TestDigestRunRoutesGroupsAndPostsOncePerDay(t *testing.T) {
	fleet := ecssim.Fleet{Balance: 1000, Currency: "CNY", Instances: []ecssim.FleetInstance{
		simInstance("i-expired0001", "cn-hangzhou", -2, ecs.Normal, nil),
		simInstance("i-soon000002", "cn-hangzhou", 2, ecs.NotRenewal, nil),
		simInstance("i-week000003", "cn-shanghai", 12, ecs.AutoRenewal, map[string]string{"renewbot-channel": taggedCh}),
		simInstance("i-month00004", "cn-shanghai", 20, ecs.AutoRenewal, nil),
		simInstance("i-snoozed005", "cn-hangzhou", 3, ecs.Normal, nil),
		simInstance("i-later000006", "cn-hangzhou", 90, ecs.Normal, nil),
		simInstance("i-badtag0007", "cn-hangzhou", 12, ecs.Normal, map[string]string{"renewbot-channel": "<!channel>"}),
	}}
	e := newDigestEnv(t, fleet, []string{"cn-hangzhou", "cn-shanghai"})
	if err := e.db.Snooze(store.Snooze{InstanceID: "i-snoozed005", Until: digestNow.Add(7 * 24 * time.Hour), By: "U0SNOOZER"}); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	d := e.digester(t, nil)

	plan, err := d.Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Day != "2026-11-25" || plan.Snoozed != 1 || len(plan.Failed) != 0 {
		t.Errorf("plan day %s snoozed %d failed %v", plan.Day, plan.Snoozed, plan.Failed)
	}
	ids := map[string][]string{}
	for _, c := range plan.Channels {
		for _, it := range c.Items {
			ids[c.Channel] = append(ids[c.Channel], fmt.Sprintf("%s/%d/%v", it.Instance.ID, it.Tier, it.NeedsDecision))
		}
	}
	want := map[string][]string{
		defaultCh: {"i-expired0001/0/true", "i-soon000002/0/true", "i-badtag0007/2/true", "i-month00004/3/false"},
		taggedCh:  {"i-week000003/2/false"},
	}
	if fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Errorf("routing and tiers:\n got %v\nwant %v", ids, want)
	}
	if js, err := plan.JSON(); err != nil || !json.Valid(js) || !strings.Contains(string(js), `"channel": "C0TAGGED"`) {
		t.Errorf("plan JSON: %v\n%.500s", err, js)
	}

	rep, err := d.Run(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Channels) != 2 || rep.Channels[0].Skipped || rep.Channels[0].TS == "" || rep.Channels[0].File == "" {
		t.Fatalf("report %+v", rep)
	}
	posts := postsOf(t, e.slack)
	// Per channel: a summary, then one thread page.
	if len(posts) != 4 {
		t.Fatalf("%d posts, want 4", len(posts))
	}
	for i, p := range posts {
		if err := CheckLimits(p.text, p.blocks); err != nil {
			t.Errorf("post %d breaks limits: %v", i, err)
		}
	}
	sum, page := posts[0], posts[1]
	if sum.channel != defaultCh || sum.threadTS != "" || page.threadTS != rep.Channels[0].TS || page.channel != defaultCh {
		t.Errorf("summary/thread: %+v / %+v", sum, page)
	}
	for _, w := range []string{"4 subscription instances", "3 need a decision", "NotRenewal"} {
		if !strings.Contains(sum.raw, w) {
			t.Errorf("summary lacks %q: %s", w, sum.raw)
		}
	}
	for _, w := range []string{"i-expired0001", "released about 2026-12-08", "RELEASED", `"action_id":"digest_renew"`, `"value":"i-soon000002:3"`,
		`"action_id":"digest_snooze"`, `"value":"i-month00004:7"`, "deduction 2026-12-06 08:00 UTC+8"} {
		if !strings.Contains(page.raw, w) && !strings.Contains(sum.raw, w) {
			t.Errorf("default channel page lacks %q:\n%s", w, page.raw)
		}
	}
	if strings.Contains(page.raw, "i-snoozed005") || strings.Contains(page.raw, "i-later000006") || strings.Contains(page.raw, "i-week000003") {
		t.Errorf("page has a snoozed, out-of-window or other channel's instance:\n%s", page.raw)
	}
	// The renew menu is only on rows that need a decision.
	if strings.Contains(page.raw, `"value":"i-month00004:3"`) {
		t.Error("an auto-renewing instance before its deduction date got a renew menu")
	}
	if posts[2].channel != taggedCh || posts[3].threadTS != rep.Channels[1].TS || !strings.Contains(posts[3].raw, "i-week000003") {
		t.Errorf("tagged channel posts: %+v", posts[2:])
	}
	csvs := uploads(t, e.slack)
	rows := csvs["renewbot-digest-2026-11-25-"+defaultCh+".csv"]
	if len(rows) != 5 || rows[0][0] != "instance_id" || rows[1][0] != "i-expired0001" {
		t.Errorf("default channel CSV: %v", rows)
	}
	complete := e.slack.CallsOf("files.completeUploadExternal")
	if len(complete) != 2 || complete[0].Form.Get("thread_ts") != rep.Channels[0].TS || complete[0].Form.Get("channel_id") != defaultCh {
		t.Errorf("CSV not shared in the thread: %+v", complete)
	}
	if got := testutil.ToFloat64(e.m.digestSize.WithLabelValues(defaultCh)); got != 4 {
		t.Errorf("digest size metric %v", got)
	}

	// Once per day, also after a restart.
	rep, err = d.Run(ctx, false)
	if err != nil || !rep.Channels[0].Skipped || !rep.Channels[1].Skipped {
		t.Fatalf("second run: %+v %v", rep, err)
	}
	e.reopen(t)
	d = e.digester(t, nil)
	if rep, err = d.Run(ctx, false); err != nil || !rep.Channels[0].Skipped {
		t.Fatalf("run after reopen: %+v %v", rep, err)
	}
	if n := len(postsOf(t, e.slack)); n != 4 {
		t.Fatalf("%d posts after repeated runs, want still 4", n)
	}
	hist, err := e.db.History(store.HistoryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	digests := 0
	for _, ev := range hist {
		if ev.Action == store.ActDigest {
			digests++
		}
	}
	if digests != 2 {
		t.Errorf("%d digest audit events, want 2", digests)
	}

	// force reposts.
	if rep, err = d.Run(ctx, true); err != nil || rep.Channels[0].Skipped {
		t.Fatalf("forced run: %+v %v", rep, err)
	}
	if n := len(postsOf(t, e.slack)); n != 8 {
		t.Errorf("%d posts after a forced run, want 8", n)
	}
}

func TestDigestFailedRegionIsShown(t *testing.T) {
	fleet := ecssim.Fleet{Balance: 1000, Instances: []ecssim.FleetInstance{simInstance("i-soon000001", "cn-hangzhou", 2, ecs.Normal, nil)}}
	e := newDigestEnv(t, fleet, []string{"cn-hangzhou", "cn-nowhere"})
	d := e.digester(t, nil)
	rep, err := d.Run(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Failed) != 1 || rep.Failed[0].RegionID != "cn-nowhere" {
		t.Fatalf("failed regions %+v", rep.Failed)
	}
	posts := postsOf(t, e.slack)
	if len(posts) == 0 || !strings.Contains(posts[0].raw, "Could not read 1 region") || !strings.Contains(posts[0].raw, "cn-nowhere") {
		t.Errorf("summary does not show the failed region: %+v", posts)
	}
	if testutil.ToFloat64(e.m.lastScan) != 0 {
		t.Error("an incomplete scan counted as a success")
	}
}

func TestDigestNoRegionReadable(t *testing.T) {
	fleet := ecssim.Fleet{Balance: 1, Instances: []ecssim.FleetInstance{simInstance("i-soon000001", "cn-hangzhou", 2, ecs.Normal, nil)}}
	e := newDigestEnv(t, fleet, []string{"cn-nowhere", "cn-nowhere-2"})
	d := e.digester(t, nil)
	for run := 1; run <= 2; run++ {
		rep, err := d.Run(t.Context(), false)
		if err == nil || !strings.Contains(err.Error(), "no region could be scanned") || len(rep.Failed) != 2 {
			t.Fatalf("run %d: %+v %v", run, rep, err)
		}
		posts := postsOf(t, e.slack)
		if len(posts) != run || !strings.Contains(posts[run-1].raw, "No region could be read") || !strings.Contains(posts[run-1].raw, "cn-nowhere-2") {
			t.Fatalf("run %d: the outage is not in the channel: %+v", run, posts)
		}
	}
	if plan, err := d.Plan(t.Context()); err != nil || plan.ScanError == nil {
		t.Errorf("plan: %v", err)
	} else if js, _ := plan.JSON(); !strings.Contains(string(js), `"scan_error"`) {
		t.Errorf("dry-run JSON hides the scan error: %s", js)
	}
}

func TestDigestEmptyDefaultChannel(t *testing.T) {
	later := ecssim.Fleet{Balance: 1, Instances: []ecssim.FleetInstance{simInstance("i-later000001", "cn-hangzhou", 90, ecs.Normal, nil)}}
	e := newDigestEnv(t, later, []string{"cn-hangzhou"})
	d := e.digester(t, nil)
	rep, err := d.Run(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	posts := postsOf(t, e.slack)
	if len(rep.Channels) != 1 || len(posts) != 1 || !strings.Contains(posts[0].raw, "Nothing expires within 30 days") {
		t.Errorf("empty digest: %+v %+v", rep, posts)
	}
	if len(e.slack.CallsOf("upload")) != 0 {
		t.Error("empty digest uploaded a CSV")
	}
	if testutil.ToFloat64(e.m.lastScan) != float64(digestNow.Unix()) {
		t.Error("complete scan not recorded")
	}
}

func TestDigestLongListPagesAndCSV(t *testing.T) {
	fleet := ecssim.Generate(1500, nil, 7, digestNow)
	e := newDigestEnv(t, fleet, nil)
	d := e.digester(t, func(c *DigestConfig) { c.MaxPages = 100 })
	rep, err := d.Run(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	posts := postsOf(t, e.slack)
	csvs := uploads(t, e.slack)
	total := 0
	for _, cr := range rep.Channels {
		var threadPosts []posted
		for _, p := range posts {
			if p.channel == cr.Channel && p.threadTS == cr.TS {
				threadPosts = append(threadPosts, p)
			}
		}
		if cr.Pages < 2 || len(threadPosts) != cr.Pages {
			t.Errorf("%s: %d pages, %d thread posts", cr.Channel, cr.Pages, len(threadPosts))
		}
		// Every instance is on a page exactly once, and in the CSV.
		seen := map[string]int{}
		for _, p := range threadPosts {
			for _, b := range p.blocks {
				if a, ok := b.(*slack.ActionBlock); ok {
					for _, el := range a.Elements.ElementSet {
						if s, ok := el.(*slack.SelectBlockElement); ok && s.ActionID == ActionDigestSnooze {
							for _, o := range s.Options {
								seen[strings.TrimSuffix(o.Value, ":7")]++
							}
						}
					}
				}
			}
		}
		rows := csvs[fmt.Sprintf("renewbot-digest-2026-11-25-%s.csv", cr.Channel)]
		if len(rows)-1 != cr.Instances || len(seen) != cr.Instances {
			t.Errorf("%s: %d instances, %d CSV rows, %d on pages", cr.Channel, cr.Instances, len(rows)-1, len(seen))
		}
		for _, r := range rows[1:] {
			if seen[r[0]] != 1 {
				t.Errorf("%s: %s is on %d pages", cr.Channel, r[0], seen[r[0]])
			}
		}
		total += cr.Instances
	}
	for i, p := range posts {
		if err := CheckLimits(p.text, p.blocks); err != nil {
			t.Errorf("post %d breaks limits: %v", i, err)
		}
	}
	// Every PrePaid instance from 15 days ago to 30 days ahead is in exactly one channel.
	want := 0
	for _, in := range fleet.Instances {
		if in.InstanceChargeType == "PrePaid" && !in.ExpiredTime.Before(digestNow.Add(-ecs.ReleaseGrace)) && in.ExpiredTime.Before(digestNow.Add(30*24*time.Hour)) {
			want++
		}
	}
	if total != want || len(rep.Channels) != 3 {
		t.Errorf("%d instances in %d channels, want %d in 3", total, len(rep.Channels), want)
	}
}

func TestDigestMaxPagesLeavesTheRestToTheCSV(t *testing.T) {
	// manyInstances expire up to 34 days ahead: a 35-day window keeps every one a digest row.
	d, err := NewDigester(DigestConfig{Cloud: (*ecs.Client)(nil), Store: (*store.DB)(nil), DefaultChannel: defaultCh, MaxPages: 2, Location: ecs.UTC8,
		Window: 35 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	plan := d.build(ecs.Scan{Instances: manyInstances(600, digestNow)}, nil, digestNow)
	c := plan.Channels[0]
	if len(c.Pages) != 2 || c.Omitted == 0 || strings.Count(string(c.CSV), "\n") != 601 {
		t.Fatalf("pages %d omitted %d", len(c.Pages), c.Omitted)
	}
	if !strings.Contains(allText(t, c.Summary.Text, c.Summary.Blocks), fmt.Sprintf("%d more are only in the CSV", c.Omitted)) {
		t.Error("summary does not say that some instances are only in the CSV")
	}
}

// recordingSlack passes calls through to the real client and notes when (in the bubble's
// virtual time) each one was sent.
type recordingSlack struct {
	SlackAPI
	mu sync.Mutex
	at []time.Time
}

func (r *recordingSlack) PostMessageContext(ctx context.Context, ch string, opts ...slack.MsgOption) (string, string, error) {
	r.mu.Lock()
	r.at = append(r.at, time.Now())
	r.mu.Unlock()
	return r.SlackAPI.PostMessageContext(ctx, ch, opts...)
}

func TestDigestPacingAndRetryAfter(t *testing.T) {
	e := newDigestEnv(t, ecssim.Fleet{Balance: 1}, []string{"cn-hangzhou"})
	synctest.Test(t, func(t *testing.T) {
		rec := &recordingSlack{SlackAPI: slack.New("xoxb-test", slack.OptionAPIURL(e.slack.APIURL()),
			slack.OptionHTTPClient(&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}))}
		d := e.digester(t, func(c *DigestConfig) { c.Slack, c.Pace, c.MaxPages = rec, time.Second, 100 })
		plan := d.build(ecs.Scan{Instances: manyInstances(200, digestNow)}, nil, digestNow)
		pages := len(plan.Channels[0].Pages)
		e.slack.FailNext("chat.postMessage", http.StatusTooManyRequests, 3)
		start := time.Now()
		rep, err := d.post(t.Context(), plan, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(rec.at) != pages+2 { // the summary twice (429, then success), then every page
			t.Fatalf("%d posts for %d pages", len(rec.at), pages)
		}
		if gap := rec.at[1].Sub(rec.at[0]); gap < 3*time.Second {
			t.Errorf("retried after %s, Retry-After was 3s", gap)
		}
		for i := 2; i < len(rec.at); i++ {
			if gap := rec.at[i].Sub(rec.at[i-1]); gap < time.Second {
				t.Errorf("posts %d and %d only %s apart", i-1, i, gap)
			}
		}
		// The CSV upload is paced too.
		if took := time.Since(start); took < time.Duration(pages+3)*time.Second {
			t.Errorf("digest of %d pages took %s", pages, took)
		}
		if rep.Channels[0].TS == "" || testutil.ToFloat64(e.m.slackRateLimited.WithLabelValues("chat.postMessage")) != 1 {
			t.Errorf("report %+v, rate-limit metric %v", rep, testutil.ToFloat64(e.m.slackRateLimited.WithLabelValues("chat.postMessage")))
		}
	})
	if n := len(postsOf(t, e.slack)); n != len(e.slack.CallsOf("chat.postMessage"))-1 {
		t.Errorf("%d posts received", n)
	}
}

func TestDigestSlackErrorLeavesTheDayOpen(t *testing.T) {
	e := newDigestEnv(t, ecssim.Fleet{Balance: 1, Instances: []ecssim.FleetInstance{simInstance("i-soon000001", "cn-hangzhou", 2, ecs.Normal, nil)}},
		[]string{"cn-hangzhou"})
	d := e.digester(t, nil)
	e.slack.ErrorNext("chat.postMessage", "channel_not_found")
	rep, err := d.Run(t.Context(), false)
	if err == nil || !strings.Contains(err.Error(), "channel_not_found") || rep.Channels[0].Err == nil {
		t.Fatalf("run: %+v %v", rep, err)
	}
	rep, err = d.Run(t.Context(), false)
	if err != nil || rep.Channels[0].Skipped || rep.Channels[0].TS == "" {
		t.Fatalf("the next run did not post: %+v %v", rep, err)
	}
}

// digestEvents returns the ActDigest audit events.
func digestEvents(t *testing.T, db *store.DB) []store.Event {
	t.Helper()
	hist, err := db.History(store.HistoryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var out []store.Event
	for _, ev := range hist {
		if ev.Action == store.ActDigest {
			out = append(out, ev)
		}
	}
	return out
}

// okCalls counts the calls of method that the fake answered with HTTP 200.
func okCalls(f *bottest.FakeSlack, method string) []bottest.Call {
	var out []bottest.Call
	for _, c := range f.CallsOf(method) {
		if c.Status == http.StatusOK {
			out = append(out, c)
		}
	}
	return out
}

func TestDigestCSVFailureResumesWithTheCSVOnly(t *testing.T) {
	e := newDigestEnv(t, ecssim.Fleet{Balance: 1, Instances: []ecssim.FleetInstance{
		simInstance("i-soon000001", "cn-hangzhou", 2, ecs.Normal, nil),
		simInstance("i-week000002", "cn-hangzhou", 6, ecs.NotRenewal, nil),
	}}, []string{"cn-hangzhou"})
	ctx := t.Context()
	e.slack.FailNext("files.completeUploadExternal", http.StatusInternalServerError, 0)
	rep, err := e.digester(t, nil).Run(ctx, false)
	if err == nil || !strings.Contains(err.Error(), "CSV upload") || rep.Channels[0].TS == "" {
		t.Fatalf("first run: %+v %v", rep, err)
	}
	ts := rep.Channels[0].TS
	if n := len(postsOf(t, e.slack)); n != 2 {
		t.Fatalf("%d posts before the CSV, want the summary and one page", n)
	}
	if evs := digestEvents(t, e.db); len(evs) != 0 {
		t.Fatalf("day recorded as done after a failed CSV upload: %+v", evs)
	}

	// A restart, then the next run: only the CSV, in the first run's thread.
	e.reopen(t)
	var logs bytes.Buffer
	rep, err = e.digester(t, func(c *DigestConfig) { c.Log = slog.New(slog.NewTextHandler(&logs, nil)) }).Run(ctx, false)
	if err != nil || rep.Channels[0].Skipped || rep.Channels[0].TS != ts || rep.Channels[0].File == "" {
		t.Fatalf("second run: %+v %v", rep, err)
	}
	if !strings.Contains(logs.String(), `msg="digest resumed" component=digest channel=`+defaultCh+" day=2026-11-25 summary_ts="+ts+" pages_posted=1 csv_posted=false") {
		t.Errorf("resume not logged:\n%s", logs.String())
	}
	if n := len(postsOf(t, e.slack)); n != 2 {
		t.Errorf("%d posts after the resumed run, want still 2 (no summary or page again)", n)
	}
	complete := okCalls(e.slack, "files.completeUploadExternal")
	if len(complete) != 1 || complete[0].Form.Get("thread_ts") != ts || complete[0].Form.Get("channel_id") != defaultCh {
		t.Errorf("CSV not shared once in the first thread: %+v", complete)
	}
	if rows := uploads(t, e.slack)["renewbot-digest-2026-11-25-"+defaultCh+".csv"]; len(rows) != 3 {
		t.Errorf("CSV rows %v", rows)
	}
	if evs := digestEvents(t, e.db); len(evs) != 1 || !strings.Contains(evs[0].Detail, ts) {
		t.Errorf("digest audit events %+v, want one with ts %s", evs, ts)
	}
	if rep, err = e.digester(t, nil).Run(ctx, false); err != nil || !rep.Channels[0].Skipped {
		t.Errorf("third run: %+v %v", rep, err)
	}
}

// failingPost passes calls through to the real client and makes the fake fail the nth
// chat.postMessage (counting from 1) with HTTP 500.
type failingPost struct {
	SlackAPI
	fake  *bottest.FakeSlack
	n     int
	posts int
}

func (f *failingPost) PostMessageContext(ctx context.Context, ch string, opts ...slack.MsgOption) (string, string, error) {
	f.posts++
	if f.posts == f.n {
		f.fake.FailNext("chat.postMessage", http.StatusInternalServerError, 0)
	}
	return f.SlackAPI.PostMessageContext(ctx, ch, opts...)
}

func TestDigestPageFailureResumesFromThatPage(t *testing.T) {
	var fleet ecssim.Fleet
	for i := range 160 {
		fleet.Instances = append(fleet.Instances, simInstance(fmt.Sprintf("i-page%07d", i), "cn-hangzhou", i%30, ecs.NotRenewal, nil))
	}
	e := newDigestEnv(t, fleet, []string{"cn-hangzhou"})
	ctx := t.Context()
	fail := &failingPost{SlackAPI: e.api, fake: e.slack, n: 3} // the summary, page 1, then page 2 fails
	rep, err := e.digester(t, func(c *DigestConfig) { c.Slack = fail }).Run(ctx, false)
	pages := rep.Channels[0].Pages
	if pages < 3 {
		t.Fatalf("%d pages; the test needs at least 3", pages)
	}
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("page 2 of %d", pages)) {
		t.Fatalf("first run: %+v %v", rep, err)
	}
	ts := rep.Channels[0].TS
	first := postsOf(t, e.slack)
	if len(first) != 2 || first[0].threadTS != "" || first[1].threadTS != ts || len(e.slack.CallsOf("files.getUploadURLExternal")) != 0 {
		t.Fatalf("first run posted %+v", first)
	}

	e.reopen(t)
	rep, err = e.digester(t, nil).Run(ctx, false)
	if err != nil || rep.Channels[0].TS != ts {
		t.Fatalf("second run: %+v %v", rep, err)
	}
	posts := postsOf(t, e.slack)
	if len(posts) != 2+pages-1 {
		t.Fatalf("%d posts in all, want %d (the summary and page 1 once, then pages 2..%d)", len(posts), pages+1, pages)
	}
	for i, p := range posts[2:] {
		want := fmt.Sprintf("page %d of %d", i+2, pages)
		if p.channel != defaultCh || p.threadTS != ts || !strings.Contains(p.text, want) {
			t.Errorf("resumed post %d: channel %s thread %q text %q; want %q in thread %s", i, p.channel, p.threadTS, p.text, want, ts)
		}
	}
	if complete := okCalls(e.slack, "files.completeUploadExternal"); len(complete) != 1 || complete[0].Form.Get("thread_ts") != ts {
		t.Errorf("CSV shares %+v", complete)
	}
	if evs := digestEvents(t, e.db); len(evs) != 1 || !strings.Contains(evs[0].Detail, ts) || !strings.Contains(evs[0].Detail, "160 instance") {
		t.Errorf("digest audit events %+v", evs)
	}
}

// A resumed digest whose plan now has fewer pages than were posted goes on with the CSV.
func TestDigestResumeWithFewerPagesGoesToTheCSV(t *testing.T) {
	e := newDigestEnv(t, ecssim.Fleet{Balance: 1, Instances: []ecssim.FleetInstance{simInstance("i-soon000001", "cn-hangzhou", 2, ecs.Normal, nil)}},
		[]string{"cn-hangzhou"})
	const ts = "1700000000.000100"
	if _, _, err := e.db.BeginDigest(defaultCh, "2026-11-25", false); err != nil {
		t.Fatal(err)
	}
	if err := e.db.DigestStep(defaultCh, "2026-11-25", store.DigestProgress{TS: ts, Pages: 3}); err != nil {
		t.Fatal(err)
	}
	rep, err := e.digester(t, nil).Run(t.Context(), false)
	if err != nil || rep.Channels[0].TS != ts || rep.Channels[0].File == "" {
		t.Fatalf("run: %+v %v", rep, err)
	}
	if n := len(postsOf(t, e.slack)); n != 0 {
		t.Errorf("%d posts, want none", n)
	}
	if complete := okCalls(e.slack, "files.completeUploadExternal"); len(complete) != 1 || complete[0].Form.Get("thread_ts") != ts {
		t.Errorf("CSV shares %+v", complete)
	}
}

func TestDigestSchedule(t *testing.T) {
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	synctest.Test(t, func(t *testing.T) {
		d, err := NewDigester(DigestConfig{Cloud: (*ecs.Client)(nil), Store: (*store.DB)(nil), Location: shanghai})
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var fired []time.Time
		d.run = func(ctx context.Context, force bool) (DigestReport, error) {
			mu.Lock()
			defer mu.Unlock()
			fired = append(fired, time.Now().In(shanghai))
			if len(fired) <= 3 { // the first day's run and two retries fail; the schedule goes on
				return DigestReport{}, errors.New("ECS unreachable")
			}
			return DigestReport{}, nil
		}
		count := func() int { mu.Lock(); defer mu.Unlock(); return len(fired) }
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		// The bubble starts at 2000-01-01 00:00 UTC, 08:00 in Shanghai.
		go func() { done <- d.Schedule(ctx, "0 9 * * *") }()
		time.Sleep(time.Hour - time.Second)
		synctest.Wait()
		if count() != 0 {
			t.Fatalf("fired early: %v", fired)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		time.Sleep(48 * time.Hour)
		synctest.Wait()
		mu.Lock()
		got := slices.Clone(fired)
		mu.Unlock()
		want := []string{"2000-01-01 09:00:00", "2000-01-01 09:05:00", "2000-01-01 09:15:00", "2000-01-01 09:35:00",
			"2000-01-02 09:00:00", "2000-01-03 09:00:00"}
		var gotS []string
		for _, f := range got {
			gotS = append(gotS, f.Format("2006-01-02 15:04:05"))
		}
		if !slices.Equal(gotS, want) {
			t.Errorf("fired at %v, want %v", gotS, want)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Schedule after cancel: %v", err)
		}
	})
	// A run that keeps failing is retried with backoff up to hourly, never past the next scheduled run.
	synctest.Test(t, func(t *testing.T) {
		d, err := NewDigester(DigestConfig{Cloud: (*ecs.Client)(nil), Store: (*store.DB)(nil), Location: shanghai})
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var fired []string
		d.run = func(ctx context.Context, force bool) (DigestReport, error) {
			mu.Lock()
			defer mu.Unlock()
			fired = append(fired, time.Now().In(shanghai).Format("15:04"))
			return DigestReport{}, errors.New("ECS unreachable")
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- d.Schedule(ctx, "0 9,12 * * *") }() // twice a day: retries stop at 12:00
		time.Sleep(4*time.Hour + 30*time.Minute)                // to 12:30 in Shanghai
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Schedule after cancel: %v", err)
		}
		mu.Lock()
		defer mu.Unlock()
		want := []string{"09:00", "09:05", "09:15", "09:35", "10:15", "11:15", "12:00", "12:05", "12:15"}
		if !slices.Equal(fired, want) {
			t.Errorf("failing digest ran at %v, want %v", fired, want)
		}
	})
	d, err := NewDigester(DigestConfig{Cloud: (*ecs.Client)(nil), Store: (*store.DB)(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Schedule(t.Context(), "0 25 * * *"); err == nil || !strings.Contains(err.Error(), `"0 25 * * *"`) {
		t.Errorf("bad spec: %v", err)
	}
}

func TestNewDigesterChecksConfig(t *testing.T) {
	ok := DigestConfig{Cloud: (*ecs.Client)(nil), Store: (*store.DB)(nil)}
	for name, mod := range map[string]func(*DigestConfig){
		"no cloud":    func(c *DigestConfig) { c.Cloud = nil },
		"bad channel": func(c *DigestConfig) { c.DefaultChannel = "#general" },
		"tiers":       func(c *DigestConfig) { c.Tiers = []int{7, 3} },
		"window":      func(c *DigestConfig) { c.Window = 400 * 24 * time.Hour },
	} {
		cfg := ok
		mod(&cfg)
		if _, err := NewDigester(cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	d, err := NewDigester(DigestConfig{Cloud: (*ecs.Client)(nil), Store: (*store.DB)(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Run(t.Context(), false); err == nil {
		t.Error("Run without a Slack client")
	}
}

func TestDigestPageGolden(t *testing.T) {
	d, err := NewDigester(DigestConfig{Cloud: (*ecs.Client)(nil), Store: (*store.DB)(nil), DefaultChannel: defaultCh, Location: ecs.UTC8})
	if err != nil {
		t.Fatal(err)
	}
	insts := []ecs.Instance{
		{ID: "i-bp1expired01", Name: "api-1", RegionID: "cn-hangzhou", Type: "ecs.g7.large", ChargeType: "PrePaid", Status: "Stopped",
			ExpiredTime: midnight8(-3), LockReasons: []string{"financial"}, AutoRenew: ecs.AutoRenew{Status: ecs.Normal}},
		{ID: "i-bp1release02", Name: "batch-2", RegionID: "cn-shanghai", Type: "ecs.c7.2xlarge", ChargeType: "PrePaid", Status: "Running",
			ExpiredTime: midnight8(2), AutoRenew: ecs.AutoRenew{Status: ecs.NotRenewal}},
		{ID: "i-bp1autook003", Name: "db-3", RegionID: "cn-beijing", Type: "ecs.r7.large", ChargeType: "PrePaid", Status: "Running",
			ExpiredTime: midnight8(12), AutoRenew: ecs.AutoRenew{Status: ecs.AutoRenewal, Duration: 1, PeriodUnit: "Month"}},
		{ID: "i-bp1autolate4", Name: "cache-4", RegionID: "cn-beijing", Type: "ecs.r7.large", ChargeType: "PrePaid", Status: "Running",
			ExpiredTime: midnight8(5), AutoRenew: ecs.AutoRenew{Status: ecs.AutoRenewal, Duration: 3, PeriodUnit: "Month"}},
		{ID: "i-bp1manual005", Name: "web-5 <b>", RegionID: "cn-hangzhou", Type: "ecs.g7.xlarge", ChargeType: "PrePaid", Status: "Running",
			ExpiredTime: midnight8(25), AutoRenew: ecs.AutoRenew{Status: ecs.Normal}},
	}
	plan := d.build(ecs.Scan{Instances: insts, Failed: []ecs.RegionError{{RegionID: "ap-southeast-1", Err: errors.New("throttled after 5 attempts")}}}, nil, digestNow)
	c := plan.Channels[0]
	if len(c.Pages) != 1 {
		t.Fatalf("%d pages", len(c.Pages))
	}
	for _, m := range append([]DigestMessage{c.Summary}, c.Pages...) {
		mustFit(t, "digest", m.Text, m.Blocks)
	}
	golden(t, "digest_summary.json", messageJSON(t, c.Summary.Text, c.Summary.Blocks))
	golden(t, "digest_page.json", messageJSON(t, c.Pages[0].Text, c.Pages[0].Blocks))
	golden(t, "digest.csv", c.CSV)
}
