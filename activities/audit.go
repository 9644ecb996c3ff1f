package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/vigilml/vigil/audit"
	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/dashboard"
	"github.com/vigilml/vigil/notify"
)

// The audit trail: activities record an event (package audit) for each
// step of the trail into the outbox, never to Kafka, so a Kafka outage fails
// no activity. An event's id comes from the step — the workflow run and the
// activity's ID, or the incident's ID — so a retried activity records the
// same event, which the outbox keeps once.

// incidentEvents maps a notification's kind to the incident's transition.
var incidentEvents = map[string]string{
	"trigger":     audit.IncidentOpened,
	"escalate":    audit.IncidentEscalated,
	"acknowledge": audit.IncidentAcknowledged,
	"silence":     audit.IncidentSilenced,
	"resolve":     audit.IncidentResolved,
}

// stepID identifies the activity run that records an event: its workflow
// run and its activity ID, which a retry keeps. Outside an activity (direct
// calls) the event's content identifies it.
func stepID(ctx context.Context, d audit.Data) []string {
	if activity.IsActivity(ctx) {
		info := activity.GetInfo(ctx)
		return []string{info.WorkflowExecution.ID, info.WorkflowExecution.RunID, info.ActivityID}
	}
	body, _ := json.Marshal(d)
	return []string{string(body)}
}

// workflowLink links the event to the workflow run of the activity.
func workflowLink(ctx context.Context, cfg *config.Config) *audit.Workflow {
	if !activity.IsActivity(ctx) {
		return nil
	}
	we := activity.GetInfo(ctx).WorkflowExecution
	w := &audit.Workflow{ID: we.ID, RunID: we.RunID}
	if u := notify.WorkflowURL(cfg.Temporal.UIURL, cfg.Temporal.Namespace, we.ID); u != "" && we.RunID != "" {
		w.URL = u + "/" + we.RunID + "/history"
	}
	return w
}

// record writes one event of the activity to the audit outbox (nothing when
// the worker has no audit.kafka). idParts, when given, replace the
// activity's identity (incident events: the incident's ID, shared by every
// integration's notification of one transition). at zero is now.
func (a *Activities) record(ctx context.Context, typ string, at time.Time, d audit.Data, idParts ...string) error {
	if a.Audit == nil {
		return nil
	}
	cfg := a.Config()
	if d.Workflow == nil {
		d.Workflow = workflowLink(ctx, cfg)
	}
	if len(idParts) == 0 {
		idParts = stepID(ctx, d)
	}
	if at.IsZero() {
		at = time.Now()
	}
	ev := audit.New(audit.Source(cfg.Temporal.Namespace), typ, at, d, idParts...)
	if err := a.Audit.Record(ctx, ev); err != nil {
		return storeErr(fmt.Errorf("record audit event %s of %s: %w", typ, d.Model, err))
	}
	return nil
}

// withLineage adds what the registry records of d.ModelVersion (data and
// their hashes, code version, hyperparameters, artifact) to d.
func (a *Activities) withLineage(ctx context.Context, d audit.Data) (audit.Data, *audit.Lineage, error) {
	if a.Audit == nil || a.Lineage == nil || d.ModelVersion == "" {
		return d, nil, nil
	}
	l, err := a.Lineage(ctx, d.Model, d.ModelVersion)
	if err != nil {
		return d, nil, fmt.Errorf("lineage of %s version %s for the audit trail: %w", d.Model, d.ModelVersion, err)
	}
	if l != nil {
		d.Data, d.CodeVersion, d.Hyperparameters, d.ArtifactURI = l.Data, l.CodeVersion, l.Hyperparameters, l.ArtifactURI
		if d.RunID == "" {
			d.RunID = l.RunID
		}
	}
	return d, l, nil
}

// recordVersion records an event about a version, with its lineage.
func (a *Activities) recordVersion(ctx context.Context, typ string, d audit.Data) error {
	d, _, err := a.withLineage(ctx, d)
	if err != nil {
		return err
	}
	return a.record(ctx, typ, time.Time{}, d)
}

// recordEvaluation records a finished evaluation (PublishMetrics).
func (a *Activities) recordEvaluation(ctx context.Context, in PublishMetricsInput) error {
	if a.Audit == nil {
		return nil
	}
	cfg := a.Config()
	return a.record(ctx, audit.EvaluationCompleted, time.Time{}, audit.Data{
		Model: in.Model, ModelVersion: in.Version, Status: in.Status,
		Window:    &audit.Window{Start: in.WindowStart.UTC(), End: in.WindowEnd.UTC()},
		ReportURI: in.ReportURI, ReportURL: reportURL(cfg, in.Model, in.WindowStart, in.ReportURI),
	})
}

func reportURL(cfg *config.Config, model string, windowStart time.Time, uri string) string {
	if u := dashboard.ReportURL(cfg.Worker.PublicURL, model, windowStart, uri); u != uri {
		return u
	}
	return ""
}

// recordIncident records an incident's transition, which a notification
// announces. Every integration told of one transition records the same
// event (its id is the incident's, its time the transition's).
func (a *Activities) recordIncident(ctx context.Context, in NotifyInput) error {
	typ, ok := incidentEvents[in.Kind]
	if !ok || a.Audit == nil {
		return nil
	}
	inc := in.Incident
	cfg := a.Config()
	value, opened := inc.Value, inc.OpenedAt.UTC()
	d := audit.Data{
		Model: inc.Model, ModelVersion: inc.Version,
		Incident: &audit.Incident{ID: inc.ID, Rule: inc.Rule, Metric: inc.Metric, Severity: inc.Severity,
			Value: &value, Threshold: inc.Threshold, OpenedAt: &opened},
		Window:    &audit.Window{Start: inc.WindowStart.UTC(), End: inc.WindowEnd.UTC()},
		ReportURI: inc.ReportURI, ReportURL: reportURL(cfg, inc.Model, inc.WindowStart, inc.ReportURI),
		Status: "open",
	}
	at, idParts := inc.OpenedAt, []string{inc.ID}
	switch typ {
	case audit.IncidentEscalated:
		at = inc.EscalateAt
	case audit.IncidentAcknowledged:
		at, d.Actor = inc.AckedAt, inc.AckedBy
		d.Status = "acknowledged"
	case audit.IncidentSilenced:
		until := inc.SilencedUntil.UTC()
		d.Incident.SilencedUntil = &until
		at, d.Status = time.Time{}, "silenced"
		idParts = append(idParts, until.Format(time.RFC3339Nano))
	case audit.IncidentResolved:
		at, d.Status = inc.ResolvedAt, "resolved"
		d.Reason = fmt.Sprintf("%s recovered", inc.Metric)
	}
	return a.record(ctx, typ, at, d, idParts...)
}
