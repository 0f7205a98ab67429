package ecs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
)

// The kinds of failure the bot distinguishes. Every error from an API call is an *APIError
// whose Kind is one of these, so callers test with errors.Is(err, ecs.ErrBalance).
var (
	ErrNotFound        = errors.New("instance not found")
	ErrPostPaid        = errors.New("pay-as-you-go (PostPaid) instances cannot be renewed")
	ErrBalance         = errors.New("not enough account balance")
	ErrInvalidPeriod   = errors.New("renewal period not allowed")
	ErrThrottled       = errors.New("throttled by Alibaba Cloud (API rate limit), try again in a minute")
	ErrAccessDenied    = errors.New("access denied by Alibaba Cloud (check the AccessKey and its RAM permissions)")
	ErrIdempotence     = errors.New("this ClientToken was already used with different parameters")
	ErrIncorrectStatus = errors.New("the instance's current status does not allow this")
	ErrInvalidParam    = errors.New("request rejected by Alibaba Cloud")
	ErrUnavailable     = errors.New("ECS API unavailable")
	ErrNotVerified     = errors.New("the new expiry is not visible yet")
)

// APIError is a failed ECS API call, classified once. Unwrap returns Kind.
type APIError struct {
	Kind       error  // one of the Err* sentinels
	Action     string // e.g. "RenewInstance"
	Target     string // what the call was about: instance ID(s) or region, may be empty
	Code       string // Alibaba's error code, e.g. "InvalidAccountStatus.NotEnoughBalance"; "" for network errors
	Message    string // Alibaba's message (or the network error), without secrets
	RequestID  string
	HTTPStatus int // 0 for network errors
	Attempts   int // attempts made, retries included
}

// Error reads "not enough account balance for i-xxx (InvalidAccountStatus.NotEnoughBalance:
// Your account does not have enough balance.; RenewInstance, RequestId 81D3…)".
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString(e.Kind.Error())
	if e.Target != "" {
		b.WriteString(" for " + e.Target)
	}
	b.WriteString(" (")
	switch {
	case e.Code != "" && e.Message != "":
		b.WriteString(e.Code + ": " + e.Message + "; ")
	case e.Code != "" || e.Message != "":
		b.WriteString(e.Code + e.Message + "; ")
	}
	b.WriteString(e.Action)
	if e.RequestID != "" {
		b.WriteString(", RequestId " + e.RequestID)
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, ", %d attempts", e.Attempts)
	}
	b.WriteString(")")
	return b.String()
}

func (e *APIError) Unwrap() error { return e.Kind }

// retryable reports whether the same request should be sent again.
func (e *APIError) retryable() bool {
	switch {
	case e.Kind == ErrThrottled, e.Kind == ErrUnavailable:
		return true
	case e.Code == "Idempotence.Processing", e.Code == "LastTokenProcessing":
		return true // the first request with this token is still running
	}
	return false
}

// unanswered reports whether the attempt may have been carried out without its answer
// reaching us: a 5xx or network error, or Alibaba still processing an earlier attempt.
func (e *APIError) unanswered() bool {
	return e.Kind == ErrUnavailable || e.Code == "Idempotence.Processing" || e.Code == "LastTokenProcessing"
}

// kindOf maps an Alibaba error code (and HTTP status) to a sentinel. The table is the only
// place codes are interpreted.
func kindOf(code string, status int) error {
	switch code {
	case "InternalError", "ServiceUnavailable":
		return ErrUnavailable // DescribeRenewalPrice documents InternalError with 400 too
	case "InvalidInstanceId.NotFound", "InvalidParameter.InvalidInstanceId", "InvalidInstanceIds.NotFound":
		return ErrNotFound
	case "ChargeTypeViolation", "InvalidChargeType.NotSupported":
		return ErrPostPaid
	case "InvalidAccountStatus.NotEnoughBalance", "InsufficientBalance", "Account.Arrearage":
		return ErrBalance
	case "InvalidParameter.Duration", "MissingParamter", "InvalidPriceUnit.ValueNotSupported":
		return ErrInvalidPeriod
	case "IdempotenceParamNotMatch", "IdempotentParameterMismatch", "InvalidIdempotenceParameter.Mismatch":
		return ErrIdempotence
	case "SignatureDoesNotMatch", "IncompleteSignature", "InvalidAction.Unauthorized",
		"InvalidTimeStamp.Expired", "IllegalTimestamp", "InvalidSecurityToken.Expired", "InvalidSecurityToken.Malformed":
		return ErrAccessDenied
	case "IncorrectInstanceStatus", "Instance.UnPaidOrder", "OperationDenied.UnfinishedOrder",
		"LastOrderProcessing", "InvalidLoanOrderStatus.Uncompleted", "InstanceLockedForSecurity",
		"InvalidStatus.Upgrading", "OperationConflict", "Idempotence.Processing", "LastTokenProcessing":
		return ErrIncorrectStatus
	}
	for _, p := range []struct {
		prefix string
		kind   error
	}{
		{"Throttling", ErrThrottled},
		{"InvalidPeriod", ErrInvalidPeriod}, // also InvalidPeriodUnit.*
		{"InvalidExpectedRenewDay", ErrInvalidPeriod},
		{"Forbidden", ErrAccessDenied},
		{"InvalidAccessKeyId", ErrAccessDenied},
		{"NoPermission", ErrAccessDenied},
	} {
		if strings.HasPrefix(code, p.prefix) {
			return p.kind
		}
	}
	if status >= 500 {
		return ErrUnavailable
	}
	return ErrInvalidParam
}

// credentialsError is returned by the credentials provider wrapper when no credentials can
// be found (the SDK passes it through unchanged).
type credentialsError struct{ err error }

func (e *credentialsError) Error() string {
	return "no usable Alibaba Cloud credentials: " + e.err.Error()
}

// classify turns what the SDK returned into an *APIError. It never copies request URLs
// (they carry the signature and any STS token) into the message.
func classify(action, target string, err error) *APIError {
	e := &APIError{Action: action, Target: target}
	var se *sdkerrors.ServerError
	var ce *sdkerrors.ClientError
	var cred *credentialsError
	var sp *sdkPanic
	var ue *url.Error
	var ne net.Error
	switch {
	case errors.As(err, &se):
		e.Code, e.HTTPStatus, e.RequestID = se.ErrorCode(), se.HttpStatus(), se.RequestId()
		e.Message = scrub(se.Message())
		e.Kind = kindOf(e.Code, e.HTTPStatus)
		if e.Code == "" {
			e.Code = fmt.Sprintf("HTTP%d", e.HTTPStatus)
		}
	case errors.As(err, &sp):
		e.Kind, e.Code, e.Message = ErrUnavailable, "SDK.Panic", scrub(sp.Error())
	case errors.As(err, &cred):
		e.Kind, e.Code, e.Message = ErrAccessDenied, "NoCredentials", cred.Error()
	case errors.As(err, &ce):
		e.Code = ce.ErrorCode()
		e.Message = scrub(ce.Message())
		if origin := ce.OriginError(); origin != nil {
			e.Message += ": " + networkMessage(origin)
		}
		e.Kind = ErrUnavailable // SDK.TimeoutError, SDK.JsonUnmarshalError, ...
	case errors.As(err, &ue), errors.As(err, &ne):
		e.Kind, e.Message = ErrUnavailable, networkMessage(err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		e.Kind, e.Message = ErrUnavailable, err.Error()
	default:
		e.Kind, e.Message = ErrInvalidParam, scrub(err.Error())
	}
	return e
}

// networkMessage describes a transport error without the request URL.
func networkMessage(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		host := ""
		if u, perr := url.Parse(ue.URL); perr == nil {
			host = u.Host
		}
		return strings.ToUpper(ue.Op) + " " + host + ": " + scrub(ue.Err.Error())
	}
	return scrub(err.Error())
}

// scrub drops the part of a message that can quote the signed request: the server's
// string-to-sign and request URLs hold every parameter, an STS SecurityToken included.
func scrub(msg string) string {
	cut := len(msg)
	if i := strings.Index(msg, sdkerrors.MessageContain); i >= 0 {
		cut = i
	} else if i := strings.Index(msg, "string to sign"); i >= 0 {
		cut = i
	}
	if strings.Contains(msg, "Signature") || strings.Contains(msg, "SecurityToken") {
		if i := strings.Index(msg, "?"); i >= 0 && i < cut {
			cut = i
		}
	}
	if cut == len(msg) {
		return msg
	}
	return strings.TrimSpace(msg[:cut]) + " [request details removed]"
}
