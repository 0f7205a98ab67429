package ecssim

import (
	"crypto/rand"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// DefaultAccountUID is the UID of the default account: the one of Options.AccessKeyID, with
// the Fleet's top-level balance and instances. A role of another account trusts it by this UID.
const DefaultAccountUID = "1000000000000001"

// FleetAccount is one account of Fleet.Accounts (fleet file field names are fixed):
//
//	{"uid": "1234567890123456", "name": "prod", "access_key_id": "AKprod", "access_key_secret": "…",
//	 "balance": 500, "currency": "CNY", "instances": [ … ],
//	 "roles": [{"name": "renewbot", "trusts": ["1000000000000001"]}]}
//
// Each account sees only its own instances and pays from its own balance. A role can be
// assumed (STS AssumeRole, RoleArn acs:ram::UID:role/NAME) by the accounts it trusts; its
// credentials act for the role's account. external_id, when set, must be sent as ExternalId.
type FleetAccount struct {
	UID             string          `json:"uid"`
	Name            string          `json:"name,omitempty"`
	AccessKeyID     string          `json:"access_key_id"`
	AccessKeySecret string          `json:"access_key_secret"`
	Balance         float64         `json:"balance"`
	Currency        string          `json:"currency,omitempty"`
	Instances       []FleetInstance `json:"instances"`
	Roles           []FleetRole     `json:"roles,omitempty"`
}

// FleetRole is a RAM role of an account.
type FleetRole struct {
	Name       string   `json:"name"`
	Trusts     []string `json:"trusts"`                // UIDs of the accounts that may assume it
	ExternalID string   `json:"external_id,omitempty"` // required ExternalId, if any
}

var (
	uidRE      = lazyRegexp(`^[0-9]{1,20}$`)
	roleNameRE = lazyRegexp(`^[A-Za-z0-9.-]{1,64}$`)
	keyIDRE    = lazyRegexp(`^[A-Za-z0-9._-]{1,128}$`)
	roleArnRE  = regexp.MustCompile(`^acs:ram::([0-9]+):role/(.+)$`)
	sessionRE  = lazyRegexp(`^[A-Za-z0-9.@_-]{2,64}$`)
	externalRE = regexp.MustCompile(`^[A-Za-z0-9_+=,.@:/-]+$`) // and 2 to 1,224 characters: validExternalID
)

// validateAccounts checks Fleet.Accounts; seen holds the InstanceIds of the top-level
// instances (IDs are unique across accounts, as on Alibaba).
func validateAccounts(accounts []FleetAccount, seen map[string]bool) error {
	uids := map[string]bool{DefaultAccountUID: true}
	keys := map[string]bool{}
	var errs []error
	for i, a := range accounts {
		name := fmt.Sprintf("account #%d", i+1)
		if a.UID != "" {
			name += " (" + a.UID + ")"
		}
		fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(name+": "+format, args...)) }
		switch {
		case !uidRE().MatchString(a.UID):
			fail("uid %q: want the account's numeric UID", a.UID)
		case uids[a.UID]:
			fail("uid %s is used twice (%s is the default account's)", a.UID, DefaultAccountUID)
		}
		uids[a.UID] = true
		switch {
		case !keyIDRE().MatchString(a.AccessKeyID):
			fail("access_key_id %q: want letters, digits, '.', '_' or '-'", a.AccessKeyID)
		case keys[a.AccessKeyID]:
			fail("access_key_id %s is used by another account", a.AccessKeyID)
		case strings.HasPrefix(a.AccessKeyID, "STS."):
			fail("access_key_id %s: STS. is the prefix of temporary credentials", a.AccessKeyID)
		}
		keys[a.AccessKeyID] = true
		if a.AccessKeySecret == "" {
			fail("access_key_secret is empty")
		}
		if !validMoney(a.Balance) {
			fail("balance %v is not an amount (0 to %g)", a.Balance, float64(maxMoney))
		}
		if a.Currency != "" && a.Currency != "CNY" && a.Currency != "USD" {
			fail("currency %q: want CNY or USD", a.Currency)
		}
		roles := map[string]bool{}
		for _, r := range a.Roles {
			switch {
			case !roleNameRE().MatchString(r.Name):
				fail("role %q: want 1-64 letters, digits, '.' or '-'", r.Name)
			case roles[r.Name]:
				fail("role %s is defined twice", r.Name)
			case r.ExternalID != "" && !validExternalID(r.ExternalID):
				fail("role %s: external_id %q has characters Alibaba does not accept", r.Name, r.ExternalID)
			}
			roles[r.Name] = true
			for _, t := range r.Trusts {
				if !uidRE().MatchString(t) {
					fail("role %s: trusts %q, want an account UID", r.Name, t)
				}
			}
		}
		for j, in := range a.Instances {
			iname := fmt.Sprintf("instance #%d", j+1)
			if in.InstanceId != "" {
				iname += " (" + in.InstanceId + ")"
			}
			if err := validateInstance(in); err != nil {
				fail("%s: %v", iname, err)
				continue
			}
			if seen[in.InstanceId] {
				fail("%s: duplicate InstanceId", iname)
			}
			seen[in.InstanceId] = true
		}
	}
	return errors.Join(errs...)
}

// validExternalID: 2 to 1,224 of letters, digits and = , . @ : / - _ + (AssumeRole's reference).
func validExternalID(s string) bool {
	return len(s) >= 2 && len(s) <= 1224 && externalRE.MatchString(s)
}

// account is one emulated Alibaba Cloud account.
type account struct {
	uid, name     string
	keyID, secret string
	balance       float64
	currency      string
	roles         map[string]FleetRole
}

func (a *account) view() Account {
	return Account{UID: a.uid, Name: a.name, Balance: a.balance, Currency: a.currency}
}

// addAccount registers an account; false when its key or UID is taken.
func (s *Server) addAccount(a *account) bool {
	if a.currency == "" {
		a.currency = "CNY"
	}
	if _, taken := s.byKey[a.keyID]; taken {
		return false
	}
	for _, b := range s.accounts {
		if b.uid == a.uid {
			return false
		}
	}
	s.accounts = append(s.accounts, a)
	s.byKey[a.keyID] = a
	return true
}

// stsCredential is a set of temporary credentials issued by AssumeRole.
type stsCredential struct {
	secret, token string
	account       *account // the role's account: the credentials act for it
	expires       time.Time
}

// credential finds who signs with keyID (and, for STS credentials, the SecurityToken).
func (s *Server) credential(keyID, token string, _ time.Time) (*caller, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.byKey[keyID]; ok {
		return &caller{secret: a.secret, account: a}, nil
	}
	c, ok := s.sts[keyID]
	if !ok {
		return nil, errorf(400, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
	}
	switch {
	case token == "":
		return nil, errorf(400, "MissingSecurityToken", "SecurityToken is mandatory for this action.")
	case token != c.token:
		return nil, errorf(400, "InvalidSecurityToken.MismatchWithAccessKey", "The security token you provided does not match the access key.")
	case !s.opts.STSNow().Before(c.expires):
		return nil, errorf(400, "InvalidSecurityToken.Expired", "Specified SecurityToken is expired.")
	}
	return &caller{secret: c.secret, account: c.account}, nil
}

// ---- STS AssumeRole (2015-04-01) ----

// assumeRole issues credentials for a role of another (or the same) account when the role
// trusts the calling account. What ecssim relies on (Alibaba's AssumeRole reference and its
// STS error page): DurationSeconds 900 to the role's maximum session (3600 here), default
// 3600; RoleSessionName 2-64 of letters, digits and . @ - _; errors 400
// InvalidParameter.RoleArn, 404 EntityNotExist.Role, 403 NoPermission (not trusted, or the
// ExternalId does not match), 400 InvalidParameter.RoleSessionName, 400
// InvalidParameter.DurationSeconds, 400 InvalidParameter.ExternalId.
func (s *Server) assumeRole(a *account, p params, _ time.Time) (map[string]any, *apiError) {
	m := roleArnRE.FindStringSubmatch(p.get("RoleArn"))
	if m == nil {
		return nil, errorf(400, "InvalidParameter.RoleArn", "The parameter RoleArn is wrongly formed.")
	}
	uid, roleName := m[1], m[2]
	session := p.get("RoleSessionName")
	if !sessionRE().MatchString(session) {
		return nil, errorf(400, "InvalidParameter.RoleSessionName", "The parameter RoleSessionName is wrongly formed.")
	}
	duration := 3600
	if p.has("DurationSeconds") {
		n, err := strconv.Atoi(p.get("DurationSeconds"))
		if err != nil || n < 900 || n > 3600 {
			return nil, errorf(400, "InvalidParameter.DurationSeconds", "The Min/Max value of DurationSeconds is 15min/1hr.")
		}
		duration = n
	}
	ext := p.get("ExternalId")
	if ext != "" && !validExternalID(ext) {
		return nil, errorf(400, "InvalidParameter.ExternalId", "The parameter ExternalId is wrongly formed.")
	}
	var owner *account
	for _, b := range s.accounts {
		if b.uid == uid {
			owner = b
		}
	}
	var role FleetRole
	found := false
	if owner != nil {
		role, found = owner.roles[roleName]
	}
	if !found {
		return nil, errorf(404, "EntityNotExist.Role", "The role not exists: %s.", p.get("RoleArn"))
	}
	trusted := false
	for _, t := range role.Trusts {
		trusted = trusted || t == a.uid
	}
	if !trusted || role.ExternalID != "" && role.ExternalID != ext {
		return nil, errorf(403, "NoPermission", "You are not authorized to do this action. You should be authorized by RAM: No permission perform sts:AssumeRole on this Role. Maybe you should check the role's trust policy.")
	}
	expires := s.opts.STSNow().Add(time.Duration(duration) * time.Second).UTC().Truncate(time.Second)
	cred := &stsCredential{secret: randomText(30), token: "CAIS" + randomText(120), account: owner, expires: expires}
	keyID := "STS.NT" + randomText(24)
	s.sts[keyID] = cred
	roleID := "3" + strings.Repeat("0", 4) + owner.uid
	return map[string]any{
		"Credentials": map[string]any{
			"AccessKeyId": keyID, "AccessKeySecret": cred.secret, "SecurityToken": cred.token,
			"Expiration": expires.Format("2006-01-02T15:04:05Z"),
		},
		"AssumedRoleUser": map[string]any{
			"Arn":           "acs:ram::" + owner.uid + ":role/" + strings.ToLower(roleName) + "/" + session,
			"AssumedRoleId": roleID + ":" + session,
		},
	}, nil
}

// randomText is n characters of letters and digits.
func randomText(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// ---- BSS QueryAccountBalance (2017-12-14) ----

// queryAccountBalance answers the calling account's balance as BSS OpenAPI does: amounts as
// strings with two decimals, Code "200", Success true.
func (s *Server) queryAccountBalance(a *account, _ params, now time.Time) (map[string]any, *apiError) {
	money := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
	return map[string]any{
		"Code": "200", "Message": "Successful!", "Success": true,
		"Data": map[string]any{
			"AvailableAmount": money(a.balance), "AvailableCashAmount": money(a.balance), "CreditAmount": money(0),
			"MybankCreditAmount": money(0), "QuotaLimit": money(0), "Currency": a.currency,
		},
	}, nil
}
