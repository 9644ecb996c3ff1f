package control

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/vigilml/vigil/activities"
	"github.com/vigilml/vigil/workflows"
)

// Client is how processes outside workflows talk to them: the starter CLI,
// the worker's Slack buttons, and the activities that start workflows. It is
// not workflow code; the names it uses come from workflows/names.go.
type Client struct {
	C         client.Client
	TaskQueue string
	// OnSilence, when set, is told of every silence the incident workflow
	// accepted (the audit trail records it: no activity runs for a silence).
	OnSilence func(ctx context.Context, model, rule, actor string, d time.Duration, until time.Time) error
}

var _ activities.Workflows = (*Client)(nil)

func modelAttrs(model string) temporal.SearchAttributes {
	return temporal.NewSearchAttributes(workflows.AttrModel.ValueSet(model))
}

// SignalIncident delivers an evaluation, starting the IncidentWorkflow if
// it is not running.
func (c *Client) SignalIncident(ctx context.Context, ev activities.Evaluation) error {
	_, err := c.C.SignalWithStartWorkflow(ctx, workflows.IncidentWorkflowID(ev.Model), workflows.SignalEvaluation, ev,
		client.StartWorkflowOptions{
			ID:                    workflows.IncidentWorkflowID(ev.Model),
			TaskQueue:             c.TaskQueue,
			TypedSearchAttributes: modelAttrs(ev.Model),
		}, workflows.IncidentWorkflow, workflows.IncidentInput{Model: ev.Model})
	if err != nil {
		return fmt.Errorf("signal-with-start incident workflow of %s: %w", ev.Model, err)
	}
	return nil
}

// RetrainOptions are the start options of every retrain: a fixed ID per
// model, refused while one runs, allowed again once it has closed.
func RetrainOptions(model, taskQueue string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                                       workflows.RetrainWorkflowID(model),
		TaskQueue:                                taskQueue,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes:                    modelAttrs(model),
	}
}

// StartRetrain starts a RetrainWorkflow unless one is running for the model.
func (c *Client) StartRetrain(ctx context.Context, model, reason, actor string) (bool, string, error) {
	run, err := c.C.ExecuteWorkflow(ctx, RetrainOptions(model, c.TaskQueue), workflows.RetrainWorkflow,
		workflows.RetrainInput{Model: model, Reason: reason, Actor: actor})
	var running *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &running) {
		return false, running.RunId, nil
	}
	if err != nil {
		return false, "", err
	}
	return true, run.GetRunID(), nil
}

// LastRetrain is the latest RetrainWorkflow run of a model (running or
// closed) and its start time; zero values when the model never retrained.
func (c *Client) LastRetrain(ctx context.Context, model string) (string, time.Time, error) {
	d, err := c.C.DescribeWorkflowExecution(ctx, workflows.RetrainWorkflowID(model), "")
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return "", time.Time{}, nil
	}
	if err != nil {
		return "", time.Time{}, fmt.Errorf("describe %s: %w", workflows.RetrainWorkflowID(model), err)
	}
	info := d.GetWorkflowExecutionInfo()
	return info.GetExecution().GetRunId(), info.GetStartTime().AsTime(), nil
}

// Trigger runs one evaluation now, outside the schedule, and returns its run.
func (c *Client) Trigger(ctx context.Context, model string, windowEnd time.Time) (client.WorkflowRun, error) {
	return c.C.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       workflows.MonitorWorkflowID(model),
		TaskQueue:                c.TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		TypedSearchAttributes:    modelAttrs(model),
	}, workflows.MonitorWorkflow, workflows.MonitorInput{Model: model, WindowEnd: windowEnd})
}

// Ack acknowledges a model's open incidents (one rule's, or all).
func (c *Client) Ack(ctx context.Context, model, rule, actor string) (*workflows.AckResult, error) {
	h, err := c.C.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: workflows.IncidentWorkflowID(model), UpdateName: workflows.UpdateAck,
		Args: []any{workflows.AckInput{Rule: rule, Actor: actor}}, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return nil, fmt.Errorf("ack %s: %w", model, err)
	}
	var res workflows.AckResult
	if err := h.Get(ctx, &res); err != nil {
		return nil, fmt.Errorf("ack %s: %w", model, err)
	}
	return &res, nil
}

// Silence mutes a model's rule ("" = all) for d.
func (c *Client) Silence(ctx context.Context, model, rule string, d time.Duration, actor string) (time.Time, error) {
	h, err := c.C.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: workflows.IncidentWorkflowID(model), UpdateName: workflows.UpdateSilence,
		Args: []any{workflows.SilenceInput{Rule: rule, For: d, Actor: actor}}, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("silence %s: %w", model, err)
	}
	var until time.Time
	if err := h.Get(ctx, &until); err != nil {
		return time.Time{}, fmt.Errorf("silence %s: %w", model, err)
	}
	if c.OnSilence != nil {
		if err := c.OnSilence(ctx, model, rule, actor, d, until); err != nil {
			return until, fmt.Errorf("%s is silenced until %s, but the audit trail did not record it: %w", model, until.Format(time.RFC3339), err)
		}
	}
	return until, nil
}

// Incidents queries a model's incident state; nil when none ran yet.
func (c *Client) Incidents(ctx context.Context, model string) (*workflows.IncidentState, error) {
	v, err := c.C.QueryWorkflow(ctx, workflows.IncidentWorkflowID(model), "", workflows.QueryState)
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("query incidents of %s: %w", model, err)
	}
	var st workflows.IncidentState
	if err := v.Get(&st); err != nil {
		return nil, err
	}
	return &st, nil
}

// Decide approves or rejects the challenger a retrain is waiting on.
func (c *Client) Decide(ctx context.Context, model string, approve bool, actor, reason string) error {
	name := workflows.UpdateReject
	if approve {
		name = workflows.UpdateApprove
	}
	h, err := c.C.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: workflows.RetrainWorkflowID(model), UpdateName: name,
		Args: []any{workflows.ApprovalInput{Actor: actor, Reason: reason}}, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return fmt.Errorf("%s retrain of %s: %w", name, model, err)
	}
	return h.Get(ctx, nil)
}

// Rollback runs a RollbackWorkflow and waits for it.
func (c *Client) Rollback(ctx context.Context, in activities.RollbackInput) (*activities.RollbackResult, error) {
	run, err := c.C.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       workflows.RollbackWorkflowID(in.Model),
		TaskQueue:                c.TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		TypedSearchAttributes:    modelAttrs(in.Model),
	}, workflows.RollbackWorkflow, in)
	if err != nil {
		return nil, fmt.Errorf("start rollback of %s: %w", in.Model, err)
	}
	var res activities.RollbackResult
	if err := run.Get(ctx, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// EnsureSearchAttributes registers Vigil's search attributes that the
// namespace lacks; existing ones are left alone, so it is safe at every start.
// It needs operator rights on the namespace.
func (c *Client) EnsureSearchAttributes(ctx context.Context, namespace string) error {
	have, err := c.C.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list search attributes: %w", err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for name, typ := range workflows.SearchAttributes() {
		if _, ok := have.GetCustomAttributes()[name]; !ok {
			missing[name] = typ
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if _, err := c.C.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: namespace, SearchAttributes: missing,
	}); err != nil {
		return fmt.Errorf("add search attributes: %w", err)
	}
	return nil
}
