package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/url"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/vigilml/vigil/activities"
	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/notify"
	"github.com/vigilml/vigil/train/lifecycle"
	"github.com/vigilml/vigil/train/registry"
	"github.com/vigilml/vigil/workflows"
)

// auditEntry is one event of a model's trail: when, what kind, who, what
// happened, and where the evidence is. Its JSON field names are part of
// Vigil's interface (`starter audit -json`); add fields, never rename them.
type auditEntry struct {
	Time  time.Time `json:"time"`
	Kind  string    `json:"kind"`
	Actor string    `json:"actor"`
	What  string    `json:"what"`
	// Link is the Temporal Web UI page of the workflow run concerned.
	Link string `json:"link,omitempty"`
	// Report is the evaluation report's URI.
	Report string `json:"report,omitempty"`
	// Source is where the entry was read: registry or temporal.
	Source string `json:"source"`
	// Version is the model version concerned ("v3"), when there is one.
	Version    string `json:"version,omitempty"`
	WorkflowID string `json:"workflow_id,omitempty"`
	RunID      string `json:"run_id,omitempty"`
	// Lineage is the whole registry record of a registered version
	// (version.registered): data URIs and hashes, hyperparameters, code
	// version, metrics, trainer, backend job, reason, status.
	Lineage *registry.Version `json:"lineage,omitempty"`
	// Step is one evaluation of a rollout (rollout.step).
	Step *registry.RolloutStep `json:"rollout_step,omitempty"`
	// details are the text output's continuation lines.
	details []string
}

var auditCmd = temporalCmd{
	usage: "audit -model M [-since 7d|2026-11-01] [-json] [-limit N]",
	model: "the model (it need not be in the config any more: its registry and history are read)",
	check: modelRequired,
	// The registry's part is printed even when Temporal is down; the
	// command then fails, saying what the trail lacks.
	offline: true,
	flags: func(fs *flag.FlagSet) action {
		since := fs.String("since", "", "only events at or after this: a duration back from now (7d, 36h) or a date/time (2026-11-01, RFC 3339); default: everything kept")
		asJSON := fs.Bool("json", false, "one JSON object per line (fields: time, kind, actor, what, link, report, source, version, workflow_id, run_id, lineage, rollout_step)")
		limit := fs.Int("limit", 0, "print only the newest N events (still oldest first); 0: all")
		var from time.Time
		return action{
			before: func() (err error) {
				if *limit < 0 {
					return errors.New("-limit: want 0 (all) or a positive number")
				}
				from, err = parseSince(*since, time.Now())
				return err
			},
			run: func(ctx context.Context, s *session) error {
				return runAudit(ctx, s, from, *limit, *asJSON)
			},
		}
	},
}

func runAudit(ctx context.Context, s *session, since time.Time, limit int, asJSON bool) error {
	reg, err := registryOf(ctx, s.cfg)
	if err != nil {
		return err
	}
	var trail []auditEntry
	known := false
	m, err := reg.Model(ctx, s.model)
	switch {
	case err == nil:
		known = true
		trail = registryTrail(m)
	case !errors.Is(err, registry.ErrNotFound):
		return err
	}
	var temporalErr error
	if s.wc == nil {
		temporalErr = s.dialErr
	} else {
		t := temporalTrail{c: s.wc.C, dc: s.dc, namespace: s.cfg.Temporal.Namespace, ui: s.cfg.Temporal.UIURL, model: s.model, since: since}
		entries, err := t.entries(ctx)
		switch {
		case err != nil:
			// A part of Temporal's part would read as the whole of it.
			temporalErr = err
		case len(t.problems) > 0:
			temporalErr = undecodable(t.problems, s.cfg.Temporal.Encryption != nil)
			fallthrough
		default:
			known = known || len(entries) > 0
			trail = append(trail, entries...)
		}
	}
	if !known && temporalErr == nil {
		return fmt.Errorf("model %q: nothing recorded, neither in the registry (%s) nor in Temporal (namespace %s)%s",
			s.model, s.cfg.Storage.Registry, s.cfg.Temporal.Namespace, configuredModels(s))
	}
	trail = selectTrail(trail, since, limit)
	if err := printTrail(s.stdout, trail, asJSON); err != nil {
		return err
	}
	var undec *undecodableError
	if errors.As(temporalErr, &undec) {
		for i, p := range undec.problems {
			if i == 5 {
				fmt.Fprintf(s.stderr, "warning: and %d more\n", len(undec.problems)-i)
				break
			}
			fmt.Fprintf(s.stderr, "warning: unreadable payload of %s\n", p)
		}
		return temporalErr
	}
	if temporalErr != nil {
		if m != nil {
			fmt.Fprintf(s.stderr, "warning: the trail above is the registry's part only: it lacks the evaluations, incidents, retrains and rollback runs Temporal holds\n")
		} else {
			fmt.Fprintf(s.stderr, "warning: the registry (%s) has no record of model %q, and Temporal could not be read\n", s.cfg.Storage.Registry, s.model)
		}
		return fmt.Errorf("read the Temporal part of the trail: %w", temporalErr)
	}
	return nil
}

// undecodableError says that the trail printed lacks what some payloads
// hold (reports, actors, outcomes), and why that is likely.
type undecodableError struct {
	problems  []string
	encrypted bool
}

func undecodable(problems []string, encrypted bool) error {
	return &undecodableError{problems: problems, encrypted: encrypted}
}

func (e *undecodableError) Error() string {
	hint := "if the worker encrypts payloads, give starter its temporal.encryption config and key"
	if e.encrypted {
		hint = "is the key in temporal.encryption's variables the worker's (or a previous one)?"
	}
	return fmt.Sprintf("%d payload(s) could not be read, so the trail above lacks what they hold (%s)", len(e.problems), hint)
}

func configuredModels(s *session) string {
	var names []string
	for _, m := range s.cfg.Models {
		names = append(names, m.Name)
	}
	if len(names) == 0 {
		return ""
	}
	return " (models in " + s.cfg.File + ": " + strings.Join(names, ", ") + ")"
}

// parseSince reads -since: "" (everything), a duration back from now as
// the config writes it (7d, 36h), a date (midnight UTC) or an RFC 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	d, err := config.ParseDuration(s)
	if err != nil || d <= 0 {
		return time.Time{}, sinceError(s)
	}
	return now.Add(-d), nil
}

func sinceError(s string) error {
	return fmt.Errorf("-since %q: want a duration back from now (7d, 36h), a date (2026-11-01) or an RFC 3339 time", s)
}

// selectTrail sorts the trail oldest first (entries at the same instant
// keep their order: registry before Temporal, each in its own order),
// drops what is before since and keeps the newest limit entries (0: all).
func selectTrail(trail []auditEntry, since time.Time, limit int) []auditEntry {
	trail = slices.DeleteFunc(trail, func(e auditEntry) bool { return e.Time.Before(since) })
	slices.SortStableFunc(trail, func(a, b auditEntry) int { return a.Time.Compare(b.Time) })
	if limit > 0 && len(trail) > limit {
		trail = trail[len(trail)-limit:]
	}
	return trail
}

func printTrail(w io.Writer, trail []auditEntry, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		for _, e := range trail {
			if err := enc.Encode(e); err != nil {
				return err
			}
		}
		return nil
	}
	for _, e := range trail {
		line := fmt.Sprintf("%s  %-21s  %-12s  %s", e.Time.UTC().Format(time.RFC3339), e.Kind, cmp.Or(e.Actor, "-"), e.What)
		if e.Report != "" {
			line += "  report " + e.Report
		}
		if e.Link != "" {
			line += "  " + e.Link
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
		for _, d := range e.details {
			fmt.Fprintf(w, "    %s\n", d)
		}
	}
	return nil
}

// registryTrail is what the registry document of a model records: each
// version with its lineage, approvals, alias moves and rollbacks with actor
// and reason, and the latest rollout. The registry does not date status
// changes other than alias moves; a version's entry says its current
// status and why.
func registryTrail(m *registry.Model) []auditEntry {
	var out []auditEntry
	for i := range m.Versions {
		v := m.Versions[i]
		what := fmt.Sprintf("%s registered: trainer %s, run %s", vName(v.Version), cmp.Or(v.Trainer, "-"), v.RunID)
		if v.BackendJobID != "" {
			what += ", job " + v.BackendJobID
		}
		if v.Reason != "" {
			what += "; reason: " + v.Reason
		}
		e := auditEntry{Time: v.Created, Kind: "version.registered", What: what, Source: "registry",
			Version: vName(v.Version), Lineage: &v}
		for _, d := range v.Data {
			e.details = append(e.details, fmt.Sprintf("data %s %s sha256 %s", d.Role, d.URI, cmp.Or(d.SHA256, "(none recorded)")))
		}
		if len(v.Hyperparameters) > 0 {
			var kv []string
			for _, k := range slices.Sorted(maps.Keys(v.Hyperparameters)) {
				kv = append(kv, k+"="+v.Hyperparameters[k])
			}
			e.details = append(e.details, "hyperparameters "+strings.Join(kv, " "))
		}
		e.details = append(e.details, "code "+cmp.Or(v.CodeVersion, "(not recorded)"))
		if len(v.Metrics) > 0 {
			e.details = append(e.details, "metrics "+formatVersionMetrics(v.Metrics))
		}
		e.details = append(e.details, "artifact "+v.ArtifactURI)
		if v.LogsURI != "" {
			e.details = append(e.details, "logs "+v.LogsURI)
		}
		status := "status now " + string(v.Status)
		if v.StatusReason != "" {
			status += ": " + v.StatusReason
		}
		e.details = append(e.details, status)
		out = append(out, e)
		if v.ApprovedAt != nil {
			out = append(out, auditEntry{Time: *v.ApprovedAt, Kind: "version.approved", Actor: v.ApprovedBy,
				What: vName(v.Version) + " approved for production", Source: "registry", Version: vName(v.Version)})
		}
	}
	for _, h := range m.History {
		kind, what := "alias.moved", fmt.Sprintf("%s: %s → %s", h.Alias, vName(h.From), vName(h.To))
		if h.Rollback {
			kind = "model.rolled_back"
			what = fmt.Sprintf("%s rolled back: %s → %s", h.Alias, vName(h.From), vName(h.To))
		}
		if h.Reason != "" {
			what += ": " + h.Reason
		}
		e := auditEntry{Time: h.Time, Kind: kind, Actor: h.Actor, What: what, Source: "registry"}
		if h.To != 0 {
			e.Version = vName(h.To)
		}
		out = append(out, e)
	}
	if ro := m.Rollout; ro != nil {
		ch := vName(ro.Challenger)
		what := fmt.Sprintf("%s of %s beside champion %s", ro.Mode, ch, vName(ro.Champion))
		if ro.Mode == "canary" {
			what += fmt.Sprintf(" (now %d%% of traffic)", ro.Percent)
		}
		out = append(out, auditEntry{Time: ro.StartedAt, Kind: "rollout.started", What: what + " (rollout " + ro.ID + ")",
			Source: "registry", Version: ch})
		for i := range ro.Steps {
			st := ro.Steps[i]
			out = append(out, auditEntry{Time: st.At, Kind: "rollout.step", Source: "registry", Version: ch, Step: &st,
				What: fmt.Sprintf("%s at %d%%: %d rows, %s champion %.4g challenger %.4g, difference %+.4g [%.4g, %.4g], p %.3g: %s",
					ch, st.Percent, st.Rows, st.Metric, st.Champion, st.Challenger, st.Difference, st.Lower, st.Upper, st.PValue, st.Verdict)})
		}
		if ro.Decision != "" {
			out = append(out, auditEntry{Time: ro.UpdatedAt, Kind: "rollout." + ro.Decision, Actor: ro.Actor, Source: "registry", Version: ch,
				What: fmt.Sprintf("%s of %s %s: %s", ro.Mode, ch, ro.Decision, ro.Reason)})
		}
	}
	return out
}

// temporalTrail reads a model's workflow runs from Temporal's visibility
// (every run Vigil starts carries the VigilModel search attribute) and, for
// retrains, rollbacks and incidents, their histories.
type temporalTrail struct {
	c             client.Client
	dc            converter.DataConverter // nil: the default
	namespace, ui string
	model         string
	since         time.Time
	// current is the run being read (workflow ID and run ID), for problems.
	current string
	// problems are the payloads that could not be decoded.
	problems []string
}

func (t *temporalTrail) query() string {
	q := fmt.Sprintf("%s = %q", workflows.AttrModel.GetName(), t.model)
	if !t.since.IsZero() {
		at := t.since.UTC().Format(time.RFC3339)
		q += fmt.Sprintf(` AND (StartTime >= %q OR CloseTime >= %q OR ExecutionStatus = "Running")`, at, at)
	}
	return q
}

func (t *temporalTrail) entries(ctx context.Context) ([]auditEntry, error) {
	var out []auditEntry
	req := &workflowservice.ListWorkflowExecutionsRequest{PageSize: 1000, Query: t.query()}
	for {
		resp, err := t.c.ListWorkflow(ctx, req)
		if err != nil {
			return out, fmt.Errorf("list workflows (%s): %w", req.Query, err)
		}
		for _, e := range resp.Executions {
			es, err := t.run(ctx, e)
			if err != nil {
				return out, err
			}
			out = append(out, es...)
		}
		if len(resp.NextPageToken) == 0 {
			return out, nil
		}
		req.NextPageToken = resp.NextPageToken
	}
}

// run turns one workflow run into entries.
func (t *temporalTrail) run(ctx context.Context, e *workflowpb.WorkflowExecutionInfo) ([]auditEntry, error) {
	id, runID := e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId()
	t.current = id + " (run " + runID + ")"
	base := auditEntry{Source: "temporal", WorkflowID: id, RunID: runID, Link: t.link(id, runID)}
	status := executionStatus(e.GetStatus())
	when := e.GetStartTime().AsTime()
	if e.GetCloseTime() != nil && e.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		when = e.GetCloseTime().AsTime()
	}
	switch e.GetType().GetName() {
	case "MonitorWorkflow":
		return []auditEntry{t.evaluation(base, e, status, when)}, nil
	case "RetrainWorkflow":
		return t.retrain(ctx, base, e, status, when)
	case "RollbackWorkflow":
		return t.rollback(ctx, base, e, status, when)
	case "IncidentWorkflow":
		return t.incidents(ctx, base)
	}
	base.Time, base.Kind = when, "workflow."+status
	base.What = fmt.Sprintf("%s %s", e.GetType().GetName(), status)
	return []auditEntry{base}, nil
}

func (t *temporalTrail) link(id, runID string) string {
	u := notify.WorkflowURL(t.ui, t.namespace, id)
	if u != "" && runID != "" {
		u += "/" + url.PathEscape(runID) + "/history"
	}
	return u
}

// executionStatus is a run's status as the CLI prints it: running,
// completed, failed, ...
func executionStatus(s enumspb.WorkflowExecutionStatus) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "WORKFLOW_EXECUTION_STATUS_"))
}

// decode reads a payload (memo, input, result) with the client's data
// converter; what it cannot read (another key, no key) is kept in
// problems, so that the command fails instead of printing less.
func (t *temporalTrail) decode(p *commonpb.Payload, out any) error {
	dc := t.dc
	if dc == nil {
		dc = converter.GetDefaultDataConverter()
	}
	err := dc.FromPayload(p, out)
	if err != nil {
		t.problems = append(t.problems, fmt.Sprintf("%s: %v", t.current, err))
	}
	return err
}

// errNoPayload: there was nothing to decode (not a problem).
var errNoPayload = errors.New("no payload")

func (t *temporalTrail) decodeAll(ps *commonpb.Payloads, out any) error {
	if len(ps.GetPayloads()) == 0 {
		return errNoPayload
	}
	return t.decode(ps.GetPayloads()[0], out)
}

// evaluation is a MonitorWorkflow run: its VigilStatus, version and the
// report URI of its memo.
func (t *temporalTrail) evaluation(e auditEntry, info *workflowpb.WorkflowExecutionInfo, status string, when time.Time) auditEntry {
	e.Time, e.Kind = when, "evaluation."+status
	e.Actor = "schedule"
	if info.GetExecution().GetWorkflowId() == workflows.MonitorWorkflowID(t.model) {
		e.Actor = "manual"
	}
	fields := info.GetSearchAttributes().GetIndexedFields()
	var vs string
	if p := fields[workflows.AttrStatus.GetName()]; p != nil {
		_ = decodePayload(p, &vs)
	}
	if p := fields[workflows.AttrModelVersion.GetName()]; p != nil {
		_ = decodePayload(p, &e.Version)
	}
	memo := info.GetMemo().GetFields()
	if p := memo["report"]; p != nil {
		_ = t.decode(p, &e.Report)
	}
	switch {
	case status == "completed" && vs != "":
		e.What = "status " + vs
	case status == "completed":
		e.What = "completed without a status"
	default:
		e.What = "evaluation " + status + " (no verdict)"
	}
	if p := memo["rows"]; p != nil {
		var rows int64
		if t.decode(p, &rows) == nil {
			e.What += fmt.Sprintf(", %d rows", rows)
		}
	}
	if p := memo["invalid"]; p != nil {
		var why string
		if t.decode(p, &why) == nil {
			e.What += ": " + why
		}
	}
	if e.Version != "" {
		e.What += ", model " + e.Version
	}
	return e
}

// history is a run's events (payloads still encoded).
func (t *temporalTrail) history(ctx context.Context, id, runID string) ([]*historypb.HistoryEvent, error) {
	it := t.c.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var evs []*historypb.HistoryEvent
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("history of %s (run %s): %w", id, runID, err)
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

// closing finds a closed run's result payloads or failure message.
func closing(evs []*historypb.HistoryEvent) (result *commonpb.Payloads, failure string) {
	if len(evs) == 0 {
		return nil, ""
	}
	last := evs[len(evs)-1]
	if a := last.GetWorkflowExecutionCompletedEventAttributes(); a != nil {
		return a.GetResult(), ""
	}
	if a := last.GetWorkflowExecutionFailedEventAttributes(); a != nil {
		return nil, a.GetFailure().GetMessage()
	}
	if a := last.GetWorkflowExecutionTerminatedEventAttributes(); a != nil {
		return nil, strings.TrimSpace(a.GetReason() + " (by " + a.GetIdentity() + ")")
	}
	return nil, ""
}

// retrain is a RetrainWorkflow run: who started it and why, and its outcome.
func (t *temporalTrail) retrain(ctx context.Context, base auditEntry, info *workflowpb.WorkflowExecutionInfo, status string, when time.Time) ([]auditEntry, error) {
	evs, err := t.history(ctx, base.WorkflowID, base.RunID)
	if err != nil {
		return nil, err
	}
	var in workflows.RetrainInput
	if len(evs) > 0 {
		_ = t.decodeAll(evs[0].GetWorkflowExecutionStartedEventAttributes().GetInput(), &in)
	}
	started := base
	started.Time, started.Kind, started.Actor = info.GetStartTime().AsTime(), "retrain.started", in.Actor
	started.What = "retrain started: " + cmp.Or(in.Reason, "(no reason given)")
	out := []auditEntry{started}
	if status == "running" {
		return out, nil
	}
	end := base
	end.Time = when
	result, failure := closing(evs)
	var res workflows.RetrainResult
	if status == "completed" && t.decodeAll(result, &res) == nil && res.Outcome != "" {
		end.Kind, end.Version = "retrain."+res.Outcome, res.Challenger
		end.What = fmt.Sprintf("%s: challenger %s vs champion %s", res.Outcome, cmp.Or(res.Challenger, "-"), cmp.Or(res.Champion, "none"))
		if v := res.Validation; v.Metric != "" {
			end.What += fmt.Sprintf(" (%s %.4g vs %.4g)", v.Metric, v.Challenger, v.Champion)
		}
		if res.Reason != "" {
			end.What += ": " + res.Reason
		}
		if v := res.Validation; v.ReportURI != "" {
			end.Report = v.ReportURI
		}
		end.Actor = retrainDecider(evs, t, res.Outcome)
	} else {
		end.Kind = "retrain." + status
		end.What = "retrain " + status
		if failure != "" {
			end.What += ": " + failure
		}
	}
	return append(out, end), nil
}

// retrainDecider is who decided a retrain's outcome: the person whose
// approve or reject update the run accepted, else Vigil's gate.
func retrainDecider(evs []*historypb.HistoryEvent, t *temporalTrail, outcome string) string {
	for _, ev := range evs {
		a := ev.GetWorkflowExecutionUpdateAcceptedEventAttributes()
		if a == nil {
			continue
		}
		name := a.GetAcceptedRequest().GetInput().GetName()
		if name != workflows.UpdateApprove && name != workflows.UpdateReject {
			continue
		}
		var in workflows.ApprovalInput
		if t.decodeAll(a.GetAcceptedRequest().GetInput().GetArgs(), &in) == nil && in.Actor != "" {
			return in.Actor
		}
	}
	switch outcome {
	case workflows.OutcomeApprovalTimeout:
		return "timeout"
	case workflows.OutcomeGateFailed, workflows.OutcomePromoted:
		return "gate"
	}
	return ""
}

// rollback is a RollbackWorkflow run (the registry holds the alias move
// itself, as model.rolled_back).
func (t *temporalTrail) rollback(ctx context.Context, base auditEntry, info *workflowpb.WorkflowExecutionInfo, status string, when time.Time) ([]auditEntry, error) {
	evs, err := t.history(ctx, base.WorkflowID, base.RunID)
	if err != nil {
		return nil, err
	}
	var in activities.RollbackInput
	if len(evs) > 0 {
		_ = t.decodeAll(evs[0].GetWorkflowExecutionStartedEventAttributes().GetInput(), &in)
	}
	e := base
	e.Time, e.Kind, e.Actor = when, "rollback."+status, in.Actor
	to := cmp.Or(in.To, "the previous production version")
	result, failure := closing(evs)
	var res activities.RollbackResult
	switch {
	case status == "completed" && t.decodeAll(result, &res) == nil:
		e.What, e.Version = fmt.Sprintf("rollback from %s to %s", res.From, res.To), res.To
	case failure != "":
		e.What = fmt.Sprintf("rollback to %s %s: %s", to, status, failure)
	default:
		e.What = fmt.Sprintf("rollback to %s %s", to, status)
	}
	if in.Reason != "" {
		e.What += ": " + in.Reason
	}
	return []auditEntry{e}, nil
}

// vName is a registry version as the trail shows it: v3, or none.
func vName(n int) string {
	if n == 0 {
		return "none"
	}
	return lifecycle.FormatVersion(n)
}

// activityName is the name an Activities method is registered under.
func activityName(method any) string {
	name := runtime.FuncForPC(reflect.ValueOf(method).Pointer()).Name()
	name = strings.TrimSuffix(name, "-fm")
	return name[strings.LastIndex(name, ".")+1:]
}

var (
	incidentChanged = activityName((*activities.Activities).IncidentChanged)
	notifyActivity  = activityName((*activities.Activities).Notify)
)

// incidents reads one IncidentWorkflow run's history: incidents opened and
// resolved (the IncidentChanged activity every change schedules), pages
// sent on escalation, and the acknowledge and silence updates it accepted
// with their actors.
func (t *temporalTrail) incidents(ctx context.Context, base auditEntry) ([]auditEntry, error) {
	evs, err := t.history(ctx, base.WorkflowID, base.RunID)
	if err != nil {
		return nil, err
	}
	var out []auditEntry
	escalated := map[string]bool{}
	accepted := map[string]*historypb.WorkflowExecutionUpdateAcceptedEventAttributes{}
	for _, ev := range evs {
		e := base
		e.Time = ev.GetEventTime().AsTime()
		switch {
		case ev.GetActivityTaskScheduledEventAttributes() != nil:
			a := ev.GetActivityTaskScheduledEventAttributes()
			switch a.GetActivityType().GetName() {
			case incidentChanged:
				var in activities.IncidentChangeInput
				if t.decodeAll(a.GetInput(), &in) != nil {
					continue
				}
				e.Kind, e.Actor = "incident.resolved", "vigil"
				e.What = fmt.Sprintf("rule %s (%s) recovered", in.Rule, in.Severity)
				if in.Open {
					e.Kind, e.What = "incident.opened", fmt.Sprintf("rule %s (%s) breached", in.Rule, in.Severity)
				}
				out = append(out, e)
			case notifyActivity:
				var in activities.NotifyInput
				if t.decodeAll(a.GetInput(), &in) != nil || in.Kind != "escalate" || escalated[in.Incident.ID] {
					continue
				}
				escalated[in.Incident.ID] = true
				e.Kind, e.Actor, e.Version, e.Report = "incident.escalated", "vigil", in.Incident.Version, in.Incident.ReportURI
				e.What = fmt.Sprintf("%s unacknowledged since %s: paged %s", in.Incident.ID, in.Incident.OpenedAt.UTC().Format(time.RFC3339), in.Integration)
				out = append(out, e)
			}
		case ev.GetWorkflowExecutionUpdateAcceptedEventAttributes() != nil:
			a := ev.GetWorkflowExecutionUpdateAcceptedEventAttributes()
			accepted[a.GetAcceptedRequest().GetMeta().GetUpdateId()] = a
		case ev.GetWorkflowExecutionUpdateCompletedEventAttributes() != nil:
			c := ev.GetWorkflowExecutionUpdateCompletedEventAttributes()
			a := accepted[c.GetMeta().GetUpdateId()]
			if a == nil || c.GetOutcome().GetFailure() != nil {
				continue // refused: nothing changed
			}
			input := a.GetAcceptedRequest().GetInput()
			switch input.GetName() {
			case workflows.UpdateAck:
				var in workflows.AckInput
				var res workflows.AckResult
				if t.decodeAll(input.GetArgs(), &in) != nil {
					continue
				}
				_ = t.decodeAll(c.GetOutcome().GetSuccess(), &res)
				e.Kind, e.Actor = "incident.acknowledged", in.Actor
				e.What = "acknowledged " + strings.Join(res.Incidents, ", ")
				out = append(out, e)
			case workflows.UpdateSilence:
				var in workflows.SilenceInput
				var until time.Time
				if t.decodeAll(input.GetArgs(), &in) != nil {
					continue
				}
				_ = t.decodeAll(c.GetOutcome().GetSuccess(), &until)
				e.Kind, e.Actor = "incident.silenced", in.Actor
				e.What = fmt.Sprintf("rule %s silenced for %s until %s", cmp.Or(in.Rule, "* (every rule)"), in.For, until.UTC().Format(time.RFC3339))
				out = append(out, e)
			}
		}
	}
	return out, nil
}
