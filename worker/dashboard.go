package main

import (
	"context"
	"fmt"
	"log/slog"
	"path"
	"sort"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/control"
	"github.com/vigilml/vigil/dashboard"
	"github.com/vigilml/vigil/notify"
	"github.com/vigilml/vigil/store"
	"github.com/vigilml/vigil/train/registry"
	"github.com/vigilml/vigil/workflows"
)

// temporalRuns is the dashboard's view of Temporal: visibility for the
// timeline, the incident workflow's state query for open incidents.
type temporalRuns struct {
	c   client.Client
	cfg *config.Config
	dc  converter.DataConverter
	// incidents is the one call into the workflows client.
	incidents func(ctx context.Context, model string) (*workflows.IncidentState, error)
}

func (r *temporalRuns) url(id string) string {
	return notify.WorkflowURL(r.cfg.Temporal.UIURL, r.cfg.Temporal.Namespace, id)
}

// History lists retrains, rollbacks and breaching or warning evaluations.
func (r *temporalRuns) History(ctx context.Context, model string, since time.Time, limit int) ([]dashboard.Run, error) {
	q := fmt.Sprintf(`%s = %q AND (WorkflowType IN ("RetrainWorkflow", "RollbackWorkflow") OR %s IN (%q, %q))`,
		workflows.AttrModel.GetName(), model, workflows.AttrStatus.GetName(), workflows.StatusBreach, workflows.StatusWarning)
	if !since.IsZero() {
		q += fmt.Sprintf(` AND StartTime >= %q`, since.UTC().Format(time.RFC3339))
	}
	resp, err := r.c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: r.cfg.Temporal.Namespace, PageSize: int32(limit), Query: q})
	if err != nil {
		return nil, fmt.Errorf("list workflows of %s: %w", model, err)
	}
	var out []dashboard.Run
	for _, e := range resp.GetExecutions() {
		id := e.GetExecution().GetWorkflowId()
		run := dashboard.Run{WorkflowID: id, Start: e.GetStartTime().AsTime(), URL: r.url(id),
			Status: statusName(e.GetStatus())}
		if e.GetCloseTime() != nil && e.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			run.Close = e.GetCloseTime().AsTime()
		}
		switch e.GetType().GetName() {
		case "RetrainWorkflow":
			run.Kind = "retrain"
		case "RollbackWorkflow":
			run.Kind = "rollback"
		default:
			run.Kind = "evaluation"
			if p := e.GetSearchAttributes().GetIndexedFields()[workflows.AttrStatus.GetName()]; p != nil {
				var s string
				if converter.GetDefaultDataConverter().FromPayload(p, &s) == nil {
					run.Status = s
				}
			}
			// The memo names the stored report, whose key is the window.
			if p := e.GetMemo().GetFields()["report"]; p != nil {
				var uri string
				if r.dc.FromPayload(p, &uri) == nil {
					run.Window, _ = time.Parse(time.RFC3339, strings.TrimSuffix(path.Base(uri), ".json"))
				}
			}
		}
		out = append(out, run)
	}
	return out, nil
}

func statusName(s enumspb.WorkflowExecutionStatus) string {
	name := strings.TrimPrefix(s.String(), "WORKFLOW_EXECUTION_STATUS_")
	switch name {
	case "TIMED_OUT":
		return "TimedOut"
	case "CONTINUED_AS_NEW":
		return "ContinuedAsNew"
	}
	return name[:1] + strings.ToLower(name[1:])
}

// OpenIncidents asks the model's incident workflow.
func (r *temporalRuns) OpenIncidents(ctx context.Context, model string) ([]dashboard.Incident, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := r.incidents(ctx, model)
	if err != nil || st == nil {
		return nil, err
	}
	var out []dashboard.Incident
	for _, rs := range st.Rules {
		if inc := rs.Open; inc != nil {
			out = append(out, dashboard.Incident{Rule: inc.Rule, Severity: inc.Severity, Metric: inc.Metric, Value: inc.Value,
				Threshold: inc.Threshold, OpenedAt: inc.OpenedAt, AckedBy: inc.AckedBy, Window: inc.WindowStart,
				URL: r.url(workflows.IncidentWorkflowID(model))})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Rule < out[j].Rule })
	return out, nil
}

// newDashboard builds the pages' loader and renderer; the first overview is
// loaded in the background so that the first visitor does not wait for
// every model's reports to be parsed.
func newDashboard(ctx context.Context, cfg *config.Config, st *store.Store, reg *registry.Registry, c client.Client,
	dc converter.DataConverter, wf *control.Client, log *slog.Logger) (*dashboard.Loader, dashboard.Renderer) {
	if dc == nil {
		dc = converter.GetDefaultDataConverter()
	}
	l := &dashboard.Loader{Config: cfg, Reports: st, Registry: reg, Log: log,
		Runs: &temporalRuns{c: c, cfg: cfg, dc: dc, incidents: wf.Incidents}}
	go l.Overview(ctx)
	return l, dashboard.Renderer{Base: dashboard.BasePath(cfg.Worker.PublicURL), HideValues: cfg.Worker.Dashboard.HideValues}
}
