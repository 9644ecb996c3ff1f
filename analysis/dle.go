package analysis

import (
	"math"
	"sort"
	"sync"
)

// Boosting parameters of the DLE error models: rounds, learning rate,
// quantile bins per feature, and the smallest leaf.
const (
	gbmRounds  = 100
	gbmRate    = 0.1
	gbmBins    = 32
	gbmMinLeaf = 20
)

// BoostedTrees is a least-squares gradient-boosted ensemble of depth-2
// regression trees on quantile-binned features (Friedman, 2001, with
// histogram splits as LightGBM): each round fits a tree to the residuals
// and adds it scaled by gbmRate. Missing values (NaN) get a bin of their
// own. Depth 2 captures interactions of two features; binning makes it
// insensitive to scale and outliers and each round O(rows · features).
type BoostedTrees struct {
	base  float64
	edges [][]float64 // per feature, ascending bin edges
	trees []depth2
}

// depth2 splits on (f, bin ≤ b), then each side on its own (f, b) into two
// leaves: leaf[0..1] left side, leaf[2..3] right side.
type depth2 struct {
	f, b   int
	sf, sb [2]int
	leaf   [4]float64
}

// FitBoostedTrees fits y from the rows of x (x[i] is one row; NaN missing).
func FitBoostedTrees(x [][]float64, y []float64) *BoostedTrees {
	n := len(y)
	m := &BoostedTrees{}
	if n == 0 {
		return m
	}
	d := len(x[0])
	for j := range d {
		var v []float64
		for _, r := range x {
			if !math.IsNaN(r[j]) {
				v = append(v, r[j])
			}
		}
		sort.Float64s(v)
		var e []float64
		for k := 1; k < gbmBins && len(v) > 0; k++ {
			q := v[min(len(v)-1, k*len(v)/gbmBins)]
			if len(e) == 0 || q > e[len(e)-1] {
				e = append(e, q)
			}
		}
		m.edges = append(m.edges, e)
	}
	bins := m.bin(x)
	for _, v := range y {
		m.base += v
	}
	m.base /= float64(n)
	pred := make([]float64, n)
	for i := range pred {
		pred[i] = m.base
	}
	res := make([]float64, n)
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	for range gbmRounds {
		for i := range res {
			res[i] = y[i] - pred[i]
		}
		t := depth2{}
		var ok bool
		t.f, t.b, ok = m.bestSplit(bins, res, all)
		if !ok {
			break
		}
		var sides [2][]int
		for _, i := range all {
			s := 0
			if bins[i][t.f] > t.b {
				s = 1
			}
			sides[s] = append(sides[s], i)
		}
		for s, rows := range sides {
			f, b, split := m.bestSplit(bins, res, rows)
			t.sf[s], t.sb[s] = f, b
			if !split {
				t.sf[s], t.sb[s] = 0, math.MaxInt
			}
			var sum [2]float64
			var cnt [2]int
			for _, i := range rows {
				k := 0
				if bins[i][t.sf[s]] > t.sb[s] {
					k = 1
				}
				sum[k] += res[i]
				cnt[k]++
			}
			for k := range 2 {
				if cnt[k] > 0 {
					t.leaf[2*s+k] = gbmRate * sum[k] / float64(cnt[k])
				}
			}
		}
		for i := range pred {
			pred[i] += t.value(bins[i])
		}
		m.trees = append(m.trees, t)
	}
	return m
}

func (t *depth2) value(b []int) float64 {
	s := 0
	if b[t.f] > t.b {
		s = 1
	}
	k := 0
	if b[t.sf[s]] > t.sb[s] {
		k = 1
	}
	return t.leaf[2*s+k]
}

// bin maps rows to bin numbers: values v go to searchsorted(edges, v) (bins
// (−∞, e1], (e1, e2], …), NaN to the last bin.
func (m *BoostedTrees) bin(x [][]float64) [][]int {
	out := make([][]int, len(x))
	for i, r := range x {
		b := make([]int, len(r))
		for j, v := range r {
			if math.IsNaN(v) {
				b[j] = gbmBins
			} else {
				b[j] = sort.SearchFloat64s(m.edges[j], v)
			}
		}
		out[i] = b
	}
	return out
}

// bestSplit is the (feature, bin) split of rows that most reduces the sum
// of squared residuals, each side keeping at least gbmMinLeaf rows.
func (m *BoostedTrees) bestSplit(bins [][]int, res []float64, rows []int) (f, b int, ok bool) {
	if len(rows) < 2*gbmMinLeaf {
		return 0, 0, false
	}
	var total float64
	for _, i := range rows {
		total += res[i]
	}
	n := float64(len(rows))
	best := total * total / n
	var sum [gbmBins + 1]float64
	var cnt [gbmBins + 1]int
	for j := range m.edges {
		clear(sum[:])
		clear(cnt[:])
		for _, i := range rows {
			k := bins[i][j]
			sum[k] += res[i]
			cnt[k]++
		}
		var ls float64
		lc := 0
		for k := 0; k < gbmBins; k++ {
			ls += sum[k]
			lc += cnt[k]
			rc := len(rows) - lc
			if lc < gbmMinLeaf || rc < gbmMinLeaf {
				continue
			}
			rs := total - ls
			if g := ls*ls/float64(lc) + rs*rs/float64(rc); g > best+1e-12 {
				best, f, b, ok = g, j, k, true
			}
		}
	}
	return f, b, ok
}

// Predict is the model's value at each row.
func (m *BoostedTrees) Predict(x [][]float64) []float64 {
	out := make([]float64, len(x))
	for i, b := range m.bin(x) {
		v := m.base
		for k := range m.trees {
			v += m.trees[k].value(b)
		}
		out[i] = v
	}
	return out
}

// dleFolds is the number of cross-fitted error models per loss.
const dleFolds = 5

// DLE estimates a regression model's mae, mse and rmse on a window without
// its labels (direct loss estimation, NannyML): on the reference, models of
// the absolute and the squared error from the features and the prediction
// (BoostedTrees) are cross-fitted over dleFolds folds (rows i%dleFolds), and
// each loss's estimate is the mean over the window's rows of the fold
// models' average prediction (floored at 0; rmse = √mse). The band is ±1.96
// standard errors combining the window's sampling error, s²/n with s the
// standard deviation of the reference rows' loss around their out-of-fold
// prediction, and the error models' own, the delete-a-fold jackknife
// variance (K−1)/K · Σ_k (θ_k − θ̄)² of the fold models' estimates.
func DLE(refX [][]float64, refErr []float64, curX [][]float64) map[string]Estimate {
	if len(refX) < 2*dleFolds || len(curX) == 0 {
		return nil
	}
	fit := dleFit(refX, refErr)
	n := float64(len(curX))
	est := func(l int) (value, se float64) {
		var theta [dleFolds]float64
		for k, m := range fit.models[l] {
			for _, v := range m.Predict(curX) {
				theta[k] += math.Max(v, 0)
			}
			theta[k] /= n
		}
		var mean float64
		for _, t := range theta {
			mean += t
		}
		mean /= dleFolds
		var jack float64
		for _, t := range theta {
			jack += (t - mean) * (t - mean)
		}
		jack *= float64(dleFolds-1) / dleFolds
		return mean, math.Sqrt(fit.s[l]*fit.s[l]/n + jack)
	}
	mae, seAbs := est(0)
	mse, seSq := est(1)
	out := map[string]Estimate{
		"mae": {Value: mae, Lower: math.Max(mae-1.96*seAbs, 0), Upper: mae + 1.96*seAbs},
		"mse": {Value: mse, Lower: math.Max(mse-1.96*seSq, 0), Upper: mse + 1.96*seSq},
	}
	mseBand := out["mse"]
	out["rmse"] = Estimate{Value: math.Sqrt(mse), Lower: math.Sqrt(mseBand.Lower), Upper: math.Sqrt(mseBand.Upper)}
	return out
}

// dleModels are the cross-fitted error models of one reference: per loss
// (absolute, squared) one model per fold, and s, the standard deviation of
// the loss around its out-of-fold prediction.
type dleModels struct {
	models [2][dleFolds]*BoostedTrees
	s      [2]float64
}

// dleCache keeps the error models per reference content for the life of
// the process: the worker re-reads a model's reference for every window,
// and fitting is most of DLE's cost.
var dleCache = struct {
	sync.Mutex
	m map[uint64]*dleModels
}{m: map[uint64]*dleModels{}}

// dleCacheMax bounds dleCache; it is emptied when full.
const dleCacheMax = 256

func dleFit(refX [][]float64, refErr []float64) *dleModels {
	flat := make([]float64, 0, len(refX)*(len(refX[0])+1))
	for i, r := range refX {
		flat = append(append(flat, r...), refErr[i])
	}
	key := fingerprint("dle", float64(len(refX[0])), flat)
	dleCache.Lock()
	fit, ok := dleCache.m[key]
	dleCache.Unlock()
	if ok {
		return fit
	}
	fit = &dleModels{}
	for l := range 2 {
		loss := make([]float64, len(refErr))
		for i, e := range refErr {
			loss[i] = math.Abs(e)
			if l == 1 {
				loss[i] = e * e
			}
		}
		resid := make([]float64, len(loss))
		for k := range dleFolds {
			var fitX, outX [][]float64
			var fitY []float64
			var outI []int
			for i, r := range refX {
				if i%dleFolds == k {
					outX, outI = append(outX, r), append(outI, i)
				} else {
					fitX, fitY = append(fitX, r), append(fitY, loss[i])
				}
			}
			m := FitBoostedTrees(fitX, fitY)
			fit.models[l][k] = m
			for o, v := range m.Predict(outX) {
				resid[outI[o]] = loss[outI[o]] - math.Max(v, 0)
			}
		}
		fit.s[l] = stdDev(resid)
	}
	dleCache.Lock()
	if len(dleCache.m) >= dleCacheMax {
		clear(dleCache.m)
	}
	dleCache.m[key] = fit
	dleCache.Unlock()
	return fit
}

// estimateRegression fills the report's estimated performance of a
// regression task (DLE) from the row samples: features are the numeric
// features and the prediction.
func estimateRegression(rep *Report, ref, cur *rowTable) {
	if ref == nil || cur == nil || ref.target < 0 || ref.pred < 0 {
		return
	}
	cols := append(append([]int(nil), ref.numeric...), ref.pred)
	row := func(t *rowTable, i int) []float64 {
		r := make([]float64, len(cols))
		for k, j := range cols {
			r[k] = t.num[j][i]
		}
		return r
	}
	var refX [][]float64
	var refErr []float64
	for i := range ref.n {
		y, yh := ref.num[ref.target][i], ref.num[ref.pred][i]
		if math.IsNaN(y) || math.IsNaN(yh) {
			continue
		}
		refX, refErr = append(refX, row(ref, i)), append(refErr, yh-y)
	}
	if len(refX) < 100 {
		return
	}
	var curX [][]float64
	for i := range cur.n {
		if !math.IsNaN(cur.num[cur.pred][i]) {
			curX = append(curX, row(cur, i))
		}
	}
	est := DLE(refX, refErr, curX)
	if est == nil {
		return
	}
	rep.EstimatedPerformance = est
	rep.Estimation = &Estimation{Method: "dle", Rows: len(curX), ReferenceRows: len(refX)}
}
