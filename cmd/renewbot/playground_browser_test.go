package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

var updateScreenshot = flag.Bool("update-screenshot", false, "write the browser test's screenshot to bot/playground/screenshot.png (the README's)")

// chromiumPath is Debian's Chromium, which .ci/run installs.
const chromiumPath = "/usr/bin/chromium"

// newBrowser starts headless Chromium with a fresh profile and returns a chromedp context.
// A missing browser fails the test: the playground is tested in a real one.
func newBrowser(t *testing.T, ctx context.Context) context.Context {
	t.Helper()
	path := chromiumPath
	if _, err := os.Stat(path); err != nil {
		if p, lerr := exec.LookPath("chromium"); lerr == nil {
			path = p
		} else {
			t.Fatalf("no Chromium at %s (%v): install it with `apt-get install -y chromium` (Debian); .ci/run does", chromiumPath, err)
		}
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(bctx); err != nil { // starts the browser
		t.Fatalf("starting %s: %v", path, err)
	}
	return bctx
}

// TestPlaygroundBrowser is the newcomer's first five minutes in a real browser: Alice types
// /renew, tries to approve her own request (refused, only she sees why), Bob approves, and the
// approval message shows the order and the verified new expiry. It saves a screenshot.
func TestPlaygroundBrowser(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	st, err := startDemoStack(ctx, env{getenv: func(string) string { return "" }, stdout: &bytes.Buffer{}, stderr: &stderr}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	var out bytes.Buffer
	ln, err := listenPlayground("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stop, err := st.servePlayground(ln, &out)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if line := strings.TrimSpace(out.String()); line != "playground: open "+st.pageURL {
		t.Fatalf("printed %q", line)
	}

	b := newBrowser(t, ctx)
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, done := context.WithTimeout(b, 45*time.Second)
		defer done()
		if err := chromedp.Do(sctx, actions...); err != nil {
			page, _ := chromedp.Run(b, chromedp.Text(chromedp.CSS("#messages")))
			home, _ := chromedp.Run(b, chromedp.Text(chromedp.CSS("#home")))
			t.Fatalf("%s: %v\nchannel shows:\n%s\nHome tab shows:\n%s\nbot stderr:\n%s", what, err, page, home, stderr.String())
		}
	}
	approve := `button.bk-btn[data-action-id="approve"]`

	step("open the page as Alice",
		chromedp.Navigate(st.pageURL),
		chromedp.WaitVisible(chromedp.CSS(`#conn.live`)),
		chromedp.Click(chromedp.CSS(`#as-U01ALICE`)),
		chromedp.WaitVisible(chromedp.CSS(`#as-U01ALICE[aria-checked="true"]`)),
	)
	step("run the digest from the side panel",
		chromedp.Click(chromedp.CSS(`#run-digest`)),
		chromedp.WaitVisible(`//div[contains(@class,"msg")][contains(., "ECS renewals digest")]`),
		chromedp.WaitVisible(chromedp.CSS(`details.thread > summary`)),
		chromedp.WaitReady(chromedp.CSS(`details.thread a.file`)), // the CSV, shared in the thread
	)
	step("Alice types /renew "+demoInstance+" 3",
		chromedp.SendKeys(chromedp.CSS(`#command`), "/renew "+demoInstance+" 3"),
		chromedp.Click(chromedp.CSS(`#send`)),
		chromedp.WaitVisible(`//div[contains(@class,"ephemeral")][contains(., "Getting a price quote")]`),
		chromedp.WaitVisible(chromedp.CSS(approve)),
	)
	step("Alice clicks Approve and confirms",
		chromedp.Click(chromedp.CSS(approve)),
		chromedp.WaitVisible(chromedp.CSS(`#confirm-ok`)),
		chromedp.Click(chromedp.CSS(`#confirm-ok`)),
		chromedp.WaitVisible(`//div[contains(@class,"ephemeral")][contains(., "four-eyes")]`),
	)
	if n := len(st.sim.Orders()); n != 0 {
		t.Fatalf("%d orders after Alice's refused approval", n)
	}
	step("Bob clicks Approve and confirms",
		chromedp.Click(chromedp.CSS(`#as-U02BOB`)),
		chromedp.WaitVisible(chromedp.CSS(`#as-U02BOB[aria-checked="true"]`)),
		chromedp.WaitNotPresent(`//div[contains(@class,"ephemeral")][contains(., "four-eyes")]`), // Alice's, not Bob's
		chromedp.Click(chromedp.CSS(approve)),
		chromedp.WaitVisible(chromedp.CSS(`#confirm-ok`)),
		chromedp.Click(chromedp.CSS(`#confirm-ok`)),
		chromedp.WaitVisible(`//div[contains(@class,"msg")][contains(., "verified new expiry")]`),
	)
	orders := st.sim.Orders()
	if len(orders) != 1 || orders[0].InstanceId != demoInstance || orders[0].Period != 3 {
		t.Fatalf("orders at the emulator: %+v", orders)
	}
	id := orders[0].OrderId
	step("the approval message and the emulator panel show order "+id,
		chromedp.WaitVisible(`//div[contains(@class,"msg")][contains(., "`+id+`")][contains(., "verified new expiry")]`),
		chromedp.WaitVisible(chromedp.CSS(`#orders tr[data-order-id="`+id+`"]`)),
		chromedp.WaitNotPresent(chromedp.CSS(approve)), // updated in place: no buttons once done
	)
	card, err := chromedp.Run(b, chromedp.Text(`//div[contains(@class,"msg")][contains(., "verified new expiry")]`))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"@Alice", "@Bob", "✅", "Done", "new expiry"} {
		if !strings.Contains(card, want) {
			t.Errorf("the approval message lacks %q:\n%s", want, card)
		}
	}
	if strings.Contains(card, "<@") || strings.Contains(card, "<!date") || strings.Contains(card, "*") {
		t.Errorf("the approval message shows raw mrkdwn:\n%s", card)
	}

	step("back to Alice, who sees her own ephemerals",
		chromedp.Click(chromedp.CSS(`#as-U01ALICE`)),
		chromedp.WaitVisible(`//div[contains(@class,"ephemeral")][contains(., "four-eyes")]`),
	)
	png, err := chromedp.Run(b, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(t.ArtifactDir(), "playground.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", shot, len(png))
	if *updateScreenshot {
		if err := os.WriteFile(filepath.Join("..", "..", "bot", "playground", "screenshot.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// The request form (views.open): /renew with no text, search, the live quote, submit.
	pick := func(sel, value string) chromedp.Action[chromedp.Void] {
		return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const s = document.querySelector(%q); s.value = %q; s.dispatchEvent(new Event("change")); })()`, sel, value))
	}
	step("Alice types /renew with no text: the request form opens",
		chromedp.SendKeys(chromedp.CSS(`#command`), "/renew"),
		chromedp.Click(chromedp.CSS(`#send`)),
		chromedp.WaitVisible(`//div[@id="view-modal"]//h3[contains(., "Request a renewal")]`),
	)
	step("she searches mysql, picks it, and sees the quote",
		chromedp.SendKeys(chromedp.CSS(`#in-instance-search`), "mysql"),
		chromedp.WaitReady(chromedp.CSS(`#in-instance option[value="i-bp1demodb001"]`)),
		pick(`#in-instance`, "i-bp1demodb001"),
		chromedp.WaitVisible(`//div[@id="view-body"]//div[contains(., "i-bp1demodb001 for 1 month")]`),
		pick(`#in-period`, "2"),
		chromedp.WaitVisible(`//div[@id="view-body"]//div[contains(., "i-bp1demodb001 for 2 months")]`),
	)
	step("she gives a reason and submits: the approval message is posted",
		chromedp.SendKeys(chromedp.CSS(`#in-reason`), "Black Friday"),
		chromedp.Click(chromedp.CSS(`#view-submit`)),
		chromedp.WaitNotVisible(chromedp.CSS(`#view-modal`)),
		chromedp.WaitVisible(`//div[contains(@class,"msg")][contains(., "mysql-primary")][contains(., "Black Friday")]`),
	)
	step("Bob clicks Reject: the reason form opens; he rejects with a reason",
		chromedp.Click(chromedp.CSS(`#as-U02BOB`)),
		chromedp.WaitVisible(chromedp.CSS(`#as-U02BOB[aria-checked="true"]`)),
		chromedp.Click(chromedp.CSS(`button.bk-btn[data-action-id="reject"]`)),
		chromedp.WaitVisible(`//div[@id="view-modal"]//h3[contains(., "Reject request")]`),
		chromedp.SendKeys(chromedp.CSS(`#in-reason`), "db is retired in January"),
		chromedp.Click(chromedp.CSS(`#view-submit`)),
		chromedp.WaitNotVisible(chromedp.CSS(`#view-modal`)),
		chromedp.WaitVisible(`//div[contains(@class,"msg")][contains(., "Rejected")][contains(., "db is retired in January")]`),
	)
	if n := len(st.sim.Orders()); n != 1 {
		t.Errorf("%d orders after the rejection, want still 1", n)
	}

	// The Home tab (app_home_opened → views.publish): Alice's requests, what expires soon,
	// and the button that opens the request form.
	step("Alice opens renewbot's Home tab",
		chromedp.Click(chromedp.CSS(`#as-U01ALICE`)),
		chromedp.WaitVisible(chromedp.CSS(`#as-U01ALICE[aria-checked="true"]`)),
		chromedp.Click(chromedp.CSS(`#nav-home`)),
		chromedp.WaitVisible(`//div[@id="home"]//div[contains(., "Your requests")]`),
		chromedp.WaitVisible(`//div[@id="home"]//div[contains(., "rejected by @Bob")][contains(., "db is retired in January")]`),
		chromedp.WaitVisible(`//div[@id="home"]//div[contains(., "Expiring soon")]`),
		chromedp.Click(chromedp.CSS(`#home button.bk-btn[data-action-id="home_request"]`)),
		chromedp.WaitVisible(`//div[@id="view-modal"]//h3[contains(., "Request a renewal")]`),
		chromedp.Click(chromedp.CSS(`#view-close`)),
		chromedp.WaitNotVisible(chromedp.CSS(`#view-modal`)),
	)
}
