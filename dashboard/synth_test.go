package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigilml/vigil/analysis"
	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/store"
	"github.com/vigilml/vigil/train/registry"
)

var synthT0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// synthStore holds windows reports per model, generated on demand and
// counted, so tests can say how many reports a page reads. Window i starts at
// synthT0 + i×15m; from driftFrom on, feature "x" drifts and accuracy drops.
type synthStore struct {
	windows   int
	driftFrom int
	reads     atomic.Int64
	lists     atomic.Int64
	// encoded memoizes window i's JSON (the same for every model), so a
	// benchmark measures the dashboard, not this generator.
	encoded sync.Map
}

func (s *synthStore) start(i int) time.Time { return synthT0.Add(time.Duration(i) * 15 * time.Minute) }

func (s *synthStore) LatestReports(_ context.Context, model string, n int) ([]store.ReportRef, error) {
	s.lists.Add(1)
	var refs []store.ReportRef
	for i := max(0, s.windows-n); i < s.windows; i++ {
		refs = append(refs, store.ReportRef{Model: model, WindowStart: s.start(i),
			URI: fmt.Sprintf("mem://%s/%d.json", model, i), Size: 1, Modified: synthT0})
	}
	return refs, nil
}

func (s *synthStore) ReadReportAt(_ context.Context, model string, start time.Time) ([]byte, store.ReportRef, error) {
	i := int(start.Sub(synthT0) / (15 * time.Minute))
	ref := store.ReportRef{Model: model, WindowStart: start, URI: fmt.Sprintf("mem://%s/%d.json", model, i)}
	if i < 0 || i >= s.windows || !start.Equal(s.start(i)) {
		return nil, ref, fmt.Errorf("read %s: %w", ref.URI, store.ErrNotFound)
	}
	s.reads.Add(1)
	if data, ok := s.encoded.Load(i); ok {
		return data.([]byte), ref, nil
	}
	data, err := json.Marshal(synthReport("", start, i >= s.driftFrom, i))
	if err == nil {
		s.encoded.Store(i, data)
	}
	return data, ref, err
}

func pval(p float64) *float64 { return &p }

// synthReport is a binary classifier's window with three numeric features,
// one categorical, and, when drifted, a shifted x and lower accuracy.
func synthReport(model string, start time.Time, drifted bool, i int) *Stored {
	wiggle := 0.01 * math.Sin(float64(i))
	acc, xStat, share := 0.91+wiggle, 0.03+wiggle/2, 0.0
	xCur := []float64{0.05, 0.2, 0.5, 0.2, 0.05}
	if drifted {
		acc, xStat, share = 0.71+wiggle, 0.4, 0.25
		xCur = []float64{0, 0.05, 0.15, 0.4, 0.4}
	}
	num := func(name string, stat float64, cur []float64) analysis.FeatureReport {
		return analysis.FeatureReport{Name: name, Kind: "numeric",
			Drift:   analysis.Drift{Method: "wasserstein", Statistic: stat, Threshold: 0.1, ThresholdSource: "calibrated", Drifted: stat >= 0.1},
			Quality: &analysis.FeatureQuality{Missing: 2}, MissingRatio: 0.002,
			Histogram: &analysis.Histogram{Edges: []float64{0, 1, 2, 3, 4, 5}, Reference: []float64{0.05, 0.2, 0.5, 0.2, 0.05}, Current: cur}}
	}
	s := &Stored{Model: model, WindowStart: start, WindowEnd: start.Add(15 * time.Minute), Objects: 3}
	s.Report = analysis.Report{
		Rows:        analysis.RowCounts{Reference: 5000, Current: 900 + int64(i%7)*10, Labeled: 800, Invalid: 1},
		Performance: map[string]float64{"accuracy": acc, "f1": acc - 0.02, "roc_auc": acc + 0.03},
		Classes:     []string{"0", "1"}, ConfusionMatrix: [][]int64{{400, 40}, {30, 330}},
		ROC:        []analysis.ROCPoint{{Threshold: 0, FPR: 1, TPR: 1}, {Threshold: 0.5, FPR: 0.1, TPR: 0.9}, {Threshold: 1.01}},
		Latency:    &analysis.Latency{P50: 20 + wiggle*100, P95: 45, P99: 80},
		Throughput: &analysis.Throughput{RowsPerSecond: 1, Seconds: 900},
		Features: []analysis.FeatureReport{
			num("x", xStat, xCur), num("y", 0.02, []float64{0.05, 0.2, 0.5, 0.2, 0.05}), num("z", 0.05, []float64{0.1, 0.2, 0.4, 0.2, 0.1}),
			{Name: "plan", Kind: "categorical", Drift: analysis.Drift{Method: "chisquare", Statistic: 1.2, PValue: pval(0.55), Threshold: 0.05, ThresholdSource: "fixed"},
				Quality:   &analysis.FeatureQuality{UnseenCategories: 1},
				Histogram: &analysis.Histogram{Labels: []string{"basic", "secret-customer-tier", analysis.OtherLabel}, Reference: []float64{0.6, 0.3, 0.1}, Current: []float64{0.55, 0.35, 0.1}}},
		},
		DatasetDrift: analysis.DatasetDrift{DriftedFeatures: int(share * 4), Tested: 4, Share: share, Denominator: analysis.ShareDenominator, Threshold: 0.5},
		Quality:      map[string]float64{"missing_cells": 6, "invalid_rows": 1},
		Mode:         "exact",
	}
	return s
}

func below(v float64) *float64 { return &v }

// synthConfig has n models with an accuracy rule.
func synthConfig(n int) *config.Config {
	cfg := &config.Config{}
	for i := range n {
		cfg.Models = append(cfg.Models, config.Model{Name: fmt.Sprintf("model-%03d", i), Task: "binary",
			Schedule: config.Schedule{Every: config.Duration(15 * time.Minute)},
			Rules: []config.Rule{
				{Name: "accuracy-drop", Metric: "performance.accuracy", Below: below(0.85), Severity: "critical"},
				{Name: "x-drift", Metric: "features.x.drift.statistic", Above: below(0.3), Severity: "warning"},
			}})
	}
	return cfg
}

// synthRegistry has two versions of every model, v2 promoted by a retrain;
// model-001 has a canary of v3 under way (SynthRollout), model-002 a
// shadow rollout of v3 that was rejected.
type synthRegistry struct{}

// SynthRollout is model-001's canary rollout: three steps, the last at 50%.
func SynthRollout() *registry.Rollout {
	at := synthT0.Add(30 * time.Hour)
	step := func(i, pct int, diff, lo, hi, p float64, verdict string) registry.RolloutStep {
		return registry.RolloutStep{At: at.Add(time.Duration(i) * time.Hour), Percent: pct, Rows: int64(400 * (i + 1)), Metric: "accuracy",
			Champion: 0.86, Challenger: 0.86 + diff, Difference: diff, Lower: lo, Upper: hi, PValue: p, Verdict: verdict}
	}
	return &registry.Rollout{ID: "retrain-model-001/run-7", Mode: "canary", Champion: 2, Challenger: 3, Percent: 50,
		StartedAt: at.Add(-time.Hour), UpdatedAt: at.Add(2 * time.Hour),
		Steps: []registry.RolloutStep{step(0, 10, 0.04, -0.08, 0.15, 0.41, "continue"), step(1, 10, 0.05, -0.03, 0.12, 0.2, "continue"), step(2, 50, 0.05, 0.01, 0.09, 0.004, "not-worse")}}
}

func (synthRegistry) Model(_ context.Context, model string) (*registry.Model, error) {
	var rollout *registry.Rollout
	switch model {
	case "model-001":
		rollout = SynthRollout()
	case "model-002":
		at := synthT0.Add(30 * time.Hour)
		rollout = &registry.Rollout{ID: "retrain-model-002/run-3", Mode: "shadow", Champion: 2, Challenger: 3, StartedAt: at, UpdatedAt: at.Add(4 * time.Hour),
			Steps:    []registry.RolloutStep{{At: at.Add(2 * time.Hour), Rows: 900, Metric: "accuracy", Champion: 0.88, Challenger: 0.81, Difference: -0.07, Lower: -0.11, Upper: -0.03, PValue: 0.0007, Verdict: "worse"}},
			Decision: "rejected", Reason: "accuracy 0.07 lower than the champion's, interval [-0.11, -0.03] below the margin -0.02", Actor: "vigil"}
	}
	return &registry.Model{Name: model, Rollout: rollout,
		Versions: []registry.Version{
			{Version: 1, Status: "archived", Created: synthT0, Trainer: "command", Metrics: map[string]float64{"performance.accuracy": 0.9}},
			{Version: 2, Status: "production", Created: synthT0.Add(20 * time.Hour), Trainer: "command", Reason: "accuracy-drop breached", Metrics: map[string]float64{"performance.accuracy": 0.93}},
		},
		Aliases: map[string]int{"production": 2},
		History: []registry.AliasMove{{Alias: "production", To: 1, Actor: "vigil", Time: synthT0}, {Alias: "production", From: 1, To: 2, Actor: "vigil", Time: synthT0.Add(20 * time.Hour), Reason: "promoted after retrain-" + model}},
	}, nil
}

// synthRuns has one retrain and one open incident per model; the incident
// and workflow links point at pathTo (a test server standing in for the
// Temporal Web UI).
type synthRuns struct{ ui string }

func (r synthRuns) History(_ context.Context, model string, _ time.Time, _ int) ([]Run, error) {
	return []Run{
		{Kind: "retrain", WorkflowID: "retrain-" + model, Status: "Completed", Start: synthT0.Add(19 * time.Hour), Close: synthT0.Add(20 * time.Hour), URL: r.ui + "/workflows/retrain-" + model},
		{Kind: "breach", WorkflowID: "vigil-monitor-" + model + "-x", Status: StatusBreach, Start: synthT0.Add(18 * time.Hour), Close: synthT0.Add(18 * time.Hour), Window: synthT0.Add(18 * time.Hour), URL: r.ui + "/workflows/vigil-monitor-" + model + "-x"},
	}, nil
}

func (r synthRuns) OpenIncidents(_ context.Context, model string) ([]Incident, error) {
	return []Incident{{Rule: "accuracy-drop", Severity: "critical", Metric: "performance.accuracy", Value: 0.71, Threshold: "< 0.85",
		OpenedAt: synthT0.Add(18 * time.Hour), Window: synthT0.Add(18 * time.Hour), URL: r.ui + "/workflows/vigil-incident-" + model}}, nil
}
