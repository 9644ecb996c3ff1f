package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// PermanentErrorType is the Temporal ApplicationError type the notify
// activity gives a permanent *Error (IsRetryable false), e.g.
// temporal.NewNonRetryableApplicationError(err.Error(), notify.PermanentErrorType, err),
// so workflows can name it in RetryPolicy.NonRetryableErrorTypes.
const PermanentErrorType = "NotifyPermanent"

// Error is an integration's failure, classified once for every caller.
// Its message never holds a secret: integrations build it from the status
// and the provider's own error text, and redact their secrets from that.
type Error struct {
	Integration string
	Status      int  // HTTP status, 0 when there was no response
	Retryable   bool // whether another attempt may succeed
	Msg         string
	// RetryAfter is the provider's requested wait (429 Retry-After), if any.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Integration)
	b.WriteString(": ")
	if e.Status != 0 {
		fmt.Fprintf(&b, "HTTP %d: ", e.Status)
	}
	b.WriteString(e.Msg)
	if !e.Retryable {
		b.WriteString(" (permanent: retrying will not help)")
	}
	return b.String()
}

// RetryableStatus is the shared classification of HTTP statuses: 429 and
// 5xx may succeed later; other 4xx will not.
func RetryableStatus(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status >= 500
}

// StatusError classifies a non-2xx response. msg should say what to do.
func StatusError(integration string, status int, msg string) *Error {
	if msg == "" {
		msg = http.StatusText(status)
	}
	return &Error{Integration: integration, Status: status, Retryable: RetryableStatus(status), Msg: msg}
}

// IsRetryable reports whether another attempt may help: false only for an
// *Error marked permanent (a 4xx other than 408/429, a bad token, a missing
// channel) and for a canceled context. Transport failures (connection
// refused, timeouts) are retryable.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Retryable
	}
	return true
}

// TransportError wraps a failure to reach the integration (no response).
// *url.Error is unwrapped first, because its message contains the URL, and
// webhook URLs are secrets; every string in secrets is redacted as well.
func TransportError(integration string, err error, secrets ...string) *Error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	retry := !errors.Is(err, context.Canceled)
	return &Error{Integration: integration, Retryable: retry, Msg: Redact(err.Error(), secrets...)}
}

// Redact replaces every non-empty secret in s with "[REDACTED]", including
// its URL-escaped forms.
func Redact(s string, secrets ...string) string {
	for _, sec := range secrets {
		if len(sec) < 4 { // too short to redact without mangling the text
			continue
		}
		for _, form := range []string{sec, url.QueryEscape(sec), url.PathEscape(sec)} {
			s = strings.ReplaceAll(s, form, "[REDACTED]")
		}
	}
	return s
}

// URLSecrets returns the parts of a webhook URL that may be secret, for
// Redact: the URL itself, its path and query (a provider echoing the
// request shows those), every query value and every long path segment.
func URLSecrets(raw string) []string {
	out := []string{raw}
	u, err := url.Parse(raw)
	if err != nil {
		return out
	}
	if u.User != nil {
		out = append(out, u.User.String())
	}
	out = append(out, u.RequestURI(), u.EscapedPath(), u.Path, u.RawQuery)
	for _, vs := range u.Query() {
		out = append(out, vs...)
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if len(seg) >= 16 {
			out = append(out, seg)
		}
	}
	// Longest first, so a part is not left half-redacted by a shorter one.
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}
