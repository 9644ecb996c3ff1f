package analysis

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// Drift method names accepted in Options.DriftMethod.
const (
	MethodAuto          = "auto"
	MethodKS            = "ks"
	MethodWasserstein   = "wasserstein"
	MethodChiSquare     = "chisquare"
	MethodPSI           = "psi"
	MethodJensenShannon = "jensenshannon"
	MethodHellinger     = "hellinger"
	MethodLInf          = "linf"
)

// Methods lists every drift method, auto first.
var Methods = []string{MethodAuto, MethodKS, MethodWasserstein, MethodChiSquare, MethodPSI,
	MethodJensenShannon, MethodHellinger, MethodLInf}

// PSIFloor replaces proportions of 0 in PSI so the logarithm stays finite.
const PSIFloor = 1e-4

// StdFloor is the smallest reference standard deviation Wasserstein is
// normalised by, so a constant reference does not divide by zero.
const StdFloor = 0.001

// isPValueMethod reports whether the method's verdict is p < threshold
// (otherwise statistic >= threshold).
func isPValueMethod(m string) bool { return m == MethodKS || m == MethodChiSquare }

// DefaultThreshold is the drift threshold of a method when Options.DriftThreshold
// is 0: 0.05 on the p-value for ks and chisquare, 0.1 on the statistic for the
// distances (normed wasserstein, psi, jensenshannon, hellinger, linf).
func DefaultThreshold(method string) float64 {
	if isPValueMethod(method) {
		return 0.05
	}
	return 0.1
}

// Wasserstein returns the Wasserstein-1 (earth mover's) distance between two
// samples, as scipy.stats.wasserstein_distance(u, v): ∫ |F_u − F_v| dx.
func Wasserstein(u, v []float64) float64 {
	return wassersteinWeighted(sortedCopy(u), nil, sortedCopy(v), nil)
}

// NormedWasserstein returns Wasserstein(ref, cur) divided by the population
// standard deviation (ddof 0) of ref, floored at StdFloor.
func NormedWasserstein(ref, cur []float64) float64 {
	return Wasserstein(ref, cur) / math.Max(popStd(ref), StdFloor)
}

// wassersteinWeighted integrates |F_a − F_b| between consecutive points of
// the pooled sorted samples (scipy _cdf_distance with p=1).
func wassersteinWeighted(a, wa, b, wb []float64) float64 {
	if wa == nil && wb == nil {
		return wasserstein(a, b)
	}
	ta, tb := totalWeight(a, wa), totalWeight(b, wb)
	if ta == 0 || tb == 0 {
		return math.NaN()
	}
	var ca, cb, sum, prev float64
	i, j := 0, 0
	first := true
	for i < len(a) || j < len(b) {
		var x float64
		if j >= len(b) || (i < len(a) && a[i] <= b[j]) {
			x = a[i]
		} else {
			x = b[j]
		}
		if !first {
			sum += math.Abs(ca/ta-cb/tb) * (x - prev)
		}
		first = false
		for i < len(a) && a[i] == x {
			ca += weightAt(wa, i)
			i++
		}
		for j < len(b) && b[j] == x {
			cb += weightAt(wb, j)
			j++
		}
		prev = x
	}
	return sum
}

// wasserstein is wassersteinWeighted for unit weights: the sum over the
// pooled sorted values of |i·nb − j·na|·(x − previous x), divided by na·nb
// once. Steps inside a run of ties add |…|·0, so it walks value by value
// without looking for the ends of ties, and without data-dependent branches
// (see ksStatistic).
func wasserstein(a, b []float64) float64 {
	na, nb := int64(len(a)), int64(len(b))
	if na == 0 || nb == 0 {
		return math.NaN()
	}
	var sum float64
	i, j := 0, 0
	prev := min(a[0], b[0])
	for i < len(a) && j < len(b) {
		x, y := a[i], b[j]
		t := b2i(x <= y)
		v := pick(x, y, t)
		sum += math.Abs(float64(int64(i)*nb-int64(j)*na)) * (v - prev)
		prev = v
		i += t
		j += 1 - t
	}
	for ; i < len(a); i++ {
		sum += math.Abs(float64(int64(i)*nb-int64(j)*na)) * (a[i] - prev)
		prev = a[i]
	}
	for ; j < len(b); j++ {
		sum += math.Abs(float64(int64(i)*nb-int64(j)*na)) * (b[j] - prev)
		prev = b[j]
	}
	return sum / (float64(na) * float64(nb))
}

// ChiSquare returns the chi-square statistic and p-value of the test of
// homogeneity on the 2×k contingency table whose rows are the reference and
// current counts, without continuity correction, as
// scipy.stats.chi2_contingency([ref, cur], correction=False). Categories
// empty on both sides are dropped; with fewer than two categories left the
// result is (0, 1).
func ChiSquare(ref, cur []float64) (statistic, pValue float64) {
	var tr, tc float64
	for i := range ref {
		tr += ref[i]
		tc += cur[i]
	}
	total := tr + tc
	if tr == 0 || tc == 0 {
		return 0, 1
	}
	k := 0
	for i := range ref {
		col := ref[i] + cur[i]
		if col == 0 {
			continue
		}
		k++
		er := tr * col / total
		ec := tc * col / total
		statistic += (ref[i]-er)*(ref[i]-er)/er + (cur[i]-ec)*(cur[i]-ec)/ec
	}
	if k < 2 {
		return 0, 1
	}
	return statistic, distuv.ChiSquared{K: float64(k - 1)}.Survival(statistic)
}

// PSI returns the population stability index Σ (c−r)·ln(c/r) over the
// proportions r (reference) and c (current); proportions of 0 are replaced
// by PSIFloor. Inputs are counts or proportions; they are normalised.
func PSI(ref, cur []float64) float64 {
	r, c := normalize(ref), normalize(cur)
	s := 0.0
	for i := range r {
		ri, ci := r[i], c[i]
		if ri == 0 {
			ri = PSIFloor
		}
		if ci == 0 {
			ci = PSIFloor
		}
		s += (ci - ri) * math.Log(ci/ri)
	}
	return s
}

// JensenShannon returns the Jensen–Shannon distance (the square root of the
// divergence, natural logarithm) between two histograms, as
// scipy.spatial.distance.jensenshannon(ref, cur).
func JensenShannon(ref, cur []float64) float64 {
	p, q := normalize(ref), normalize(cur)
	js := 0.0
	for i := range p {
		m := (p[i] + q[i]) / 2
		js += relEntr(p[i], m) + relEntr(q[i], m)
	}
	return math.Sqrt(js / 2)
}

func relEntr(x, y float64) float64 {
	switch {
	case x > 0 && y > 0:
		return x * math.Log(x/y)
	case x == 0 && y >= 0:
		return 0
	default:
		return math.Inf(1)
	}
}

// Hellinger returns the Hellinger distance sqrt(½ Σ (√r − √c)²) between the
// proportions of two histograms.
func Hellinger(ref, cur []float64) float64 {
	r, c := normalize(ref), normalize(cur)
	s := 0.0
	for i := range r {
		d := math.Sqrt(r[i]) - math.Sqrt(c[i])
		s += d * d
	}
	return math.Sqrt(s / 2)
}

// LInf returns the L∞ distance max |r − c| between the proportions of two
// histograms.
func LInf(ref, cur []float64) float64 {
	r, c := normalize(ref), normalize(cur)
	m := 0.0
	for i := range r {
		m = math.Max(m, math.Abs(r[i]-c[i]))
	}
	return m
}

// QuantileEdges returns the bin edges used for numeric features under psi,
// jensenshannon, hellinger, linf and chisquare: the reference quantiles
// q_i = numpy.quantile(ref, i/bins) for i = 1..bins−1 (linear
// interpolation), duplicates removed. A value v falls in bin
// numpy.searchsorted(edges, v, side="left"), i.e. the bins are
// (−∞, e1], (e1, e2], …, (e_last, +∞). ref must be sorted.
func QuantileEdges(sortedRef []float64, bins int) []float64 {
	return quantileEdgesWeighted(sortedRef, nil, bins)
}

func quantileEdgesWeighted(v, w []float64, bins int) []float64 {
	edges := make([]float64, 0, bins-1)
	for i := 1; i < bins; i++ {
		q := quantileWeighted(v, w, float64(i)/float64(bins))
		if len(edges) == 0 || q != edges[len(edges)-1] {
			edges = append(edges, q)
		}
	}
	return edges
}

// binCounts counts sorted (weighted) values into the bins of edges.
func binCounts(v, w []float64, edges []float64) []float64 {
	counts := make([]float64, len(edges)+1)
	b := 0
	for i, x := range v {
		for b < len(edges) && x > edges[b] {
			b++
		}
		counts[b] += weightAt(w, i)
	}
	return counts
}

// Quantile returns the q-quantile of a sample with numpy's default linear
// interpolation (numpy.quantile(x, q)). It sorts a copy.
func Quantile(x []float64, q float64) float64 {
	return quantileWeighted(sortedCopy(x), nil, q)
}

// quantileWeighted is numpy's linear quantile of the multiset in which each
// sorted value v[i] appears w[i] times (w nil = once).
func quantileWeighted(v, w []float64, q float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	if w == nil {
		pos := q * float64(len(v)-1)
		lo := int(math.Floor(pos))
		if lo >= len(v)-1 {
			return v[len(v)-1]
		}
		frac := pos - float64(lo)
		return lerp(v[lo], v[lo+1], frac)
	}
	total := totalWeight(v, w)
	pos := q * (total - 1)
	lo := math.Floor(pos)
	frac := pos - lo
	// find the item holding rank lo and rank lo+1 (0-based)
	valAt := func(rank float64) float64 {
		c := 0.0
		for i := range v {
			c += w[i]
			if rank < c {
				return v[i]
			}
		}
		return v[len(v)-1]
	}
	a := valAt(lo)
	if frac == 0 {
		return a
	}
	return lerp(a, valAt(lo+1), frac)
}

// lerp is numpy's _lerp: a + (b−a)·t, computed from b when t >= 0.5.
func lerp(a, b, t float64) float64 {
	diff := b - a
	r := a + diff*t
	if t >= 0.5 {
		r = b - diff*(1-t)
	}
	return r
}

func popStd(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	m := 0.0
	for _, v := range x {
		m += v
	}
	m /= float64(len(x))
	s := 0.0
	for _, v := range x {
		s += (v - m) * (v - m)
	}
	return math.Sqrt(s / float64(len(x)))
}

func normalize(x []float64) []float64 {
	t := 0.0
	for _, v := range x {
		t += v
	}
	out := make([]float64, len(x))
	if t == 0 {
		return out
	}
	for i, v := range x {
		out[i] = v / t
	}
	return out
}

func sortedCopy(x []float64) []float64 {
	c := slices.Clone(x)
	sortFloats(c)
	return c
}

func totalWeight(v, w []float64) float64 {
	if w == nil {
		return float64(len(v))
	}
	t := 0.0
	for _, x := range w {
		t += x
	}
	return t
}

func weightAt(w []float64, i int) float64 {
	if w == nil {
		return 1
	}
	return w[i]
}
