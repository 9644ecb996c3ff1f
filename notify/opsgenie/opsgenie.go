package opsgenie

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/vigilml/vigil/notify"
)

// Name is the integration's name in config and routes.
const Name = "opsgenie"

// DefaultAPIURL is Opsgenie's US endpoint; EU accounts use
// https://api.eu.opsgenie.com.
const DefaultAPIURL = "https://api.opsgenie.com"

// Options configures a Notifier. APIKey is a secret.
type Options struct {
	APIKey     string
	APIURL     string
	HTTPClient *http.Client
}

// Notifier calls the Alert API. It is safe for concurrent use.
type Notifier struct{ opts Options }

// New builds a Notifier.
func New(opts Options) (*Notifier, error) {
	if opts.APIKey == "" {
		return nil, errors.New("opsgenie: the API key is empty")
	}
	if opts.APIURL == "" {
		opts.APIURL = DefaultAPIURL
	}
	opts.APIURL = strings.TrimRight(opts.APIURL, "/")
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	return &Notifier{opts: opts}, nil
}

// Name implements notify.Notifier.
func (n *Notifier) Name() string { return Name }

// Priority maps a rule severity to an Opsgenie priority.
func Priority(severity string) string {
	switch severity {
	case "critical":
		return "P1"
	case "warning":
		return "P3"
	case "info":
		return "P5"
	}
	return "P3"
}

// Notify implements notify.Notifier with one attempt (two requests for a
// test event). The returned ref is the alias.
func (n *Notifier) Notify(ctx context.Context, ev notify.Event) (string, error) {
	alias := ev.DedupKey
	if alias == "" {
		alias = notify.DedupKey(ev.Model, ev.Rule)
	}
	actor := ev.Actor
	if actor == "" {
		actor = "vigil"
	}
	switch ev.Kind {
	case notify.KindTrigger, notify.KindEscalate:
		return alias, n.post(ctx, "/v2/alerts", create(alias, ev))
	case notify.KindAcknowledge:
		return alias, n.post(ctx, n.path(alias, "acknowledge"), action(actor, "Acknowledged in Vigil by "+actor))
	case notify.KindResolve:
		return alias, n.post(ctx, n.path(alias, "close"), action(actor, "Resolved: "+ev.Figures()))
	case notify.KindUpdate:
		return alias, n.post(ctx, n.path(alias, "notes"), action(actor, "Update: "+ev.Figures()+" "+ev.Summary))
	case notify.KindTest:
		alias = fmt.Sprintf("vigil/test/%d", time.Now().UnixNano())
		if err := n.post(ctx, "/v2/alerts", create(alias, ev)); err != nil {
			return "", err
		}
		return alias, n.post(ctx, n.path(alias, "close"), action(actor, "test over"))
	}
	return alias, nil
}

func (n *Notifier) path(alias, verb string) string {
	return "/v2/alerts/" + url.PathEscape(alias) + "/" + verb + "?identifierType=alias"
}

func (n *Notifier) post(ctx context.Context, path string, body any) error {
	_, err := notify.Do(ctx, n.opts.HTTPClient, notify.Request{
		Integration: Name, URL: n.opts.APIURL + path, Body: body,
		Header:  http.Header{"Authorization": {"GenieKey " + n.opts.APIKey}},
		Secrets: []string{n.opts.APIKey},
	})
	var e *notify.Error
	if errors.As(err, &e) && (e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden) {
		e.Msg = "the API key was refused: check notify.opsgenie.api_key_env (an API integration key with create and update rights)"
	}
	return err
}

func create(alias string, ev notify.Event) map[string]any {
	msg := ev.Title()
	if f := ev.Figures(); f != "" {
		msg += ": " + f
	}
	if len(msg) > 130 { // Opsgenie's limit
		msg = msg[:127] + "..."
	}
	details := map[string]string{
		"model": ev.Model, "rule": ev.Rule, "metric": ev.Metric, "value": fmt.Sprintf("%g", ev.Value),
		"threshold": ev.Threshold, "incident_id": ev.IncidentID,
	}
	for k, v := range map[string]string{
		"model_version": ev.ModelVersion, "window": ev.Window(), "top_drifted": strings.Join(ev.TopDrifted, ", "),
		"workflow_url": ev.WorkflowURL, "report_url": ev.ReportURL,
	} {
		if v != "" {
			details[k] = v
		}
	}
	var desc strings.Builder
	for _, line := range []string{ev.Summary, ev.Figures(), ev.Window(), ev.WorkflowURL, ev.ReportURL} {
		if line != "" {
			desc.WriteString(line + "\n")
		}
	}
	tags := []string{"vigil", "model:" + ev.Model, "severity:" + ev.Severity}
	priority := Priority(ev.Severity)
	if ev.Kind == notify.KindTest {
		tags = append(tags, "test")
		priority = "P5"
	}
	return map[string]any{
		"message": msg, "alias": alias, "description": desc.String(), "tags": tags,
		"details": details, "entity": ev.Model, "source": "vigil", "priority": priority,
	}
}

func action(user, note string) map[string]string {
	return map[string]string{"user": user, "source": "vigil", "note": strings.TrimSpace(note)}
}
