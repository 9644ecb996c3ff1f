package runapi

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"

	"github.com/vigilml/vigil/control"
	"github.com/vigilml/vigil/workflows"
)

// Temporal is the Starter over Temporal: it starts the workflows through
// the control client, the one place that knows their start options, and
// describes runs itself.
type Temporal struct {
	Control *control.Client
}

// Evaluate implements Starter.
func (t *Temporal) Evaluate(ctx context.Context, model string, windowEnd time.Time) (Run, error) {
	run, err := t.Control.Trigger(ctx, model, windowEnd)
	if err != nil {
		return Run{}, fmt.Errorf("start the evaluation of %s: %w", model, err)
	}
	return t.Describe(ctx, run.GetID(), run.GetRunID())
}

// Retrain implements Starter.
func (t *Temporal) Retrain(ctx context.Context, model, reason, actor string) (Run, error) {
	started, runID, err := t.Control.StartRetrain(ctx, model, reason, actor)
	if err != nil {
		return Run{}, fmt.Errorf("start a retrain of %s: %w", model, err)
	}
	run, err := t.Describe(ctx, workflows.RetrainWorkflowID(model), runID)
	if err != nil {
		return Run{}, err
	}
	run.Started = &started
	return run, nil
}

// EvaluationID implements Starter.
func (t *Temporal) EvaluationID(model string) string { return workflows.MonitorWorkflowID(model) }

// RetrainID implements Starter.
func (t *Temporal) RetrainID(model string) string { return workflows.RetrainWorkflowID(model) }

// Describe implements Starter.
func (t *Temporal) Describe(ctx context.Context, workflowID, runID string) (Run, error) {
	d, err := t.Control.C.DescribeWorkflowExecution(ctx, workflowID, runID)
	var notFound *serviceerror.NotFound
	var invalid *serviceerror.InvalidArgument // a run ID that is not a UUID
	if errors.As(err, &notFound) || errors.As(err, &invalid) {
		return Run{}, ErrNotFound
	}
	if err != nil {
		return Run{}, fmt.Errorf("describe %s/%s: %w", workflowID, runID, err)
	}
	info := d.GetWorkflowExecutionInfo()
	run := Run{WorkflowID: info.GetExecution().GetWorkflowId(), RunID: info.GetExecution().GetRunId(), Status: status(info.GetStatus())}
	if ts := info.GetStartTime(); ts != nil {
		at := ts.AsTime().UTC()
		run.StartedAt = &at
	}
	if ts := info.GetCloseTime(); ts != nil && info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		at := ts.AsTime().UTC()
		run.ClosedAt = &at
	}
	return run, nil
}

// status names a workflow status as the API reports it: running,
// completed, failed, canceled, terminated, timed_out, continued_as_new.
func status(s enumspb.WorkflowExecutionStatus) string {
	if name, ok := statuses[s]; ok {
		return name
	}
	return "unknown" // a status newer than this code: never taken for completed
}

var statuses = map[enumspb.WorkflowExecutionStatus]string{
	enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:          "running",
	enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:        "completed",
	enumspb.WORKFLOW_EXECUTION_STATUS_FAILED:           "failed",
	enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:         "canceled",
	enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED:       "terminated",
	enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:        "timed_out",
	enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW: "continued_as_new",
	enumspb.WORKFLOW_EXECUTION_STATUS_PAUSED:           "paused",
}
