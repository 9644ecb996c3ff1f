package metrics_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/vigilml/vigil/analysis"
	"github.com/vigilml/vigil/internal/metrics"
	"github.com/vigilml/vigil/store/format"
)

// window writes n rows of a binary churn model as CSV: age drifts upward by
// shift, income is stationary, plan is categorical, and every 10th label is
// missing (unlabeled rows).
func window(seed uint64, n int, shift float64) string {
	r := rand.New(rand.NewPCG(seed, 7))
	var b strings.Builder
	b.WriteString("event_id,age,income,plan,label,prediction,score,latency_ms\n")
	plans := []string{"basic", "pro", "team"}
	for i := range n {
		age := 40 + 10*r.NormFloat64() + shift
		income := 5000 + 800*r.NormFloat64()
		score := r.Float64()
		pred := 0
		if score > 0.5 {
			pred = 1
		}
		label := fmt.Sprint(pred)
		if r.Float64() < 0.2 {
			label = fmt.Sprint(1 - pred)
		}
		if i%10 == 9 {
			label = ""
		}
		fmt.Fprintf(&b, "e%d,%.2f,%.1f,%s,%s,%d,%.3f,%.2f\n", i, age, income, plans[r.IntN(3)], label, pred, score, 5+20*r.Float64())
	}
	return b.String()
}

func rows(t *testing.T, csv string) analysis.Rows {
	t.Helper()
	rs, err := format.Open(strings.NewReader(csv), "csv", format.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// churnReport analyses a reference and a drifted current window.
func churnReport(t *testing.T) *analysis.Report {
	t.Helper()
	rep, err := analysis.Analyze(rows(t, window(1, 400, 0)), rows(t, window(2, 300, 15)), analysis.Options{
		Task: "binary", Target: "label", Prediction: "prediction", Score: "score", Latency: "latency_ms",
	})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// scrape GETs /metrics from metrics.Handler and parses the text format.
func scrape(t *testing.T, g prometheus.Gatherer) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(metrics.Handler(g))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

// series is one scraped sample: its labels as k=v,k=v (sorted) and value.
func series(mfs map[string]*dto.MetricFamily, name string) map[string]float64 {
	out := map[string]float64{}
	mf := mfs[name]
	if mf == nil {
		return out
	}
	for _, m := range mf.GetMetric() {
		var ls []string
		for _, l := range m.GetLabel() {
			ls = append(ls, l.GetName()+"="+l.GetValue())
		}
		sort.Strings(ls)
		var v float64
		switch {
		case m.Gauge != nil:
			v = m.GetGauge().GetValue()
		case m.Counter != nil:
			v = m.GetCounter().GetValue()
		case m.Histogram != nil:
			v = float64(m.GetHistogram().GetSampleCount())
		}
		out[strings.Join(ls, ",")] = v
	}
	return out
}

// labels renders label pairs as series keys them.
func labels(kv ...string) string {
	var ls []string
	for i := 0; i < len(kv); i += 2 {
		ls = append(ls, kv[i]+"="+kv[i+1])
	}
	sort.Strings(ls)
	return strings.Join(ls, ",")
}
