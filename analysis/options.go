package analysis

import (
	"fmt"
	"slices"
)

// Task names accepted in Options.Task.
const (
	TaskBinary     = "binary"
	TaskMulticlass = "multiclass"
	TaskRegression = "regression"
)

// Options says which columns play which role and how drift is judged. The
// zero value analyses every column as a feature with the auto drift method.
type Options struct {
	// Task is "binary", "multiclass", "regression" or "" (drift and quality
	// only).
	Task string
	// Column roles. Target, Prediction, Score and Latency are never features.
	// Time and EventID default to the columns named "time" and "event_id"
	// when those exist.
	Target, Prediction, Score, Latency, Time, EventID string
	// Features lists the feature columns; empty means every column without a
	// role. Categorical forces columns to be categorical; other columns are
	// numeric when most of their values in the first rows parse as numbers.
	Features, Categorical []string
	// DriftMethod is one of Methods; "" means auto.
	DriftMethod string
	// DriftThreshold overrides the method's default threshold (0 = default,
	// see DefaultThreshold). Under auto it replaces the practical floor of
	// the distances (AutoNumericFloor, AutoCategoricalFloor) on large
	// references; the p-value tests use FalseAlarmRate.
	DriftThreshold float64
	// FalseAlarmRate is α, the share of stationary windows auto may flag
	// per feature (0 = DefaultFalseAlarmRate, 0.01): the p-value level of
	// ks and chisquare on small references, and the rate the distance
	// thresholds of large references are calibrated to (see
	// calibratedThreshold). Other methods ignore it.
	FalseAlarmRate float64
	// DatasetDriftShare is the share of drifted features at which the dataset
	// counts as drifted (0 = 0.5).
	DatasetDriftShare float64
	// Threshold is the score at or above which a binary model without a
	// prediction column (or a row without a prediction) predicts the positive
	// class (0 = 0.5).
	Threshold float64
	// MaxClasses bounds the distinct labels (true and predicted together) of
	// a binary or multiclass task; more fail the analysis with an InputError
	// that suggests regression (0 = DefaultMaxClasses).
	MaxClasses int
	// PositiveLabel is the positive class of a binary task ("" = "1").
	// Labels are compared after normalisation: numbers by value ("1.0" = "1").
	PositiveLabel string
	// Bins is the number of reference-quantile bins for numeric features under
	// psi, jensenshannon, hellinger, linf and chisquare (0 = 10).
	Bins int
	// ExactLimit is the number of values per numeric column kept exactly; a
	// larger window switches that column to a quantile sketch, so memory stays
	// bounded (0 = 250000). Negative means never sketch.
	ExactLimit int
	// SketchCap is the per-level capacity of the quantile sketch (0 = 8192).
	SketchCap int
	// MaxCategories bounds the distinct categories counted per column; the
	// rest go to the overflow bucket "__other__" (0 = 10000).
	MaxCategories int
	// AutoSmallN is the reference size up to which auto uses p-value tests
	// (0 = 1000).
	AutoSmallN int
	// Baseline, when set, adds constraint violations to the report.
	Baseline *Baseline
	// RowSample is how many rows per window the row-level analyses keep
	// (estimated performance, weak segments, multivariate drift, reference
	// bands; 0 = DefaultRowSample). Negative turns them all off. Rows are
	// sampled only when one of them is wanted: a task is set, or
	// MultivariateDrift, or BandMetrics.
	RowSample int
	// MultivariateDrift asks for the domain-classifier drift test on a model
	// without a task (with a task it runs whenever the rows are sampled).
	MultivariateDrift bool
	// BandMetrics lists metric paths (as Report.Metric names them) whose
	// reference band the report should carry (Report.Bands): their values
	// over reference chunks of the current window's size.
	BandMetrics []string
	// SegmentMinRows is the smallest weak segment reported (0 = the larger
	// of 50 rows and 1% of the sampled rows).
	SegmentMinRows int
}

// rowSampling reports whether profiles keep a row sample.
func (o Options) rowSampling() bool {
	return o.RowSample >= 0 && (o.Task != "" || o.MultivariateDrift || len(o.BandMetrics) > 0)
}

// OtherCategory is the overflow bucket of category counts.
const OtherCategory = "__other__"

func (o Options) withDefaults() Options {
	if o.DriftMethod == "" {
		o.DriftMethod = MethodAuto
	}
	if o.DatasetDriftShare == 0 {
		o.DatasetDriftShare = 0.5
	}
	if o.FalseAlarmRate == 0 {
		o.FalseAlarmRate = DefaultFalseAlarmRate
	}
	if o.PositiveLabel == "" {
		o.PositiveLabel = "1"
	}
	o.PositiveLabel = normLabel(o.PositiveLabel)
	if o.Threshold == 0 {
		o.Threshold = 0.5
	}
	if o.MaxClasses == 0 {
		o.MaxClasses = DefaultMaxClasses
	}
	if o.Bins == 0 {
		o.Bins = 10
	}
	if o.ExactLimit == 0 {
		o.ExactLimit = 250000
	}
	if o.ExactLimit < 0 {
		o.ExactLimit = int(^uint(0) >> 2)
	}
	if o.SketchCap == 0 {
		o.SketchCap = 8192
	}
	if o.MaxCategories == 0 {
		o.MaxCategories = 10000
	}
	if o.AutoSmallN == 0 {
		o.AutoSmallN = 1000
	}
	if o.RowSample == 0 {
		o.RowSample = DefaultRowSample
	}
	return o
}

// Validate reports an option that cannot work, with what to do about it.
func (o Options) Validate() error {
	if o.DriftMethod != "" && !slices.Contains(Methods, o.DriftMethod) {
		return fmt.Errorf("analysis: unknown drift method %q: use one of %v", o.DriftMethod, Methods)
	}
	switch o.Task {
	case "", TaskBinary, TaskMulticlass, TaskRegression:
	default:
		return fmt.Errorf("analysis: unknown task %q: use binary, multiclass or regression", o.Task)
	}
	if o.Task != "" && o.Target == "" {
		return fmt.Errorf("analysis: task %q needs a target column", o.Task)
	}
	if o.Task != "" && o.Prediction == "" && !(o.Task == TaskBinary && o.Score != "") {
		return fmt.Errorf("analysis: task %q needs a prediction column", o.Task)
	}
	if o.Threshold < 0 || o.Threshold > 1 {
		return fmt.Errorf("analysis: score threshold must be in (0,1], got %v", o.Threshold)
	}
	if o.Bins < 0 || o.Bins == 1 {
		return fmt.Errorf("analysis: bins must be at least 2, got %d", o.Bins)
	}
	if o.FalseAlarmRate < 0 || o.FalseAlarmRate >= 0.5 {
		return fmt.Errorf("analysis: false alarm rate must be in (0, 0.5), got %v (0 means %v)", o.FalseAlarmRate, DefaultFalseAlarmRate)
	}
	if o.SegmentMinRows < 0 {
		return fmt.Errorf("analysis: segment min rows must not be negative, got %d", o.SegmentMinRows)
	}
	if o.DatasetDriftShare < 0 || o.DatasetDriftShare > 1 {
		return fmt.Errorf("analysis: dataset drift share must be in (0,1], got %v", o.DatasetDriftShare)
	}
	return nil
}
