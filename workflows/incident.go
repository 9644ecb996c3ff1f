package workflows

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/vigilml/vigil/activities"
	"github.com/vigilml/vigil/config"
)

// IncidentInput starts (or continues as new) a model's IncidentWorkflow.
type IncidentInput struct {
	Model string
	State *IncidentState // carried over by continue-as-new
}

// IncidentState is everything the workflow knows; the `state` query returns it.
type IncidentState struct {
	Model string
	// Rules is per-rule hysteresis and the open incident, if any.
	Rules map[string]*RuleState
	// Silences maps a rule ("*" for every rule) to when its silence ends.
	Silences map[string]time.Time
	// Evaluations counts evaluations processed by this run (for continue-as-new).
	Evaluations int
}

// RuleState tracks one rule across windows.
type RuleState struct {
	ConsecutiveBreaches int
	ConsecutiveOK       int
	// LastWindowEnd makes evaluations idempotent: a signal delivered twice
	// (an activity retried) or out of order is ignored.
	LastWindowEnd time.Time
	CooldownUntil time.Time
	Open          *activities.Incident
	// Resolved counts incidents this rule has had, for IDs.
	Resolved int
}

// AckInput acknowledges open incidents: one rule's, or every one with Rule "".
type AckInput struct {
	Rule  string
	Actor string
}

// SilenceInput mutes a rule ("" = every rule) for a while: no new incident,
// no escalation.
type SilenceInput struct {
	Rule  string
	For   time.Duration
	Actor string
}

// AckResult lists the incidents acknowledged.
type AckResult struct {
	Incidents []string
}

// evaluationsPerRun bounds history: continue-as-new after this many.
const evaluationsPerRun = 500

// IncidentWorkflow is one per model and long-lived: it turns evaluations into
// incidents with hysteresis, dedup, cooldown and silences, notifies first
// responders, escalates to a pager when nobody acknowledges in time, and
// resolves everything when the model recovers.
func IncidentWorkflow(ctx workflow.Context, in IncidentInput) error {
	w := &incidentWorkflow{state: in.State}
	if w.state == nil {
		w.state = &IncidentState{Model: in.Model}
	}
	if w.state.Rules == nil {
		w.state.Rules = map[string]*RuleState{}
	}
	if w.state.Silences == nil {
		w.state.Silences = map[string]time.Time{}
	}
	w.state.Evaluations = 0
	if err := w.setup(ctx); err != nil {
		return err
	}
	return w.run(ctx)
}

type incidentWorkflow struct {
	state *IncidentState
	spec  activities.ModelSpec
}

func (w *incidentWorkflow) setup(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (*IncidentState, error) { return w.state, nil }); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateAck, w.ack, workflow.UpdateHandlerOptions{
		Validator: func(ctx workflow.Context, in AckInput) error {
			if len(w.openIncidents(in.Rule, true)) == 0 {
				if in.Rule == "" {
					return fmt.Errorf("model %s has no unacknowledged incident", w.state.Model)
				}
				return fmt.Errorf("model %s has no unacknowledged incident for rule %q", w.state.Model, in.Rule)
			}
			return nil
		},
	}); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateSilence, w.silence, workflow.UpdateHandlerOptions{
		Validator: func(ctx workflow.Context, in SilenceInput) error {
			if in.For <= 0 || in.For > 30*24*time.Hour {
				return fmt.Errorf("silence duration must be between 0 and 30 days, got %s", in.For)
			}
			return nil
		},
	})
}

func (w *incidentWorkflow) run(ctx workflow.Context) error {
	evals := workflow.GetSignalChannel(ctx, SignalEvaluation)
	for {
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(evals, func(c workflow.ReceiveChannel, _ bool) {
			var ev activities.Evaluation
			c.Receive(ctx, &ev)
			w.onEvaluation(ctx, ev)
		})
		timerCtx, cancelTimer := workflow.WithCancel(ctx)
		if at, ok := w.nextEscalation(); ok {
			d := at.Sub(workflow.Now(ctx))
			if d < 0 {
				d = 0
			}
			sel.AddFuture(workflow.NewTimer(timerCtx, d), func(workflow.Future) { w.escalateDue(ctx) })
		}
		sel.Select(ctx)
		cancelTimer()
		if err := ctx.Err(); err != nil {
			return err // cancelled: the timer above would fire at once, forever
		}

		if w.state.Evaluations >= evaluationsPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			// Handle what is already queued, let running handlers finish,
			// then carry the state into a fresh history.
			for {
				var ev activities.Evaluation
				if !evals.ReceiveAsync(&ev) {
					break
				}
				w.onEvaluation(ctx, ev)
			}
			if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
				return err
			}
			return workflow.NewContinueAsNewError(ctx, IncidentWorkflow, IncidentInput{Model: w.state.Model, State: w.state})
		}
	}
}

// loadSpec refreshes the rules and routes (they may change between windows).
func (w *incidentWorkflow) loadSpec(ctx workflow.Context) error {
	short := workflow.WithActivityOptions(ctx, activityOptions(30*time.Second, 10))
	return workflow.ExecuteActivity(short, a.LoadModel, activities.LoadModelInput{Model: w.state.Model}).Get(ctx, &w.spec)
}

func (w *incidentWorkflow) rule(name string) (config.Rule, bool) {
	for _, r := range w.spec.Rules {
		if r.Name == name {
			return r, true
		}
	}
	return config.Rule{}, false
}

func (w *incidentWorkflow) onEvaluation(ctx workflow.Context, ev activities.Evaluation) {
	log := workflow.GetLogger(ctx)
	w.state.Evaluations++
	if err := w.loadSpec(ctx); err != nil {
		log.Error("load model spec; evaluation dropped", "model", w.state.Model, "err", err)
		return
	}
	now := workflow.Now(ctx)
	for _, rr := range ev.Results {
		rule, ok := w.rule(rr.Rule)
		if !ok || !rr.HasValue {
			continue
		}
		rs := w.state.Rules[rr.Rule]
		if rs == nil {
			rs = &RuleState{}
			w.state.Rules[rr.Rule] = rs
		}
		if !ev.WindowEnd.After(rs.LastWindowEnd) {
			continue // already seen (a retried signal) or older than what we know
		}
		rs.LastWindowEnd = ev.WindowEnd
		if rr.Breached {
			rs.ConsecutiveBreaches++
			rs.ConsecutiveOK = 0
			if rs.Open != nil {
				rs.Open.Value, rs.Open.WindowEnd, rs.Open.ReportURI = rr.Value, ev.WindowEnd, ev.ReportURI
				continue
			}
			if rs.ConsecutiveBreaches < rule.For || now.Before(rs.CooldownUntil) || w.silenced(rule.Name, now) {
				continue
			}
			w.open(ctx, rule, rs, ev, rr)
			continue
		}
		rs.ConsecutiveOK++
		rs.ConsecutiveBreaches = 0
		if rs.Open != nil && rs.ConsecutiveOK >= rule.RecoverAfter {
			w.resolve(ctx, rule, rs)
		}
	}
}

func (w *incidentWorkflow) silenced(rule string, now time.Time) bool {
	return now.Before(w.state.Silences[rule]) || now.Before(w.state.Silences["*"])
}

func (w *incidentWorkflow) open(ctx workflow.Context, rule config.Rule, rs *RuleState, ev activities.Evaluation, rr activities.RuleResult) {
	now := workflow.Now(ctx)
	inc := &activities.Incident{
		// Deterministic and unique per incident: retried notifications of the
		// same incident carry the same ID, so integrations can dedup.
		ID:    fmt.Sprintf("%s/%s/%d", ev.Model, rule.Name, ev.WindowEnd.Unix()),
		Model: ev.Model, Version: ev.Version, Rule: rule.Name, Metric: rule.Metric, Severity: rule.Severity,
		Value: rr.Value, Threshold: rr.Threshold, WindowStart: ev.WindowStart, WindowEnd: ev.WindowEnd,
		TopDrifted: ev.TopDrifted, ReportURI: ev.ReportURI, WorkflowID: ev.WorkflowID, RunID: ev.RunID,
		OpenedAt: now, Refs: map[string]string{},
	}
	route := w.spec.Severity[rule.Severity]
	if len(route.Escalate) > 0 {
		inc.EscalateAt = now.Add(rule.EscalateAfter.D())
	}
	rs.Open = inc
	w.record(ctx, inc, true)
	w.send(ctx, "trigger", inc, route.Notify)
	if rule.Retrain {
		w.startRetrain(ctx, inc)
	}
}

func (w *incidentWorkflow) startRetrain(ctx workflow.Context, inc *activities.Incident) {
	short := workflow.WithActivityOptions(ctx, activityOptions(30*time.Second, 10))
	var res activities.StartRetrainResult
	reason := fmt.Sprintf("rule %s: %s = %g (%s) in window ending %s", inc.Rule, inc.Metric, inc.Value, inc.Threshold, inc.WindowEnd.Format(time.RFC3339))
	if err := workflow.ExecuteActivity(short, a.StartRetrain, activities.StartRetrainInput{Model: inc.Model, Reason: reason}).Get(ctx, &res); err != nil {
		workflow.GetLogger(ctx).Error("start retrain", "model", inc.Model, "err", err)
		return
	}
	workflow.GetLogger(ctx).Info("retrain requested", "model", inc.Model, "started", res.Started)
}

func (w *incidentWorkflow) resolve(ctx workflow.Context, rule config.Rule, rs *RuleState) {
	inc := rs.Open
	inc.ResolvedAt = workflow.Now(ctx)
	w.send(ctx, "resolve", inc, slices.Clone(inc.Notified))
	rs.Open = nil
	w.record(ctx, inc, false)
	rs.Resolved++
	rs.CooldownUntil = inc.ResolvedAt.Add(rule.Cooldown.D())
}

// record exports the change to metrics; best effort.
func (w *incidentWorkflow) record(ctx workflow.Context, inc *activities.Incident, open bool) {
	short := workflow.WithActivityOptions(ctx, activityOptions(30*time.Second, 3))
	if err := workflow.ExecuteActivity(short, a.IncidentChanged, activities.IncidentChangeInput{
		Model: inc.Model, Rule: inc.Rule, Severity: inc.Severity, Open: open,
	}).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Warn("record incident metrics", "err", err)
	}
}

// send notifies each integration once per kind; a failed integration is
// logged and does not keep the others from hearing about the incident.
func (w *incidentWorkflow) send(ctx workflow.Context, kind string, inc *activities.Incident, integrations []string) {
	// Provider APIs answer in seconds; a short limit also means a notification
	// lost with a crashed worker is retried soon. Retried until delivered or
	// permanent, for up to an hour.
	opts := activityOptions(20*time.Second, 0)
	opts.ScheduleToCloseTimeout = time.Hour
	actx := workflow.WithActivityOptions(ctx, opts)
	futures := make([]workflow.Future, len(integrations))
	for i, name := range integrations {
		futures[i] = workflow.ExecuteActivity(actx, a.Notify, activities.NotifyInput{Integration: name, Kind: kind, Incident: *inc})
	}
	for i, f := range futures {
		var res activities.NotifyResult
		if err := f.Get(ctx, &res); err != nil {
			workflow.GetLogger(ctx).Error("notify failed", "integration", integrations[i], "kind", kind, "incident", inc.ID, "err", err)
			continue
		}
		if res.Ref != "" && inc.Refs[integrations[i]] == "" {
			inc.Refs[integrations[i]] = res.Ref
		}
		if !slices.Contains(inc.Notified, integrations[i]) {
			inc.Notified = append(inc.Notified, integrations[i])
		}
	}
}

// nextEscalation is the earliest escalation deadline of an open incident.
func (w *incidentWorkflow) nextEscalation() (time.Time, bool) {
	var next time.Time
	for _, inc := range w.openIncidents("", true) {
		if inc.Escalated || inc.EscalateAt.IsZero() {
			continue
		}
		if next.IsZero() || inc.EscalateAt.Before(next) {
			next = inc.EscalateAt
		}
	}
	return next, !next.IsZero()
}

func (w *incidentWorkflow) escalateDue(ctx workflow.Context) {
	now := workflow.Now(ctx)
	for _, inc := range w.openIncidents("", true) {
		if inc.Escalated || inc.EscalateAt.IsZero() || inc.EscalateAt.After(now) {
			continue
		}
		inc.Escalated = true // before sending: a slow pager must not be paged twice
		if w.silenced(inc.Rule, now) {
			continue
		}
		w.send(ctx, "escalate", inc, w.spec.Severity[inc.Severity].Escalate)
	}
}

// openIncidents lists open incidents (of one rule, or all), in rule order so
// the result is deterministic; unacked only if asked.
func (w *incidentWorkflow) openIncidents(rule string, unackedOnly bool) []*activities.Incident {
	names := make([]string, 0, len(w.state.Rules))
	for name := range w.state.Rules {
		names = append(names, name)
	}
	sort.Strings(names)
	var out []*activities.Incident
	for _, name := range names {
		inc := w.state.Rules[name].Open
		if inc == nil || (rule != "" && rule != name) || (unackedOnly && inc.AckedBy != "") {
			continue
		}
		out = append(out, inc)
	}
	return out
}

func (w *incidentWorkflow) ack(ctx workflow.Context, in AckInput) (*AckResult, error) {
	actor := in.Actor
	if actor == "" {
		actor = "unknown"
	}
	res := &AckResult{}
	for _, inc := range w.openIncidents(in.Rule, true) {
		inc.AckedBy, inc.AckedAt = actor, workflow.Now(ctx)
		res.Incidents = append(res.Incidents, inc.ID)
		w.send(ctx, "acknowledge", inc, slices.Clone(inc.Notified))
	}
	if len(res.Incidents) == 0 {
		return nil, errors.New("nothing to acknowledge")
	}
	return res, nil
}

func (w *incidentWorkflow) silence(ctx workflow.Context, in SilenceInput) (time.Time, error) {
	key := in.Rule
	if key == "" {
		key = "*"
	}
	until := workflow.Now(ctx).Add(in.For)
	w.state.Silences[key] = until
	for _, inc := range w.openIncidents(in.Rule, false) {
		inc.SilencedUntil = until
	}
	return until, nil
}
