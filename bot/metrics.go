package bot

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are renewbot's Prometheus metrics. A nil *Metrics is valid and records nothing,
// so tests and the CLI need not build one.
type Metrics struct {
	requests         *prometheus.GaugeVec
	renewals         *prometheus.CounterVec
	ecsCalls         *prometheus.CounterVec
	ecsLatency       *prometheus.HistogramVec
	slackErrors      *prometheus.CounterVec
	slackRateLimited *prometheus.CounterVec
	signatureFails   *prometheus.CounterVec
	commands         *prometheus.CounterVec
	interactions     *prometheus.CounterVec
	digestDuration   prometheus.Histogram
	digestSize       *prometheus.GaugeVec
	lastScan         prometheus.Gauge
}

// NewMetrics registers renewbot's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "renewbot_requests", Help: "Requests in the store by state.",
		}, []string{"state"}),
		renewals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "renewbot_renewals_total", Help: "Instances renewed or changed, by kind and outcome (done, failed).",
		}, []string{"kind", "outcome"}),
		ecsCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "renewbot_ecs_calls_total", Help: "ECS API attempts by account, action and Alibaba error code (\"\" for success).",
		}, []string{"account", "action", "code"}),
		ecsLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "renewbot_ecs_call_duration_seconds", Help: "ECS API attempt latency by account and action.",
			Buckets: prometheus.DefBuckets,
		}, []string{"account", "action"}),
		slackErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "renewbot_slack_api_errors_total", Help: "Slack Web API errors by method and error.",
		}, []string{"method", "error"}),
		slackRateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "renewbot_slack_rate_limited_total", Help: "Slack Web API 429 answers by method.",
		}, []string{"method"}),
		signatureFails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "renewbot_slack_signature_failures_total", Help: "Requests refused for a bad, missing or stale Slack signature.",
		}, []string{"reason"}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "renewbot_commands_total", Help: "Slash commands by verb.",
		}, []string{"verb"}),
		interactions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "renewbot_interactions_total", Help: "Button clicks by action and outcome.",
		}, []string{"action", "outcome"}),
		digestDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "renewbot_digest_duration_seconds", Help: "Time to post one channel's digest (summary, thread pages and CSV).",
			Buckets: []float64{0.5, 1, 2, 5, 10, 30, 60, 120, 300},
		}),
		digestSize: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "renewbot_digest_instances", Help: "Instances in the last digest, by channel.",
		}, []string{"channel"}),
		lastScan: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "renewbot_last_scan_success_timestamp_seconds", Help: "Unix time of the last complete expiring scan.",
		}),
	}
	reg.MustRegister(m.requests, m.renewals, m.ecsCalls, m.ecsLatency, m.slackErrors, m.slackRateLimited,
		m.signatureFails, m.commands, m.interactions, m.digestDuration, m.digestSize, m.lastScan)
	return m
}

// SetRequests sets the gauge of requests by state name.
func (m *Metrics) SetRequests(byState map[string]int) {
	if m == nil {
		return
	}
	m.requests.Reset()
	for s, n := range byState {
		m.requests.WithLabelValues(s).Set(float64(n))
	}
}

// Renewal counts one instance outcome (kind "renew" or "autorenew", outcome "done" or "failed").
func (m *Metrics) Renewal(kind, outcome string) {
	if m != nil {
		m.renewals.WithLabelValues(kind, outcome).Inc()
	}
}

// ECSCall records one ECS API attempt of the single default account; it has the shape of
// ecs.Config.Observe.
func (m *Metrics) ECSCall(action, code string, took time.Duration) {
	m.ECSCallIn("")(action, code, took)
}

// ECSCallIn is ECSCall for one account ("" = the single default account).
func (m *Metrics) ECSCallIn(account string) func(action, code string, took time.Duration) {
	return func(action, code string, took time.Duration) {
		if m != nil {
			m.ecsCalls.WithLabelValues(account, action, code).Inc()
			m.ecsLatency.WithLabelValues(account, action).Observe(took.Seconds())
		}
	}
}

// SlackError records a failed Slack Web API call.
func (m *Metrics) SlackError(method, errText string) {
	if m != nil {
		m.slackErrors.WithLabelValues(method, errText).Inc()
	}
}

// SlackRateLimited records a 429 from Slack.
func (m *Metrics) SlackRateLimited(method string) {
	if m != nil {
		m.slackRateLimited.WithLabelValues(method).Inc()
	}
}

// SignatureFailure records a request refused before parsing (reason: missing, stale, invalid, too_large).
func (m *Metrics) SignatureFailure(reason string) {
	if m != nil {
		m.signatureFails.WithLabelValues(reason).Inc()
	}
}

// Command counts one slash command by verb.
func (m *Metrics) Command(verb string) {
	if m != nil {
		m.commands.WithLabelValues(verb).Inc()
	}
}

// Interaction counts one button click by action and outcome (accepted, refused, error).
func (m *Metrics) Interaction(action, outcome string) {
	if m != nil {
		m.interactions.WithLabelValues(action, outcome).Inc()
	}
}

// Digest records the posting of one channel's digest: how long it took and how many instances it listed.
func (m *Metrics) Digest(took time.Duration, channel string, instances int) {
	if m != nil {
		m.digestDuration.Observe(took.Seconds())
		m.digestSize.WithLabelValues(channel).Set(float64(instances))
	}
}

// ScanSucceeded records the time of a complete expiring scan.
func (m *Metrics) ScanSucceeded(at time.Time) {
	if m != nil {
		m.lastScan.Set(float64(at.Unix()))
	}
}
