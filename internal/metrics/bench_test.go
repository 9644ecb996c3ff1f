package metrics_test

import (
	"fmt"
	"io"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/vigilml/vigil/analysis"
	"github.com/vigilml/vigil/internal/metrics"
)

// TestConcurrentEvaluationsAndScrapes is for -race: activities of several
// models publish while Prometheus scrapes.
func TestConcurrentEvaluationsAndScrapes(t *testing.T) {
	p, reg := newPublisher(metrics.Options{MaxFeatures: 5})
	h := metrics.Handler(reg)
	var wg sync.WaitGroup
	for m := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				feats := []string{"a", "b", "c", "d", "e", "f", "g"}[:3+i%4]
				p.Evaluation(fmt.Sprintf("m%d", m), fmt.Sprintf("v%d", i%2), metrics.Statuses[i%4],
					report("", map[string]float64{"accuracy": 0.9}, feats...), now, time.Millisecond)
				p.IncidentOpened(fmt.Sprintf("m%d", m), "r", "warning")
				p.IncidentResolved(fmt.Sprintf("m%d", m), "r", "warning")
			}
		}()
	}
	for range 20 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		if rec.Code != 200 {
			t.Fatalf("scrape: %d %s", rec.Code, rec.Body)
		}
	}
	wg.Wait()
}

func wideReport(n int) *analysis.Report {
	var names []string
	for i := range n {
		names = append(names, fmt.Sprintf("feature_%03d", i))
	}
	return report("", map[string]float64{"accuracy": 0.9, "precision": 0.8, "recall": 0.7, "f1": 0.75, "roc_auc": 0.85, "log_loss": 0.4}, names...)
}

// BenchmarkEvaluation publishes a 200-feature report (capped at 50).
func BenchmarkEvaluation(b *testing.B) {
	p, _ := newPublisher(metrics.Options{})
	rep := wideReport(200)
	for b.Loop() {
		p.Evaluation("churn", "v3", "ok", rep, now, time.Second)
	}
}

// BenchmarkScrape serves /metrics for 20 models of 200 features each.
func BenchmarkScrape(b *testing.B) {
	p, reg := newPublisher(metrics.Options{})
	rep := wideReport(200)
	for m := range 20 {
		p.Evaluation(fmt.Sprintf("model_%02d", m), "v3", "ok", rep, now, time.Second)
	}
	h := metrics.Handler(reg)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	size := rec.Body.Len()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		io.Copy(io.Discard, rec.Body)
	}
	b.ReportMetric(float64(size), "bytes/scrape")
}
