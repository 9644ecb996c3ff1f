package workflows

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/suite"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/vigilml/vigil/activities"
)

func f64(v float64) *float64 { return &v }

// spec is a model with one critical rule that retrains and one warning rule.
func spec() *activities.ModelSpec {
	return &activities.ModelSpec{
		Name: "churn", Task: "binary", Every: time.Minute, Window: time.Minute,
		Rules: []activities.RuleSpec{
			{Name: "accuracy-drop", Metric: "performance.accuracy", Below: f64(0.85), For: 2, RecoverAfter: 2,
				Severity: "critical", EscalateAfter: 15 * time.Minute, Retrain: true},
			{Name: "drift", Metric: "dataset_drift.share", Above: f64(0.5), For: 1, RecoverAfter: 1,
				Severity: "warning", EscalateAfter: 15 * time.Minute},
		},
		Retrain: &activities.RetrainSpec{},
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
	// Notify fails (a retryable provider error) until downUntil, workflow
	// time; failedAttempts counts those attempts.
	downUntil      time.Time
	fail           func(in activities.NotifyInput, now time.Time) error // more failures, when set
	failedAttempts int
	deliveredAt    map[string]time.Time // "integration/kind/rule" → first delivery
	retrainAt      time.Time
	undelivered    []string // "integration/kind" reported to metrics
	dropped        []string // "integration/kind" reported as given up
	// LoadModel fails until specDownUntil (workflow time); loads counts calls.
	specDownUntil time.Time
	loads         int
	maxDelivery   time.Duration // the spec's notify.max_delivery, when set
}

func TestIncidentWorkflow(t *testing.T) { suite.Run(t, new(incidentSuite)) }

func (s *incidentSuite) SetupTest() {
	s.sent, s.retrains, s.windows = nil, 0, 0
	s.downUntil, s.fail, s.failedAttempts, s.deliveredAt, s.retrainAt, s.undelivered = time.Time{}, nil, 0, map[string]time.Time{}, time.Time{}, nil
	s.dropped, s.specDownUntil, s.loads, s.maxDelivery = nil, time.Time{}, 0, 0
	s.env = s.NewTestWorkflowEnvironment()
	s.env.RegisterWorkflow(IncidentWorkflow)
	s.env.OnActivity(a.LoadModel, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.LoadModelInput) (*activities.ModelSpec, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.loads++
			if s.env.Now().Before(s.specDownUntil) {
				return nil, temporal.NewApplicationError("read config: registry unreachable", "")
			}
			sp := spec()
			sp.MaxDelivery = s.maxDelivery
			return sp, nil
		})
	s.env.OnActivity(a.IncidentChanged, mock.Anything, mock.Anything).Return(nil)
	s.env.OnActivity(a.NotificationUndelivered, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.NotificationUndeliveredInput) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.undelivered = append(s.undelivered, in.Integration+"/"+in.Kind)
			if !in.Retrying {
				s.dropped = append(s.dropped, in.Integration+"/"+in.Kind)
			}
			return nil
		})
	s.env.OnActivity(a.Notify, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.NotifyInput) (*activities.NotifyResult, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			now := s.env.Now()
			if now.Before(s.downUntil) {
				s.failedAttempts++
				return nil, temporal.NewApplicationError(in.Integration+": HTTP 500: Internal Server Error", "")
			}
			if s.fail != nil {
				if err := s.fail(in, now); err != nil {
					s.failedAttempts++
					return nil, err
				}
			}
			key := in.Integration + "/" + in.Kind + "/" + in.Incident.Rule
			s.sent = append(s.sent, key)
			if _, ok := s.deliveredAt[key]; !ok {
				s.deliveredAt[key] = now
			}
			return &activities.NotifyResult{Ref: in.Integration + "-ref-" + in.Incident.ID}, nil
		})
	s.env.OnActivity(a.StartRetrain, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.StartRetrainInput) (*activities.StartRetrainResult, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.retrains++
			if s.retrainAt.IsZero() {
				s.retrainAt = s.env.Now()
			}
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

// at runs check at offset after the start with the incident state queried
// then (assertions there are not fatal, so every checkpoint reports).
func (s *incidentSuite) at(offset time.Duration, check func(st *IncidentState)) {
	s.env.RegisterDelayedCallback(func() {
		var st IncidentState
		v, err := s.env.QueryWorkflow(QueryState)
		if s.NoError(err) && s.NoError(v.Get(&st)) {
			check(&st)
		}
	}, offset)
}

// sentTo lists what an integration received, in order ("kind/rule").
func (s *incidentSuite) sentTo(integration string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, k := range s.sent {
		if rest, ok := strings.CutPrefix(k, integration+"/"); ok {
			out = append(out, rest)
		}
	}
	return out
}

// Slack and PagerDuty are down for 40 minutes while an incident opens,
// escalates, is acknowledged and resolves. The incident's state follows the
// data and the people at once; each integration gets every event once,
// after recovery, in the order it happened.
func (s *incidentSuite) TestOutageDeliversOnceInOrderAfterRecovery() {
	start := s.env.Now()
	s.downUntil = start.Add(40 * time.Minute)
	s.evaluate(1*time.Minute, 0.70, 0)
	s.evaluate(2*time.Minute, 0.70, 0) // opens; escalates at 17m
	s.at(10*time.Minute, func(st *IncidentState) {
		inc := st.Rules["accuracy-drop"].Open
		if s.NotNil(inc, "open while Slack is down") {
			s.False(inc.Escalated)
			s.Empty(inc.Notified, "nothing delivered yet")
		}
		s.Equal(1, s.retrains, "a notification outage does not hold the retrain back")
	})
	s.at(18*time.Minute, func(st *IncidentState) {
		inc := st.Rules["accuracy-drop"].Open
		if s.NotNil(inc) {
			s.True(inc.Escalated, "escalated at escalate_after, whatever Slack does")
		}
	})
	var acked time.Time
	s.env.RegisterDelayedCallback(func() {
		s.env.UpdateWorkflow(UpdateAck, "ack-1", &testsuite.TestUpdateCallback{
			OnReject:   func(err error) { s.Fail("ack rejected", err) },
			OnComplete: func(_ any, err error) { s.NoError(err); acked = s.env.Now() },
		}, AckInput{Actor: "alice"})
	}, 20*time.Minute)
	s.at(21*time.Minute, func(st *IncidentState) {
		if inc := st.Rules["accuracy-drop"].Open; s.NotNil(inc) {
			s.Equal("alice", inc.AckedBy)
		}
	})
	s.evaluate(25*time.Minute, 0.95, 0)
	s.evaluate(26*time.Minute, 0.95, 0) // recover_after: 2 → resolves here
	s.at(27*time.Minute, func(st *IncidentState) {
		s.Nil(st.Rules["accuracy-drop"].Open, "resolved when the data recovered, not when Slack did")
		s.Equal(1, st.Rules["accuracy-drop"].Resolved)
	})
	s.run(90 * time.Minute)

	s.Equal([]string{"trigger/accuracy-drop", "acknowledge/accuracy-drop", "resolve/accuracy-drop"}, s.sentTo("slack"))
	s.Equal([]string{"escalate/accuracy-drop", "acknowledge/accuracy-drop", "resolve/accuracy-drop"}, s.sentTo("pagerduty"))
	for key, at := range s.deliveredAt {
		s.False(at.Before(s.downUntil), "%s delivered during the outage", key)
		s.True(at.Sub(s.downUntil) < 3*time.Minute, "%s delivered %s after recovery", key, at.Sub(s.downUntil))
	}
	s.False(acked.IsZero(), "the ack completed")
	s.True(acked.Sub(start) < 21*time.Minute, "the ack answered at once, not after the outage (%s)", acked.Sub(start))
	s.Equal(1, s.retrains)
	s.Positive(s.failedAttempts)
}

// With only Slack down, the page goes out on time: a provider that is down
// delays only its own notifications.
func (s *incidentSuite) TestSlackOutageDoesNotHoldThePageBack() {
	start := s.env.Now()
	s.fail = func(in activities.NotifyInput, now time.Time) error {
		if in.Integration == "slack" && now.Before(start.Add(50*time.Minute)) {
			return temporal.NewApplicationError("slack: HTTP 500", "")
		}
		return nil
	}
	s.evaluate(1*time.Minute, 0.70, 0)
	s.evaluate(2*time.Minute, 0.70, 0) // opens; escalates at 17m
	s.run(90 * time.Minute)
	s.Equal([]string{"escalate/accuracy-drop"}, s.sentTo("pagerduty"))
	s.Equal(start.Add(17*time.Minute), s.deliveredAt["pagerduty/escalate/accuracy-drop"], "paged at escalate_after")
	s.Equal([]string{"trigger/accuracy-drop"}, s.sentTo("slack"))
	s.False(s.deliveredAt["slack/trigger/accuracy-drop"].Before(start.Add(50 * time.Minute)))
}

// An outage longer than a Notify activity's hour of retries: while the
// incident is open, the notification is sent again with a new budget, so it
// arrives once, after recovery; each spent budget is logged and counted.
func (s *incidentSuite) TestOutageLongerThanTheRetryBudgetStillDeliversWhileOpen() {
	start := s.env.Now()
	s.downUntil = start.Add(150 * time.Minute)
	s.evaluate(1*time.Minute, 0.70, 0)
	s.evaluate(2*time.Minute, 0.70, 0) // opens; escalates at 17m
	s.at(140*time.Minute, func(st *IncidentState) {
		inc := st.Rules["accuracy-drop"].Open
		if s.NotNil(inc) {
			s.True(inc.Escalated)
			s.Empty(inc.Notified)
		}
		s.Len(st.Outbox["slack"], 1, "the trigger still waits for Slack")
		s.Len(st.Outbox["pagerduty"], 1, "the page still waits for PagerDuty")
		s.mu.Lock()
		defer s.mu.Unlock()
		// Budgets spent: Slack's at 62m and 122m, PagerDuty's at 77m and 137m.
		s.ElementsMatch([]string{"slack/trigger", "slack/trigger", "pagerduty/escalate", "pagerduty/escalate"}, s.undelivered)
	})
	s.evaluate(160*time.Minute, 0.95, 0)
	s.evaluate(161*time.Minute, 0.95, 0) // resolves after recovery
	st := s.run(200 * time.Minute)
	s.Equal([]string{"trigger/accuracy-drop", "resolve/accuracy-drop"}, s.sentTo("slack"))
	s.Equal([]string{"escalate/accuracy-drop", "resolve/accuracy-drop"}, s.sentTo("pagerduty"))
	s.True(s.deliveredAt["slack/trigger/accuracy-drop"].Sub(s.downUntil) < 2*time.Minute, "delivered soon after recovery")
	s.Nil(st.Rules["accuracy-drop"].Open)
	s.Empty(st.Outbox)
}

// An incident that opens and resolves during an outage longer than the
// retry budget: its notifications are still delivered after recovery, in
// order — the resolve is what closes the pager's incident, which would
// otherwise stay triggered. Each spent budget is counted; nothing is dropped.
func (s *incidentSuite) TestOutageLongerThanTheRetryBudgetStillDeliversAResolvedIncident() {
	start := s.env.Now()
	s.downUntil = start.Add(170 * time.Minute)
	s.evaluate(1*time.Minute, 0.70, 0)
	s.evaluate(2*time.Minute, 0.70, 0)  // opens
	s.evaluate(10*time.Minute, 0.95, 0) // recover_after: 2
	s.evaluate(11*time.Minute, 0.95, 0) // resolves
	s.at(12*time.Minute, func(st *IncidentState) {
		s.Nil(st.Rules["accuracy-drop"].Open)
		s.Equal(1, st.Rules["accuracy-drop"].Resolved)
		s.Equal([]string{"trigger", "resolve"}, kinds(st.Outbox["slack"]))
	})
	st := s.run(240 * time.Minute)
	s.Equal([]string{"trigger/accuracy-drop", "resolve/accuracy-drop"}, s.sentTo("slack"))
	s.Empty(s.sentTo("pagerduty"), "never escalated: resolved first")
	s.True(s.deliveredAt["slack/resolve/accuracy-drop"].Sub(s.downUntil) < 3*time.Minute, "delivered soon after recovery")
	s.Equal([]string{"slack/trigger", "slack/trigger"}, s.undelivered, "the trigger's budgets spent at 62m and 122m")
	s.Empty(s.dropped)
	s.Empty(st.Outbox)
}

// An acknowledge stuck behind a PagerDuty outage reaches PagerDuty after
// the incident closed: the pager's incident is acknowledged and resolved.
func (s *incidentSuite) TestAckAndResolveReachThePagerAfterALongOutage() {
	start := s.env.Now()
	s.fail = func(in activities.NotifyInput, now time.Time) error {
		if in.Integration == "pagerduty" && in.Kind != "escalate" && now.Before(start.Add(5*time.Hour)) {
			return temporal.NewApplicationError("pagerduty: HTTP 503", "")
		}
		return nil
	}
	s.evaluate(1*time.Minute, 0.70, 0)
	s.evaluate(2*time.Minute, 0.70, 0) // opens; paged at 17m
	s.env.RegisterDelayedCallback(func() {
		s.env.UpdateWorkflow(UpdateAck, "ack-1", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { s.Fail("ack rejected", err) }, OnComplete: func(any, error) {},
		}, AckInput{Actor: "alice"})
	}, 20*time.Minute)
	s.evaluate(30*time.Minute, 0.95, 0)
	s.evaluate(31*time.Minute, 0.95, 0) // resolves
	st := s.run(6 * time.Hour)
	s.Equal([]string{"escalate/accuracy-drop", "acknowledge/accuracy-drop", "resolve/accuracy-drop"}, s.sentTo("pagerduty"))
	s.False(s.deliveredAt["pagerduty/acknowledge/accuracy-drop"].Before(start.Add(5 * time.Hour)))
	s.Empty(s.dropped)
	s.Empty(st.Outbox)
}

// notify.max_delivery bounds the retries: past it a notification is dropped,
// logged and counted as dropped (vigil_notifications_dropped_total alerts),
// and the queue moves on.
func (s *incidentSuite) TestNotificationsPastMaxDeliveryAreDroppedAndCounted() {
	start := s.env.Now()
	s.maxDelivery = 3 * time.Hour
	s.downUntil = start.Add(10 * time.Hour)
	s.evaluate(1*time.Minute, 0.70, 0)
	s.evaluate(2*time.Minute, 0.70, 0)  // opens: trigger queued at 2m
	s.evaluate(10*time.Minute, 0.95, 0) // recover_after: 2
	s.evaluate(11*time.Minute, 0.95, 0) // resolves: resolve queued at 11m
	s.at(3*time.Hour, func(st *IncidentState) {
		s.Equal([]string{"trigger", "resolve"}, kinds(st.Outbox["slack"]), "still trying at 3h")
	})
	s.at(3*time.Hour+15*time.Minute, func(st *IncidentState) {
		s.Empty(st.Outbox, "both dropped shortly after max_delivery")
	})
	st := s.run(11 * time.Hour)
	s.Empty(s.sentTo("slack"))
	s.Equal([]string{"slack/trigger", "slack/resolve"}, s.dropped)
	s.Empty(st.Outbox)
}

// After continue-as-new the spec is loaded at start, so an escalation due
// before the next evaluation pages the escalation route.
func (s *incidentSuite) TestEscalationAfterContinueAsNewPagesBeforeAnyEvaluation() {
	start := s.env.Now()
	st := s.runCarried(start, 20*time.Minute)
	s.Equal([]string{"escalate/accuracy-drop"}, s.sentTo("pagerduty"))
	s.Equal(start.Add(5*time.Minute), s.deliveredAt["pagerduty/escalate/accuracy-drop"], "paged when due")
	s.True(st.Rules["accuracy-drop"].Open.Escalated)
}

// When the spec cannot be loaded, the escalation waits for it instead of
// marking the incident escalated with nobody paged.
func (s *incidentSuite) TestEscalationWaitsForTheSpec() {
	start := s.env.Now()
	s.specDownUntil = start.Add(20 * time.Minute)
	s.at(15*time.Minute, func(st *IncidentState) {
		s.False(st.Rules["accuracy-drop"].Open.Escalated, "not escalated without routes")
	})
	st := s.runCarried(start, 40*time.Minute)
	s.Equal([]string{"escalate/accuracy-drop"}, s.sentTo("pagerduty"))
	paged := s.deliveredAt["pagerduty/escalate/accuracy-drop"]
	s.False(paged.Before(s.specDownUntil))
	s.True(paged.Sub(s.specDownUntil) < 2*time.Minute, "paged %s after the spec came back", paged.Sub(s.specDownUntil))
	s.True(st.Rules["accuracy-drop"].Open.Escalated)
}

// runCarried runs a continued-as-new incident workflow whose state holds an
// open, unacknowledged critical incident due to escalate 5 minutes after the
// start, and no evaluation arrives.
func (s *incidentSuite) runCarried(start time.Time, until time.Duration) *IncidentState {
	inc := &activities.Incident{ID: "churn/accuracy-drop/1", Model: "churn", Rule: "accuracy-drop", Severity: "critical",
		OpenedAt: start.Add(-10 * time.Minute), EscalateAt: start.Add(5 * time.Minute), Refs: map[string]string{"slack": "C1:1"},
		Notified: []string{"slack"}}
	state := &IncidentState{Model: "churn", Rules: map[string]*RuleState{"accuracy-drop": {ConsecutiveBreaches: 2, Open: inc}}}
	var st *IncidentState
	s.env.RegisterDelayedCallback(func() {
		v, err := s.env.QueryWorkflow(QueryState)
		s.Require().NoError(err)
		s.Require().NoError(v.Get(&st))
		s.env.CancelWorkflow()
	}, until)
	s.env.ExecuteWorkflow(IncidentWorkflow, IncidentInput{Model: "churn", State: state})
	return st
}

// A permanent error (bad token, unknown channel) is not retried: dropped,
// logged, counted; the others still hear about the incident.
func (s *incidentSuite) TestPermanentFailureIsDroppedAtOnce() {
	s.fail = func(in activities.NotifyInput, _ time.Time) error {
		if in.Integration == "slack" {
			return temporal.NewNonRetryableApplicationError("slack: invalid_auth", "NotifyPermanent", nil)
		}
		return nil
	}
	s.evaluate(1*time.Minute, 0.70, 0)
	s.evaluate(2*time.Minute, 0.70, 0)
	st := s.run(30 * time.Minute)
	s.Equal([]string{"slack/trigger"}, s.undelivered)
	s.Equal([]string{"escalate/accuracy-drop"}, s.sentTo("pagerduty"))
	s.Equal([]string{"pagerduty"}, st.Rules["accuracy-drop"].Open.Notified)
	s.Empty(st.Outbox)
}

// Notifications still queued at continue-as-new travel in the state: the
// next run delivers them, in order, on the incident it carries.
func (s *incidentSuite) TestQueuedNotificationsSurviveContinueAsNew() {
	opened := time.Date(2026, 1, 1, 0, 2, 0, 0, time.UTC)
	inc := &activities.Incident{ID: "churn/accuracy-drop/1", Model: "churn", Rule: "accuracy-drop", Severity: "critical",
		OpenedAt: opened, EscalateAt: opened.Add(15 * time.Minute), Escalated: true, AckedBy: "alice", Refs: map[string]string{}}
	// As JSON would give them back: separate copies of one incident.
	cp := func() *activities.Incident { c := *inc; c.Refs = map[string]string{}; return &c }
	state := &IncidentState{Model: "churn",
		Rules: map[string]*RuleState{"accuracy-drop": {ConsecutiveBreaches: 2, Open: cp()}},
		Outbox: map[string][]*Notification{
			"slack":     {{Kind: "trigger", Incident: cp()}, {Kind: "acknowledge", Incident: cp()}},
			"pagerduty": {{Kind: "escalate", Incident: cp()}, {Kind: "acknowledge", Incident: cp()}},
		}}
	var st *IncidentState
	s.env.RegisterDelayedCallback(func() {
		v, err := s.env.QueryWorkflow(QueryState)
		s.Require().NoError(err)
		s.Require().NoError(v.Get(&st))
		s.env.CancelWorkflow()
	}, time.Minute)
	s.env.ExecuteWorkflow(IncidentWorkflow, IncidentInput{Model: "churn", State: state})
	s.Equal([]string{"trigger/accuracy-drop", "acknowledge/accuracy-drop"}, s.sentTo("slack"))
	s.Equal([]string{"escalate/accuracy-drop", "acknowledge/accuracy-drop"}, s.sentTo("pagerduty"))
	open := st.Rules["accuracy-drop"].Open
	s.ElementsMatch([]string{"pagerduty", "slack"}, open.Notified, "deliveries recorded on the open incident (the two senders race)")
	s.Equal("slack-ref-"+inc.ID, open.Refs["slack"])
	s.Empty(st.Outbox)
}

func kinds(q []*Notification) (out []string) {
	for _, n := range q {
		out = append(out, n.Kind)
	}
	return out
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

// Continue-as-new during an outage does not wait for the provider: the
// delivery in flight is interrupted, and the queue travels in the state.
func TestContinueAsNewInterruptsDeliveriesAndCarriesTheQueue(t *testing.T) {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(IncidentWorkflow)
	env.OnActivity(a.LoadModel, mock.Anything, mock.Anything).Return(spec(), nil)
	env.OnActivity(a.IncidentChanged, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(a.Notify, mock.Anything, mock.Anything).Return(nil, temporal.NewApplicationError("slack: HTTP 503", ""))
	start := env.Now()
	for i := range evaluationsPerRun {
		end := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i+1) * time.Minute)
		env.RegisterDelayedCallback(func() { // the drift rule (warning: Slack only) breaches every time
			env.SignalWorkflow(SignalEvaluation, activities.Evaluation{Model: "churn", WindowEnd: end,
				Results: []activities.RuleResult{{Rule: "drift", HasValue: true, Breached: true, Value: 0.9}}})
		}, time.Duration(i+1)*time.Second)
	}
	env.ExecuteWorkflow(IncidentWorkflow, IncidentInput{Model: "churn"})
	var can *workflow.ContinueAsNewError
	if err := env.GetWorkflowError(); !asContinueAsNew(err, &can) {
		t.Fatalf("want continue-as-new after %d evaluations, got %v", evaluationsPerRun, err)
	}
	if took := env.Now().Sub(start); took > time.Duration(evaluationsPerRun)*time.Second+time.Minute {
		t.Errorf("continue-as-new came %s after the start: it waited for the outage", took)
	}
	var next IncidentInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	open := next.State.Rules["drift"].Open
	q := next.State.Outbox["slack"]
	if open == nil || len(q) != 1 || q[0].Kind != "trigger" || q[0].Incident.ID != open.ID || len(open.Notified) != 0 {
		t.Fatalf("carried state: open %+v, slack queue %+v; want the open incident's trigger still queued", open, q)
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
