package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/renewbot/renewbot/bot"
	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/ecs/ecssim"
	"github.com/renewbot/renewbot/store"
)

// The accounts file (RENEWBOT_ACCOUNTS, --accounts): the Alibaba Cloud accounts renewbot
// works in, each with its credentials and, optionally, its own regions, digest channel,
// approvers and pacing. Without it there is one account, from the global settings.
//
//	accounts:
//	  - name: prod
//	    uid: "1234567890123456"
//	    credentials: {access_key_id_env: PROD_AK_ID, access_key_secret_env: PROD_AK_SECRET}
//	  - name: shop
//	    uid: "2345678901234567"
//	    regions: [cn-hangzhou, cn-shanghai]
//	    credentials: {ram_role_arn: "acs:ram::2345678901234567:role/renewbot", external_id: x, session_name: renewbot, duration: 1h}
//	    digest_channel: C0SHOP
//	    approvers: [U0ALICE, S0FINANCE]
//	    rate_limit: {calls_per_second: 10, burst: 10, apis: {DescribeInstances: 5}}

// accountSettings are the settings of many accounts, shared by every ECS-facing command.
type accountSettings struct {
	File        string        // RENEWBOT_ACCOUNTS
	STSEndpoint string        // RENEWBOT_STS_ENDPOINT
	BSSEndpoint string        // RENEWBOT_BSS_ENDPOINT
	CAFile      string        // RENEWBOT_CA_FILE
	Specs       []accountSpec // the file's accounts, checked; nil without a file
}

func (c *accountSettings) table() []setting {
	return []setting{
		{flag: "accounts", env: "RENEWBOT_ACCOUNTS", usage: "YAML file of the Alibaba Cloud accounts to work in (see the README); empty: one account from the settings here",
			parseEnv: func(s string, getenv func(string) string) (err error) {
				c.File, c.Specs = s, nil
				if s != "" {
					c.Specs, err = loadAccounts(s, getenv)
				}
				return err
			}},
		{env: "RENEWBOT_STS_ENDPOINT", usage: "send AssumeRole (RAM role accounts) to this STS endpoint, host:port or https://host:port; empty: sts.aliyuncs.com",
			parse: func(s string) error {
				if s != "" {
					if err := (ecs.Role{ARN: "acs:ram::1:role/x", STSEndpoint: s}).Validate(); err != nil {
						return errors.New("is not an HTTPS endpoint like 127.0.0.1:18080 or https://sts-vpc.cn-hangzhou.aliyuncs.com (the SDK calls STS over HTTPS only)")
					}
				}
				c.STSEndpoint = s
				return nil
			}},
		{env: "RENEWBOT_BSS_ENDPOINT", usage: "send QueryAccountBalance to this BSS endpoint (ecssim); empty: Alibaba's business.aliyuncs.com",
			parse: func(s string) (err error) { c.BSSEndpoint, err = parseEndpoint(s); return }},
		{env: "RENEWBOT_CA_FILE", usage: "PEM file of extra CA certificates to trust (a private STS endpoint, ecssim's -tls-cert-out); SSL_CERT_FILE also works",
			parse: func(s string) error {
				if s != "" {
					if _, err := os.Stat(s); err != nil {
						return errors.New("cannot be read: " + err.Error())
					}
				}
				c.CAFile = s
				return nil
			}},
	}
}

// accountSpec is one checked account of the file.
type accountSpec struct {
	Name          string
	UID           string
	Regions       []string // nil: the global RENEWBOT_REGIONS
	DigestChannel string   // "": the global digest channel
	Approvers     []string // nil: the global approvers
	// Credentials: a static pair read from the named variables, or a role, or neither (the
	// base credentials).
	AccessKeyID, AccessKeySecret string
	Role                         *ecs.Role
	RateLimit                    ecs.RateLimit
}

// The file's schema. Field names are fixed.
type (
	accountsDoc struct {
		Accounts []accountDoc `yaml:"accounts"`
	}
	accountDoc struct {
		Name          string          `yaml:"name"`
		UID           string          `yaml:"uid"`
		Regions       []string        `yaml:"regions"`
		Credentials   *credentialsDoc `yaml:"credentials"`
		DigestChannel string          `yaml:"digest_channel"`
		Approvers     []string        `yaml:"approvers"`
		RateLimit     *rateLimitDoc   `yaml:"rate_limit"`
	}
	credentialsDoc struct {
		AccessKeyIDEnv     string `yaml:"access_key_id_env"`
		AccessKeySecretEnv string `yaml:"access_key_secret_env"`
		RAMRoleARN         string `yaml:"ram_role_arn"`
		ExternalID         string `yaml:"external_id"`
		SessionName        string `yaml:"session_name"`
		Duration           string `yaml:"duration"`
	}
	rateLimitDoc struct {
		CallsPerSecond float64            `yaml:"calls_per_second"`
		Burst          int                `yaml:"burst"`
		APIs           map[string]float64 `yaml:"apis"`
	}
)

// The known keys of each mapping, for messages that name the account.
var (
	accountKeys    = []string{"name", "uid", "regions", "credentials", "digest_channel", "approvers", "rate_limit"}
	credentialKeys = []string{"access_key_id_env", "access_key_secret_env", "ram_role_arn", "external_id", "session_name", "duration"}
	rateLimitKeys  = []string{"calls_per_second", "burst", "apis"}
	reEnvName      = lazyRegexp(`^[A-Za-z_][A-Za-z0-9_]*$`)
	reUID          = lazyRegexp(`^[0-9]{1,32}$`)
)

// loadAccounts reads and checks the accounts file. getenv reads the variables the file
// names for access keys. Every error names the account and the field.
func loadAccounts(path string, getenv func(string) string) ([]accountSpec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%q: cannot be read: %v", path, errors.Unwrap(err))
	}
	specs, err := parseAccounts(data, getenv)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", path, err)
	}
	return specs, nil
}

// parseAccounts is loadAccounts on the file's text.
func parseAccounts(data []byte, getenv func(string) string) ([]accountSpec, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("not YAML: %v", err)
	}
	if err := checkAccountKeys(&root); err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var doc accountsDoc
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%v", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Accounts) == 0 {
		return nil, errors.New("accounts: lists no account")
	}
	var out []accountSpec
	names, uids := map[string]bool{}, map[string]string{}
	for i, a := range doc.Accounts {
		label := fmt.Sprintf("accounts[%d]", i)
		if a.Name != "" {
			label = fmt.Sprintf("account %q", a.Name)
		}
		spec, field, err := checkAccount(a, getenv)
		if err == nil && names[a.Name] {
			field, err = "name", errors.New("is used by another account")
		}
		if err == nil && uids[a.UID] != "" {
			field, err = "uid", fmt.Errorf("is also account %q's", uids[a.UID])
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", label, field, err)
		}
		names[a.Name], uids[a.UID] = true, a.Name
		out = append(out, spec)
	}
	return out, nil
}

// checkAccountKeys refuses keys the schema does not know, naming the account.
func checkAccountKeys(root *yaml.Node) error {
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return errors.New("accounts: the file is empty")
	}
	top := root.Content[0]
	if top.Kind != yaml.MappingNode {
		return errors.New("the file must be a mapping with an accounts: list")
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		if k.Value != "accounts" {
			return fmt.Errorf("line %d: unknown field %q (the file has one field, accounts)", k.Line, k.Value)
		}
		if v.Kind != yaml.SequenceNode {
			return fmt.Errorf("line %d: accounts: is not a list", v.Line)
		}
		for n, acct := range v.Content {
			if acct.Kind != yaml.MappingNode {
				return fmt.Errorf("accounts[%d] (line %d): is not a mapping of name, uid, regions, credentials, digest_channel, approvers", n, acct.Line)
			}
			label := fmt.Sprintf("accounts[%d]", n)
			for j := 0; j+1 < len(acct.Content); j += 2 {
				if acct.Content[j].Value == "name" && acct.Content[j+1].Value != "" {
					label = fmt.Sprintf("account %q", acct.Content[j+1].Value)
				}
			}
			for j := 0; j+1 < len(acct.Content); j += 2 {
				k, v := acct.Content[j], acct.Content[j+1]
				if !slices.Contains(accountKeys, k.Value) {
					return fmt.Errorf("%s: line %d: unknown field %q (known: %s)", label, k.Line, k.Value, strings.Join(accountKeys, ", "))
				}
				sub := map[string][]string{"credentials": credentialKeys, "rate_limit": rateLimitKeys}[k.Value]
				if sub == nil {
					continue
				}
				if v.Kind != yaml.MappingNode {
					return fmt.Errorf("%s: %s: line %d: is not a mapping", label, k.Value, v.Line)
				}
				for m := 0; m+1 < len(v.Content); m += 2 {
					if kk := v.Content[m]; !slices.Contains(sub, kk.Value) {
						return fmt.Errorf("%s: %s.%s: line %d: unknown field (known: %s)", label, k.Value, kk.Value, kk.Line, strings.Join(sub, ", "))
					}
				}
			}
		}
	}
	return nil
}

// checkAccount checks one account; on error it returns the field that is wrong.
func checkAccount(a accountDoc, getenv func(string) string) (accountSpec, string, error) {
	s := accountSpec{Name: a.Name, UID: a.UID, DigestChannel: a.DigestChannel}
	switch {
	case a.Name == "":
		return s, "name", errRequired
	case !ecs.IsAccountName(a.Name):
		return s, "name", fmt.Errorf("%q is not an account name: a letter or digit, then up to 62 letters, digits, _ . or -", a.Name)
	case a.UID == "":
		return s, "uid", errors.New("is required (the Alibaba Cloud account ID, digits; quote it in YAML)")
	case !reUID().MatchString(a.UID):
		return s, "uid", fmt.Errorf("%q is not an Alibaba Cloud account ID (digits)", a.UID)
	}
	if a.Regions != nil {
		if len(a.Regions) == 0 {
			return s, "regions", errors.New("is an empty list; leave it out to use RENEWBOT_REGIONS")
		}
		for _, r := range a.Regions {
			if !ecs.ValidRegionID(r) {
				return s, "regions", fmt.Errorf("has %q, which is not a region ID like cn-hangzhou", r)
			}
		}
		s.Regions = slices.Clone(a.Regions)
	}
	if a.DigestChannel != "" && !bot.IsChannelID(a.DigestChannel) {
		return s, "digest_channel", fmt.Errorf("%q is not a Slack channel ID like C0123ABCD", a.DigestChannel)
	}
	if a.Approvers != nil {
		for _, id := range a.Approvers {
			if !renewal.IsUserID(id) && !renewal.IsGroupID(id) {
				return s, "approvers", fmt.Errorf("has %q, which is not a Slack user ID (U…/W…) or user-group ID (S…)", id)
			}
		}
		s.Approvers = slices.Clone(a.Approvers)
	}
	if c := a.Credentials; c != nil {
		field, err := checkCredentials(&s, *c, getenv)
		if err != nil {
			return s, "credentials." + field, err
		}
	}
	if r := a.RateLimit; r != nil {
		s.RateLimit = ecs.RateLimit{PerSecond: r.CallsPerSecond, Burst: r.Burst, Actions: r.APIs}
		if err := s.RateLimit.Validate(); err != nil {
			return s, "rate_limit", err
		}
	}
	return s, "", nil
}

// checkCredentials fills the account's credentials: a pair from named variables, or a role.
func checkCredentials(s *accountSpec, c credentialsDoc, getenv func(string) string) (string, error) {
	keys := c.AccessKeyIDEnv != "" || c.AccessKeySecretEnv != ""
	role := c.RAMRoleARN != "" || c.ExternalID != "" || c.SessionName != "" || c.Duration != ""
	switch {
	case keys && role:
		return "", errors.New("give either access_key_id_env and access_key_secret_env, or ram_role_arn (with external_id, session_name, duration), not both")
	case !keys && !role:
		return "", errors.New("is empty; leave it out to use the base credentials")
	case keys:
		for _, f := range []struct{ field, env string }{{"access_key_id_env", c.AccessKeyIDEnv}, {"access_key_secret_env", c.AccessKeySecretEnv}} {
			if f.env == "" {
				return f.field, errors.New("is required with " + map[bool]string{true: "access_key_secret_env", false: "access_key_id_env"}[f.field == "access_key_id_env"])
			}
			if !reEnvName().MatchString(f.env) {
				return f.field, fmt.Errorf("%q is not an environment variable name", f.env)
			}
			if getenv(f.env) == "" {
				return f.field, fmt.Errorf("the environment variable %s is not set", f.env)
			}
		}
		s.AccessKeyID, s.AccessKeySecret = getenv(c.AccessKeyIDEnv), getenv(c.AccessKeySecretEnv)
		return "", nil
	}
	if c.RAMRoleARN == "" {
		return "ram_role_arn", errors.New("is required with external_id, session_name or duration")
	}
	uid, _, err := ecs.ParseRoleARN(c.RAMRoleARN)
	if err != nil {
		return "ram_role_arn", err
	}
	if uid != s.UID {
		return "ram_role_arn", fmt.Errorf("the role is in account %s, not in this account (uid %s)", uid, s.UID)
	}
	r := &ecs.Role{ARN: c.RAMRoleARN, ExternalID: c.ExternalID, SessionName: c.SessionName}
	if c.Duration != "" {
		if r.Duration, err = parseRoleDuration(c.Duration); err != nil {
			return "duration", err
		}
	}
	if err := (ecs.Role{ARN: r.ARN, SessionName: r.SessionName}).Validate(); err != nil {
		return "session_name", err
	}
	if len(r.ExternalID) > 1224 {
		return "external_id", errors.New("is longer than 1224 characters")
	}
	s.Role = r
	return "", nil
}

// parseRoleDuration reads how long each set of role credentials lasts: 1h, 45m, or seconds.
func parseRoleDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		n, nerr := strconv.Atoi(s)
		if nerr != nil {
			return 0, fmt.Errorf("%q is not a duration like 1h, 45m or 3600 (seconds)", s)
		}
		d = time.Duration(n) * time.Second
	}
	if d < 15*time.Minute || d > 12*time.Hour {
		return 0, fmt.Errorf("%q is not from 15m to 12h (STS's limits)", s)
	}
	return d, nil
}

// clients builds the ECS clients: one per account of the file, or the single default
// account from the global settings when there is no file. The specs say each account's
// overrides (regions, digest channel, approvers).
func (c *ecsSettings) clients(log *slog.Logger, observe func(account string) func(action, code string, took time.Duration)) (*ecs.Accounts, []accountSpec, error) {
	a := c.Accounts
	if a.CAFile != "" {
		if err := ecs.TrustCAFile(a.CAFile); err != nil {
			return nil, nil, usageError{fmt.Errorf("RENEWBOT_CA_FILE: %w", err)}
		}
	}
	base := ecs.Config{
		Regions: c.Regions, Endpoint: c.Endpoint, BSSEndpoint: a.BSSEndpoint,
		AccessKeyID: c.AccessKeyID, AccessKeySecret: c.AccessKeySecret, SecurityToken: c.SecurityToken,
		Logger: log,
	}
	if observe != nil {
		base.Observe = observe("")
	}
	if a.File == "" {
		accts, err := ecs.NewAccounts([]ecs.Config{base})
		if err != nil {
			return nil, nil, fmt.Errorf("ECS client: %w", err)
		}
		return accts, []accountSpec{{Regions: c.Regions}}, nil
	}
	specs := slices.Clone(a.Specs)
	cfgs := make([]ecs.Config, len(specs))
	for i, s := range specs {
		cfg := base
		cfg.Account = s.Name
		cfg.RateLimit = s.RateLimit
		if observe != nil {
			cfg.Observe = observe(s.Name)
		}
		if s.Regions != nil {
			cfg.Regions = s.Regions
		}
		switch {
		case s.AccessKeyID != "":
			cfg.AccessKeyID, cfg.AccessKeySecret, cfg.SecurityToken = s.AccessKeyID, s.AccessKeySecret, ""
		case s.Role != nil:
			r := *s.Role
			r.STSEndpoint = a.STSEndpoint
			cfg.Role = &r
		}
		cfgs[i] = cfg
		if specs[i].Regions == nil {
			specs[i].Regions = c.Regions
		}
	}
	accts, err := ecs.NewAccounts(cfgs)
	if err != nil {
		return nil, nil, fmt.Errorf("ECS clients: %w", err)
	}
	return accts, specs, nil
}

// accountCloud is every account as one ECS client for serve and the digest: the workflow's
// calls go to each instance's account (ecs.Accounts routes them), and an instance of an
// account with its own digest_channel is routed there unless its own route tag says
// otherwise.
type accountCloud struct {
	*ecs.Accounts
	routeTag string
	channels map[string]string // account → digest channel
	window   time.Duration     // the forecast's window (the digest's)
	prices   renewal.PriceCache
	now      func() time.Time // serve's clock (the demo's is the emulator's); nil: time.Now

	metrics *bot.ForecastMetrics // nil: none

	mu       sync.Mutex
	last     []renewal.AccountForecast // the last forecast, for approval cards
	lastTime time.Time
}

var _ ecsClient = (*accountCloud)(nil)

func newAccountCloud(accts *ecs.Accounts, specs []accountSpec, routeTag string, window time.Duration) *accountCloud {
	ac := &accountCloud{Accounts: accts, routeTag: routeTag, window: window, channels: map[string]string{}}
	for _, s := range specs {
		if s.DigestChannel != "" {
			ac.channels[s.Name] = s.DigestChannel
		}
	}
	return ac
}

func (ac *accountCloud) Expiring(ctx context.Context, from, to time.Time) (ecs.Scan, error) {
	scan, err := ac.Accounts.Expiring(ctx, from, to)
	if len(ac.channels) == 0 {
		return scan, err
	}
	// Instances with equal tags share them (ecs.Tags), and share them with the channel added.
	type added struct {
		tags    ecs.Tags
		channel string
	}
	withChannel := map[added]ecs.Tags{}
	for i, in := range scan.Instances {
		ch, ok := ac.channels[in.Account]
		if !ok || in.Tags.Get(ac.routeTag) != "" {
			continue
		}
		k := added{in.Tags, ch}
		tags, ok := withChannel[k]
		if !ok {
			tags = in.Tags.With(ac.routeTag, ch)
			withChannel[k] = tags
		}
		scan.Instances[i].Tags = tags
	}
	return scan, err
}

// accountApprovers are the accounts' own approvers (renewal.Policy.AccountApprovers): only
// the accounts whose spec sets approvers; the others keep RENEWBOT_APPROVERS.
func accountApprovers(specs []accountSpec) map[string][]string {
	var out map[string][]string
	for _, s := range specs {
		if s.Approvers != nil {
			if out == nil {
				out = map[string][]string{}
			}
			out[s.Name] = slices.Clone(s.Approvers)
		}
	}
	return out
}

// cloud is clients as one routing client, for the CLI commands that act on instances.
func (c *ecsSettings) cloud(log *slog.Logger) (*accountCloud, error) {
	accts, specs, err := c.clients(log, nil)
	if err != nil {
		return nil, err
	}
	return newAccountCloud(accts, specs, "", 0), nil
}

// parseRefs reads "i-a,prod:i-b": instance IDs, each optionally with its account.
func parseRefs(s string) ([]ecs.Ref, error) {
	items := splitList(s)
	if len(items) == 0 {
		return nil, errors.New("give at least one instance ID like i-bp1abc (or ACCOUNT:i-bp1abc)")
	}
	seen := map[string]bool{}
	var out []ecs.Ref
	for _, it := range items {
		r, err := ecs.ParseRef(it)
		if err != nil {
			return nil, err
		}
		if seen[r.ID] {
			continue
		}
		seen[r.ID] = true
		out = append(out, r)
	}
	return out, nil
}

// bareIDs are the refs' instance IDs (unique across accounts).
func bareIDs(refs []ecs.Ref) []string {
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = r.ID
	}
	return out
}

// Forecast is the balance forecast of every account from its own scan (the Home tab), with
// the prices of one automatic renewal cached per day across forecasts.
func (ac *accountCloud) Forecast(ctx context.Context, now time.Time) ([]renewal.AccountForecast, error) {
	res, err := gatherForecast(ctx, ac.Accounts, &ac.prices, now, ac.window, forecastHorizon)
	if err != nil {
		return nil, err
	}
	ac.remember(res.Accounts, now)
	return res.Accounts, nil
}

// ForecastScan is the digest's balance forecast, from the digest's own scan (which reaches
// renewal.ForecastScanTo(now, window)): no second scan.
func (ac *accountCloud) ForecastScan(ctx context.Context, now time.Time, window time.Duration, scan ecs.Scan) ([]renewal.AccountForecast, error) {
	res := forecastOfScan(ctx, ac.Accounts, &ac.prices, now, window, forecastHorizon, scan)
	ac.remember(res.Accounts, now)
	return res.Accounts, nil
}

// remember keeps the last forecast for approval cards and sets the forecast's gauges.
func (ac *accountCloud) remember(fc []renewal.AccountForecast, now time.Time) {
	ac.mu.Lock()
	ac.last, ac.lastTime = fc, now
	ac.mu.Unlock()
	ac.metrics.Set(fc)
}

// clock is the cloud's clock: serve's, or time.Now.
func (ac *accountCloud) clock() time.Time {
	if ac.now != nil {
		return ac.now()
	}
	return time.Now()
}

// AccountBalance is the account's balance now, and the automatic renewals due from it within
// 9 days from the last forecast (made again when it is more than 6 hours old).
func (ac *accountCloud) AccountBalance(ctx context.Context, account string) (store.AccountBalance, error) {
	cl, err := ac.Client(account)
	if err != nil {
		return store.AccountBalance{}, err
	}
	now := ac.clock()
	ac.mu.Lock()
	fc, at := ac.last, ac.lastTime
	ac.mu.Unlock()
	remade := fc == nil || now.Sub(at) > 6*time.Hour
	if remade {
		window := max(ac.window, renewal.NextDays)
		res, err := gatherForecast(ctx, ac.Accounts, &ac.prices, now, window, forecastHorizon)
		if err != nil {
			return store.AccountBalance{}, err
		}
		fc = res.Accounts
		ac.remember(fc, now)
	}
	i := slices.IndexFunc(fc, func(f renewal.AccountForecast) bool { return f.Account == account })
	var b ecs.Balance
	if remade && i >= 0 && fc[i].BalanceErr == nil {
		b = fc[i].Balance // just read by the forecast
	} else if b, err = cl.Balance(ctx); err != nil {
		return store.AccountBalance{}, err
	}
	out := store.AccountBalance{Account: account, Available: b.Available, Currency: b.Currency}
	if i >= 0 {
		out.Due9Days = fc[i].Next9Days
	}
	return out, nil
}

// Forecast passes the forecast through serve's scan tracker.
func (s *scanTracker) Forecast(ctx context.Context, now time.Time) ([]renewal.AccountForecast, error) {
	f, ok := s.ecsClient.(bot.Forecaster)
	if !ok {
		return nil, errors.New("no balance forecast")
	}
	return f.Forecast(ctx, now)
}

// ForecastScan passes the digest's forecast through serve's scan tracker.
func (s *scanTracker) ForecastScan(ctx context.Context, now time.Time, window time.Duration, scan ecs.Scan) ([]renewal.AccountForecast, error) {
	f, ok := s.ecsClient.(bot.ScanForecaster)
	if !ok {
		return nil, errors.New("no balance forecast")
	}
	return f.ForecastScan(ctx, now, window, scan)
}

// forecasterOf is the Home tab's Forecaster: the cloud's, when it has one.
func forecasterOf(cloud bot.Scanner) bot.Forecaster {
	if f, ok := cloud.(bot.Forecaster); ok {
		return f
	}
	return nil
}

// scanForecasterOf is the digest's ScanForecaster: the cloud's, when it has one.
func scanForecasterOf(cloud bot.Scanner) bot.ScanForecaster {
	if f, ok := cloud.(bot.ScanForecaster); ok {
		return f
	}
	return nil
}

// AccountBalance passes the approval card's balance through serve's scan tracker.
func (s *scanTracker) AccountBalance(ctx context.Context, account string) (store.AccountBalance, error) {
	br, ok := s.ecsClient.(renewal.BalanceReader)
	if !ok {
		return store.AccountBalance{}, errors.New("no balance reader")
	}
	return br.AccountBalance(ctx, account)
}

var (
	_ renewal.BalanceReader = (*scanTracker)(nil)
	_ bot.Forecaster        = (*scanTracker)(nil)
	_ bot.ScanForecaster    = (*scanTracker)(nil)
)

// ---- the demo's second account

// demoShopUID is the demo's second account, reached through a RAM role.
const demoShopUID = "3000000000000003"

// addDemoAccount gives the demo fleet a second account, shop, reached through a role that
// trusts the default account, whose balance does not cover its next automatic renewal: the
// digest's balance forecast warns about it. It returns how many instances it added.
func addDemoAccount(f *ecssim.Fleet, now time.Time) int {
	day := func(d int) time.Time {
		t := now.AddDate(0, 0, d).In(ecs.UTC8)
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, ecs.UTC8).UTC()
	}
	shop := ecssim.FleetAccount{UID: demoShopUID, Name: "shop", AccessKeyID: "AKshopdemo", AccessKeySecret: "SKshopdemo",
		Balance: 600, Currency: "CNY",
		Roles: []ecssim.FleetRole{{Name: "renewbot", Trusts: []string{ecssim.DefaultAccountUID}}}}
	for _, s := range []struct {
		id, name, status string
		days             int
		price            float64
	}{
		{"i-bp1shopcart01", "cart (shop)", "AutoRenewal", 10, 880}, // deducted in a day: more than the balance
		{"i-bp1shopsite01", "storefront (shop)", "Normal", 8, 450},
	} {
		shop.Instances = append(shop.Instances, ecssim.FleetInstance{
			InstanceId: s.id, InstanceName: s.name, RegionId: "cn-hangzhou", ZoneId: "cn-hangzhou-b",
			InstanceType: "ecs.g7.large", InstanceChargeType: "PrePaid", Status: "Running", ExpiredTime: day(s.days),
			RenewalStatus: s.status, Duration: 1, PeriodUnit: "Month", MonthlyPrice: s.price, Tags: map[string]string{"env": "prod", "team": "shop"},
		})
	}
	f.Accounts = append(f.Accounts, shop)
	return len(shop.Instances)
}

// demoAccountsEnv writes the demo's accounts file (the default account, and shop through
// its role) and ecssim's certificate into dir, and sets the variables that use them.
func demoAccountsEnv(dir string, sim *ecssim.Server, vars map[string]string) error {
	ca, file := filepath.Join(dir, "ecssim-ca.pem"), filepath.Join(dir, "accounts.yaml")
	if err := os.WriteFile(ca, sim.CertificatePEM(), 0o600); err != nil {
		return err
	}
	doc := "accounts:\n" +
		"  - name: main\n    uid: \"" + ecssim.DefaultAccountUID + "\"\n" +
		"  - name: shop\n    uid: \"" + demoShopUID + "\"\n" +
		"    credentials: {ram_role_arn: \"acs:ram::" + demoShopUID + ":role/renewbot\", session_name: renewbot-demo}\n"
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		return err
	}
	vars["RENEWBOT_ACCOUNTS"] = file
	vars["RENEWBOT_CA_FILE"] = ca
	vars["RENEWBOT_STS_ENDPOINT"] = strings.TrimPrefix(sim.URL, "http://")
	return nil
}
