package metrics_test

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilml/vigil/analysis"
	"github.com/vigilml/vigil/internal/metrics"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newPublisher(opts metrics.Options) (*metrics.Publisher, *prometheus.Registry) {
	reg := prometheus.NewRegistry()
	if opts.Now == nil {
		opts.Now = func() time.Time { return now }
	}
	return metrics.New(reg, opts), reg
}

func TestEvaluationExportsEveryNumberOfTheReport(t *testing.T) {
	rep := churnReport(t)
	if len(rep.Performance) == 0 || rep.Latency == nil || rep.DatasetDrift.DriftedFeatures == 0 {
		t.Fatalf("test data should give performance, latency and drift: %+v", rep)
	}
	p, reg := newPublisher(metrics.Options{})
	windowEnd := now.Add(-5 * time.Minute)
	p.Evaluation("churn", "v3", "breach", rep, windowEnd, 1500*time.Millisecond)
	mfs := scrape(t, reg)

	want := func(name, lbls, path string) {
		t.Helper()
		v, ok := rep.Metric(path)
		if !ok {
			t.Fatalf("report has no %s", path)
		}
		got, ok := series(mfs, name)[lbls]
		if !ok {
			t.Errorf("%s{%s} missing; have %v", name, lbls, series(mfs, name))
		} else if got != v && !(math.IsNaN(got) && math.IsNaN(v)) {
			t.Errorf("%s{%s} = %v, report %s = %v", name, lbls, got, path, v)
		}
	}
	for metric := range rep.Performance {
		want("vigil_model_performance", labels("model", "churn", "version", "v3", "metric", metric), "performance."+metric)
	}
	if n := len(series(mfs, "vigil_model_performance")); n != len(rep.Performance) {
		t.Errorf("%d performance series for %d metrics", n, len(rep.Performance))
	}
	if len(rep.EstimatedPerformance) == 0 || rep.MultivariateDrift == nil {
		t.Fatalf("test data should give estimated performance and multivariate drift: %+v", rep)
	}
	for metric, e := range rep.EstimatedPerformance {
		want("vigil_model_estimated_performance", labels("model", "churn", "version", "v3", "metric", metric, "bound", "value"), "estimated_performance."+metric)
		for bound, v := range map[string]float64{"lower": e.Lower, "upper": e.Upper} {
			if got := series(mfs, "vigil_model_estimated_performance")[labels("model", "churn", "version", "v3", "metric", metric, "bound", bound)]; got != v {
				t.Errorf("estimated %s %s = %v, report %v", metric, bound, got, v)
			}
		}
	}
	want("vigil_multivariate_drift_statistic", labels("model", "churn"), "multivariate_drift.statistic")
	want("vigil_model_latency_ms", labels("model", "churn", "quantile", "0.5"), "latency.p50_ms")
	want("vigil_model_latency_ms", labels("model", "churn", "quantile", "0.95"), "latency.p95_ms")
	want("vigil_model_latency_ms", labels("model", "churn", "quantile", "0.99"), "latency.p99_ms")
	for _, kind := range []string{"current", "labeled", "invalid", "reference"} {
		want("vigil_window_rows", labels("model", "churn", "kind", kind), "rows."+kind)
	}
	want("vigil_dataset_drift_share", labels("model", "churn"), "dataset_drift.share")
	want("vigil_dataset_drifted_features", labels("model", "churn"), "dataset_drift.drifted_features")
	for _, k := range analysis.QualityKeys {
		if _, ok := rep.Quality[k]; ok {
			want("vigil_data_quality", labels("model", "churn", "check", k), "quality."+k)
		}
	}
	for _, f := range rep.Features {
		fl := labels("model", "churn", "feature", f.Name)
		ml := labels("model", "churn", "feature", f.Name, "method", f.Drift.Method)
		want("vigil_feature_missing_ratio", fl, "features."+f.Name+".missing_ratio")
		want("vigil_feature_drift_statistic", ml, "features."+f.Name+".drift.statistic")
		if f.Drift.PValue != nil {
			want("vigil_feature_drift_p_value", ml, "features."+f.Name+".drift.p_value")
		}
		drifted := 0.0
		if f.Drift.Drifted {
			drifted = 1
		}
		if got := series(mfs, "vigil_feature_drifted")[fl]; got != drifted {
			t.Errorf("vigil_feature_drifted{%s} = %v, report says %v", fl, got, f.Drift.Drifted)
		}
	}
	if got := series(mfs, "vigil_feature_drifted")[labels("model", "churn", "feature", "age")]; got != 1 {
		t.Errorf("age was shifted by 1.5 sd and should be drifted, got %v", got)
	}

	status := series(mfs, "vigil_evaluation_status")
	for _, s := range metrics.Statuses {
		want := 0.0
		if s == "breach" {
			want = 1
		}
		if got, ok := status[labels("model", "churn", "status", s)]; !ok || got != want {
			t.Errorf("vigil_evaluation_status{status=%q} = %v (present %v), want %v", s, got, ok, want)
		}
	}
	if got := series(mfs, "vigil_last_evaluation_timestamp_seconds")[labels("model", "churn")]; got != float64(now.Unix()) {
		t.Errorf("last evaluation = %v, want the clock's %v", got, now.Unix())
	}
	if got := series(mfs, "vigil_last_window_end_timestamp_seconds")[labels("model", "churn")]; got != float64(windowEnd.Unix()) {
		t.Errorf("last window end = %v, want %v", got, windowEnd.Unix())
	}
	if got := series(mfs, "vigil_evaluation_duration_seconds")[labels("model", "churn")]; got != 1 {
		t.Errorf("duration histogram has %v observations, want 1", got)
	}
	if got := series(mfs, "vigil_evaluations_total")[labels("model", "churn", "status", "breach")]; got != 1 {
		t.Errorf("evaluations_total{breach} = %v, want 1", got)
	}
}

// report builds a report by hand with the named features; drifted ones get
// a KS p-value of 1e-6, the others 0.5.
func report(version string, perf map[string]float64, features ...string) *analysis.Report {
	rep := &analysis.Report{Performance: perf, Quality: map[string]float64{}}
	for i, name := range features {
		p := 0.5
		drifted := i%2 == 0
		if drifted {
			p = 1e-6 * float64(i+1) // earlier features drift more
		}
		rep.Features = append(rep.Features, analysis.FeatureReport{Name: name, Kind: "numeric",
			Drift: analysis.Drift{Method: "ks", Statistic: 0.3, PValue: &p, Threshold: 0.05, Drifted: drifted}})
	}
	return rep
}

func TestFeatureSeriesAreCappedMostDriftedFirst(t *testing.T) {
	p, reg := newPublisher(metrics.Options{MaxFeatures: 3})
	// f0, f2, f4 drift (f0 most), f1, f3, f5 do not.
	p.Evaluation("wide", "", "ok", report("", nil, "f0", "f1", "f2", "f3", "f4", "f5"), now, 0)
	mfs := scrape(t, reg)
	got := series(mfs, "vigil_feature_drifted")
	want := map[string]float64{
		labels("model", "wide", "feature", "f0"): 1,
		labels("model", "wide", "feature", "f2"): 1,
		labels("model", "wide", "feature", "f4"): 1,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("feature series = %v, want the three drifted ones %v", got, want)
	}
	if n := len(series(mfs, "vigil_feature_missing_ratio")); n != 3 {
		t.Errorf("%d missing-ratio series, want the cap 3", n)
	}
	if got := series(mfs, "vigil_features_omitted")[labels("model", "wide")]; got != 3 {
		t.Errorf("features_omitted = %v, want 3", got)
	}
}

func TestDefaultCapIs50Features(t *testing.T) {
	p, reg := newPublisher(metrics.Options{})
	var names []string
	for i := range 80 {
		names = append(names, fmt.Sprintf("f%02d", i))
	}
	p.Evaluation("wide", "", "ok", report("", nil, names...), now, 0)
	if n := len(series(scrape(t, reg), "vigil_feature_drift_statistic")); n != 50 {
		t.Errorf("%d feature series, want 50", n)
	}
}

func TestEachEvaluationReplacesTheModelsSeries(t *testing.T) {
	p, reg := newPublisher(metrics.Options{})
	p.Evaluation("churn", "v1", "ok", report("v1", map[string]float64{"accuracy": 0.9, "f1": 0.8}, "a", "b", "c"), now, 0)
	p.Evaluation("fraud", "v7", "ok", report("v7", map[string]float64{"accuracy": 0.99}, "x"), now, 0)

	// churn: new version, f1 gone (e.g. no labels for it), features b and c
	// gone, d new.
	p.Evaluation("churn", "v2", "warning", report("v2", map[string]float64{"accuracy": 0.7}, "a", "d"), now, 0)
	mfs := scrape(t, reg)
	perf := series(mfs, "vigil_model_performance")
	wantPerf := map[string]float64{
		labels("model", "churn", "version", "v2", "metric", "accuracy"): 0.7,
		labels("model", "fraud", "version", "v7", "metric", "accuracy"): 0.99,
	}
	if fmt.Sprint(perf) != fmt.Sprint(wantPerf) {
		t.Errorf("performance = %v, want %v", perf, wantPerf)
	}
	for _, name := range []string{"vigil_feature_drift_statistic", "vigil_feature_drifted", "vigil_feature_missing_ratio", "vigil_feature_drift_score"} {
		var feats []string
		for k := range series(mfs, name) {
			feats = append(feats, k)
		}
		if len(feats) != 3 { // churn a, d; fraud x
			t.Errorf("%s: %v, want churn a, d and fraud x", name, feats)
		}
	}

	// No data: the report's series go, status and timestamps stay.
	p.Evaluation("churn", "v2", "no-data", nil, now, 0)
	mfs = scrape(t, reg)
	for k := range series(mfs, "vigil_model_performance") {
		if k != labels("model", "fraud", "version", "v7", "metric", "accuracy") {
			t.Errorf("after a no-data window, %s is still exported", k)
		}
	}
	if got := series(mfs, "vigil_evaluation_status")[labels("model", "churn", "status", "no-data")]; got != 1 {
		t.Errorf("status no-data = %v, want 1", got)
	}
	if _, ok := series(mfs, "vigil_last_evaluation_timestamp_seconds")[labels("model", "churn")]; !ok {
		t.Error("last evaluation timestamp missing after a no-data evaluation")
	}
}

func TestWindowEndNeverMovesBack(t *testing.T) {
	p, reg := newPublisher(metrics.Options{})
	p.Evaluation("churn", "", "ok", nil, now, 0)
	p.Evaluation("churn", "", "ok", nil, now.Add(-24*time.Hour), 0) // a backfill
	if got := series(scrape(t, reg), "vigil_last_window_end_timestamp_seconds")[labels("model", "churn")]; got != float64(now.Unix()) {
		t.Errorf("window end = %v, want the newest %v", got, now.Unix())
	}
}

func TestEvents(t *testing.T) {
	p, reg := newPublisher(metrics.Options{})
	p.Cadence("churn", 15*time.Minute)
	p.EvaluationFailed("churn", "load")
	p.EvaluationFailed("churn", "load")
	p.IncidentOpened("churn", "accuracy-drop", "critical")
	p.IncidentOpened("churn", "accuracy-drop", "critical") // activity retried
	p.IncidentOpened("churn", "drift", "warning")
	p.Notification("slack", "trigger", nil)
	p.Notification("pagerduty", "trigger", errors.New("503"))
	p.NotificationUndelivered("pagerduty", "escalate")
	p.NotificationDropped("pagerduty", "resolve")
	p.Retrain("churn", "promoted")
	mfs := scrape(t, reg)
	check := func(name, lbls string, want float64) {
		t.Helper()
		if got, ok := series(mfs, name)[lbls]; !ok || got != want {
			t.Errorf("%s{%s} = %v (present %v), want %v", name, lbls, got, ok, want)
		}
	}
	check("vigil_model_cadence_seconds", labels("model", "churn"), 900)
	check("vigil_evaluation_failures_total", labels("model", "churn", "stage", "load"), 2)
	check("vigil_incidents_open", labels("model", "churn", "rule", "accuracy-drop", "severity", "critical"), 1)
	check("vigil_incidents_opened_total", labels("model", "churn", "rule", "accuracy-drop", "severity", "critical"), 2)
	check("vigil_notifications_total", labels("integration", "slack", "kind", "trigger", "result", "ok"), 1)
	check("vigil_notifications_total", labels("integration", "pagerduty", "kind", "trigger", "result", "error"), 1)
	check("vigil_notifications_undelivered_total", labels("integration", "pagerduty", "kind", "escalate"), 1)
	check("vigil_notifications_dropped_total", labels("integration", "pagerduty", "kind", "resolve"), 1)
	check("vigil_retrains_total", labels("model", "churn", "outcome", "promoted"), 1)

	p.IncidentResolved("churn", "accuracy-drop", "critical")
	mfs = scrape(t, reg)
	if got := series(mfs, "vigil_incidents_open"); len(got) != 1 {
		t.Errorf("after resolving accuracy-drop, open incidents = %v, want only drift", got)
	}
	check("vigil_incidents_resolved_total", labels("model", "churn", "rule", "accuracy-drop", "severity", "critical"), 1)
}

func TestDriftScore(t *testing.T) {
	pv := func(v float64) *float64 { return &v }
	for _, c := range []struct {
		name string
		d    analysis.Drift
		want float64
	}{
		{"p at the threshold", analysis.Drift{PValue: pv(0.05), Threshold: 0.05}, 1},
		{"p above", analysis.Drift{PValue: pv(0.5), Threshold: 0.05}, math.Log(0.5) / math.Log(0.05)},
		{"p = 1", analysis.Drift{PValue: pv(1), Threshold: 0.05}, 0},
		{"p = 0 is capped", analysis.Drift{PValue: pv(0), Threshold: 0.05}, 100},
		{"distance at the threshold", analysis.Drift{Statistic: 0.1, Threshold: 0.1}, 1},
		{"distance 3x", analysis.Drift{Statistic: 0.3, Threshold: 0.1}, 3},
		{"skipped", analysis.Drift{Statistic: 0.3, Threshold: 0.1, Note: "empty current"}, 0},
	} {
		if got := metrics.DriftScore(c.d); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s: DriftScore = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestLabelValuesThatAreNotUTF8DoNotPanic(t *testing.T) {
	p, reg := newPublisher(metrics.Options{})
	p.Evaluation("churn", "", "ok", report("", nil, "bad\xffname"), now, 0)
	if n := len(series(scrape(t, reg), "vigil_feature_drift_statistic")); n != 1 {
		t.Errorf("want the feature exported under a repaired name, got %d series", n)
	}
}
