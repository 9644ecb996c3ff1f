package activities

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/vigilml/vigil/analysis"
	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/store"
)

type recordingSink struct{ got []*analysis.Report }

func (r *recordingSink) WriteEvaluation(_ context.Context, _, _, _ string, rep *analysis.Report, _ time.Time) error {
	r.got = append(r.got, rep)
	return nil
}

// PublishMetrics hands each evaluation to the sinks, even without a
// Prometheus publisher: the stored report for a complete window, nil for a
// window whose numbers are partial.
func TestPublishMetricsFeedsTheSinks(t *testing.T) {
	dir := t.TempDir()
	st := store.New(config.Storage{Reports: "file://" + dir})
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	body, _ := json.Marshal(analysis.Report{Performance: map[string]float64{"accuracy": 0.9}})
	uri, err := st.WriteReport(context.Background(), "churn", start, body)
	if err != nil {
		t.Fatal(err)
	}
	sink := &recordingSink{}
	a := &Activities{Store: st, Sinks: []EvaluationSink{sink}}
	in := PublishMetricsInput{Model: "churn", ReportURI: uri, Status: "ok", WindowStart: start, WindowEnd: start.Add(15 * time.Minute)}
	if err := a.PublishMetrics(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	in.Status = StatusIncomplete
	if err := a.PublishMetrics(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if len(sink.got) != 2 || sink.got[0] == nil || sink.got[0].Performance["accuracy"] != 0.9 || sink.got[1] != nil {
		t.Errorf("sink got %+v", sink.got)
	}
}
