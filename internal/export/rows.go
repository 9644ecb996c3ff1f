package export

import (
	"sort"
	"time"

	"github.com/vigilml/vigil/analysis"
)

// Evaluation is one evaluated window of a model. Report is nil when the
// window has no numbers of its own (no data, incomplete, invalid,
// insufficient data): its status is still exported.
type Evaluation struct {
	Model, Version, Status string
	WindowEnd              time.Time
	Report                 *analysis.Report
}

// Row is one line of the long table. Value is nil on the one row of an
// evaluation without numbers (Metric is then "").
type Row struct {
	Model     string
	Version   string
	WindowEnd time.Time
	Metric    string
	Value     *float64
	Status    string
}

// Rows flattens evaluations into the long table, one row per metric, with
// the metric paths alert rules use (analysis.Report.Metric), sorted by
// window end and then metric.
func Rows(evs []Evaluation) []Row {
	var out []Row
	for _, ev := range evs {
		base := Row{Model: ev.Model, Version: ev.Version, WindowEnd: ev.WindowEnd.UTC(), Status: ev.Status}
		paths := MetricPaths(ev.Report)
		if len(paths) == 0 {
			out = append(out, base)
			continue
		}
		for _, p := range paths {
			v, _ := ev.Report.Metric(p)
			r := base
			r.Metric, r.Value = p, &v
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].WindowEnd.Equal(out[j].WindowEnd) {
			return out[i].WindowEnd.Before(out[j].WindowEnd)
		}
		return out[i].Metric < out[j].Metric
	})
	return out
}

// MetricPaths lists every metric path the report has a number for, sorted.
func MetricPaths(rep *analysis.Report) []string {
	if rep == nil {
		return nil
	}
	candidates := []string{"rows.reference", "rows.current", "rows.invalid", "rows.labeled",
		"latency.p50_ms", "latency.p95_ms", "latency.p99_ms", "throughput.rows_per_second",
		"dataset_drift.share", "dataset_drift.drifted_features", "prediction_drift.statistic", "prediction_drift.p_value"}
	for k := range rep.Performance {
		candidates = append(candidates, "performance."+k)
	}
	for k := range rep.Quality {
		candidates = append(candidates, "quality."+k)
	}
	for _, f := range rep.Features {
		candidates = append(candidates, "features."+f.Name+".drift.statistic", "features."+f.Name+".drift.p_value",
			"features."+f.Name+".missing_ratio")
	}
	var out []string
	for _, p := range candidates {
		if _, ok := rep.Metric(p); ok {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}
