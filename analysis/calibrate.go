package analysis

import (
	"encoding/binary"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"sort"
	"sync"

	"gonum.org/v1/gonum/stat/distuv"
)

// Threshold sources reported in Drift.ThresholdSource.
const (
	// ThresholdCalibrated: the threshold is the (1 − α) quantile of the
	// statistic between the reference and same-size resamples of it.
	ThresholdCalibrated = "calibrated"
	// ThresholdFixed: a configured or default threshold (the practical floor
	// of auto, a method's default, a p-value level).
	ThresholdFixed = "fixed"
)

// Auto's practical floors: the smallest distance auto calls drift however
// large the window. The categorical floor is lower than the numeric one so
// that a 10-point share change (Jensen–Shannon distance ≈ 0.07 for a 50/50
// feature moving to 60/40) is caught on large windows.
const (
	AutoNumericFloor     = 0.1
	AutoCategoricalFloor = 0.05
)

// DefaultFalseAlarmRate is α of auto (Options.FalseAlarmRate).
const DefaultFalseAlarmRate = 0.01

// calSafety scales α for the calibration: the resampling approximations (a
// finite reference stands for the distribution, power-of-two buckets, a
// 1024-point grid) let the measured per-feature false-alarm rate run up to
// about 1.5 times the simulated level at small windows (bench/verdicts), so
// the distances are calibrated to α/2.
const calSafety = 0.5

// Calibration parameters. calTrials resamples per size bucket: with 999 the
// threshold is the 990th smallest statistic for α = 0.01, the Monte Carlo
// test's exact level for a statistic drawn from the same distribution.
// Buckets are powers of two up to calMaxBucket; beyond, the statistic's
// asymptotic √n scaling carries the last bucket on. calGrid bounds the points
// a large reference is resampled from (equal-mass quantiles).
const (
	calTrials    = 999
	calMaxBucket = 4096
	calGrid      = 1024
)

// calibration caches, per reference column, what the thresholds of windows
// of any size are computed from. It hangs off the reference ColumnProfile
// (not serialised): a profile compared with many windows calibrates each
// size bucket once.
type calibration struct {
	mu sync.Mutex
	// numeric: the reference as equal- or given-mass points, its standard
	// deviation and the mean of the limiting statistic (see numericBound).
	x, mass []float64
	sigma   float64
	meanLim float64
	// categorical: the reference's proportions, in a fixed order.
	p []float64
	// fp fingerprints the points above (what the simulation depends on),
	// the key of the process-wide cache.
	fp uint64
}

type calKey struct {
	fp     uint64
	alpha  float64
	bucket int
}

// calCache holds s(b) = √b · q_{1−α}(statistic at b rows) per reference
// fingerprint, α and bucket, for the whole process: the worker re-reads a
// model's reference for every window, and the reference rarely changes.
var calCache = struct {
	sync.Mutex
	m map[calKey]float64
}{m: map[calKey]float64{}}

// calCacheMax bounds calCache; it is emptied when full.
const calCacheMax = 1 << 16

func (c *ColumnProfile) calibration() *calibration {
	c.calOnce.Do(func() { c.cal = &calibration{} })
	return c.cal
}

// calibratedThreshold returns the threshold of auto's distance for a current
// window of n values: the larger of floor and the calibrated (1 − α)
// quantile. The quantile for n rows is √(1/n + 1/m) · s(n), where m is the
// reference size and s(n) = √n · q_{1−α}(statistic between the reference and
// its resamples of n rows): the resamples carry the current window's noise,
// the factor √(1 + n/m) adds the reference's own (every statistic here
// scales as √(1/n + 1/m) between two samples of one distribution). s is
// simulated at the powers of two around n (up to calMaxBucket) and
// interpolated in log n.
func calibratedThreshold(ref *ColumnProfile, n int64, alpha, floor float64) (float64, string) {
	if n <= 0 {
		return floor, ThresholdFixed
	}
	cal := ref.calibration()
	cal.mu.Lock()
	defer cal.mu.Unlock()
	numeric := ref.Kind == KindNumeric
	var m float64
	if numeric {
		cal.prepareNumeric(ref)
		m = float64(ref.N())
	} else {
		cal.prepareCategorical(ref)
		m = float64(ref.Count - ref.Missing)
	}
	scale := math.Sqrt(1/float64(n) + 1/m)
	// Large windows: when a bound on the limiting quantile is below the
	// floor, no simulation is needed.
	if n >= calMaxBucket {
		var bound float64
		if numeric {
			bound = cal.numericBound(alpha)
		} else {
			bound = cal.categoricalBound(alpha, n)
		}
		if bound*scale < floor {
			return floor, ThresholdFixed
		}
	}
	s := cal.sAt(ref, n, alpha)
	q := s * scale
	if !(q > floor) {
		return floor, ThresholdFixed
	}
	return q, ThresholdCalibrated
}

// sAt interpolates s(n) between the power-of-two buckets around n.
func (cal *calibration) sAt(ref *ColumnProfile, n int64, alpha float64) float64 {
	if n >= calMaxBucket {
		return cal.sBucket(ref, calMaxBucket, alpha)
	}
	lo := 1
	for lo*2 <= int(n) {
		lo *= 2
	}
	slo := cal.sBucket(ref, lo, alpha)
	if int(n) == lo {
		return slo
	}
	shi := cal.sBucket(ref, 2*lo, alpha)
	t := math.Log2(float64(n) / float64(lo))
	return slo + (shi-slo)*t
}

func (cal *calibration) sBucket(ref *ColumnProfile, b int, alpha float64) float64 {
	k := calKey{cal.fp, alpha, b}
	calCache.Lock()
	s, ok := calCache.m[k]
	calCache.Unlock()
	if ok {
		return s
	}
	// Seeded by the reference's content and the bucket: the same reference
	// gives the same thresholds on every run, every worker, every shard.
	r := rand.New(rand.NewPCG(cal.fp, uint64(b)))
	stats := make([]float64, calTrials)
	if ref.Kind == KindNumeric {
		cal.simulateNumeric(r, b, stats)
	} else {
		cal.simulateCategorical(r, b, stats)
	}
	sort.Float64s(stats)
	// The Monte Carlo test's order statistic: the ⌈(1−α)(T+1)⌉-th smallest.
	i := int(math.Ceil((1-alpha)*float64(calTrials+1))) - 1
	i = min(max(i, 0), calTrials-1)
	s = stats[i] * math.Sqrt(float64(b))
	calCache.Lock()
	if len(calCache.m) >= calCacheMax {
		clear(calCache.m)
	}
	calCache.m[k] = s
	calCache.Unlock()
	return s
}

// prepareNumeric reduces the reference to at most calGrid points: its own
// values when they are few and unweighted, else equal-mass quantiles.
func (cal *calibration) prepareNumeric(ref *ColumnProfile) {
	if cal.x != nil {
		return
	}
	v, w := ref.Values.Sorted()
	cal.sigma = math.Max(ref.Std(), StdFloor)
	total := totalWeight(v, w)
	if w == nil && len(v) <= calGrid {
		cal.x = v
		cal.mass = make([]float64, len(v))
		for i := range cal.mass {
			cal.mass[i] = 1 / total
		}
	} else {
		cal.x = make([]float64, calGrid)
		cal.mass = make([]float64, calGrid)
		// one walk over the cumulative weights for ranks (j+½)/K of total
		j, cum := 0, 0.0
		for i := range v {
			cum += weightAt(w, i)
			for j < calGrid && (float64(j)+0.5)/calGrid*total <= cum {
				cal.x[j] = v[i]
				cal.mass[j] = 1.0 / calGrid
				j++
			}
		}
		for ; j < calGrid; j++ {
			cal.x[j], cal.mass[j] = v[len(v)-1], 1.0/calGrid
		}
	}
	// E of the limiting statistic √n·W/σ: √(2/π) ∫ √(F(1−F)) dx / σ, over
	// the points (a pass over all values would cost a large reference more
	// than the rest of the calibration).
	cum := 0.0
	for i := 0; i+1 < len(cal.x); i++ {
		cum += cal.mass[i]
		f := min(cum, 1)
		cal.meanLim += math.Sqrt(f*(1-f)) * (cal.x[i+1] - cal.x[i])
	}
	cal.meanLim *= math.Sqrt(2/math.Pi) / cal.sigma
	cal.fp = fingerprint(KindNumeric, cal.sigma, cal.x, cal.mass)
}

// fingerprint hashes what a calibration depends on.
func fingerprint(kind string, sigma float64, xs ...[]float64) uint64 {
	h := fnv.New64a()
	h.Write([]byte(kind))
	var b [8]byte
	put := func(v float64) {
		binary.LittleEndian.PutUint64(b[:], math.Float64bits(v))
		h.Write(b[:])
	}
	put(sigma)
	for _, x := range xs {
		put(float64(len(x)))
		for _, v := range x {
			put(v)
		}
	}
	return h.Sum64()
}

// numericBound bounds the (1 − α) quantile of the limiting statistic
// X = ∫ |B(F(x))| dx / σ (B a Brownian bridge), which √n·W/σ approaches:
// X is a supremum of Gaussians whose standard deviations are at most
// √(π/2)·E X, so by the Borell–TIS inequality
// P(X > E X + u) ≤ exp(−u² / (2·(π/2)·(E X)²)).
func (cal *calibration) numericBound(alpha float64) float64 {
	return cal.meanLim * (1 + math.Sqrt(2*math.Log(1/alpha))*math.Sqrt(math.Pi/2))
}

// simulateNumeric fills stats with the normed Wasserstein distance between
// the reference points and resamples of b of them.
func (cal *calibration) simulateNumeric(r *rand.Rand, b int, stats []float64) {
	k := len(cal.x)
	counts := make([]float64, k)
	cdf := make([]float64, k)
	equal := true
	acc := 0.0
	for i, m := range cal.mass {
		acc += m
		cdf[i] = acc
		equal = equal && m == cal.mass[0]
	}
	for t := range stats {
		clear(counts)
		for range b {
			var i int
			if equal {
				i = r.IntN(k)
			} else {
				i = min(sort.SearchFloat64s(cdf, r.Float64()*acc), k-1)
			}
			counts[i]++
		}
		var fr, fc, sum float64
		for i := 0; i+1 < k; i++ {
			fr += cal.mass[i]
			fc += counts[i] / float64(b)
			sum += math.Abs(fr-fc) * (cal.x[i+1] - cal.x[i])
		}
		stats[t] = sum / cal.sigma
	}
}

// prepareCategorical keeps the reference's category proportions (sorted by
// category, the overflow bucket last).
func (cal *calibration) prepareCategorical(ref *ColumnProfile) {
	if cal.p != nil {
		return
	}
	keys := make([]string, 0, len(ref.Categories))
	for k := range ref.Categories {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		cal.p = append(cal.p, float64(ref.Categories[k]))
	}
	if ref.Other > 0 {
		cal.p = append(cal.p, float64(ref.Other))
	}
	cal.p = normalize(cal.p)
	cal.fp = fingerprint(KindCategorical, 0, cal.p)
}

// categoricalBound is the limiting quantile of √n·JS for windows of n rows,
// times 1.5, when every category expects at least 10 values (JS² ≈ χ²/8n);
// +Inf otherwise, so rare categories are always simulated.
func (cal *calibration) categoricalBound(alpha float64, n int64) float64 {
	k := 0
	for _, p := range cal.p {
		if p > 0 {
			k++
			if p*float64(n) < 10 {
				return math.Inf(1)
			}
		}
	}
	if k < 2 {
		return 0
	}
	q := distuv.ChiSquared{K: float64(k - 1)}.Quantile(1 - alpha)
	return 1.5 * math.Sqrt(q/8)
}

// simulateCategorical fills stats with the Jensen–Shannon distance between
// the reference proportions and multinomial resamples of b rows.
func (cal *calibration) simulateCategorical(r *rand.Rand, b int, stats []float64) {
	k := len(cal.p)
	cdf := make([]float64, k)
	acc := 0.0
	for i, p := range cal.p {
		acc += p
		cdf[i] = acc
	}
	counts := make([]float64, k)
	for t := range stats {
		clear(counts)
		for range b {
			counts[min(sort.SearchFloat64s(cdf, r.Float64()*acc), k-1)]++
		}
		stats[t] = JensenShannon(cal.p, counts)
	}
}
