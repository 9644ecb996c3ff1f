package tensorboard

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/vigilml/vigil/analysis"
)

// PutFunc writes data at key under root atomically, replacing what is
// there (store.Store.PutObject).
type PutFunc func(ctx context.Context, root, key string, data []byte) (uri string, err error)

// Sink writes each evaluation of a model as one event file under
// <LogDir>/<model>/, a directory or an S3 prefix: TensorBoard shows each
// model as a run, with one point per evaluated window.
//
// One file per evaluation, named by the window's end
// (events.out.tfevents.<10-digit unix seconds>.vigil), because S3 objects
// cannot be appended to and because it makes writing idempotent: an
// activity retried by Temporal writes the same bytes to the same key. The
// names sort in window order, the order TensorBoard reads a run's files in.
// The step and the wall time of the event are the window's end, so the
// "step" and "wall" axes both show data time.
type Sink struct {
	LogDir string
	Put    PutFunc
}

// FileName is the event file of the window ending at end.
func FileName(end time.Time) string {
	return fmt.Sprintf("events.out.tfevents.%010d.vigil", end.Unix())
}

// WriteEvaluation writes one evaluation's metrics. A nil report (a window
// whose numbers are not the window's: incomplete, invalid, too few rows)
// writes nothing.
func (s *Sink) WriteEvaluation(ctx context.Context, model, _, _ string, rep *analysis.Report, windowEnd time.Time) error {
	if rep == nil {
		return nil
	}
	if windowEnd.IsZero() {
		return fmt.Errorf("tensorboard: evaluation of %s has no window end", model)
	}
	data := File(float64(windowEnd.UnixNano())/1e9, windowEnd.Unix(), Scalars(rep))
	if _, err := s.Put(ctx, s.LogDir, model+"/"+FileName(windowEnd), data); err != nil {
		return fmt.Errorf("tensorboard: write %s event file to %s: %w", model, s.LogDir, err)
	}
	return nil
}

// Scalars are the report's numbers as TensorBoard tags, sorted by tag:
// performance/<metric>, latency/p50_ms|p95_ms|p99_ms,
// throughput/rows_per_second, rows/current|labeled|invalid|reference,
// drift/dataset_share, drift/drifted_features, drift/prediction_statistic,
// drift/<feature>/statistic|p_value, missing_ratio/<feature> and
// quality/<check>. Values that are not finite are left out: TensorBoard
// would plot them as gaps anyway, and they break its y-axis range.
func Scalars(rep *analysis.Report) []Scalar {
	var out []Scalar
	add := func(tag string, v float64) {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			out = append(out, Scalar{Tag: tag, Value: float32(v)})
		}
	}
	for k, v := range rep.Performance {
		add("performance/"+k, v)
	}
	if l := rep.Latency; l != nil {
		add("latency/p50_ms", l.P50)
		add("latency/p95_ms", l.P95)
		add("latency/p99_ms", l.P99)
	}
	if t := rep.Throughput; t != nil {
		add("throughput/rows_per_second", t.RowsPerSecond)
	}
	add("rows/current", float64(rep.Rows.Current))
	add("rows/labeled", float64(rep.Rows.Labeled))
	add("rows/invalid", float64(rep.Rows.Invalid))
	add("rows/reference", float64(rep.Rows.Reference))
	add("drift/dataset_share", rep.DatasetDrift.Share)
	add("drift/drifted_features", float64(rep.DatasetDrift.DriftedFeatures))
	if p := rep.PredictionDrift; p != nil {
		add("drift/prediction_statistic", p.Drift.Statistic)
	}
	for _, f := range rep.Features {
		add("drift/"+f.Name+"/statistic", f.Drift.Statistic)
		if f.Drift.PValue != nil {
			add("drift/"+f.Name+"/p_value", *f.Drift.PValue)
		}
		add("missing_ratio/"+f.Name, f.MissingRatio)
	}
	for k, v := range rep.Quality {
		add("quality/"+k, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Tag < out[j].Tag })
	return out
}
