package runapi

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
)

// Temporal is the Starter over a Temporal client: it starts the workflows
// through the functions of the workflows client (so start options and
// workflow IDs stay in one place) and describes runs itself.
type Temporal struct {
	C client.Client
	// Trigger starts one evaluation now (workflows client Trigger).
	Trigger func(ctx context.Context, model string, windowEnd time.Time) (client.WorkflowRun, error)
	// StartRetrain starts a retrain unless one runs (workflows client
	// StartRetrain): started, and the run ID of the new or running one.
	StartRetrain func(ctx context.Context, model, reason, actor string) (bool, string, error)
	// EvaluationIDOf and RetrainIDOf are the workflow ID helpers.
	EvaluationIDOf, RetrainIDOf func(model string) string
}

// Evaluate implements Starter.
func (t *Temporal) Evaluate(ctx context.Context, model string, windowEnd time.Time) (Run, error) {
	run, err := t.Trigger(ctx, model, windowEnd)
	if err != nil {
		return Run{}, fmt.Errorf("start the evaluation of %s: %w", model, err)
	}
	return t.Describe(ctx, run.GetID(), run.GetRunID())
}

// Retrain implements Starter.
func (t *Temporal) Retrain(ctx context.Context, model, reason, actor string) (Run, error) {
	started, runID, err := t.StartRetrain(ctx, model, reason, actor)
	if err != nil {
		return Run{}, fmt.Errorf("start a retrain of %s: %w", model, err)
	}
	run, err := t.Describe(ctx, t.RetrainIDOf(model), runID)
	if err != nil {
		return Run{}, err
	}
	run.Started = &started
	return run, nil
}

// EvaluationID implements Starter.
func (t *Temporal) EvaluationID(model string) string { return t.EvaluationIDOf(model) }

// RetrainID implements Starter.
func (t *Temporal) RetrainID(model string) string { return t.RetrainIDOf(model) }

// Describe implements Starter.
func (t *Temporal) Describe(ctx context.Context, workflowID, runID string) (Run, error) {
	d, err := t.C.DescribeWorkflowExecution(ctx, workflowID, runID)
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
