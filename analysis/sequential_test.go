package analysis

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Peeking after every event must not inflate the error rate: over many
// null runs, the share in which the interval ever misses the true mean
// stays near α, while a fixed-sample 95% interval read the same way misses
// in most runs.
func TestSequenceCoverageUnderContinuousPeeking(t *testing.T) {
	const runs, steps, alpha = 400, 2000, 0.05
	for _, c := range []struct {
		name string
		draw func(r *rand.Rand) float64
		mean float64
	}{
		{"normal", func(r *rand.Rand) float64 { return r.NormFloat64() }, 0},
		// paired hit differences hit_b − hit_a with 30% discordant events
		{"paired hits", func(r *rand.Rand) float64 {
			switch u := r.Float64(); {
			case u < 0.15:
				return 1
			case u < 0.30:
				return -1
			}
			return 0
		}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			var seqMiss, naiveMiss int
			for run := 0; run < runs; run++ {
				var s Sequence
				seqMissed, naiveMissed := false, false
				for i := 0; i < steps; i++ {
					if err := s.Add(c.draw(r)); err != nil {
						t.Fatal(err)
					}
					if s.N < MinSequential {
						continue
					}
					iv, err := s.Interval(SequentialOptions{Alpha: alpha, Planned: 500})
					if err != nil {
						t.Fatal(err)
					}
					seqMissed = seqMissed || !iv.Contains(c.mean)
					h := 1.96 * s.sd() / math.Sqrt(float64(s.N))
					naiveMissed = naiveMissed || math.Abs(s.Mean-c.mean) > h
				}
				seqMiss += b2i(seqMissed)
				naiveMiss += b2i(naiveMissed)
			}
			t.Logf("runs that ever missed the mean, of %d: confidence sequence %d, fixed-sample 95%% interval %d", runs, seqMiss, naiveMiss)
			// α plus three binomial standard errors
			if limit := alpha + 3*math.Sqrt(alpha*(1-alpha)/runs); float64(seqMiss)/runs > limit {
				t.Errorf("confidence sequence missed the mean in %d of %d runs (limit %.3f)", seqMiss, runs, limit)
			}
			if naiveMiss < runs/4 {
				t.Errorf("the fixed-sample interval missed in only %d of %d runs: the check cannot tell the two apart", naiveMiss, runs)
			}
		})
	}
}

func TestSequencePValueMatchesInterval(t *testing.T) {
	opts := SequentialOptions{Alpha: 0.05, Planned: 200}
	r := rand.New(rand.NewPCG(3, 4))
	for _, shift := range []float64{0, 0.05, 0.1, 0.2, 0.4} {
		var s Sequence
		for i := 0; i < 300; i++ {
			_ = s.Add(shift + r.NormFloat64())
		}
		iv, err := s.Interval(opts)
		if err != nil {
			t.Fatal(err)
		}
		p, err := s.PValue(0, opts)
		if err != nil {
			t.Fatal(err)
		}
		if excluded := !iv.Contains(0); excluded != (p < opts.Alpha) {
			t.Errorf("shift %g: interval [%g, %g] excludes 0 = %v but p = %g", shift, iv.Lower, iv.Upper, excluded, p)
		}
		// on the boundary, the p-value is exactly α
		pl, _ := s.PValue(iv.Lower, opts)
		check(t, "p-value at the lower bound", pl, opts.Alpha, 1e-9)
	}
}

func TestSequenceMergeEqualsAdd(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var all, a, b Sequence
	for i := 0; i < 1000; i++ {
		x := 3 + 2*r.NormFloat64()
		_ = all.Add(x)
		if i < 370 {
			_ = a.Add(x)
		} else {
			_ = b.Add(x)
		}
	}
	a.Merge(b)
	if a.N != all.N || !near(a.Mean, all.Mean, 1e-12) || !near(a.M2, all.M2, 1e-9) {
		t.Errorf("merged %+v, added %+v", a, all)
	}
	if err := a.Add(math.Inf(1)); err == nil {
		t.Error("Add(+Inf) gave no error")
	}
}

// Split traffic: the inverse-propensity terms estimate μ_b − μ_a.
func TestSplitTermEstimatesTheDifference(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const p, muA, muB = 0.1, 0.80, 0.85 // canary at 10%, accuracies
	var s Sequence
	for i := 0; i < 200000; i++ {
		toB := r.Float64() < p
		mu := muA
		if toB {
			mu = muB
		}
		_ = s.Add(SplitTerm(b2f(r.Float64() < mu), toB, p))
	}
	iv, err := s.Interval(SequentialOptions{Planned: 200000})
	if err != nil {
		t.Fatal(err)
	}
	if !iv.Contains(muB - muA) {
		t.Errorf("interval [%g, %g] misses the true difference %g", iv.Lower, iv.Upper, muB-muA)
	}
	if Decide(iv, 0) != DecisionBetter {
		t.Errorf("decision %s on [%g, %g], want better", Decide(iv, 0), iv.Lower, iv.Upper)
	}
}

func TestDecide(t *testing.T) {
	cases := []struct {
		lower, upper, margin float64
		want                 Decision
	}{
		{0.01, 0.05, 0.02, DecisionBetter},
		{-0.01, 0.03, 0.02, DecisionNonInferior},
		{-0.01, 0.03, 0, DecisionUndecided}, // superiority asked, not shown
		{-0.03, 0.01, 0.02, DecisionUndecided},
		{-0.06, -0.03, 0.02, DecisionWorse},
		{-0.06, -0.01, 0.02, DecisionUndecided}, // worse, but maybe within the margin
		{-0.06, -0.01, 0, DecisionWorse},
	}
	for _, c := range cases {
		if got := Decide(Interval{Lower: c.lower, Upper: c.upper}, c.margin); got != c.want {
			t.Errorf("Decide([%g, %g], margin %g) = %s, want %s", c.lower, c.upper, c.margin, got, c.want)
		}
	}
}
