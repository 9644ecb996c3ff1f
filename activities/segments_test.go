package activities

import (
	"slices"
	"testing"

	"github.com/vigilml/vigil/analysis"
)

// Alerts carry the top three segments; one found without labels says it
// is an estimate.
func TestWeakSegmentsForAlerts(t *testing.T) {
	rep := &analysis.Report{Segments: []analysis.Segment{
		{Filter: "cat = d", Rows: 1250, Metric: "estimated_accuracy", Value: 0.5, Delta: -0.38},
		{Filter: "plan = basic", Rows: 250, Metric: "accuracy", Value: 0.51, Delta: -0.4},
		{Filter: "region = east", Rows: 900, Metric: "mae", Value: 1.2, Delta: 0.9},
		{Filter: "x0 > 1", Rows: 300, Metric: "accuracy", Value: 0.7, Delta: -0.1},
	}}
	want := []string{
		"cat = d: estimated accuracy 0.5 (-0.38), 1250 rows, estimated without labels",
		"plan = basic: accuracy 0.51 (-0.4), 250 rows",
		"region = east: mae 1.2 (+0.9), 900 rows",
	}
	if got := weakSegments(rep, 3); !slices.Equal(got, want) {
		t.Errorf("weakSegments = %q, want %q", got, want)
	}
}
