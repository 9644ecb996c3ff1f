package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// Kind is what happened to an incident.
type Kind string

const (
	// KindTrigger opens an incident: the first notification.
	KindTrigger Kind = "trigger"
	// KindEscalate is sent to the escalation integrations when an incident is
	// not acknowledged within the rule's escalate_after.
	KindEscalate Kind = "escalate"
	// KindAcknowledge says someone (Actor) took the incident.
	KindAcknowledge Kind = "acknowledge"
	// KindResolve closes the incident: the metric recovered.
	KindResolve Kind = "resolve"
	// KindUpdate carries new figures for an open incident.
	KindUpdate Kind = "update"
	// KindTest is a clearly marked test sent by `starter notify test`.
	KindTest Kind = "test"
)

// Valid reports whether k is one of the kinds above.
func (k Kind) Valid() bool {
	switch k {
	case KindTrigger, KindEscalate, KindAcknowledge, KindResolve, KindUpdate, KindTest:
		return true
	}
	return false
}

// Event is one notification about one incident. It is serializable and
// secret-free: it travels through Temporal history.
type Event struct {
	Kind Kind `json:"kind"`
	// IncidentID is stable for the life of one incident, e.g.
	// "churn/accuracy-drop/1732761600" (model/rule/opened-unix).
	IncidentID string `json:"incident_id"`
	// DedupKey identifies the alert at the provider (PagerDuty dedup_key,
	// Opsgenie alias); see DedupKey.
	DedupKey string `json:"dedup_key"`

	Model        string    `json:"model"`
	ModelVersion string    `json:"model_version,omitempty"`
	Rule         string    `json:"rule"`
	Severity     string    `json:"severity"` // info | warning | critical
	Metric       string    `json:"metric"`   // report path, e.g. performance.accuracy
	Value        float64   `json:"value"`
	Threshold    string    `json:"threshold"` // as config.Rule.Threshold, e.g. "< 0.85"
	WindowStart  time.Time `json:"window_start"`
	WindowEnd    time.Time `json:"window_end"`
	TopDrifted   []string  `json:"top_drifted,omitempty"`
	Summary      string    `json:"summary,omitempty"`
	WorkflowURL  string    `json:"workflow_url,omitempty"` // Temporal UI; see WorkflowURL
	ReportURL    string    `json:"report_url,omitempty"`
	// Actor is who caused this event (acknowledged, silenced, ran the test).
	Actor string `json:"actor,omitempty"`
	// AckedBy is who acknowledged the incident, if anyone, so that a later
	// update still shows it.
	AckedBy string    `json:"acked_by,omitempty"`
	At      time.Time `json:"at"`
	// Ref is the reference this integration returned for the first send of
	// this incident (Slack "channel:ts", PagerDuty dedup key, ...). Later
	// events carry it back so they update the same message or thread.
	// Refs are per integration: the caller keeps one per integration name.
	Ref string `json:"ref,omitempty"`

	// WeakSegments are the window's worst segments (filter, metric, value,
	// delta, rows), at most three.
	WeakSegments []string `json:"weak_segments,omitempty"`
}

// Title is a one-line description, e.g. "[critical] churn: accuracy-drop".
func (e Event) Title() string {
	t := fmt.Sprintf("[%s] %s: %s", e.Severity, e.Model, e.Rule)
	if e.Kind == KindTest {
		t = "[TEST] " + t
	}
	return t
}

// Figures is "performance.accuracy = 0.78 (threshold < 0.85)".
func (e Event) Figures() string {
	if e.Metric == "" {
		return ""
	}
	s := fmt.Sprintf("%s = %.4g", e.Metric, e.Value)
	if e.Threshold != "" {
		s += " (threshold " + e.Threshold + ")"
	}
	return s
}

// Window is "2026-11-28 03:00 – 03:15 UTC", or "" when unknown.
func (e Event) Window() string {
	if e.WindowStart.IsZero() && e.WindowEnd.IsZero() {
		return ""
	}
	s, t := e.WindowStart.UTC(), e.WindowEnd.UTC()
	if s.Format("2006-01-02") == t.Format("2006-01-02") {
		return s.Format("2006-01-02 15:04") + " – " + t.Format("15:04") + " UTC"
	}
	return s.Format("2006-01-02 15:04") + " – " + t.Format("2006-01-02 15:04") + " UTC"
}

// Notifier sends events to one integration.
//
// Notify makes ONE attempt: it does not retry, because in the worker the
// activity's Temporal retry policy does the retrying (and records it). Use
// Send for a retry loop outside Temporal. An error is an *Error when the
// integration answered; IsRetryable says whether another attempt can help.
// Notify returns the integration's reference for the incident (see
// Event.Ref); it may be empty for integrations without one.
type Notifier interface {
	Name() string
	Notify(ctx context.Context, ev Event) (ref string, err error)
}

// MaxDedupKeyLen is the longest key DedupKey returns: PagerDuty's dedup_key
// limit (255); Opsgenie's alias allows 512.
const MaxDedupKeyLen = 255

// DedupKey identifies a model's rule at the providers: "vigil/<model>/<rule>"
// when that fits in MaxDedupKeyLen bytes, otherwise a readable prefix of it
// followed by "~" and the hex SHA-256 of the whole key, as Alertmanager hashes
// group keys. Equal inputs give equal keys, so trigger, acknowledge and
// resolve reach the same provider incident.
func DedupKey(model, rule string) string {
	key := "vigil/" + model + "/" + rule
	if len(key) <= MaxDedupKeyLen {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	const keep = 120
	prefix := key[:keep]
	for !utf8.ValidString(prefix) {
		prefix = prefix[:len(prefix)-1]
	}
	return prefix + "~" + hex.EncodeToString(sum[:])
}

// IncidentID is the conventional incident identifier: model/rule/opened-unix.
func IncidentID(model, rule string, opened time.Time) string {
	return fmt.Sprintf("%s/%s/%d", model, rule, opened.Unix())
}

// WorkflowURL links to a workflow in the Temporal Web UI.
func WorkflowURL(uiBase, namespace, workflowID string) string {
	if uiBase == "" || workflowID == "" {
		return ""
	}
	return strings.TrimRight(uiBase, "/") + "/namespaces/" + url.PathEscape(namespace) +
		"/workflows/" + url.PathEscape(workflowID)
}
