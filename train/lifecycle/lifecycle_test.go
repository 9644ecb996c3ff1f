package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/internal/motoserver"
	"github.com/vigilml/vigil/store"
	"github.com/vigilml/vigil/train"
	"github.com/vigilml/vigil/train/demo"
	"github.com/vigilml/vigil/train/registry"
)

var trainerBinary string

// TestMain builds vigil-demo-train once: the tests run it through the
// command backend exactly as the worker does.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vigil-lifecycle")
	if err != nil {
		panic(err)
	}
	trainerBinary = filepath.Join(dir, "vigil-demo-train")
	if out, err := exec.Command("go", "build", "-o", trainerBinary, "github.com/vigilml/vigil/train/demo/cmd/vigil-demo-train").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		os.Exit(1)
	}
	code := m.Run()
	motoserver.Stop()
	os.RemoveAll(dir)
	os.Exit(code)
}

var driftAt = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

type fixture struct {
	dir string
	cfg *config.Config
	st  *store.Store
	reg *registry.Registry
	ops *Ops
	gen *demo.Generator
	v1  *demo.Model
	// version is the model_version logged with the prediction made at a
	// time ("": none); nil logs "v1" (the predictions are v1's either way).
	version func(at time.Time) string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	yaml := fmt.Sprintf(`
storage:
  reports: file://%[1]s/reports
  registry: file://%[1]s/registry
models:
  - name: demo
    task: binary
    schedule: {every: 1h}
    columns: {target: label, prediction: prediction, score: score, latency: latency_ms}
    source: {uri: "file://%[1]s/predictions", format: jsonl}
    ground_truth: {uri: "file://%[1]s/ground-truth", format: jsonl}
    reference: {uri: "file://%[1]s/reference.csv"}
    retrain:
      trainer: command
      command: [%[2]q]
      train_window: 4h
      validation_window: 2h
      min_improvement: 0.05
`, dir, trainerBinary)
	cfg, err := config.Parse("test.yaml", []byte(yaml), config.Options{SkipEnv: true})
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(cfg.Storage, store.WithClock(func() time.Time { return driftAt.Add(24 * time.Hour) }))
	blobs, err := st.Blobs(ctx, cfg.Storage.Registry)
	if err != nil {
		t.Fatal(err)
	}
	reg := registry.New(blobs)
	g := demo.NewGenerator(demo.GeneratorConfig{Seed: 11, DriftAt: driftAt})
	v, err := demo.Bootstrap(ctx, reg, "demo", filepath.Join(dir, "registry", "demo", "runs"), filepath.Join(dir, "reference.csv"), g, driftAt.Add(-time.Hour), 2000)
	if err != nil {
		t.Fatal(err)
	}
	v1, err := demo.LoadURI(v.ArtifactURI)
	if err != nil {
		t.Fatal(err)
	}
	ops := New(func() *config.Config { return cfg }, st, reg, train.Deps{Getenv: func(string) string { return "" }}, nil)
	return &fixture{dir: dir, cfg: cfg, st: st, reg: reg, ops: ops, gen: g, v1: v1}
}

// traffic writes n predictions per hour in [from, to), scored by v1, into
// the hour partitions the ingest writes, and their labels (all but every
// tenth, which has not arrived) 10 minutes later.
// trainedChallenger logs three hours of traffic from the drift on, trains
// run "r" on the first two and registers it: the held-out hour is in.TrainTo
// to in.HoldoutTo.
func (f *fixture) trainedChallenger(t *testing.T, ctx context.Context) (TrainRequest, string) {
	t.Helper()
	f.traffic(t, driftAt, driftAt.Add(3*time.Hour), 100)
	in := TrainRequest{Model: "demo", RunID: "r", TrainFrom: driftAt, TrainTo: driftAt.Add(2 * time.Hour), HoldoutTo: driftAt.Add(3 * time.Hour)}
	res, err := f.ops.Train(ctx, in, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := f.ops.Register(ctx, RegisterRequest{Model: "demo", RunID: "r", Trained: *res})
	if err != nil {
		t.Fatal(err)
	}
	return in, reg
}

func (f *fixture) traffic(t *testing.T, from, to time.Time, n int) {
	t.Helper()
	for h := from; h.Before(to); h = h.Add(time.Hour) {
		var preds, labels strings.Builder
		for i := 0; i < n; i++ {
			at := h.Add(time.Duration(i) * time.Hour / time.Duration(n))
			ex := f.gen.Sample(at)
			score, pred, err := f.v1.Score(ex.FeatureMap())
			if err != nil {
				t.Fatal(err)
			}
			id := fmt.Sprintf("e-%s-%04d", h.Format("0102T15"), i)
			fields := map[string]any{"event_id": id, "model": "demo", "model_version": "v1",
				"time": at.Format(time.RFC3339Nano), "features": ex.FeatureMap(), "prediction": pred, "score": score,
				"latency_ms": ex.LatencyMS}
			if f.version != nil {
				fields["model_version"] = f.version(at)
				if fields["model_version"] == "" {
					delete(fields, "model_version")
				}
			}
			rec, _ := json.Marshal(fields)
			preds.Write(append(rec, '\n'))
			if i%10 != 9 {
				fmt.Fprintf(&labels, `{"event_id":%q,"label":%d,"time":%q}`+"\n", id, ex.Label, at.Add(10*time.Minute).Format(time.RFC3339Nano))
			}
		}
		part := h.Format("2006/01/02/15")
		write(t, filepath.Join(f.dir, "predictions", part, "part-0.jsonl"), preds.String())
		write(t, filepath.Join(f.dir, "ground-truth", part, "part-0.jsonl"), labels.String())
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRetrainCycleTrainRegisterValidatePromoteRollback(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.traffic(t, driftAt.Add(-3*time.Hour), driftAt, 200)
	f.traffic(t, driftAt, driftAt.Add(6*time.Hour), 300)
	in := TrainRequest{Model: "demo", RunID: "run-1", Reason: "accuracy-drop",
		TrainFrom: driftAt, TrainTo: driftAt.Add(4 * time.Hour), HoldoutTo: driftAt.Add(6 * time.Hour)}

	if got, err := f.ops.Production(ctx, "demo"); err != nil || got != "v1" {
		t.Fatalf("Production = %q, %v; want v1", got, err)
	}

	// Train twice with one run id: one export, one training run.
	var lines []string
	res, err := f.ops.Train(ctx, in, func(s string) { lines = append(lines, s) })
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(f.dir, "registry", "demo", "runs", "run-1")
	trainPath := filepath.Join(out, TrainFile)
	st1, err := os.Stat(trainPath)
	if err != nil {
		t.Fatal(err)
	}
	res2, err := f.ops.Train(ctx, in, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st2, _ := os.Stat(trainPath); !st2.ModTime().Equal(st1.ModTime()) {
		t.Error("second Train rewrote train.jsonl")
	}
	if !reflect.DeepEqual(res, res2) {
		t.Errorf("second Train = %+v, want %+v", res2, res)
	}
	if log, _ := os.ReadFile(filepath.Join(out, "train.log")); strings.Count(string(log), "fitted in") != 1 {
		t.Errorf("trainer ran %d times, want once:\n%s", strings.Count(string(log), "fitted in"), log)
	}
	// 4h × 300 rows, 9 in 10 labeled; the holdout 2h × 300.
	if res.Metrics["train_rows"] != 1080 || res.Metrics["rows"] != 540 {
		t.Errorf("metrics = %v, want 1080 training and 540 validation rows", res.Metrics)
	}
	if want := []string{"file://" + trainPath, "file://" + filepath.Join(out, ValidationFile)}; !reflect.DeepEqual(res.DataURIs, want) {
		t.Errorf("DataURIs = %v, want %v", res.DataURIs, want)
	}
	if res.ArtifactURI != "file://"+filepath.Join(out, "model.json") || res.LogsURI == "" || res.JobID == "" {
		t.Errorf("result = %+v", res)
	}
	first, _ := os.ReadFile(trainPath)
	var rec map[string]any
	if err := json.Unmarshal(first[:strings.IndexByte(string(first), '\n')], &rec); err != nil {
		t.Fatal(err)
	}
	if len(rec) != 6 || rec["event_id"] == "" || rec["x1"] == nil || rec["label"] == nil {
		t.Errorf("exported record = %v, want event_id, x1..x4, label", rec)
	}
	t.Logf("progress: %q", lines)

	// Register twice: one version.
	reg, err := f.ops.Register(ctx, RegisterRequest{Model: "demo", RunID: in.RunID, Reason: in.Reason, Trained: *res})
	if err != nil {
		t.Fatal(err)
	}
	reg2, err := f.ops.Register(ctx, RegisterRequest{Model: "demo", RunID: in.RunID, Reason: in.Reason, Trained: *res})
	if err != nil || reg != "v2" || reg2 != "v2" {
		t.Fatalf("Register = %v, %v, %v; want v2 twice", reg, reg2, err)
	}
	v2, _ := f.reg.Get(ctx, "demo", 2)
	if len(v2.Data) != 2 || !strings.HasPrefix(v2.Data[0].SHA256, "sha256:") || v2.Reason != "accuracy-drop" {
		t.Errorf("lineage = %+v", v2)
	}

	// Validate on the held-out window.
	vin := ValidateRequest{Model: "demo", Champion: "v1", Challenger: "v2", RunID: in.RunID,
		HoldoutFrom: in.TrainTo, HoldoutTo: in.HoldoutTo}
	val, err := f.ops.Validate(ctx, vin)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("validation: %s champion %.4f challenger %.4f on %d rows (%s)", val.Metric, val.Champion, val.Challenger, val.Rows, val.ReportURI)
	if val.Metric != "performance.accuracy" || !val.HasChampion || !val.HigherIsBetter || val.Rows != 540 {
		t.Errorf("validation = %+v", val)
	}
	if val.Champion > 0.7 || val.Challenger < 0.85 {
		t.Errorf("champion %.3f, challenger %.3f: want the post-drift challenger clearly better", val.Champion, val.Challenger)
	}
	if len(val.Violations) != 0 {
		t.Errorf("violations %q without a retrain.baseline", val.Violations)
	}
	var report ValidationReport
	if data, err := os.ReadFile(strings.TrimPrefix(val.ReportURI, "file://")); err != nil {
		t.Fatal(err)
	} else if err := json.Unmarshal(data, &report); err != nil {
		t.Fatal(err)
	}
	if report.ChallengerSource != SourcePredictions || report.ChampionReport == nil || report.ChallengerReport == nil ||
		report.ChampionReport.Rows.Labeled != 540 || report.ChallengerReport.Rows.Labeled != 540 {
		t.Errorf("report: source %s, rows %d", report.ChallengerSource, report.Rows)
	}
	// Validate is a pure function of its inputs.
	if again, err := f.ops.Validate(ctx, vin); err != nil || !reflect.DeepEqual(again, val) {
		t.Errorf("second Validate = %+v, %v", again, err)
	}

	// Without the trainer's predictions, the trainer's own metric is used.
	os.Rename(filepath.Join(out, ValidationPredictionsFile), filepath.Join(out, "moved.jsonl"))
	fb, err := f.ops.Validate(ctx, vin)
	if err != nil {
		t.Fatal(err)
	}
	if fb.Challenger != res.Metrics["accuracy"] || fb.Champion != val.Champion {
		t.Errorf("fallback: challenger %.4f (trainer said %.4f), champion %.4f", fb.Challenger, res.Metrics["accuracy"], fb.Champion)
	}
	os.Rename(filepath.Join(out, "moved.jsonl"), filepath.Join(out, ValidationPredictionsFile))

	// Promote (twice: a retried activity), deploy, production, rollback (twice).
	for i := 0; i < 2; i++ {
		sa, err := f.ops.SetAlias(ctx, AliasMove{Model: "demo", Alias: "production", Version: "v2", Actor: "vigil", Reason: "gate passed"})
		if err != nil || sa != "v1" {
			t.Fatalf("SetAlias #%d = %+v, %v; want previous v1", i+1, sa, err)
		}
	}
	if d, err := f.ops.Deploy(ctx, "demo", "v2"); err != nil || d != "registry" {
		t.Errorf("Deploy = %+v, %v", d, err)
	}
	if got, _ := f.ops.Production(ctx, "demo"); got != "v2" {
		t.Errorf("Production = %q after promotion", got)
	}
	for i := 0; i < 2; i++ {
		rb, err := f.ops.Rollback(ctx, RollbackRequest{Model: "demo", Reason: "bad canary", Actor: "oncall"})
		if err != nil || rb.From != "v2" || rb.To != "v1" {
			t.Fatalf("Rollback #%d = %+v, %v; want v2 → v1", i+1, rb, err)
		}
	}
	if got, _ := f.ops.Production(ctx, "demo"); got != "v1" {
		t.Errorf("Production = %q after rollback", got)
	}
	m, _ := f.reg.Model(ctx, "demo")
	if n := len(m.History); n != 3 {
		t.Errorf("%d alias moves, want 3 (bootstrap, promote, rollback): %+v", n, m.History)
	}
	// Compensation: removing the alias, and restoring it.
	if sa, err := f.ops.SetAlias(ctx, AliasMove{Model: "demo", Alias: "production", Version: "", Actor: "t", Reason: "r"}); err != nil || sa != "v1" {
		t.Errorf("remove alias = %+v, %v", sa, err)
	}
	if got, _ := f.ops.Production(ctx, "demo"); got != "" {
		t.Errorf("Production = %q with no alias", got)
	}
	if sa, err := f.ops.SetAlias(ctx, AliasMove{Model: "demo", Alias: "production", Version: "v1", Actor: "t", Reason: "r"}); err != nil || sa != "" {
		t.Errorf("restore alias = %+v, %v", sa, err)
	}

	// A rejected challenger is recorded; a bad version is permanent.
	if err := f.ops.RecordOutcome(ctx, Outcome{Model: "demo", Version: "v2", Status: "rejected", Reason: "test", Actor: "gate"}); err != nil {
		t.Fatal(err)
	}
	if v, _ := f.reg.Get(ctx, "demo", 2); v.Status != registry.Rejected {
		t.Errorf("status = %s", v.Status)
	}
	if _, err := f.ops.SetAlias(ctx, AliasMove{Model: "demo", Alias: "production", Version: "v9"}); !f.ops.IsPermanent(err) {
		t.Errorf("unknown version: %v, want permanent", err)
	}
	if _, err := f.ops.Rollback(ctx, RollbackRequest{Model: "demo", To: "latest", Reason: "x"}); !f.ops.IsPermanent(err) {
		t.Errorf("garbage version: %v, want permanent", err)
	}
}

func TestTooFewLabeledRowsIsAPermanentError(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.traffic(t, driftAt, driftAt.Add(3*time.Hour), 10)
	_, err := f.ops.Train(ctx, TrainRequest{Model: "demo", RunID: "few", TrainFrom: driftAt,
		TrainTo: driftAt.Add(2 * time.Hour), HoldoutTo: driftAt.Add(3 * time.Hour)}, nil)
	if err == nil || !f.ops.IsPermanent(err) || !strings.Contains(err.Error(), "only 18 labeled rows in the training window") {
		t.Fatalf("err = %v, want a permanent too-few-rows error", err)
	}
	if _, err := f.ops.Train(ctx, TrainRequest{Model: "nope", RunID: "r"}, nil); !f.ops.IsPermanent(err) {
		t.Errorf("unknown model: %v, want permanent", err)
	}
}

// A model with no registered version is still served by something whose
// predictions are logged: the challenger is compared with that incumbent on
// the same held-out rows (HasChampion), so the gate holds it to the same bar.
func TestUnregisteredIncumbentIsScoredOnItsLoggedPredictions(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	in, reg := f.trainedChallenger(t, ctx)
	// Champion "": the retrain found no production version in the registry.
	val, err := f.ops.Validate(ctx, ValidateRequest{Model: "demo", Challenger: reg, RunID: "r", HoldoutFrom: in.TrainTo, HoldoutTo: in.HoldoutTo})
	if err != nil || !val.HasChampion || val.Rows != 90 || val.Champion > 0.7 || val.Challenger < 0.8 {
		t.Fatalf("Validate = %+v, %v; want the drifted incumbent (about 0.6) against the challenger on 90 rows", val, err)
	}
	rep, _, err := mustBlobs(t, f.st, "file://"+filepath.Join(f.dir, "registry", "demo", "runs", "r")).Get(ctx, ValidationReportFile)
	if err != nil || !strings.Contains(string(rep), `"champion": "`+UnregisteredIncumbent+`"`) {
		t.Errorf("validation report: %v\n%s", err, rep)
	}
}

func TestVersions(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{{"", 0, true}, {"v1", 1, true}, {"v42", 42, true}, {"7", 7, true},
		{"v0", 0, false}, {"v", 0, false}, {"v-1", 0, false}, {"v01", 0, false}, {"latest", 0, false}, {"v1.2", 0, false}} {
		n, err := ParseVersion(tc.in)
		if (err == nil) != tc.ok || n != tc.want {
			t.Errorf("ParseVersion(%q) = %d, %v", tc.in, n, err)
		}
		if err != nil && !(&Ops{}).IsPermanent(err) {
			t.Errorf("ParseVersion(%q): error not permanent", tc.in)
		}
		if tc.ok && FormatVersion(n) != map[bool]string{true: "", false: "v" + fmt.Sprint(n)}[n == 0] {
			t.Errorf("FormatVersion(%d) = %q", n, FormatVersion(n))
		}
	}
	if HigherIsBetter("performance.log_loss") || HigherIsBetter("performance.rmse") || !HigherIsBetter("performance.accuracy") {
		t.Error("HigherIsBetter")
	}
}

// TestWorkerShutdownMidTrainingCommand: the worker stops (the Train activity
// cancels the lifecycle with cause train.ErrShutdown when the SDK cancels it
// with worker.ErrWorkerShutdown) while a command trainer runs.
// The local process is stopped with the worker, the attempt fails
// retryably, and the next attempt trains again: one training run that
// finishes, one version.
func TestWorkerShutdownMidTrainingCommand(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.cfg.Models[0].Retrain.Command = []string{"sh", "-c", `sleep 0.3; exec "$0"`, trainerBinary}
	f.traffic(t, driftAt, driftAt.Add(3*time.Hour), 100)
	in := TrainRequest{Model: "demo", RunID: "run-restart", TrainFrom: driftAt, TrainTo: driftAt.Add(2 * time.Hour), HoldoutTo: driftAt.Add(3 * time.Hour)}
	out := filepath.Join(f.dir, "registry", "demo", "runs", "run-restart")

	actx, shutdown := context.WithCancelCause(ctx)
	go func() {
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if _, err := os.Stat(filepath.Join(out, train.PidFile)); err == nil {
				break
			}
		}
		shutdown(train.ErrShutdown)
	}()
	_, err := f.ops.Train(actx, in, nil)
	if !errors.Is(err, train.ErrStopped) || f.ops.IsPermanent(err) {
		t.Fatalf("Train on shutdown = %v, want a retryable train.ErrStopped", err)
	}
	res, err := f.ops.Train(ctx, in, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		reg, err := f.ops.Register(ctx, RegisterRequest{Model: "demo", RunID: in.RunID, Trained: *res})
		if err != nil || reg != "v2" {
			t.Fatalf("Register = %+v, %v; want v2", reg, err)
		}
	}
	if m, _ := f.reg.Model(ctx, "demo"); len(m.Versions) != 2 {
		t.Errorf("registry has %d versions, want the bootstrap's and one challenger", len(m.Versions))
	}
	if log, _ := os.ReadFile(filepath.Join(out, "train.log")); strings.Count(string(log), "fitted in") != 1 {
		t.Errorf("the finished attempt's log:\n%s", log)
	}
}

// retrain.baseline: the held-out data the challenger is judged on must meet
// the baseline's constraints, or the gate refuses the promotion.
func TestBaselineConstraintsGateThePromotion(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	in, reg := f.trainedChallenger(t, ctx)
	for _, tc := range []struct {
		name, max string
		want      []string
	}{
		{"met", "1e9", nil},
		{"broken", "-100", []string{"x1: maximum", "is above -100 (range)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(f.dir, tc.name+"-baseline.json")
			write(t, path, `{"version":1,"rows":1000,"features":[{"name":"x1","statistics":{"kind":"numeric","count":1000},
				"constraints":{"kind":"numeric","completeness":1,"max":`+tc.max+`}}]}`)
			f.cfg.Models[0].Retrain.Baseline = "file://" + path
			val, err := f.ops.Validate(ctx, ValidateRequest{Model: "demo", Champion: "v1", Challenger: reg, RunID: "r", HoldoutFrom: in.TrainTo, HoldoutTo: in.HoldoutTo})
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(val.Violations, "\n")
			if (len(tc.want) == 0) != (len(val.Violations) == 0) {
				t.Fatalf("violations = %q, want %q", val.Violations, tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("violations = %q, want %q", got, w)
				}
			}
		})
	}
	// Without predictions (the challenger is scored by its own metrics) the
	// held-out data is still checked.
	if err := os.Remove(filepath.Join(f.dir, "registry", "demo", "runs", "r", ValidationPredictionsFile)); err != nil {
		t.Fatal(err)
	}
	val, err := f.ops.Validate(ctx, ValidateRequest{Model: "demo", Champion: "v1", Challenger: reg, RunID: "r", HoldoutFrom: in.TrainTo, HoldoutTo: in.HoldoutTo})
	if err != nil || len(val.Violations) != 1 {
		t.Errorf("without predictions: violations %q, %v; want the range violation", val.Violations, err)
	}
	f.cfg.Models[0].Retrain.Baseline = "file://" + filepath.Join(f.dir, "nope.json")
	if _, err := f.ops.Validate(ctx, ValidateRequest{Model: "demo", Champion: "v1", Challenger: reg, RunID: "r", HoldoutFrom: in.TrainTo, HoldoutTo: in.HoldoutTo}); !f.ops.IsPermanent(err) {
		t.Errorf("a missing baseline: %v, want a permanent error", err)
	}
}

// Right after a promotion the held-out window still holds the predecessor's
// predictions: the champion is scored only on the rows its own version
// logged, the challenger on the same events, and a window with too few of
// them is an error that says to wait, never a comparison with the wrong model.
func TestValidationScoresTheChampionOnItsOwnVersionsRows(t *testing.T) {
	ctx := context.Background()
	holdout := driftAt.Add(2 * time.Hour) // [holdout, holdout+1h), 100 rows, 90 labeled
	for _, tc := range []struct {
		name     string
		champion string                 // "" = no registered version
		version  func(time.Time) string // model_version logged at a time
		rows     int64                  // rows both sides are scored on
		source   string                 // ValidationReport.ChampionRows
		byVer    map[string]int64       // ValidationReport.RowsByVersion
		note     string                 // in the report's notes
		err      string                 // a permanent ErrNoChampionRows naming this
		noPreds  bool                   // the trainer wrote no validation predictions
	}{
		{name: "every row is the champion's", champion: "v2",
			version: func(time.Time) string { return "v2" },
			rows:    90, source: ChampionRowsVersion, byVer: map[string]int64{"v2": 90}},
		{name: "promoted mid-window: only the champion's half, for both sides", champion: "v2",
			version: func(at time.Time) string {
				if at.Before(holdout.Add(30 * time.Minute)) {
					return "v1"
				}
				return "2" // another logger's spelling of v2
			},
			rows: 45, source: ChampionRowsVersion, byVer: map[string]int64{"v1": 45, "2": 45},
			note: "champion v2 is scored only on the 45 held-out rows it served; 45 rows logged by other versions"},
		{name: "promoted mid-window, challenger scored by its trainer's metric", champion: "v2", noPreds: true,
			version: func(at time.Time) string {
				if at.Before(holdout.Add(30 * time.Minute)) {
					return "v1"
				}
				return "v2"
			},
			rows: 45, source: ChampionRowsVersion, byVer: map[string]int64{"v1": 45, "v2": 45},
			note: "the challenger's trainer metric covers every held-out row, not only the champion's"},
		{name: "only the predecessor's rows", champion: "v2",
			version: func(time.Time) string { return "v1" },
			err:     "has 0 labeled rows logged by champion v2, need at least 20 (labeled rows by model_version: v1 90): it was probably promoted less than retrain.validation_window (2h0m0s) ago"},
		{name: "too few of the champion's rows", champion: "v2",
			version: func(at time.Time) string {
				if at.Before(holdout.Add(50 * time.Minute)) {
					return "v1"
				}
				return "v2"
			},
			err: "has 14 labeled rows logged by champion v2, need at least 20 (labeled rows by model_version: v1 76, v2 14)"},
		{name: "records without a version: every row, said so", champion: "v2",
			version: func(time.Time) string { return "" },
			rows:    90, source: ChampionRowsUnattributed,
			note: "the champion's rows could not be attributed to a version"},
		{name: "unregistered incumbent: every logged row, whatever its version", champion: "",
			version: func(at time.Time) string {
				if at.Before(holdout.Add(30 * time.Minute)) {
					return "v1"
				}
				return "v2"
			},
			rows: 90, note: "the champion is the incumbent that served the held-out window"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.version = tc.version
			f.traffic(t, driftAt, holdout.Add(time.Hour), 100)
			// Two retrains on the same data: v2 (the champion, promoted), v3.
			var reg string
			for _, run := range []string{"a", "b"} {
				in := TrainRequest{Model: "demo", RunID: run, TrainFrom: driftAt, TrainTo: holdout, HoldoutTo: holdout.Add(time.Hour)}
				res, err := f.ops.Train(ctx, in, nil)
				if err != nil {
					t.Fatal(err)
				}
				if reg, err = f.ops.Register(ctx, RegisterRequest{Model: "demo", RunID: run, Trained: *res}); err != nil {
					t.Fatal(err)
				}
			}
			if reg != "v3" {
				t.Fatalf("challenger %s, want v3", reg)
			}
			if tc.noPreds {
				if err := os.Remove(filepath.Join(f.dir, "registry", "demo", "runs", "b", ValidationPredictionsFile)); err != nil {
					t.Fatal(err)
				}
			}
			val, err := f.ops.Validate(ctx, ValidateRequest{Model: "demo", Champion: tc.champion, Challenger: "v3", RunID: "b",
				HoldoutFrom: holdout, HoldoutTo: holdout.Add(time.Hour)})
			if tc.err != "" {
				if err == nil || !f.ops.IsPermanent(err) || !errors.Is(err, ErrNoChampionRows) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Validate = %+v, %v; want a permanent ErrNoChampionRows with %q", val, err, tc.err)
				}
				if !strings.Contains(err.Error(), holdout.Format(time.RFC3339)) || !strings.Contains(err.Error(), "retrain once validation_window has passed since the promotion") {
					t.Errorf("the error does not name the window and what to do: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !val.HasChampion || val.Rows != tc.rows || val.ChampionRows != tc.source {
				t.Errorf("Validate = %+v; want a champion on %d rows picked by %q", val, tc.rows, tc.source)
			}
			var rep ValidationReport
			data, _, err := mustBlobs(t, f.st, "file://"+filepath.Join(f.dir, "registry", "demo", "runs", "b")).Get(ctx, ValidationReportFile)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &rep); err != nil {
				t.Fatal(err)
			}
			if rep.ChampionReport.Rows.Labeled != tc.rows {
				t.Errorf("champion scored on %d rows, want %d", rep.ChampionReport.Rows.Labeled, tc.rows)
			}
			if tc.noPreds != (rep.ChallengerReport == nil) {
				t.Errorf("challenger report %v with noPreds %v", rep.ChallengerReport != nil, tc.noPreds)
			} else if !tc.noPreds && rep.ChallengerReport.Rows.Labeled != tc.rows {
				t.Errorf("challenger scored on %d rows, want the champion's %d", rep.ChallengerReport.Rows.Labeled, tc.rows)
			}
			if rep.ChampionRows != tc.source || !reflect.DeepEqual(rep.RowsByVersion, tc.byVer) {
				t.Errorf("champion_rows %q, rows_by_version %v; want %q, %v", rep.ChampionRows, rep.RowsByVersion, tc.source, tc.byVer)
			}
			if notes := strings.Join(rep.Notes, "\n"); !strings.Contains(notes, tc.note) {
				t.Errorf("notes:\n%s\nwant %q", notes, tc.note)
			}
		})
	}
}
