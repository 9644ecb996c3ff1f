package demo

import (
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

var (
	drift  = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	before = drift.Add(-time.Hour)
	after  = drift.Add(time.Hour)
)

func fit(t *testing.T, data []Example) *Model {
	t.Helper()
	m, err := Fit(Features, data, FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestAModelFittedBeforeTheDriftDegradesAfterItAndRetrainingRecovers(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		g := NewGenerator(GeneratorConfig{Seed: seed, DriftAt: drift})
		trainOld, testOld := g.Samples(2000, before), g.Samples(2000, before)
		trainNew, testNew := g.Samples(2000, after), g.Samples(2000, after)

		old := fit(t, trainOld)
		pre, post := Accuracy(old, testOld), Accuracy(old, testNew)
		retrained := fit(t, trainNew)
		recovered := Accuracy(retrained, testNew)
		t.Logf("seed %d: old model %.3f before the drift, %.3f after; retrained %.3f", seed, pre, post, recovered)

		if pre < 0.85 {
			t.Errorf("seed %d: pre-drift accuracy %.3f, want ≥ 0.85", seed, pre)
		}
		if post > 0.7 {
			t.Errorf("seed %d: post-drift accuracy %.3f, want clearly worse (≤ 0.7)", seed, post)
		}
		if recovered < 0.85 {
			t.Errorf("seed %d: retrained accuracy %.3f, want ≥ 0.85", seed, recovered)
		}
	}
}

func TestTheGeneratorIsDeterministicUnderASeed(t *testing.T) {
	a := NewGenerator(GeneratorConfig{Seed: 7, DriftAt: drift}).Samples(50, after)
	b := NewGenerator(GeneratorConfig{Seed: 7, DriftAt: drift}).Samples(50, after)
	c := NewGenerator(GeneratorConfig{Seed: 8, DriftAt: drift}).Samples(50, after)
	if !reflect.DeepEqual(a, b) {
		t.Error("same seed, different traffic")
	}
	if reflect.DeepEqual(a, c) {
		t.Error("different seeds, same traffic")
	}
	if NewGenerator(GeneratorConfig{Seed: 1}).Drifted(after) {
		t.Error("a zero DriftAt means no drift")
	}
}

// A transient drift: after Revert the traffic follows the original concept
// again, so the model trained before the drift is right once more.
func TestARevertedDriftEnds(t *testing.T) {
	g := NewGenerator(GeneratorConfig{Seed: 4, DriftAt: drift})
	if !g.Drifted(after) {
		t.Fatal("no drift after DriftAt")
	}
	back := after.Add(time.Hour)
	g.Revert(back)
	if !g.Drifted(after) || g.Drifted(back) || g.Drifted(back.Add(time.Hour)) {
		t.Errorf("drifted at %v, %v, %v: want true, false, false", after, back, back.Add(time.Hour))
	}
	m := fit(t, NewGenerator(GeneratorConfig{Seed: 5}).Samples(5000, before))
	if acc := Metrics(m, g.Samples(5000, back))["accuracy"]; acc < 0.85 {
		t.Errorf("the pre-drift model scores %.3f after the revert, want ≥ 0.85", acc)
	}
}

func TestFitRecoversKnownWeights(t *testing.T) {
	g := NewGenerator(GeneratorConfig{Seed: 3})
	m := fit(t, g.Samples(20000, before))
	for i, w := range DefaultBefore {
		if d := m.Weights[i] - w; d > 0.3 || d < -0.3 {
			t.Errorf("weight %s = %.3f, want ≈ %.1f", Features[i], m.Weights[i], w)
		}
	}
}

func TestModelsSaveLoadAndScoreRecordsByFeatureName(t *testing.T) {
	g := NewGenerator(GeneratorConfig{Seed: 2})
	m := fit(t, g.Samples(500, before))
	path := filepath.Join(t.TempDir(), "model.json")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	back, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	e := g.Sample(before)
	score, pred, err := back.Score(e.FeatureMap())
	if err != nil || score != m.PredictProba(e.X) || pred != m.Predict(e.X) {
		t.Errorf("score %v pred %d err %v; want %v %d", score, pred, err, m.PredictProba(e.X), m.Predict(e.X))
	}
	if _, _, err := back.Score(map[string]float64{"x1": 1}); err == nil {
		t.Error("a record without the model's features must not score")
	}
	if _, err := Parse([]byte(`{"kind":"other"}`)); err == nil {
		t.Error("Parse must reject other files")
	}
}
