package workflows

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/vigilml/vigil/activities"
)

// rolloutEnv is a retrain whose challenger v2 passed the gate against the
// champion v1 and goes through a shadow or canary rollout. Evaluations are
// scripted: the n-th EvaluateRollout answers verdicts[n] ("few": too few
// events; "bad-data": a permanent failure; else an analysis decision), and
// the last verdict repeats.
type rolloutEnv struct {
	*retrainEnv
	spec     *activities.RolloutSpec
	verdicts []string
	stages   []activities.StageRolloutInput
	evals    []activities.EvaluateRolloutInput
	evalAt   []time.Time
	records  []activities.RolloutRecord
	alerts   []activities.NotifyInput
}

func newRolloutEnv(t *testing.T, ro *activities.RolloutSpec, verdicts ...string) *rolloutEnv {
	return newRolloutEnvWithChampion(t, "v1", ro, verdicts...)
}

func newRolloutEnvWithChampion(t *testing.T, champion string, ro *activities.RolloutSpec, verdicts ...string) *rolloutEnv {
	var ts testsuite.WorkflowTestSuite
	base := &retrainEnv{TestWorkflowEnvironment: ts.NewTestWorkflowEnvironment()}
	e := &rolloutEnv{retrainEnv: base, spec: ro, verdicts: verdicts}
	s := spec()
	s.Version = champion
	s.Severity["info"] = activities.RouteSpec{Notify: []string{"slack"}}
	s.Retrain = &activities.RetrainSpec{MinImprovement: 0.05, Approval: "none", ApprovalTimeout: time.Hour,
		Timeout: time.Hour, TrainWindow: time.Hour, ValidationWindow: 10 * time.Minute, Rollout: ro}
	e.OnActivity(a.LoadModel, mock.Anything, mock.Anything).Return(s, nil)
	e.OnActivity(a.RetrainFinished, mock.Anything, mock.Anything).Return(nil)
	e.OnActivity(a.Train, mock.Anything, mock.Anything).Return(&activities.TrainResult{ArtifactURI: "file:///m.json"}, nil)
	e.OnActivity(a.Register, mock.Anything, mock.Anything).Return(&activities.RegisterResult{Version: "v2"}, nil)
	e.OnActivity(a.Validate, mock.Anything, mock.Anything).Return(&activities.ValidateResult{
		Metric: "performance.accuracy", Champion: 0.70, HasChampion: true, Challenger: 0.90, HigherIsBetter: true,
	}, nil)
	e.OnActivity(a.SetAlias, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.SetAliasInput) (*activities.SetAliasResult, error) {
			e.aliases = append(e.aliases, in)
			return &activities.SetAliasResult{Previous: "v1"}, nil
		})
	e.OnActivity(a.Deploy, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.DeployInput) (*activities.DeployResult, error) {
			e.deploys = append(e.deploys, in)
			return &activities.DeployResult{Target: "registry"}, nil
		})
	e.OnActivity(a.RecordOutcome, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.RecordOutcomeInput) error {
			e.outcome = append(e.outcome, in)
			return nil
		})
	e.OnActivity(a.StageRollout, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.StageRolloutInput) (*activities.StageRolloutResult, error) {
			e.stages = append(e.stages, in)
			return &activities.StageRolloutResult{Target: "registry"}, nil
		})
	e.OnActivity(a.RecordRollout, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.RecordRolloutInput) error {
			// as the registry keeps it: earlier steps stay, new ones are added
			ro := in.Rollout
			if len(e.records) > 0 {
				ro.Steps = append(slices.Clone(e.last().Steps), ro.Steps...)
			}
			e.records = append(e.records, ro)
			if len(in.Rollout.Steps) > 1 {
				t.Errorf("a record carries %d steps, want at most the new one", len(in.Rollout.Steps))
			}
			return nil
		})
	e.OnActivity(a.Notify, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.NotifyInput) (*activities.NotifyResult, error) {
			e.alerts = append(e.alerts, in)
			return &activities.NotifyResult{Ref: "C1:1.0"}, nil
		})
	e.OnActivity(a.EvaluateRollout, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.EvaluateRolloutInput) (*activities.EvaluateRolloutResult, error) {
			n := len(e.evals)
			e.evals = append(e.evals, in)
			e.evalAt = append(e.evalAt, e.Now())
			v := e.verdicts[min(n, len(e.verdicts)-1)]
			if v == "bad-data" {
				return nil, temporal.NewNonRetryableApplicationError("regression needs numbers", activities.ErrBadData, nil)
			}
			if v == "few" {
				return &activities.EvaluateRolloutResult{Rows: 12, Decision: "undecided", Note: "12 labeled records"}, nil
			}
			ev := in.Evidence
			ev.N += 200
			return &activities.EvaluateRolloutResult{Rows: 200, Enough: true, Evidence: ev, Decision: v,
				Step: activities.RolloutStep{At: in.To, Percent: in.Percent, Rows: ev.N, Metric: in.Metric,
					Champion: 0.70, Challenger: 0.80, Difference: 0.10, Lower: 0.02, Upper: 0.18, PValue: 0.001}}, nil
		})
	return e
}

func shadowSpec() *activities.RolloutSpec {
	return &activities.RolloutSpec{Mode: "shadow", Metric: "performance.accuracy", Alpha: 0.05,
		EvaluationInterval: time.Hour, MinRows: 100, MaxDuration: 6 * time.Hour}
}

func canarySpec() *activities.RolloutSpec {
	return &activities.RolloutSpec{Mode: "canary", Metric: "performance.accuracy", Margin: 0.01, Alpha: 0.05,
		EvaluationInterval: time.Hour, MinRows: 100, MaxDuration: 12 * time.Hour, Steps: []int{10, 50, 100}, Hold: 2 * time.Hour}
}

func (e *rolloutEnv) stageModes() []string {
	var out []string
	for _, s := range e.stages {
		if s.Mode == "" {
			out = append(out, "unstage")
		} else {
			out = append(out, fmt.Sprintf("%s %d", s.Mode, s.Percent))
		}
	}
	return out
}

func (e *rolloutEnv) last() activities.RolloutRecord { return e.records[len(e.records)-1] }

func (e *rolloutEnv) alertKinds() []string {
	var out []string
	for _, a := range e.alerts {
		out = append(out, a.Kind)
	}
	return out
}

// Shadow, challenger better: the first window has too few events and takes
// no step (the next evaluation reads from the same start), the second is
// undecided, the third says better: promoted through the usual path,
// unstaged first, with the evidence recorded and announced.
func TestShadowWinPromotes(t *testing.T) {
	e := newRolloutEnv(t, shadowSpec(), "few", "undecided", "better")
	res := e.result(t)
	if res.Outcome != OutcomePromoted || res.Rollout == nil || res.Rollout.Decision != RolloutPromoted {
		t.Fatalf("result = %+v", res)
	}
	if got := e.stageModes(); !slices.Equal(got, []string{"shadow 0", "unstage"}) {
		t.Errorf("stages = %v, want shadow then unstage", got)
	}
	if len(e.aliases) != 1 || e.aliases[0].Alias != "production" || e.aliases[0].Version != "v2" {
		t.Errorf("alias moves = %+v, want production → v2", e.aliases)
	}
	if len(e.evals) != 3 {
		t.Fatalf("%d evaluations, want 3", len(e.evals))
	}
	for i, ev := range e.evals {
		if ev.Mode != "shadow" || ev.Champion != "v1" || ev.Challenger != "v2" || ev.MinRows != 100 {
			t.Errorf("evaluation %d = %+v", i, ev)
		}
		if i > 0 && e.evalAt[i].Sub(e.evalAt[i-1]) != time.Hour {
			t.Errorf("evaluation %d came %s after the previous one, want evaluation_interval 1h", i, e.evalAt[i].Sub(e.evalAt[i-1]))
		}
	}
	// too few events: the window grows; enough: the next one starts there
	if !e.evals[1].From.Equal(e.evals[0].From) || !e.evals[2].From.Equal(e.evals[1].To) {
		t.Errorf("windows %v–%v, %v–%v, %v–%v: want the first to grow, then to follow on",
			e.evals[0].From, e.evals[0].To, e.evals[1].From, e.evals[1].To, e.evals[2].From, e.evals[2].To)
	}
	if e.evals[2].Evidence.N != 200 {
		t.Errorf("the third evaluation got evidence of %d events, want the second's 200 carried over", e.evals[2].Evidence.N)
	}
	ro := e.last()
	if len(ro.Steps) != 2 || ro.Steps[0].Verdict != "continue" || ro.Steps[1].Verdict != "better" || ro.Percent != 100 {
		t.Errorf("recorded rollout = %+v", ro)
	}
	if !strings.Contains(res.Reason, "better than the champion") || !strings.Contains(res.Reason, "[+0.0200, +0.1800]") ||
		!strings.Contains(res.Reason, "400 events") {
		t.Errorf("reason %q lacks the evidence", res.Reason)
	}
	if got := e.alertKinds(); !slices.Equal(got, []string{"trigger", "resolve"}) {
		t.Errorf("alerts = %v, want the start and the decision", got)
	}
	if d := e.alerts[1].Incident; d.Summary != res.Reason || d.Refs["slack"] != "C1:1.0" {
		t.Errorf("decision alert = %+v", d)
	}
}

// Shadow, challenger worse: rejected at once, unstaged, production untouched.
func TestShadowLossRejects(t *testing.T) {
	e := newRolloutEnv(t, shadowSpec(), "worse")
	res := e.result(t)
	if res.Outcome != OutcomeRejected || res.Rollout.Decision != RolloutRejected {
		t.Fatalf("result = %+v", res)
	}
	if len(e.aliases) != 0 || len(e.deploys) != 0 {
		t.Errorf("production moved: aliases %+v, deploys %+v", e.aliases, e.deploys)
	}
	if got := e.stageModes(); !slices.Equal(got, []string{"shadow 0", "unstage"}) {
		t.Errorf("stages = %v", got)
	}
	if len(e.outcome) != 1 || e.outcome[0].Status != "rejected" || !strings.Contains(e.outcome[0].Reason, "worse than the champion") {
		t.Errorf("recorded outcome = %+v", e.outcome)
	}
	if len(e.evals) != 1 {
		t.Errorf("%d evaluations after a worse verdict, want 1", len(e.evals))
	}
}

// Shadow never decided: rejected at max_duration (6h = 6 evaluations), the
// champion stays.
func TestShadowUndecidedAtMaxDurationRejects(t *testing.T) {
	e := newRolloutEnv(t, shadowSpec(), "undecided")
	res := e.result(t)
	if res.Outcome != OutcomeRejected || !strings.Contains(res.Reason, "still undecided after 6h0m0s") {
		t.Fatalf("result = %+v", res)
	}
	if len(e.evals) != 6 {
		t.Errorf("%d evaluations, want 6 (one per hour up to max_duration)", len(e.evals))
	}
	if len(e.aliases) != 0 {
		t.Errorf("production moved: %+v", e.aliases)
	}
	if got := e.stageModes(); got[len(got)-1] != "unstage" {
		t.Errorf("stages = %v, want the challenger unstaged", got)
	}
}

// Canary through every step: 10% for the 2h hold (no breach, undecided),
// 50% until its hold passed and the evidence says not worse, then promoted.
func TestCanaryThroughAllStepsPromotes(t *testing.T) {
	e := newRolloutEnv(t, canarySpec(), "undecided", "undecided", "noninferior")
	res := e.result(t)
	if res.Outcome != OutcomePromoted {
		t.Fatalf("result = %+v", res)
	}
	if got := e.stageModes(); !slices.Equal(got, []string{"canary 10", "canary 50", "unstage"}) {
		t.Errorf("stages = %v", got)
	}
	var pcts []int
	for _, ev := range e.evals {
		pcts = append(pcts, ev.Percent)
	}
	// 10%: at 1h and 2h (hold); 50%: at 3h and 4h (hold), noninferior → promote
	if !slices.Equal(pcts, []int{10, 10, 50, 50}) {
		t.Errorf("evaluated at percents %v, want [10 10 50 50]", pcts)
	}
	if ro := e.last(); ro.Percent != 100 || ro.Decision != RolloutPromoted || ro.Steps[len(ro.Steps)-1].Verdict != "not-worse" {
		t.Errorf("recorded rollout = %+v", ro)
	}
	if got := e.alertKinds(); !slices.Equal(got, []string{"trigger", "update", "resolve"}) {
		t.Errorf("alerts = %v, want start, the 50%% step, the decision", got)
	}
	if len(e.aliases) != 1 || e.aliases[0].Version != "v2" {
		t.Errorf("alias moves = %+v", e.aliases)
	}
}

// A breach at the 50% step rolls back at once: no further evaluation, the
// challenger unstaged, production untouched.
func TestCanaryBreachRollsBackAtOnce(t *testing.T) {
	e := newRolloutEnv(t, canarySpec(), "undecided", "undecided", "worse", "better")
	res := e.result(t)
	if res.Outcome != OutcomeRolledBack || res.Rollout.Decision != RolloutRolledBack {
		t.Fatalf("result = %+v", res)
	}
	if len(e.evals) != 3 {
		t.Errorf("%d evaluations, want 3 (stop at the breach)", len(e.evals))
	}
	if got := e.stageModes(); !slices.Equal(got, []string{"canary 10", "canary 50", "unstage"}) {
		t.Errorf("stages = %v", got)
	}
	ro := e.last()
	if ro.Steps[len(ro.Steps)-1].Verdict != "breach" || ro.Percent != 0 || !strings.Contains(ro.Reason, "breach at 50%") {
		t.Errorf("recorded rollout = %+v", ro)
	}
	if len(e.aliases) != 0 {
		t.Errorf("production moved: %+v", e.aliases)
	}
}

// A person's reject during the rollout stops it at once and keeps the
// champion; the state query shows the rollout until then.
func TestRejectUpdateStopsTheRollout(t *testing.T) {
	e := newRolloutEnv(t, shadowSpec(), "undecided")
	e.RegisterDelayedCallback(func() {
		v, err := e.QueryWorkflow(QueryState)
		if err != nil {
			t.Fatal(err)
		}
		var st RetrainState
		if err := v.Get(&st); err != nil {
			t.Fatal(err)
		}
		if st.Step != "shadow" || st.Rollout == nil || st.Rollout.Challenger != "v2" || len(st.Rollout.Steps) != 1 {
			t.Errorf("state during the rollout = %+v", st)
		}
		e.UpdateWorkflow(UpdateReject, "u1", &testsuite.TestUpdateCallback{
			OnReject:   func(err error) { t.Errorf("reject refused: %v", err) },
			OnComplete: func(any, error) {},
		}, ApprovalInput{Actor: "erin", Reason: "latency"})
	}, 90*time.Minute)
	res := e.result(t)
	if res.Outcome != OutcomeRejected || res.Rollout.Actor != "erin" || !strings.Contains(res.Reason, "rejected by erin: latency") {
		t.Fatalf("result = %+v", res)
	}
	if len(e.evals) != 1 || len(e.aliases) != 0 {
		t.Errorf("evaluations %d, alias moves %+v: want one evaluation and production untouched", len(e.evals), e.aliases)
	}
	if got := e.stageModes(); !slices.Equal(got, []string{"shadow 0", "unstage"}) {
		t.Errorf("stages = %v", got)
	}
}

// A person's approve during the rollout promotes at once, as the approver.
func TestApproveUpdatePromotesDuringTheRollout(t *testing.T) {
	e := newRolloutEnv(t, canarySpec(), "undecided")
	e.RegisterDelayedCallback(func() {
		e.UpdateWorkflow(UpdateApprove, "u1", &testsuite.TestUpdateCallback{
			OnReject:   func(err error) { t.Errorf("approve refused: %v", err) },
			OnComplete: func(any, error) {},
		}, ApprovalInput{Actor: "dana", Reason: "urgent fix"})
	}, 30*time.Minute)
	res := e.result(t)
	if res.Outcome != OutcomePromoted || len(e.aliases) != 1 || e.aliases[0].Actor != "dana" {
		t.Fatalf("result %+v, alias moves %+v", res, e.aliases)
	}
	if len(e.evals) != 0 {
		t.Errorf("%d evaluations before the approval at 30m, want 0", len(e.evals))
	}
}

// Without a rollout in the spec, or without a champion to compare with,
// the challenger is promoted directly: no staging, no evaluation.
func TestDirectRetrainStagesNothing(t *testing.T) {
	for _, tc := range []struct {
		name     string
		rollout  *activities.RolloutSpec
		champion string
	}{
		{"no rollout", nil, "v1"},
		{"no champion", shadowSpec(), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newRolloutEnvWithChampion(t, tc.champion, tc.rollout, "better")
			res := e.result(t)
			if res.Outcome != OutcomePromoted || res.Rollout != nil {
				t.Fatalf("result = %+v", res)
			}
			if len(e.stages) != 0 || len(e.evals) != 0 || len(e.records) != 0 {
				t.Errorf("staged %v, evaluated %d times, recorded %d rollouts", e.stages, len(e.evals), len(e.records))
			}
		})
	}
}

// An evaluation that cannot succeed (bad data) fails the retrain, and the
// challenger does not stay staged: it is unstaged and the rollout recorded
// as rejected with the failure.
func TestFailedRolloutUnstagesTheChallenger(t *testing.T) {
	e := newRolloutEnv(t, shadowSpec(), "bad-data")
	e.ExecuteWorkflow(RetrainWorkflow, RetrainInput{Model: "churn", Reason: "accuracy-drop"})
	if err := e.GetWorkflowError(); err == nil || !strings.Contains(err.Error(), "regression needs numbers") {
		t.Fatalf("workflow error = %v, want the evaluation's", err)
	}
	if got := e.stageModes(); !slices.Equal(got, []string{"shadow 0", "unstage"}) {
		t.Errorf("stages = %v, want the challenger unstaged", got)
	}
	if ro := e.last(); ro.Decision != RolloutRejected || !strings.Contains(ro.Reason, "the rollout failed") {
		t.Errorf("recorded rollout = %+v", ro)
	}
	if len(e.aliases) != 0 {
		t.Errorf("production moved: %+v", e.aliases)
	}
}
