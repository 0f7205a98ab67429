package ecs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/bssopenapi"
	ecsapi "github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
)

// Client talks to ECS in every configured region. Safe for concurrent use.
//
// The v1 SDK client is not safe for concurrent calls: every call rewrites its
// http.Client.Timeout and transport, and the default credentials chain records the last
// provider without a lock. So the Client keeps a pool of SDK clients, one per call slot
// (Config.Concurrency): taking a slot is taking an SDK client, and each is built once and
// reused. One SDK client serves every region, because the region (and with it the
// endpoint) is set on each request. A region may hold at most half of the slots, so a
// region whose calls are slow or hang delays the account's other regions at most by half.
type Client struct {
	cfg    Config
	log    *slog.Logger
	creds  credentials.CredentialsProvider
	scheme string   // "HTTP" or "HTTPS"
	domain string   // endpoint override, "" = Alibaba's regional endpoints
	direct bool     // the endpoint is on loopback: never use a proxy
	bss    endpoint // the BSS endpoint override; zero: Alibaba's
	limits *limiters
	slots  chan *ecsapi.Client // the account's call slots
	gates  regionGates         // each region's share of them

	regionsMu sync.Mutex
	regions   []string
}

// sdkInit fills the SDK's package-level ECS endpoint map, which the SDK otherwise fills
// lazily, without a lock, whenever an SDK client is built: pooled SDK clients are built
// concurrently, so that first fill would be a data race.
var sdkInit = sync.OnceFunc(func() { ecsapi.GetEndpointMap(); bssopenapi.GetEndpointMap() })

// New builds a Client. It does not call the API.
func New(cfg Config) (*Client, error) {
	sdkInit()
	if cfg.HomeRegion == "" {
		cfg.HomeRegion = "cn-hangzhou"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	if cfg.Retry.Attempts <= 0 {
		cfg.Retry.Attempts = 5
	}
	if cfg.Retry.Base <= 0 {
		cfg.Retry.Base = 200 * time.Millisecond
	}
	if cfg.Retry.Max <= 0 {
		cfg.Retry.Max = 10 * time.Second
	}
	if cfg.VerifyEvery <= 0 {
		cfg.VerifyEvery = 2 * time.Second
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	c := &Client{cfg: cfg, log: cfg.Logger, scheme: "HTTPS"}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if len(cfg.Regions) > 0 {
		c.regions = append([]string(nil), cfg.Regions...)
	}
	switch {
	case cfg.AccessKeyID != "" && cfg.AccessKeySecret == "":
		return nil, errors.New("ecs: AccessKeyID is set but AccessKeySecret is empty")
	case cfg.AccessKeyID != "" && cfg.SecurityToken != "":
		c.creds = credentials.NewStaticSTSCredentialsProvider(cfg.AccessKeyID, cfg.AccessKeySecret, cfg.SecurityToken)
	case cfg.AccessKeyID != "":
		c.creds = credentials.NewStaticAKCredentialsProvider(cfg.AccessKeyID, cfg.AccessKeySecret)
	default:
		// env ALIBABA_CLOUD_ACCESS_KEY_ID/_SECRET/_SECURITY_TOKEN, OIDC, CLI profile,
		// credentials file, ECS RAM role (IMDS), credentials URI.
		c.creds = &lockedProvider{p: credentials.NewDefaultCredentialsProvider()}
	}
	if cfg.Role != nil {
		p, err := cfg.Role.provider(c.creds)
		if err != nil {
			return nil, err
		}
		c.creds = p
	}
	if err := cfg.RateLimit.Validate(); err != nil {
		return nil, fmt.Errorf("ecs: rate limit: %w", err)
	}
	c.limits = newLimiters(cfg.RateLimit)
	if cfg.BSSEndpoint != "" {
		ep, err := parseEndpoint(cfg.BSSEndpoint)
		if err != nil {
			return nil, err
		}
		c.bss = ep
	}
	if cfg.Endpoint != "" {
		if err := c.setEndpoint(cfg.Endpoint); err != nil {
			return nil, err
		}
		if cfg.BSSEndpoint == "" && c.direct {
			// An emulator on loopback (ecssim) answers BSS too: never send a local setup's
			// balance query to Alibaba.
			c.bss = endpoint{scheme: c.scheme, domain: c.domain, direct: true}
		}
	}
	c.slots = make(chan *ecsapi.Client, cfg.Concurrency)
	for range cfg.Concurrency {
		c.slots <- nil // built on first use
	}
	c.gates = regionGates{size: max(1, cfg.Concurrency/2)}
	return c, nil
}

// regionGates bounds each region's calls in flight: a region takes a place in its gate
// before it takes one of the account's slots.
type regionGates struct {
	size     int
	mu       sync.Mutex
	byRegion map[string]chan struct{}
}

func (g *regionGates) of(region string) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	ch, ok := g.byRegion[region]
	if !ok {
		if g.byRegion == nil {
			g.byRegion = map[string]chan struct{}{}
		}
		ch = make(chan struct{}, g.size)
		g.byRegion[region] = ch
	}
	return ch
}

// endpoint is an endpoint override: where calls go and how.
type endpoint struct {
	scheme string // "HTTP" or "HTTPS"
	domain string // host:port
	direct bool   // on loopback: never through a proxy
}

// setEndpoint sets the ECS endpoint override.
func (c *Client) setEndpoint(ep string) error {
	e, err := parseEndpoint(ep)
	if err != nil {
		return err
	}
	c.scheme, c.domain, c.direct = e.scheme, e.domain, e.direct
	return nil
}

// parseEndpoint parses "host:port" or "http(s)://host:port". A bare loopback address means
// plain HTTP (ecssim); any other bare host means HTTPS.
func parseEndpoint(ep string) (endpoint, error) {
	e := endpoint{scheme: "HTTPS"}
	host := ep
	if strings.Contains(ep, "://") {
		u, err := url.Parse(ep)
		if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return e, fmt.Errorf("ecs: endpoint %q: want host:port or http(s)://host:port", ep)
		}
		switch strings.ToLower(u.Scheme) {
		case "http":
			e.scheme = "HTTP"
		case "https":
			e.scheme = "HTTPS"
		default:
			return e, fmt.Errorf("ecs: endpoint %q: scheme must be http or https", ep)
		}
		host = u.Host
	}
	if host == "" || strings.ContainsAny(host, "/?# ") {
		return e, fmt.Errorf("ecs: endpoint %q: want host:port or http(s)://host:port", ep)
	}
	e.domain = host
	e.direct = isLoopback(host)
	if e.direct && !strings.Contains(ep, "://") {
		e.scheme = "HTTP"
	}
	return e, nil
}

func isLoopback(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// newSDK builds one SDK client: no SDK retries (ours are better), explicit timeouts, the
// endpoint override, and no proxy for a loopback endpoint (the SDK would otherwise send
// even 127.0.0.1 through HTTP_PROXY).
func (c *Client) newSDK() (*ecsapi.Client, error) {
	sc := sdk.NewConfig().WithAutoRetry(false).WithScheme(c.scheme).WithTimeout(c.cfg.Timeout)
	api, err := ecsapi.NewClientWithOptions(c.cfg.HomeRegion, sc, c.creds)
	if err != nil {
		return nil, fmt.Errorf("ecs: SDK client: %w", err)
	}
	api.SetReadTimeout(c.cfg.Timeout)
	api.SetConnectTimeout(c.cfg.ConnectTimeout)
	if c.domain != "" {
		api.Domain = c.domain
	}
	var direct []string // the SDK reads a comma list of patterns
	for _, ep := range []endpoint{{domain: c.domain, direct: c.direct}, c.bss} {
		if ep.direct {
			direct = append(direct, "^"+regexp.QuoteMeta(ep.domain)+"$")
		}
	}
	if len(direct) > 0 {
		api.SetNoProxy(strings.Join(direct, ","))
	}
	return api, nil
}

// lockedProvider serialises a credentials provider that is not safe for concurrent use
// (the SDK's default chain), and marks its failures so they map to ErrAccessDenied.
type lockedProvider struct {
	mu sync.Mutex
	p  credentials.CredentialsProvider
}

func (l *lockedProvider) GetCredentials() (*credentials.Credentials, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cc, err := l.p.GetCredentials()
	if err != nil {
		return nil, &credentialsError{err: err}
	}
	return cc, nil
}

func (l *lockedProvider) GetProviderName() string { return l.p.GetProviderName() }

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// attempt is one try of an API call on a borrowed SDK client. It must build a fresh request
// from the same inputs every time (the SDK writes into the request while signing), set its
// RegionId, and pass it through prepare.
type attempt func(api *ecsapi.Client, prepare func(req requests.AcsRequest)) error

// call runs one API action with retries: exponential backoff with full jitter on
// throttling, 5xx and network errors, the same parameters (so the same ClientToken) on
// every attempt. calls, when not nil, counts the attempts.
//
// Throttling is refused before anything is done, but it says nothing about an earlier
// attempt: if one went unanswered (a 5xx, a network error, "still processing"), a call
// that ends throttled ends with its outcome unknown (ErrUnavailable), never as ErrThrottled,
// which callers read as "nothing happened".
func (c *Client) call(ctx context.Context, calls *atomic.Int64, action, region, target string, try attempt) error {
	p := c.cfg.Retry
	var unanswered *APIError // the first attempt that may have been carried out
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("ecs: %s: %w", action, err)
		}
		took, err := c.once(ctx, calls, region, action, try)
		if pe := (*pacingError)(nil); errors.As(err, &pe) {
			return fmt.Errorf("ecs: %s: waiting for the %s pace of %s: %w", action, region, cmp.Or(c.cfg.Account, "the account"), pe.err)
		}
		if err == nil {
			c.observe(action, "", took)
			return nil
		}
		if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
			c.observe(action, "Canceled", took)
			return fmt.Errorf("ecs: %s: %w", action, ctx.Err())
		}
		e := classify(action, target, err)
		e.Attempts = n
		c.observe(action, observeCode(e), took)
		if e.Kind == ErrThrottled && unanswered != nil {
			e = unknownOutcome(e, unanswered)
		} else if unanswered == nil && e.unanswered() {
			unanswered = e
		}
		if !e.retryable() || n >= p.Attempts {
			c.log.Debug("ecs call failed", "action", action, "region", region, "code", e.Code, "attempts", n)
			return e
		}
		d := backoff(p, n)
		c.log.Warn("ecs call retry", "action", action, "region", region, "code", e.Code, "attempt", n, "wait", d)
		if serr := c.cfg.Sleep(ctx, d); serr != nil {
			return fmt.Errorf("%w (stopped retrying: %w)", e, serr)
		}
	}
}

// unknownOutcome is a throttled attempt after an earlier one went unanswered: the call's
// outcome is unknown, so its kind is ErrUnavailable; the message names both.
func unknownOutcome(throttled, earlier *APIError) *APIError {
	e := *throttled
	e.Kind = ErrUnavailable
	e.Message = throttled.Message + "; an earlier attempt got no clear answer"
	if earlier.Code != "" {
		e.Message += " (" + earlier.Code + ")"
	}
	return &e
}

func observeCode(e *APIError) string {
	switch {
	case e.Code != "":
		return e.Code
	case e.Kind == ErrUnavailable:
		return "NetworkError"
	default:
		return "Error"
	}
}

// backoff is full jitter: uniform in [0, min(Max, Base·2^(n-1))].
func backoff(p RetryPolicy, n int) time.Duration {
	d := p.Max
	if n < 32 {
		if e := p.Base << (n - 1); e > 0 && e < d {
			d = e
		}
	}
	return rand.N(d + 1)
}

// once makes one attempt on a pooled SDK client, with a token of the (region, action)
// pace taken when the client is free (limiters.take), and returns how long the call took
// once sent. The v1 SDK takes no context, so the request timeout is cut to the context's
// deadline, and a cancelled context returns at once while the call finishes in the
// background (it then gives its slot back). A wait for the pace that ends early is a
// *pacingError.
func (c *Client) once(ctx context.Context, calls *atomic.Int64, region, action string, try attempt) (time.Duration, error) {
	var api *ecsapi.Client
	gate := c.gates.of(region)
	release := func() { c.slots <- api; <-gate }
	err := c.limits.take(ctx, region, action, func() error {
		select {
		case gate <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case api = <-c.slots:
			return nil
		case <-ctx.Done():
			<-gate
			return ctx.Err()
		}
	}, release)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	if api == nil {
		var err error
		if api, err = c.newSDK(); err != nil {
			release() // api is nil: the slot's client is built on next use
			return 0, err
		}
	}
	timeout := c.cfg.Timeout
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < timeout {
			timeout = max(left, time.Millisecond)
		}
	}
	prepare := func(req requests.AcsRequest) {
		req.SetReadTimeout(timeout)
		req.SetConnectTimeout(min(timeout, c.cfg.ConnectTimeout))
	}
	if calls != nil {
		calls.Add(1)
	}
	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				// The v1 SDK panics on some malformed answers (an error body whose Code is
				// not a string). The request may have been carried out: outcome unknown.
				api = nil // rebuilt on next use
				done <- &sdkPanic{value: fmt.Sprint(p)}
			}
			release()
		}()
		done <- try(api, prepare)
	}()
	select {
	case err := <-done:
		return time.Since(start), err
	case <-ctx.Done():
		return time.Since(start), ctx.Err()
	}
}

// sdkPanic is a panic of the SDK during a call, turned into an error.
type sdkPanic struct{ value string }

func (e *sdkPanic) Error() string {
	return "the Alibaba Cloud SDK could not read the answer (it panicked: " + e.value + ")"
}

func (c *Client) observe(action, code string, took time.Duration) {
	if c.cfg.Observe != nil {
		c.cfg.Observe(action, code, took)
	}
}
