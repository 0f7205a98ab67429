package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/renewbot/renewbot/ecs/ecssim"
)

// BenchmarkExpiringProcess runs `renewbot expiring --within 30d` as a whole process against
// `ecssim` in another process, both built into b.TempDir() with `go build`, at 20 ms injected
// latency per call, as an operator runs it. ecssim answers each instance from a cached
// encoding after its first answer, so one untimed run warms it first (its CPU stands for
// Alibaba's). Per run it reports wall-ms, cpu-ms (renewbot's user + system time), sim-cpu-ms
// (ecssim's, from /proc), peak-rss-MB (renewbot's peak resident set, VmHWM sampled every
// 2 ms), peak-heap-MB (the
// largest heap renewbot's GODEBUG=gctrace=1 shows) and the rows printed.
//
//	startup:  `renewbot version`, exec to exit (version-ms), and the time from exec until
//	          package initialisation is done (init-ms, from GODEBUG=inittrace=1)
//	10k:      10,000 instances in 10 regions, one account; x-two-round-trips is wall time
//	          over 40 ms, the bound (goal 3)
//	400k:     20 accounts × 10 regions × 2,000 instances, ecssim throttling 2 calls/s with a
//	          burst of 2 per (account, region, API) (20 calls/s per API per account over its
//	          10 regions), each account's rate_limit 2 calls/s with a burst of 1; api-calls,
//	          min-calls (pages + auto-renew batches), throttled (refused by ecssim),
//	          pacing-ms (what ecssim's buckets allow: (pages - burst) / rate in the busiest
//	          bucket, plus three round trips) and x-pacing (goal 1.5). It prints CSV (the
//	          table needed 20-35 MB more heap at 400k: its rows are made twice)
func BenchmarkExpiringProcess(b *testing.B) {
	dir := b.TempDir()
	renewbot, sim := buildBench(b, dir, "./", "renewbot"), buildBench(b, dir, "../ecssim", "ecssim")
	regions := make([]string, 10)
	for i := range regions {
		regions[i] = fmt.Sprintf("cn-bench-%d", i+1)
	}
	baseEnv := []string{"RENEWBOT_REGIONS=" + strings.Join(regions, ","), "HOME=" + dir}

	b.Run("startup", func(b *testing.B) {
		version, initDone := time.Duration(1<<62), time.Duration(1<<62)
		for b.Loop() {
			cmd := exec.Command(renewbot, "version")
			cmd.Env = append(baseEnv, "GODEBUG=inittrace=1")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			start := time.Now()
			if err := cmd.Run(); err != nil {
				b.Fatalf("renewbot version: %v\n%s", err, stderr.Bytes())
			}
			version = min(version, time.Since(start))
			initDone = min(initDone, lastInit(b, stderr.String()))
		}
		b.ReportMetric(ms(version), "version-ms")
		b.ReportMetric(ms(initDone), "init-ms")
	})

	b.Run("10k", func(b *testing.B) {
		url, pid := startBenchSim(b, sim, "-generate", "10000", "-regions", strings.Join(regions, ","))
		postFaults(b, url, `{"LatencyMs": 20}`)
		env := append(baseEnv, "RENEWBOT_ECS_ENDPOINT="+strings.TrimPrefix(url, "http://"),
			"ALIBABA_CLOUD_ACCESS_KEY_ID=testid", "ALIBABA_CLOUD_ACCESS_KEY_SECRET=testsecret")
		runExpiringProcess(b, renewbot, env, dir, pid) // warm-up
		var sum benchRun
		for b.Loop() {
			sum.add(runExpiringProcess(b, renewbot, env, dir, pid))
		}
		sum.report(b)
		b.ReportMetric(ms(sum.wall)/float64(b.N)/40, "x-two-round-trips")
	})

	b.Run("400k", func(b *testing.B) {
		const accounts, perRegion, rate, simBurst = 20, 2000, 2, 2
		now := time.Now()
		fleet := ecssim.Fleet{Balance: 1000}
		var yaml strings.Builder
		yaml.WriteString("accounts:\n")
		env := append(baseEnv, "ALIBABA_CLOUD_ACCESS_KEY_ID=testid", "ALIBABA_CLOUD_ACCESS_KEY_SECRET=testsecret")
		for a := range accounts {
			uid, key := fmt.Sprintf("20000000000000%02d", a), fmt.Sprintf("key-%02d", a)
			g := ecssim.Generate(perRegion*len(regions), regions, int64(1000+a), now)
			fleet.Accounts = append(fleet.Accounts, ecssim.FleetAccount{UID: uid, Name: fmt.Sprintf("acct%02d", a),
				AccessKeyID: key, AccessKeySecret: "secret-" + key, Balance: 1000, Instances: g.Instances})
			fmt.Fprintf(&yaml, "  - name: acct%02d\n    uid: %q\n    credentials: {access_key_id_env: AK_%02d, access_key_secret_env: SK_%02d}\n"+
				"    rate_limit: {calls_per_second: %d, burst: 1}\n", a, uid, a, a, rate)
			env = append(env, fmt.Sprintf("AK_%02d=%s", a, key), fmt.Sprintf("SK_%02d=secret-%s", a, key))
		}
		fleetFile, accountsFile := filepath.Join(dir, "fleet.json"), filepath.Join(dir, "accounts.yaml")
		raw, err := json.Marshal(fleet)
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(fleetFile, raw, 0o600); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(accountsFile, []byte(yaml.String()), 0o600); err != nil {
			b.Fatal(err)
		}
		url, pid := startBenchSim(b, sim, "-fleet", fleetFile, "-throttle", strconv.Itoa(rate), "-throttle-burst", strconv.Itoa(simBurst))
		postFaults(b, url, `{"LatencyMs": 20}`)
		env = append(env, "RENEWBOT_ECS_ENDPOINT="+strings.TrimPrefix(url, "http://"), "RENEWBOT_ACCOUNTS="+accountsFile)

		// The minimum: per (account, region), ceil(n/100) pages and as many auto-renew batches,
		// n = PrePaid instances in renewbot's window (15 days back, 30 ahead), counted below
		// from the fleet at the run's time.
		minCalls, busiest := 0, 0
		from, to := now.Add(-15*24*time.Hour), now.Add(30*24*time.Hour)
		for _, acc := range fleet.Accounts {
			per := map[string]int{}
			for _, in := range acc.Instances {
				if in.InstanceChargeType == "PrePaid" && !in.ExpiredTime.Before(from) && in.ExpiredTime.Before(to) {
					per[in.RegionId]++
				}
			}
			for _, r := range regions {
				pages := max(1, (per[r]+99)/100)
				minCalls += pages + (per[r]+99)/100
				busiest = max(busiest, pages)
			}
		}
		pacing := time.Duration(float64(max(0, busiest-simBurst))/rate*float64(time.Second)) + 3*20*time.Millisecond

		runExpiringProcess(b, renewbot, env, dir, pid, "--format", "csv") // warm-up
		calls0, throttled0 := simCount(b, url, "calls"), simCount(b, url, "throttled")
		var sum benchRun
		for b.Loop() {
			sum.add(runExpiringProcess(b, renewbot, env, dir, pid, "--format", "csv"))
		}
		sum.report(b)
		n := float64(b.N)
		b.ReportMetric(float64(simCount(b, url, "calls")-calls0)/n, "api-calls")
		b.ReportMetric(float64(minCalls), "min-calls")
		b.ReportMetric(float64(simCount(b, url, "throttled")-throttled0)/n, "throttled")
		b.ReportMetric(ms(pacing), "pacing-ms")
		b.ReportMetric(float64(sum.wall)/n/float64(pacing), "x-pacing")
	})
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// buildBench builds the command in pkg into dir.
func buildBench(b *testing.B, dir, pkg, name string) string {
	b.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		b.Fatalf("the go command is needed to build %s: %v", name, err)
	}
	out := filepath.Join(dir, name)
	cmd := exec.Command(goBin, "build", "-o", out, pkg)
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build %s: %v\n%s", pkg, err, msg)
	}
	return out
}

// startBenchSim starts ecssim on a free port; it is stopped when the benchmark ends.
func startBenchSim(b *testing.B, bin string, args ...string) (url string, pid int) {
	b.Helper()
	cmd := exec.Command(bin, append([]string{"-listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = []string{}
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("ecssim %v: %v", args, err)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "ecssim listening on ")
	if !ok {
		b.Fatalf("ecssim said %q", line)
	}
	return url, cmd.Process.Pid
}

func postFaults(b *testing.B, url, body string) {
	b.Helper()
	resp, err := http.Post(url+"/_sim/faults", "application/json", strings.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("faults %s: %s", body, resp.Status)
	}
}

// simCount sums ecssim's /_sim/calls or /_sim/throttled.
func simCount(b *testing.B, url, what string) int {
	b.Helper()
	resp, err := http.Get(url + "/_sim/" + what)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]int
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		b.Fatal(err)
	}
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// benchRun is one run of `renewbot expiring`, or the sum of several.
type benchRun struct {
	runs            int
	wall, cpu, sim  time.Duration
	rows            int
	peakRSSKilobyte int64
	peakHeapMB      int
}

func (s *benchRun) add(r benchRun) {
	s.runs++
	s.wall += r.wall
	s.cpu += r.cpu
	s.sim += r.sim
	s.rows = r.rows
	s.peakRSSKilobyte = max(s.peakRSSKilobyte, r.peakRSSKilobyte)
	s.peakHeapMB = max(s.peakHeapMB, r.peakHeapMB)
}

func (s *benchRun) report(b *testing.B) {
	n := float64(max(1, s.runs))
	b.ReportMetric(ms(s.wall)/n, "wall-ms")
	b.ReportMetric(ms(s.cpu)/n, "cpu-ms")
	b.ReportMetric(ms(s.sim)/n, "sim-cpu-ms")
	b.ReportMetric(float64(s.peakRSSKilobyte)/1024, "peak-rss-MB")
	b.ReportMetric(float64(s.peakHeapMB), "peak-heap-MB")
	b.ReportMetric(float64(s.rows), "rows")
}

// runExpiringProcess runs `renewbot expiring --within 30d ARGS` once, its output written to a
// file.
func runExpiringProcess(b *testing.B, bin string, env []string, dir string, simPID int, args ...string) benchRun {
	b.Helper()
	out, err := os.Create(filepath.Join(dir, "expiring.txt"))
	if err != nil {
		b.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(bin, append([]string{"expiring", "--within", "30d"}, args...)...)
	cmd.Env = append(env, "GODEBUG=gctrace=1")
	cmd.Stdout = out
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	sim0 := procCPU(simPID)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	// The peak resident set of renewbot's own image: rusage's Maxrss would count the
	// benchmark's memory, shared with the child until exec.
	done := make(chan struct{})
	hwm := make(chan int64)
	go func() {
		var peak int64
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			peak = max(peak, vmHWM(cmd.Process.Pid))
			select {
			case <-done:
				hwm <- peak
				return
			case <-tick.C:
			}
		}
	}()
	err = cmd.Wait()
	close(done)
	r := benchRun{wall: time.Since(start), sim: procCPU(simPID) - sim0, peakHeapMB: peakHeap(stderr.String()), peakRSSKilobyte: <-hwm}
	if err != nil {
		b.Fatalf("renewbot expiring: %v\n%s", err, stderr.Bytes())
	}
	r.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if _, err := out.Seek(0, io.SeekStart); err != nil {
		b.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		r.rows++
	}
	r.rows-- // the header
	if r.rows <= 0 {
		b.Fatalf("renewbot expiring printed no instances\n%s", stderr.Bytes())
	}
	return r
}

// vmHWM is a process's peak resident set in kilobytes (/proc/PID/status VmHWM; 0 where
// there is none).
func vmHWM(pid int) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(raw)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// procCPU is a process's user + system time from /proc (0 where there is none).
func procCPU(pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}

var gcLine = regexp.MustCompile(`(?m)^gc \d+ @.*: .* (\d+)->(\d+)->(\d+) MB`)

// peakHeap is the largest heap a GODEBUG=gctrace=1 trace shows: the heap when a collection
// started, or the live heap it left.
func peakHeap(trace string) int {
	peak := 0
	for _, m := range gcLine.FindAllStringSubmatch(trace, -1) {
		for _, v := range m[1:] {
			n, _ := strconv.Atoi(v)
			peak = max(peak, n)
		}
	}
	return peak
}

var initLine = regexp.MustCompile(`(?m)^init \S+ @([0-9.]+) ms, ([0-9.]+) ms clock`)

// lastInit is when the last package initialisation of a GODEBUG=inittrace=1 trace ended.
func lastInit(b *testing.B, trace string) time.Duration {
	b.Helper()
	var end float64
	for _, m := range initLine.FindAllStringSubmatch(trace, -1) {
		at, _ := strconv.ParseFloat(m[1], 64)
		took, _ := strconv.ParseFloat(m[2], 64)
		end = max(end, at+took)
	}
	if end == 0 {
		b.Fatalf("no init trace in %q", trace)
	}
	return time.Duration(end * float64(time.Millisecond))
}
