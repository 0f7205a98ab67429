package bot_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/renewbot/renewbot/bot"
	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/store"
	"github.com/slack-go/slack"
)

// BenchmarkUnsignedFlood sends rounds of 400 concurrent requests, each on its own loopback
// connection with a 511 KiB body, to the real handler: "unsigned" without signature headers,
// "lookalike" with headers of the right shape and a fresh timestamp but a signature nobody
// made (what anyone can send without the secret). Every one is refused. It reports the peak
// RSS of the process (VmHWM, reset before the run), the peak live heap (sampled every ms)
// and the bytes allocated per request.
func BenchmarkUnsignedFlood(b *testing.B) {
	for _, kind := range []string{"unsigned", "lookalike"} {
		b.Run(kind, func(b *testing.B) { benchmarkFlood(b, kind == "lookalike") })
	}
}

func benchmarkFlood(b *testing.B, lookalike bool) {
	const conns, size = 400, 511 << 10
	db, err := store.Open(filepath.Join(b.TempDir(), "renewbot.db"), store.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	cloud, err := ecs.New(ecs.Config{Regions: []string{"cn-hangzhou"}, Endpoint: "http://127.0.0.1:1", AccessKeyID: "id", AccessKeySecret: "secret"})
	if err != nil {
		b.Fatal(err)
	}
	api := slack.New("xoxb-test-token", slack.OptionAPIURL("http://127.0.0.1:1/api/"))
	wf, err := renewal.NewWorkflow(renewal.WorkflowConfig{Cloud: cloud, Store: db, Policy: renewal.Policy{Approvers: []string{edgeApprover}}})
	if err != nil {
		b.Fatal(err)
	}
	app, err := bot.NewApp(bot.AppConfig{Workflow: wf, Cloud: cloud, Store: db, Slack: api})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(app.Handler(edgeSecret))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	body := []byte(strings.Repeat("a", size)) // shared by all clients: the client side allocates little

	send := func() int {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			b.Error(err)
			return 0
		}
		defer conn.Close()
		var sig string
		if lookalike {
			sig = fmt.Sprintf("X-Slack-Request-Timestamp: %d\r\nX-Slack-Signature: v0=%s\r\n", time.Now().Unix(), strings.Repeat("ab", 32))
		}
		go func() { // the server may answer and close before the body is all sent
			if _, err := fmt.Fprintf(conn, "POST /slack/commands HTTP/1.1\r\nHost: bot\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n%s\r\n", size, sig); err == nil {
				_, _ = conn.Write(body)
			}
		}()
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	runtime.GC()
	debug.FreeOSMemory()
	resetPeakRSS(b)
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	stop := make(chan struct{})
	peakHeap := make(chan uint64, 1)
	go func() { peakHeap <- samplePeakHeap(stop) }()

	statuses := map[int]int{}
	var mu sync.Mutex
	for b.Loop() {
		var wg sync.WaitGroup
		for range conns {
			wg.Go(func() {
				s := send()
				mu.Lock()
				statuses[s]++
				mu.Unlock()
			})
		}
		wg.Wait()
	}
	b.StopTimer()
	close(stop)
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	requests := float64(b.N * conns)
	b.ReportMetric(float64(peakRSS(b))/(1<<20), "peak-RSS-MB")
	b.ReportMetric(float64(<-peakHeap)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/requests, "B-alloc/req")
	b.Logf("answers by status: %v", statuses)
}

// resetPeakRSS resets the process's VmHWM (Linux: "5" to /proc/self/clear_refs).
func resetPeakRSS(b *testing.B) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Logf("peak RSS not reset (%v): it includes everything before", err)
	}
}

// peakRSS is VmHWM in bytes.
func peakRSS(b *testing.B) int64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(string(raw)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb << 10
		}
	}
	b.Fatal("no VmHWM in /proc/self/status")
	return 0
}

// samplePeakHeap reads the live heap every millisecond until stop is closed and returns the
// largest reading.
func samplePeakHeap(stop <-chan struct{}) uint64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak uint64
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		metrics.Read(sample)
		peak = max(peak, sample[0].Value.Uint64())
		select {
		case <-stop:
			return peak
		case <-tick.C:
		}
	}
}
