package analysis

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"sync"
)

// Analyze compares the current window with the reference: drift of every
// feature and of the prediction, data quality, and (with a task and labels)
// performance, latency and throughput of the current window.
//
// Both streams are read once, concurrently, into Profiles; a column keeps its
// values exactly up to Options.ExactLimit and is summarised by a quantile
// sketch beyond, so memory grows with columns, not rows. Exact profiles give
// scipy/sklearn's numbers; sketched ones agree on the verdicts (Report.Mode
// says which). The column kinds come from the first SchemaSampleRows rows of
// the reference.
func Analyze(reference, current Rows, opts Options) (*Report, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	schema, ref, err := sampleSchema(reference, opts)
	if err != nil {
		return nil, err
	}
	var refP, curP *Profile
	var refErr, curErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		refP, refErr = ProfileRows(ref, schema, opts)
	}()
	curP, curErr = ProfileRows(current, schema, opts)
	wg.Wait()
	if refErr != nil {
		return nil, fmt.Errorf("analysis: reading reference: %w", refErr)
	}
	if curErr != nil {
		return nil, fmt.Errorf("analysis: reading current window: %w", curErr)
	}
	if curP.Rows > 0 {
		// Checked on rows, not on a header: an empty window is no data.
		if err := checkColumns(schema, current.Columns(), opts); err != nil {
			return nil, err
		}
	}
	return CompareProfiles(refP, curP, opts)
}

// prefixRows replays buffered rows before continuing with the stream.
// sampleSchema infers the schema from the first SchemaSampleRows rows of the
// reference, and returns the reference with those rows put back in front.
func sampleSchema(reference Rows, opts Options) (*Schema, Rows, error) {
	var sample [][]string
	for len(sample) < SchemaSampleRows && reference.Next() {
		sample = append(sample, slices.Clone(reference.Row()))
	}
	if err := reference.Err(); err != nil {
		return nil, nil, fmt.Errorf("analysis: reading reference: %w", err)
	}
	schema, err := InferSchema(reference.Columns(), sample, opts)
	if err != nil {
		return nil, nil, err
	}
	return schema, &prefixRows{Rows: reference, buf: sample, i: -1}, nil
}

// prefixRows is Rows with buf, rows already read from it, in front.
type prefixRows struct {
	Rows
	buf [][]string
	i   int
}

func (p *prefixRows) EstimatedRows() int64 {
	if e, ok := p.Rows.(RowEstimator); ok {
		return e.EstimatedRows()
	}
	return 0
}

func (p *prefixRows) Next() bool {
	if p.i+1 < len(p.buf) {
		p.i++
		return true
	}
	p.i = len(p.buf)
	p.buf = nil
	return p.Rows.Next()
}

func (p *prefixRows) Row() []string {
	if p.buf != nil && p.i < len(p.buf) {
		return p.buf[p.i]
	}
	return p.Rows.Row()
}

// ErrSchemaMismatch is returned when two profiles were not made with the
// same schema.
var ErrSchemaMismatch = errors.New("analysis: profiles have different schemas")

// CompareProfiles builds the report of a current window from its profile and
// the reference's. Both must be made with the same Schema (InferSchema on the
// reference) — for a sharded window, profile each shard with NewProfiler,
// Merge them, then compare. It sorts exact samples in place and caches
// moments, so it must not run concurrently on the same profiles.
func CompareProfiles(ref, cur *Profile, opts Options) (*Report, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	if len(ref.Columns) != len(cur.Columns) {
		return nil, fmt.Errorf("%w: %d and %d columns", ErrSchemaMismatch, len(ref.Columns), len(cur.Columns))
	}
	if err := checkClasses(SideCurrent, cur, opts); err != nil {
		return nil, err
	}
	rep := &Report{
		Rows:     RowCounts{Reference: ref.Rows, Current: cur.Rows, Invalid: cur.Invalid, ReferenceInvalid: ref.Invalid},
		Quality:  map[string]float64{},
		Features: []FeatureReport{},
		Mode:     "exact",
	}
	if !ref.IsExact() || !cur.IsExact() {
		rep.Mode = "sketch"
	}
	type job struct {
		i   int
		out *FeatureReport
	}
	var jobs []job
	var predIdx = -1
	for i, c := range cur.Columns {
		if ref.Columns[i].Name != c.Name {
			return nil, fmt.Errorf("%w: column %d is %q and %q", ErrSchemaMismatch, i, ref.Columns[i].Name, c.Name)
		}
		switch c.Role {
		case RoleFeature:
			rep.Features = append(rep.Features, FeatureReport{})
		case RoleScore:
			// The score's drift, when the reference has scores; else the
			// prediction's (a training set may carry labels only).
			if ref.Columns[i].N() > 0 || predIdx < 0 {
				predIdx = i
			}
		case RolePrediction:
			if predIdx < 0 || cur.Columns[predIdx].Role != RoleScore || ref.Columns[predIdx].N() == 0 {
				predIdx = i
			}
		}
	}
	k := 0
	for i, c := range cur.Columns {
		if c.Role == RoleFeature {
			jobs = append(jobs, job{i, &rep.Features[k]})
			k++
		}
	}
	if predIdx >= 0 {
		rep.PredictionDrift = &FeatureReport{}
		jobs = append(jobs, job{predIdx, rep.PredictionDrift})
	}
	// Drift tests are independent: run them on all cores.
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			*j.out = compareColumn(ref.Columns[j.i], cur.Columns[j.i], opts)
			<-sem
		}()
	}
	wg.Wait()

	for _, f := range rep.Features {
		q := f.Quality
		rep.Quality["type_mismatches"] += float64(q.TypeMismatches)
		rep.Quality["missing_cells"] += float64(q.Missing)
		rep.Quality["non_finite"] += float64(q.NonFinite)
		rep.Quality["out_of_range"] += q.OutOfRange
		rep.Quality["unseen_categories"] += float64(q.UnseenCategories)
		if q.Constant {
			rep.Quality["constant_columns"]++
		}
		if f.MissingRatio == 1 {
			rep.Quality["all_missing_columns"]++
		}
		if f.Drift.Note == "" {
			rep.DatasetDrift.Tested++
			if f.Drift.Drifted {
				rep.DatasetDrift.DriftedFeatures++
			}
		}
	}
	rep.Quality["duplicate_event_ids"] = float64(cur.DuplicateIDs)
	rep.Quality["invalid_rows"] = float64(cur.Invalid)
	rep.DatasetDrift.Threshold = opts.DatasetDriftShare
	rep.DatasetDrift.Denominator = ShareDenominator
	if rep.DatasetDrift.Tested > 0 {
		rep.DatasetDrift.Share = float64(rep.DatasetDrift.DriftedFeatures) / float64(rep.DatasetDrift.Tested)
		rep.DatasetDrift.Drifted = rep.DatasetDrift.Share >= opts.DatasetDriftShare
	}

	if i := cur.Schema.index(RoleLatency); i >= 0 && cur.Columns[i].N() > 0 {
		v, w := cur.Columns[i].Values.Sorted()
		rep.Latency = &Latency{P50: quantileWeighted(v, w, 0.50), P95: quantileWeighted(v, w, 0.95), P99: quantileWeighted(v, w, 0.99)}
	}
	if cur.TimeN > 0 && cur.TimeMax > cur.TimeMin {
		span := cur.TimeMax - cur.TimeMin
		rep.Throughput = &Throughput{RowsPerSecond: float64(cur.Rows) / span, Seconds: span}
	}
	if cur.Perf != nil {
		rep.Rows.Labeled = cur.Perf.Labeled
		rep.Quality["score_non_finite"] = float64(cur.Perf.ScoreNonFinite)
		rep.Quality["prediction_missing"] = float64(cur.Perf.PredictionMissing)
		performance(rep, cur.Perf, opts)
	}
	if opts.Baseline != nil {
		rep.Violations = opts.Baseline.Check(rep, cur)
	}
	if opts.RowSample > 0 && ref.Sample != nil && cur.Sample != nil {
		if err := rowLevel(rep, ref, cur, opts); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// compareColumn computes the drift and quality of one column.
func compareColumn(ref, cur *ColumnProfile, opts Options) FeatureReport {
	fr := FeatureReport{Name: cur.Name, Kind: cur.Kind, KindNote: cur.KindNote, Quality: &FeatureQuality{
		Missing: cur.Missing, TypeMismatches: cur.Mismatch, NonFinite: cur.NonFinite}}
	if cur.Count > 0 {
		fr.MissingRatio = float64(cur.Missing) / float64(cur.Count)
	}
	if ref.Count > 0 {
		fr.Quality.ReferenceMissing = float64(ref.Missing) / float64(ref.Count)
	}
	if cur.Kind == KindNumeric {
		fr.Drift = numericDrift(ref, cur, opts, fr.Quality)
	} else {
		fr.Drift = categoricalDrift(ref, cur, opts, fr.Quality)
	}
	fr.Histogram = histogram(ref, cur)
	return fr
}

// histogram summarises both windows of a column for display; nil when a
// side has no values.
func histogram(ref, cur *ColumnProfile) *Histogram {
	if cur.Kind == KindNumeric {
		if ref.N() == 0 || cur.N() == 0 {
			return nil
		}
		lo, hi := math.Min(ref.Min, cur.Min), math.Max(ref.Max, cur.Max)
		bins := HistogramBins
		if lo == hi {
			bins = 1
		}
		edges := make([]float64, bins+1)
		for i := range edges {
			edges[i] = lo + (hi-lo)*float64(i)/float64(bins)
		}
		edges[bins] = hi
		bin := func(x float64) int {
			if hi > lo {
				return min(int((x-lo)/(hi-lo)*float64(bins)), bins-1)
			}
			return bins - 1
		}
		// bin never decreases along the sorted values (each operation in
		// it is monotone): each bin is a run of them, found by bisection
		// instead of binning every value (the same counts, added in the
		// same order).
		count := func(c *ColumnProfile) []float64 {
			v, w := c.Values.Sorted()
			out := make([]float64, bins)
			for start := 0; start < len(v); {
				b := bin(v[start])
				end := start + sort.Search(len(v)-start, func(k int) bool { return bin(v[start+k]) > b })
				if w == nil {
					out[b] = float64(end - start)
				} else {
					for _, x := range w[start:end] {
						out[b] += x
					}
				}
				start = end
			}
			return shares(out)
		}
		return &Histogram{Edges: edges, Reference: count(ref), Current: count(cur)}
	}
	total := map[string]int64{}
	for k, n := range ref.Categories {
		total[k] += n
	}
	for k, n := range cur.Categories {
		total[k] += n
	}
	if len(total) == 0 {
		return nil
	}
	labels := make([]string, 0, len(total))
	for k := range total {
		labels = append(labels, k)
	}
	sort.Slice(labels, func(i, j int) bool {
		if total[labels[i]] != total[labels[j]] {
			return total[labels[i]] > total[labels[j]]
		}
		return labels[i] < labels[j]
	})
	rest := len(labels) > HistogramBins || ref.Other > 0 || cur.Other > 0
	if len(labels) > HistogramBins {
		labels = labels[:HistogramBins]
	}
	count := func(c *ColumnProfile) []float64 {
		out := make([]float64, len(labels), len(labels)+1)
		named := int64(0)
		for i, k := range labels {
			out[i] = float64(c.Categories[k])
			named += c.Categories[k]
		}
		if rest {
			all := c.Other
			for _, n := range c.Categories {
				all += n
			}
			out = append(out, float64(all-named))
		}
		return shares(out)
	}
	h := &Histogram{Labels: labels, Reference: count(ref), Current: count(cur)}
	if rest {
		h.Labels = append(h.Labels, OtherLabel)
	}
	return h
}

// shares divides counts by their sum (all zero stays zero).
func shares(counts []float64) []float64 {
	sum := 0.0
	for _, c := range counts {
		sum += c
	}
	if sum > 0 {
		for i := range counts {
			counts[i] /= sum
		}
	}
	return counts
}

// threshold is the fixed threshold of a method: under auto the p-value
// level α of ks and chisquare, or the practical floor of the distances;
// otherwise the configured or default threshold.
func threshold(method string, opts Options, auto bool) float64 {
	if auto && isPValueMethod(method) {
		return opts.withDefaults().FalseAlarmRate
	}
	if opts.DriftThreshold > 0 {
		return opts.DriftThreshold
	}
	if auto && method == MethodWasserstein {
		return AutoNumericFloor
	}
	if auto && method == MethodJensenShannon {
		return AutoCategoricalFloor
	}
	return DefaultThreshold(method)
}

// autoThreshold is the threshold auto applies to a current column of n
// values: calibrated to the window's size for the distances, the fixed
// p-value level for ks and chisquare.
func autoThreshold(method string, ref *ColumnProfile, n int64, opts Options) (float64, string) {
	floor := threshold(method, opts, true)
	if isPValueMethod(method) {
		return floor, ThresholdFixed
	}
	return calibratedThreshold(ref, n, calSafety*opts.FalseAlarmRate, floor)
}

func verdict(method string, stat float64, p *float64, thr float64) Drift {
	d := Drift{Method: method, Statistic: stat, PValue: p, Threshold: thr, ThresholdSource: ThresholdFixed}
	if isPValueMethod(method) {
		d.Drifted = p != nil && *p < thr
	} else {
		d.Drifted = stat >= thr
	}
	if math.IsNaN(stat) || math.IsInf(stat, 0) {
		d.Statistic, d.Drifted, d.Note = 0, false, "statistic is not finite"
	}
	return d
}

func skipped(method string, opts Options, note string) Drift {
	auto := opts.DriftMethod == MethodAuto
	return Drift{Method: method, Threshold: threshold(method, opts, auto), ThresholdSource: ThresholdFixed, Note: note}
}

// numericDrift runs the configured test on a numeric column. Under auto a
// reference of at most AutoSmallN values uses ks (p < 0.05), a larger one
// the normed Wasserstein distance (>= 0.1).
func numericDrift(ref, cur *ColumnProfile, opts Options, q *FeatureQuality) Drift {
	method, auto := opts.DriftMethod, opts.DriftMethod == MethodAuto
	if auto {
		method = MethodWasserstein
		if ref.N() <= int64(opts.AutoSmallN) {
			method = MethodKS
		}
	}
	if cur.N() > 0 {
		cv, cw := cur.Values.Sorted()
		if ref.N() > 0 {
			q.OutOfRange = outside(cv, cw, ref.Min, ref.Max)
		}
		q.Constant = cur.Min == cur.Max
		if ref.N() == 0 || cur.N() == 0 {
			return skipped(method, opts, "no values")
		}
		rv, rw := ref.Values.Sorted()
		thr, src := threshold(method, opts, auto), ThresholdFixed
		if auto {
			thr, src = autoThreshold(method, ref, cur.N(), opts)
		}
		switch method {
		case MethodKS:
			d := ksStatisticWeighted(rv, rw, cv, cw)
			p := ksPValue(d, ref.N(), cur.N())
			if rw == nil && cw == nil && max(ref.N(), cur.N()) <= ksMaxExactN {
				// scipy reports the exact branch's statistic as h/lcm.
				g := gcd(ref.N(), cur.N())
				lcm := float64((ref.N() / g) * cur.N())
				d = math.RoundToEven(d*lcm) / lcm
			}
			return verdict(method, d, &p, thr)
		case MethodWasserstein:
			w := wassersteinWeighted(rv, rw, cv, cw) / math.Max(ref.Std(), StdFloor)
			d := verdict(method, w, nil, thr)
			d.ThresholdSource = src
			return d
		default:
			edges := quantileEdgesWeighted(rv, rw, opts.Bins)
			rc, cc := binCounts(rv, rw, edges), binCounts(cv, cw, edges)
			return histogramDrift(method, rc, cc, thr)
		}
	}
	return skipped(method, opts, "no values in the current window")
}

// outside is the weight of the sorted values v below lo or above hi.
func outside(v, w []float64, lo, hi float64) float64 {
	below := sort.SearchFloat64s(v, lo) // v[:below] < lo
	above := sort.Search(len(v), func(i int) bool { return v[i] > hi })
	if w == nil {
		return float64(below + len(v) - above)
	}
	n := 0.0
	for i := range below {
		n += w[i]
	}
	for i := above; i < len(v); i++ {
		n += w[i]
	}
	return n
}

func histogramDrift(method string, rc, cc []float64, thr float64) Drift {
	switch method {
	case MethodChiSquare:
		s, p := ChiSquare(rc, cc)
		return verdict(method, s, &p, thr)
	case MethodPSI:
		return verdict(method, PSI(rc, cc), nil, thr)
	case MethodJensenShannon:
		return verdict(method, JensenShannon(rc, cc), nil, thr)
	case MethodHellinger:
		return verdict(method, Hellinger(rc, cc), nil, thr)
	case MethodLInf:
		return verdict(method, LInf(rc, cc), nil, thr)
	}
	return Drift{Method: method, Note: "unknown method"}
}

// categoricalDrift runs the test on category counts over the union of both
// windows' categories (the overflow bucket is one more category). Under auto
// a reference of at most AutoSmallN values uses chisquare (p < 0.05), a
// larger one the Jensen–Shannon distance (>= 0.1). The numeric-only methods
// map to their categorical counterparts: ks → chisquare, wasserstein →
// jensenshannon.
func categoricalDrift(ref, cur *ColumnProfile, opts Options, q *FeatureQuality) Drift {
	method, auto := opts.DriftMethod, opts.DriftMethod == MethodAuto
	nref := ref.Count - ref.Missing
	ncur := cur.Count - cur.Missing
	switch method {
	case MethodAuto:
		method = MethodJensenShannon
		if nref <= int64(opts.AutoSmallN) {
			method = MethodChiSquare
		}
	case MethodKS:
		method = MethodChiSquare
	case MethodWasserstein:
		method = MethodJensenShannon
	}
	keys := make([]string, 0, len(ref.Categories)+len(cur.Categories))
	for k := range ref.Categories {
		keys = append(keys, k)
	}
	for k, n := range cur.Categories {
		if _, ok := ref.Categories[k]; !ok {
			keys = append(keys, k)
			q.UnseenCategories += n
		}
	}
	sort.Strings(keys)
	rc := make([]float64, 0, len(keys)+1)
	cc := make([]float64, 0, len(keys)+1)
	for _, k := range keys {
		rc = append(rc, float64(ref.Categories[k]))
		cc = append(cc, float64(cur.Categories[k]))
	}
	if ref.Other > 0 || cur.Other > 0 {
		rc = append(rc, float64(ref.Other))
		cc = append(cc, float64(cur.Other))
	}
	distinct := len(cur.Categories)
	if cur.Other > 0 {
		distinct++
	}
	q.Constant = ncur > 0 && distinct == 1
	if nref == 0 || ncur == 0 {
		return skipped(method, opts, "no values")
	}
	thr, src := threshold(method, opts, auto), ThresholdFixed
	if auto {
		thr, src = autoThreshold(method, ref, ncur, opts)
	}
	d := histogramDrift(method, rc, cc, thr)
	d.ThresholdSource = src
	return d
}

// sortLabels orders class labels as sklearn's unique_labels would: by value
// when every label is a number, else as strings.
func sortLabels(labels []string) {
	numeric := true
	for _, l := range labels {
		if _, err := strconv.ParseFloat(l, 64); err != nil {
			numeric = false
			break
		}
	}
	if numeric {
		sort.Slice(labels, func(i, j int) bool {
			a, _ := strconv.ParseFloat(labels[i], 64)
			b, _ := strconv.ParseFloat(labels[j], 64)
			return a < b
		})
		return
	}
	sort.Strings(labels)
}
