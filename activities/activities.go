package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/vigilml/vigil/analysis"
	"github.com/vigilml/vigil/audit"
	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/dashboard"
	"github.com/vigilml/vigil/notify"
	"github.com/vigilml/vigil/store"
)

// Error types for temporal.ApplicationError: the workflows list them as
// non-retryable, because retrying cannot fix them.
const (
	ErrConfig   = "VigilConfig"   // the config does not allow this (unknown model, no retrain section)
	ErrBadData  = "VigilBadData"  // the data cannot be analysed as configured
	ErrAuth     = "VigilAuth"     // credentials refused
	ErrTraining = "VigilTraining" // the training program or job failed
	// ErrIncomplete marks a window some of whose objects could not be read
	// (retryable: the next attempt reads the window again).
	ErrIncomplete = "VigilIncomplete"
)

// StatusIncomplete is the evaluation status of a window reported with
// unreadable objects (workflows.StatusIncomplete).
const StatusIncomplete = "incomplete"

// StatusInvalid is the evaluation status of a window whose data cannot be
// analysed as configured: no column shared with the reference, a continuous
// target under a classification task, no feature with a value
// (workflows.StatusInvalid).
const StatusInvalid = "invalid"

// StatusInsufficientData is the evaluation status of a window with fewer
// rows than the model's min_rows (workflows.StatusInsufficientData).
const StatusInsufficientData = "insufficient-data"

// IncompleteAttempts is the attempt of Analyze from which a window that is
// still incomplete is reported as such, on the rows that could be read,
// instead of failing for another read: attempts before it heal transient
// storage errors that outlast the client's own retries.
const IncompleteAttempts = 3

// Metrics is what the activities report to Prometheus (internal/metrics).
type Metrics interface {
	Evaluation(model, version, status string, rep *analysis.Report, windowEnd time.Time, took time.Duration)
	EvaluationFailed(model, stage string)
	Notification(integration, kind string, err error)
	NotificationUndelivered(integration, kind string)
	NotificationDropped(integration, kind string)
	IncidentOpened(model, rule, severity string)
	IncidentResolved(model, rule, severity string)
	Retrain(model, outcome string)
}

// Activities holds the clients activities use. The worker builds one.
type Activities struct {
	// Config returns the current config; models are looked up by name at
	// every call, so a reloaded config applies from the next activity.
	Config    func() *config.Config
	Store     *store.Store
	Notifiers map[string]notify.Notifier
	// Workflows starts and signals workflows (incident, retrain).
	Workflows Workflows
	Metrics   Metrics
	Logger    *slog.Logger
	// Models is the model lifecycle backend (registry, trainers, serving);
	// nil when no model has a retrain section.
	Models ModelOps
	// Sinks receive every evaluation PublishMetrics publishes, after
	// Metrics (TensorBoard event files: internal/tensorboard).
	Sinks []EvaluationSink
	// Audit receives the audit trail (audit.kafka); nil: no audit events.
	Audit *audit.Outbox
	// Lineage reads what the registry records of a model version, for the
	// audit events about it; nil: they carry none.
	Lineage func(ctx context.Context, model, version string) (*audit.Lineage, error)
}

// EvaluationSink writes an evaluation somewhere durable. rep is nil for a
// window whose numbers are not the window's (incomplete, invalid, too few
// rows). Writing the same evaluation twice must leave one copy: activities
// are retried.
type EvaluationSink interface {
	WriteEvaluation(ctx context.Context, model, version, status string, rep *analysis.Report, windowEnd time.Time) error
}

func (a *Activities) model(name string) (*config.Model, *config.Config, error) {
	cfg := a.Config()
	m := cfg.Model(name)
	if m == nil {
		return nil, nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("model %q is not in the config (%s)", name, cfg.File), ErrConfig, nil)
	}
	return m, cfg, nil
}

func (a *Activities) log(ctx context.Context) *slog.Logger {
	l := a.Logger
	if l == nil {
		l = slog.Default()
	}
	if activity.IsActivity(ctx) {
		info := activity.GetInfo(ctx)
		l = l.With("workflow_id", info.WorkflowExecution.ID, "run_id", info.WorkflowExecution.RunID, "activity", info.ActivityType.Name)
	}
	return l
}

// LoadModel returns the decision-relevant part of a model's config.
func (a *Activities) LoadModel(ctx context.Context, in LoadModelInput) (*ModelSpec, error) {
	m, cfg, err := a.model(in.Model)
	if err != nil {
		return nil, err
	}
	spec := specOf(m, cfg)
	for _, sev := range []string{"info", "warning", "critical"} {
		first, escalate := notify.Route(cfg.Notify, sev)
		spec.Severity[sev] = RouteSpec{Notify: a.available(first), Escalate: a.available(escalate)}
	}
	if a.Models != nil {
		v, err := a.Models.Production(ctx, m.Name)
		if err != nil {
			return nil, fmt.Errorf("production version of %s: %w", m.Name, err)
		}
		spec.Version = v
	}
	return spec, nil
}

// specOf converts a model's config to the workflows' ModelSpec (without the
// routes and the version, which need the worker's integrations and registry).
func specOf(m *config.Model, cfg *config.Config) *ModelSpec {
	spec := &ModelSpec{
		Name: m.Name, Task: m.Task, Every: m.Schedule.Every.D(), Window: m.Schedule.Window.D(), Delay: m.Schedule.Delay.D(),
		Severity: map[string]RouteSpec{}, MaxDelivery: cfg.Notify.MaxDelivery.D(), ShardObjects: cfg.Analysis.ShardObjects,
	}
	for _, r := range m.Rules {
		spec.Rules = append(spec.Rules, RuleSpec{
			Name: r.Name, Metric: r.Metric, Below: r.Below, Above: r.Above, ThresholdMode: r.ThresholdMode,
			For: r.For, RecoverAfter: r.RecoverAfter,
			Severity: r.Severity, EscalateAfter: r.EscalateAfter.D(), Cooldown: r.Cooldown.D(), Retrain: r.Retrain,
		})
	}
	if r := m.Retrain; r != nil {
		spec.Retrain = &RetrainSpec{
			MinImprovement: r.MinImprovement, Approval: r.Approval, ApprovalTimeout: r.ApprovalTimeout.D(),
			Timeout: r.Timeout.D(), TrainWindow: r.TrainWindow.D(), ValidationWindow: r.ValidationWindow.D(),
		}
		if ro := r.Rollout; ro.Staged() {
			spec.Retrain.Rollout = &RolloutSpec{Mode: ro.Mode, Metric: ro.Metric, Margin: ro.Margin, Alpha: ro.Alpha,
				EvaluationInterval: ro.EvaluationInterval.D(), MinRows: ro.MinRows, MaxDuration: ro.MaxDuration.D(),
				Steps: ro.Steps, Hold: ro.Hold.D()}
		}
	}
	return spec
}

// available keeps the integrations this worker has built, so a route never
// names one that would fail every attempt.
func (a *Activities) available(names []string) []string {
	var out []string
	for _, n := range names {
		if _, ok := a.Notifiers[n]; ok {
			out = append(out, n)
		}
	}
	return out
}

// Analyze reads a model's window and its reference, analyses them, stores the
// report and returns the metrics the rules need.
func (a *Activities) Analyze(ctx context.Context, in AnalyzeInput) (*AnalyzeResult, error) {
	m, _, err := a.model(in.Model)
	if err != nil {
		return nil, err
	}
	started := time.Now()
	rep, info, err := a.analyzeWindow(ctx, m, in.WindowStart, in.WindowEnd)
	if reason, ok := invalidData(err); ok {
		// Bad data does not heal by retrying, and failing the workflow would
		// hide it among infrastructure failures: the window gets a status of
		// its own, which alerts as a data problem.
		return a.invalidWindow(ctx, m, in, info, reason, started)
	}
	if err == nil && info.Incomplete && activity.IsActivity(ctx) && activity.GetInfo(ctx).Attempt < IncompleteAttempts {
		err = temporal.NewApplicationError(fmt.Sprintf("window of %s incomplete, reading it again: %s",
			m.Name, strings.Join(info.Errors, "; ")), ErrIncomplete)
	}
	if err != nil {
		if a.Metrics != nil {
			a.Metrics.EvaluationFailed(m.Name, "analyze")
		}
		return nil, err
	}
	return a.finishAnalysis(ctx, m, in, rep, info, started)
}

// finishAnalysis stores the report of an analysed window (without
// verdicts when it has fewer than min_rows rows) and returns what the
// workflow needs of it: Analyze's and MergeShards' common end.
func (a *Activities) finishAnalysis(ctx context.Context, m *config.Model, in AnalyzeInput, rep *analysis.Report, info *store.WindowInfo, started time.Time) (*AnalyzeResult, error) {
	if info.Incomplete {
		a.log(ctx).Warn("window incomplete: reported on the rows that could be read", "model", m.Name,
			"window_start", in.WindowStart, "window_end", in.WindowEnd, "errors", info.Errors)
	}
	insufficient := rep.Rows.Current > 0 && rep.Rows.Current < int64(m.MinRows)
	if insufficient {
		withoutVerdicts(rep, fmt.Sprintf("insufficient data: %d rows, min_rows is %d", rep.Rows.Current, m.MinRows))
	}
	body, err := json.MarshalIndent(struct {
		Model            string    `json:"model"`
		WindowStart      time.Time `json:"window_start"`
		WindowEnd        time.Time `json:"window_end"`
		Incomplete       bool      `json:"incomplete,omitempty"`
		InsufficientData bool      `json:"insufficient_data,omitempty"`
		MinRows          int       `json:"min_rows,omitempty"`
		ReadErrors       []string  `json:"read_errors,omitempty"`
		Objects          int       `json:"objects"`
		*analysis.Report
	}{m.Name, in.WindowStart, in.WindowEnd, info.Incomplete, insufficient, m.MinRows, info.Errors, info.Objects, rep}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode report: %w", err)
	}
	uri, err := a.Store.WriteReport(ctx, m.Name, in.WindowStart, body)
	if err != nil {
		return nil, storeErr(fmt.Errorf("write report of %s: %w", m.Name, err))
	}
	res := &AnalyzeResult{
		ReportURI: uri, Rows: rep.Rows.Current, Labeled: rep.Rows.Labeled, Invalid: rep.Rows.Invalid,
		Incomplete: info.Incomplete, InsufficientData: insufficient, Metrics: map[string]float64{}, TopDrifted: topDrifted(rep, 5),
		Took: time.Since(started),
	}
	for _, path := range in.Metrics {
		if v, ok := rep.Metric(path); ok {
			res.Metrics[path] = v
		}
		if b, ok := rep.Bands[path]; ok {
			if res.Bands == nil {
				res.Bands = map[string]Band{}
			}
			if b.Note != "" {
				res.Bands[path] = Band{Note: b.Note}
			} else {
				res.Bands[path] = Band{Lower: b.Lower, Upper: b.Upper}
			}
		}
	}
	res.WeakSegments = weakSegments(rep, 3)
	a.log(ctx).Info("evaluated", "model", m.Name, "window_start", in.WindowStart, "window_end", in.WindowEnd,
		"rows", res.Rows, "labeled", res.Labeled, "invalid", res.Invalid, "report", uri, "took", time.Since(started).Round(time.Millisecond))
	return res, nil
}

func (a *Activities) analyzeWindow(ctx context.Context, m *config.Model, from, to time.Time) (*analysis.Report, *store.WindowInfo, error) {
	ref, closeRef, err := a.Store.OpenModelReference(ctx, m)
	if err != nil {
		return nil, nil, storeErr(fmt.Errorf("open reference %s: %w", m.Reference.URI, err))
	}
	defer closeRef.Close()
	cur, info, err := a.Store.OpenWindow(ctx, m, from, to)
	if err != nil {
		return nil, nil, storeErr(fmt.Errorf("open window of %s: %w", m.Name, err))
	}
	if c, ok := cur.(interface{ Close() error }); ok {
		defer c.Close()
	}
	opts := m.AnalysisOptions()
	if err := opts.Validate(); err != nil {
		return nil, nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("model %s: %v", m.Name, err), ErrConfig, err)
	}
	stop := heartbeat(ctx, 10*time.Second)
	defer stop()
	// Unreadable objects are in info (Incomplete, Errors); the analysis runs
	// on the rest, and the caller decides what a partial window is worth.
	rep, err := analysis.Analyze(ref, readableRows{cur}, opts)
	if err == nil {
		// A window with rows but no verdict is bad data; one without rows
		// is no data (status no-data).
		err = analysis.CheckVerdict(rep)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		// A failed stream (I/O, S3) heals with a retry; data that cannot be
		// analysed as configured (a missing target column) does not.
		if ioErr := errors.Join(ref.Err(), cur.Err()); ioErr != nil {
			return nil, nil, storeErr(fmt.Errorf("read data of %s: %w", m.Name, ioErr))
		}
		return nil, info, temporal.NewNonRetryableApplicationError(fmt.Sprintf("analyze %s: %v", m.Name, sideError(err, m, from, to)), ErrBadData, err)
	}
	return rep, info, nil
}

// invalidData tells data that cannot be analysed as configured (an
// ErrBadData application error) from every other failure.
func invalidData(err error) (string, bool) {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() == ErrBadData {
		return appErr.Message(), true
	}
	return "", false
}

// invalidWindow stores the report of a window that cannot be analysed (its
// reason, no numbers) and returns it with status invalid.
func (a *Activities) invalidWindow(ctx context.Context, m *config.Model, in AnalyzeInput, info *store.WindowInfo, reason string, started time.Time) (*AnalyzeResult, error) {
	var objects int
	var rows int64
	if info != nil {
		objects, rows = info.Objects, info.Rows
	}
	body, err := json.MarshalIndent(struct {
		Model       string    `json:"model"`
		WindowStart time.Time `json:"window_start"`
		WindowEnd   time.Time `json:"window_end"`
		Status      string    `json:"status"`
		Reason      string    `json:"invalid"`
		Objects     int       `json:"objects"`
	}{m.Name, in.WindowStart, in.WindowEnd, StatusInvalid, reason, objects}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode report: %w", err)
	}
	uri, err := a.Store.WriteReport(ctx, m.Name, in.WindowStart, body)
	if err != nil {
		return nil, storeErr(fmt.Errorf("write report of %s: %w", m.Name, err))
	}
	a.log(ctx).Warn("window invalid: its data cannot be analysed as configured", "model", m.Name,
		"window_start", in.WindowStart, "window_end", in.WindowEnd, "reason", reason, "report", uri)
	return &AnalyzeResult{ReportURI: uri, Rows: rows, InvalidReason: reason, Metrics: map[string]float64{},
		Took: time.Since(started)}, nil
}

// withoutVerdicts takes the drift verdicts out of the report of a window too
// small to judge: statistics stay for people to read, but no feature is
// drifted, no drift metric has a value (the note) and the dataset verdict
// tests nothing.
func withoutVerdicts(rep *analysis.Report, why string) {
	clearDrift := func(d *analysis.Drift) { d.Drifted, d.Note = false, why }
	for i := range rep.Features {
		clearDrift(&rep.Features[i].Drift)
	}
	if rep.PredictionDrift != nil {
		clearDrift(&rep.PredictionDrift.Drift)
	}
	rep.DatasetDrift = analysis.DatasetDrift{Threshold: rep.DatasetDrift.Threshold, Denominator: rep.DatasetDrift.Denominator}
	if rep.MultivariateDrift != nil {
		rep.MultivariateDrift.Drifted, rep.MultivariateDrift.Note = false, why
	}
	rep.Segments = nil
}

// readableRows ends the stream of a window without an error when the only
// failure was objects that could not be read (store.ErrIncomplete).
type readableRows struct{ analysis.Rows }

func (r readableRows) Err() error {
	if err := r.Rows.Err(); !errors.Is(err, store.ErrIncomplete) {
		return err
	}
	return nil
}

// sideError names the data of the side an analysis error is about: the
// reference's URI, or the source and window of the current side.
func sideError(err error, m *config.Model, from, to time.Time) error {
	var ie *analysis.InputError
	if !errors.As(err, &ie) {
		return err
	}
	if ie.Side == analysis.SideReference {
		return fmt.Errorf("reference %s: %w", m.Reference.URI, err)
	}
	return fmt.Errorf("window %s [%s, %s): %w", m.Source.URI, from.Format(time.RFC3339), to.Format(time.RFC3339), err)
}

// heartbeat records liveness while a long step runs, so a dead worker is
// noticed within the heartbeat timeout rather than the start-to-close one.
func heartbeat(ctx context.Context, every time.Duration) (stop func()) {
	return progress(ctx, every, nil)
}

func storeErr(err error) error {
	if store.IsPermanent(err) {
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrAuth, err)
	}
	return err
}

// topDrifted names the most drifted features, largest statistic first.
func topDrifted(rep *analysis.Report, n int) []string {
	type fd struct {
		name string
		stat float64
	}
	var ds []fd
	for _, f := range rep.Features {
		if f.Drift.Drifted {
			ds = append(ds, fd{f.Name, f.Drift.Statistic})
		}
	}
	sort.SliceStable(ds, func(i, j int) bool { return ds[i].stat > ds[j].stat })
	var out []string
	for i := 0; i < len(ds) && i < n; i++ {
		out = append(out, ds[i].name)
	}
	return out
}

// weakSegments describes the report's first n segments for alerts; a
// segment found without labels (metric estimated_accuracy) says so.
func weakSegments(rep *analysis.Report, n int) []string {
	var out []string
	for _, s := range rep.Segments[:min(n, len(rep.Segments))] {
		metric, note := s.Metric, ""
		if metric == "estimated_accuracy" {
			metric, note = "estimated accuracy", ", estimated without labels"
		}
		out = append(out, fmt.Sprintf("%s: %s %.3g (%+.3g), %d rows%s", s.Filter, metric, s.Value, s.Delta, s.Rows, note))
	}
	return out
}

// PublishMetrics re-reads a stored report and exports it to Prometheus.
func (a *Activities) PublishMetrics(ctx context.Context, in PublishMetricsInput) error {
	if err := a.recordEvaluation(ctx, in); err != nil {
		return err
	}
	if a.Metrics == nil && len(a.Sinks) == 0 {
		return nil
	}
	if in.Status == StatusIncomplete || in.Status == StatusInvalid || in.Status == StatusInsufficientData {
		// Partial numbers would move dashboards and Prometheus alerts as if
		// they were the window's: publish the status alone.
		if a.Metrics != nil {
			a.Metrics.Evaluation(in.Model, in.Version, in.Status, nil, in.WindowEnd, in.Took)
		}
		return a.sink(ctx, in, nil)
	}
	// Reports are keyed by window start: the latest at or before it is this one.
	body, _, err := a.Store.ReadReport(ctx, in.Model, in.WindowStart)
	if err != nil {
		return storeErr(fmt.Errorf("read report %s: %w", in.ReportURI, err))
	}
	var rep analysis.Report
	if err := json.Unmarshal(body, &rep); err != nil {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("decode report %s: %v", in.ReportURI, err), ErrBadData, err)
	}
	if a.Metrics != nil {
		a.Metrics.Evaluation(in.Model, in.Version, in.Status, &rep, in.WindowEnd, in.Took)
	}
	return a.sink(ctx, in, &rep)
}

// sink hands the evaluation to every sink; a failing sink fails the
// activity (retried; the monitor workflow treats publishing as best effort).
func (a *Activities) sink(ctx context.Context, in PublishMetricsInput, rep *analysis.Report) error {
	var errs []error
	for _, s := range a.Sinks {
		if err := s.WriteEvaluation(ctx, in.Model, in.Version, in.Status, rep, in.WindowEnd); err != nil {
			errs = append(errs, storeErr(err))
		}
	}
	if len(errs) == 1 {
		return errs[0] // as it is: the SDK reads a non-retryable error only unwrapped
	}
	return errors.Join(errs...)
}

// IncidentChanged exports an incident opening or resolving.
func (a *Activities) IncidentChanged(_ context.Context, in IncidentChangeInput) error {
	if a.Metrics == nil {
		return nil
	}
	if in.Open {
		a.Metrics.IncidentOpened(in.Model, in.Rule, in.Severity)
	} else {
		a.Metrics.IncidentResolved(in.Model, in.Rule, in.Severity)
	}
	return nil
}

// RetrainFinished exports a retrain's outcome.
func (a *Activities) RetrainFinished(_ context.Context, in RetrainFinishedInput) error {
	if a.Metrics != nil {
		a.Metrics.Retrain(in.Model, in.Outcome)
	}
	return nil
}

// Workflows starts and signals Vigil's workflows. control.Client
// implements it; it is an interface here because package workflows imports
// this one.
type Workflows interface {
	SignalIncident(ctx context.Context, ev Evaluation) error
	// StartRetrain returns started=false when a retrain of the model is
	// already running: one breach, one retrain.
	StartRetrain(ctx context.Context, model, reason, actor string) (started bool, runID string, err error)
	// LastRetrain is the latest retrain run of the model and when it
	// started (zero when there is none).
	LastRetrain(ctx context.Context, model string) (runID string, started time.Time, err error)
}

// SignalIncident delivers an evaluation to the model's IncidentWorkflow,
// starting it if needed. Delivering twice is harmless: the workflow ignores
// windows it has seen.
func (a *Activities) SignalIncident(ctx context.Context, in SignalIncidentInput) error {
	return a.Workflows.SignalIncident(ctx, in.Evaluation)
}

// Notify sends one event to one integration. A permanent failure (bad
// credentials, a 4xx) is non-retryable; the rest is retried by Temporal.
func (a *Activities) Notify(ctx context.Context, in NotifyInput) (*NotifyResult, error) {
	n, ok := a.Notifiers[in.Integration]
	if !ok {
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("integration %q is not configured on this worker", in.Integration), ErrConfig, nil)
	}
	cfg := a.Config()
	ev := EventOf(in, cfg)
	attempt := int32(1)
	if activity.IsActivity(ctx) {
		ev.At = activity.GetInfo(ctx).ScheduledTime
		attempt = activity.GetInfo(ctx).Attempt
	}
	// The audit event first, so a retry records it if this attempt dies
	// after notifying. An alert does not wait on the audit trail for long:
	// from the third attempt, a store that refuses the event is logged and
	// the notification goes out (another integration's notification of the
	// same transition records the same event).
	if err := a.recordIncident(ctx, in); err != nil {
		if attempt < 3 {
			return nil, err
		}
		a.log(ctx).Error("audit event not recorded; notifying anyway", "model", in.Incident.Model, "incident", in.Incident.ID, "kind", in.Kind, "err", err)
	}
	ref, err := n.Notify(ctx, ev)
	if a.Metrics != nil {
		a.Metrics.Notification(in.Integration, in.Kind, err)
	}
	if err != nil {
		if !notify.IsRetryable(err) {
			return nil, temporal.NewNonRetryableApplicationError(err.Error(), notify.PermanentErrorType, err)
		}
		var ne *notify.Error
		if errors.As(err, &ne) && ne.RetryAfter > 0 {
			return nil, temporal.NewApplicationErrorWithOptions(err.Error(), "NotifyRetry", temporal.ApplicationErrorOptions{
				Cause: err, NextRetryDelay: ne.RetryAfter,
			})
		}
		return nil, err
	}
	return &NotifyResult{Ref: ref}, nil
}

// NotificationUndelivered exports a notification whose retries ran out.
func (a *Activities) NotificationUndelivered(_ context.Context, in NotificationUndeliveredInput) error {
	if a.Metrics != nil {
		a.Metrics.NotificationUndelivered(in.Integration, in.Kind)
		if !in.Retrying {
			a.Metrics.NotificationDropped(in.Integration, in.Kind)
		}
	}
	return nil
}

// EventOf turns the workflow's incident into the notifier's event.
func EventOf(in NotifyInput, cfg *config.Config) notify.Event {
	inc := in.Incident
	ev := notify.Event{
		Kind: notify.Kind(in.Kind), IncidentID: inc.ID, DedupKey: notify.DedupKey(inc.Model, inc.Rule),
		Model: inc.Model, ModelVersion: inc.Version, Rule: inc.Rule, Severity: inc.Severity, Metric: inc.Metric,
		Value: inc.Value, Threshold: inc.Threshold, WindowStart: inc.WindowStart, WindowEnd: inc.WindowEnd,
		TopDrifted: inc.TopDrifted, WeakSegments: inc.WeakSegments, AckedBy: inc.AckedBy, Ref: inc.Refs[in.Integration],
		WorkflowURL: notify.WorkflowURL(cfg.Temporal.UIURL, cfg.Temporal.Namespace, inc.WorkflowID),
		// People open the report in a browser: the dashboard's page when
		// the worker's public address is known, else the stored document.
		ReportURL: dashboard.ReportURL(cfg.Worker.PublicURL, inc.Model, inc.WindowStart, inc.ReportURI),
	}
	switch in.Kind {
	case "acknowledge":
		ev.Actor = inc.AckedBy
	case "resolve":
		ev.Summary = fmt.Sprintf("%s recovered", inc.Metric)
	}
	if inc.Summary != "" {
		ev.Summary = inc.Summary
	}
	return ev
}

// StartRetrain starts the model's RetrainWorkflow unless one is running.
func (a *Activities) StartRetrain(ctx context.Context, in StartRetrainInput) (*StartRetrainResult, error) {
	m, _, err := a.model(in.Model)
	if err != nil {
		return nil, err
	}
	if m.Retrain == nil {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("model %s has no retrain section", m.Name), ErrConfig, nil)
	}
	if !in.Since.IsZero() {
		// The retrain workflow ID is reused once a run closes, so a retry
		// of this activity after a fast retrain finished would start a
		// second one: look first.
		runID, at, err := a.Workflows.LastRetrain(ctx, m.Name)
		if err != nil {
			return nil, fmt.Errorf("look up the last retrain of %s: %w", m.Name, err)
		}
		if !at.IsZero() && !at.Before(in.Since) {
			return &StartRetrainResult{Started: false, RunID: runID}, nil
		}
	}
	started, runID, err := a.Workflows.StartRetrain(ctx, m.Name, in.Reason, "vigil")
	if err != nil {
		return nil, fmt.Errorf("start retrain of %s: %w", m.Name, err)
	}
	return &StartRetrainResult{Started: started, RunID: runID}, nil
}
