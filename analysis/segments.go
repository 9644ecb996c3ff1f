package analysis

import (
	"fmt"
	"math"
	"sort"
	"strconv"

	"gonum.org/v1/gonum/stat/distuv"
)

// Segment is one slice of the window where the model does worse than on
// the rest of it.
type Segment struct {
	// Filter says which rows: one condition on a feature, or two joined
	// by "and" (numeric bins as "a < x <= b", categories as "x = v").
	Filter string `json:"filter"`
	Rows   int    `json:"rows"`
	// Metric is accuracy (classification, labeled rows), mae (regression,
	// labeled rows) or estimated_accuracy (binary or multiclass with
	// scores, unlabeled rows: the calibrated probability of each row's
	// prediction being right, as CBPE computes it).
	Metric string  `json:"metric"`
	Value  float64 `json:"value"`
	// Delta is Value minus the metric on the rest of the sampled rows.
	Delta float64 `json:"delta"`
	// PValue is the one-sided Welch t-test of the slice against the rest,
	// adjusted for the number of slices tested (BenjaminiHochberg).
	PValue float64 `json:"p_value"`
}

// Weak-segment parameters: numeric features are cut at their quintiles,
// categorical ones keep their segmentCategories most frequent values, pairs
// are formed among the segmentPairFeatures features with the weakest single
// slices, and segments with an adjusted p-value below segmentFDR are
// reported, at most maxSegments of them.
const (
	segmentBins         = 5
	segmentCategories   = 20
	segmentPairFeatures = 10
	segmentFDR          = 0.05
	maxSegments         = 10
)

// WelchT returns the one-sided p-value of Welch's t-test that the mean of
// sample a (n, mean, variance with ddof 1) is below that of sample b, as
// scipy.stats.ttest_ind(a, b, equal_var=False, alternative="less"). It is
// NaN when both variances are 0.
func WelchT(na, ma, va, nb, mb, vb float64) (t, p float64) {
	sa, sb := va/na, vb/nb
	se := math.Sqrt(sa + sb)
	if se == 0 {
		return math.NaN(), math.NaN()
	}
	t = (ma - mb) / se
	df := (sa + sb) * (sa + sb) / (sa*sa/(na-1) + sb*sb/(nb-1))
	return t, distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.CDF(t)
}

// BenjaminiHochberg returns the Benjamini–Hochberg (1995) adjusted
// p-values: p_(i)·m/i made monotone from the largest down and capped at 1,
// as statsmodels' multipletests(method="fdr_bh").
func BenjaminiHochberg(p []float64) []float64 {
	m := len(p)
	idx := make([]int, m)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return p[idx[a]] < p[idx[b]] })
	out := make([]float64, m)
	run := 1.0
	for k := m - 1; k >= 0; k-- {
		i := idx[k]
		run = math.Min(run, p[i]*float64(m)/float64(k+1))
		out[i] = run
	}
	return out
}

// slicing cuts one feature into slices: code[i] is row i's slice (-1: in
// none), names the slice conditions.
type slicing struct {
	feature int
	code    []int
	names   []string
}

func numericSlicing(name string, col []float64) slicing {
	s := slicing{code: make([]int, len(col))}
	var vals []float64
	for _, v := range col {
		if !math.IsNaN(v) {
			vals = append(vals, v)
		}
	}
	sort.Float64s(vals)
	var edges []float64
	for k := 1; k < segmentBins; k++ {
		e := quantileWeighted(vals, nil, float64(k)/segmentBins)
		if len(edges) == 0 || e > edges[len(edges)-1] {
			edges = append(edges, e)
		}
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }
	for k := 0; k <= len(edges); k++ {
		switch {
		case len(edges) == 0:
			s.names = append(s.names, name+" is present")
		case k == 0:
			s.names = append(s.names, fmt.Sprintf("%s <= %s", name, f(edges[0])))
		case k == len(edges):
			s.names = append(s.names, fmt.Sprintf("%s > %s", name, f(edges[k-1])))
		default:
			s.names = append(s.names, fmt.Sprintf("%s < %s <= %s", f(edges[k-1]), name, f(edges[k])))
		}
	}
	missing := len(s.names)
	s.names = append(s.names, name+" is missing")
	for i, v := range col {
		if math.IsNaN(v) {
			s.code[i] = missing
		} else {
			s.code[i] = sort.SearchFloat64s(edges, v) // bins (e_{k-1}, e_k]
		}
	}
	return s
}

func categoricalSlicing(name string, t *rowTable, j int, rows []int) slicing {
	counts := map[string]int{}
	for _, i := range rows {
		counts[t.rows[i][j]]++
	}
	keys := mostFrequent(counts, segmentCategories)
	s := slicing{code: make([]int, len(rows))}
	at := map[string]int{}
	for k, v := range keys {
		at[v] = k
		if v == "" {
			s.names = append(s.names, name+" is missing")
		} else {
			s.names = append(s.names, fmt.Sprintf("%s = %s", name, v))
		}
	}
	for r, i := range rows {
		if k, ok := at[t.rows[i][j]]; ok {
			s.code[r] = k
		} else {
			s.code[r] = -1
		}
	}
	return s
}

// WeakSegments finds the slices of rows where a per-row quality value y
// (1/0 correct, an expected correctness, or an absolute error when
// higherWorse) is worst: every slice of one feature (numeric quintiles,
// frequent categories, missing) and every pair of slices of two features
// among the segmentPairFeatures features with the weakest single slices.
// Slices with fewer than minRows rows, or leaving fewer than minRows
// outside, are not tested. Each slice is tested against the rest of the
// rows (WelchT, one-sided), the p-values adjusted together
// (BenjaminiHochberg); slices with an adjusted p below segmentFDR are
// returned, smallest p first (ties: worst delta first), at most
// maxSegments.
func WeakSegments(slicings []slicing, y []float64, higherWorse bool, metric string, minRows int) []Segment {
	n := len(y)
	var total, totalSq float64
	for _, v := range y {
		total += v
		totalSq += v * v
	}
	type cand struct {
		seg Segment
		p   float64
	}
	var cands []cand
	test := func(name string, cnt int, sum, sq float64) float64 {
		if cnt < minRows || n-cnt < minRows {
			return math.NaN()
		}
		na, nb := float64(cnt), float64(n-cnt)
		ma, mb := sum/na, (total-sum)/nb
		va := (sq - na*ma*ma) / (na - 1)
		vb := (totalSq - sq - nb*mb*mb) / (nb - 1)
		va, vb = math.Max(va, 0), math.Max(vb, 0)
		var p float64
		if higherWorse {
			_, p = WelchT(nb, mb, vb, na, ma, va)
		} else {
			_, p = WelchT(na, ma, va, nb, mb, vb)
		}
		if math.IsNaN(p) {
			return p
		}
		cands = append(cands, cand{Segment{Filter: name, Rows: cnt, Metric: metric, Value: ma, Delta: ma - mb}, p})
		return p
	}
	type featureScore struct {
		k    int
		best float64
	}
	var scores []featureScore
	for k, s := range slicings {
		cnt := make([]int, len(s.names))
		sum := make([]float64, len(s.names))
		sq := make([]float64, len(s.names))
		for i, c := range s.code {
			if c >= 0 {
				cnt[c]++
				sum[c] += y[i]
				sq[c] += y[i] * y[i]
			}
		}
		best := 1.0
		for c, name := range s.names {
			if p := test(name, cnt[c], sum[c], sq[c]); p < best {
				best = p
			}
		}
		scores = append(scores, featureScore{k, best})
	}
	sort.SliceStable(scores, func(a, b int) bool { return scores[a].best < scores[b].best })
	scores = scores[:min(len(scores), segmentPairFeatures)]
	for a := range scores {
		for b := a + 1; b < len(scores); b++ {
			s, u := slicings[scores[a].k], slicings[scores[b].k]
			if scores[a].k > scores[b].k {
				s, u = u, s
			}
			w := len(u.names)
			cnt := make([]int, len(s.names)*w)
			sum := make([]float64, len(cnt))
			sq := make([]float64, len(cnt))
			for i := range y {
				c, d := s.code[i], u.code[i]
				if c >= 0 && d >= 0 {
					cnt[c*w+d]++
					sum[c*w+d] += y[i]
					sq[c*w+d] += y[i] * y[i]
				}
			}
			for c := range s.names {
				for d := range u.names {
					test(s.names[c]+" and "+u.names[d], cnt[c*w+d], sum[c*w+d], sq[c*w+d])
				}
			}
		}
	}
	ps := make([]float64, len(cands))
	for i, c := range cands {
		ps[i] = c.p
	}
	adj := BenjaminiHochberg(ps)
	var out []cand
	for i, c := range cands {
		if adj[i] < segmentFDR {
			c.seg.PValue = adj[i]
			out = append(out, c)
		}
	}
	sort.SliceStable(out, func(a, b int) bool {
		if out[a].p != out[b].p {
			return out[a].p < out[b].p
		}
		if higherWorse {
			return out[a].seg.Delta > out[b].seg.Delta
		}
		return out[a].seg.Delta < out[b].seg.Delta
	})
	segs := make([]Segment, 0, min(len(out), maxSegments))
	for _, c := range out[:min(len(out), maxSegments)] {
		segs = append(segs, c.seg)
	}
	return segs
}

// weakSegments fills rep.Segments from the current row sample: the labeled
// rows when there are at least 2·minRows of them, else (classification
// with CBPE: binary with a score, multiclass with class scores) each
// row's calibrated probability that its prediction is right.
func weakSegments(rep *Report, cur *rowTable, opts Options) {
	if cur == nil || opts.Task == "" || len(cur.features) == 0 {
		return
	}
	minRows := opts.SegmentMinRows
	if minRows == 0 {
		minRows = max(50, cur.n/100)
	}
	var rows []int
	var y []float64
	metric, higherWorse := "accuracy", false
	for i := range cur.n {
		t := cur.label(cur.target, i)
		if t == "" {
			continue
		}
		switch opts.Task {
		case TaskRegression:
			yt, yh := cur.num[cur.target][i], math.NaN()
			if cur.pred >= 0 {
				yh = cur.num[cur.pred][i]
			}
			if math.IsNaN(yt) || math.IsNaN(yh) {
				continue
			}
			rows, y = append(rows, i), append(y, math.Abs(yh-yt))
			metric, higherWorse = "mae", true
		case TaskBinary:
			s := math.NaN()
			if cur.score >= 0 {
				s = cur.num[cur.score][i]
			}
			pos, ok := cur.predicted(i, s, opts)
			if !ok {
				continue
			}
			rows, y = append(rows, i), append(y, b2f(pos == (t == opts.PositiveLabel)))
		default:
			p := cur.label(cur.pred, i)
			if p == "" {
				continue
			}
			rows, y = append(rows, i), append(y, b2f(p == t))
		}
	}
	if len(rows) < 2*minRows && cur.right != nil {
		rows, y, metric, higherWorse = rows[:0], y[:0], "estimated_accuracy", false
		for i, c := range cur.right {
			if !math.IsNaN(c) {
				rows, y = append(rows, i), append(y, c)
			}
		}
	}
	if len(rows) < 2*minRows {
		return
	}
	var slicings []slicing
	for _, j := range cur.features {
		name := cur.schema.Columns[j].Name
		var s slicing
		if col, ok := cur.num[j]; ok {
			sub := make([]float64, len(rows))
			for r, i := range rows {
				sub[r] = col[i]
			}
			s = numericSlicing(name, sub)
		} else {
			s = categoricalSlicing(name, cur, j, rows)
		}
		s.feature = j
		slicings = append(slicings, s)
	}
	rep.Segments = WeakSegments(slicings, y, higherWorse, metric, minRows)
}

// mostFrequent returns at most k of the counted categories, most frequent
// first and ties in name order, so the choice is deterministic.
func mostFrequent(counts map[string]int, k int) []string {
	keys := make([]string, 0, len(counts))
	for c := range counts {
		keys = append(keys, c)
	}
	sort.Slice(keys, func(a, b int) bool {
		if counts[keys[a]] != counts[keys[b]] {
			return counts[keys[a]] > counts[keys[b]]
		}
		return keys[a] < keys[b]
	})
	return keys[:min(len(keys), k)]
}
