package analysis

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// Comparison of two model versions (champion a, challenger b) on the same
// task. Paired tests apply when both versions scored the same events (a
// shadow deployment, or two prediction columns of one file); unpaired ones
// when traffic was split between them (A/B, canary). Every difference is
// b − a.

// ErrTooFewPairs is returned when a test has not enough data to say anything.
var ErrTooFewPairs = errors.New("analysis: too few observations to compare")

// BinomTest returns the two-sided p-value of the exact binomial test of k
// successes in n trials against success probability p, as
// scipy.stats.binomtest(k, n, p).pvalue: the total probability of outcomes
// no more likely than k (with scipy's relative tolerance 1e-7).
func BinomTest(k, n int, p float64) (float64, error) {
	if n < 0 || k < 0 || k > n || !(p >= 0 && p <= 1) {
		return math.NaN(), fmt.Errorf("analysis: binomial test needs 0 <= k <= n and 0 <= p <= 1 (k=%d n=%d p=%g)", k, n, p)
	}
	if n == 0 {
		return 1, nil
	}
	if float64(k) == p*float64(n) {
		return 1, nil
	}
	d := binomPMF(k, n, p) * (1 + 1e-7)
	total := 0.0
	for i := 0; i <= n; i++ {
		if q := binomPMF(i, n, p); q <= d {
			total += q
		}
	}
	return math.Min(1, total), nil
}

// binomPMF is the binomial probability mass at k, computed in log space.
func binomPMF(k, n int, p float64) float64 {
	switch {
	case p == 0:
		return b2f(k == 0)
	case p == 1:
		return b2f(k == n)
	}
	lnN, _ := math.Lgamma(float64(n + 1))
	lnK, _ := math.Lgamma(float64(k + 1))
	lnNK, _ := math.Lgamma(float64(n - k + 1))
	return math.Exp(lnN - lnK - lnNK + float64(k)*math.Log(p) + float64(n-k)*math.Log1p(-p))
}

// McNemar returns the exact McNemar p-value for paired classifications:
// onlyA events that only a got right, onlyB events that only b got right
// (events both got right or both wrong carry no information). It is the
// two-sided exact binomial test of min(onlyA, onlyB) successes in
// onlyA+onlyB trials at p = ½ — statsmodels' mcnemar(exact=True), here
// checked against scipy.stats.binomtest. McNemar (1947), Psychometrika 12:153.
// No discordant pairs at all gives p = 1.
func McNemar(onlyA, onlyB int) (float64, error) {
	if onlyA < 0 || onlyB < 0 {
		return math.NaN(), fmt.Errorf("analysis: McNemar counts must be >= 0 (got %d, %d)", onlyA, onlyB)
	}
	return BinomTest(min(onlyA, onlyB), onlyA+onlyB, 0.5)
}

// Wilcoxon returns the Wilcoxon signed-rank statistic and two-sided p-value
// of the paired differences d (e.g. |error of b| − |error of a| per event),
// as scipy.stats.wilcoxon(d) with its defaults (zero_method="wilcox",
// correction=False): zero differences are dropped, the statistic is
// min(R+, R−) over mid-ranks of |d|. The p-value is exact (the distribution
// of R+ over all 2^n sign patterns) when n <= 50 with no zeros and no ties,
// else the normal approximation with scipy's tie correction of the variance.
// Deviation: scipy 1.10 also takes the exact path with tied |d| (truncating
// a mid-rank sum to an integer); Vigil uses the normal approximation there.
// Wilcoxon (1945), Biometrics Bulletin 1:80.
func Wilcoxon(d []float64) (statistic, pValue float64, err error) {
	n0 := len(d)
	var nz []float64
	zeros := 0
	for _, v := range d {
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0):
			return math.NaN(), math.NaN(), fmt.Errorf("analysis: Wilcoxon: difference %v is not a number", v)
		case v == 0:
			zeros++
		default:
			nz = append(nz, v)
		}
	}
	n := len(nz)
	if n == 0 {
		return math.NaN(), math.NaN(), fmt.Errorf("%w: all %d paired differences are zero", ErrTooFewPairs, n0)
	}
	ranks, ties := midRanks(nz)
	var rPlus, rMinus float64
	for i, v := range nz {
		if v > 0 {
			rPlus += ranks[i]
		} else {
			rMinus += ranks[i]
		}
	}
	t := math.Min(rPlus, rMinus)
	if n0 <= 50 && zeros == 0 && len(ties) == 0 {
		return t, wilcoxonExact(n, int(rPlus)), nil
	}
	fn := float64(n)
	mn := fn * (fn + 1) * 0.25
	se := fn * (fn + 1) * (2*fn + 1)
	for _, c := range ties {
		se -= 0.5 * c * (c*c - 1)
	}
	se = math.Sqrt(se / 24)
	z := (t - mn) / se
	return t, 2 * distuv.UnitNormal.Survival(math.Abs(z)), nil
}

// wilcoxonExact is the two-sided exact p-value of R+ = r among n untied
// ranks: 2·min(P(R+ <= r), P(R+ >= r)), 1 at the centre, as scipy.
func wilcoxonExact(n, r int) float64 {
	maxSum := n * (n + 1) / 2
	counts := make([]float64, maxSum+1)
	counts[0] = 1
	for k := 1; k <= n; k++ {
		for s := maxSum; s >= k; s-- {
			counts[s] += counts[s-k]
		}
	}
	total := math.Ldexp(1, n)
	if r == maxSum/2 { // scipy: r_plus == (len(pmf) - 1) // 2
		return 1
	}
	var less, greater float64
	for s, c := range counts {
		if s <= r {
			less += c
		}
		if s >= r {
			greater += c
		}
	}
	return math.Min(1, 2*math.Min(less, greater)/total)
}

// midRanks returns the 1-based average ranks of |x| (scipy rankdata
// "average") and the sizes of the groups of ties (> 1).
func midRanks(x []float64) (ranks, ties []float64) {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(i, j int) int {
		a, b := math.Abs(x[i]), math.Abs(x[j])
		switch {
		case a < b:
			return -1
		case a > b:
			return 1
		}
		return 0
	})
	ranks = make([]float64, len(x))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && math.Abs(x[idx[j+1]]) == math.Abs(x[idx[i]]) {
			j++
		}
		avg := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			ranks[idx[k]] = avg
		}
		if j > i {
			ties = append(ties, float64(j-i+1))
		}
		i = j + 1
	}
	return ranks, ties
}

// Interval is a confidence interval for a difference b − a.
type Interval struct {
	Difference float64 `json:"difference"`
	Lower      float64 `json:"lower"`
	Upper      float64 `json:"upper"`
}

// Contains reports whether v lies in the closed interval.
func (iv Interval) Contains(v float64) bool { return iv.Lower <= v && v <= iv.Upper }

// BootstrapOptions configure PairedBootstrap.
type BootstrapOptions struct {
	Rounds int     // resamples (default 2000)
	Level  float64 // confidence level (default 0.95)
	Seed   uint64  // resampling stream; the same seed gives the same interval
}

// PairedBootstrap returns the percentile bootstrap interval (Efron &
// Tibshirani 1993, ch. 13) of a statistic of n paired events: diff(idx)
// computes b's metric minus a's on the events idx (with repeats), so any
// metric — accuracy, F1, ROC AUC, MAE — can be compared while keeping each
// event's pair together. Difference is diff on all events; the bounds are
// numpy.quantile of the Rounds resampled differences at (1−Level)/2 and
// (1+Level)/2. Resampling draws index floor(u·n) from a 64-bit LCG
// (u = top 53 bits / 2^53; the generator of testdata/golden.py), so the
// interval is reproducible and the golden script recomputes it with numpy.
// Resamples where diff is NaN (e.g. AUC of a one-class resample) are skipped;
// if more than half are, the interval is an error.
func PairedBootstrap(n int, diff func(idx []int) float64, opts BootstrapOptions) (Interval, error) {
	if opts.Rounds == 0 {
		opts.Rounds = 2000
	}
	if opts.Level == 0 {
		opts.Level = 0.95
	}
	if n < 2 {
		return Interval{}, fmt.Errorf("%w: bootstrap needs at least 2 events (got %d)", ErrTooFewPairs, n)
	}
	if opts.Rounds < 1 || !(opts.Level > 0 && opts.Level < 1) {
		return Interval{}, fmt.Errorf("analysis: bootstrap needs rounds >= 1 and 0 < level < 1 (got %d, %g)", opts.Rounds, opts.Level)
	}
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	iv := Interval{Difference: diff(all)}
	s := opts.Seed
	idx := make([]int, n)
	stats := make([]float64, 0, opts.Rounds)
	for r := 0; r < opts.Rounds; r++ {
		for i := range idx {
			s = s*6364136223846793005 + 1442695040888963407
			idx[i] = int(float64(s>>11) * (1.0 / (1 << 53)) * float64(n))
		}
		if v := diff(idx); !math.IsNaN(v) {
			stats = append(stats, v)
		}
	}
	if 2*len(stats) < opts.Rounds {
		return Interval{}, fmt.Errorf("analysis: bootstrap: the metric is undefined on %d of %d resamples", opts.Rounds-len(stats), opts.Rounds)
	}
	slices.Sort(stats)
	iv.Lower = quantileWeighted(stats, nil, (1-opts.Level)/2)
	iv.Upper = quantileWeighted(stats, nil, (1+opts.Level)/2)
	return iv, nil
}

// Welch compares the means of two independent samples (per-event losses or
// hits of a and b on split traffic) with Welch's unequal-variance t-test:
// the interval is mean(b) − mean(a) ± t_{(1+level)/2, ν}·se with
// se² = s²_a/n_a + s²_b/n_b (sample variances, ddof 1) and the
// Welch–Satterthwaite ν; the p-value is two-sided, as
// scipy.stats.ttest_ind(b, a, equal_var=False). Welch (1947), Biometrika 34:28.
// With zero variance on both sides the test is undefined and an error.
func Welch(a, b []float64, level float64) (Interval, float64, error) {
	if len(a) < 2 || len(b) < 2 {
		return Interval{}, math.NaN(), fmt.Errorf("%w: Welch's test needs at least 2 events per version (got %d and %d)", ErrTooFewPairs, len(a), len(b))
	}
	if !(level > 0 && level < 1) {
		return Interval{}, math.NaN(), fmt.Errorf("analysis: level must be in (0, 1), got %g", level)
	}
	ma, va := sampleMeanVar(a)
	mb, vb := sampleMeanVar(b)
	na, nb := float64(len(a)), float64(len(b))
	qa, qb := va/na, vb/nb
	se := math.Sqrt(qa + qb)
	if se == 0 {
		return Interval{}, math.NaN(), fmt.Errorf("%w: both samples are constant, Welch's test is undefined", ErrTooFewPairs)
	}
	df := (qa + qb) * (qa + qb) / (qa*qa/(na-1) + qb*qb/(nb-1))
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}
	d := mb - ma
	stat := d / se
	p := 2 * t.Survival(math.Abs(stat))
	h := t.Quantile((1+level)/2) * se
	return Interval{Difference: d, Lower: d - h, Upper: d + h}, math.Min(1, p), nil
}

// sampleMeanVar returns the mean and the sample variance (ddof 1), two-pass.
func sampleMeanVar(x []float64) (mean, variance float64) {
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	for _, v := range x {
		variance += (v - mean) * (v - mean)
	}
	return mean, variance / float64(len(x)-1)
}
