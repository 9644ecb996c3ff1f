package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/vigilml/vigil/activities"
)

// changeRollout: a retrain whose spec has a shadow or canary rollout tests
// the challenger in production before promoting it (version 1). The marker
// is only written when the spec has a rollout, so direct retrains keep their
// command sequence.
const changeRollout = "rollout"

// Rollout decisions, the registry's Rollout.Decision, the retrain's outcome
// and the VigilRollout value when a rollout ends.
const (
	RolloutPromoted   = "promoted"
	RolloutRejected   = "rejected"
	RolloutRolledBack = "rolled-back"
)

// OutcomeRolledBack: a canary breached and its traffic went back to the
// champion at once.
const OutcomeRolledBack = RolloutRolledBack

// Step verdicts of registry.RolloutStep.
const (
	verdictContinue = "continue"
	verdictBetter   = "better"
	verdictNotWorse = "not-worse"
	verdictWorse    = "worse"
	verdictBreach   = "breach"
)

// rollout tests the challenger beside the champion (spec.Mode shadow or
// canary) and ends in a decision: promoted through the usual promotion
// (alias, deploy, compensation), rejected, or rolled back. Whatever ends it
// — a decision, a failure, a cancellation — the challenger is unstaged.
//
// Shadow: the challenger scores the champion's traffic without answering
// it; every evaluation_interval the labeled events since the last
// evaluation are compared pairwise and folded into an always-valid
// confidence sequence. Better, or not worse than margin, promotes at once;
// worse rejects at once; still undecided at max_duration rejects (the
// champion keeps production: no evidence is no promotion).
//
// Canary: the challenger serves each step's percent of the traffic for at
// least hold, evaluated on split traffic every interval; a worse verdict at
// any evaluation rolls back at once. After the hold of the last step below
// 100 it is promoted (the 100% step) as soon as the evidence says better or
// not worse, and rejected at max_duration if it never does.
//
// An approve Update during the rollout promotes at once, a reject Update
// stops it at once; either records its actor.
func (w *retrainWorkflow) rollout(ctx workflow.Context, spec *activities.RolloutSpec, champion, challenger string, result *RetrainResult) (res *RetrainResult, err error) {
	info := workflow.GetInfo(ctx)
	start := workflow.Now(ctx).UTC()
	ro := &activities.RolloutRecord{ID: info.WorkflowExecution.ID + "/" + info.WorkflowExecution.RunID, Mode: spec.Mode,
		Champion: champion, Challenger: challenger, StartedAt: start, UpdatedAt: start}
	w.state.Rollout = ro
	w.state.Step = spec.Mode
	deadline := start.Add(spec.MaxDuration)
	staged := false
	defer func() {
		if err == nil || !staged {
			return
		}
		// Failed or cancelled: take the challenger away, on a context that
		// a cancellation does not reach.
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		uerr := w.stage(dctx, "", 0, "vigil (rollout failed)", err.Error())
		ro.Decision, ro.Reason, ro.Actor = RolloutRejected, "the rollout failed: "+err.Error(), "vigil"
		ro.UpdatedAt = workflow.Now(dctx).UTC()
		rerr := w.recordRollout(dctx)
		w.upsertRollout(dctx, RolloutRejected)
		err = errors.Join(err, uerr, rerr)
	}()

	steps := []int{0}
	if spec.Mode == "canary" {
		steps = spec.Steps
	}
	var ev activities.RolloutEvidence
	last, tick := start, start // the window's start, the last evaluation
	w.alert(ctx, "trigger", spec, nil, fmt.Sprintf("%s rollout of %s beside %s started: %s, margin %g, decided by %s at the latest",
		spec.Mode, challenger, champion, spec.Metric, spec.Margin, deadline.Format(time.RFC3339)))
	evidenceDecided := "vigil (rollout)"
	for i, pct := range steps {
		if pct == 100 {
			break
		}
		ro.Percent, ro.UpdatedAt = pct, workflow.Now(ctx).UTC()
		if err := w.recordRollout(ctx); err != nil {
			return nil, err
		}
		staged = true
		if err := w.stage(ctx, spec.Mode, pct, evidenceDecided, w.in.Reason); err != nil {
			return nil, err
		}
		label := spec.Mode + " " + challenger
		holdEnd := deadline
		if spec.Mode == "canary" {
			label = fmt.Sprintf("canary %s %d%%", challenger, pct)
			stepStart := workflow.Now(ctx).UTC()
			holdEnd = stepStart.Add(spec.Hold)
			// A window holds one step's traffic: its events are weighted by
			// the step's percent.
			if stepStart.After(last) {
				last = stepStart
			}
			if i > 0 {
				w.alert(ctx, "update", spec, lastStep(ro), fmt.Sprintf("canary %s now serves %d%% of the traffic", challenger, pct))
			}
		}
		w.upsertRollout(ctx, label)
		lastPartial := spec.Mode != "canary" || i == len(steps)-2
		for {
			next := tick.Add(spec.EvaluationInterval)
			if holdEnd.After(tick) && next.After(holdEnd) {
				next = holdEnd
			}
			if next.After(deadline) {
				next = deadline
			}
			if wait := next.Sub(workflow.Now(ctx)); wait > 0 {
				if _, err := workflow.AwaitWithTimeout(ctx, wait, func() bool { return w.state.Override != nil }); err != nil {
					return nil, err
				}
			}
			if d := w.state.Override; d != nil {
				if d.Approved {
					return w.decide(ctx, spec, result, RolloutPromoted, d.Actor, "approved by "+d.Actor+": "+d.Reason)
				}
				return w.decide(ctx, spec, result, RolloutRejected, d.Actor, "rejected by "+d.Actor+": "+d.Reason)
			}
			now := workflow.Now(ctx).UTC()
			tick = now
			// Windows lag by schedule.delay, as the monitor's do, so that
			// their labels have arrived.
			to := now.Add(-w.spec.Delay)
			var eval *activities.EvaluateRolloutResult
			if to.After(last) {
				if eval, err = w.evaluate(ctx, spec, pct, last, to, ev); err != nil {
					return nil, err
				}
			}
			decision := "undecided"
			if eval != nil && eval.Enough {
				ev, last, decision = eval.Evidence, to, eval.Decision
				step := eval.Step
				step.Verdict = verdictOf(decision, spec.Mode)
				ro.Steps = append(ro.Steps, step)
				ro.UpdatedAt = now
				w.state.RolloutNote = ""
				if err := w.recordRollout(ctx, step); err != nil {
					return nil, err
				}
			} else if eval != nil {
				w.state.RolloutNote = eval.Note
			}
			good := decision == "better" || decision == "noninferior"
			switch {
			case decision == "worse" && spec.Mode == "canary":
				return w.decide(ctx, spec, result, RolloutRolledBack, evidenceDecided, "")
			case decision == "worse":
				return w.decide(ctx, spec, result, RolloutRejected, evidenceDecided, "")
			case good && lastPartial && !now.Before(holdEnd), good && spec.Mode == "shadow":
				return w.decide(ctx, spec, result, RolloutPromoted, evidenceDecided, "")
			case !now.Before(deadline):
				return w.decide(ctx, spec, result, RolloutRejected, evidenceDecided, fmt.Sprintf("still undecided after %s, the champion stays", spec.MaxDuration))
			case !lastPartial && !now.Before(holdEnd):
				// the hold passed without a breach: next step
			default:
				continue
			}
			break
		}
	}
	// Only a canary whose steps end without a last partial step gets here;
	// config validation forbids it.
	return nil, temporal.NewNonRetryableApplicationError("rollout ended without a decision", activities.ErrConfig, nil)
}

// verdictOf names a step's verdict for the registry.
func verdictOf(decision, mode string) string {
	switch decision {
	case "better":
		return verdictBetter
	case "noninferior":
		return verdictNotWorse
	case "worse":
		if mode == "canary" {
			return verdictBreach
		}
		return verdictWorse
	}
	return verdictContinue
}

func lastStep(ro *activities.RolloutRecord) *activities.RolloutStep {
	if len(ro.Steps) == 0 {
		return nil
	}
	s := ro.Steps[len(ro.Steps)-1]
	return &s
}

// evaluate runs EvaluateRollout on [from, to). A failure that retrying
// cannot fix fails the rollout; one that outlasted its retries skips this
// evaluation (the next one reads the window from the same start).
func (w *retrainWorkflow) evaluate(ctx workflow.Context, spec *activities.RolloutSpec, pct int, from, to time.Time, ev activities.RolloutEvidence) (*activities.EvaluateRolloutResult, error) {
	ectx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Minute, HeartbeatTimeout: time.Minute,
		ScheduleToCloseTimeout: max(spec.EvaluationInterval, time.Hour),
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 10 * time.Second, BackoffCoefficient: 2,
			MaximumInterval: 5 * time.Minute, NonRetryableErrorTypes: permanentErrors},
	})
	var res activities.EvaluateRolloutResult
	err := workflow.ExecuteActivity(ectx, a.EvaluateRollout, activities.EvaluateRolloutInput{
		Model: w.in.Model, Mode: spec.Mode, Champion: w.state.Champion, Challenger: w.state.Challenger, Metric: spec.Metric,
		Percent: pct, From: from, To: to, Alpha: spec.Alpha, Margin: spec.Margin, MinRows: spec.MinRows, Evidence: ev,
	}).Get(ctx, &res)
	var app *temporal.ApplicationError
	switch {
	case err == nil:
		return &res, nil
	case errors.As(err, &app) && app.NonRetryable():
		return nil, fmt.Errorf("evaluate rollout of %s: %w", w.in.Model, err)
	case temporal.IsCanceledError(err):
		return nil, err
	}
	workflow.GetLogger(ctx).Warn("rollout evaluation failed; the next one reads the window again", "model", w.in.Model, "err", err)
	w.state.RolloutNote = "evaluation failed: " + err.Error()
	return nil, nil
}

// decide ends the rollout: the challenger is unstaged, the decision and its
// evidence recorded and announced, and a promotion goes through promote
// (alias, deploy, compensation). why, when set, is what decided instead of
// the evidence alone (a person, max_duration).
func (w *retrainWorkflow) decide(ctx workflow.Context, spec *activities.RolloutSpec, result *RetrainResult, decision, actor, why string) (*RetrainResult, error) {
	ro := w.state.Rollout
	reason := w.reasonOf(spec, decision, why)
	if err := w.stage(ctx, "", 0, actor, reason); err != nil {
		return nil, err
	}
	ro.Decision, ro.Reason, ro.Actor, ro.UpdatedAt = decision, reason, actor, workflow.Now(ctx).UTC()
	ro.Percent = 0
	if decision == RolloutPromoted {
		ro.Percent = 100
	}
	if err := w.recordRollout(ctx); err != nil {
		return nil, err
	}
	w.upsertRollout(ctx, decision)
	w.alert(ctx, "resolve", spec, lastStep(ro), reason)
	result.Rollout = ro
	result.Reason = reason
	switch decision {
	case RolloutPromoted:
		w.state.Step = "promoting"
		if err := w.promote(ctx, ro.Challenger, actor); err != nil {
			return nil, err
		}
		result.Outcome = OutcomePromoted
	case RolloutRolledBack:
		result.Outcome = OutcomeRolledBack
		w.record(ctx, ro.Challenger, "rejected", reason, actor)
	default:
		result.Outcome = OutcomeRejected
		w.record(ctx, ro.Challenger, "rejected", reason, actor)
	}
	w.state.Step = "done"
	return result, nil
}

// reasonOf puts a decision and its evidence in words.
func (w *retrainWorkflow) reasonOf(spec *activities.RolloutSpec, decision, why string) string {
	ro := w.state.Rollout
	evidence := "no evaluation had enough compared events"
	if s := lastStep(ro); s != nil {
		evidence = fmt.Sprintf("%s %.4f vs %.4f, difference %+.4f in [%+.4f, %+.4f] (%.0f%% always-valid), %d events",
			s.Metric, s.Challenger, s.Champion, s.Difference, s.Lower, s.Upper, 100*(1-spec.Alpha), s.Rows)
	} else if w.state.RolloutNote != "" {
		evidence += " (" + w.state.RolloutNote + ")"
	}
	subject := fmt.Sprintf("%s %s vs %s", spec.Mode, ro.Challenger, ro.Champion)
	if why != "" {
		return fmt.Sprintf("%s %s: %s: %s", subject, decision, why, evidence)
	}
	switch decision {
	case RolloutPromoted:
		if spec.Margin > 0 {
			return fmt.Sprintf("%s promoted: not worse than the champion by more than the margin %g: %s", subject, spec.Margin, evidence)
		}
		return fmt.Sprintf("%s promoted: better than the champion: %s", subject, evidence)
	case RolloutRolledBack:
		return fmt.Sprintf("%s rolled back: breach at %d%%, all traffic back to the champion: %s", subject, ro.Percent, evidence)
	}
	return fmt.Sprintf("%s rejected: worse than the champion beyond the margin %g: %s", subject, spec.Margin, evidence)
}

// stage runs StageRollout (mode "" unstages).
func (w *retrainWorkflow) stage(ctx workflow.Context, mode string, pct int, actor, reason string) error {
	opts := deployOptions()
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), a.StageRollout, activities.StageRolloutInput{
		Model: w.in.Model, Mode: mode, Champion: w.state.Champion, Challenger: w.state.Challenger, Percent: pct,
		Actor: actor, Reason: reason,
	}).Get(ctx, nil); err != nil {
		if mode == "" {
			return fmt.Errorf("unstage %s of %s: %w", w.state.Challenger, w.in.Model, err)
		}
		return fmt.Errorf("stage %s of %s (%s %d%%): %w", w.state.Challenger, w.in.Model, mode, pct, err)
	}
	return nil
}

// recordRollout stores the rollout's state in the registry with the steps
// it gained since the last record (the registry keeps the earlier ones): a
// record's size does not grow with the rollout's length.
func (w *retrainWorkflow) recordRollout(ctx workflow.Context, steps ...activities.RolloutStep) error {
	ro := *w.state.Rollout
	ro.Steps = steps
	short := workflow.WithActivityOptions(ctx, activityOptions(time.Minute, 10))
	if err := workflow.ExecuteActivity(short, a.RecordRollout, activities.RecordRolloutInput{
		Model: w.in.Model, Rollout: ro,
	}).Get(ctx, nil); err != nil {
		return fmt.Errorf("record rollout of %s: %w", w.in.Model, err)
	}
	return nil
}

// upsertRollout shows the rollout in the Temporal UI (VigilRollout).
func (w *retrainWorkflow) upsertRollout(ctx workflow.Context, value string) {
	if err := workflow.UpsertTypedSearchAttributes(ctx, AttrModel.ValueSet(w.in.Model), AttrRollout.ValueSet(value)); err != nil {
		workflow.GetLogger(ctx).Warn("upsert VigilRollout", "model", w.in.Model, "err", err)
	}
}

// alert tells the model's info route about the rollout (kind trigger at the
// start, update at each canary step, resolve at the decision), with the
// latest evidence. A failed notification is logged: it never stops the
// rollout.
func (w *retrainWorkflow) alert(ctx workflow.Context, kind string, spec *activities.RolloutSpec, step *activities.RolloutStep, summary string) {
	integrations := w.spec.Severity["info"].Notify
	if len(integrations) == 0 {
		return
	}
	ro := w.state.Rollout
	info := workflow.GetInfo(ctx)
	inc := activities.Incident{
		ID: fmt.Sprintf("%s/rollout/%s", w.in.Model, ro.Challenger), Model: w.in.Model, Version: ro.Challenger,
		Rule: "rollout", Metric: spec.Metric, Severity: "info", Threshold: fmt.Sprintf("margin %g", spec.Margin),
		WindowStart: ro.StartedAt, WindowEnd: workflow.Now(ctx).UTC(), WorkflowID: info.WorkflowExecution.ID,
		RunID: info.WorkflowExecution.RunID, OpenedAt: ro.StartedAt, Refs: w.alertRefs, Summary: summary,
	}
	if step != nil {
		inc.Value = step.Difference
	}
	if kind == "resolve" {
		inc.ResolvedAt = inc.WindowEnd
	}
	actx := workflow.WithActivityOptions(ctx, activityOptions(20*time.Second, 5))
	futures := make([]workflow.Future, len(integrations))
	for i, name := range integrations {
		futures[i] = workflow.ExecuteActivity(actx, a.Notify, activities.NotifyInput{Integration: name, Kind: kind, Incident: inc})
	}
	for i, f := range futures {
		var res activities.NotifyResult
		if err := f.Get(ctx, &res); err != nil {
			workflow.GetLogger(ctx).Error("rollout alert failed", "integration", integrations[i], "kind", kind, "err", err)
			continue
		}
		if res.Ref != "" && w.alertRefs[integrations[i]] == "" {
			if w.alertRefs == nil {
				w.alertRefs = map[string]string{}
			}
			w.alertRefs[integrations[i]] = res.Ref
		}
	}
}
