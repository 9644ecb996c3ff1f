package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vigilml/vigil/train/registry"
	"github.com/vigilml/vigil/workflows"
)

// The demo's closed loop with retrain.rollout: shadow. The retrain's
// challenger passes the gate on held-out data, then scores the live
// traffic beside the champion (the demo server logs its predictions under
// shadow.v2), and the evidence of that traffic decides.
//
// Won: the drift lasts, the challenger is better on live traffic and is
// promoted. Lost: the drift ends as soon as the challenger is registered
// (a transient drift), the champion is right again, and the challenger is
// rejected although it passed the gate — what shadow testing is for.
func TestShadowRolloutPromotesTheDemoChallenger(t *testing.T) {
	res, reg := runRollout(t, shadowRollout, false, "retrain-shadow-promoted.json", "shadow v2")
	if res.Outcome != workflows.OutcomePromoted {
		t.Fatalf("outcome %s (%s), want promoted", res.Outcome, res.Reason)
	}
	if reg.Aliases[registry.AliasProduction] != 2 {
		t.Errorf("production = v%d, want v2", reg.Aliases[registry.AliasProduction])
	}
	if last := res.Rollout.Steps[len(res.Rollout.Steps)-1]; last.Verdict != "better" || last.Lower <= 0 {
		t.Errorf("deciding step = %+v, want better with its interval above 0", last)
	}
}

func TestShadowRolloutRejectsAWorseDemoChallenger(t *testing.T) {
	res, reg := runRollout(t, shadowRollout, true, "retrain-shadow-rejected.json", "shadow v2")
	if res.Outcome != workflows.OutcomeRejected {
		t.Fatalf("outcome %s (%s), want rejected", res.Outcome, res.Reason)
	}
	if reg.Aliases[registry.AliasProduction] != 1 {
		t.Errorf("production = v%d, want v1 kept", reg.Aliases[registry.AliasProduction])
	}
	if v := reg.Version(2); v == nil || v.Status != registry.Rejected {
		t.Errorf("challenger v2 = %+v, want rejected", v)
	}
	if last := res.Rollout.Steps[len(res.Rollout.Steps)-1]; last.Verdict != "worse" || last.Upper >= 0 {
		t.Errorf("deciding step = %+v, want worse with its interval below 0", last)
	}
}

const shadowRollout = "{mode: shadow, evaluation_interval: 3s, min_rows: 100, max_duration: 90s}"

// Canary after the drift: the demo server sends 20%, then 50% of the
// requests to v2 (logged as model_version v2), the split traffic is
// compared step by step, and v2 is promoted after the 50% step's hold.
func TestCanaryRolloutPromotesTheDemoChallenger(t *testing.T) {
	res, reg := runRollout(t, "{mode: canary, steps: [20, 50, 100], hold: 6s, evaluation_interval: 3s, min_rows: 100, max_duration: 90s}",
		false, "", "canary v2 20%")
	if res.Outcome != workflows.OutcomePromoted {
		t.Fatalf("outcome %s (%s), want promoted", res.Outcome, res.Reason)
	}
	if reg.Aliases[registry.AliasProduction] != 2 || reg.Aliases[registry.AliasCanary] != 0 {
		t.Errorf("aliases = %v, want production v2 and no canary", reg.Aliases)
	}
	seen := map[int]bool{}
	for _, s := range res.Rollout.Steps {
		seen[s.Percent] = true
	}
	if !seen[20] || !seen[50] || len(seen) != 2 {
		t.Errorf("evaluated at percents %v, want 20 and 50", seen)
	}
	if last := res.Rollout.Steps[len(res.Rollout.Steps)-1]; last.Verdict != "better" || last.Percent != 50 {
		t.Errorf("deciding step = %+v, want better at 50%%", last)
	}
}

// Canary of a worse challenger (the drift ended when it was registered):
// the first breach rolls the traffic back to the champion at once.
func TestCanaryRolloutRollsBackAWorseDemoChallenger(t *testing.T) {
	res, reg := runRollout(t, "{mode: canary, steps: [20, 50, 100], hold: 6s, evaluation_interval: 3s, min_rows: 100, max_duration: 90s}",
		true, "", "canary v2 20%")
	if res.Outcome != workflows.OutcomeRolledBack || res.Rollout.Decision != workflows.RolloutRolledBack {
		t.Fatalf("outcome %s (%s), want rolled-back", res.Outcome, res.Reason)
	}
	if reg.Aliases[registry.AliasProduction] != 1 || reg.Aliases[registry.AliasCanary] != 0 || reg.Rollout.Percent != 0 {
		t.Errorf("aliases %v, percent %d; want v1 in production, no canary, no traffic to v2", reg.Aliases, reg.Rollout.Percent)
	}
	if last := res.Rollout.Steps[len(res.Rollout.Steps)-1]; last.Verdict != "breach" || last.Upper >= 0 {
		t.Errorf("deciding step = %+v, want a breach with its interval below 0", last)
	}
}

// runRollout runs the demo's closed loop with retrain.rollout: rollout
// until the retrain completes; staged is VigilRollout while the first
// step runs.
func runRollout(t *testing.T, rollout string, transient bool, replayName, staged string) (*workflows.RetrainResult, *registry.Model) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the closed loop with a rollout on a Temporal server (about a minute)")
	}
	cfgPath := rolloutConfig(t, t.TempDir(), rollout)
	w := startWorker(t, options{
		configPath: cfgPath, demoTraffic: true,
		demoDriftAfter: 8 * time.Second, demoRate: 40, demoTick: 250 * time.Millisecond,
		demoRevertOnChallenger: transient,
	})
	ctx := context.Background()

	// While the rollout runs, the search attribute says where it is.
	waitFor(t, 150*time.Second, "a rollout under way ("+staged+")", func() (bool, error) {
		n, err := countWorkflows(ctx, w.Worker, fmt.Sprintf(`WorkflowType = "RetrainWorkflow" AND VigilRollout = %q`, staged))
		return n == 1, err
	})
	waitFor(t, 150*time.Second, "a completed retrain", func() (bool, error) {
		n, err := countWorkflows(ctx, w.Worker, `WorkflowType = "RetrainWorkflow" AND ExecutionStatus = "Completed"`)
		return n >= 1, err
	})
	var res workflows.RetrainResult
	if err := w.Client.GetWorkflow(ctx, workflows.RetrainWorkflowID("demo"), "").Get(ctx, &res); err != nil {
		t.Fatalf("retrain: %v", err)
	}
	if res.Rollout == nil || len(res.Rollout.Steps) == 0 {
		t.Fatalf("retrain without rollout evidence: %+v", res)
	}
	t.Logf("retrain: %s: %s", res.Outcome, res.Reason)
	for _, s := range res.Rollout.Steps {
		if s.Rows < 100 || s.Metric != "performance.accuracy" || !(s.Lower <= s.Difference && s.Difference <= s.Upper) {
			t.Errorf("step %+v: want at least min_rows events and the difference inside its interval", s)
		}
	}
	n, err := countWorkflows(ctx, w.Worker, fmt.Sprintf(`WorkflowType = "RetrainWorkflow" AND VigilRollout = %q`, res.Rollout.Decision))
	if err != nil || n != 1 {
		t.Errorf("%d retrains with VigilRollout = %q (err %v), want 1", n, res.Rollout.Decision, err)
	}

	blobs, err := w.Store.Blobs(ctx, w.Config.Storage.Registry)
	if err != nil {
		t.Fatal(err)
	}
	m, err := registry.New(blobs).Model(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	if m.Aliases[registry.AliasShadow] != 0 {
		t.Errorf("the shadow alias outlived the rollout: %v", m.Aliases)
	}
	if m.Rollout == nil || m.Rollout.Decision != res.Rollout.Decision || m.Rollout.Challenger != 2 || m.Rollout.Champion != 1 ||
		len(m.Rollout.Steps) != len(res.Rollout.Steps) {
		t.Errorf("registry rollout = %+v, want the workflow's (%s, %d steps)", m.Rollout, res.Rollout.Decision, len(res.Rollout.Steps))
	}
	if dst := os.Getenv("VIGIL_RECORD_REPLAY"); dst != "" && replayName != "" {
		record(t, w, dst, replayName, workflows.RetrainWorkflowID("demo"))
	}
	return &res, m
}

// rolloutConfig writes the closed loop's config with retrain.rollout: rollout.
func rolloutConfig(t *testing.T, dir, rollout string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := writeConfig(t, dir, strings.NewReplacer("{{self}}", self, "{{rollout}}", rollout).Replace(`
dev: {data_dir: "{{dir}}"}
models:
  - name: demo
    task: binary
    schedule: {every: 2s, window: 4s}
    columns: {target: label, prediction: prediction, score: score, latency: latency_ms, event_id: event_id}
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
      rollout: {{rollout}}
`))
	return cfgPath
}

// A worker restarted in the middle of a shadow rollout: the rollout goes on
// from its durable timer with the evidence it had, decides once, and the
// registry holds each evaluation once.
func TestShadowRolloutSurvivesARestart(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts the worker during a rollout on a Temporal server (about a minute)")
	}
	dir := t.TempDir()
	cfgPath := rolloutConfig(t, dir, "{mode: shadow, evaluation_interval: 6s, min_rows: 100, max_duration: 90s}")
	port := freePort(t)
	opts := options{configPath: cfgPath, frontendPort: port, demoTraffic: true,
		demoDriftAfter: 8 * time.Second, demoRate: 40, demoTick: 250 * time.Millisecond}
	w := startWorker(t, opts)
	ctx := context.Background()
	waitFor(t, 150*time.Second, "a shadow rollout under way", func() (bool, error) {
		n, err := countWorkflows(ctx, w.Worker, `WorkflowType = "RetrainWorkflow" AND VigilRollout = "shadow v2"`)
		return n == 1, err
	})
	w.shutdown()
	restarted := time.Now()
	w = startWorker(t, opts)
	waitFor(t, 150*time.Second, "a completed retrain", func() (bool, error) {
		n, err := countWorkflows(ctx, w.Worker, `WorkflowType = "RetrainWorkflow" AND ExecutionStatus = "Completed"`)
		return n >= 1, err
	})
	var res workflows.RetrainResult
	if err := w.Client.GetWorkflow(ctx, workflows.RetrainWorkflowID("demo"), "").Get(ctx, &res); err != nil {
		t.Fatalf("retrain: %v", err)
	}
	t.Logf("retrain after a restart: %s: %s", res.Outcome, res.Reason)
	if res.Outcome != workflows.OutcomePromoted || res.Rollout == nil {
		t.Fatalf("outcome %s (%s), want promoted", res.Outcome, res.Reason)
	}
	if !res.Rollout.UpdatedAt.After(restarted) {
		t.Fatalf("decided at %v, before the restart at %v: the test did not restart mid-rollout", res.Rollout.UpdatedAt, restarted)
	}
	blobs, err := w.Store.Blobs(ctx, w.Config.Storage.Registry)
	if err != nil {
		t.Fatal(err)
	}
	m, err := registry.New(blobs).Model(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	if m.Rollout == nil || len(m.Rollout.Steps) != len(res.Rollout.Steps) || m.Aliases[registry.AliasShadow] != 0 || m.Aliases[registry.AliasProduction] != 2 {
		t.Fatalf("registry rollout %+v, aliases %v; want the workflow's %d steps, v2 in production", m.Rollout, m.Aliases, len(res.Rollout.Steps))
	}
	for i := 1; i < len(m.Rollout.Steps); i++ {
		if !m.Rollout.Steps[i].At.After(m.Rollout.Steps[i-1].At) {
			t.Errorf("steps %d and %d at %v, %v: each window once, in order", i-1, i, m.Rollout.Steps[i-1].At, m.Rollout.Steps[i].At)
		}
	}
	var productionMoves int
	for _, h := range m.History {
		if h.Alias == registry.AliasProduction && h.To == 2 {
			productionMoves++
		}
	}
	if productionMoves != 1 {
		t.Errorf("production moved to v2 %d times, want once", productionMoves)
	}
}
