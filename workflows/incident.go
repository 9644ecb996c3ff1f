package workflows

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/vigilml/vigil/activities"
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
	// Outbox holds the notifications not delivered yet, per integration,
	// oldest first. Each integration's queue has its own sender, which
	// delivers it in order, one notification at a time (see deliver).
	Outbox map[string][]*Notification `json:",omitempty"`
}

// Notification is one event of one incident waiting in an integration's
// queue. Incident is the live incident (the same object as RuleState.Open
// while it is open): what is sent is its state when it is sent, with the
// references that earlier deliveries returned.
type Notification struct {
	Kind     string
	Incident *activities.Incident
	Queued   time.Time
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
	w := &incidentWorkflow{state: in.State, root: ctx, senders: map[string]bool{}, interrupt: map[string]workflow.CancelFunc{}}
	if w.state == nil {
		w.state = &IncidentState{Model: in.Model}
	}
	if w.state.Rules == nil {
		w.state.Rules = map[string]*RuleState{}
	}
	if w.state.Silences == nil {
		w.state.Silences = map[string]time.Time{}
	}
	if w.state.Outbox == nil {
		w.state.Outbox = map[string][]*Notification{}
	}
	w.state.Evaluations = 0
	// Runs recorded before this change sent notifications inline; see queued.
	w.queued = workflow.GetVersion(ctx, changeNotifyQueues, workflow.DefaultVersion, 1) >= 1
	w.relink()
	if err := w.setup(ctx); err != nil {
		return err
	}
	w.untilTaken = workflow.GetVersion(ctx, changeDeliverUntilTaken, workflow.DefaultVersion, 1) >= 1
	if workflow.GetVersion(ctx, changeSpecAtStart, workflow.DefaultVersion, 1) >= 1 {
		w.specAtStart = true
		if err := w.loadSpec(ctx); err != nil {
			// escalateDue loads it again before it pages anyone.
			workflow.GetLogger(ctx).Error("load model spec at start", "model", w.state.Model, "err", err)
		}
	}
	for _, name := range sortedKeys(w.state.Outbox) { // carried over by continue-as-new
		w.startSender(name)
	}
	return w.run(ctx)
}

// changeNotifyQueues is the workflow.GetVersion change ID of per-integration
// notification queues.
const changeNotifyQueues = "notify-queues"

// changeSpecAtStart is the change ID of loading the model spec when a run
// starts. Before, the spec was loaded only with each evaluation, so after
// continue-as-new an incident whose escalation came before the next
// evaluation was marked escalated with no routes to page: nobody was paged.
const changeSpecAtStart = "spec-at-start"

// changeDeliverUntilTaken is the change ID of retrying a notification until
// its provider takes it (up to notify.max_delivery), whatever its
// incident's state. Before, once the incident was resolved a notification
// was dropped after an hour of retries, so after a longer outage the
// acknowledge and resolve never reached the pager, whose incident stayed
// triggered (and swallowed the next incident with the same dedup key).
const changeDeliverUntilTaken = "deliver-until-taken"

type incidentWorkflow struct {
	state *IncidentState
	spec  activities.ModelSpec
	root  workflow.Context // the workflow's context, for senders started by handlers

	// queued is set for runs started since version 1 of changeNotifyQueues.
	// Before, notifications were sent inline: the loop waited for them, so
	// while Slack was down (up to an hour of retries) evaluations were not
	// processed, incidents neither escalated nor resolved, retrains waited,
	// and an ack went only to the integrations already told — an ack during
	// an outage was lost, and a page still in flight was never
	// acknowledged. Now state changes at once, and each event is queued for
	// each integration it concerns and delivered by that integration's
	// sender, in order; a provider that is down delays only itself.
	queued bool
	// specAtStart and untilTaken: see changeSpecAtStart and
	// changeDeliverUntilTaken.
	specAtStart, untilTaken bool
	specLoaded              bool
	// specRetryAt holds escalations back while the spec cannot be loaded.
	specRetryAt time.Time
	senders     map[string]bool                // integrations whose sender runs
	sending     int                            // deliveries in flight
	interrupt   map[string]workflow.CancelFunc // of the delivery in flight, per integration
	closing     bool                           // continue-as-new is due: deliver nothing more
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
			if w.queued {
				return w.continueAsNew(ctx, evals)
			}
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

// continueAsNew carries the state into a fresh history once the evaluations
// already received are handled, running handlers have finished and no
// delivery is in flight: deliveries are interrupted and waited for (an
// activity left running could deliver a second time), which takes one
// attempt, 20 s at most. Undelivered notifications travel in the state; the
// next run's senders pick them up.
func (w *incidentWorkflow) continueAsNew(ctx workflow.Context, evals workflow.ReceiveChannel) error {
	w.closing = true
	for _, name := range sortedKeys(w.interrupt) {
		w.interrupt[name]()
	}
	idle := func() bool { return w.sending == 0 && workflow.AllHandlersFinished(ctx) }
	for {
		for {
			var ev activities.Evaluation
			if !evals.ReceiveAsync(&ev) {
				break
			}
			w.onEvaluation(ctx, ev)
		}
		if evals.Len() == 0 && idle() {
			return workflow.NewContinueAsNewError(ctx, IncidentWorkflow, IncidentInput{Model: w.state.Model, State: w.state})
		}
		if err := workflow.Await(ctx, func() bool { return evals.Len() > 0 || idle() }); err != nil {
			return err
		}
	}
}

// loadSpec refreshes the rules and routes (they may change between windows).
func (w *incidentWorkflow) loadSpec(ctx workflow.Context) error {
	short := workflow.WithActivityOptions(ctx, activityOptions(30*time.Second, 10))
	if err := workflow.ExecuteActivity(short, a.LoadModel, activities.LoadModelInput{Model: w.state.Model}).Get(ctx, &w.spec); err != nil {
		return err
	}
	w.specLoaded = true
	return nil
}

func (w *incidentWorkflow) rule(name string) (activities.RuleSpec, bool) {
	for _, r := range w.spec.Rules {
		if r.Name == name {
			return r, true
		}
	}
	return activities.RuleSpec{}, false
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

func (w *incidentWorkflow) open(ctx workflow.Context, rule activities.RuleSpec, rs *RuleState, ev activities.Evaluation, rr activities.RuleResult) {
	now := workflow.Now(ctx)
	inc := &activities.Incident{
		// Deterministic and unique per incident: retried notifications of the
		// same incident carry the same ID, so integrations can dedup.
		ID:    fmt.Sprintf("%s/%s/%d", ev.Model, rule.Name, ev.WindowEnd.Unix()),
		Model: ev.Model, Version: ev.Version, Rule: rule.Name, Metric: rule.Metric, Severity: rule.Severity,
		Value: rr.Value, Threshold: rr.Threshold, WindowStart: ev.WindowStart, WindowEnd: ev.WindowEnd,
		TopDrifted: ev.TopDrifted, WeakSegments: ev.WeakSegments, ReportURI: ev.ReportURI, WorkflowID: ev.WorkflowID, RunID: ev.RunID,
		OpenedAt: now, Refs: map[string]string{},
	}
	route := w.spec.Severity[rule.Severity]
	if len(route.Escalate) > 0 {
		inc.EscalateAt = now.Add(rule.EscalateAfter)
	}
	rs.Open = inc
	w.record(ctx, inc, true)
	w.notify(ctx, "trigger", inc, route.Notify)
	if rule.Retrain {
		w.startRetrain(ctx, inc)
	}
}

func (w *incidentWorkflow) startRetrain(ctx workflow.Context, inc *activities.Incident) {
	short := workflow.WithActivityOptions(ctx, activityOptions(30*time.Second, 10))
	var res activities.StartRetrainResult
	reason := fmt.Sprintf("rule %s: %s = %g (%s) in window ending %s", inc.Rule, inc.Metric, inc.Value, inc.Threshold, inc.WindowEnd.Format(time.RFC3339))
	if err := workflow.ExecuteActivity(short, a.StartRetrain, activities.StartRetrainInput{Model: inc.Model, Reason: reason, Since: inc.OpenedAt}).Get(ctx, &res); err != nil {
		workflow.GetLogger(ctx).Error("start retrain", "model", inc.Model, "err", err)
		return
	}
	workflow.GetLogger(ctx).Info("retrain requested", "model", inc.Model, "started", res.Started)
}

func (w *incidentWorkflow) resolve(ctx workflow.Context, rule activities.RuleSpec, rs *RuleState) {
	inc := rs.Open
	inc.ResolvedAt = workflow.Now(ctx)
	w.notify(ctx, "resolve", inc, w.told(inc))
	rs.Open = nil
	w.record(ctx, inc, false)
	rs.Resolved++
	rs.CooldownUntil = inc.ResolvedAt.Add(rule.Cooldown)
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

// notifyBudget bounds the retries of one Notify activity.
const notifyBudget = time.Hour

// notifyOptions: provider APIs answer in seconds, so 20 s per attempt, which
// also means a notification lost with a crashed worker is retried soon;
// backoff from 1 s to 1 min (or the provider's Retry-After); for up to
// notifyBudget. Attempts are bounded by that time, not by count: the count
// is only set because "unlimited" (0) means 10 attempts in the SDK's test
// environment, which would end a simulated outage after four minutes.
func notifyOptions() workflow.ActivityOptions {
	opts := activityOptions(20*time.Second, math.MaxInt32)
	opts.ScheduleToCloseTimeout = notifyBudget
	return opts
}

// notify tells integrations about an event of an incident: queued for each
// (see deliver), or, in runs from before the queues, sent inline.
func (w *incidentWorkflow) notify(ctx workflow.Context, kind string, inc *activities.Incident, integrations []string) {
	if !w.queued {
		w.send(ctx, kind, inc, integrations)
		return
	}
	now := workflow.Now(ctx)
	for _, name := range integrations {
		w.state.Outbox[name] = append(w.state.Outbox[name], &Notification{Kind: kind, Incident: inc, Queued: now})
		w.startSender(name)
	}
}

// told lists the integrations an incident's follow-ups (acknowledge,
// resolve) go to: those it was delivered to and those it is queued for.
func (w *incidentWorkflow) told(inc *activities.Incident) []string {
	out := slices.Clone(inc.Notified)
	for _, name := range sortedKeys(w.state.Outbox) {
		if !slices.Contains(out, name) && slices.ContainsFunc(w.state.Outbox[name], func(n *Notification) bool { return n.Incident.ID == inc.ID }) {
			out = append(out, name)
		}
	}
	return out
}

// startSender starts the sender of an integration's queue unless it runs.
func (w *incidentWorkflow) startSender(name string) {
	if w.senders[name] {
		return
	}
	w.senders[name] = true
	workflow.Go(w.root, func(ctx workflow.Context) {
		for {
			if err := workflow.Await(ctx, func() bool { return len(w.state.Outbox[name]) > 0 && !w.closing }); err != nil {
				return
			}
			if !w.deliver(ctx, name, w.state.Outbox[name][0]) {
				continue // interrupted: it stays queued
			}
			if rest := w.state.Outbox[name][1:]; len(rest) > 0 {
				w.state.Outbox[name] = rest
			} else {
				delete(w.state.Outbox, name)
			}
		}
	})
}

// deliver sends one queued notification and reports whether it was done
// with it: false when continue-as-new or cancellation interrupted it.
//
// Each Notify activity retries for up to notifyBudget. When that runs out
// (the provider is down for longer), the notification is sent again, with a
// new budget, until the provider takes it: an acknowledge or resolve of an
// incident closed meanwhile matters as much as the trigger, or the pager's
// incident stays triggered; only this integration's queue waits for it. It
// is dropped on a permanent error (bad credentials, a 4xx) or once it has
// waited notify.max_delivery since it was queued. Every spent budget is
// logged and counted (vigil_notifications_undelivered_total), every drop
// too (vigil_notifications_dropped_total, alerted on).
//
// Runs from before changeDeliverUntilTaken retried only while the incident
// was open.
func (w *incidentWorkflow) deliver(ctx workflow.Context, name string, n *Notification) bool {
	dctx, interrupt := workflow.WithCancel(ctx)
	w.sending++
	w.interrupt[name] = interrupt
	defer func() {
		w.sending--
		delete(w.interrupt, name)
		interrupt()
	}()
	opts := notifyOptions()
	// Interrupted, the activity is cancelled and waited for: an attempt in
	// flight (20 s at most) either delivers, and is recorded, or does not.
	opts.WaitForCancellation = true
	actx := workflow.WithActivityOptions(dctx, opts)
	inc := n.Incident
	for {
		if w.untilTaken {
			// The last attempt stops at max_delivery (a minute at least).
			opts.ScheduleToCloseTimeout = min(notifyBudget, max(w.maxDelivery()-workflow.Now(ctx).Sub(n.Queued), time.Minute))
			actx = workflow.WithActivityOptions(dctx, opts)
		}
		var res activities.NotifyResult
		err := workflow.ExecuteActivity(actx, a.Notify, activities.NotifyInput{Integration: name, Kind: n.Kind, Incident: *inc}).Get(dctx, &res)
		if err == nil {
			w.delivered(name, inc, res)
			if late := workflow.Now(ctx).Sub(n.Queued); late >= time.Minute {
				workflow.GetLogger(ctx).Info("notification delivered late", "integration", name, "kind", n.Kind, "incident", inc.ID, "late", late)
			}
			return true
		}
		if dctx.Err() != nil {
			return false
		}
		retry := !permanent(err) && w.isOpen(inc)
		if w.untilTaken {
			retry = !permanent(err) && workflow.Now(ctx).Sub(n.Queued) < w.maxDelivery()
		}
		workflow.GetLogger(ctx).Error("notification not delivered", "integration", name, "kind", n.Kind, "incident", inc.ID,
			"queued", n.Queued, "retrying", retry, "err", err)
		short := workflow.WithActivityOptions(ctx, activityOptions(30*time.Second, 3))
		if err := workflow.ExecuteActivity(short, a.NotificationUndelivered, activities.NotificationUndeliveredInput{
			Integration: name, Kind: n.Kind, Model: inc.Model, Rule: inc.Rule, Incident: inc.ID, Retrying: retry,
		}).Get(ctx, nil); err != nil {
			workflow.GetLogger(ctx).Warn("record notification failure metrics", "err", err)
		}
		if !retry {
			return true
		}
	}
}

// maxDelivery is notify.max_delivery, as the last spec loaded says.
func (w *incidentWorkflow) maxDelivery() time.Duration {
	if w.spec.MaxDelivery > 0 {
		return w.spec.MaxDelivery
	}
	return maxDeliveryBeforeSpec
}

// maxDeliveryBeforeSpec is the delivery bound of a spec recorded before
// specs carried notify.max_delivery: its default then (config's
// DefaultMaxDelivery), frozen here because it belongs to those histories.
const maxDeliveryBeforeSpec = 24 * time.Hour

// permanent says whether retrying cannot help (the activity said so).
func permanent(err error) bool {
	var ae *temporal.ApplicationError
	return errors.As(err, &ae) && (ae.NonRetryable() || slices.Contains(permanentErrors, ae.Type()))
}

func (w *incidentWorkflow) isOpen(inc *activities.Incident) bool {
	rs := w.state.Rules[inc.Rule]
	return rs != nil && rs.Open != nil && rs.Open.ID == inc.ID
}

// delivered records an integration's reference and that it was told.
func (w *incidentWorkflow) delivered(name string, inc *activities.Incident, res activities.NotifyResult) {
	if inc.Refs == nil {
		inc.Refs = map[string]string{}
	}
	if res.Ref != "" && inc.Refs[name] == "" {
		inc.Refs[name] = res.Ref
	}
	if !slices.Contains(inc.Notified, name) {
		inc.Notified = append(inc.Notified, name)
	}
}

// relink makes queued notifications share incident objects again after
// continue-as-new (the state went through JSON): one object per incident,
// the open one while it is open.
func (w *incidentWorkflow) relink() {
	byID := map[string]*activities.Incident{}
	for _, name := range sortedKeys(w.state.Rules) {
		if inc := w.state.Rules[name].Open; inc != nil {
			byID[inc.ID] = inc
		}
	}
	for _, name := range sortedKeys(w.state.Outbox) {
		for _, n := range w.state.Outbox[name] {
			if same, ok := byID[n.Incident.ID]; ok {
				n.Incident = same
			} else {
				byID[n.Incident.ID] = n.Incident
			}
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// send is how runs from before the queues notify: each integration once,
// in parallel, waiting for all; a failed integration is logged and does not
// keep the others from hearing about the incident.
func (w *incidentWorkflow) send(ctx workflow.Context, kind string, inc *activities.Incident, integrations []string) {
	actx := workflow.WithActivityOptions(ctx, notifyOptions())
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
		w.delivered(integrations[i], inc, res)
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
	if !next.IsZero() && next.Before(w.specRetryAt) {
		next = w.specRetryAt
	}
	return next, !next.IsZero()
}

func (w *incidentWorkflow) escalateDue(ctx workflow.Context) {
	now := workflow.Now(ctx)
	if w.specAtStart && !w.specLoaded {
		// Escalating without routes would mark the incident escalated and
		// page nobody: try again in a minute.
		if err := w.loadSpec(ctx); err != nil {
			workflow.GetLogger(ctx).Error("load model spec; escalation held back a minute", "model", w.state.Model, "err", err)
			w.specRetryAt = workflow.Now(ctx).Add(time.Minute)
			return
		}
		now = workflow.Now(ctx)
	}
	for _, inc := range w.openIncidents("", true) {
		if inc.Escalated || inc.EscalateAt.IsZero() || inc.EscalateAt.After(now) {
			continue
		}
		inc.Escalated = true // before sending: a slow pager must not be paged twice
		if w.silenced(inc.Rule, now) {
			continue
		}
		w.notify(ctx, "escalate", inc, w.spec.Severity[inc.Severity].Escalate)
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
		// Queued: the ack is answered at once, even while a provider is down.
		w.notify(ctx, "acknowledge", inc, w.told(inc))
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
