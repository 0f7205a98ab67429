package bot

import (
	"fmt"
	"testing"
	"time"

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
			Tags:        map[string]string{"env": "prod"},
		}
		if i%3 == 0 {
			in.Tags["renewbot-channel"] = fmt.Sprintf("C0TEAM%d", i%2)
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
