package demo

import (
	"math"
	"math/rand/v2"
	"time"
)

// Features are the demo model's inputs.
var Features = []string{"x1", "x2", "x3", "x4"}

// Default concepts: the label's log-odds before and after the drift. The
// angle between them is wide enough that a model fitted before the drift
// drops from about 0.9 to about 0.6 accuracy after it.
var (
	DefaultBefore = []float64{5, -3.5, 2.5, 0}
	DefaultAfter  = []float64{2, -3, -2.5, 4}
)

// Example is one generated record with its true label.
type Example struct {
	X     []float64 // in Features order
	Label int
	// LatencyMS is a plausible serving latency for the record.
	LatencyMS float64
}

// FeatureMap returns the features by name, as records carry them.
func (e Example) FeatureMap() map[string]float64 {
	m := make(map[string]float64, len(e.X))
	for i, f := range Features {
		m[f] = e.X[i]
	}
	return m
}

// GeneratorConfig configures the traffic generator.
type GeneratorConfig struct {
	Seed uint64
	// DriftAt is when the concept changes; the zero time means never.
	DriftAt time.Time
	// RevertAt, when after DriftAt, is when the concept changes back: a
	// transient drift (zero: never).
	RevertAt time.Time
	// Before and After are the concepts' weights (default DefaultBefore/After).
	Before, After []float64
	// Shift moves the means of x3 and x4 after the drift, so the data drift
	// is visible to the drift tests too, not only in accuracy. Default 0.75;
	// negative disables it.
	Shift float64
}

// Generator produces demo traffic deterministically: the same config and the
// same sequence of Sample times give the same examples.
type Generator struct {
	cfg GeneratorConfig
	rng *rand.Rand
}

// NewGenerator returns a generator.
func NewGenerator(cfg GeneratorConfig) *Generator {
	if cfg.Before == nil {
		cfg.Before = DefaultBefore
	}
	if cfg.After == nil {
		cfg.After = DefaultAfter
	}
	if cfg.Shift == 0 {
		cfg.Shift = 0.75
	}
	if cfg.Shift < 0 {
		cfg.Shift = 0
	}
	return &Generator{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0x5eed))}
}

// Drifted reports whether traffic at t follows the post-drift concept.
func (g *Generator) Drifted(t time.Time) bool {
	return !g.cfg.DriftAt.IsZero() && !t.Before(g.cfg.DriftAt) && (g.cfg.RevertAt.IsZero() || t.Before(g.cfg.RevertAt))
}

// Revert makes the drift end at t: from then on traffic follows the
// original concept again (GeneratorConfig.RevertAt).
func (g *Generator) Revert(t time.Time) { g.cfg.RevertAt = t }

// Sample returns one example as of time t.
func (g *Generator) Sample(t time.Time) Example {
	w, shift := g.cfg.Before, 0.0
	if g.Drifted(t) {
		w, shift = g.cfg.After, g.cfg.Shift
	}
	x := make([]float64, len(Features))
	for i := range x {
		x[i] = g.rng.NormFloat64()
	}
	x[2] += shift
	x[3] += shift
	z := 0.0
	for i := range x {
		z += w[i] * x[i]
	}
	z -= shift * (w[2] + w[3]) // keep the classes balanced after the shift
	label := 0
	if g.rng.Float64() < sigmoid(z) {
		label = 1
	}
	latency := 40 * math.Exp(0.35*g.rng.NormFloat64())
	return Example{X: x, Label: label, LatencyMS: math.Round(latency*10) / 10}
}

// Samples returns n examples as of time t.
func (g *Generator) Samples(n int, t time.Time) []Example {
	out := make([]Example, n)
	for i := range out {
		out[i] = g.Sample(t)
	}
	return out
}
