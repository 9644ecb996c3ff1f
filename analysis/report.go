package analysis

import (
	"strings"
)

// Report is the result of one analysis. Its JSON is the contract of
// DESIGN.md ("Analysis contract"); fields beyond the contract are extras.
type Report struct {
	Rows        RowCounts          `json:"rows"`
	Performance map[string]float64 `json:"performance,omitempty"`
	// Classes, PerClass and ConfusionMatrix describe classification tasks:
	// ConfusionMatrix[i][j] counts rows of true class Classes[i] predicted
	// as Classes[j] (sklearn.metrics.confusion_matrix with sorted labels).
	Classes         []string                `json:"classes,omitempty"`
	PerClass        map[string]ClassMetrics `json:"per_class,omitempty"`
	ConfusionMatrix [][]int64               `json:"confusion_matrix,omitempty"`
	// ROC is the ROC curve of a binary task with scores, at most ROCPoints
	// points from (1,1) down to (0,0), for people (an extra).
	ROC             []ROCPoint      `json:"roc_curve,omitempty"`
	Latency         *Latency        `json:"latency,omitempty"`
	Throughput      *Throughput     `json:"throughput,omitempty"`
	Features        []FeatureReport `json:"features"`
	PredictionDrift *FeatureReport  `json:"prediction_drift,omitempty"`
	DatasetDrift    DatasetDrift    `json:"dataset_drift"`
	// Quality holds window-level data-quality counters (see QualityKeys).
	Quality    map[string]float64 `json:"quality"`
	Violations []Violation        `json:"violations,omitempty"`
	// EstimatedPerformance holds metrics estimated without labels (binary
	// tasks with a score; see CBPE), beside Performance when labels exist;
	// Estimation says how they were made.
	EstimatedPerformance map[string]Estimate `json:"estimated_performance,omitempty"`
	Estimation           *Estimation         `json:"estimation,omitempty"`
	// Segments are the slices of the window where the model does worst,
	// worst first (see WeakSegments).
	Segments []Segment `json:"segments,omitempty"`
	// MultivariateDrift is the domain classifier's verdict on the joint
	// distribution of the numeric features (see DomainClassifierAUC).
	MultivariateDrift *MultivariateDrift `json:"multivariate_drift,omitempty"`
	// Bands holds, per metric path of Options.BandMetrics, the metric's
	// band over reference chunks of the current window's size.
	Bands map[string]Band `json:"bands,omitempty"`
	// Mode is "exact" when every statistic used all values, "sketch" when a
	// large window was summarised by quantile sketches.
	Mode string `json:"mode"`
}

// RowCounts counts the rows of both windows. Invalid counts the malformed
// records skipped in the current window; Labeled the current rows whose
// target is present (the rows performance is computed on).
type RowCounts struct {
	Reference int64 `json:"reference"`
	Current   int64 `json:"current"`
	Invalid   int64 `json:"invalid"`
	Labeled   int64 `json:"labeled"`
	// ReferenceInvalid counts malformed records of the reference.
	ReferenceInvalid int64 `json:"reference_invalid"`
}

// ROCPoint is one threshold of the ROC curve: rows scoring at or above
// Threshold are predicted positive.
type ROCPoint struct {
	Threshold float64 `json:"threshold"`
	FPR       float64 `json:"fpr"`
	TPR       float64 `json:"tpr"`
}

// ROCPoints bounds the points of Report.ROC.
const ROCPoints = 101

// ClassMetrics are the one-vs-rest metrics of one class.
type ClassMetrics struct {
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	Support   int64   `json:"support"`
}

// Latency holds percentiles of the latency column of the current window
// (numpy.percentile, linear interpolation).
type Latency struct {
	P50 float64 `json:"p50_ms"`
	P95 float64 `json:"p95_ms"`
	P99 float64 `json:"p99_ms"`
}

// Throughput is the current window's rows divided by the span of its time
// column.
type Throughput struct {
	RowsPerSecond float64 `json:"rows_per_second"`
	Seconds       float64 `json:"seconds"`
}

// FeatureReport is the drift and quality of one column.
type FeatureReport struct {
	Name string `json:"name"`
	// Kind is how the feature was treated (numeric or categorical);
	// KindNote says why a column of numbers was treated as categorical.
	Kind         string          `json:"kind"`
	KindNote     string          `json:"kind_note,omitempty"`
	MissingRatio float64         `json:"missing_ratio"`
	Drift        Drift           `json:"drift"`
	Quality      *FeatureQuality `json:"quality,omitempty"`
	// Histogram is what the two windows look like, for people (the
	// dashboard's per-feature charts); an extra beyond the contract.
	Histogram *Histogram `json:"histogram,omitempty"`
}

// Histogram compares the value distributions of both windows as shares
// (each side sums to 1). Numeric columns: HistogramBins equal-width bins over
// the range of both windows, Edges holding their len(Reference)+1 bounds.
// Categorical columns: the HistogramBins most frequent categories of both
// windows by name in Labels, the rest (and the profile's overflow) in a last
// bin labelled OtherLabel.
type Histogram struct {
	Edges     []float64 `json:"edges,omitempty"`
	Labels    []string  `json:"labels,omitempty"`
	Reference []float64 `json:"reference"`
	Current   []float64 `json:"current"`
}

// HistogramBins is the number of bins (or named categories) of a Histogram.
const HistogramBins = 20

// OtherLabel names the categorical bin that collects the rest.
const OtherLabel = "(other)"

// Drift is the verdict of one drift test. For ks and chisquare Drifted is
// p_value < threshold; for the distances it is statistic >= threshold.
type Drift struct {
	Method    string   `json:"method"`
	Statistic float64  `json:"statistic"`
	PValue    *float64 `json:"p_value,omitempty"`
	Threshold float64  `json:"threshold"`
	// ThresholdSource says where Threshold came from: "calibrated" (auto's
	// quantile for this window's size, above the practical floor) or
	// "fixed" (a configured or default value, auto's floor, a p-value level).
	ThresholdSource string `json:"threshold_source"`
	Drifted         bool   `json:"drifted"`
	// Note says why a test was skipped (an empty side).
	Note string `json:"note,omitempty"`
}

// FeatureQuality counts data-quality problems of one column in the current
// window.
type FeatureQuality struct {
	Missing          int64   `json:"missing"`
	TypeMismatches   int64   `json:"type_mismatches"`
	NonFinite        int64   `json:"non_finite,omitempty"`
	OutOfRange       float64 `json:"out_of_range"`
	UnseenCategories int64   `json:"unseen_categories,omitempty"`
	Constant         bool    `json:"constant,omitempty"`
	ReferenceMissing float64 `json:"reference_missing_ratio"`
}

// DatasetDrift summarises the feature verdicts: Share is drifted features
// over tested features (features whose test ran, both sides having values;
// the prediction is not a feature); Drifted is Share >= Options.DatasetDriftShare.
type DatasetDrift struct {
	DriftedFeatures int     `json:"drifted_features"`
	Tested          int     `json:"tested_features"`
	Share           float64 `json:"share"`
	// Denominator names what Share divides by: always "tested_features".
	Denominator string  `json:"denominator"`
	Threshold   float64 `json:"threshold"`
	Drifted     bool    `json:"drifted"`
}

// ShareDenominator is DatasetDrift.Denominator.
const ShareDenominator = "tested_features"

// Quality counter keys of Report.Quality (summed over features).
var QualityKeys = []string{"type_mismatches", "missing_cells", "non_finite", "out_of_range",
	"unseen_categories", "constant_columns", "all_missing_columns", "duplicate_event_ids",
	"score_non_finite", "prediction_missing", "invalid_rows"}

// Metric returns the number at a metric path, as alert rules name them:
//
//	rows.reference|current|invalid|labeled
//	performance.<key>                     e.g. performance.accuracy
//	latency.p50_ms|p95_ms|p99_ms
//	throughput.rows_per_second
//	dataset_drift.share|drifted_features  (drifted_features is a count)
//	prediction_drift.statistic|p_value
//	features.<name>.drift.statistic|p_value
//	features.<name>.missing_ratio
//	quality.<key>                         see QualityKeys
//	estimated_performance.<key>           the estimate's value
//	multivariate_drift.statistic          the domain classifier's AUROC
//
// It returns false when the report has no such number (for example a p-value
// of a distance method, or performance without labels).
func (r *Report) Metric(path string) (float64, bool) {
	head, rest, _ := strings.Cut(path, ".")
	switch head {
	case "rows":
		switch rest {
		case "reference":
			return float64(r.Rows.Reference), true
		case "current":
			return float64(r.Rows.Current), true
		case "invalid":
			return float64(r.Rows.Invalid), true
		case "labeled":
			return float64(r.Rows.Labeled), true
		}
	case "performance":
		v, ok := r.Performance[rest]
		return v, ok
	case "latency":
		if r.Latency == nil {
			return 0, false
		}
		switch rest {
		case "p50_ms":
			return r.Latency.P50, true
		case "p95_ms":
			return r.Latency.P95, true
		case "p99_ms":
			return r.Latency.P99, true
		}
	case "throughput":
		if r.Throughput != nil && rest == "rows_per_second" {
			return r.Throughput.RowsPerSecond, true
		}
	case "dataset_drift":
		switch rest {
		case "share":
			return r.DatasetDrift.Share, true
		case "drifted_features":
			return float64(r.DatasetDrift.DriftedFeatures), true
		}
	case "prediction_drift":
		if r.PredictionDrift != nil {
			return driftMetric(&r.PredictionDrift.Drift, rest)
		}
	case "features":
		for i := range r.Features {
			f := &r.Features[i]
			sub, ok := strings.CutPrefix(rest, f.Name+".")
			if !ok {
				continue
			}
			switch sub {
			case "missing_ratio":
				return f.MissingRatio, true
			case "drift.statistic", "drift.p_value":
				return driftMetric(&f.Drift, strings.TrimPrefix(sub, "drift."))
			}
		}
	case "quality":
		v, ok := r.Quality[rest]
		return v, ok
	case "estimated_performance":
		e, ok := r.EstimatedPerformance[rest]
		return e.Value, ok
	case "multivariate_drift":
		if r.MultivariateDrift != nil && rest == "statistic" {
			return r.MultivariateDrift.Statistic, true
		}
	}
	return 0, false
}

func driftMetric(d *Drift, key string) (float64, bool) {
	if d.Note != "" {
		return 0, false
	}
	switch key {
	case "statistic":
		return d.Statistic, true
	case "p_value":
		if d.PValue != nil {
			return *d.PValue, true
		}
	}
	return 0, false
}
