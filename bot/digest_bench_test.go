package bot

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/store"
)

// benchScan is n expiring PrePaid instances in 3 regions, a third of them routed to one of
// two tagged channels, with every auto-renew state.
func benchScan(n int, now time.Time) ecs.Scan {
	statuses := []ecs.RenewalStatus{ecs.Normal, ecs.AutoRenewal, ecs.Normal, ecs.NotRenewal, ecs.AutoRenewal}
	regions := []string{"cn-hangzhou", "cn-shanghai", "cn-beijing"}
	scan := ecs.Scan{Instances: make([]ecs.Instance, n)}
	for i := range scan.Instances {
		in := ecs.Instance{
			ID: fmt.Sprintf("i-bp1%015d", i), Name: fmt.Sprintf("team-%d-prod-%04d", i%7, i), RegionID: regions[i%3],
			ZoneID: regions[i%3] + "-h", Type: "ecs.g7.large", ChargeType: "PrePaid", Status: "Running",
			ExpiredTime: now.Add(time.Duration(i%45-15)*24*time.Hour + 15*time.Hour),
			AutoRenew:   ecs.AutoRenew{Status: statuses[i%5], Duration: 1, PeriodUnit: "Month"},
			Tags:        ecs.NewTags(map[string]string{"env": "prod"}),
		}
		if i%3 == 0 {
			in.Tags = in.Tags.With("renewbot-channel", fmt.Sprintf("C0TEAM%d", i%2))
		}
		scan.Instances[i] = in
	}
	return scan
}

// uncappedDigester routes untagged instances to C0DEFAULT and never leaves one to the CSV only.
func uncappedDigester(tb testing.TB) *Digester {
	tb.Helper()
	d, err := NewDigester(DigestConfig{Cloud: (*ecs.Client)(nil), Store: (*store.DB)(nil), DefaultChannel: "C0DEFAULT",
		MaxPages: 1000, Location: ecs.UTC8})
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// BenchmarkDigestBuild5000 is the pure part of a digest of 5,000 expiring instances: route,
// group, lay out every thread page, build the CSV. No pages are capped (MaxPages is large),
// so this is the worst case.
func BenchmarkDigestBuild5000(b *testing.B) {
	d := uncappedDigester(b)
	now := time.Date(2026, 11, 25, 1, 0, 0, 0, time.UTC)
	scan := benchScan(5000, now)
	b.ReportAllocs()
	var pages, csvBytes int
	for b.Loop() {
		plan := d.build(scan, nil, now)
		pages, csvBytes = 0, 0
		for _, c := range plan.Channels {
			pages += len(c.Pages)
			csvBytes += len(c.CSV)
		}
	}
	b.ReportMetric(float64(pages), "pages")
	b.ReportMetric(float64(csvBytes), "csv-bytes")
}

func TestDigestOf5000FitsSlackLimits(t *testing.T) {
	plan := uncappedDigester(t).build(benchScan(5000, testNow), nil, testNow)
	n := 0
	for _, c := range plan.Channels {
		n += len(c.Items)
		if c.Omitted != 0 {
			t.Errorf("%s: %d instances left out", c.Channel, c.Omitted)
		}
		mustFit(t, c.Channel+" summary", c.Summary.Text, c.Summary.Blocks)
		for i, p := range c.Pages {
			mustFit(t, fmt.Sprintf("%s page %d", c.Channel, i+1), p.Text, p.Blocks)
		}
	}
	if n != 5000 || len(plan.Channels) != 3 {
		t.Errorf("%d instances in %d channels", n, len(plan.Channels))
	}
}

// benchAccounts spreads benchScan's instances over accounts acct00… and prices one
// automatic renewal of each; every other account's balance is short of its deductions, so
// the forecast carries at-risk warnings.
func benchAccounts(scan ecs.Scan, accounts int) (renewal.ForecastInput, []string) {
	names := make([]string, accounts)
	for a := range names {
		names[a] = fmt.Sprintf("acct%02d", a)
	}
	in := renewal.ForecastInput{Window: 30 * 24 * time.Hour, Horizon: 3 * 24 * time.Hour, Accounts: names,
		Balances: map[string]ecs.Balance{}, Prices: map[renewal.PriceKey]ecs.Quote{}}
	for i := range scan.Instances {
		inst := &scan.Instances[i]
		inst.Account = names[i%accounts]
		if inst.AutoRenew.Status == ecs.AutoRenewal {
			in.Prices[renewal.PriceKey{Account: inst.Account, InstanceID: inst.ID, Months: 1}] = ecs.Quote{Trade: float64(100 + i%50), Currency: "CNY"}
		}
	}
	for a, name := range names {
		in.Balances[name] = ecs.Balance{Account: name, Available: float64(1000 + 1e6*(a%2)), Currency: "CNY"}
	}
	in.Instances = scan.Instances
	return in, names
}

// buildWithForecast is the pure part of a digest with its forecast: build, the forecast over
// the same scan (prices already read), and the forecast section in the default summary.
func buildWithForecast(d *Digester, scan ecs.Scan, fc renewal.ForecastInput, now time.Time) DigestPlan {
	plan := d.build(scan, nil, now)
	fc.Now = now
	plan.Forecast = renewal.Forecast(fc)
	plan.addForecast(d.cfg.DefaultChannel)
	return plan
}

// BenchmarkDigestBuild20000 is the digest of 20,000 expiring instances in 4 accounts,
// with the balance forecast (about 5,300 deductions) in the default channel's summary:
// uncapped (every instance on a thread page, the worst case) and with the default 20
// pages per channel (the rest only in the CSV).
func BenchmarkDigestBuild20000(b *testing.B) {
	now := time.Date(2026, 11, 25, 1, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name     string
		maxPages int
	}{{"uncapped", 1000}, {"pages=20", 0}} {
		b.Run(c.name, func(b *testing.B) {
			d, err := NewDigester(DigestConfig{Cloud: (*ecs.Client)(nil), Store: (*store.DB)(nil), DefaultChannel: "C0DEFAULT",
				MaxPages: c.maxPages, Location: ecs.UTC8})
			if err != nil {
				b.Fatal(err)
			}
			scan := benchScan(20000, now)
			fc, _ := benchAccounts(scan, 4)
			b.ReportAllocs()
			var pages, csvBytes, deductions int
			for b.Loop() {
				plan := buildWithForecast(d, scan, fc, now)
				pages, csvBytes, deductions = 0, 0, 0
				for _, ch := range plan.Channels {
					pages += len(ch.Pages)
					csvBytes += len(ch.CSV)
				}
				for _, f := range plan.Forecast {
					deductions += len(f.Deductions)
				}
			}
			b.ReportMetric(float64(pages), "pages")
			b.ReportMetric(float64(csvBytes), "csv-bytes")
			b.ReportMetric(float64(deductions), "deductions")
		})
	}
}

// A digest of 20,000 instances in 4 accounts with the forecast keeps within Slack's limits:
// every summary and page, the summary's blocks with the forecast's warnings, at most
// MaxPages thread replies per channel (the rest in the CSV, and the summary says so), and
// the CSV has every instance with its account.
func TestDigestOf20000FitsSlackLimits(t *testing.T) {
	scan := benchScan(20000, testNow)
	fc, names := benchAccounts(scan, 4)
	for _, maxPages := range []int{0, 1000} {
		d, err := NewDigester(DigestConfig{Cloud: (*ecs.Client)(nil), Store: (*store.DB)(nil), DefaultChannel: "C0DEFAULT",
			MaxPages: maxPages, Location: ecs.UTC8})
		if err != nil {
			t.Fatal(err)
		}
		plan := buildWithForecast(d, scan, fc, testNow)
		n, rows := 0, 0
		for _, c := range plan.Channels {
			n += len(c.Items)
			rows += strings.Count(string(c.CSV), "\n") - 1
			mustFit(t, c.Channel+" summary", c.Summary.Text, c.Summary.Blocks)
			for i, p := range c.Pages {
				mustFit(t, fmt.Sprintf("%s page %d", c.Channel, i+1), p.Text, p.Blocks)
			}
			summary := allText(t, c.Summary.Text, c.Summary.Blocks)
			switch {
			case maxPages == 0 && (len(c.Pages) != defaultMaxPages || c.Omitted == 0 || !strings.Contains(summary, fmt.Sprintf("%d more are only in the CSV", c.Omitted))):
				t.Errorf("%s: %d pages, %d only in the CSV; want %d pages, the rest in the CSV and said so", c.Channel, len(c.Pages), c.Omitted, defaultMaxPages)
			case maxPages == 1000 && c.Omitted != 0:
				t.Errorf("%s uncapped: %d instances left out of the thread", c.Channel, c.Omitted)
			}
			if c.Channel != "C0DEFAULT" {
				continue
			}
			for _, name := range names {
				if !strings.Contains(summary, "*"+name+"*: balance") {
					t.Errorf("summary lacks the forecast line of %s", name)
				}
			}
			if got, top := strings.Count(summary, "AUTO-RENEW AT RISK"), strings.Count(summary, "Top up at least"); got != 2 || top != 2 {
				t.Errorf("%d at-risk warnings, %d saying how much to top up; want 2 (acct00 and acct02 are short)", got, top)
			}
		}
		if n != 20000 || rows != 20000 || len(plan.Channels) != 3 {
			t.Errorf("max pages %d: %d instances, %d CSV rows in %d channels; want 20000 in 3", maxPages, n, rows, len(plan.Channels))
		}
		if !strings.Contains(string(plan.Channels[0].CSV), ",acct03\n") {
			t.Error("the CSV does not name the account")
		}
	}
}

// With 200 accounts, half of them short of their deductions, the summary's notification text
// names five of them and counts the rest: it stays within the builders' fallback budget
// while the message keeps every account's warning it can fit.
func TestDigestNotificationNamesFewAccounts(t *testing.T) {
	scan := benchScan(20000, testNow)
	fc, _ := benchAccounts(scan, 200)
	d, err := NewDigester(DigestConfig{Cloud: (*ecs.Client)(nil), Store: (*store.DB)(nil), DefaultChannel: "C0DEFAULT", Location: ecs.UTC8})
	if err != nil {
		t.Fatal(err)
	}
	plan := buildWithForecast(d, scan, fc, testNow)
	atRisk := 0
	for _, f := range plan.Forecast {
		if len(f.AtRisk()) > 0 {
			atRisk++
		}
	}
	for _, c := range plan.Channels {
		if c.Channel != "C0DEFAULT" {
			continue
		}
		text := c.Summary.Text
		mustFit(t, "summary", text, c.Summary.Blocks)
		if n := len([]rune(text)); n > maxFallbackBudget || strings.Count(text, " in acct") != 5 ||
			!strings.Contains(text, fmt.Sprintf("and %d more accounts", atRisk-5)) {
			t.Errorf("%d accounts at risk: notification text (%d characters) %q", atRisk, n, text)
		}
		return
	}
	t.Fatal("no summary for the default channel")
}
