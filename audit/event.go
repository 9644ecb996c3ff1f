package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// The event types. Each is emitted by one step (see the README's "Audit
// events" for where).
const (
	EvaluationCompleted  = "io.vigil.evaluation.completed"
	IncidentOpened       = "io.vigil.incident.opened"
	IncidentEscalated    = "io.vigil.incident.escalated"
	IncidentAcknowledged = "io.vigil.incident.acknowledged"
	IncidentSilenced     = "io.vigil.incident.silenced"
	IncidentResolved     = "io.vigil.incident.resolved"
	RetrainStarted       = "io.vigil.retrain.started"
	RetrainTrained       = "io.vigil.retrain.trained"
	RetrainValidated     = "io.vigil.retrain.validated"
	RetrainPromoted      = "io.vigil.retrain.promoted"
	RetrainRejected      = "io.vigil.retrain.rejected"
	ModelRolledBack      = "io.vigil.model.rolled_back"
	AliasMoved           = "io.vigil.alias.moved"
)

// Types lists every event type.
var Types = []string{
	EvaluationCompleted, IncidentOpened, IncidentEscalated, IncidentAcknowledged, IncidentSilenced, IncidentResolved,
	RetrainStarted, RetrainTrained, RetrainValidated, RetrainPromoted, RetrainRejected, ModelRolledBack, AliasMoved,
}

// SpecVersion is the CloudEvents version of the events.
const SpecVersion = "1.0"

// ContentType is the Kafka content-type header of a structured-mode event.
const ContentType = "application/cloudevents+json"

// Event is one CloudEvents 1.0 event in structured mode.
type Event struct {
	SpecVersion string `json:"specversion"`
	// ID is derived from the step that emitted the event (ID), so an
	// activity that runs twice emits one id.
	ID     string `json:"id"`
	Source string `json:"source"` // urn:vigil:<temporal namespace>
	Type   string `json:"type"`
	// Subject is the model: every event is about one.
	Subject         string    `json:"subject"`
	Time            time.Time `json:"time"`
	DataContentType string    `json:"datacontenttype"`
	Data            Data      `json:"data"`
}

// Data is an event's payload. Only the fields of the event's type are set.
// It holds no secret: names of integrations and variables, never their
// credentials.
type Data struct {
	Model        string `json:"model"`
	ModelVersion string `json:"model_version,omitempty"`
	// PreviousVersion is where an alias pointed before a move or rollback.
	PreviousVersion string `json:"previous_version,omitempty"`
	Alias           string `json:"alias,omitempty"`
	// RunID is the retrain's training run (its workflow run).
	RunID  string `json:"run_id,omitempty"`
	Actor  string `json:"actor,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Status is the evaluation's status (ok, warning, breach, no-data, ...),
	// the retrain verdict (rejected) or the incident's state.
	Status   string    `json:"status,omitempty"`
	Window   *Window   `json:"window,omitempty"`
	Incident *Incident `json:"incident,omitempty"`
	// Lineage of ModelVersion (retrain and registry events), from the
	// registry: the data it was trained on with their hashes, the code and
	// the hyperparameters.
	Data            []DataRef          `json:"data,omitempty"`
	CodeVersion     string             `json:"code_version,omitempty"`
	Hyperparameters map[string]string  `json:"hyperparameters,omitempty"`
	ArtifactURI     string             `json:"artifact_uri,omitempty"`
	Metrics         map[string]float64 `json:"metrics,omitempty"`
	Validation      *Validation        `json:"validation,omitempty"`
	Workflow        *Workflow          `json:"workflow,omitempty"`
	// ReportURI is the stored report; ReportURL its dashboard page when
	// worker.public_url is set.
	ReportURI string `json:"report_uri,omitempty"`
	ReportURL string `json:"report_url,omitempty"`
}

// Window is an evaluation window, [Start, End).
type Window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Incident identifies an incident and what opened it.
type Incident struct {
	ID            string     `json:"id,omitempty"` // none for a silence of a rule
	Rule          string     `json:"rule,omitempty"`
	Metric        string     `json:"metric,omitempty"`
	Severity      string     `json:"severity,omitempty"`
	Value         *float64   `json:"value,omitempty"`
	Threshold     string     `json:"threshold,omitempty"`
	OpenedAt      *time.Time `json:"opened_at,omitempty"`
	SilencedUntil *time.Time `json:"silenced_until,omitempty"`
}

// DataRef is one input of a training run and the hash of its content.
type DataRef struct {
	Role   string `json:"role"`
	URI    string `json:"uri"`
	SHA256 string `json:"sha256,omitempty"`
}

// Lineage is what the registry records of a version.
type Lineage struct {
	RunID           string // the training run that produced the version
	Data            []DataRef
	CodeVersion     string
	Hyperparameters map[string]string
	ArtifactURI     string
}

// Validation is champion against challenger on the held-out window.
type Validation struct {
	Metric         string   `json:"metric"`
	Champion       *float64 `json:"champion,omitempty"`
	Challenger     float64  `json:"challenger"`
	HigherIsBetter bool     `json:"higher_is_better"`
	Violations     []string `json:"violations,omitempty"`
	Rows           int64    `json:"rows"`
}

// Workflow links the Temporal workflow run that emitted the event; URL is
// its page in the Web UI when temporal.ui_url is known.
type Workflow struct {
	ID    string `json:"id"`
	RunID string `json:"run_id,omitempty"`
	URL   string `json:"url,omitempty"`
}

// ID derives an event id from what identifies the step that emits it and
// the event's type: the same parts give the same id, so a step that runs
// twice emits one event. It is 32 hex digits (128 bits of SHA-256).
func ID(typ string, parts ...string) string {
	h := sha256.Sum256([]byte(typ + "\x00" + strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:16])
}

// New builds an event of type typ about data.Model, with the id derived
// from idParts, at time at.
func New(source, typ string, at time.Time, data Data, idParts ...string) Event {
	return Event{
		SpecVersion: SpecVersion, ID: ID(typ, idParts...), Source: source, Type: typ,
		Subject: data.Model, Time: at.UTC(), DataContentType: "application/json", Data: data,
	}
}

// Source is the CloudEvents source of a Vigil installation: its Temporal
// namespace.
func Source(namespace string) string { return "urn:vigil:" + namespace }

// Silenced is the event of a silence: rule ("" = every rule) of model
// muted by actor for d, until. Its id is the silence's (model, rule, end):
// recording it twice records one event.
func Silenced(source, model, rule, actor string, d time.Duration, until time.Time) Event {
	if rule == "" {
		rule = "*"
	}
	u := until.UTC()
	return New(source, IncidentSilenced, until.Add(-d), Data{Model: model, Actor: actor, Status: "silenced",
		Reason: "silenced for " + d.String(), Incident: &Incident{Rule: rule, SilencedUntil: &u}},
		model, rule, u.Format(time.RFC3339Nano))
}

// SilenceRecorder returns a control.Client OnSilence hook that records
// silences in o.
func SilenceRecorder(o *Outbox, namespace string) func(ctx context.Context, model, rule, actor string, d time.Duration, until time.Time) error {
	return func(ctx context.Context, model, rule, actor string, d time.Duration, until time.Time) error {
		return o.Record(ctx, Silenced(Source(namespace), model, rule, actor, d, until))
	}
}
