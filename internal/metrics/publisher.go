package metrics

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilml/vigil/analysis"
)

// Options tune a Publisher. The zero value is usable.
type Options struct {
	// Namespace prefixes every Prometheus metric name ("vigil" gives
	// vigil_model_performance). Default "vigil".
	Namespace string
	// MaxFeatures caps the features with per-feature series per model,
	// most drifted first. Default 50 (config.DefaultMaxFeatures).
	MaxFeatures int
	// StatsD, when set, receives every series as well, with tags instead of
	// labels (see NewDogStatsD). Metric names there are the Prometheus names
	// without the namespace, which the client prefixes ("vigil.").
	StatsD StatsD
	// Now is the clock of vigil_last_evaluation_timestamp_seconds; default
	// time.Now.
	Now func() time.Time
}

// Evaluation statuses (workflows.Status*), the values of the status label.
var Statuses = []string{"ok", "warning", "breach", "no-data", "incomplete", "invalid", "insufficient-data"}

// Publisher turns reports and events into metrics. It is safe for
// concurrent use by many activities.
type Publisher struct {
	opts Options
	sd   StatsD

	mu        sync.Mutex
	series    map[string]map[seriesKey]struct{} // model → report series last written
	windowEnd map[string]time.Time

	// Per evaluation, replaced as a whole per model.
	performance, latency, throughput, rows, quality                  *gaugeFamily
	driftShare, driftedFeatures, datasetDrifted                      *gaugeFamily
	predDriftStatistic, predDrifted                                  *gaugeFamily
	featStatistic, featPValue, featDrifted, featScore, featMissing   *gaugeFamily
	featOmitted, status, lastEvaluation, lastWindowEnd               *gaugeFamily
	cadence, incidentsOpen, scheduleSkipped                          *gaugeFamily
	evaluations, failures, opened, resolved, retrains, notifications *counterFamily
	undelivered, dropped                                             *counterFamily
	estimated, multivariate, multivariateDrifted                     *gaugeFamily
	duration                                                         *prometheus.HistogramVec
	statsdErrors                                                     prometheus.Counter
}

// New creates a Publisher and registers its metrics with reg (a
// *prometheus.Registry, or prometheus.DefaultRegisterer). It panics if they
// are registered already, like prometheus.MustRegister.
func New(reg prometheus.Registerer, opts Options) *Publisher {
	if opts.Namespace == "" {
		opts.Namespace = "vigil"
	}
	if opts.MaxFeatures <= 0 {
		opts.MaxFeatures = 50
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	p := &Publisher{opts: opts, sd: opts.StatsD, series: map[string]map[seriesKey]struct{}{}, windowEnd: map[string]time.Time{}}
	g := func(name, help string, keys ...string) *gaugeFamily {
		f := &gaugeFamily{p: p, name: name, keys: keys, vec: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: opts.Namespace, Name: name, Help: help}, keys)}
		reg.MustRegister(f.vec)
		return f
	}
	c := func(name, help string, keys ...string) *counterFamily {
		f := &counterFamily{p: p, name: name, keys: keys, vec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: opts.Namespace, Name: name, Help: help}, keys)}
		reg.MustRegister(f.vec)
		return f
	}
	p.performance = g("model_performance", "Performance metric of the last evaluated window (report performance.<metric>).", "model", "version", "metric")
	p.estimated = g("model_estimated_performance", "Performance estimated without labels for the last window (report estimated_performance.<metric>): bound value, lower or upper.", "model", "version", "metric", "bound")
	p.multivariate = g("multivariate_drift_statistic", "Cross-validated AUROC of the domain classifier telling the last window from the reference (report multivariate_drift.statistic).", "model")
	p.multivariateDrifted = g("multivariate_drifted", "1 when the domain classifier's AUROC is at or above its calibrated threshold.", "model")
	p.latency = g("model_latency_ms", "Latency percentile of the last window in milliseconds (quantile 0.5, 0.95, 0.99).", "model", "quantile")
	p.throughput = g("model_throughput_rows_per_second", "Rows per second of the last window (report throughput.rows_per_second).", "model")
	p.rows = g("window_rows", "Rows of the last evaluation by kind: current, labeled, invalid (malformed, skipped), reference.", "model", "kind")
	p.quality = g("data_quality", "Data-quality counter of the last window (report quality.<check>).", "model", "check")
	p.driftShare = g("dataset_drift_share", "Share of tested features that drifted in the last window.", "model")
	p.driftedFeatures = g("dataset_drifted_features", "Number of features that drifted in the last window.", "model")
	p.datasetDrifted = g("dataset_drifted", "1 when the dataset counts as drifted (share at or above its threshold).", "model")
	p.predDriftStatistic = g("prediction_drift_statistic", "Drift statistic of the prediction column.", "model", "method")
	p.predDrifted = g("prediction_drifted", "1 when the prediction column drifted.", "model")
	p.featStatistic = g("feature_drift_statistic", "Drift statistic of a feature (KS D, chi-square, PSI, distances), by method.", "model", "feature", "method")
	p.featPValue = g("feature_drift_p_value", "p-value of a feature's drift test (ks, chisquare only).", "model", "feature", "method")
	p.featDrifted = g("feature_drifted", "1 when a feature's drift test flags drift.", "model", "feature")
	p.featScore = g("feature_drift_score", "Method-independent drift score: statistic/threshold for distances, ln(p)/ln(threshold) for tests; >= 1 means drifted; capped at 100.", "model", "feature")
	p.featMissing = g("feature_missing_ratio", "Share of missing values of a feature in the last window.", "model", "feature")
	p.featOmitted = g("features_omitted", "Features without per-feature series because of the max_features cap.", "model")
	p.status = g("evaluation_status", "1 for the status of the last evaluation (ok, warning, breach, no-data, incomplete, invalid, insufficient-data), 0 for the others.", "model", "status")
	p.lastEvaluation = g("last_evaluation_timestamp_seconds", "Unix time of the last successful evaluation.", "model")
	p.lastWindowEnd = g("last_window_end_timestamp_seconds", "End of the newest window evaluated (never moves back during backfills).", "model")
	p.cadence = g("model_cadence_seconds", "Configured evaluation cadence (schedule.every) in seconds.", "model")
	p.scheduleSkipped = g("schedule_skipped_windows", "Windows the model's Temporal schedule skipped since it was created, as the server counts them: reason overlap (a run still running; they are not made up) or catchup_window (missed for longer than catchup_window).", "model", "reason")
	p.incidentsOpen = g("incidents_open", "1 while an incident of a model's rule is open.", "model", "rule", "severity")
	p.evaluations = c("evaluations_total", "Evaluations published, by status.", "model", "status")
	p.failures = c("evaluation_failures_total", "Evaluations that failed, by the stage that failed (load, analyze, store, ...).", "model", "stage")
	p.opened = c("incidents_opened_total", "Incidents opened.", "model", "rule", "severity")
	p.resolved = c("incidents_resolved_total", "Incidents resolved.", "model", "rule", "severity")
	p.retrains = c("retrains_total", "Retraining runs by outcome (promoted, rejected, failed, ...).", "model", "outcome")
	p.notifications = c("notifications_total", "Notifications sent, by integration, kind and result (ok, error).", "integration", "kind", "result")
	p.undelivered = c("notifications_undelivered_total", "Notifications not delivered after an hour of retries (sent again until notify.max_delivery) or refused for good, by integration and kind.", "integration", "kind")
	p.dropped = c("notifications_dropped_total", "Notifications given up: refused for good (a 4xx, bad credentials) or still undelivered after notify.max_delivery, by integration and kind.", "integration", "kind")
	p.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: opts.Namespace, Name: "evaluation_duration_seconds",
		Help:    "Time to load and analyze one window.",
		Buckets: []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800},
	}, []string{"model"})
	reg.MustRegister(p.duration)
	if p.sd != nil {
		p.statsdErrors = prometheus.NewCounter(prometheus.CounterOpts{Namespace: opts.Namespace,
			Name: "dogstatsd_errors_total", Help: "Metrics the DogStatsD client refused (buffer full, socket error)."})
		reg.MustRegister(p.statsdErrors)
	}
	return p
}

// Evaluation publishes one successful evaluation of a model: every number of
// the report (nil for a window without data), the status (ok, warning,
// breach, no-data; "" publishes none), the window's end and how long the
// evaluation took (0: not measured). The model's series from the previous
// evaluation that this report no longer has are deleted.
func (p *Publisher) Evaluation(model, version, status string, rep *analysis.Report, windowEnd time.Time, took time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	w := &write{p: p, model: model, keep: map[seriesKey]struct{}{}}
	if rep != nil {
		p.report(w, model, version, rep)
	}
	if status != "" {
		for _, s := range Statuses {
			w.gauge(p.status, b2f(s == status), model, s)
		}
		if !slices.Contains(Statuses, status) {
			w.gauge(p.status, 1, model, status)
		}
		p.evaluations.inc(model, status)
	}
	w.gauge(p.lastEvaluation, float64(p.opts.Now().UnixNano())/1e9, model)
	if end := p.windowEnd[model]; windowEnd.After(end) {
		p.windowEnd[model] = windowEnd
	}
	if end := p.windowEnd[model]; !end.IsZero() {
		w.gauge(p.lastWindowEnd, float64(end.UnixNano())/1e9, model)
	}
	if took > 0 {
		p.duration.WithLabelValues(clean(model)).Observe(took.Seconds())
		p.statsd(func(sd StatsD) error {
			return sd.Distribution("evaluation_duration_seconds", took.Seconds(), tags([]string{"model"}, []string{model}), 1)
		})
	}
	// Delete what the previous evaluation wrote and this one did not.
	for k := range p.series[model] {
		if _, ok := w.keep[k]; !ok {
			k.fam.vec.DeleteLabelValues(strings.Split(k.values, "\xff")...)
		}
	}
	p.series[model] = w.keep
}

func (p *Publisher) report(w *write, model, version string, rep *analysis.Report) {
	for _, k := range sortedKeys(rep.Performance) {
		w.gauge(p.performance, rep.Performance[k], model, version, k)
	}
	for _, k := range sortedKeys(rep.EstimatedPerformance) {
		e := rep.EstimatedPerformance[k]
		w.gauge(p.estimated, e.Value, model, version, k, "value")
		w.gauge(p.estimated, e.Lower, model, version, k, "lower")
		w.gauge(p.estimated, e.Upper, model, version, k, "upper")
	}
	if md := rep.MultivariateDrift; md != nil {
		w.gauge(p.multivariate, md.Statistic, model)
		w.gauge(p.multivariateDrifted, b2f(md.Drifted), model)
	}
	if l := rep.Latency; l != nil {
		w.gauge(p.latency, l.P50, model, "0.5")
		w.gauge(p.latency, l.P95, model, "0.95")
		w.gauge(p.latency, l.P99, model, "0.99")
	}
	if t := rep.Throughput; t != nil {
		w.gauge(p.throughput, t.RowsPerSecond, model)
	}
	w.gauge(p.rows, float64(rep.Rows.Current), model, "current")
	w.gauge(p.rows, float64(rep.Rows.Labeled), model, "labeled")
	w.gauge(p.rows, float64(rep.Rows.Invalid), model, "invalid")
	w.gauge(p.rows, float64(rep.Rows.Reference), model, "reference")
	for _, k := range sortedKeys(rep.Quality) {
		w.gauge(p.quality, rep.Quality[k], model, k)
	}
	dd := rep.DatasetDrift
	w.gauge(p.driftShare, dd.Share, model)
	w.gauge(p.driftedFeatures, float64(dd.DriftedFeatures), model)
	w.gauge(p.datasetDrifted, b2f(dd.Drifted), model)
	if pd := rep.PredictionDrift; pd != nil && pd.Drift.Note == "" {
		w.gauge(p.predDriftStatistic, pd.Drift.Statistic, model, pd.Drift.Method)
		w.gauge(p.predDrifted, b2f(pd.Drift.Drifted), model)
	}
	feats := MostDrifted(rep.Features)
	omitted := max(0, len(feats)-p.opts.MaxFeatures)
	feats = feats[:len(feats)-omitted]
	w.gauge(p.featOmitted, float64(omitted), model)
	for _, f := range feats {
		w.gauge(p.featMissing, f.MissingRatio, model, f.Name)
		d := f.Drift
		if d.Note != "" { // not tested (an empty side): no verdict to show
			continue
		}
		w.gauge(p.featStatistic, d.Statistic, model, f.Name, d.Method)
		if d.PValue != nil {
			w.gauge(p.featPValue, *d.PValue, model, f.Name, d.Method)
		}
		w.gauge(p.featDrifted, b2f(d.Drifted), model, f.Name)
		w.gauge(p.featScore, DriftScore(d), model, f.Name)
	}
}

// MostDrifted returns the features ordered as the cardinality cap keeps
// them: drifted first, then by DriftScore descending, then by name; features
// whose test was skipped come last. The input is not modified.
func MostDrifted(fs []analysis.FeatureReport) []analysis.FeatureReport {
	out := slices.Clone(fs)
	rank := func(f *analysis.FeatureReport) (int, float64) {
		switch {
		case f.Drift.Note != "":
			return 2, 0
		case f.Drift.Drifted:
			return 0, DriftScore(f.Drift)
		default:
			return 1, DriftScore(f.Drift)
		}
	}
	slices.SortStableFunc(out, func(a, b analysis.FeatureReport) int {
		ra, sa := rank(&a)
		rb, sb := rank(&b)
		if c := cmp.Compare(ra, rb); c != 0 {
			return c
		}
		if c := cmp.Compare(sb, sa); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// DriftScore puts every drift method on one scale where 1 is the verdict's
// boundary: statistic/threshold for distances (drifted when statistic >=
// threshold), ln(p)/ln(threshold) for tests with a p-value (drifted when p <
// threshold). It is capped at 100 (p = 0 or a zero threshold) and is 0 for a
// skipped test.
func DriftScore(d analysis.Drift) float64 {
	const limit = 100
	var s float64
	switch {
	case d.Note != "":
		return 0
	case d.PValue != nil:
		p, t := *d.PValue, d.Threshold
		if t <= 0 || t >= 1 {
			t = 0.05
		}
		if p >= 1 {
			return 0
		}
		s = math.Log(p) / math.Log(t) // p = 0 gives +Inf
	case d.Threshold > 0:
		s = d.Statistic / d.Threshold
	default:
		s = limit
	}
	if math.IsNaN(s) {
		return 0
	}
	return min(max(s, 0), limit)
}

// EvaluationFailed counts an evaluation that failed at stage (load,
// analyze, store, publish, rules, ...).
func (p *Publisher) EvaluationFailed(model, stage string) {
	p.failures.inc(model, stage)
}

// Cadence records a model's configured evaluation interval; the worker calls
// it at start for every model. The "stalled monitor" alert compares
// vigil_last_evaluation_timestamp_seconds with twice this value.
func (p *Publisher) Cadence(model string, every time.Duration) {
	p.cadence.set(every.Seconds(), model)
}

// ScheduleSkipped records the windows a model's schedule skipped, as the
// Temporal server counts them (cumulative since the schedule was created).
func (p *Publisher) ScheduleSkipped(model string, overlap, catchup int) {
	p.scheduleSkipped.set(float64(overlap), model, "overlap")
	p.scheduleSkipped.set(float64(catchup), model, "catchup_window")
}

// IncidentOpened marks the incident of a model's rule open. It is
// idempotent for the open gauge (an activity retry sets 1 again) and counts
// the opening.
func (p *Publisher) IncidentOpened(model, rule, severity string) {
	p.incidentsOpen.set(1, model, rule, severity)
	p.opened.inc(model, rule, severity)
}

// IncidentResolved removes the open incident of a model's rule (whatever its
// severity was) and counts the resolution.
func (p *Publisher) IncidentResolved(model, rule, severity string) {
	p.incidentsOpen.vec.DeletePartialMatch(prometheus.Labels{"model": clean(model), "rule": clean(rule)})
	p.statsd(func(sd StatsD) error {
		return sd.Gauge("incidents_open", 0, tags(p.incidentsOpen.keys, []string{model, rule, severity}), 1)
	})
	p.resolved.inc(model, rule, severity)
}

// Notification counts one notification attempt; err nil means delivered.
func (p *Publisher) Notification(integration, kind string, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	p.notifications.inc(integration, kind, result)
}

// NotificationUndelivered counts a notification whose retries ran out.
func (p *Publisher) NotificationUndelivered(integration, kind string) {
	p.undelivered.inc(integration, kind)
}

// NotificationDropped counts a notification given up for good.
func (p *Publisher) NotificationDropped(integration, kind string) {
	p.dropped.inc(integration, kind)
}

// Retrain counts a finished retraining run by outcome (promoted, rejected,
// failed, ...).
func (p *Publisher) Retrain(model, outcome string) {
	p.retrains.inc(model, outcome)
}

// gaugeFamily is one gauge vector, mirrored to StatsD.
type gaugeFamily struct {
	p    *Publisher
	name string // without namespace
	keys []string
	vec  *prometheus.GaugeVec
}

func (f *gaugeFamily) set(v float64, values ...string) {
	for i := range values {
		values[i] = clean(values[i])
	}
	f.vec.WithLabelValues(values...).Set(v)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return // DogStatsD has no NaN
	}
	f.p.statsd(func(sd StatsD) error { return sd.Gauge(f.name, v, tags(f.keys, values), 1) })
}

type counterFamily struct {
	p    *Publisher
	name string
	keys []string
	vec  *prometheus.CounterVec
}

func (f *counterFamily) inc(values ...string) {
	for i := range values {
		values[i] = clean(values[i])
	}
	f.vec.WithLabelValues(values...).Inc()
	f.p.statsd(func(sd StatsD) error { return sd.Count(f.name, 1, tags(f.keys, values), 1) })
}

// seriesKey names one series of a gauge family.
type seriesKey struct {
	fam    *gaugeFamily
	values string // label values joined by \xff
}

// write collects the series one evaluation sets.
type write struct {
	p     *Publisher
	model string
	keep  map[seriesKey]struct{}
}

func (w *write) gauge(f *gaugeFamily, v float64, values ...string) {
	f.set(v, values...) // cleans values in place
	w.keep[seriesKey{f, strings.Join(values, "\xff")}] = struct{}{}
}

func (p *Publisher) statsd(send func(StatsD) error) {
	if p.sd == nil {
		return
	}
	if err := send(p.sd); err != nil {
		p.statsdErrors.Inc()
	}
}

// clean makes a label value valid: Prometheus rejects invalid UTF-8.
func clean(s string) string {
	if !utf8.ValidString(s) {
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	return s
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
