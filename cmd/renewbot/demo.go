package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/renewbot/renewbot/bot"
	"github.com/renewbot/renewbot/bot/bottest"
	"github.com/renewbot/renewbot/bot/playground"
	"github.com/renewbot/renewbot/ecs/ecssim"
)

// The demo's cast: Alice asks for a renewal, Bob approves it as a member of the ops user group.
const (
	demoSecret   = "demo-signing-secret"
	demoAlice    = "U01ALICE"
	demoBob      = "U02BOB"
	demoGroup    = "S0OPS"
	demoChannel  = "C0RENEW"
	demoInstance = "i-bp1demoweb01"
	demoRegions  = "cn-hangzhou,cn-shanghai,ap-southeast-1"
)

// demoWait bounds every step of the demo, so a broken build fails instead of hanging.
const demoWait = 30 * time.Second

func newDemoSettings(keep, socket *bool, listen *string) *settings {
	return newSettings("demo", []setting{
		{flag: "socket", isBool: true, def: "false", usage: "run the bot in Socket Mode against the Slack stand-in's WebSocket (an app-level token, no signing secret)",
			parse: func(s string) (err error) { *socket, err = parseBool(s); return }},
		{flag: "keep", isBool: true, def: "false", usage: "leave the emulator and the bot running, serve the playground web page and print how to talk to them (Ctrl-C stops them)",
			parse: func(s string) (err error) { *keep, err = parseBool(s); return }},
		{flag: "playground-listen", def: "127.0.0.1:0", usage: "with --keep: address of the playground web page (port 0 picks a free port)",
			parse: func(s string) error { *listen = s; return nil }},
	})
}

// runDemo runs the main job on embedded defaults: an ecssim fleet, a local stand-in for Slack
// and a bbolt file in a temporary folder, all driven through the real code paths (renewbot
// serve in this process, signed requests into its HTTP handlers, the real SDK against ecssim).
func runDemo(ctx context.Context, e env, args []string) error {
	var keep, socket bool
	var listen string
	pos, err := newDemoSettings(&keep, &socket, &listen).parse(args, e.getenv)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{fmt.Errorf("takes no arguments, got %q", pos)}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var ln net.Listener
	if keep { // a bad --playground-listen fails before the demo runs
		if ln, err = listenPlayground(listen); err != nil {
			return err
		}
		defer ln.Close() // served, or not (the demo failed)
	}
	st, err := startDemoStack(ctx, e, socket)
	if err != nil {
		return err
	}
	defer st.close()
	sim, fake, base, dbPath, getenv := st.sim, st.fake, st.base, st.dbPath, st.getenv

	t := transcript{w: e.stdout}
	t.title("renewbot demo: no Slack workspace, no Alibaba account needed")
	t.line("ECS emulator (ecssim)  %s   %d instances in %s, balance ¥%.2f", sim.URL, st.instances, demoRegions, sim.Account().Balance)
	t.line("Slack stand-in         %s", fake.APIURL())
	t.line("bbolt store            %s", dbPath)
	if socket {
		t.line("renewbot serve         %s  (Socket Mode, connected to the stand-in's WebSocket; /healthz, /metrics)", base)
	} else {
		t.line("renewbot serve         %s  (HTTP mode: /slack/commands, /slack/interactions, /healthz, /metrics)", base)
	}
	tr := st.transport()

	step := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, demoWait) }

	// 1. The daily digest, posted now through the running bot's admin socket.
	t.title("1. Daily digest   $ renewbot digest --now")
	sctx, done := step()
	var digestOut strings.Builder
	if code := run(sctx, []string{"digest", "--now", "--force"}, getenv, strings.NewReader(""), &digestOut, &digestOut); code != 0 {
		done()
		return fmt.Errorf("renewbot digest --now exited %d: %s", code, digestOut.String())
	}
	done()
	for _, c := range fake.CallsOf("chat.postMessage") {
		if c.Form.Get("channel") == demoChannel {
			t.slack("#renewals", c.Form)
		}
	}
	if files := fake.CallsOf("files.completeUploadExternal"); len(files) > 0 {
		t.line("  (+ the whole list as a CSV file in the thread)")
	}

	// 2. Alice asks for a 3-month renewal.
	t.title(fmt.Sprintf("2. Alice types   /renew %s 3", demoInstance))
	posts := len(fake.CallsOf("chat.postMessage"))
	ack, err := demoCommand(ctx, tr, demoAlice, demoInstance+" 3", fake.ResponseURL())
	if err != nil {
		return err
	}
	t.line("  only Alice sees (%s in %s): %s", map[bool]string{false: "HTTP 200", true: "acked"}[socket], ack.took.Round(time.Millisecond), ack.text)
	sctx, done = step()
	post, err := fake.WaitFor(sctx, "chat.postMessage", posts, func(c bottest.Call) bool {
		return c.Form.Get("channel") == demoChannel && strings.Contains(c.Form.Get("blocks"), `"action_id":"approve"`)
	})
	done()
	if err != nil {
		return fmt.Errorf("no approval message was posted: %w", err)
	}
	t.slack("#renewals", post.Form)
	reqID, err := approvalRequestID(post.Form.Get("blocks"))
	if err != nil {
		return err
	}

	// 3. Alice tries to approve her own request.
	t.title("3. Alice clicks Approve on her own request")
	respURL := fake.ResponseURL()
	if err := demoClick(ctx, tr, demoAlice, bot.ActionApprove, reqID, respURL); err != nil {
		return err
	}
	sctx, done = step()
	refusal, err := fake.WaitFor(sctx, "response_url", 0, func(c bottest.Call) bool {
		return strings.HasSuffix(respURL, "/"+c.Form.Get("n"))
	})
	done()
	if err != nil {
		return fmt.Errorf("no answer to Alice's click: %w", err)
	}
	t.line("  only Alice sees: %s", responseText(refusal.JSON))

	// 4. Bob approves; the bot renews exactly once and verifies the new expiry.
	t.title("4. Bob (member of user group S0OPS) clicks Approve")
	updates := len(fake.CallsOf("chat.update"))
	if err := demoClick(ctx, tr, demoBob, bot.ActionApprove, reqID, fake.ResponseURL()); err != nil {
		return err
	}
	sctx, done = step()
	final, err := fake.WaitFor(sctx, "chat.update", updates, func(c bottest.Call) bool {
		return strings.Contains(c.Form.Get("blocks"), "verified new expiry")
	})
	done()
	if err != nil {
		return fmt.Errorf("the approval message never showed the verified renewal: %w", err)
	}
	t.line("  the approval message is updated in place (%d updates: approved, renewing, done):", len(fake.CallsOf("chat.update"))-updates)
	t.slack("#renewals", final.Form)

	// 5. What Alibaba (the emulator) recorded.
	t.title("5. At the ECS emulator")
	for _, o := range sim.Orders() {
		t.line("OrderId %s  %s  %d %s  ¥%.2f  ClientToken %s", o.OrderId, o.InstanceId, o.Period, o.PeriodUnit, o.Amount, o.ClientToken)
	}
	if inst, ok := sim.Instance(demoInstance); ok {
		t.line("%s now expires %s", demoInstance, inst.ExpiredTime.UTC().Format("2006-01-02 15:04 MST"))
	}
	t.line("balance ¥%.2f, %d order(s) in all", sim.Account().Balance, len(sim.Orders()))

	t.title(fmt.Sprintf("6. The audit trail   $ renewbot history %s", reqID))
	if code := run(ctx, []string{"history", string(reqID)}, getenv, strings.NewReader(""), e.stdout, e.stderr); code != 0 {
		return fmt.Errorf("renewbot history exited %d", code)
	}

	if keep {
		stop, err := st.servePlayground(ln, e.stdout)
		if err != nil {
			return err
		}
		demoKeep(e.stdout, sim.URL, base, dbPath, socket)
		<-ctx.Done()
		stop()
	}
	if err := st.stop(); err != nil {
		return err
	}
	t.title("Done: one order, verified, approved by someone other than the requester.")
	return nil
}

func demoKeep(w io.Writer, simURL, base, dbPath string, socket bool) {
	endpoint := strings.TrimPrefix(simURL, "http://")
	how := fmt.Sprintf("it signs them with the demo secret %q and posts them to %s/slack/commands and\n%s/slack/interactions, as Slack does", demoSecret, base, base)
	if socket {
		how = "the bot is in Socket Mode, so they travel as envelopes on the Slack stand-in's WebSocket"
	}
	fmt.Fprintf(w, `
The emulator and the bot keep running until Ctrl-C. Try, in another terminal:

  export RENEWBOT_ECS_ENDPOINT=%s RENEWBOT_REGIONS=%s
  export ALIBABA_CLOUD_ACCESS_KEY_ID=testid ALIBABA_CLOUD_ACCESS_KEY_SECRET=testsecret
  go run ./cmd/renewbot expiring --within 30d
  go run ./cmd/renewbot quote %s --period 1
  go run ./cmd/renewbot history --db %s
  curl -s %s/_sim/orders
  curl -s %s/metrics | grep renewbot_

Type slash commands and click buttons as Alice, Bob or Carol on the playground page above:
%s.
`, endpoint, demoRegions, demoInstance, dbPath, simURL, base, how)
}

// waitListening reads serve's stdout until its "renewbot listening on URL" line.
func waitListening(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "renewbot listening on "); ok {
			return strings.TrimSpace(u), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", errors.New("serve exited before listening")
}

type demoAck struct {
	text string
	took time.Duration
}

// demoCommand sends a slash command as Slack would (signed to /slack/commands, or as a
// Socket Mode envelope).
func demoCommand(ctx context.Context, tr playground.Transport, user, text, responseURL string) (demoAck, error) {
	form := url.Values{
		"command": {"/renew"}, "text": {text}, "user_id": {user}, "user_name": {strings.ToLower(user)},
		"channel_id": {demoChannel}, "channel_name": {"renewals"}, "team_id": {"T0DEMO"},
		"response_url": {responseURL}, "trigger_id": {"1.2.3"}, "api_app_id": {"A0DEMO"},
	}
	start := time.Now()
	status, body, err := tr.Command(ctx, form)
	if err != nil {
		return demoAck{}, fmt.Errorf("/renew %s: %w", text, err)
	}
	if status != http.StatusOK {
		return demoAck{}, fmt.Errorf("/renew %s: HTTP %d: %s", text, status, body)
	}
	return demoAck{text: responseText(body), took: time.Since(start)}, nil
}

// demoClick sends a block_actions click on the approval message as Slack would.
func demoClick(ctx context.Context, tr playground.Transport, user, actionID, reqID, responseURL string) error {
	payload, err := json.Marshal(map[string]any{
		"type":         "block_actions",
		"user":         map[string]string{"id": user, "name": strings.ToLower(user)},
		"team":         map[string]string{"id": "T0DEMO"},
		"channel":      map[string]string{"id": demoChannel, "name": "renewals"},
		"api_app_id":   "A0DEMO",
		"trigger_id":   "1.2.3",
		"response_url": responseURL,
		"container":    map[string]any{"type": "message", "channel_id": demoChannel, "message_ts": "0"},
		"actions": []map[string]string{{
			"type": "button", "action_id": actionID, "block_id": "demo", "value": reqID, "action_ts": "1",
		}},
	})
	if err != nil {
		return err
	}
	status, body, err := tr.Interaction(ctx, payload)
	if err != nil {
		return fmt.Errorf("click on %s: %w", actionID, err)
	}
	if status != http.StatusOK {
		return fmt.Errorf("click on %s: HTTP %d: %s", actionID, status, body)
	}
	return nil
}

// approvalRequestID finds the request ID in the Approve button of an approval message.
func approvalRequestID(blocksJSON string) (string, error) {
	var bs slack.Blocks
	if err := json.Unmarshal([]byte(blocksJSON), &bs); err != nil {
		return "", err
	}
	for _, b := range bs.BlockSet {
		ab, ok := b.(*slack.ActionBlock)
		if !ok || ab.Elements == nil {
			continue
		}
		for _, el := range ab.Elements.ElementSet {
			if btn, ok := el.(*slack.ButtonBlockElement); ok && btn.ActionID == bot.ActionApprove {
				return btn.Value, nil
			}
		}
	}
	return "", errors.New("the approval message has no Approve button")
}

// responseText is the text of a JSON Slack message (an ack or a response_url post).
func responseText(body []byte) string {
	var m struct {
		Text string `json:"text"`
	}
	if json.Unmarshal(body, &m) != nil || m.Text == "" {
		return strings.TrimSpace(string(body))
	}
	return m.Text
}

// transcript prints the demo for people.
type transcript struct{ w io.Writer }

func (t transcript) title(s string) { fmt.Fprintf(t.w, "\n== %s\n", s) }

func (t transcript) line(format string, args ...any) {
	fmt.Fprintf(t.w, format+"\n", args...)
}

// slack prints a posted message the way a Slack client shows it, roughly.
func (t transcript) slack(channel string, form url.Values) {
	var bs slack.Blocks
	if err := json.Unmarshal([]byte(form.Get("blocks")), &bs); err != nil || len(bs.BlockSet) == 0 {
		fmt.Fprintf(t.w, "  %s | %s\n", channel, form.Get("text"))
		return
	}
	prefix := "  " + channel + " | "
	if form.Get("thread_ts") != "" {
		prefix = "  " + channel + " (thread) | "
	}
	for _, line := range renderBlocks(bs.BlockSet) {
		fmt.Fprintf(t.w, "%s%s\n", prefix, line)
	}
}

// Slack's mrkdwn escapes, shown the way a Slack client renders them.
var (
	reSlackDate    = lazyRegexp(`<!date\^\d+\^[^|>]*\|([^>]*)>`)
	reSlackMention = lazyRegexp(`<([@#])(\w+)(?:\|[^>]*)?>`)
)

func plainMrkdwn(s string) string {
	s = reSlackDate().ReplaceAllString(s, "$1")
	s = reSlackMention().ReplaceAllString(s, "$1$2")
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(s)
}

// renderBlocks turns Block Kit blocks into plain lines.
func renderBlocks(blocks []slack.Block) []string {
	var out []string
	text := func(o *slack.TextBlockObject) {
		if o != nil {
			out = append(out, strings.Split(plainMrkdwn(o.Text), "\n")...)
		}
	}
	for _, b := range blocks {
		switch b := b.(type) {
		case *slack.HeaderBlock:
			if b.Text != nil {
				out = append(out, "*"+strings.ToUpper(b.Text.Text)+"*")
			}
		case *slack.SectionBlock:
			text(b.Text)
			for i := 0; i < len(b.Fields); i += 2 { // Slack shows fields in two columns
				row := []string{}
				for _, f := range b.Fields[i:min(i+2, len(b.Fields))] {
					row = append(row, fmt.Sprintf("%-34s", strings.ReplaceAll(plainMrkdwn(f.Text), "\n", " ")))
				}
				out = append(out, strings.TrimSpace(strings.Join(row, " ")))
			}
			if b.Accessory != nil && b.Accessory.OverflowElement != nil {
				out = append(out, "    [⋯ renew 1/3/6/12 months]")
			}
		case *slack.ContextBlock:
			var parts []string
			for _, el := range b.ContextElements.Elements {
				if o, ok := el.(*slack.TextBlockObject); ok {
					parts = append(parts, plainMrkdwn(o.Text))
				}
			}
			out = append(out, strings.Join(parts, "  "))
		case *slack.DividerBlock:
			out = append(out, "────────")
		case *slack.ActionBlock:
			var btns []string
			if b.Elements != nil {
				for _, el := range b.Elements.ElementSet {
					switch el := el.(type) {
					case *slack.ButtonBlockElement:
						btns = append(btns, "["+el.Text.Text+"]")
					case *slack.SelectBlockElement:
						if el.Placeholder != nil {
							btns = append(btns, "["+el.Placeholder.Text+" ▾]")
						}
					}
				}
			}
			out = append(out, strings.Join(btns, " "))
		}
	}
	return out
}

// demoFleet is the demo's fleet: a few dozen instances in three regions, some expiring within
// days, some on auto-renew, one NotRenewal, one expired and locked, one pay-as-you-go.
func demoFleet(now time.Time) ecssim.Fleet {
	// Subscriptions end at 00:00 UTC+8, which is 16:00 UTC the day before.
	day := func(d int) time.Time {
		t := now.AddDate(0, 0, d).In(time.FixedZone("UTC+8", 8*3600))
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location()).UTC()
	}
	type spec struct {
		id, name, region, typ string
		days                  int
		status                string
		price                 float64
		tags                  map[string]string
	}
	specs := []spec{
		{demoInstance, "web-01 (prod)", "cn-hangzhou", "ecs.g7.large", 2, "Normal", 312.50, map[string]string{"env": "prod", "team": "web"}},
		{"i-bp1demoweb02", "web-02 (prod)", "cn-hangzhou", "ecs.g7.large", 2, "Normal", 312.50, map[string]string{"env": "prod", "team": "web"}},
		{"i-bp1demodb001", "mysql-primary", "cn-hangzhou", "ecs.r7.2xlarge", 5, "AutoRenewal", 1480, map[string]string{"env": "prod", "team": "data"}},
		{"i-bp1demolegacy", "legacy-crm (to retire)", "cn-hangzhou", "ecs.c6.large", 6, "NotRenewal", 220, map[string]string{"env": "prod", "team": "crm"}},
		{"i-bp1demoold01", "batch-old", "cn-hangzhou", "ecs.c6.xlarge", -3, "Normal", 410, map[string]string{"env": "staging"}},
		{"i-uf6demoapi01", "api-01", "cn-shanghai", "ecs.g7.xlarge", 4, "Normal", 620, map[string]string{"env": "prod", "team": "api"}},
		{"i-uf6demoapi02", "api-02", "cn-shanghai", "ecs.g7.xlarge", 12, "AutoRenewal", 620, map[string]string{"env": "prod", "team": "api"}},
		{"i-uf6democache1", "redis-cache", "cn-shanghai", "ecs.r7.large", 9, "Normal", 390, map[string]string{"env": "prod"}},
		{"i-t4ndemosg0001", "sg-edge-01", "ap-southeast-1", "ecs.c7.large", 14, "Normal", 95, map[string]string{"env": "prod"}},
		{"i-t4ndemosg0002", "sg-edge-02", "ap-southeast-1", "ecs.c7.large", 21, "AutoRenewal", 95, map[string]string{"env": "prod"}},
	}
	regions := []string{"cn-hangzhou", "cn-shanghai", "ap-southeast-1"}
	for i := range 26 { // the quiet majority: expiring later, some inside the 30-day window
		r := regions[i%3]
		status := "Normal"
		if i%3 == 0 {
			status = "AutoRenewal"
		}
		specs = append(specs, spec{
			id:   fmt.Sprintf("i-%sdemo%04d", map[string]string{"cn-hangzhou": "bp1", "cn-shanghai": "uf6", "ap-southeast-1": "t4n"}[r], i),
			name: fmt.Sprintf("worker-%02d", i), region: r, typ: "ecs.c7.large",
			days: 16 + i*5, status: status, price: 180, tags: map[string]string{"env": "prod", "team": "batch"},
		})
	}
	f := ecssim.Fleet{Balance: 20000, Currency: "CNY"}
	for _, s := range specs {
		f.Instances = append(f.Instances, ecssim.FleetInstance{
			InstanceId: s.id, InstanceName: s.name, RegionId: s.region, ZoneId: s.region + "-b",
			InstanceType: s.typ, InstanceChargeType: "PrePaid", Status: "Running",
			ExpiredTime: day(s.days), RenewalStatus: s.status, Duration: 1, PeriodUnit: "Month",
			MonthlyPrice: s.price, Tags: s.tags,
		})
	}
	f.Instances = append(f.Instances, ecssim.FleetInstance{
		InstanceId: "i-bp1demopayg01", InstanceName: "ci-runner (pay-as-you-go)", RegionId: "cn-hangzhou",
		ZoneId: "cn-hangzhou-b", InstanceType: "ecs.c7.large", InstanceChargeType: "PostPaid", Status: "Running",
		Tags: map[string]string{"env": "ci"},
	})
	return f
}
