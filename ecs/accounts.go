package ecs

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
)

// Role is a RAM role the account's calls are made as: AssumeRole (STS) from the base
// credentials, through the SDK's own provider, which caches the temporary credentials and
// asks for new ones 3 minutes before they expire.
type Role struct {
	ARN         string        // acs:ram::UID:role/NAME
	ExternalID  string        // optional, when the role's trust policy asks for one
	SessionName string        // RoleSessionName; "" = renewbot
	Duration    time.Duration // of each set of credentials; 0 = 1h; 15m to 12h
	// STSEndpoint is where AssumeRole goes: "host:port" or "https://host:port" ("" =
	// sts.aliyuncs.com). The SDK only calls STS over HTTPS.
	STSEndpoint string
}

// RoleARNPattern is the shape of a RAM role ARN.
var roleARNPattern = lazyRegexp(`^acs:ram::([0-9]{1,32}):role/([A-Za-z0-9.@_-]{1,64})$`)

// ParseRoleARN returns the account UID and role name of acs:ram::UID:role/NAME.
func ParseRoleARN(arn string) (uid, name string, err error) {
	m := roleARNPattern().FindStringSubmatch(arn)
	if m == nil {
		return "", "", fmt.Errorf("%q is not a RAM role ARN like acs:ram::1234567890123456:role/renewbot", arn)
	}
	return m[1], m[2], nil
}

var sessionNamePattern = lazyRegexp(`^[A-Za-z0-9.@_-]{2,64}$`)

// Validate checks the role as STS would.
func (r Role) Validate() error {
	if _, _, err := ParseRoleARN(r.ARN); err != nil {
		return err
	}
	if r.SessionName != "" && !sessionNamePattern().MatchString(r.SessionName) {
		return fmt.Errorf("session name %q: 2 to 64 letters, digits and . @ _ -", r.SessionName)
	}
	if r.Duration != 0 && (r.Duration < 15*time.Minute || r.Duration > 12*time.Hour) {
		return fmt.Errorf("duration %s: from 15m to 12h", r.Duration)
	}
	if len(r.ExternalID) > 1224 {
		return errors.New("external ID: at most 1224 characters")
	}
	if r.STSEndpoint != "" {
		if _, err := stsHost(r.STSEndpoint); err != nil {
			return err
		}
	}
	return nil
}

// stsHost is the host:port the SDK's provider puts after https://.
func stsHost(ep string) (string, error) {
	host := ep
	if rest, ok := strings.CutPrefix(ep, "https://"); ok {
		host = strings.TrimSuffix(rest, "/")
	} else if strings.Contains(ep, "://") {
		return "", fmt.Errorf("STS endpoint %q: the SDK calls STS over HTTPS only; give host:port or https://host:port", ep)
	}
	if host == "" || strings.ContainsAny(host, "/?#@ ") {
		return "", fmt.Errorf("STS endpoint %q: want host:port or https://host:port", ep)
	}
	return host, nil
}

// provider builds the SDK's RAM role provider on top of the base credentials. The SDK's
// provider is not safe for concurrent use (it rewrites its cached credentials without a
// lock), so it is serialised like the default chain.
func (r Role) provider(base credentials.CredentialsProvider) (credentials.CredentialsProvider, error) {
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("ecs: role: %w", err)
	}
	b := credentials.NewRAMRoleARNCredentialsProviderBuilder().
		WithCredentialsProvider(base).
		WithRoleArn(r.ARN).
		WithRoleSessionName(cmp.Or(r.SessionName, "renewbot")).
		WithDurationSeconds(int(cmp.Or(r.Duration, time.Hour) / time.Second))
	if r.ExternalID != "" {
		b = b.WithExternalId(r.ExternalID)
	}
	if r.STSEndpoint != "" {
		host, _ := stsHost(r.STSEndpoint)
		b = b.WithStsEndpoint(host)
	}
	p, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("ecs: role %s: %w", r.ARN, err)
	}
	return &lockedProvider{p: p}, nil
}

// ---- extra CA certificates

// The SDK's RAM role provider calls STS with a clone of http.DefaultTransport and offers no
// other way to choose the certificates it trusts. So extra CA certificates (RENEWBOT_CA_FILE:
// a private STS endpoint, ecssim's self-signed one) are trusted by giving
// http.DefaultTransport a verifier that accepts the system roots plus those certificates.
// (SSL_CERT_FILE, read by Go itself, replaces the system roots instead.)
var extraRoots struct {
	install sync.Once
	mu      sync.Mutex                    // serialises adding
	pool    atomic.Pointer[x509.CertPool] // system roots + every added certificate
}

// TrustCAFile makes the HTTPS calls made through http.DefaultTransport (the SDK's STS
// calls; not the SDK's ECS and BSS clients, which build their own transport) trust the CA
// certificates in the PEM file as well as the system's. Call it before making clients.
func TrustCAFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("CA file: %w", err)
	}
	return TrustCAs(data)
}

// TrustCAs is TrustCAFile with the PEM text.
func TrustCAs(pemData []byte) error {
	var certs []*x509.Certificate
	for rest := pemData; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return fmt.Errorf("CA file: %w", err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return errors.New("CA file: no PEM certificate in it")
	}
	extraRoots.mu.Lock()
	defer extraRoots.mu.Unlock()
	var pool *x509.CertPool
	if cur := extraRoots.pool.Load(); cur != nil {
		pool = cur.Clone()
	} else if sys, err := x509.SystemCertPool(); err == nil {
		pool = sys
	} else {
		pool = x509.NewCertPool()
	}
	for _, c := range certs {
		pool.AddCert(c)
	}
	extraRoots.pool.Store(pool)
	var installErr error
	extraRoots.install.Do(func() {
		t, ok := http.DefaultTransport.(*http.Transport)
		if !ok {
			installErr = errors.New("CA file: http.DefaultTransport is not an *http.Transport")
			return
		}
		t.TLSClientConfig = &tls.Config{
			MinVersion: tls.VersionTLS12,
			// The chain is verified below, against the pool as it is at handshake time
			// (crypto/tls's documented way to verify with a changing root set).
			InsecureSkipVerify: true,
			VerifyConnection:   verifyWithExtraRoots,
		}
	})
	return installErr
}

// verifyWithExtraRoots does what crypto/tls does by default, with the extra roots.
func verifyWithExtraRoots(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("tls: the server sent no certificate")
	}
	opts := x509.VerifyOptions{
		Roots:         extraRoots.pool.Load(),
		DNSName:       cs.ServerName,
		Intermediates: x509.NewCertPool(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, c := range cs.PeerCertificates[1:] {
		opts.Intermediates.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(opts)
	return err
}

// ---- many accounts

// Accounts is one Client per account, in the order configured. With one unnamed account it
// behaves as a single Client does.
type Accounts struct {
	list []*Client

	mu    sync.Mutex
	owner map[string]*Client // instance ID → its account, from every lookup and scan (IDs are unique)
}

// NewAccounts builds a Client per configuration. Names must be unique; "" is allowed only
// for a single account (the default one).
func NewAccounts(cfgs []Config) (*Accounts, error) {
	if len(cfgs) == 0 {
		return nil, errors.New("ecs: no account")
	}
	a := &Accounts{owner: map[string]*Client{}}
	seen := map[string]bool{}
	for _, cfg := range cfgs {
		if cfg.Account == "" && len(cfgs) > 1 {
			return nil, errors.New("ecs: with more than one account every account needs a name")
		}
		if seen[cfg.Account] {
			return nil, fmt.Errorf("ecs: account %q is configured twice", cfg.Account)
		}
		seen[cfg.Account] = true
		c, err := New(cfg)
		if err != nil {
			if cfg.Account != "" {
				return nil, fmt.Errorf("account %s: %w", cfg.Account, err)
			}
			return nil, err
		}
		a.list = append(a.list, c)
	}
	return a, nil
}

// Names lists the account names in the configured order.
func (a *Accounts) Names() []string {
	out := make([]string, len(a.list))
	for i, c := range a.list {
		out[i] = c.cfg.Account
	}
	return out
}

// Clients lists the accounts' clients in the configured order.
func (a *Accounts) Clients() []*Client { return slices.Clone(a.list) }

// Name is the account name the Client was configured with ("" = the default account).
func (c *Client) Name() string { return c.cfg.Account }

// Client returns the named account's client.
func (a *Accounts) Client(name string) (*Client, error) {
	for _, c := range a.list {
		if c.cfg.Account == name {
			return c, nil
		}
	}
	return nil, &UnknownAccountError{Name: name, Known: a.Names()}
}

// UnknownAccountError is a reference to an account that is not configured (names are
// matched exactly). It is an ErrNotFound.
type UnknownAccountError struct {
	Name  string
	Known []string
}

func (e *UnknownAccountError) Error() string {
	return fmt.Sprintf("no account named %q (accounts: %s)", e.Name, strings.Join(e.Known, ", "))
}

func (e *UnknownAccountError) Unwrap() error { return ErrNotFound }

// Ref is an instance reference as commands take it: "ID" or "ACCOUNT:ID".
type Ref struct {
	Account string // "" = look in every account
	ID      string
}

func (r Ref) String() string {
	if r.Account == "" {
		return r.ID
	}
	return r.Account + ":" + r.ID
}

var accountNamePattern = lazyRegexp(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)

// IsAccountName reports whether s can name an account: a letter or digit, then up to 62
// letters, digits, '_', '.' or '-' (no ':' or ',', which commands use as separators).
func IsAccountName(s string) bool { return accountNamePattern().MatchString(s) }

// ParseRef reads "ID" or "ACCOUNT:ID".
func ParseRef(s string) (Ref, error) {
	acct, id, ok := strings.Cut(s, ":")
	if !ok {
		acct, id = "", s
	} else if !IsAccountName(acct) {
		return Ref{}, fmt.Errorf("%q: %q is not an account name (letters, digits, _ . -)", s, acct)
	}
	if !IsInstanceID(id) {
		return Ref{}, fmt.Errorf("%q is not an instance ID like i-bp1abc or ACCOUNT:i-bp1abc", s)
	}
	return Ref{Account: acct, ID: id}, nil
}

// LookupRefs finds instances by reference. An ID without an account is looked up in every
// account at once (IDs are unique across accounts); one with an account only there. The
// instances come back in the order asked, each carrying its account. IDs found nowhere give
// an error wrapping ErrNotFound that names them, with the instances that were found; an
// account that cannot be read fails the lookup only if some ID was found in no other.
func (a *Accounts) LookupRefs(ctx context.Context, refs []Ref) ([]Instance, error) {
	want := make([][]string, len(a.list)) // IDs to look up per account
	for _, r := range refs {
		for i, c := range a.list {
			if r.Account == "" || r.Account == c.cfg.Account {
				want[i] = append(want[i], r.ID)
			}
		}
		if r.Account != "" {
			if _, err := a.Client(r.Account); err != nil {
				return nil, err
			}
		}
	}
	type res struct {
		insts []Instance
		err   error
	}
	results := make([]res, len(a.list))
	var wg sync.WaitGroup
	for i, c := range a.list {
		if len(want[i]) == 0 {
			continue
		}
		wg.Go(func() {
			insts, err := c.Lookup(ctx, want[i])
			results[i] = res{insts, err}
		})
	}
	wg.Wait()
	found := map[Ref]Instance{}
	byID := map[string]Instance{}
	var failures []error
	for i, r := range results {
		a.remember(a.list[i], r.insts)
		for _, in := range r.insts {
			found[Ref{a.list[i].cfg.Account, in.ID}] = in
			byID[in.ID] = in
		}
		if r.err != nil && !errors.Is(r.err, ErrNotFound) {
			name := a.list[i].cfg.Account
			if name != "" {
				failures = append(failures, fmt.Errorf("account %s: %w", name, r.err))
			} else {
				failures = append(failures, r.err)
			}
		}
	}
	var out []Instance
	var missing []string
	for _, r := range refs {
		in, ok := byID[r.ID]
		if r.Account != "" {
			in, ok = found[r]
		}
		if ok {
			out = append(out, in)
		} else {
			missing = append(missing, r.String())
		}
	}
	if len(missing) > 0 {
		err := fmt.Errorf("ecs: %s not found in %s: %w", strings.Join(missing, ", "), a.where(), ErrNotFound)
		return out, errors.Join(append([]error{err}, failures...)...)
	}
	return out, nil
}

func (a *Accounts) where() string {
	if len(a.list) == 1 && a.list[0].cfg.Account == "" {
		return "any region"
	}
	return "accounts " + strings.Join(a.Names(), ", ")
}

// Expiring scans every account at once (Client.Expiring) and merges all their regions' lists at once: one
// account that fails or is throttled delays and hides no other; its regions are listed in
// Scan.Failed with its name. The error is non-nil only when no account could be read.
func (a *Accounts) Expiring(ctx context.Context, from, to time.Time) (Scan, error) {
	results := make([]regionScans, len(a.list))
	var wg sync.WaitGroup
	for i, c := range a.list {
		wg.Go(func() { results[i] = c.expiring(ctx, from, to) })
	}
	wg.Wait()
	var out Scan
	var errs []error
	var lists [][]Instance // every account's regions, merged once
	for i, r := range results {
		name := a.list[i].cfg.Account
		for _, l := range r.lists {
			a.remember(a.list[i], l)
		}
		lists = append(lists, r.lists...)
		out.Calls += r.calls
		out.Failed = append(out.Failed, r.failed...)
		if r.err != nil {
			errs = append(errs, r.err)
			if len(r.failed) == 0 { // the region list itself failed
				out.Failed = append(out.Failed, RegionError{Account: name, RegionID: "*", Err: r.err})
			}
		}
	}
	out.Instances = mergeInstances(lists)
	if len(errs) == len(a.list) {
		return out, fmt.Errorf("ecs: no account could be scanned: %w", errors.Join(errs...))
	}
	return out, nil
}

// ---- the workflow's needs, routed to each instance's account

// Accounts does everything a Client does for the workflow and the scans, routing each call
// to the account of the instance it is about: IDs are unique across accounts, so the
// account is known from the lookup or scan that found the instance (or looked up first).

func (a *Accounts) remember(c *Client, insts []Instance) {
	if len(a.list) == 1 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, in := range insts {
		a.owner[in.ID] = c
	}
}

// clientOf returns the client of the instance's account, looking the instance up in every
// account when it has not been seen yet.
func (a *Accounts) clientOf(ctx context.Context, id string) (*Client, error) {
	if len(a.list) == 1 {
		return a.list[0], nil
	}
	a.mu.Lock()
	c := a.owner[id]
	a.mu.Unlock()
	if c != nil {
		return c, nil
	}
	if _, err := a.LookupRefs(ctx, []Ref{{ID: id}}); err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if c = a.owner[id]; c == nil {
		return nil, fmt.Errorf("ecs: %s is in no account: %w", id, ErrNotFound)
	}
	return c, nil
}

// byAccount groups instance IDs by their account.
func (a *Accounts) byAccount(ctx context.Context, ids []string) (map[*Client][]string, []*Client, error) {
	groups := map[*Client][]string{}
	var order []*Client
	for _, id := range ids {
		c, err := a.clientOf(ctx, id)
		if err != nil {
			return nil, nil, err
		}
		if _, ok := groups[c]; !ok {
			order = append(order, c)
		}
		groups[c] = append(groups[c], id)
	}
	return groups, order, nil
}

// Lookup finds instances by ID ("ID" or "ACCOUNT:ID") in every account at once.
func (a *Accounts) Lookup(ctx context.Context, ids []string) ([]Instance, error) {
	refs := make([]Ref, 0, len(ids))
	for _, id := range uniq(ids) {
		r := Ref{ID: id}
		if strings.Contains(id, ":") {
			var err error
			if r, err = ParseRef(id); err != nil {
				return nil, fmt.Errorf("ecs: %w: %w", err, ErrInvalidParam)
			}
		}
		refs = append(refs, r)
	}
	return a.LookupRefs(ctx, refs)
}

// Quote prices renewing the instance, in its account.
func (a *Accounts) Quote(ctx context.Context, regionID, instanceID string, months int) (Quote, error) {
	c, err := a.clientOf(ctx, instanceID)
	if err != nil {
		return Quote{}, err
	}
	return c.Quote(ctx, regionID, instanceID, months)
}

// Renew renews the instance, in its account.
func (a *Accounts) Renew(ctx context.Context, in RenewInput) (RenewResult, error) {
	c, err := a.clientOf(ctx, in.InstanceID)
	if err != nil {
		return RenewResult{}, err
	}
	return c.Renew(ctx, in)
}

// SetAutoRenew changes auto-renew, one call per account; the request IDs are joined by ",".
func (a *Accounts) SetAutoRenew(ctx context.Context, regionID string, ids []string, ch AutoRenewChange) (string, error) {
	groups, order, err := a.byAccount(ctx, ids)
	if err != nil {
		return "", err
	}
	var reqIDs []string
	for _, c := range order {
		id, err := c.SetAutoRenew(ctx, regionID, groups[c], ch)
		if id != "" {
			reqIDs = append(reqIDs, id)
		}
		if err != nil {
			return strings.Join(reqIDs, ","), err
		}
	}
	return strings.Join(reqIDs, ","), nil
}

// AutoRenew reads auto-renew attributes, in each instance's account.
func (a *Accounts) AutoRenew(ctx context.Context, regionID string, ids []string) (map[string]AutoRenew, error) {
	groups, order, err := a.byAccount(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := map[string]AutoRenew{}
	for _, c := range order {
		got, err := c.AutoRenew(ctx, regionID, groups[c])
		if err != nil {
			return nil, err
		}
		for k, v := range got {
			out[k] = v
		}
	}
	return out, nil
}

// Verify waits for renewed expiries, in each instance's account at once.
func (a *Accounts) Verify(ctx context.Context, regionID string, want map[string]time.Time) (map[string]time.Time, error) {
	ids := make([]string, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	groups, order, err := a.byAccount(ctx, ids)
	if err != nil {
		return nil, err
	}
	if len(order) == 1 {
		return order[0].Verify(ctx, regionID, want)
	}
	type res struct {
		seen map[string]time.Time
		err  error
	}
	results := make([]res, len(order))
	var wg sync.WaitGroup
	for i, c := range order {
		sub := map[string]time.Time{}
		for _, id := range groups[c] {
			sub[id] = want[id]
		}
		wg.Go(func() {
			seen, err := c.Verify(ctx, regionID, sub)
			results[i] = res{seen, err}
		})
	}
	wg.Wait()
	out := map[string]time.Time{}
	var errs []error
	for _, r := range results {
		for k, v := range r.seen {
			out[k] = v
		}
		if r.err != nil {
			errs = append(errs, r.err)
		}
	}
	return out, errors.Join(errs...)
}
