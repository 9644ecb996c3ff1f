package workflows

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/suite"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/vigilml/vigil/activities"
	"github.com/vigilml/vigil/config"
)

func f64(v float64) *float64 { return &v }

// spec is a model with one critical rule that retrains and one warning rule.
func spec() *activities.ModelSpec {
	return &activities.ModelSpec{
		Name: "churn", Task: "binary", Every: time.Minute, Window: time.Minute,
		Rules: []config.Rule{
			{Name: "accuracy-drop", Metric: "performance.accuracy", Below: f64(0.85), For: 2, RecoverAfter: 2,
				Severity: "critical", EscalateAfter: config.Duration(15 * time.Minute), Retrain: true},
			{Name: "drift", Metric: "dataset_drift.share", Above: f64(0.5), For: 1, RecoverAfter: 1,
				Severity: "warning", EscalateAfter: config.Duration(15 * time.Minute)},
		},
		Retrain: &config.Retrain{},
		Severity: map[string]activities.RouteSpec{
			"warning":  {Notify: []string{"slack"}},
			"critical": {Notify: []string{"slack"}, Escalate: []string{"pagerduty"}},
		},
	}
}

type incidentSuite struct {
	suite.Suite
	testsuite.WorkflowTestSuite
	env *testsuite.TestWorkflowEnvironment

	mu       sync.Mutex
	sent     []string // "integration/kind/rule"
	retrains int
	windows  int
}

func TestIncidentWorkflow(t *testing.T) { suite.Run(t, new(incidentSuite)) }

func (s *incidentSuite) SetupTest() {
	s.sent, s.retrains, s.windows = nil, 0, 0
	s.env = s.NewTestWorkflowEnvironment()
	s.env.RegisterWorkflow(IncidentWorkflow)
	s.env.OnActivity(a.LoadModel, mock.Anything, mock.Anything).Return(spec(), nil)
	s.env.OnActivity(a.IncidentChanged, mock.Anything, mock.Anything).Return(nil)
	s.env.OnActivity(a.Notify, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.NotifyInput) (*activities.NotifyResult, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.sent = append(s.sent, in.Integration+"/"+in.Kind+"/"+in.Incident.Rule)
			return &activities.NotifyResult{Ref: in.Integration + "-ref-" + in.Incident.ID}, nil
		})
	s.env.OnActivity(a.StartRetrain, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.StartRetrainInput) (*activities.StartRetrainResult, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.retrains++
			return &activities.StartRetrainResult{Started: s.retrains == 1}, nil
		})
}

// evaluate schedules one evaluation signal at offset after the start: the
// accuracy and drift-share values of that window.
func (s *incidentSuite) evaluate(at time.Duration, accuracy, share float64) {
	s.windows++
	end := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(s.windows) * time.Minute)
	s.env.RegisterDelayedCallback(func() {
		s.env.SignalWorkflow(SignalEvaluation, activities.Evaluation{
			Model: "churn", WindowStart: end.Add(-time.Minute), WindowEnd: end,
			Results: CheckRules(*spec(), activities.AnalyzeResult{Rows: 100, Metrics: map[string]float64{
				"performance.accuracy": accuracy, "dataset_drift.share": share,
			}}),
		})
	}, at)
}

func (s *incidentSuite) run(until time.Duration) *IncidentState {
	var st *IncidentState
	s.env.RegisterDelayedCallback(func() {
		v, err := s.env.QueryWorkflow(QueryState)
		s.Require().NoError(err)
		s.Require().NoError(v.Get(&st))
		s.env.CancelWorkflow()
	}, until)
	s.env.ExecuteWorkflow(IncidentWorkflow, IncidentInput{Model: "churn"})
	return st
}

func (s *incidentSuite) TestBreachNotifiesSlackOnlyUntilEscalation() {
	s.evaluate(1*time.Minute, 0.70, 0)
	s.evaluate(2*time.Minute, 0.70, 0) // for: 2 → opens here
	st := s.run(10 * time.Minute)
	s.Equal([]string{"slack/trigger/accuracy-drop"}, s.sent, "Slack first, PagerDuty only after escalate_after")
	inc := st.Rules["accuracy-drop"].Open
	s.Require().NotNil(inc)
	s.Equal("slack-ref-"+inc.ID, inc.Refs["slack"], "the Slack message id is kept for later updates")
	s.Equal(1, s.retrains, "a retrain rule starts one retrain when the incident opens")
}

func (s *incidentSuite) TestUnackedIncidentPagesOnceAfterEscalateAfter() {
	s.evaluate(1*time.Minute, 0.70, 0)
	s.evaluate(2*time.Minute, 0.70, 0)
	s.evaluate(5*time.Minute, 0.60, 0) // still breaching: no second trigger
	st := s.run(40 * time.Minute)
	s.Equal([]string{"slack/trigger/accuracy-drop", "pagerduty/escalate/accuracy-drop"}, s.sent)
	s.True(st.Rules["accuracy-drop"].Open.Escalated)
}

func (s *incidentSuite) TestAckInTimePreventsThePage() {
	s.evaluate(1*time.Minute, 0.70, 0)
	s.evaluate(2*time.Minute, 0.70, 0)
	s.env.RegisterDelayedCallback(func() {
		s.env.UpdateWorkflow(UpdateAck, "ack-1", &testsuite.TestUpdateCallback{
			OnReject:   func(err error) { s.Fail("ack rejected", err) },
			OnComplete: func(any, error) {},
		}, AckInput{Actor: "alice"})
	}, 5*time.Minute)
	st := s.run(40 * time.Minute)
	s.Equal([]string{"slack/trigger/accuracy-drop", "slack/acknowledge/accuracy-drop"}, s.sent, "no PagerDuty page after an ack")
	s.Equal("alice", st.Rules["accuracy-drop"].Open.AckedBy)
}

func (s *incidentSuite) TestAckWithoutIncidentIsRejected() {
	var rejected error
	s.env.RegisterDelayedCallback(func() {
		s.env.UpdateWorkflow(UpdateAck, "ack-1", &testsuite.TestUpdateCallback{
			OnReject:   func(err error) { rejected = err },
			OnComplete: func(any, error) {},
		}, AckInput{Actor: "bob"})
	}, time.Minute)
	s.run(2 * time.Minute)
	s.Error(rejected)
}

func (s *incidentSuite) TestFlappingUnderHysteresisStaysQuiet() {
	for i, acc := range []float64{0.7, 0.9, 0.7, 0.9, 0.7, 0.9} {
		s.evaluate(time.Duration(i+1)*time.Minute, acc, 0)
	}
	st := s.run(30 * time.Minute)
	s.Empty(s.sent, "never two consecutive breaches: no incident")
	s.Nil(st.Rules["accuracy-drop"].Open)
	s.Zero(s.retrains)
}

func (s *incidentSuite) TestRecoveryResolvesEverywhereItWasSent() {
	s.evaluate(1*time.Minute, 0.70, 0)
	s.evaluate(2*time.Minute, 0.70, 0)
	s.evaluate(20*time.Minute, 0.95, 0) // after the page
	s.evaluate(21*time.Minute, 0.95, 0) // recover_after: 2 → resolves here
	st := s.run(40 * time.Minute)
	s.Require().Len(s.sent, 4)
	s.Equal([]string{"slack/trigger/accuracy-drop", "pagerduty/escalate/accuracy-drop"}, s.sent[:2])
	// Resolutions go out in parallel, so in either order.
	s.ElementsMatch([]string{"slack/resolve/accuracy-drop", "pagerduty/resolve/accuracy-drop"}, s.sent[2:])
	s.Nil(st.Rules["accuracy-drop"].Open)
}

func (s *incidentSuite) TestDuplicateSignalIsIgnored() {
	s.evaluate(1*time.Minute, 0.70, 0)
	s.windows-- // the same window delivered again, as a retried activity would
	s.evaluate(2*time.Minute, 0.70, 0)
	st := s.run(5 * time.Minute)
	s.Empty(s.sent, "one breaching window counted once does not reach for: 2")
	s.Equal(1, st.Rules["accuracy-drop"].ConsecutiveBreaches)
}

func (s *incidentSuite) TestSilenceSuppressesNewIncidents() {
	s.env.RegisterDelayedCallback(func() {
		s.env.UpdateWorkflow(UpdateSilence, "s-1", &testsuite.TestUpdateCallback{
			OnReject:   func(err error) { s.Fail("silence rejected", err) },
			OnComplete: func(any, error) {},
		}, SilenceInput{For: 2 * time.Hour, Actor: "carol"})
	}, 30*time.Second)
	s.evaluate(1*time.Minute, 0.95, 0.9) // the drift rule breaches, silenced
	s.run(5 * time.Minute)
	s.Empty(s.sent)
}

func (s *incidentSuite) TestSecondBreachDuringRetrainStartsNoSecondRetrain() {
	// Two incidents of the retrain rule in a row: the activity reports the
	// second start as refused because the fixed workflow ID is running.
	s.evaluate(1*time.Minute, 0.70, 0)
	s.evaluate(2*time.Minute, 0.70, 0) // opens, retrain 1
	s.evaluate(3*time.Minute, 0.95, 0)
	s.evaluate(4*time.Minute, 0.95, 0) // resolves
	s.evaluate(5*time.Minute, 0.70, 0)
	s.evaluate(6*time.Minute, 0.70, 0) // opens again, retrain asked, refused
	s.run(10 * time.Minute)
	s.Equal(2, s.retrains, "asked twice; the activity's fixed ID refuses the second while the first runs")
}

func TestContinueAsNewCarriesState(t *testing.T) {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(IncidentWorkflow)
	env.OnActivity(a.LoadModel, mock.Anything, mock.Anything).Return(spec(), nil)
	env.OnActivity(a.IncidentChanged, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(a.Notify, mock.Anything, mock.Anything).Return(&activities.NotifyResult{}, nil)
	env.OnActivity(a.StartRetrain, mock.Anything, mock.Anything).Return(&activities.StartRetrainResult{}, nil)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range evaluationsPerRun {
		end := start.Add(time.Duration(i+1) * time.Minute)
		env.RegisterDelayedCallback(func() {
			env.SignalWorkflow(SignalEvaluation, activities.Evaluation{Model: "churn", WindowEnd: end,
				Results: []activities.RuleResult{{Rule: "drift", HasValue: true}}})
		}, time.Duration(i+1)*time.Second)
	}
	env.ExecuteWorkflow(IncidentWorkflow, IncidentInput{Model: "churn"})
	err := env.GetWorkflowError()
	var can *workflow.ContinueAsNewError
	if err == nil || !asContinueAsNew(err, &can) {
		t.Fatalf("want continue-as-new after %d evaluations, got %v", evaluationsPerRun, err)
	}
}

func asContinueAsNew(err error, target **workflow.ContinueAsNewError) bool {
	for e := err; e != nil; {
		if c, ok := e.(*workflow.ContinueAsNewError); ok {
			*target = c
			return true
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		e = u.Unwrap()
	}
	return false
}
