package analysis

import (
	"math"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distuv"
)

// MultivariateDrift is the verdict of the domain classifier: can the
// current window's rows be told from the reference's by their features
// jointly?
type MultivariateDrift struct {
	// Method is "domain_classifier".
	Method string `json:"method"`
	// Statistic is the cross-validated AUROC of telling current rows from
	// reference rows (0.5: indistinguishable).
	Statistic float64 `json:"statistic"`
	// Threshold is the AUROC that stationary data exceeds with probability
	// at most Options.FalseAlarmRate at these sample sizes.
	Threshold float64 `json:"threshold"`
	Drifted   bool    `json:"drifted"`
	// Features is the number of features used, CategoricalFeatures how
	// many of them are categorical (each one indicator input per frequent
	// category); LeftOut the features not used (constant on the
	// reference sample, too large to standardize, or beyond
	// domainFeatures inputs). ReferenceRows
	// and CurrentRows are the rows of each side.
	Features            int `json:"features"`
	CategoricalFeatures int `json:"categorical_features"`
	LeftOut             int `json:"left_out_features,omitempty"`
	ReferenceRows       int `json:"reference_rows"`
	CurrentRows         int `json:"current_rows"`
	// Note says why there is no verdict (set by callers that withhold it).
	Note string `json:"note,omitempty"`
}

// Domain classifier parameters: rows per side, folds, inputs at most
// (a numeric feature is one input, a categorical one an indicator per
// category kept), categories kept per categorical feature, and the ridge
// added to each covariance (the inputs are standardized, so it is a share
// of the unit variance).
const (
	domainRows       = 2500
	domainFolds      = 5
	domainFeatures   = 50
	domainCategories = 10
	domainRidge      = 1e-2
)

// DomainClassifierAUC tells rows b from rows a (rows of standardized
// inputs, see multivariateDrift) by quadratic discriminant analysis: a Gaussian with its
// own mean and covariance (plus domainRidge·I) is fitted to each side, and
// a row's score is its log-density ratio. Quadratic discriminant analysis
// sees changes of the means, the scales and the correlations of the
// features — a correlation that flips sign while every marginal stays the
// same included — at O(n·d²) cost, without iterative fitting; it does not
// see changes confined to higher moments. Rows are dealt into folds
// round-robin within each side; the statistic is the mean over folds of the
// AUROC (ROCAUC) of the held-out rows' scores, each fold's model fitted on
// the other folds. The threshold is 0.5 + z_{1−α} · mean_k σ_k, with
// σ_k² = (n_a,k + n_b,k + 1) / (12 n_a,k n_b,k) the variance of the
// Mann–Whitney AUROC of fold k under no drift: held-out scores of a model
// fitted on other rows are exchangeable between the sides when the
// distributions are equal, so each fold's AUROC has exactly that null
// distribution, and the standard deviation of the mean of correlated folds
// is at most the mean of theirs (a conservative level α).
func DomainClassifierAUC(a, b [][]float64, alpha float64) (auc, threshold float64) {
	var aucSum, sdSum float64
	folds := 0
	for k := range domainFolds {
		var trA, trB, teA, teB [][]float64
		for i, r := range a {
			if i%domainFolds == k {
				teA = append(teA, r)
			} else {
				trA = append(trA, r)
			}
		}
		for i, r := range b {
			if i%domainFolds == k {
				teB = append(teB, r)
			} else {
				trB = append(trB, r)
			}
		}
		if len(teA) == 0 || len(teB) == 0 || len(trA) < 2 || len(trB) < 2 {
			continue
		}
		ga, gb := fitGaussian(trA), fitGaussian(trB)
		if ga == nil || gb == nil {
			return math.NaN(), math.NaN()
		}
		scores := make([]float64, 0, len(teA)+len(teB))
		labels := make([]bool, 0, cap(scores))
		for _, r := range teA {
			scores, labels = append(scores, gb.logPDF(r)-ga.logPDF(r)), append(labels, false)
		}
		for _, r := range teB {
			scores, labels = append(scores, gb.logPDF(r)-ga.logPDF(r)), append(labels, true)
		}
		aucSum += ROCAUC(scores, labels)
		na, nb := float64(len(teA)), float64(len(teB))
		sdSum += math.Sqrt((na + nb + 1) / (12 * na * nb))
		folds++
	}
	if folds == 0 {
		return math.NaN(), math.NaN()
	}
	z := distuv.UnitNormal.Quantile(1 - alpha)
	return aucSum / float64(folds), 0.5 + z*sdSum/float64(folds)
}

type gaussian struct {
	mean []float64
	chol mat.Cholesky
	// logNorm is −½ log det Σ.
	logNorm float64
}

// fitGaussian fits a Gaussian to rows; nil when the covariance is not
// finite.
func fitGaussian(rows [][]float64) *gaussian {
	d := len(rows[0])
	n := float64(len(rows))
	g := &gaussian{mean: make([]float64, d)}
	for _, r := range rows {
		for j, v := range r {
			g.mean[j] += v
		}
	}
	for j := range g.mean {
		g.mean[j] /= n
	}
	cov := mat.NewSymDense(d, nil)
	c := make([]float64, d)
	for _, r := range rows {
		for j := range c {
			c[j] = r[j] - g.mean[j]
		}
		cov.SymRankOne(cov, 1, mat.NewVecDense(d, c))
	}
	for i := range d {
		for j := i; j < d; j++ {
			v := cov.At(i, j) / (n - 1)
			if i == j {
				v += domainRidge
			}
			cov.SetSym(i, j, v)
		}
	}
	if !g.chol.Factorize(cov) {
		// Not positive definite even with the ridge: fall back to the
		// diagonal.
		diag := mat.NewSymDense(d, nil)
		for i := range d {
			diag.SetSym(i, i, cov.At(i, i))
		}
		if !g.chol.Factorize(diag) {
			return nil // not finite
		}
	}
	g.logNorm = -0.5 * g.chol.LogDet()
	return g
}

// logPDF is the Gaussian log-density of x up to the constant −d/2·log 2π.
func (g *gaussian) logPDF(x []float64) float64 {
	d := len(x)
	c := make([]float64, d)
	for j := range c {
		c[j] = x[j] - g.mean[j]
	}
	v := mat.NewVecDense(d, c)
	var s mat.VecDense
	if err := g.chol.SolveVecTo(&s, v); err != nil {
		return math.NaN()
	}
	return g.logNorm - 0.5*mat.Dot(v, &s)
}

// multivariateDrift fills rep.MultivariateDrift from the row samples, at
// most domainRows rows per side, on at most domainFeatures inputs: each
// numeric feature (constant ones, or ones too large to standardize, left
// out), standardized by the reference sample's mean and standard
// deviation, a missing value at the mean; then
// each categorical feature as indicators of its domainCategories most
// frequent values on the reference sample (a missing value is a value;
// categories beyond them, or new in the window, are 0 on every indicator),
// each standardized by its share p as (x − p)/√(p(1−p)). A categorical
// feature with one value on the reference sample is left out, as is any
// feature whose inputs no longer fit.
func multivariateDrift(rep *Report, ref, cur *rowTable, opts Options) {
	if ref == nil || cur == nil {
		return
	}
	// An input: numeric column j, or the indicator of category cat of
	// categorical column j.
	type input struct {
		j         int
		cat       string
		isCat     bool
		mean, std float64
	}
	var inputs []input
	refN := min(ref.n, domainRows)
	used, categorical := 0, 0
	for _, j := range ref.numeric {
		if len(inputs) == domainFeatures {
			break
		}
		var s, ss, n float64
		for _, v := range ref.num[j][:refN] {
			if !math.IsNaN(v) {
				s += v
				ss += v * v
				n++
			}
		}
		if n < 2 {
			continue
		}
		mean := s / n
		std := math.Sqrt(math.Max(ss/n-mean*mean, 0))
		if !(std > 0) || math.IsInf(std, 0) || math.IsInf(mean, 0) {
			// constant, or too large to standardize in float64
			continue
		}
		inputs = append(inputs, input{j: j, mean: mean, std: std})
		used++
	}
	for _, j := range ref.categoricals {
		counts := map[string]int{}
		for _, r := range ref.rows[:refN] {
			counts[r[j]]++
		}
		if len(counts) < 2 {
			continue
		}
		keys := mostFrequent(counts, domainCategories)
		if len(inputs)+len(keys) > domainFeatures {
			continue
		}
		for _, k := range keys {
			p := float64(counts[k]) / float64(refN)
			inputs = append(inputs, input{j: j, cat: k, isCat: true, mean: p, std: math.Sqrt(p * (1 - p))})
		}
		used++
		categorical++
	}
	if len(inputs) < 2 {
		return
	}
	rows := func(t *rowTable) [][]float64 {
		out := make([][]float64, min(t.n, domainRows))
		for i := range out {
			r := make([]float64, len(inputs))
			for k, c := range inputs {
				switch {
				case c.isCat:
					r[k] = (b2f(t.rows[i][c.j] == c.cat) - c.mean) / c.std
				default:
					if v := t.num[c.j][i]; !math.IsNaN(v) {
						r[k] = (v - c.mean) / c.std
					}
				}
			}
			out[i] = r
		}
		return out
	}
	a, b := rows(ref), rows(cur)
	if len(a) < 2*domainFolds || len(b) < 2*domainFolds {
		return
	}
	auc, thr := DomainClassifierAUC(a, b, opts.FalseAlarmRate)
	if math.IsNaN(auc) {
		return
	}
	rep.MultivariateDrift = &MultivariateDrift{Method: "domain_classifier", Statistic: auc, Threshold: thr,
		Drifted: auc >= thr, Features: used, CategoricalFeatures: categorical,
		LeftOut: len(ref.numeric) + len(ref.categoricals) - used, ReferenceRows: len(a), CurrentRows: len(b)}
}
