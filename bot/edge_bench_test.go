package bot_test

import (
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/renewbot/renewbot/bot/bottest"
)

// BenchmarkAckLatency sends rounds of 100 concurrent signed slash commands to the real handler
// over loopback and reports the ack latency percentiles. Each command ("status ID") also
// starts its ECS lookup and response_url answer after the ack, so acks compete with that work.
// Slack allows 3 s; the goal is p99 < 100 ms. ns/op is one round of 100.
func BenchmarkAckLatency(b *testing.B) {
	const concurrent = 100
	e := newEdgeEnv(b)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrent, MaxConnsPerHost: concurrent}}
	defer client.CloseIdleConnections()
	cmd := e.command(edgeReq, "status i-bp1hz00001")
	var seq atomic.Int64

	var mu sync.Mutex
	var lat []time.Duration
	for b.Loop() {
		var wg sync.WaitGroup
		for range concurrent {
			wg.Go(func() {
				form := bottest.CommandForm(cmd)
				form.Set("trigger_id", strconv.FormatInt(seq.Add(1), 10)) // every request differs, like Slack's
				req := bottest.SignedRequest(edgeSecret, e.srv.URL+"/slack/commands", form, time.Now())
				start := time.Now()
				resp, err := client.Do(req)
				took := time.Since(start)
				if err != nil {
					b.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Errorf("status %d", resp.StatusCode)
				}
				mu.Lock()
				lat = append(lat, took)
				mu.Unlock()
			})
		}
		wg.Wait()
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(pct(1), "max-ms")
}
