package pagerduty

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/PagerDuty/go-pagerduty"

	"github.com/vigilml/vigil/notify"
)

// Name is the integration's name in config and routes.
const Name = "pagerduty"

// DefaultEventsURL is the Events API v2 base; the client appends /v2/enqueue.
const DefaultEventsURL = "https://events.pagerduty.com"

// Options configures a Notifier. RoutingKey is a secret.
type Options struct {
	RoutingKey string
	EventsURL  string // default DefaultEventsURL
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// Notifier sends Events API v2 events. It is safe for concurrent use.
type Notifier struct {
	key    string
	client *pagerduty.Client
	logger *slog.Logger
}

// New builds a Notifier.
func New(opts Options) (*Notifier, error) {
	if opts.RoutingKey == "" {
		return nil, errors.New("pagerduty: the routing key is empty")
	}
	if opts.EventsURL == "" {
		opts.EventsURL = DefaultEventsURL
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	c := pagerduty.NewClient("", pagerduty.WithV2EventsAPIEndpoint(strings.TrimRight(opts.EventsURL, "/")))
	hc := *opts.HTTPClient
	hc.Transport = retryAfterTransport{base: hc.Transport}
	c.HTTPClient = &hc
	return &Notifier{key: opts.RoutingKey, client: c, logger: opts.Logger.With("integration", Name)}, nil
}

// Name implements notify.Notifier.
func (n *Notifier) Name() string { return Name }

// Severity maps a rule severity to PagerDuty's: critical, warning and info
// map to themselves; anything else is "error".
func Severity(s string) string {
	switch s {
	case "critical", "warning", "info":
		return s
	}
	return "error"
}

// Notify implements notify.Notifier with one attempt (two requests for a
// test event). The returned ref is the dedup key.
func (n *Notifier) Notify(ctx context.Context, ev notify.Event) (string, error) {
	key := ev.DedupKey
	if key == "" {
		key = notify.DedupKey(ev.Model, ev.Rule)
	}
	switch ev.Kind {
	case notify.KindTrigger, notify.KindEscalate:
		return key, n.send(ctx, n.event("trigger", key, ev))
	case notify.KindAcknowledge:
		return key, n.send(ctx, n.event("acknowledge", key, ev))
	case notify.KindResolve:
		return key, n.send(ctx, n.event("resolve", key, ev))
	case notify.KindTest:
		key = fmt.Sprintf("vigil/test/%d", time.Now().UnixNano())
		if err := n.send(ctx, n.event("trigger", key, ev)); err != nil {
			return "", err
		}
		return key, n.send(ctx, n.event("resolve", key, ev))
	default: // update: nothing to page about
		return key, nil
	}
}

// event builds the Events API v2 body for action.
func (n *Notifier) event(action, key string, ev notify.Event) *pagerduty.V2Event {
	e := &pagerduty.V2Event{RoutingKey: n.key, Action: action, DedupKey: key, Client: "Vigil", ClientURL: ev.WorkflowURL}
	if action != "trigger" {
		return e // acknowledge and resolve take no payload
	}
	details := map[string]any{
		"model": ev.Model, "rule": ev.Rule, "metric": ev.Metric, "value": ev.Value,
		"threshold": ev.Threshold, "incident_id": ev.IncidentID,
	}
	if ev.ModelVersion != "" {
		details["model_version"] = ev.ModelVersion
	}
	if w := ev.Window(); w != "" {
		details["window"] = w
	}
	if len(ev.TopDrifted) > 0 {
		details["top_drifted"] = ev.TopDrifted
	}
	if ev.Summary != "" {
		details["summary"] = ev.Summary
	}
	summary := ev.Title()
	if f := ev.Figures(); f != "" {
		summary += ": " + f
	}
	if len(summary) > 1024 { // PagerDuty's limit
		summary = summary[:1021] + "..."
	}
	e.Payload = &pagerduty.V2Payload{
		Summary: summary, Source: "vigil/" + ev.Model, Severity: Severity(ev.Severity),
		Component: ev.Model, Group: ev.ModelVersion, Class: ev.Metric, Details: details,
	}
	if ev.Kind == notify.KindTest {
		e.Payload.Severity = "info"
	}
	if !ev.At.IsZero() {
		e.Payload.Timestamp = ev.At.UTC().Format(time.RFC3339)
	}
	for _, l := range []struct{ href, text string }{{ev.WorkflowURL, "Temporal workflow"}, {ev.ReportURL, "Vigil report"}} {
		if l.href != "" {
			e.Links = append(e.Links, map[string]string{"href": l.href, "text": l.text})
		}
	}
	return e
}

func (n *Notifier) send(ctx context.Context, e *pagerduty.V2Event) error {
	var retryAfter time.Duration
	_, err := n.client.ManageEventWithContext(context.WithValue(ctx, retryAfterKey{}, &retryAfter), e)
	if err == nil {
		return nil
	}
	var (
		apiErr pagerduty.APIError
		evErr  pagerduty.EventsAPIV2Error
		status int
	)
	switch {
	case errors.As(err, &apiErr):
		status = apiErr.StatusCode
	case errors.As(err, &evErr):
		status = evErr.StatusCode
	default:
		return notify.TransportError(Name, err, n.key)
	}
	var msg string
	switch {
	case status == http.StatusBadRequest:
		msg = e.Action + " rejected as invalid: check that notify.pagerduty.routing_key_env names an Events API v2 integration key"
	case status == http.StatusUnauthorized || status == http.StatusForbidden || status == http.StatusNotFound:
		msg = e.Action + " refused: the routing key is not valid for the Events API v2"
	case status == http.StatusTooManyRequests:
		msg = e.Action + " rate limited by PagerDuty"
	default:
		msg = e.Action + ": " + notify.Redact(err.Error(), n.key)
	}
	se := notify.StatusError(Name, status, msg)
	if status == http.StatusTooManyRequests {
		se.RetryAfter = retryAfter
	}
	return se
}

// retryAfterTransport hands a 429's Retry-After (seconds) to send, which
// go-pagerduty's errors do not carry, so that a retry waits as long as
// PagerDuty asks.
type retryAfterTransport struct{ base http.RoundTripper }

type retryAfterKey struct{}

func (t retryAfterTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusTooManyRequests {
		if d, ok := req.Context().Value(retryAfterKey{}).(*time.Duration); ok {
			if s, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && s > 0 {
				*d = time.Duration(s) * time.Second
			}
		}
	}
	return resp, err
}
