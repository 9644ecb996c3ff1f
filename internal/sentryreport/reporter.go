package sentryreport

import (
	"fmt"
	"strings"
	"time"

	"github.com/getsentry/sentry-go"
)

// Options configure a Reporter.
type Options struct {
	Environment string
	Release     string  // the worker's build ID
	SampleRate  float64 // 0: 1 (every event)
	// Secrets are values that must never appear in an event (the values of
	// every *_env variable of the config); each is replaced by [redacted].
	Secrets []string
	// Transport overrides Sentry's HTTP transport (tests).
	Transport sentry.Transport
}

// Reporter sends events to one Sentry project.
type Reporter struct {
	hub     *sentry.Hub
	secrets []string
}

// Tag names on every event Vigil sends.
const (
	TagModel        = "model"
	TagWorkflowID   = "workflow_id"
	TagWorkflowType = "workflow_type"
	TagActivityType = "activity_type"
	TagAttempt      = "attempt"
	TagSource       = "source" // activity | workflow | log
)

// New creates a Reporter for dsn. An invalid DSN is an error that does not
// repeat it (it holds the project's key).
func New(dsn string, o Options) (*Reporter, error) {
	if _, err := sentry.NewDsn(dsn); err != nil {
		return nil, fmt.Errorf("sentry: the DSN is not valid (want https://<key>@<host>/<project>)")
	}
	r := &Reporter{}
	for _, s := range o.Secrets {
		if len(s) >= 4 { // shorter values would redact ordinary words
			r.secrets = append(r.secrets, s)
		}
	}
	rate := o.SampleRate
	if rate == 0 {
		rate = 1
	}
	c, err := sentry.NewClient(sentry.ClientOptions{
		Dsn:         dsn,
		Environment: o.Environment,
		Release:     o.Release,
		SampleRate:  rate,
		Transport:   o.Transport,
		// No request data, user or IP (Vigil uses none of the SDK's HTTP
		// instrumentation, and scrub drops them regardless).
		BeforeSend: r.scrub,
	})
	if err != nil {
		return nil, fmt.Errorf("sentry: %w", err)
	}
	r.hub = sentry.NewHub(c, sentry.NewScope())
	return r, nil
}

// Enabled reports whether events go anywhere. Since sentry-go v0.50.0 a hub
// without a client answers a shared no-op client, never nil, so this asks
// the client rather than comparing it with nil.
func (r *Reporter) Enabled() bool {
	return r != nil && r.hub.Client().IsEnabled()
}

// Flush waits up to timeout for queued events to be sent.
func (r *Reporter) Flush(timeout time.Duration) bool {
	if !r.Enabled() {
		return true
	}
	return r.hub.Flush(timeout)
}

// capture sends one event built from err (its type and message) or msg.
func (r *Reporter) capture(level sentry.Level, msg string, err error, tags map[string]string, stack *sentry.Stacktrace) {
	if !r.Enabled() {
		return
	}
	ev := sentry.NewEvent()
	ev.Level = level
	ev.Message = msg
	if err != nil {
		ex := sentry.Exception{Type: fmt.Sprintf("%T", err), Value: err.Error(), Stacktrace: stack}
		ev.Exception = []sentry.Exception{ex}
	}
	for k, v := range tags {
		if v != "" {
			ev.Tags[k] = v
		}
	}
	// Group by what failed, not by the message, which carries ids.
	ev.Fingerprint = []string{tags[TagSource], tags[TagActivityType] + tags[TagWorkflowType], fmt.Sprintf("%T", err), msgKey(msg)}
	r.hub.CaptureEvent(ev)
}

// msgKey is the message up to its first ':' (the stable part of a wrapped error).
func msgKey(msg string) string {
	k, _, _ := strings.Cut(msg, ":")
	return k
}

const maxString = 2000

// scrub replaces secret values in every string of the event and bounds
// their length; it runs in the client just before sending.
func (r *Reporter) scrub(ev *sentry.Event, _ *sentry.EventHint) *sentry.Event {
	clean := func(s string) string {
		for _, sec := range r.secrets {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
		if len(s) > maxString {
			s = s[:maxString] + "…"
		}
		return s
	}
	ev.Message = clean(ev.Message)
	for i := range ev.Exception {
		ev.Exception[i].Value = clean(ev.Exception[i].Value)
	}
	for k, v := range ev.Tags {
		ev.Tags[k] = clean(v)
	}
	ev.Breadcrumbs = nil
	ev.Request = nil
	ev.User = sentry.User{}
	return ev
}
