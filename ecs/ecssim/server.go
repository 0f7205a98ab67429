// Package ecssim is a loopback emulator of the Alibaba Cloud ECS RPC API (version 2014-05-26)
// for the six actions renewbot uses: DescribeRegions, DescribeInstances, DescribeRenewalPrice,
// RenewInstance, DescribeInstanceAutoRenewAttribute and ModifyInstanceAutoRenewAttribute.
//
// The real alibaba-cloud-sdk-go client talks to it over HTTP: point client.Domain at the host:port
// of Server.URL. It verifies HMAC-SHA1 signatures, nonces and timestamps like Alibaba, answers
// with the JSON shapes the SDK decodes and with Alibaba's documented error codes and HTTP
// statuses, keeps ClientToken idempotency, an account balance and an order record, and can
// inject latency, throttling and 5xx errors per action.
package ecssim

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"maps"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Options configures a Server. The zero value is usable.
type Options struct {
	AccessKeyID, AccessKeySecret string        // default "testid" / "testsecret"
	RenewDelay                   time.Duration // the new ExpiredTime is visible after this; default 10s; negative: immediately
	// Now is the business clock (expiry, renew delay, order time). Default: Fleet.Now plus the
	// real time elapsed since NewServer, or time.Now. Signature timestamps are always checked
	// against the wall clock.
	Now   func() time.Time
	Fleet Fleet
	// Regions are region IDs known besides those of the fleet's instances (DescribeRegions lists
	// both; other actions answer 404 InvalidRegionId.NotFound for a region in neither).
	Regions []string
	Seed    int64 // fault-injection randomness
	// Hook, if set, is called after the signature check and before the action runs (tests
	// block in-flight calls here).
	Hook func(action string, params url.Values)
	Log  *slog.Logger
	// AutoRenew makes the emulator charge AutoRenewal instances like Alibaba: at 08:00 UTC+8
	// nine days before expiry it places an order of Duration PeriodUnit (AutoRenew set in the
	// Order) and extends the expiry at once; without balance it retries on later calls until
	// the instance expires. Off by default, so that tests see only the orders they place.
	AutoRenew bool
	// Throttle refuses calls over a rate, as Alibaba does; the zero value throttles nothing.
	Throttle Throttle
	// STSNow is the clock of STS credentials: their Expiration, and the check that refuses them
	// afterwards (InvalidSecurityToken.Expired). Default time.Now; tests move a Clock instead of
	// waiting the 15 minutes a token lasts at least.
	STSNow func() time.Time
}

// Throttle is Alibaba's throttling: a token bucket per (account, region, API), as Alibaba
// throttles each account per region and per API operation (the numbers are not published;
// they are per account in its Quota Center). A call that finds its bucket empty is refused
// with 400 Throttling before it is carried out, counted in Server.Throttled. The buckets run
// on the wall clock, not on Options.Now. Global APIs (STS, BSS) count under region "".
type Throttle struct {
	PerSecond float64 // calls per second per (account, region, API); 0: no throttling
	Burst     int     // calls at once; 0: PerSecond rounded up
}

// Order is one successful RenewInstance (or, with Options.AutoRenew, one automatic renewal).
type Order struct {
	OrderId     string
	InstanceId  string
	RegionId    string
	ClientToken string
	Period      int
	PeriodUnit  string
	Amount      float64
	Currency    string
	Time        time.Time
	AutoRenew   bool   `json:",omitempty"`
	AccountUID  string // the account that paid: DefaultAccountUID or one of Fleet.Accounts
}

// Account is an emulated account's balance. UID and Name are set for the accounts of
// Fleet.Accounts.
type Account struct {
	UID      string `json:",omitempty"`
	Name     string `json:",omitempty"`
	Balance  float64
	Currency string
}

// Faults makes calls of Action ("" = every action without faults of its own) slow or fail:
// each call waits LatencyMs, then fails with 400 Throttling at ThrottleRate, or else with 500
// InternalError / 503 ServiceUnavailable at ErrorRate (nothing was done), or else, at
// LostRate, runs and has its answer lost: the effect stays (an order is placed and charged)
// but the caller gets 500 InternalError, as when Alibaba fails after doing the work. The
// draws come from a generator seeded with Options.Seed, so a sequential test sees the same
// failures on every run.
type Faults struct {
	Action       string
	LatencyMs    int
	ThrottleRate float64
	ErrorRate    float64
	LostRate     float64 `json:",omitempty"`
}

// regionKey is one account's instances in one region: a DescribeInstances page walks only
// those, not the other accounts' instances of the region.
type regionKey struct {
	owner  *account
	region string
}

// Server is a running (or not yet started) emulator. It is safe for concurrent use.
type Server struct {
	URL string // http://127.0.0.1:PORT once started

	opts    Options
	now     func() time.Time
	handler http.Handler
	srv     *http.Server
	closing chan struct{}
	closed  sync.Once
	serveWG sync.WaitGroup
	certPEM []byte // the self-signed certificate of the TLS side of the listener

	answerBuffers sync.Pool // of *[]byte: writeAnswer's

	mu          sync.Mutex
	instances   map[string]*instance
	byRegion    map[regionKey][]*instance // by account and region, sorted by InstanceId; nil after a change
	gen         uint64                    // counts changes to instances: cached matches of older ones are stale
	matches     map[matchKey]matchEntry
	regions     map[string]bool
	accounts    []*account          // the default account (Options' key, Fleet's balance and instances) first
	byKey       map[string]*account // by AccessKeyId
	sts         map[string]*stsCredential
	orders      []Order
	tokens      map[string]tokenRecord
	inflight    map[string]bool // "RenewInstance|token" of calls being processed
	nonces      map[string]time.Time
	noncePurged time.Time
	calls       map[string]int
	throttleMu  sync.Mutex // the throttle's own lock: a call is throttled by its arrival, not by the emulator's work
	throttled   map[string]int
	buckets     map[bucketKey]*rate.Limiter
	faults      map[string]Faults
	rng         *rand.Rand
	orderSeq    int64
}

type tokenRecord struct {
	fingerprint string
	orderID     string
}

// pendingExpiry is a renewal whose new ExpiredTime is not visible yet.
type pendingExpiry struct {
	visibleAt time.Time
	expiry    time.Time
	unlock    bool // the instance was expired when renewed: it runs again once visible
}

type instance struct {
	FleetInstance
	owner   *account
	pending []pendingExpiry
	view    rawJSON // the DescribeInstances encoding (encoded), for viewKey
	viewKey viewKey
}

// NewServer starts a Server on 127.0.0.1 with a random port. It panics if it cannot listen,
// like httptest.NewServer.
func NewServer(opts Options) *Server {
	s := NewUnstartedServer(opts)
	s.Start()
	return s
}

// NewUnstartedServer returns a Server that is not listening yet: call Start or Listen, or
// mount Handler yourself.
func NewUnstartedServer(opts Options) *Server {
	if opts.AccessKeyID == "" {
		opts.AccessKeyID = "testid"
	}
	if opts.AccessKeySecret == "" {
		opts.AccessKeySecret = "testsecret"
	}
	if opts.RenewDelay == 0 {
		opts.RenewDelay = 10 * time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.STSNow == nil {
		opts.STSNow = time.Now
	}
	s := &Server{
		opts:      opts,
		closing:   make(chan struct{}),
		instances: make(map[string]*instance),
		matches:   make(map[matchKey]matchEntry),
		regions:   make(map[string]bool),
		byKey:     make(map[string]*account),
		sts:       make(map[string]*stsCredential),
		tokens:    make(map[string]tokenRecord),
		inflight:  make(map[string]bool),
		nonces:    make(map[string]time.Time),
		calls:     make(map[string]int),
		throttled: make(map[string]int),
		buckets:   make(map[bucketKey]*rate.Limiter),
		faults:    make(map[string]Faults),
		rng:       rand.New(rand.NewPCG(uint64(opts.Seed), 0xecc)),
		orderSeq:  210000000000000 + (opts.Seed%1000+1000)%1000*1000000,
	}
	def := &account{uid: DefaultAccountUID, keyID: opts.AccessKeyID, secret: opts.AccessKeySecret, balance: opts.Fleet.Balance, currency: opts.Fleet.Currency}
	s.addAccount(def)
	switch {
	case opts.Now != nil:
		s.now = opts.Now
	case opts.Fleet.Now != nil:
		start, base := time.Now(), opts.Fleet.Now.UTC()
		s.now = func() time.Time { return base.Add(time.Since(start)) }
	default:
		s.now = time.Now
	}
	for _, r := range opts.Regions {
		s.regions[r] = true
	}
	s.AddInstances(opts.Fleet.Instances...)
	for _, fa := range opts.Fleet.Accounts {
		a := &account{uid: fa.UID, name: fa.Name, keyID: fa.AccessKeyID, secret: fa.AccessKeySecret,
			balance: fa.Balance, currency: fa.Currency, roles: map[string]FleetRole{}}
		for _, r := range fa.Roles {
			a.roles[r.Name] = r
		}
		if !s.addAccount(a) {
			s.opts.Log.Warn("ecssim: account skipped: its access key or uid is taken", "uid", fa.UID)
			continue
		}
		s.addInstances(a, fa.Instances...)
	}
	s.handler = s.routes()
	return s
}

// Start listens on 127.0.0.1 with a random port. It panics on failure.
func (s *Server) Start() {
	if err := s.Listen("127.0.0.1:0"); err != nil {
		panic("ecssim: " + err.Error())
	}
}

// Listen starts serving on addr ("127.0.0.1:18080"; port 0 picks a free port) and sets URL.
// The same port answers TLS (TLSURL, CertificatePEM).
func (s *Server) Listen(addr string) error {
	cert, certPEM, err := selfSigned()
	if err != nil {
		return err
	}
	raw, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	// Plain HTTP and TLS on the same port (tls.go): the SDK's RAM-role provider calls STS
	// only over https.
	ln := newSniffListener(raw, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	s.certPEM = certPEM
	s.URL = "http://" + ln.Addr().String()
	s.srv = &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(s.opts.Log.Handler(), slog.LevelDebug)} // e.g. a client that does not trust the certificate
	s.serveWG.Add(1)
	go func() {
		defer s.serveWG.Done()
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.opts.Log.Error("ecssim: serve", "err", err)
		}
	}()
	return nil
}

// Close stops the server; it blocks until in-flight calls have finished. Injected latency is
// cut short.
func (s *Server) Close() {
	s.closed.Do(func() { close(s.closing) })
	if s.srv != nil {
		_ = s.srv.Shutdown(context.Background())
	}
	s.serveWG.Wait()
}

// Handler is the whole API, /_sim/* control endpoints included.
func (s *Server) Handler() http.Handler { return s.handler }

// Orders returns the orders placed so far, oldest first.
func (s *Server) Orders() []Order {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.autoRenew(s.now())
	return append([]Order(nil), s.orders...)
}

// Account returns the default account's balance (the account of Options.AccessKeyID).
func (s *Server) Account() Account {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.autoRenew(s.now())
	return s.accounts[0].view()
}

// Accounts returns every account's balance: the default account first, then Fleet.Accounts.
func (s *Server) Accounts() []Account {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.autoRenew(s.now())
	out := make([]Account, 0, len(s.accounts))
	for _, a := range s.accounts {
		out = append(out, a.view())
	}
	return out
}

// SetBalance sets the default account's balance.
func (s *Server) SetBalance(v float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts[0].balance = v
}

// SetAccountBalance sets the balance of the account with that UID; it reports false when
// there is none.
func (s *Server) SetAccountBalance(uid string, v float64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.accounts {
		if a.uid == uid {
			a.balance = v
			return true
		}
	}
	return false
}

// Calls returns the number of validly signed API calls by action (faulted ones included).
func (s *Server) Calls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.calls)
}

// Throttled returns the number of calls refused by Options.Throttle, by action.
func (s *Server) Throttled() map[string]int {
	s.throttleMu.Lock()
	defer s.throttleMu.Unlock()
	return maps.Clone(s.throttled)
}

// bucketKey is one throttling bucket: an account's calls of one API in one region.
type bucketKey struct {
	uid, region, action string
}

// throttle takes a token of the call's bucket at the time the call arrived; false means the
// call is refused.
func (s *Server) throttle(a *account, region, action string, arrived time.Time) bool {
	t := s.opts.Throttle
	if t.PerSecond <= 0 {
		return true
	}
	s.throttleMu.Lock()
	defer s.throttleMu.Unlock()
	k := bucketKey{a.uid, region, action}
	lim, ok := s.buckets[k]
	if !ok {
		burst := t.Burst
		if burst <= 0 {
			burst = int(math.Ceil(t.PerSecond))
		}
		lim = rate.NewLimiter(rate.Limit(t.PerSecond), burst)
		s.buckets[k] = lim
	}
	if lim.AllowN(arrived, 1) {
		return true
	}
	s.throttled[action]++
	return false
}

// SetFaults sets the faults of f.Action ("" = all actions); a zero Faults clears them.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.LatencyMs == 0 && f.ThrottleRate == 0 && f.ErrorRate == 0 && f.LostRate == 0 {
		delete(s.faults, f.Action)
		return
	}
	s.faults[f.Action] = f
}

// Instance returns the current state of an instance as DescribeInstances shows it now
// (ExpiredTime as visible, Status Stopped once expired). It reports false for unknown and
// released instances.
func (s *Server) Instance(id string) (FleetInstance, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.autoRenew(now)
	in, ok := s.lookup(id, now)
	if !ok {
		return FleetInstance{}, false
	}
	out := in.FleetInstance
	if in.expired(now) {
		out.Status = "Stopped"
	}
	out.Tags = maps.Clone(in.Tags)
	return out, true
}

// AddInstances adds instances to the default account (defaults filled as for a fleet file),
// replacing any with the same InstanceId. Invalid instances (see Fleet.Validate) are skipped and logged.
func (s *Server) AddInstances(in ...FleetInstance) {
	s.addInstances(s.accounts[0], in...)
}

// addInstances adds instances owned by account a.
func (s *Server) addInstances(a *account, in ...FleetInstance) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, fi := range in {
		if err := validateInstance(fi); err != nil {
			s.opts.Log.Warn("ecssim: instance skipped", "instance", fi.InstanceId, "err", err)
			continue
		}
		fi = withDefaults(fi)
		s.instances[fi.InstanceId] = &instance{FleetInstance: fi, owner: a}
		s.byRegion = nil
		s.gen++
		s.regions[fi.RegionId] = true
	}
}

// regionList returns the known regions, sorted.
func (s *Server) regionList() []string {
	out := make([]string, 0, len(s.regions))
	for r := range s.regions {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// lookup returns a live (not released) instance after applying renewals that became visible.
// The caller holds s.mu.
func (s *Server) lookup(id string, now time.Time) (*instance, bool) {
	in, ok := s.instances[id]
	if !ok {
		return nil, false
	}
	in.settle(now)
	if in.released(now) {
		return nil, false
	}
	return in, true
}

// settle applies pending renewals whose visibleAt has come.
func (in *instance) settle(now time.Time) {
	for len(in.pending) > 0 && !now.Before(in.pending[0].visibleAt) {
		p := in.pending[0]
		in.pending = in.pending[1:]
		in.ExpiredTime = p.expiry
		if p.unlock {
			in.Status = "Running"
		}
	}
}

// latestExpiry is the expiry including renewals not yet visible.
func (in *instance) latestExpiry() time.Time {
	if n := len(in.pending); n > 0 {
		return in.pending[n-1].expiry
	}
	return in.ExpiredTime
}

func (in *instance) prePaid() bool { return in.InstanceChargeType == chargePrePaid }

// expired reports whether a PrePaid instance's visible expiry has passed (it is then Stopped
// and locked for "financial" reasons).
func (in *instance) expired(now time.Time) bool {
	return in.prePaid() && !now.Before(in.ExpiredTime)
}

// released reports whether an expired instance has been released: 15 days after expiry,
// unless a renewal is on its way.
func (in *instance) released(now time.Time) bool {
	return in.prePaid() && len(in.pending) == 0 && !now.Before(in.ExpiredTime.Add(releaseAfter))
}
