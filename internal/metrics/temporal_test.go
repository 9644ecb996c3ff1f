package metrics_test

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/vigilml/vigil/internal/metrics"
)

func fmtG(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func TestTemporalHandlerKeepsOnlyBoundedLabels(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := metrics.TemporalHandler(reg).WithTags(map[string]string{"namespace": "default", "workflow_id": "vigil-monitor-churn-2026"})
	h.WithTags(map[string]string{"operation": "StartWorkflowExecution"}).Counter("temporal_request").Inc(2)
	h.Timer("temporal_workflow_endtoend_latency").Record(1500 * time.Millisecond)
	h.Gauge("temporal_num_pollers").Update(3)
	h.Counter("temporal_num_pollers").Inc(1) // same base name as a gauge: distinct metric, no panic

	mfs := scrape(t, reg)
	req := mfs["temporal_request_total"]
	if req == nil || len(req.GetMetric()) != 1 {
		t.Fatalf("temporal_request_total = %v", req)
	}
	got := map[string]string{}
	for _, l := range req.GetMetric()[0].GetLabel() {
		if l.GetValue() != "" {
			got[l.GetName()] = l.GetValue()
		}
	}
	if len(got) != 2 || got["namespace"] != "default" || got["operation"] != "StartWorkflowExecution" {
		t.Errorf("labels = %v, want namespace and operation only (workflow_id dropped)", got)
	}
	if v := req.GetMetric()[0].GetCounter().GetValue(); v != 2 {
		t.Errorf("counter = %v, want 2", v)
	}
	if h := mfs["temporal_workflow_endtoend_latency_seconds"]; h == nil || h.GetMetric()[0].GetHistogram().GetSampleSum() != 1.5 {
		t.Errorf("timer histogram = %v, want one 1.5s sample", h)
	}
	if g := mfs["temporal_num_pollers"]; g == nil || g.GetMetric()[0].GetGauge().GetValue() != 3 {
		t.Errorf("gauge = %v, want 3", g)
	}
}

// TestTemporalHandlerWorksWithTheSDK runs a workflow in the SDK's test
// environment with the handler (the SDK wraps it in its replay-aware
// handler), and a workflow's metric must gather without error.
func TestTemporalHandlerWorksWithTheSDK(t *testing.T) {
	reg := prometheus.NewRegistry()
	var s testsuite.WorkflowTestSuite
	s.SetMetricsHandler(metrics.TemporalHandler(reg))
	env := s.NewTestWorkflowEnvironment()
	wf := func(ctx workflow.Context) error {
		workflow.GetMetricsHandler(ctx).Counter("vigil_test_workflow_runs").Inc(1)
		return workflow.Sleep(ctx, time.Minute)
	}
	env.RegisterWorkflowWithOptions(wf, workflow.RegisterOptions{Name: "TestWorkflow"})
	env.ExecuteWorkflow("TestWorkflow")
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	if !slices.Contains(names, "vigil_test_workflow_runs_total") {
		t.Errorf("workflow counter not exported; have %v", names)
	}
}
