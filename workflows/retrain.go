package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/vigilml/vigil/activities"
)

// RetrainInput starts a retrain; Actor is who asked (a rule, or a person).
type RetrainInput struct {
	Model  string
	Reason string
	Actor  string
}

// Retrain outcomes.
const (
	OutcomePromoted        = "promoted"
	OutcomeGateFailed      = "gate-failed"
	OutcomeRejected        = "rejected"
	OutcomeApprovalTimeout = "approval-timeout"
	// OutcomeRolledBack (a canary breached) is in rollout.go.
)

// RetrainResult is the verdict, for the UI and `starter history`.
type RetrainResult struct {
	Outcome    string
	Challenger string
	Champion   string
	Validation activities.ValidateResult
	Reason     string
	// Rollout is the shadow or canary rollout that decided, with its
	// evidence (nil: promoted or refused without one).
	Rollout *activities.RolloutRecord `json:",omitempty"`
}

// RetrainState is what the `state` query shows while a retrain runs.
type RetrainState struct {
	Step       string
	Challenger string
	Champion   string
	Validation *activities.ValidateResult
	Decision   *Decision
	// Rollout is the shadow or canary rollout under way (step shadow or
	// canary) or decided: percent, evaluations with their evidence,
	// decision. RolloutNote says why the latest evaluation took no step
	// (too few compared events, an evaluation that failed).
	Rollout     *activities.RolloutRecord `json:",omitempty"`
	RolloutNote string                    `json:",omitempty"`
	// Override is a person's approve or reject during the rollout.
	Override *Decision `json:",omitempty"`
}

// Decision is a person's verdict on a challenger.
type Decision struct {
	Approved bool
	Actor    string
	Reason   string
}

// ApprovalInput is the payload of the approve and reject Updates.
type ApprovalInput struct {
	Actor  string
	Reason string
}

// RetrainWorkflow trains a challenger, registers it, validates it against
// the champion on the same held-out window, gates it, optionally waits for a
// person's approval, and promotes it — restoring the previous production
// version if a step after the alias move fails.
func RetrainWorkflow(ctx workflow.Context, in RetrainInput) (res *RetrainResult, err error) {
	w := &retrainWorkflow{in: in, state: &RetrainState{Step: "starting"}}
	if err := w.setup(ctx); err != nil {
		return nil, err
	}
	defer func() {
		outcome := "failed"
		if err == nil {
			outcome = res.Outcome
		}
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		dctx = workflow.WithActivityOptions(dctx, activityOptions(30*time.Second, 3))
		_ = workflow.ExecuteActivity(dctx, a.RetrainFinished, activities.RetrainFinishedInput{Model: in.Model, Outcome: outcome}).Get(dctx, nil)
	}()
	return w.run(ctx)
}

type retrainWorkflow struct {
	in    RetrainInput
	state *RetrainState
	spec  activities.ModelSpec
	// alertRefs are the integrations' references to the rollout's first
	// alert, so later ones update it.
	alertRefs map[string]string
}

func (w *retrainWorkflow) setup(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (*RetrainState, error) { return w.state, nil }); err != nil {
		return err
	}
	decide := func(approved bool) func(workflow.Context, ApprovalInput) (string, error) {
		return func(ctx workflow.Context, in ApprovalInput) (string, error) {
			d := &Decision{Approved: approved, Actor: in.Actor, Reason: in.Reason}
			if w.inRollout() {
				w.state.Override = d
			} else {
				w.state.Decision = d
			}
			if approved {
				return "approved", nil
			}
			return "rejected", nil
		}
	}
	validator := func(ctx workflow.Context, in ApprovalInput) error {
		if w.inRollout() {
			if w.state.Override != nil {
				return errors.New("a decision on the rollout was already made")
			}
			return nil
		}
		if w.state.Step != "awaiting-approval" {
			return fmt.Errorf("retrain of %s is not waiting for approval (step: %s)", w.in.Model, w.state.Step)
		}
		if w.state.Decision != nil {
			return errors.New("a decision was already made")
		}
		return nil
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateApprove, decide(true), workflow.UpdateHandlerOptions{Validator: validator}); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateReject, decide(false), workflow.UpdateHandlerOptions{Validator: validator})
}

// inRollout: a shadow or canary rollout is under way, where approve
// promotes and reject stops it at once.
func (w *retrainWorkflow) inRollout() bool {
	return w.state.Rollout != nil && w.state.Rollout.Decision == "" && (w.state.Step == "shadow" || w.state.Step == "canary")
}

func (w *retrainWorkflow) run(ctx workflow.Context) (*RetrainResult, error) {
	short := workflow.WithActivityOptions(ctx, activityOptions(time.Minute, 10))
	var spec activities.ModelSpec
	if err := workflow.ExecuteActivity(short, a.LoadModel, activities.LoadModelInput{Model: w.in.Model}).Get(ctx, &spec); err != nil {
		return nil, err
	}
	if spec.Retrain == nil {
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("model %s has no retrain section in the config", w.in.Model), activities.ErrConfig, nil)
	}
	w.spec = spec
	champion := spec.Version
	w.state.Champion = champion
	runID := workflow.GetInfo(ctx).WorkflowExecution.RunID
	holdoutTo := workflow.Now(ctx).UTC().Truncate(time.Second)
	trainTo := holdoutTo.Add(-spec.Retrain.ValidationWindow)
	trainFrom := trainTo.Add(-spec.Retrain.TrainWindow)

	w.state.Step = "training"
	trainCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: spec.Retrain.Timeout,
		HeartbeatTimeout:    2 * time.Minute,
		// Retries are bounded by time, not by count: every worker lost during
		// training (crash, OOM kill, deploy) costs an attempt that times out,
		// and three of them used to fail the retrain for good. A failing
		// trainer is non-retryable (ErrTraining) and still fails at once.
		ScheduleToCloseTimeout: 3*spec.Retrain.Timeout + time.Hour,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 10 * time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute,
			NonRetryableErrorTypes: append(permanentErrors, activities.ErrTraining),
		},
	})
	var trained activities.TrainResult
	if err := workflow.ExecuteActivity(trainCtx, a.Train, activities.TrainInput{
		Model: w.in.Model, RunID: runID, Reason: w.in.Reason, TrainFrom: trainFrom, TrainTo: trainTo, HoldoutTo: holdoutTo,
	}).Get(ctx, &trained); err != nil {
		return nil, fmt.Errorf("train %s: %w", w.in.Model, err)
	}

	w.state.Step = "registering"
	var reg activities.RegisterResult
	if err := workflow.ExecuteActivity(short, a.Register, activities.RegisterInput{Model: w.in.Model, RunID: runID, Reason: w.in.Reason, Train: trained}).Get(ctx, &reg); err != nil {
		return nil, fmt.Errorf("register challenger of %s: %w", w.in.Model, err)
	}
	w.state.Challenger = reg.Version

	w.state.Step = "validating"
	validateCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Minute, HeartbeatTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 5, NonRetryableErrorTypes: permanentErrors},
	})
	var val activities.ValidateResult
	if err := workflow.ExecuteActivity(validateCtx, a.Validate, activities.ValidateInput{
		Model: w.in.Model, Champion: champion, Challenger: reg.Version, RunID: runID, HoldoutFrom: trainTo, HoldoutTo: holdoutTo,
	}).Get(ctx, &val); err != nil {
		return nil, fmt.Errorf("validate challenger %s of %s: %w", reg.Version, w.in.Model, err)
	}
	w.state.Validation = &val
	result := &RetrainResult{Challenger: reg.Version, Champion: champion, Validation: val}

	if ok, why := Gate(val, spec.Retrain.MinImprovement); !ok {
		result.Outcome, result.Reason = OutcomeGateFailed, why
		w.record(ctx, reg.Version, "rejected", why, "gate")
		w.state.Step = "done"
		return result, nil
	}

	actor := "vigil (gate passed)"
	if spec.Retrain.Approval == "required" {
		w.state.Step = "awaiting-approval"
		decided, err := workflow.AwaitWithTimeout(ctx, spec.Retrain.ApprovalTimeout, func() bool { return w.state.Decision != nil })
		if err != nil {
			return nil, err
		}
		switch {
		case !decided:
			result.Outcome, result.Reason = OutcomeApprovalTimeout, fmt.Sprintf("no decision within %s", spec.Retrain.ApprovalTimeout)
			w.record(ctx, reg.Version, "rejected", result.Reason, "timeout")
			w.state.Step = "done"
			return result, nil
		case !w.state.Decision.Approved:
			result.Outcome, result.Reason = OutcomeRejected, w.state.Decision.Reason
			w.record(ctx, reg.Version, "rejected", "rejected by "+w.state.Decision.Actor+": "+w.state.Decision.Reason, w.state.Decision.Actor)
			w.state.Step = "done"
			return result, nil
		}
		actor = w.state.Decision.Actor
	}

	// A shadow or canary rollout needs a champion to compare with: with
	// none in production, the challenger is promoted directly.
	if ro := spec.Retrain.Rollout; ro != nil && champion != "" &&
		workflow.GetVersion(ctx, changeRollout, workflow.DefaultVersion, 1) == 1 {
		return w.rollout(ctx, ro, champion, reg.Version, result)
	}

	w.state.Step = "promoting"
	if err := w.promote(ctx, reg.Version, actor); err != nil {
		return nil, err
	}
	result.Outcome = OutcomePromoted
	result.Reason = w.in.Reason
	w.state.Step = "done"
	return result, nil
}

// promote moves the production alias, then deploys. If deploying fails the
// alias goes back (compensation), so registry and serving never disagree.
func (w *retrainWorkflow) promote(ctx workflow.Context, version, actor string) (err error) {
	short := workflow.WithActivityOptions(ctx, activityOptions(time.Minute, 10))
	var moved activities.SetAliasResult
	if err := workflow.ExecuteActivity(short, a.SetAlias, activities.SetAliasInput{
		Model: w.in.Model, Alias: "production", Version: version, Actor: actor, Reason: w.in.Reason,
	}).Get(ctx, &moved); err != nil {
		return fmt.Errorf("promote %s of %s: %w", version, w.in.Model, err)
	}
	defer func() {
		if err == nil {
			return
		}
		// Compensate on a disconnected context: the workflow may be cancelled.
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		dctx = workflow.WithActivityOptions(dctx, activityOptions(time.Minute, 20))
		cerr := workflow.ExecuteActivity(dctx, a.SetAlias, activities.SetAliasInput{
			Model: w.in.Model, Alias: "production", Version: moved.Previous, Actor: "vigil (compensation)",
			Reason: fmt.Sprintf("promotion of %s failed: %v", version, err),
		}).Get(dctx, nil)
		err = errors.Join(err, cerr)
		// An endpoint update that outlived its Deploy activity may still
		// finish after the alias moved back: deploy the restored version, so
		// the endpoint waits for that update and then serves what the
		// registry says is production.
		if workflow.GetVersion(ctx, changeDeployCompensation, workflow.DefaultVersion, 1) == 1 && cerr == nil && moved.Previous != "" {
			derr := workflow.ExecuteActivity(workflow.WithActivityOptions(dctx, deployOptions()), a.Deploy,
				activities.DeployInput{Model: w.in.Model, Version: moved.Previous}).Get(dctx, nil)
			err = errors.Join(err, derr)
		}
	}()
	deployCtx := workflow.WithActivityOptions(ctx, deployOptions())
	if err := workflow.ExecuteActivity(deployCtx, a.Deploy, activities.DeployInput{Model: w.in.Model, Version: version}).Get(ctx, nil); err != nil {
		return fmt.Errorf("deploy %s of %s: %w", version, w.in.Model, err)
	}
	return nil
}

// changeDeployCompensation: a failed promotion also redeploys the version
// the alias went back to (version 1).
const changeDeployCompensation = "deploy-compensation"

// deployOptions bound a Deploy: a SageMaker endpoint update takes minutes to
// over half an hour, so an hour per attempt, with heartbeats (the activity
// beats while it waits) so a lost worker is noticed in two minutes; a retry
// re-attaches to the update under way.
func deployOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: time.Hour, HeartbeatTimeout: 2 * time.Minute, ScheduleToCloseTimeout: 3 * time.Hour,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 10 * time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute,
			NonRetryableErrorTypes: permanentErrors,
		},
	}
}

func (w *retrainWorkflow) record(ctx workflow.Context, version, status, reason, actor string) {
	short := workflow.WithActivityOptions(ctx, activityOptions(time.Minute, 10))
	if err := workflow.ExecuteActivity(short, a.RecordOutcome, activities.RecordOutcomeInput{
		Model: w.in.Model, Version: version, Status: status, Reason: reason, Actor: actor,
	}).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Error("record retrain outcome", "model", w.in.Model, "err", err)
	}
}

// Gate decides whether a challenger may replace the champion: it must break
// no baseline constraint and beat the champion by at least minImprovement
// on the validation metric (in the metric's better direction).
func Gate(v activities.ValidateResult, minImprovement float64) (bool, string) {
	if len(v.Violations) > 0 {
		return false, fmt.Sprintf("challenger breaks %d constraint(s): %v", len(v.Violations), v.Violations)
	}
	if !v.HasChampion {
		return true, "no champion in production"
	}
	gain := v.Challenger - v.Champion
	if !v.HigherIsBetter {
		gain = -gain
	}
	if gain < minImprovement {
		return false, fmt.Sprintf("%s: challenger %.4f vs champion %.4f, improvement %.4f < required %.4f",
			v.Metric, v.Challenger, v.Champion, gain, minImprovement)
	}
	return true, fmt.Sprintf("%s improved by %.4f", v.Metric, gain)
}

// RollbackWorkflow moves production back to an earlier version and records
// why; its fixed ID per model keeps two rollbacks from racing.
func RollbackWorkflow(ctx workflow.Context, in activities.RollbackInput) (*activities.RollbackResult, error) {
	short := workflow.WithActivityOptions(ctx, activityOptions(time.Minute, 10))
	var res activities.RollbackResult
	if err := workflow.ExecuteActivity(short, a.Rollback, in).Get(ctx, &res); err != nil {
		return nil, fmt.Errorf("roll back %s: %w", in.Model, err)
	}
	deployCtx := workflow.WithActivityOptions(ctx, deployOptions())
	if err := workflow.ExecuteActivity(deployCtx, a.Deploy, activities.DeployInput{Model: in.Model, Version: res.To}).Get(ctx, nil); err != nil {
		return nil, fmt.Errorf("deploy %s of %s after rollback: %w", res.To, in.Model, err)
	}
	return &res, nil
}
