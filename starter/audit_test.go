package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/store"
	"github.com/vigilml/vigil/train/registry"
)

// noTemporal is an address where no Temporal listens: the dial is refused
// at once, so these tests read the registry's part of the trail only.
const noTemporal = "127.0.0.1:1"

// auditRegistry writes a config whose registry (a temp dir) holds churn's
// life, one registry call per minute from 2026-11-01T10:00Z:
//
//	10:00 v1 registered (imported), 10:01 production → v1 by alice,
//	10:02 v2 registered by a retrain, 10:03 v2 approved by bob,
//	10:04 production v1 → v2 by bob, 10:05 production rolled back to v1 by carol,
//	10:06 v2 marked rejected by carol, then a canary rollout of v2 with two
//	steps that ends rolled back.
func auditRegistry(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "vigil.yaml")
	if err := os.WriteFile(path, []byte(`
storage: {registry: "file://`+dir+`/registry"}
temporal: {address: "`+noTemporal+`"}
models:
  - name: churn
    source: {uri: "file://`+dir+`/data"}
    reference: {uri: "file://`+dir+`/ref.csv"}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	blobs, err := store.New(config.Storage{}).Blobs(context.Background(), "file://"+dir+"/registry")
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 11, 1, 9, 59, 0, 0, time.UTC)
	tick := func() time.Time { clock = clock.Add(time.Minute); return clock }
	reg := registry.New(blobs, registry.WithClock(tick))
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err = reg.Register(ctx, "churn", registry.Version{RunID: "import-1", Trainer: "import", ArtifactURI: "s3://models/churn/1",
		Reason: "imported: served before Vigil", CodeVersion: "git:1111111"})
	must(err)
	_, err = reg.SetAlias(ctx, "churn", registry.AliasProduction, 1, "alice", "first deploy")
	must(err)
	_, err = reg.Register(ctx, "churn", registry.Version{RunID: "run-2", Trainer: "sagemaker", BackendJobID: "vigil-churn-run-2",
		ArtifactURI: "s3://models/churn/2", LogsURI: "s3://logs/churn/2",
		Data: []registry.Data{
			{Role: "train", URI: "s3://data/churn/train.parquet", SHA256: "aa11"},
			{Role: "validation", URI: "s3://data/churn/valid.parquet", SHA256: "bb22"},
		},
		Hyperparameters: map[string]string{"max_depth": "6", "eta": "0.1"},
		Metrics:         map[string]float64{"accuracy": 0.912, "auc": 0.95},
		CodeVersion:     "git:2222222",
		Reason:          "rule accuracy-drop: performance.accuracy = 0.71 (< 0.8)"})
	must(err)
	must(reg.Approve(ctx, "churn", 2, "bob"))
	_, err = reg.SetAlias(ctx, "churn", registry.AliasProduction, 2, "bob", "promoted after retrain-churn")
	must(err)
	_, err = reg.Rollback(ctx, "churn", 1, "carol", "complaints from sales")
	must(err)
	must(reg.SetStatus(ctx, "churn", 2, registry.Rejected, "carol", "worse on small accounts"))
	start := time.Date(2026, 11, 1, 11, 0, 0, 0, time.UTC)
	must(reg.SetRollout(ctx, "churn", registry.Rollout{ID: "retrain-churn/run-3", Mode: "canary", Champion: 1, Challenger: 2,
		Percent: 10, StartedAt: start, UpdatedAt: start.Add(2 * time.Hour),
		Steps: []registry.RolloutStep{
			{At: start.Add(time.Hour), Percent: 10, Rows: 1200, Metric: "accuracy", Champion: 0.9, Challenger: 0.91, Difference: 0.01, Lower: -0.02, Upper: 0.04, PValue: 0.4, Verdict: "continue"},
			{At: start.Add(2 * time.Hour), Percent: 10, Rows: 2400, Metric: "accuracy", Champion: 0.9, Challenger: 0.85, Difference: -0.05, Lower: -0.08, Upper: -0.02, PValue: 0.001, Verdict: "worse"},
		},
		Decision: "rolled-back", Reason: "accuracy worse by 0.05 [-0.08, -0.02]", Actor: "vigil"}))
	return path
}

func runAuditCmd(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = runMain(context.Background(), append([]string{"audit"}, args...), &out, &errOut)
	return out.String(), errOut.String(), code
}

// The registry's part of the trail, oldest first: each version with its
// lineage (run, trainer, backend job, data URIs and hashes, hyperparameters,
// code version, metrics, why it was trained, its status now and why),
// approvals, every alias move and rollback with actor and reason, and the
// rollout with each step's evidence and its decision. With Temporal
// unreachable the registry's part is printed, a warning says what is
// missing, and the command fails.
func TestAuditPrintsTheRegistryTrailThenFailsWithoutTemporal(t *testing.T) {
	cfg := auditRegistry(t)
	out, stderr, code := runAuditCmd(t, "-config", cfg, "-model", "churn")
	want := `2026-11-01T10:00:00Z  version.registered     -             v1 registered: trainer import, run import-1; reason: imported: served before Vigil
    code git:1111111
    artifact s3://models/churn/1
    status now production
2026-11-01T10:01:00Z  alias.moved            alice         production: none → v1: first deploy
2026-11-01T10:02:00Z  version.registered     -             v2 registered: trainer sagemaker, run run-2, job vigil-churn-run-2; reason: rule accuracy-drop: performance.accuracy = 0.71 (< 0.8)
    data train s3://data/churn/train.parquet sha256 aa11
    data validation s3://data/churn/valid.parquet sha256 bb22
    hyperparameters eta=0.1 max_depth=6
    code git:2222222
    metrics accuracy=0.912 auc=0.95
    artifact s3://models/churn/2
    logs s3://logs/churn/2
    status now rejected: carol: worse on small accounts
2026-11-01T10:03:00Z  version.approved       bob           v2 approved for production
2026-11-01T10:04:00Z  alias.moved            bob           production: v1 → v2: promoted after retrain-churn
2026-11-01T10:05:00Z  model.rolled_back      carol         production rolled back: v2 → v1: complaints from sales
2026-11-01T11:00:00Z  rollout.started        -             canary of v2 beside champion v1 (now 10% of traffic) (rollout retrain-churn/run-3)
2026-11-01T12:00:00Z  rollout.step           -             v2 at 10%: 1200 rows, accuracy champion 0.9 challenger 0.91, difference +0.01 [-0.02, 0.04], p 0.4: continue
2026-11-01T13:00:00Z  rollout.step           -             v2 at 10%: 2400 rows, accuracy champion 0.9 challenger 0.85, difference -0.05 [-0.08, -0.02], p 0.001: worse
2026-11-01T13:00:00Z  rollout.rolled-back    vigil         canary of v2 rolled-back: accuracy worse by 0.05 [-0.08, -0.02]
`
	if out != want {
		t.Errorf("trail:\n%s\nwant:\n%s", out, want)
	}
	if code != 1 || !strings.Contains(stderr, "warning: the trail above is the registry's part only") ||
		!strings.Contains(stderr, "connect to Temporal at "+noTemporal) {
		t.Errorf("exit %d, stderr:\n%s\nwant exit 1 with a warning naming what is missing and why", code, stderr)
	}
}

// -json prints one object per line with stable field names; a registered
// version carries its whole lineage, a rollout step its evidence.
func TestAuditJSONHasStableFieldsAndTheLineage(t *testing.T) {
	cfg := auditRegistry(t)
	out, _, code := runAuditCmd(t, "-config", cfg, "-model", "churn", "-json")
	if code != 1 {
		t.Errorf("exit %d without Temporal, want 1", code)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 10 {
		t.Fatalf("%d lines, want the 10 events:\n%s", len(lines), out)
	}
	var v2 map[string]any
	if err := json.Unmarshal([]byte(lines[2]), &v2); err != nil {
		t.Fatal(err)
	}
	lineage, _ := v2["lineage"].(map[string]any)
	if v2["time"] != "2026-11-01T10:02:00Z" || v2["kind"] != "version.registered" || v2["source"] != "registry" || v2["version"] != "v2" ||
		lineage["code_version"] != "git:2222222" || lineage["backend_job_id"] != "vigil-churn-run-2" ||
		lineage["hyperparameters"].(map[string]any)["eta"] != "0.1" || lineage["data"].([]any)[1].(map[string]any)["sha256"] != "bb22" {
		t.Errorf("v2's entry: %s", lines[2])
	}
	var rollback, step map[string]any
	if err := json.Unmarshal([]byte(lines[5]), &rollback); err != nil {
		t.Fatal(err)
	}
	if rollback["kind"] != "model.rolled_back" || rollback["actor"] != "carol" || rollback["what"] != "production rolled back: v2 → v1: complaints from sales" || rollback["version"] != "v1" {
		t.Errorf("rollback entry: %s", lines[5])
	}
	if err := json.Unmarshal([]byte(lines[8]), &step); err != nil {
		t.Fatal(err)
	}
	if s, _ := step["rollout_step"].(map[string]any); step["kind"] != "rollout.step" || s["verdict"] != "worse" || s["p_value"] != 0.001 {
		t.Errorf("rollout step entry: %s", lines[8])
	}
}

// -since keeps what happened at or after it; -limit keeps the newest N,
// still oldest first.
func TestAuditSinceAndLimit(t *testing.T) {
	cfg := auditRegistry(t)
	kinds := func(out string) string {
		var ks []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if !strings.HasPrefix(l, " ") {
				ks = append(ks, strings.Fields(l)[1])
			}
		}
		return strings.Join(ks, " ")
	}
	out, _, _ := runAuditCmd(t, "-config", cfg, "-model", "churn", "-since", "2026-11-01T10:04:00Z")
	if got := kinds(out); got != "alias.moved model.rolled_back rollout.started rollout.step rollout.step rollout.rolled-back" {
		t.Errorf("-since 10:04: %s", got)
	}
	out, _, _ = runAuditCmd(t, "-config", cfg, "-model", "churn", "-limit", "2")
	if got := kinds(out); got != "rollout.step rollout.rolled-back" {
		t.Errorf("-limit 2: %s", got)
	}
	out, _, _ = runAuditCmd(t, "-config", cfg, "-model", "churn", "-since", "2026-11-02")
	if out != "" {
		t.Errorf("-since the next day printed:\n%s", out)
	}
}

func TestAuditRefusesBadFlagsBeforeReadingAnything(t *testing.T) {
	cfg := auditRegistry(t)
	for _, args := range [][]string{
		{"-config", cfg}, // no -model
		{"-config", cfg, "-model", "churn", "-since", "last week"}, // unreadable -since
		{"-config", cfg, "-model", "churn", "-limit", "-1"},
	} {
		out, stderr, code := runAuditCmd(t, args...)
		if code != 1 || out != "" || strings.Contains(stderr, "Temporal") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 1 with only the flag's problem", args, code, out, stderr)
		}
	}
}

// A model the registry never heard of, with Temporal down: nothing is
// printed and the warning says neither source could tell.
func TestAuditUnknownModelWithoutTemporal(t *testing.T) {
	cfg := auditRegistry(t)
	out, stderr, code := runAuditCmd(t, "-config", cfg, "-model", "fraud")
	if out != "" || code != 1 || !strings.Contains(stderr, `has no record of model "fraud", and Temporal could not be read`) {
		t.Errorf("exit %d, stdout %q, stderr:\n%s", code, out, stderr)
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 11, 8, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"", time.Time{}},
		{"7d", time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)},
		{"36h", time.Date(2026, 11, 7, 0, 0, 0, 0, time.UTC)},
		{"2026-11-01", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)},
		{"2026-11-01T08:30:00+01:00", time.Date(2026, 11, 1, 7, 30, 0, 0, time.UTC)},
	} {
		got, err := parseSince(tc.in, now)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"week", "7", "-7d", "0d", "d", "7dd", "1d12h", "2026-13-01"} {
		if _, err := parseSince(bad, now); err == nil {
			t.Errorf("parseSince(%q) accepted", bad)
		}
	}
}
