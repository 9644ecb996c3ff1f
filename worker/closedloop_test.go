package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vigilml/vigil/analysis"
	"github.com/vigilml/vigil/control"
	"github.com/vigilml/vigil/train/registry"
	"github.com/vigilml/vigil/workflows"
)

// The demo's closed loop at a test's pace: traffic drifts, accuracy falls,
// an incident opens, exactly one retrain runs, the challenger beats the
// champion and is promoted, the demo server switches to it, accuracy
// recovers and the incident resolves — all through real schedules,
// workflows and activities.
func TestClosedLoopHealsTheDemoModel(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the closed loop on a Temporal server (about a minute)")
	}
	dir := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := writeConfig(t, dir, strings.ReplaceAll(`
dev: {data_dir: "{{dir}}"}
models:
  - name: demo
    task: binary
    schedule: {every: 2s, window: 4s}
    columns: {target: label, prediction: prediction, score: score, latency: latency_ms}
    features: [x1, x2, x3, x4]
    source: {uri: "file://{{dir}}/demo/predictions"}
    ground_truth: {uri: "file://{{dir}}/demo/ground-truth"}
    reference: {uri: "file://{{dir}}/demo/reference.csv"}
    rules:
      - {name: accuracy-drop, metric: performance.accuracy, below: 0.8, for: 3, recover_after: 2,
         severity: critical, escalate_after: 1h, retrain: true}
    retrain:
      trainer: command
      command: ["{{self}}", "demo-train"]
      train_window: 3s
      validation_window: 2s
      min_improvement: 0.05
      timeout: 2m
`, "{{self}}", self))
	w := startWorker(t, options{
		configPath: cfgPath, demoTraffic: true,
		demoDriftAfter: 8 * time.Second, demoRate: 40, demoTick: 250 * time.Millisecond,
	})
	ctx := context.Background()
	wc := &control.Client{C: w.Client, TaskQueue: "vigil"}

	waitFor(t, 90*time.Second, "an incident on accuracy-drop", func() (bool, error) {
		st, err := wc.Incidents(ctx, "demo")
		return err == nil && st != nil && st.Rules["accuracy-drop"] != nil && st.Rules["accuracy-drop"].Open != nil, err
	})
	waitFor(t, 120*time.Second, "a completed retrain", func() (bool, error) {
		n, err := countWorkflows(ctx, w.Worker, `WorkflowType = "RetrainWorkflow" AND ExecutionStatus = "Completed"`)
		return n >= 1, err
	})
	var res workflows.RetrainResult
	if err := w.Client.GetWorkflow(ctx, workflows.RetrainWorkflowID("demo"), "").Get(ctx, &res); err != nil {
		t.Fatalf("retrain: %v", err)
	}
	t.Logf("retrain: %s, %s %.3f (challenger %s) vs %.3f (champion %s)", res.Outcome, res.Validation.Metric,
		res.Validation.Challenger, res.Challenger, res.Validation.Champion, res.Champion)
	if res.Outcome != workflows.OutcomePromoted {
		t.Fatalf("challenger not promoted: %+v", res)
	}

	waitFor(t, 90*time.Second, "the incident to resolve", func() (bool, error) {
		st, err := wc.Incidents(ctx, "demo")
		return err == nil && st != nil && st.Rules["accuracy-drop"].Open == nil && st.Rules["accuracy-drop"].Resolved == 1, err
	})
	n, err := countWorkflows(ctx, w.Worker, `WorkflowType = "RetrainWorkflow"`)
	if err != nil || n != 1 {
		t.Errorf("%d retrains ran (err %v), want exactly 1 for one incident", n, err)
	}

	blobs, err := w.Store.Blobs(ctx, w.Config.Storage.Registry)
	if err != nil {
		t.Fatal(err)
	}
	prod, err := registry.New(blobs).Resolve(ctx, "demo", registry.AliasProduction)
	if err != nil || prod.Version != 2 {
		t.Errorf("production = v%d (err %v), want v2", prod.Version, err)
	}

	// The latest report shows the recovered accuracy.
	body, _, err := w.Store.ReadReport(ctx, "demo", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	rep := mustReport(t, body)
	acc, ok := rep.Metric("performance.accuracy")
	if !ok || acc < 0.8 {
		t.Errorf("accuracy after the loop = %.3f (ok=%v), want recovered to ≥ 0.8", acc, ok)
	}
	// The audit trail: breach evaluations are searchable by status.
	breaches, err := countWorkflows(ctx, w.Worker, `VigilModel = "demo" AND VigilStatus = "breach"`)
	if err != nil || breaches < 3 {
		t.Errorf("%d breach evaluations visible (err %v), want ≥ 3", breaches, err)
	}
	// The dashboard shows the loop.
	checkDashboard(t, w)
	if dst := os.Getenv("VIGIL_RECORD_REPLAY"); dst != "" {
		record(t, w, dst, "retrain-promoted.json", workflows.RetrainWorkflowID("demo"))
		record(t, w, dst, "incident-retrain-resolve.json", workflows.IncidentWorkflowID("demo"))
	}
	fmt.Fprintf(os.Stderr, "closed loop: %d breach windows, challenger %.3f vs champion %.3f, final accuracy %.3f\n",
		breaches, res.Validation.Challenger, res.Validation.Champion, acc)
}

func mustReport(t *testing.T, body []byte) *analysis.Report {
	t.Helper()
	var rep analysis.Report
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatal(err)
	}
	return &rep
}
