package workflows

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/vigilml/vigil/activities"
)

// retrainEnv mocks the retrain activities: the challenger scores challenger
// against a champion of 0.70 accuracy; deployErr makes Deploy fail.
type retrainEnv struct {
	*testsuite.TestWorkflowEnvironment
	aliases []activities.SetAliasInput
	deploys []activities.DeployInput
	outcome []activities.RecordOutcomeInput
}

func newRetrainEnv(t *testing.T, approval string, challenger float64, deployErr error) *retrainEnv {
	var ts testsuite.WorkflowTestSuite
	e := &retrainEnv{TestWorkflowEnvironment: ts.NewTestWorkflowEnvironment()}
	s := spec()
	s.Version = "v1"
	s.Retrain = &activities.RetrainSpec{MinImprovement: 0.05, Approval: approval, ApprovalTimeout: time.Hour,
		Timeout: time.Hour, TrainWindow: time.Hour, ValidationWindow: 10 * time.Minute}
	e.OnActivity(a.LoadModel, mock.Anything, mock.Anything).Return(s, nil)
	e.OnActivity(a.RetrainFinished, mock.Anything, mock.Anything).Return(nil)
	e.OnActivity(a.Train, mock.Anything, mock.Anything).Return(&activities.TrainResult{ArtifactURI: "file:///m.json"}, nil)
	e.OnActivity(a.Register, mock.Anything, mock.Anything).Return(&activities.RegisterResult{Version: "v2"}, nil)
	e.OnActivity(a.Validate, mock.Anything, mock.Anything).Return(&activities.ValidateResult{
		Metric: "performance.accuracy", Champion: 0.70, HasChampion: true, Challenger: challenger, HigherIsBetter: true,
	}, nil)
	e.OnActivity(a.SetAlias, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.SetAliasInput) (*activities.SetAliasResult, error) {
			e.aliases = append(e.aliases, in)
			return &activities.SetAliasResult{Previous: "v1"}, nil
		})
	e.OnActivity(a.Deploy, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.DeployInput) (*activities.DeployResult, error) {
			e.deploys = append(e.deploys, in)
			if in.Version == "v2" && deployErr != nil {
				return nil, deployErr
			}
			return &activities.DeployResult{Target: "registry"}, nil
		})
	e.OnActivity(a.RecordOutcome, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.RecordOutcomeInput) error {
			e.outcome = append(e.outcome, in)
			return nil
		})
	return e
}

func (e *retrainEnv) result(t *testing.T) *RetrainResult {
	t.Helper()
	e.ExecuteWorkflow(RetrainWorkflow, RetrainInput{Model: "churn", Reason: "accuracy-drop"})
	if !e.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	if err := e.GetWorkflowError(); err != nil {
		t.Fatalf("workflow failed: %v", err)
	}
	var res RetrainResult
	if err := e.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	return &res
}

func TestBetterChallengerIsPromoted(t *testing.T) {
	e := newRetrainEnv(t, "none", 0.90, nil)
	res := e.result(t)
	if res.Outcome != OutcomePromoted || res.Challenger != "v2" {
		t.Fatalf("outcome = %+v", res)
	}
	if len(e.aliases) != 1 || e.aliases[0].Version != "v2" || e.aliases[0].Alias != "production" {
		t.Errorf("alias moves = %+v, want production → v2 once", e.aliases)
	}
}

func TestGateRejectionKeepsTheChampion(t *testing.T) {
	e := newRetrainEnv(t, "none", 0.72, nil) // +0.02 < min_improvement 0.05
	res := e.result(t)
	if res.Outcome != OutcomeGateFailed {
		t.Fatalf("outcome = %s (%s)", res.Outcome, res.Reason)
	}
	if len(e.aliases) != 0 {
		t.Errorf("the alias moved although the gate failed: %+v", e.aliases)
	}
	if len(e.outcome) != 1 || e.outcome[0].Status != "rejected" || e.outcome[0].Version != "v2" {
		t.Errorf("recorded outcome = %+v", e.outcome)
	}
}

func TestFailedDeployRestoresThePreviousVersion(t *testing.T) {
	e := newRetrainEnv(t, "none", 0.90, temporal.NewNonRetryableApplicationError("endpoint update failed", "Deploy", nil))
	e.ExecuteWorkflow(RetrainWorkflow, RetrainInput{Model: "churn"})
	if err := e.GetWorkflowError(); err == nil {
		t.Fatal("want the workflow to fail when deploying fails")
	}
	if len(e.aliases) != 2 || e.aliases[0].Version != "v2" || e.aliases[1].Version != "v1" {
		t.Fatalf("alias moves = %+v, want v2 then back to v1 (compensation)", e.aliases)
	}
	if e.aliases[1].Actor != "vigil (compensation)" {
		t.Errorf("compensation actor = %q", e.aliases[1].Actor)
	}
	// The endpoint follows the alias back: an update that outlived the
	// failed Deploy is waited for and replaced by v1.
	if len(e.deploys) != 2 || e.deploys[0].Version != "v2" || e.deploys[1].Version != "v1" {
		t.Errorf("deploys = %+v, want v2, then v1 (compensation)", e.deploys)
	}
}

func TestApprovalTimeoutPromotesNothing(t *testing.T) {
	e := newRetrainEnv(t, "required", 0.90, nil)
	res := e.result(t)
	if res.Outcome != OutcomeApprovalTimeout {
		t.Fatalf("outcome = %s", res.Outcome)
	}
	if len(e.aliases) != 0 {
		t.Errorf("promoted without approval: %+v", e.aliases)
	}
}

func TestApprovalPromotesAsTheApprover(t *testing.T) {
	e := newRetrainEnv(t, "required", 0.90, nil)
	e.RegisterDelayedCallback(func() {
		e.UpdateWorkflow(UpdateApprove, "u1", &testsuite.TestUpdateCallback{
			OnReject:   func(err error) { t.Errorf("approve rejected: %v", err) },
			OnComplete: func(any, error) {},
		}, ApprovalInput{Actor: "dana", Reason: "looks good"})
	}, 10*time.Minute)
	res := e.result(t)
	if res.Outcome != OutcomePromoted || len(e.aliases) != 1 || e.aliases[0].Actor != "dana" {
		t.Fatalf("outcome %s, alias moves %+v", res.Outcome, e.aliases)
	}
}

func TestRejectionIsRecorded(t *testing.T) {
	e := newRetrainEnv(t, "required", 0.90, nil)
	e.RegisterDelayedCallback(func() {
		e.UpdateWorkflow(UpdateReject, "u1", &testsuite.TestUpdateCallback{
			OnReject:   func(err error) { t.Errorf("reject refused: %v", err) },
			OnComplete: func(any, error) {},
		}, ApprovalInput{Actor: "erin", Reason: "bias check pending"})
	}, time.Minute)
	res := e.result(t)
	if res.Outcome != OutcomeRejected || len(e.aliases) != 0 || len(e.outcome) != 1 {
		t.Fatalf("outcome %s, aliases %+v, recorded %+v", res.Outcome, e.aliases, e.outcome)
	}
}

func TestGate(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    activities.ValidateResult
		min  float64
		ok   bool
	}{
		{"accuracy up enough", activities.ValidateResult{Champion: 0.7, Challenger: 0.8, HasChampion: true, HigherIsBetter: true}, 0.05, true},
		{"accuracy up too little", activities.ValidateResult{Champion: 0.7, Challenger: 0.72, HasChampion: true, HigherIsBetter: true}, 0.05, false},
		{"rmse down enough", activities.ValidateResult{Champion: 3, Challenger: 2, HasChampion: true}, 0.5, true},
		{"rmse up", activities.ValidateResult{Champion: 2, Challenger: 3, HasChampion: true}, 0, false},
		{"no champion", activities.ValidateResult{Challenger: 0.1}, 0.05, true},
		{"constraint broken", activities.ValidateResult{Challenger: 0.99, Champion: 0.5, HasChampion: true, HigherIsBetter: true, Violations: []string{"x: range"}}, 0, false},
	} {
		if ok, why := Gate(tc.v, tc.min); ok != tc.ok {
			t.Errorf("%s: Gate = %v (%s), want %v", tc.name, ok, why, tc.ok)
		}
	}
}

func TestMonitorSignalsTheIncidentWorkflowWithEveryRule(t *testing.T) {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	env.OnActivity(a.LoadModel, mock.Anything, mock.Anything).Return(spec(), nil)
	env.OnActivity(a.Analyze, mock.Anything, mock.Anything).Return(&activities.AnalyzeResult{
		ReportURI: "file:///r.json", Rows: 500, Metrics: map[string]float64{"performance.accuracy": 0.7, "dataset_drift.share": 0.1},
	}, nil)
	env.OnActivity(a.PublishMetrics, mock.Anything, mock.Anything).Return(errors.New("prometheus hiccup"))
	var got activities.Evaluation
	env.OnActivity(a.SignalIncident, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.SignalIncidentInput) error {
			got = in.Evaluation
			return nil
		})
	end := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	env.ExecuteWorkflow(MonitorWorkflow, MonitorInput{Model: "churn", WindowEnd: end})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("a failed metrics publish must not fail the evaluation: %v", err)
	}
	var res MonitorResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Status != StatusBreach || !res.WindowEnd.Equal(end) || !res.WindowStart.Equal(end.Add(-time.Minute)) {
		t.Errorf("result = %+v", res)
	}
	if len(got.Results) != 2 || !got.Results[0].Breached || got.Results[1].Breached {
		t.Errorf("signalled results = %+v", got.Results)
	}
}
