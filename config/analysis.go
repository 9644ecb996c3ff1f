package config

import (
	"slices"

	"github.com/vigilml/vigil/analysis"
)

// AnalysisOptions maps the model's columns, features and drift settings to
// the analysis engine's options: the monitor's evaluations and the
// retrain's validation read a model's data the same way.
func (m *Model) AnalysisOptions() analysis.Options {
	return analysis.Options{
		Task: m.Task, Target: m.Columns.Target, Prediction: m.Columns.Prediction, Score: m.Columns.Score,
		Latency: m.Columns.Latency, Time: m.Columns.Time, EventID: m.Columns.EventID,
		Features: m.Features, Categorical: m.Categorical,
		DriftMethod: m.Drift.Method, DriftThreshold: m.Drift.Threshold, DatasetDriftShare: m.Drift.DatasetShare,
		Threshold: m.Columns.Threshold, FalseAlarmRate: m.Drift.FalseAlarmRate,
		MultivariateDrift: m.Drift.Multivariate, BandMetrics: m.bandMetrics(),
	}
}

// bandMetrics lists the metrics of the model's threshold: auto rules, whose
// bands the analysis computes from the reference.
func (m *Model) bandMetrics() []string {
	var out []string
	for _, r := range m.Rules {
		if r.Auto() && !slices.Contains(out, r.Metric) {
			out = append(out, r.Metric)
		}
	}
	return out
}
