package activities

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
)

// ModelOps is the model lifecycle: the registry, the trainers and the
// serving targets behind the retrain activities (package train implements
// it). Every method is idempotent by its inputs, because activities retry.
type ModelOps interface {
	// Production is the version behind the production alias ("" = none).
	Production(ctx context.Context, model string) (string, error)
	// Train runs the model's trainer for runID, reporting progress.
	Train(ctx context.Context, in TrainInput, progress func(string)) (*TrainResult, error)
	// Register records a trained model; the same RunID yields the same version.
	Register(ctx context.Context, in RegisterInput) (*RegisterResult, error)
	// Validate scores champion and challenger on the same held-out window.
	Validate(ctx context.Context, in ValidateInput) (*ValidateResult, error)
	// SetAlias moves an alias and returns where it pointed before.
	SetAlias(ctx context.Context, in SetAliasInput) (*SetAliasResult, error)
	// Deploy rolls a version out to the model's serving target, if any.
	Deploy(ctx context.Context, in DeployInput) (*DeployResult, error)
	// RecordOutcome stores a retrain's verdict on a version.
	RecordOutcome(ctx context.Context, in RecordOutcomeInput) error
	// Rollback moves production back and records why.
	Rollback(ctx context.Context, in RollbackInput) (*RollbackResult, error)
	// IsPermanent tells failures retrying cannot fix (a training program
	// that exits non-zero, an unknown version).
	IsPermanent(err error) bool
}

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
	stop := heartbeat(ctx, 20*time.Second)
	defer stop()
	progress := func(msg string) {
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, msg)
		}
		a.log(ctx).Debug("training", "model", in.Model, "progress", msg)
	}
	res, err := ops.Train(ctx, in, progress)
	if err != nil {
		return nil, a.classify(fmt.Errorf("train %s (run %s): %w", in.Model, in.RunID, err), ErrTraining)
	}
	return res, nil
}

// Register records the challenger with its lineage.
func (a *Activities) Register(ctx context.Context, in RegisterInput) (*RegisterResult, error) {
	ops, err := a.ops()
	if err != nil {
		return nil, err
	}
	res, err := ops.Register(ctx, in)
	return res, a.classify(err, ErrConfig)
}

// Validate compares champion and challenger.
func (a *Activities) Validate(ctx context.Context, in ValidateInput) (*ValidateResult, error) {
	ops, err := a.ops()
	if err != nil {
		return nil, err
	}
	stop := heartbeat(ctx, 10*time.Second)
	defer stop()
	res, err := ops.Validate(ctx, in)
	return res, a.classify(err, ErrBadData)
}

// SetAlias moves an alias (promotion and its compensation).
func (a *Activities) SetAlias(ctx context.Context, in SetAliasInput) (*SetAliasResult, error) {
	ops, err := a.ops()
	if err != nil {
		return nil, err
	}
	res, err := ops.SetAlias(ctx, in)
	return res, a.classify(err, ErrConfig)
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
	res, err := ops.Deploy(ctx, in)
	return res, a.classify(err, ErrConfig)
}

// RecordOutcome stores a retrain's verdict.
func (a *Activities) RecordOutcome(ctx context.Context, in RecordOutcomeInput) error {
	ops, err := a.ops()
	if err != nil {
		return err
	}
	return a.classify(ops.RecordOutcome(ctx, in), ErrConfig)
}

// Rollback moves production back.
func (a *Activities) Rollback(ctx context.Context, in RollbackInput) (*RollbackResult, error) {
	ops, err := a.ops()
	if err != nil {
		return nil, err
	}
	res, err := ops.Rollback(ctx, in)
	return res, a.classify(err, ErrConfig)
}
