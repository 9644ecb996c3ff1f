package lifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilml/vigil/analysis"
	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/store"
	"github.com/vigilml/vigil/train"
	"github.com/vigilml/vigil/train/demo"
	"github.com/vigilml/vigil/train/registry"
)

// rolloutTraffic logs n labeled events per hour in [from, to): serve picks
// the model that answers event i and the version it logs; shadow, when set,
// also scores every event under version "v2". It returns each event's hit
// by version, the reference the comparisons are checked against.
func (f *fixture) rolloutTraffic(t *testing.T, from, to time.Time, n int, serve func(i int) (*demo.Model, string), shadow *demo.Model) map[string][]float64 {
	t.Helper()
	hits := map[string][]float64{}
	i := 0
	for h := from; h.Before(to); h = h.Add(time.Hour) {
		var preds, labels strings.Builder
		for j := 0; j < n; j++ {
			at := h.Add(time.Duration(j) * time.Hour / time.Duration(n))
			ex := f.gen.Sample(at)
			m, version := serve(i)
			i++
			score, pred, err := m.Score(ex.FeatureMap())
			if err != nil {
				t.Fatal(err)
			}
			id := fmt.Sprintf("r-%s-%04d", h.Format("0102T15"), j)
			fields := map[string]any{"event_id": id, "model_version": version, "time": at.Format(time.RFC3339Nano),
				"features": ex.FeatureMap(), "prediction": pred, "score": score}
			hits[version] = append(hits[version], b2f(pred == ex.Label))
			if shadow != nil {
				s, p, err := shadow.Score(ex.FeatureMap())
				if err != nil {
					t.Fatal(err)
				}
				fields["shadow"] = map[string]any{"v2": map[string]any{"prediction": p, "score": s}}
				hits["shadow"] = append(hits["shadow"], b2f(p == ex.Label))
			}
			rec, _ := json.Marshal(fields)
			preds.Write(append(rec, '\n'))
			fmt.Fprintf(&labels, `{"event_id":%q,"label":%d,"time":%q}`+"\n", id, ex.Label, at.Add(time.Minute).Format(time.RFC3339Nano))
		}
		part := h.Format("2006/01/02/15")
		write(t, filepath.Join(f.dir, "predictions", part, "part-r.jsonl"), preds.String())
		write(t, filepath.Join(f.dir, "ground-truth", part, "part-r.jsonl"), labels.String())
	}
	return hits
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func mean(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

// challengerModel trains v2 on drifted traffic and loads it.
func (f *fixture) challengerModel(t *testing.T, ctx context.Context) *demo.Model {
	t.Helper()
	_, v := f.trainedChallenger(t, ctx)
	n, err := ParseVersion(v)
	if err != nil || n != 2 {
		t.Fatalf("challenger %q, %v; want v2", v, err)
	}
	rv, err := f.reg.Get(ctx, "demo", n)
	if err != nil {
		t.Fatal(err)
	}
	m, err := demo.LoadURI(rv.ArtifactURI)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Shadow after the drift: v2 (trained on drifted traffic) scores the events
// v1 served; the comparison is paired, each side's accuracy is the one of
// its own predictions on those events, the interval is the always-valid one
// of the per-event differences, and the challenger is better. Evaluating
// the same window again gives the same answer (activities retry).
func TestEvaluateShadowPairsTheEvents(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	v2 := f.challengerModel(t, ctx)
	from := driftAt.Add(4 * time.Hour)
	hits := f.rolloutTraffic(t, from, from.Add(2*time.Hour), 150, func(int) (*demo.Model, string) { return f.v1, "v1" }, v2)
	in := RolloutEvaluationRequest{Model: "demo", Mode: "shadow", Champion: "v1", Challenger: "v2", Metric: "performance.accuracy",
		From: from, To: from.Add(2 * time.Hour), Alpha: 0.05, MinRows: 100}
	res, err := f.ops.EvaluateRollout(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Enough || res.Rows != 300 || res.Evidence.N != 300 {
		t.Fatalf("evaluation = %+v, want 300 paired events", res)
	}
	var seq analysis.Sequence
	for i := range hits["v1"] {
		_ = seq.Add(hits["shadow"][i] - hits["v1"][i])
	}
	want, err := seq.Interval(analysis.SequentialOptions{Alpha: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Step
	if s.Champion != mean(hits["v1"]) || s.Challenger != mean(hits["shadow"]) || math.Abs(s.Difference-(s.Challenger-s.Champion)) > 1e-12 ||
		math.Abs(s.Lower-want.Lower) > 1e-12 || math.Abs(s.Upper-want.Upper) > 1e-12 || s.Rows != 300 || !s.At.Equal(in.To) {
		t.Errorf("step = %+v, want accuracies %.4f / %.4f and interval [%.4f, %.4f]", s, mean(hits["v1"]), mean(hits["shadow"]), want.Lower, want.Upper)
	}
	if res.Decision != string(analysis.DecisionBetter) {
		t.Errorf("decision %s on %+v, want better (v2 fits the drifted concept)", res.Decision, s)
	}
	again, err := f.ops.EvaluateRollout(ctx, in)
	if err != nil || fmt.Sprint(*again) != fmt.Sprint(*res) {
		t.Errorf("a second evaluation of the window = %+v, %v; want the first", again, err)
	}

	// The evidence carries over: the next window adds to it.
	in2 := in
	in2.From, in2.To, in2.Evidence = in.To, in.To.Add(time.Hour), res.Evidence
	f.rolloutTraffic(t, in2.From, in2.To, 150, func(int) (*demo.Model, string) { return f.v1, "v1" }, v2)
	res2, err := f.ops.EvaluateRollout(ctx, in2)
	if err != nil {
		t.Fatal(err)
	}
	if res2.Rows != 150 || res2.Evidence.N != 450 || res2.Step.Rows != 450 {
		t.Errorf("second window: rows %d, evidence %d, step rows %d; want 150, 450, 450", res2.Rows, res2.Evidence.N, res2.Step.Rows)
	}
}

// Before the drift v1 is the better model: v2 in shadow is worse.
func TestEvaluateShadowFindsAWorseChallenger(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	v2 := f.challengerModel(t, ctx)
	from := driftAt.Add(-6 * time.Hour)
	f.rolloutTraffic(t, from, from.Add(3*time.Hour), 150, func(int) (*demo.Model, string) { return f.v1, "v1" }, v2)
	res, err := f.ops.EvaluateRollout(ctx, RolloutEvaluationRequest{Model: "demo", Mode: "shadow", Champion: "v1", Challenger: "v2",
		Metric: "performance.accuracy", From: from, To: from.Add(3 * time.Hour), Alpha: 0.05, MinRows: 100})
	if err != nil {
		t.Fatal(err)
	}
	if res.Decision != string(analysis.DecisionWorse) || res.Step.Upper >= 0 {
		t.Errorf("decision %s, step %+v; want worse", res.Decision, res.Step)
	}
}

// Canary at 50%: each version is scored on the events it served, and the
// observations are the inverse-propensity terms of analysis.SplitTerm.
func TestEvaluateCanarySplitsTheTraffic(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	v2 := f.challengerModel(t, ctx)
	from := driftAt.Add(4 * time.Hour)
	hits := f.rolloutTraffic(t, from, from.Add(2*time.Hour), 200, func(i int) (*demo.Model, string) {
		if i%2 == 1 {
			return v2, "v2"
		}
		return f.v1, "v1"
	}, nil)
	res, err := f.ops.EvaluateRollout(ctx, RolloutEvaluationRequest{Model: "demo", Mode: "canary", Percent: 50, Champion: "v1",
		Challenger: "v2", Metric: "performance.accuracy", From: from, To: from.Add(2 * time.Hour), Alpha: 0.05, MinRows: 100})
	if err != nil {
		t.Fatal(err)
	}
	var seq analysis.Sequence
	for _, h := range hits["v1"] {
		_ = seq.Add(analysis.SplitTerm(h, false, 0.5))
	}
	for _, h := range hits["v2"] {
		_ = seq.Add(analysis.SplitTerm(h, true, 0.5))
	}
	want, _ := seq.Interval(analysis.SequentialOptions{Alpha: 0.05})
	s := res.Step
	if res.Rows != 400 || s.Champion != mean(hits["v1"]) || s.Challenger != mean(hits["v2"]) ||
		math.Abs(s.Lower-want.Lower) > 1e-9 || math.Abs(s.Upper-want.Upper) > 1e-9 || s.Percent != 50 {
		t.Errorf("step = %+v, want %d events, accuracies %.4f / %.4f, interval [%.4f, %.4f]", s, 400, mean(hits["v1"]), mean(hits["v2"]), want.Lower, want.Upper)
	}
	if res.Decision != string(analysis.DecisionBetter) {
		t.Errorf("decision %s, want better", res.Decision)
	}
}

// Too few compared events: no verdict, and the note says what the window held.
func TestEvaluateRolloutWithTooFewEventsTakesNoStep(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	from := driftAt.Add(4 * time.Hour)
	f.rolloutTraffic(t, from, from.Add(time.Hour), 40, func(int) (*demo.Model, string) { return f.v1, "v1" }, nil)
	res, err := f.ops.EvaluateRollout(ctx, RolloutEvaluationRequest{Model: "demo", Mode: "shadow", Champion: "v1", Challenger: "v2",
		Metric: "performance.accuracy", From: from, To: from.Add(time.Hour), Alpha: 0.05, MinRows: 100})
	if err != nil {
		t.Fatal(err)
	}
	if res.Enough || res.Evidence.N != 0 || !strings.Contains(res.Note, "40 labeled records: 0 compared") ||
		!strings.Contains(res.Note, "40 without both predictions") {
		t.Errorf("evaluation = %+v", res)
	}
	if _, err := f.ops.EvaluateRollout(ctx, RolloutEvaluationRequest{Model: "demo", Mode: "shadow", Champion: "v1", Challenger: "v2",
		Metric: "performance.roc_auc", From: from, To: from.Add(time.Hour), MinRows: 100}); err == nil || !f.ops.IsPermanent(err) {
		t.Errorf("a metric that is not per-event: %v, want a permanent error", err)
	}
}

// Stage points the mode's alias at the challenger and removes the other;
// unstaging removes both; RecordRollout stores the rollout; both are
// idempotent.
func TestStageAndRecordRollout(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.challengerModel(t, ctx)
	aliases := func() map[string]int {
		m, err := f.reg.Model(ctx, "demo")
		if err != nil {
			t.Fatal(err)
		}
		return m.Aliases
	}
	for range 2 {
		if target, err := f.ops.Stage(ctx, StageRequest{Model: "demo", Mode: "shadow", Champion: "v1", Challenger: "v2"}); err != nil || target != "registry" {
			t.Fatalf("stage shadow: %q, %v", target, err)
		}
	}
	if a := aliases(); a[registry.AliasShadow] != 2 || a[registry.AliasCanary] != 0 || a[registry.AliasProduction] != 1 {
		t.Errorf("aliases after staging a shadow = %v", a)
	}
	if _, err := f.ops.Stage(ctx, StageRequest{Model: "demo", Mode: "canary", Champion: "v1", Challenger: "v2", Percent: 10}); err != nil {
		t.Fatal(err)
	}
	if a := aliases(); a[registry.AliasShadow] != 0 || a[registry.AliasCanary] != 2 {
		t.Errorf("aliases after staging a canary = %v", a)
	}
	if _, err := f.ops.Stage(ctx, StageRequest{Model: "demo", Champion: "v1", Challenger: "v2"}); err != nil {
		t.Fatal(err)
	}
	if a := aliases(); a[registry.AliasShadow] != 0 || a[registry.AliasCanary] != 0 || a[registry.AliasProduction] != 1 {
		t.Errorf("aliases after unstaging = %v", a)
	}
	if _, err := f.ops.Stage(ctx, StageRequest{Model: "demo", Mode: "blue-green", Champion: "v1", Challenger: "v2"}); err == nil || !f.ops.IsPermanent(err) {
		t.Errorf("unknown mode: %v, want a permanent error", err)
	}

	at := driftAt.Add(5 * time.Hour)
	ro := Rollout{ID: "retrain-demo/run", Mode: "canary", Champion: "v1", Challenger: "v2", Percent: 50, StartedAt: at, UpdatedAt: at.Add(time.Hour),
		Steps: []RolloutStep{{At: at.Add(time.Hour), Percent: 10, Rows: 300, Metric: "performance.accuracy", Champion: 0.7, Challenger: 0.8,
			Difference: 0.1, Lower: 0.02, Upper: 0.18, PValue: 0.01, Verdict: "continue"}}}
	for range 2 {
		if err := f.ops.RecordRollout(ctx, "demo", ro); err != nil {
			t.Fatal(err)
		}
	}
	rollout := func() *registry.Rollout {
		m, err := f.reg.Model(ctx, "demo")
		if err != nil {
			t.Fatal(err)
		}
		return m.Rollout
	}
	if got := rollout(); got == nil || got.Champion != 1 || got.Challenger != 2 || got.Percent != 50 || len(got.Steps) != 1 ||
		got.Steps[0].Verdict != "continue" || got.Steps[0].Upper != 0.18 {
		t.Errorf("registry rollout = %+v", got)
	}
	// Later records carry only their new steps; the earlier ones stay.
	decided := ro
	decided.Steps = []RolloutStep{{At: at.Add(2 * time.Hour), Percent: 50, Rows: 600, Verdict: "better"}}
	decided.Decision, decided.Percent = "promoted", 100
	for range 2 {
		if err := f.ops.RecordRollout(ctx, "demo", decided); err != nil {
			t.Fatal(err)
		}
	}
	if got := rollout(); len(got.Steps) != 2 || got.Steps[1].Verdict != "better" || got.Decision != "promoted" || got.Percent != 100 {
		t.Errorf("registry rollout after the decision = %+v", got)
	}
	// Another rollout replaces it.
	next := Rollout{ID: "retrain-demo/run-2", Mode: "shadow", Champion: "v2", Challenger: "v1", StartedAt: at, UpdatedAt: at}
	if err := f.ops.RecordRollout(ctx, "demo", next); err != nil {
		t.Fatal(err)
	}
	if got := rollout(); got.ID != next.ID || len(got.Steps) != 0 || got.Decision != "" {
		t.Errorf("registry rollout after another started = %+v", got)
	}
}

// The shadow began scoring mid-window: the window's first object has no
// shadow column. The events scored in shadow still compare (the store is
// asked for the challenger's columns), the others are counted as lacking it.
func TestEvaluateShadowThatStartedMidWindow(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	v2 := f.challengerModel(t, ctx)
	from := driftAt.Add(4 * time.Hour)
	v1 := func(int) (*demo.Model, string) { return f.v1, "v1" }
	f.rolloutTraffic(t, from, from.Add(time.Hour), 50, v1, nil)
	f.rolloutTraffic(t, from.Add(time.Hour), from.Add(2*time.Hour), 150, v1, v2)
	res, err := f.ops.EvaluateRollout(ctx, RolloutEvaluationRequest{Model: "demo", Mode: "shadow", Champion: "v1", Challenger: "v2",
		Metric: "performance.accuracy", From: from, To: from.Add(2 * time.Hour), Alpha: 0.05, MinRows: 100})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Enough || res.Rows != 150 {
		t.Errorf("evaluation = %+v, want the 150 events scored in shadow", res)
	}
}

// The SageMaker deployer stages rollouts: Stage's assertion finds it.
var _ Stager = (*train.SageMakerDeployer)(nil)

// A shadow staged on a SageMaker endpoint: the champion's variant v1
// captures the answers it served, the shadow variant v2 its copies of the
// same requests (same inferenceId), each under its variant's folder. The
// evaluation reads them through train.StagedSource and pairs them.
func TestEvaluateShadowOnSageMakerCapture(t *testing.T) {
	dir := t.TempDir()
	hour := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	record := func(id, inference, output string) string {
		return `{"captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": "0.5", "encoding": "CSV"}, ` +
			`"endpointOutput": {"observedContentType": "text/csv; charset=utf-8", "mode": "OUTPUT", "data": "` + output + `", "encoding": "CSV"}}, ` +
			`"eventMetadata": {"eventId": "` + id + `", "inferenceId": "` + inference + `", "inferenceTime": "2026-03-01T10:00:05Z"}, "eventVersion": "0"}` + "\n"
	}
	var served, shadow, labels strings.Builder
	hits := map[string][]float64{}
	for i := range 200 {
		inf := fmt.Sprintf("req-%03d", i)
		y := i % 2
		champ, chall := y, y
		if i%5 < 2 { // the champion is wrong on 40%
			champ = 1 - y
		}
		if i%10 == 0 { // the challenger on 10%
			chall = 1 - y
		}
		served.WriteString(record(fmt.Sprintf("e-%d", i), inf, fmt.Sprint(champ)))
		shadow.WriteString(record(fmt.Sprintf("s-%d", i), inf, fmt.Sprint(chall)))
		fmt.Fprintf(&labels, `{"event_id":%q,"label":%d}`+"\n", inf, y)
		hits["v1"] = append(hits["v1"], b2f(champ == y))
		hits["v2"] = append(hits["v2"], b2f(chall == y))
	}
	write(t, filepath.Join(dir, "capture", "demo-prod", "v1", "2026/03/01/10", "a.jsonl"), served.String())
	write(t, filepath.Join(dir, "capture", "demo-prod", "v2", "2026/03/01/10", "a.jsonl"), shadow.String())
	write(t, filepath.Join(dir, "gt", "2026/03/01/10", "a.jsonl"), labels.String())
	cfg, err := config.Parse("test.yaml", []byte(fmt.Sprintf(`
models:
  - name: demo
    task: binary
    columns: {target: label, prediction: prediction}
    source: {uri: "file://%[1]s/capture/demo-prod", format: sagemaker, columns: [x]}
    ground_truth: {uri: "file://%[1]s/gt", format: jsonl}
    reference: {uri: "file://%[1]s/ref.csv"}
    retrain:
      command: [train]
      sagemaker: {role_arn: "arn:aws:iam::123456789012:role/sm", image: train:1, deploy: {endpoint: demo-prod}}
`, dir)), config.Options{SkipEnv: true})
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(cfg.Storage, store.WithClock(func() time.Time { return hour.Add(24 * time.Hour) }))
	ops := New(func() *config.Config { return cfg }, st, nil, train.Deps{}, nil)
	res, err := ops.EvaluateRollout(context.Background(), RolloutEvaluationRequest{Model: "demo", Mode: "shadow", Champion: "v1",
		Challenger: "v2", Metric: "performance.accuracy", From: hour, To: hour.Add(time.Hour), Alpha: 0.05, MinRows: 100})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Enough || res.Rows != 200 || res.Step.Champion != mean(hits["v1"]) || res.Step.Challenger != mean(hits["v2"]) ||
		res.Decision != string(analysis.DecisionBetter) {
		t.Errorf("evaluation = %+v, want 200 pairs, accuracies %.2f / %.2f, better (%s)", res, mean(hits["v1"]), mean(hits["v2"]), res.Note)
	}
}
