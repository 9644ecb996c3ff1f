package analysis

import (
	"fmt"
	"math"
)

// Sequential, always-valid comparison. A rollout looks at the evidence after
// every window and stops as soon as it suffices; a fixed-sample test read
// that way rejects far more often than its α. Vigil uses the asymptotic
// confidence sequence (normal-mixture boundary) of Waudby-Smith, Arnold, Wu,
// Wang & Ramdas, "Time-uniform central limit theory and asymptotic
// confidence sequences", Annals of Statistics 52 (2024), Theorem 2.2, with
// the boundary of Howard, Ramdas, McAuliffe & Sekhon, "Time-uniform,
// nonparametric, nonasymptotic confidence sequences", Annals of Statistics
// 49 (2021), eq. (14) and §3.5 for the choice of ρ: for i.i.d. observations
// with mean μ and finite variance,
//
//	μ̂_t ± σ̂_t · sqrt( 2(tρ²+1)/(t²ρ²) · log( sqrt(tρ²+1)/α ) )
//
// covers μ at all t simultaneously with probability → 1 − α, where μ̂_t and
// σ̂_t are the running mean and standard deviation and
// ρ² = (−2 log α + log(−2 log α + 1)) / t* makes the boundary tightest at the
// planned sample size t*. It is the confidence sequence of the mixture
// sequential probability ratio test (Robbins 1970; Johari, Pekelis & Walsh,
// "Always valid inference", Operations Research 70 (2022)); Sequence.PValue
// is that test's always-valid p-value. Any stopping rule keeps the error
// rate: stop at the first window where the interval decides.
//
// Observations: for paired events (shadow) x = metric contribution of b −
// that of a per event (hit_b − hit_a, |e_a| − |e_b|, …); for split traffic
// with a fixed assignment probability p to b, the inverse-propensity term
// SplitTerm(y, toB, p), whose mean is μ_b − μ_a (the same paper's treatment
// of randomized experiments). The guarantee is asymptotic: it needs
// hundreds of events, and MinSequential is the floor below which no
// decision is taken.

// MinSequential is the smallest number of observations at which a Sequence
// reports an interval; below it, the running σ̂ is too unreliable.
const MinSequential = 30

// Sequence is the running state of a confidence sequence: count, mean and
// sum of squared deviations (Welford). It is plain JSON and mergeable, so a
// workflow can carry it from window to window.
type Sequence struct {
	N    int64   `json:"n"`
	Mean float64 `json:"mean"`
	M2   float64 `json:"m2"`
}

// Add folds one observation into the sequence; NaN and ±Inf are refused.
func (s *Sequence) Add(x float64) error {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return fmt.Errorf("analysis: sequence observation %v is not a number", x)
	}
	s.N++
	d := x - s.Mean
	s.Mean += d / float64(s.N)
	s.M2 += d * (x - s.Mean)
	return nil
}

// Merge folds another sequence's observations in (Chan, Golub & LeVeque 1979).
func (s *Sequence) Merge(o Sequence) {
	if o.N == 0 {
		return
	}
	if s.N == 0 {
		*s = o
		return
	}
	n := s.N + o.N
	d := o.Mean - s.Mean
	s.M2 += o.M2 + d*d*float64(s.N)*float64(o.N)/float64(n)
	s.Mean += d * float64(o.N) / float64(n)
	s.N = n
}

// SequentialOptions fix the confidence sequence before the first look.
type SequentialOptions struct {
	Alpha   float64 // error rate over all looks (default 0.05)
	Planned int64   // sample size where the interval is tightest (default 1000)
}

func (o SequentialOptions) withDefaults() (SequentialOptions, error) {
	if o.Alpha == 0 {
		o.Alpha = 0.05
	}
	if o.Planned == 0 {
		o.Planned = 1000
	}
	if !(o.Alpha > 0 && o.Alpha < 1) || o.Planned < 1 {
		return o, fmt.Errorf("analysis: sequential test needs 0 < alpha < 1 and planned >= 1 (got %g, %d)", o.Alpha, o.Planned)
	}
	return o, nil
}

// rho2 is ρ² tuned to the planned sample size (Howard et al. 2021, §3.5).
func (o SequentialOptions) rho2() float64 {
	l := -2 * math.Log(o.Alpha)
	return (l + math.Log(l+1)) / float64(o.Planned)
}

// sd is the running standard deviation (ddof 1).
func (s Sequence) sd() float64 {
	if s.N < 2 {
		return math.NaN()
	}
	return math.Sqrt(s.M2 / float64(s.N-1))
}

// Interval returns the always-valid (1 − Alpha) confidence interval for the
// mean after s.N observations. Below MinSequential observations it is an
// error wrapping ErrTooFewPairs.
func (s Sequence) Interval(opts SequentialOptions) (Interval, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return Interval{}, err
	}
	if s.N < MinSequential {
		return Interval{}, fmt.Errorf("%w: %d of the %d observations a sequential interval needs", ErrTooFewPairs, s.N, MinSequential)
	}
	t, r2 := float64(s.N), o.rho2()
	h := s.sd() * math.Sqrt(2*(t*r2+1)/(t*t*r2)*math.Log(math.Sqrt(t*r2+1)/o.Alpha))
	return Interval{Difference: s.Mean, Lower: s.Mean - h, Upper: s.Mean + h}, nil
}

// PValue returns the always-valid two-sided p-value of the mixture SPRT for
// mean == null: the α at which null is on the boundary of the confidence
// sequence, sqrt(tρ²+1)·exp(−z²tρ²/(2(tρ²+1))) with z = √t·|μ̂ − null|/σ̂,
// capped at 1. ρ is the one of opts (its Alpha only sets ρ). A caller
// that looks repeatedly reports the running minimum.
func (s Sequence) PValue(null float64, opts SequentialOptions) (float64, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return math.NaN(), err
	}
	if s.N < MinSequential {
		return math.NaN(), fmt.Errorf("%w: %d of the %d observations a sequential p-value needs", ErrTooFewPairs, s.N, MinSequential)
	}
	t, r2 := float64(s.N), o.rho2()
	sd := s.sd()
	if sd == 0 {
		return b2f(s.Mean == null), nil
	}
	x := (s.Mean - null) / sd
	return math.Min(1, math.Sqrt(t*r2+1)*math.Exp(-x*x*t*t*r2/(2*(t*r2+1)))), nil
}

// SplitTerm is the inverse-propensity observation of one event of split
// traffic: y/p when the event went to b (with probability p), −y/(1−p) when
// it went to a. Its mean is E[y | b] − E[y | a], so a Sequence of them is a
// confidence sequence for the A/B difference.
func SplitTerm(y float64, toB bool, p float64) float64 {
	if toB {
		return y / p
	}
	return -y / (1 - p)
}

// Decision is what an interval for the gain of b over a (positive = b is
// better) says against a non-inferiority margin.
type Decision string

const (
	// DecisionBetter: the whole interval is above 0.
	DecisionBetter Decision = "better"
	// DecisionNonInferior: b may be worse, but by less than the margin.
	DecisionNonInferior Decision = "noninferior"
	// DecisionWorse: b is worse than a by more than the margin.
	DecisionWorse Decision = "worse"
	// DecisionUndecided: the evidence does not suffice yet.
	DecisionUndecided Decision = "undecided"
)

// Decide reads an interval for the gain of b over a (metric of b − metric
// of a, oriented so that larger is better) with a non-inferiority margin
// >= 0 in the metric's units: better when Lower > 0, noninferior when
// Lower > −margin, worse when Upper < −margin, undecided otherwise. A
// margin of 0 asks for superiority.
func Decide(gain Interval, margin float64) Decision {
	switch {
	case gain.Lower > 0:
		return DecisionBetter
	case margin > 0 && gain.Lower > -margin:
		return DecisionNonInferior
	case gain.Upper < -margin:
		return DecisionWorse
	}
	return DecisionUndecided
}
