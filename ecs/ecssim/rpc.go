package ecssim

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/renewbot/renewbot/ecs"
)

const (
	apiVersion     = "2014-05-26"
	timestampSkew  = 15 * time.Minute
	minuteLayout   = "2006-01-02T15:04Z"
	chargePrePaid  = "PrePaid"
	chargePostPaid = "PostPaid"
	renewAuto      = "AutoRenewal"
	renewNormal    = "Normal"
	renewNot       = "NotRenewal"
	releaseAfter   = 15 * 24 * time.Hour
)

// postPaidExpiry is what DescribeInstances shows as ExpiredTime of a pay-as-you-go instance.
var postPaidExpiry = time.Date(2099, 12, 31, 15, 59, 0, 0, time.UTC)

// apiError is an Alibaba error response.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func missing(name string) *apiError {
	return errorf(400, "MissingParameter",
		"The input parameter %q that is mandatory for processing this request is not supplied.", name)
}

// action is one API action: it runs with s.mu held for the calling account and returns the
// response body fields.
type action func(s *Server, a *account, p params, now time.Time) (map[string]any, *apiError)

// products are the API versions ecssim answers at its one endpoint, by action: ECS, STS
// (AssumeRole) and BSS OpenAPI (QueryAccountBalance), as Alibaba answers them at
// ecs.aliyuncs.com, sts.aliyuncs.com and business.aliyuncs.com.
var products = map[string]struct{ version, host, code string }{
	"DescribeRegions":                    {apiVersion, "ecs.aliyuncs.com", "Ecs"},
	"DescribeInstances":                  {apiVersion, "ecs.aliyuncs.com", "Ecs"},
	"RenewInstance":                      {apiVersion, "ecs.aliyuncs.com", "Ecs"},
	"DescribeRenewalPrice":               {apiVersion, "ecs.aliyuncs.com", "Ecs"},
	"DescribeInstanceAutoRenewAttribute": {apiVersion, "ecs.aliyuncs.com", "Ecs"},
	"ModifyInstanceAutoRenewAttribute":   {apiVersion, "ecs.aliyuncs.com", "Ecs"},
	"AssumeRole":                         {"2015-04-01", "sts.aliyuncs.com", "Sts"},
	"QueryAccountBalance":                {"2017-12-14", "business.aliyuncs.com", "BssOpenApi"},
}

// params are the merged query and form parameters of a call.
type params url.Values

func (p params) get(k string) string { return url.Values(p).Get(k) }
func (p params) has(k string) bool   { _, ok := p[k]; return ok && p.get(k) != "" }

func (s *Server) actions() map[string]action {
	return map[string]action{
		"DescribeRegions":                    (*Server).describeRegions,
		"DescribeInstances":                  (*Server).describeInstances,
		"RenewInstance":                      (*Server).renewInstance,
		"DescribeRenewalPrice":               (*Server).describeRenewalPrice,
		"DescribeInstanceAutoRenewAttribute": (*Server).describeAutoRenew,
		"ModifyInstanceAutoRenewAttribute":   (*Server).modifyAutoRenew,
		"AssumeRole":                         (*Server).assumeRole,
		"QueryAccountBalance":                (*Server).queryAccountBalance,
	}
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	acts := s.actions()
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) { s.serveRPC(w, r, acts) })
	mux.HandleFunc("GET /_sim/orders", func(w http.ResponseWriter, r *http.Request) {
		orders := s.Orders()
		if orders == nil {
			orders = []Order{}
		}
		writeJSON(w, http.StatusOK, orders)
	})
	mux.HandleFunc("GET /_sim/account", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Account())
	})
	mux.HandleFunc("GET /_sim/accounts", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Accounts())
	})
	s.mountClock(mux) // GET and POST /_sim/clock (clockhttp.go); every reader of s.now follows it
	mux.HandleFunc("GET /_sim/calls", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Calls())
	})
	mux.HandleFunc("GET /_sim/throttled", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Throttled())
	})
	mux.HandleFunc("POST /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		var f Faults
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "faults: " + err.Error()})
			return
		}
		if f.LatencyMs < 0 || f.ThrottleRate < 0 || f.ThrottleRate > 1 || f.ErrorRate < 0 || f.ErrorRate > 1 || f.LostRate < 0 || f.LostRate > 1 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "faults: LatencyMs must be >= 0, rates within 0..1"})
			return
		}
		if f.Action != "" {
			if _, ok := acts[f.Action]; !ok {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "faults: unknown Action " + f.Action})
				return
			}
		}
		s.SetFaults(f)
		writeJSON(w, http.StatusOK, f)
	})
	return mux
}

func (s *Server) serveRPC(w http.ResponseWriter, r *http.Request, acts map[string]action) {
	arrived := time.Now()
	requestID := newRequestID()
	host, product := "ecs.aliyuncs.com", "Ecs"
	fail := func(e *apiError) {
		s.opts.Log.Debug("ecssim: error", "code", e.Code, "status", e.Status)
		s.writeAnswer(w, e.Status, map[string]string{
			"RequestId": requestID,
			"HostId":    host,
			"Code":      e.Code,
			"Message":   e.Message,
			"Recommend": "https://api.aliyun.com/troubleshoot?q=" + url.QueryEscape(e.Code) + "&product=" + product + "&requestId=" + requestID,
		})
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		fail(errorf(400, "UnsupportedHTTPMethod", "This http method is not supported."))
		return
	}
	raw, p, e := readParams(r)
	if e != nil {
		fail(e)
		return
	}
	if pr, ok := products[p.get("Action")]; ok {
		host, product = pr.host, pr.code
	} else if pr, ok := products[r.Header.Get("x-acs-action")]; ok {
		host, product = pr.host, pr.code
	}
	if pr := products[p.get("Action")]; pr.version == apiVersion {
		if region := p.get("RegionId"); ecs.ValidRegionID(region) {
			host = "ecs." + region + ".aliyuncs.com"
		}
	}
	var who *caller
	if strings.HasPrefix(r.Header.Get("Authorization"), "ACS3-") {
		if !strings.HasPrefix(r.Header.Get("Authorization"), acs3Algorithm+" ") {
			fail(errorf(400, "InvalidSignatureMethod", "Specified signature method is not supported: want %s.", acs3Algorithm))
			return
		}
		who, e = s.authenticateACS3(r, raw, p)
	} else {
		who, e = s.authenticate(r.Method, p)
	}
	if e != nil {
		fail(e)
		return
	}
	name := p.get("Action")
	act, ok := acts[name]
	if !ok {
		fail(errorf(404, "InvalidAction.NotFound", "Specified api is not found, please check your url and method."))
		return
	}
	if p.get("Version") != products[name].version {
		fail(errorf(400, "InvalidVersion", "Specified parameter Version is not valid."))
		return
	}
	s.mu.Lock()
	s.calls[name]++
	s.mu.Unlock()
	if !s.throttle(who.account, p.get("RegionId"), name, arrived) {
		fail(errThrottled())
		return
	}
	tokenKey, e := s.enterToken(who.account, name, p)
	if e != nil {
		fail(e)
		return
	}
	defer s.leaveToken(tokenKey) // when a fault or a closing server ends the call early
	if s.opts.Hook != nil {
		s.opts.Hook(name, url.Values(maps.Clone(p)))
	}
	e, lost := s.injectFaults(r, name)
	if e != nil {
		fail(e)
		return
	}
	s.mu.Lock()
	now := s.now()
	body, e := s.runAction(act, who.account, p, now)
	delete(s.inflight, tokenKey) // in the same critical section: the next call finds the token's record
	s.mu.Unlock()
	if lost {
		e = errLost()
	}
	if e != nil {
		fail(e)
		return
	}
	body["RequestId"] = requestID
	s.writeAnswer(w, http.StatusOK, body)
}

// enterToken marks a RenewInstance's ClientToken as being processed until the action has run.
// A second call with the token while the first still runs (slowed by a latency fault, or
// held in Options.Hook) gets 400 Idempotence.Processing, as Alibaba answers it (ecs-api.md
// §3 also names 403 LastTokenProcessing; ecssim gives the 400 one); once the first call has
// answered, the same token returns its OrderId.
func (s *Server) enterToken(a *account, action string, p params) (key string, e *apiError) {
	token := p.get("ClientToken")
	if action != "RenewInstance" || token == "" {
		return "", nil
	}
	key = a.uid + "|" + action + "|" + token // tokens are per account
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight[key] {
		return "", errorf(400, "Idempotence.Processing", "The request with the same ClientToken is still being processed; try again later.")
	}
	s.inflight[key] = true
	return key, nil
}

// leaveToken ends what enterToken began; "" is no token.
func (s *Server) leaveToken(key string) {
	if key == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.inflight, key)
}

// runAction checks the parameters against actionParams and the region, then runs the action.
// s.mu is held.
func (s *Server) runAction(act action, a *account, p params, now time.Time) (map[string]any, *apiError) {
	name := p.get("Action")
	if e := checkParams(name, p); e != nil {
		return nil, e
	}
	if products[name].version != apiVersion { // STS and BSS are global: no region
		return act(s, a, p, now)
	}
	// The region names an endpoint: an action that has RegionId needs a known one; an action
	// without it (RenewInstance) is still refused when a client sends an unknown region, as
	// the endpoint of that region would not exist. DescribeRegions answers for any.
	if region := p.get("RegionId"); name != "DescribeRegions" && (takesRegion(name) || region != "") && !s.regions[region] {
		return nil, errorf(404, "InvalidRegionId.NotFound", "The specified RegionId does not exist.")
	}
	s.autoRenew(now)
	return act(s, a, p, now)
}

// readParams reads the raw body (ACS3 signs its SHA-256) and merges the query and form
// parameters.
func readParams(r *http.Request) ([]byte, params, *apiError) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 1<<20))
	if err != nil {
		return nil, nil, errorf(400, "InvalidParameter", "The request body could not be read: %v", err)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err := r.ParseForm(); err != nil {
		return nil, nil, errorf(400, "InvalidParameter", "The request parameters could not be parsed: %v", err)
	}
	p := params{}
	for k, vs := range r.Form {
		p[k] = vs
	}
	return body, p, nil
}

// caller is who signed a call: the key's secret (for the signature check) and the account it
// acts for.
type caller struct {
	secret  string
	account *account
}

// useNonce records a signature nonce, refusing one seen within twice the timestamp skew.
func (s *Server) useNonce(nonce string, wall time.Time) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, used := s.nonces[nonce]; used {
		return errorf(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
	}
	if wall.Sub(s.noncePurged) > timestampSkew {
		for n, at := range s.nonces {
			if wall.Sub(at) > 2*timestampSkew {
				delete(s.nonces, n)
			}
		}
		s.noncePurged = wall
	}
	s.nonces[nonce] = wall
	return nil
}

// authenticate checks a signature-1.0 call: the common parameters, the signature, the
// timestamp and the nonce.
func (s *Server) authenticate(method string, p params) (*caller, *apiError) {
	for _, k := range []string{"AccessKeyId", "Action", "Signature", "SignatureNonce", "Timestamp", "Version"} {
		if !p.has(k) {
			return nil, missing(k)
		}
	}
	if m := p.get("SignatureMethod"); m != "" && m != "HMAC-SHA1" {
		return nil, errorf(400, "InvalidSignatureMethod", "Specified signature method %q is not supported.", m)
	}
	if v := p.get("SignatureVersion"); v != "" && v != "1.0" {
		return nil, errorf(400, "InvalidSignatureVersion", "Specified signature version %q is not supported.", v)
	}
	ts, err := time.Parse("2006-01-02T15:04:05Z", p.get("Timestamp"))
	if err != nil {
		return nil, errorf(400, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.")
	}
	wall := time.Now()
	if d := wall.Sub(ts); d > timestampSkew || d < -timestampSkew {
		return nil, errorf(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
	}
	who, e := s.credential(p.get("AccessKeyId"), p.get("SecurityToken"), wall)
	if e != nil {
		return nil, e
	}
	stringToSign := StringToSign(method, url.Values(p))
	want := Sign(stringToSign, who.secret)
	if !hmac.Equal([]byte(want), []byte(p.get("Signature"))) {
		return nil, errorf(400, "SignatureDoesNotMatch",
			"Specified signature is not matched with our calculation. server string to sign is:%s", stringToSign)
	}
	if e := s.useNonce(p.get("SignatureNonce"), wall); e != nil {
		return nil, e
	}
	return who, nil
}

// StringToSign builds the signature-v1 string to sign of an RPC call: every parameter except
// Signature, sorted, RFC 3986-encoded, joined, and encoded again after "METHOD&%2F&".
func StringToSign(method string, p url.Values) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		if k != "Signature" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(percentEncode(k))
		b.WriteByte('=')
		if vs := p[k]; len(vs) > 0 {
			b.WriteString(percentEncode(vs[0]))
		}
	}
	return strings.ToUpper(method) + "&%2F&" + percentEncode(b.String())
}

// Sign returns base64(HMAC-SHA1(secret+"&", stringToSign)).
func Sign(stringToSign, secret string) string {
	mac := hmac.New(sha1.New, []byte(secret+"&"))
	mac.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// percentEncode is RFC 3986 encoding: unreserved A-Z a-z 0-9 - _ . ~ kept, the rest %XY.
func percentEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// errLost is the answer of a call whose answer the LostRate fault drops after it ran.
func errLost() *apiError {
	return errorf(500, "InternalError", "The request processing has failed due to some unknown error.")
}

// errThrottled is Alibaba's answer to a throttled call (nothing was done).
func errThrottled() *apiError {
	return errorf(400, "Throttling", "Request was denied due to request throttling.")
}

// injectFaults applies the faults configured for the action (or for all actions): an error
// to answer instead of running the action, or lost: run it, then answer errLost.
func (s *Server) injectFaults(r *http.Request, name string) (e *apiError, lost bool) {
	s.mu.Lock()
	f, ok := s.faults[name]
	if !ok {
		f, ok = s.faults[""]
	}
	if !ok {
		s.mu.Unlock()
		return nil, false
	}
	roll, pick := s.rng.Float64(), s.rng.IntN(2)
	s.mu.Unlock()
	if f.LatencyMs > 0 {
		t := time.NewTimer(time.Duration(f.LatencyMs) * time.Millisecond)
		select {
		case <-t.C:
		case <-r.Context().Done():
		case <-s.closing:
		}
		t.Stop()
	}
	switch {
	case roll < f.ThrottleRate:
		return errThrottled(), false
	case roll < f.ThrottleRate+f.ErrorRate && pick == 0:
		return errorf(500, "InternalError", "The request processing has failed due to some unknown error."), false
	case roll < f.ThrottleRate+f.ErrorRate:
		return errorf(503, "ServiceUnavailable", "The request has failed due to a temporary failure of the server."), false
	case roll < f.ThrottleRate+f.ErrorRate+f.LostRate:
		return nil, true
	}
	return nil, false
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return strings.ToUpper(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf []byte
	writeJSONWith(w, status, v, &buf)
}

// writeAnswer is writeJSON with one of the server's buffers: a DescribeInstances page is some
// 130 KB, and a scan of 400,000 instances asks for thousands of them.
func (s *Server) writeAnswer(w http.ResponseWriter, status int, v any) {
	buf, _ := s.answerBuffers.Get().(*[]byte)
	if buf == nil {
		buf = new([]byte)
	}
	writeJSONWith(w, status, v, buf)
	s.answerBuffers.Put(buf)
}

// writeJSONWith encodes v into *buf (grown as needed, and kept there) and writes it.
func writeJSONWith(w http.ResponseWriter, status int, v any, buf *[]byte) {
	b, err := appendJSON(slices.Grow((*buf)[:0], 512+rawSize(v)), v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"Code":"InternalError","Message":"encoding failed"}`)
	} else {
		b = append(b, '\n')
		*buf = b
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// rawJSON is JSON that appendJSON copies as it is: an instance's cached encoding.
type rawJSON []byte

// rawSize is the length of the rawJSON in v: most of a DescribeInstances answer.
func rawSize(v any) int {
	n := 0
	switch v := v.(type) {
	case rawJSON:
		n = len(v)
	case []rawJSON:
		for _, r := range v {
			n += len(r) + 1
		}
	case map[string]any:
		for _, x := range v {
			n += rawSize(x)
		}
	}
	return n
}

// appendJSON appends v encoded as json.Marshal encodes it (a map's keys sorted, strings
// HTML-escaped), except that rawJSON and lists of it are copied as they are: json.Marshal
// would scan each again (json.RawMessage is validated and compacted on every call).
func appendJSON(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case rawJSON:
		return append(b, v...), nil
	case []rawJSON:
		if v == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, r := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, r...)
		}
		return append(b, ']'), nil
	case map[string]any:
		if v == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '{')
		for i, k := range slices.Sorted(maps.Keys(v)) {
			if i > 0 {
				b = append(b, ',')
			}
			key, err := json.Marshal(k)
			if err != nil {
				return nil, err
			}
			b = append(append(b, key...), ':')
			if b, err = appendJSON(b, v[k]); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, raw...), nil
}
