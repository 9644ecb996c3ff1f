package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/vigilml/vigil/audit"
	"github.com/vigilml/vigil/train"
	"github.com/vigilml/vigil/train/lifecycle"
)

// ModelOps is the model lifecycle behind the retrain and rollback
// activities: the registry, the trainers and the serving targets.
// *lifecycle.Ops is the implementation; the activities below only convert
// their wire types to the lifecycle's, turn worker shutdown into
// train.ErrShutdown, heartbeat, and classify errors. Every method is
// idempotent by its inputs, because activities retry.
type ModelOps interface {
	// Production is the version behind the production alias ("" = none).
	Production(ctx context.Context, model string) (string, error)
	// Train runs the model's trainer for the run, reporting progress.
	Train(ctx context.Context, in lifecycle.TrainRequest, progress func(string)) (*lifecycle.Trained, error)
	// Register records a trained model; the same RunID yields the same version.
	Register(ctx context.Context, in lifecycle.RegisterRequest) (version string, err error)
	// Validate scores champion and challenger on the same held-out window.
	Validate(ctx context.Context, in lifecycle.ValidateRequest) (*lifecycle.Validation, error)
	// SetAlias moves an alias and returns where it pointed before.
	SetAlias(ctx context.Context, in lifecycle.AliasMove) (previous string, err error)
	// Deploy rolls a version out to the model's serving target, if any.
	Deploy(ctx context.Context, model, version string) (target string, err error)
	// RecordOutcome stores a retrain's verdict on a version.
	RecordOutcome(ctx context.Context, in lifecycle.Outcome) error
	// Rollback moves production back and records why.
	Rollback(ctx context.Context, in lifecycle.RollbackRequest) (lifecycle.Move, error)
	// Stage puts a rollout's challenger beside the champion, or takes it away.
	Stage(ctx context.Context, in lifecycle.StageRequest) (target string, err error)
	// EvaluateRollout compares challenger and champion on a window of live traffic.
	EvaluateRollout(ctx context.Context, in lifecycle.RolloutEvaluationRequest) (*lifecycle.RolloutEvaluation, error)
	// RecordRollout stores a rollout's state in the registry.
	RecordRollout(ctx context.Context, model string, ro lifecycle.Rollout) error
	// IsPermanent tells failures retrying cannot fix (a training program
	// that exits non-zero, an unknown version).
	IsPermanent(err error) bool
}

var _ ModelOps = (*lifecycle.Ops)(nil)

// Where a wire type and the lifecycle's have the same fields, a Go
// conversion (lifecycle.TrainRequest(in)) translates them: a field added to
// one side alone stops it compiling, and the translation is then written out
// as for Register.

func (a *Activities) ops() (ModelOps, error) {
	if a.Models == nil {
		return nil, temporal.NewNonRetryableApplicationError("this worker has no model registry configured (storage.registry)", ErrConfig, nil)
	}
	return a.Models, nil
}

func (a *Activities) classify(err error, errType string) error {
	if err != nil && a.Models != nil && a.Models.IsPermanent(err) {
		return temporal.NewNonRetryableApplicationError(err.Error(), errType, err)
	}
	return err
}

// Train runs the trainer, heartbeating its progress so a dead worker is
// noticed within the heartbeat timeout and a retry re-attaches to the job.
func (a *Activities) Train(ctx context.Context, in TrainInput) (*TrainResult, error) {
	ops, err := a.ops()
	if err != nil {
		return nil, err
	}
	if err := a.record(ctx, audit.RetrainStarted, time.Time{}, audit.Data{Model: in.Model, RunID: in.RunID, Reason: in.Reason,
		Window: &audit.Window{Start: in.TrainFrom.UTC(), End: in.TrainTo.UTC()}}); err != nil {
		return nil, err
	}
	stop := heartbeat(ctx, 20*time.Second)
	defer stop()
	progress := func(msg string) {
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, msg)
		}
		a.log(ctx).Debug("training", "model", in.Model, "progress", msg)
	}
	tctx, stopTrainer := trainerContext(ctx)
	defer stopTrainer()
	res, err := ops.Train(tctx, lifecycle.TrainRequest(in), progress)
	if err != nil {
		return nil, a.classify(fmt.Errorf("train %s (run %s): %w", in.Model, in.RunID, err), ErrTraining)
	}
	return (*TrainResult)(res), nil
}

// trainerContext is ctx for the lifecycle's Train, with a worker shutdown
// (the Temporal SDK cancels running activities with cause
// worker.ErrWorkerShutdown when Stop's WorkerStopTimeout runs out) turned
// into train.ErrShutdown, so remote jobs are left running for the next
// attempt instead of being stopped.
func trainerContext(ctx context.Context) (context.Context, func()) {
	tctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	if dl, ok := ctx.Deadline(); ok {
		var cancelDL context.CancelFunc
		tctx, cancelDL = context.WithDeadline(tctx, dl)
		prev := cancel
		cancel = func(err error) { prev(err); cancelDL() }
	}
	stop := context.AfterFunc(ctx, func() {
		cause := context.Cause(ctx)
		if errors.Is(cause, worker.ErrWorkerShutdown) {
			cause = fmt.Errorf("%w: %w", train.ErrShutdown, cause)
		}
		cancel(cause)
	})
	return tctx, func() { stop(); cancel(context.Canceled) }
}

// Register records the challenger with its lineage.
func (a *Activities) Register(ctx context.Context, in RegisterInput) (*RegisterResult, error) {
	ops, err := a.ops()
	if err != nil {
		return nil, err
	}
	v, err := ops.Register(ctx, lifecycle.RegisterRequest{Model: in.Model, RunID: in.RunID, Reason: in.Reason,
		Trained: lifecycle.Trained(in.Train)})
	if err != nil {
		return nil, a.classify(err, ErrConfig)
	}
	// Trained: the challenger as registered, with its data hashes and code
	// version.
	if err := a.recordVersion(ctx, audit.RetrainTrained, audit.Data{Model: in.Model, ModelVersion: v, RunID: in.RunID,
		Reason: in.Reason, Metrics: in.Train.Metrics}); err != nil {
		return nil, err
	}
	return &RegisterResult{Version: v}, nil
}

// Validate compares champion and challenger.
func (a *Activities) Validate(ctx context.Context, in ValidateInput) (*ValidateResult, error) {
	ops, err := a.ops()
	if err != nil {
		return nil, err
	}
	stop := heartbeat(ctx, 10*time.Second)
	defer stop()
	res, err := ops.Validate(ctx, lifecycle.ValidateRequest(in))
	if err != nil {
		return nil, a.classify(err, ErrBadData)
	}
	val := &audit.Validation{Metric: res.Metric, Challenger: res.Challenger, HigherIsBetter: res.HigherIsBetter,
		Violations: res.Violations, Rows: res.Rows}
	if res.HasChampion {
		val.Champion = &res.Champion
	}
	if err := a.recordVersion(ctx, audit.RetrainValidated, audit.Data{Model: in.Model, ModelVersion: in.Challenger,
		PreviousVersion: in.Champion, RunID: in.RunID, Validation: val, ReportURI: res.ReportURI}); err != nil {
		return nil, err
	}
	return (*ValidateResult)(res), nil
}

// SetAlias moves an alias (promotion and its compensation).
func (a *Activities) SetAlias(ctx context.Context, in SetAliasInput) (*SetAliasResult, error) {
	ops, err := a.ops()
	if err != nil {
		return nil, err
	}
	prev, err := ops.SetAlias(ctx, lifecycle.AliasMove(in))
	if err != nil {
		return nil, a.classify(err, ErrConfig)
	}
	alias := in.Alias
	if alias == "" {
		alias = "production"
	}
	d, lineage, err := a.withLineage(ctx, audit.Data{Model: in.Model, Alias: alias, ModelVersion: in.Version,
		PreviousVersion: prev, Actor: in.Actor, Reason: in.Reason})
	if err != nil {
		return nil, err
	}
	if err := a.record(ctx, audit.AliasMoved, time.Time{}, d); err != nil {
		return nil, err
	}
	// A promotion is the retrain moving production to the version its own
	// run trained (its compensation moves it back to an older one).
	if alias == "production" && lineage != nil && activity.IsActivity(ctx) &&
		lineage.RunID == activity.GetInfo(ctx).WorkflowExecution.RunID {
		if err := a.record(ctx, audit.RetrainPromoted, time.Time{}, d); err != nil {
			return nil, err
		}
	}
	return &SetAliasResult{Previous: prev}, nil
}

// Deploy updates the serving target.
func (a *Activities) Deploy(ctx context.Context, in DeployInput) (*DeployResult, error) {
	ops, err := a.ops()
	if err != nil {
		return nil, err
	}
	// An endpoint update can take over half an hour; beat while it runs so
	// a lost worker is noticed and the retry re-attaches to the update.
	stop := heartbeat(ctx, 20*time.Second)
	defer stop()
	target, err := ops.Deploy(ctx, in.Model, in.Version)
	if err != nil {
		return nil, a.classify(err, ErrConfig)
	}
	return &DeployResult{Target: target}, nil
}

// RecordOutcome stores a retrain's verdict.
func (a *Activities) RecordOutcome(ctx context.Context, in RecordOutcomeInput) error {
	ops, err := a.ops()
	if err != nil {
		return err
	}
	if err := ops.RecordOutcome(ctx, lifecycle.Outcome(in)); err != nil {
		return a.classify(err, ErrConfig)
	}
	if in.Status != "rejected" {
		return nil
	}
	return a.recordVersion(ctx, audit.RetrainRejected, audit.Data{Model: in.Model, ModelVersion: in.Version,
		Status: in.Status, Reason: in.Reason, Actor: in.Actor})
}

// Rollback moves production back.
func (a *Activities) Rollback(ctx context.Context, in RollbackInput) (*RollbackResult, error) {
	ops, err := a.ops()
	if err != nil {
		return nil, err
	}
	mv, err := ops.Rollback(ctx, lifecycle.RollbackRequest(in))
	if err != nil {
		return nil, a.classify(err, ErrConfig)
	}
	d, _, err := a.withLineage(ctx, audit.Data{Model: in.Model, Alias: "production", ModelVersion: mv.To,
		PreviousVersion: mv.From, Actor: in.Actor, Reason: in.Reason})
	if err != nil {
		return nil, err
	}
	for _, typ := range []string{audit.ModelRolledBack, audit.AliasMoved} {
		if err := a.record(ctx, typ, time.Time{}, d); err != nil {
			return nil, err
		}
	}
	return &RollbackResult{From: mv.From, To: mv.To}, nil
}

// StageRollout stages (or unstages) a rollout's challenger.
func (a *Activities) StageRollout(ctx context.Context, in StageRolloutInput) (*StageRolloutResult, error) {
	ops, err := a.ops()
	if err != nil {
		return nil, err
	}
	// Staging a SageMaker endpoint is an endpoint update: minutes.
	stop := heartbeat(ctx, 20*time.Second)
	defer stop()
	target, err := ops.Stage(ctx, lifecycle.StageRequest(in))
	if err != nil {
		return nil, a.classify(err, ErrConfig)
	}
	return &StageRolloutResult{Target: target}, nil
}

// EvaluateRollout reads a window of live traffic and compares the versions.
func (a *Activities) EvaluateRollout(ctx context.Context, in EvaluateRolloutInput) (*EvaluateRolloutResult, error) {
	ops, err := a.ops()
	if err != nil {
		return nil, err
	}
	stop := heartbeat(ctx, 10*time.Second)
	defer stop()
	req := lifecycle.RolloutEvaluationRequest{Model: in.Model, Mode: in.Mode, Champion: in.Champion, Challenger: in.Challenger,
		Metric: in.Metric, Percent: in.Percent, From: in.From, To: in.To, Alpha: in.Alpha, Margin: in.Margin, MinRows: in.MinRows,
		Evidence: lifecycle.Evidence(in.Evidence)}
	res, err := ops.EvaluateRollout(ctx, req)
	if err != nil {
		return nil, a.classify(err, ErrBadData)
	}
	return &EvaluateRolloutResult{Rows: res.Rows, Enough: res.Enough, Evidence: RolloutEvidence(res.Evidence),
		Step: RolloutStep(res.Step), Decision: res.Decision, Note: res.Note}, nil
}

// RecordRollout stores a rollout's state in the registry.
func (a *Activities) RecordRollout(ctx context.Context, in RecordRolloutInput) error {
	ops, err := a.ops()
	if err != nil {
		return err
	}
	r := in.Rollout
	ro := lifecycle.Rollout{ID: r.ID, Mode: r.Mode, Champion: r.Champion, Challenger: r.Challenger, Percent: r.Percent,
		StartedAt: r.StartedAt, UpdatedAt: r.UpdatedAt, Decision: r.Decision, Reason: r.Reason, Actor: r.Actor}
	for _, s := range r.Steps {
		ro.Steps = append(ro.Steps, lifecycle.RolloutStep(s))
	}
	return a.classify(ops.RecordRollout(ctx, in.Model, ro), ErrConfig)
}
