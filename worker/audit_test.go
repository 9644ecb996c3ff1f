package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"

	"github.com/vigilml/vigil/activities"
	"github.com/vigilml/vigil/codec"
	"github.com/vigilml/vigil/control"
	"github.com/vigilml/vigil/train/registry"
	"github.com/vigilml/vigil/workflows"
)

// auditLine is one line of `starter audit -json`, with the field names
// the README documents.
type auditLine struct {
	Time       time.Time         `json:"time"`
	Kind       string            `json:"kind"`
	Actor      string            `json:"actor"`
	What       string            `json:"what"`
	Link       string            `json:"link"`
	Report     string            `json:"report"`
	Source     string            `json:"source"`
	Version    string            `json:"version"`
	WorkflowID string            `json:"workflow_id"`
	RunID      string            `json:"run_id"`
	Lineage    *registry.Version `json:"lineage"`
}

// A model's life on a real server, then `starter audit` (the built binary)
// tells it back in order: the breaching evaluation with its report and Web
// UI link, the incident opened and paged, the retrain the rule started and
// its promotion (registry version with lineage, alias move), a person's
// acknowledgement and silence, a manual promotion and the rollback, from
// both the registry and the workflow runs.
func TestStarterAuditTellsAModelsLifeInOrder(t *testing.T) {
	if testing.Short() {
		t.Skip("runs workflows on a Temporal server")
	}
	starter := buildStarter(t)
	pd := newFakePagerDuty(t, fakeOptions{Credential: "audit-routing-key"})
	t.Setenv("AUDIT_PD_KEY", "audit-routing-key")
	dir := t.TempDir()
	writeCrashData(t, filepath.Join(dir, "churn")) // accuracy 0.5 in every window
	trainer := filepath.Join(dir, "train.sh")
	if err := os.WriteFile(trainer, []byte(`#!/bin/sh
echo '{"weights": [1]}' > "$VIGIL_OUTPUT_DIR/model.json"
echo '{"accuracy": 0.9}' > "$VIGIL_OUTPUT_DIR/metrics.json"
`), 0o755); err != nil {
		t.Fatal(err)
	}
	cfgPath := writeConfig(t, dir, fmt.Sprintf(`
dev: {data_dir: "{{dir}}/state"}
temporal: {ui_url: "http://ui.example"}
notify:
  pagerduty: {routing_key_env: AUDIT_PD_KEY, events_url: %q}
models:
  - name: churn
    task: binary
    schedule: {every: 24h, window: 10m}
    columns: {target: label, prediction: prediction}
    features: [x1, x2]
    source: {uri: "file://{{dir}}/churn/data"}
    reference: {uri: "file://{{dir}}/churn/ref.csv"}
    rules:
      - {name: accuracy-drop, metric: performance.accuracy, below: 0.8, severity: critical, escalate_after: 1s, retrain: true}
    retrain:
      trainer: command
      command: [%q]
      train_window: 10m
      validation_window: 1m
      min_improvement: 0
`, pd.srv.URL, trainer))
	ctx := context.Background()
	w := startWorker(t, options{configPath: cfgPath})
	wc := &control.Client{C: w.Client, TaskQueue: "vigil"}

	// The evaluation breaches: an incident opens, is paged a second later,
	// and its rule starts a retrain, which promotes v1 (no champion yet).
	run, err := wc.Trigger(ctx, "churn", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var eval workflows.MonitorResult
	if err := run.Get(ctx, &eval); err != nil || eval.Status != workflows.StatusBreach {
		t.Fatalf("evaluation: %+v, %v; want a breach", eval, err)
	}
	waitFor(t, 30*time.Second, "the incident to be paged", func() (bool, error) {
		st, err := wc.Incidents(ctx, "churn")
		if err != nil || st == nil || st.Rules["accuracy-drop"] == nil || st.Rules["accuracy-drop"].Open == nil {
			return false, err
		}
		return slices.Contains(st.Rules["accuracy-drop"].Open.Notified, "pagerduty"), nil
	})
	waitFor(t, 60*time.Second, "the retrain to close", func() (bool, error) {
		d, err := w.Client.DescribeWorkflowExecution(ctx, workflows.RetrainWorkflowID("churn"), "")
		return err == nil && d.WorkflowExecutionInfo.Status != enums.WORKFLOW_EXECUTION_STATUS_RUNNING, nil
	})
	// People act: dana acknowledges, erin silences, bob promotes a v2
	// registered by hand, carol rolls it back.
	if _, err := wc.Ack(ctx, "churn", "", "dana"); err != nil {
		t.Fatal(err)
	}
	if _, err := wc.Silence(ctx, "churn", "", time.Hour, "erin"); err != nil {
		t.Fatal(err)
	}
	blobs, err := w.Store.Blobs(ctx, w.Config.Storage.Registry)
	if err != nil {
		t.Fatal(err)
	}
	reg := registry.New(blobs)
	beforeV2 := time.Now()
	if _, err := reg.Register(ctx, "churn", registry.Version{RunID: "hand-2", Trainer: "import", ArtifactURI: "file:///models/churn-2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.SetAlias(ctx, "churn", registry.AliasProduction, 2, "bob", "hotfix"); err != nil {
		t.Fatal(err)
	}
	if _, err := wc.Rollback(ctx, activities.RollbackInput{Model: "churn", Reason: "hotfix misbehaves", Actor: "carol"}); err != nil {
		t.Fatal(err)
	}

	audit := func(args ...string) ([]auditLine, string) {
		t.Helper()
		cmd := exec.Command(starter, append([]string{"audit", "-config", cfgPath, "-address", w.Config.Temporal.Address, "-model", "churn"}, args...)...)
		cmd.Env = append(os.Environ(), "VIGIL_TEMPORAL_ADDRESS=", "VIGIL_TEMPORAL_NAMESPACE=")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("starter audit %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if !slices.Contains(args, "-json") {
			return nil, string(out)
		}
		var lines []auditLine
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			var e auditLine
			if err := json.Unmarshal([]byte(l), &e); err != nil {
				t.Fatalf("not a JSON line: %q: %v", l, err)
			}
			lines = append(lines, e)
		}
		return lines, string(out)
	}
	trail, raw := audit("-json")

	// In causal order (the evaluation's close and the incident's opening
	// race, so the evaluation is checked apart).
	want := []struct{ kind, actor, what, source string }{
		{"incident.opened", "vigil", "rule accuracy-drop (critical) breached", "temporal"},
		{"retrain.started", "vigil", "retrain started: rule accuracy-drop: performance.accuracy = ", "temporal"},
		{"version.registered", "", "v1 registered: trainer command, run ", "registry"},
		{"alias.moved", "vigil (gate passed)", "production: none → v1: rule accuracy-drop", "registry"},
		{"retrain.promoted", "gate", "promoted: challenger v1 vs champion none", "temporal"},
		{"incident.acknowledged", "dana", "acknowledged churn/accuracy-drop/", "temporal"},
		{"incident.silenced", "erin", "rule * (every rule) silenced for 1h0m0s until ", "temporal"},
		{"version.registered", "", "v2 registered: trainer import, run hand-2", "registry"},
		{"alias.moved", "bob", "production: v1 → v2: hotfix", "registry"},
		{"model.rolled_back", "carol", "production rolled back: v2 → v1: hotfix misbehaves", "registry"},
		{"rollback.completed", "carol", "rollback from v2 to v1: hotfix misbehaves", "temporal"},
	}
	i := 0
	for _, e := range trail {
		if i < len(want) && e.Kind == want[i].kind && e.Actor == want[i].actor && strings.HasPrefix(e.What, want[i].what) && e.Source == want[i].source {
			i++
		}
	}
	if i < len(want) {
		t.Errorf("the trail lacks, in order after the entries before it, %+v:\n%s", want[i], raw)
	}
	if !slices.IsSortedFunc(trail, func(a, b auditLine) int { return a.Time.Compare(b.Time) }) {
		t.Errorf("the trail is not oldest first:\n%s", raw)
	}
	find := func(kind string) auditLine {
		for _, e := range trail {
			if e.Kind == kind {
				return e
			}
		}
		t.Errorf("no %s in the trail:\n%s", kind, raw)
		return auditLine{}
	}
	ev := find("evaluation.completed")
	if ev.Actor != "manual" || !strings.HasPrefix(ev.What, "status breach, ") || ev.Report != eval.ReportURI || ev.RunID != run.GetRunID() ||
		ev.Link != "http://ui.example/namespaces/default/workflows/vigil-monitor-churn-manual/"+run.GetRunID()+"/history" {
		t.Errorf("the evaluation's entry: %+v; want status, report %s and the run's Web UI link", ev, eval.ReportURI)
	}
	if esc := find("incident.escalated"); esc.Actor != "vigil" || !strings.HasSuffix(esc.What, "paged pagerduty") {
		t.Errorf("the escalation's entry: %+v", esc)
	}
	if promoted := find("retrain.promoted"); promoted.Version != "v1" || promoted.WorkflowID != "retrain-churn" {
		t.Errorf("the promotion's entry: %+v", promoted)
	}
	if v1 := find("version.registered"); v1.Lineage == nil || v1.Lineage.Trainer != "command" || v1.Lineage.RunID == "" || len(v1.Lineage.Data) == 0 || v1.Lineage.Data[0].SHA256 == "" {
		t.Errorf("v1's lineage: %+v", v1.Lineage)
	}

	// -since is a Temporal query too: what came before it is left out.
	since, _ := audit("-json", "-since", beforeV2.UTC().Format(time.RFC3339Nano))
	var kinds []string
	for _, e := range since {
		kinds = append(kinds, e.Kind)
		if e.Time.Before(beforeV2) {
			t.Errorf("-since %s kept %+v", beforeV2, e)
		}
	}
	if !slices.Equal(kinds, []string{"version.registered", "alias.moved", "model.rolled_back", "rollback.completed"}) {
		t.Errorf("-since before v2: %v", kinds)
	}
	// The text form: one line per event, the lineage indented under it.
	_, text := audit()
	t.Logf("starter audit -model churn:\n%s", text)
	_, text = audit("-limit", "3")
	lines := strings.Split(strings.TrimSpace(text), "\n")
	if f := strings.Fields(lines[len(lines)-1]); len(lines) != 3 || len(f) < 3 || f[1] != "rollback.completed" || f[2] != "carol" ||
		!strings.HasSuffix(lines[2], "rollback from v2 to v1: hotfix misbehaves  http://ui.example/namespaces/default/workflows/rollback-churn/"+rollbackRun(t, trail)+"/history") {
		t.Errorf("-limit 3:\n%s", text)
	}

	// A model neither the registry nor Temporal knows.
	cmd := exec.Command(starter, "audit", "-config", cfgPath, "-address", w.Config.Temporal.Address, "-model", "nobody")
	cmd.Env = append(os.Environ(), "VIGIL_TEMPORAL_ADDRESS=", "VIGIL_TEMPORAL_NAMESPACE=")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), `model "nobody": nothing recorded, neither in the registry`) {
		t.Errorf("audit of an unknown model: %v\n%s", err, out)
	}
}

// rollbackRun is the run ID of the trail's rollback.
func rollbackRun(t *testing.T, trail []auditLine) string {
	t.Helper()
	for _, e := range trail {
		if e.Kind == "rollback.completed" {
			return e.RunID
		}
	}
	return "(no rollback run)"
}

// With payload encryption the trail needs the worker's key: with it,
// `starter audit` shows what encrypted memos and inputs hold (the report
// URI, who acknowledged); with another key it prints what it can, names
// each payload it could not read, and fails instead of printing a trail
// that silently lacks them.
func TestStarterAuditReadsEncryptedPayloadsOnlyWithTheKey(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	starter := buildStarter(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ref.csv"), []byte("x,label,prediction\n1,1,1\n2,0,0\n3,1,0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfgPath := writeConfig(t, dir, `
dev: {data_dir: "{{dir}}/state"}
temporal:
  encryption: {key_env: VIGIL_AUDIT_KEY}
models:
  - name: churn
    task: binary
    schedule: {every: 24h}
    columns: {target: label, prediction: prediction}
    source: {uri: "file://{{dir}}/data"}
    reference: {uri: "file://{{dir}}/ref.csv"}
    rules:
      - {name: no-traffic, metric: rows.current, below: 1, severity: warning}
`)
	newKey := func() string {
		key := make([]byte, codec.KeySize)
		rand.Read(key)
		return base64.StdEncoding.EncodeToString(key)
	}
	t.Setenv("VIGIL_AUDIT_KEY", newKey())
	w := startWorker(t, options{configPath: cfgPath})
	ctx := context.Background()
	wc := &control.Client{C: w.Client, TaskQueue: w.Config.Temporal.TaskQueue}
	run, err := wc.Trigger(ctx, "churn", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var res workflows.MonitorResult
	if err := run.Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the incident to open", func() (bool, error) {
		st, err := wc.Incidents(ctx, "churn")
		return err == nil && st != nil && st.Rules["no-traffic"] != nil && st.Rules["no-traffic"].Open != nil, err
	})
	if _, err := wc.Ack(ctx, "churn", "", "dana"); err != nil {
		t.Fatal(err)
	}
	audit := func(key string) (stdout, stderr string, err error) {
		cmd := exec.Command(starter, "audit", "-config", cfgPath, "-address", w.Config.Temporal.Address, "-model", "churn")
		cmd.Env = append(os.Environ(), "VIGIL_TEMPORAL_ADDRESS=", "VIGIL_TEMPORAL_NAMESPACE=", "VIGIL_AUDIT_KEY="+key)
		var out, errOut strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err = cmd.Run()
		return out.String(), errOut.String(), err
	}
	out, stderr, err := audit(os.Getenv("VIGIL_AUDIT_KEY"))
	if err != nil || !strings.Contains(out, "evaluation.completed") || !strings.Contains(out, "report "+res.ReportURI) ||
		!strings.Contains(out, "incident.acknowledged  dana") {
		t.Errorf("with the key: %v\n%s%s", err, out, stderr)
	}
	out, stderr, err = audit(newKey())
	if err == nil || !strings.Contains(out, "evaluation.completed") || strings.Contains(out, res.ReportURI) ||
		!strings.Contains(stderr, "warning: unreadable payload of vigil-monitor-churn-manual") ||
		!strings.Contains(stderr, "payload(s) could not be read, so the trail above lacks what they hold") {
		t.Errorf("with another key: %v, want exit 1 naming the unreadable payloads\n%s%s", err, out, stderr)
	}
}
