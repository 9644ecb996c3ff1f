package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/vigilml/vigil/analysis"
	"github.com/vigilml/vigil/store/format"
)

// pushed is one request the fake Pushgateway received.
type pushed struct {
	method, path string
	families     map[string]*dto.MetricFamily
}

func fakePushgateway(t *testing.T, status int) (*httptest.Server, *[]pushed) {
	var got []pushed
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := pushed{method: r.Method, path: r.URL.Path, families: map[string]*dto.MetricFamily{}}
		dec := expfmt.NewDecoder(r.Body, expfmt.ResponseFormat(r.Header))
		for {
			var mf dto.MetricFamily
			if err := dec.Decode(&mf); err != nil {
				if !errors.Is(err, io.EOF) {
					t.Errorf("decode pushed metrics: %v", err)
				}
				break
			}
			p.families[mf.GetName()] = &mf
		}
		got = append(got, p)
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return srv, &got
}

func e2eReport(t *testing.T) *analysis.Report {
	t.Helper()
	open := func(path string) analysis.Rows {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		rows, err := format.Open(f, "csv", format.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return rows
	}
	rep, err := analysis.Analyze(open(testRef), open(testCur), analysis.Options{
		Task: "binary", Target: "label", Prediction: "prediction", Score: "score", Latency: "latency_ms"})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func gaugeValue(mf *dto.MetricFamily, labels map[string]string) (float64, bool) {
next:
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue next
			}
		}
		return m.GetGauge().GetValue(), true
	}
	return 0, false
}

func TestPushReportPutsTheModelsGroup(t *testing.T) {
	rep := e2eReport(t)
	srv, got := fakePushgateway(t, http.StatusOK)
	if err := pushReport(context.Background(), srv.URL, "", "churn", rep); err != nil {
		t.Fatal(err)
	}
	if len(*got) != 1 {
		t.Fatalf("%d requests, want 1", len(*got))
	}
	p := (*got)[0]
	if p.method != http.MethodPut || p.path != "/metrics/job/vigil-analyze/instance/churn" {
		t.Errorf("request %s %s, want PUT /metrics/job/vigil-analyze/instance/churn (replace this model's group)", p.method, p.path)
	}
	perf := p.families["vigil_model_performance"]
	if perf == nil {
		t.Fatalf("no vigil_model_performance pushed; got %d families", len(p.families))
	}
	for metric := range rep.Performance {
		want, _ := rep.Metric("performance." + metric)
		if v, ok := gaugeValue(perf, map[string]string{"model": "churn", "metric": metric}); !ok || v != want {
			t.Errorf("pushed %s = %v (present %v), report %v", metric, v, ok, want)
		}
	}
	share, _ := rep.Metric("dataset_drift.share")
	if v, ok := gaugeValue(p.families["vigil_dataset_drift_share"], map[string]string{"model": "churn"}); !ok || v != share {
		t.Errorf("pushed drift share = %v, report %v", v, share)
	}
	for _, name := range []string{"vigil_evaluation_status", "vigil_evaluation_duration_seconds", "vigil_last_window_end_timestamp_seconds"} {
		if p.families[name] != nil {
			t.Errorf("%s pushed: an offline analysis has no status, duration or window", name)
		}
	}
}

func TestPushReportSaysWhichGatewayFailed(t *testing.T) {
	srv, _ := fakePushgateway(t, http.StatusInternalServerError)
	err := pushReport(context.Background(), srv.URL, "nightly", "churn", e2eReport(t))
	if err == nil || !strings.Contains(err.Error(), srv.URL) || !strings.Contains(err.Error(), "500") {
		t.Errorf("err = %v, want one naming %s and the status 500", err, srv.URL)
	}
}
