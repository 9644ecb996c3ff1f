package activities

import "testing"

func TestRuleSpecBreachedAndThreshold(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	for _, tc := range []struct {
		name          string
		rule          RuleSpec
		breachedAt    []float64
		okAt          []float64
		wantThreshold string
	}{
		{"below", RuleSpec{Below: f(0.85)}, []float64{0.8, -1}, []float64{0.85, 0.9}, "< 0.85"},
		{"above", RuleSpec{Above: f(0.5)}, []float64{0.51}, []float64{0.5, 0}, "> 0.5"},
		{"band", RuleSpec{Below: f(1), Above: f(2)}, []float64{0.5, 2.5}, []float64{1, 1.5, 2}, "within [1, 2]"},
	} {
		for _, v := range tc.breachedAt {
			if !tc.rule.Breached(v) {
				t.Errorf("%s: %g must breach", tc.name, v)
			}
		}
		for _, v := range tc.okAt {
			if tc.rule.Breached(v) {
				t.Errorf("%s: %g must not breach", tc.name, v)
			}
		}
		if got := tc.rule.Threshold(); got != tc.wantThreshold {
			t.Errorf("%s: Threshold = %q, want %q", tc.name, got, tc.wantThreshold)
		}
	}
}
