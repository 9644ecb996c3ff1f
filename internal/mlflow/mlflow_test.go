package mlflow

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"

	"github.com/vigilml/vigil/activities"
	"github.com/vigilml/vigil/train/lifecycle"
	"github.com/vigilml/vigil/train/registry"
)

// fakeMLflow keeps experiments, runs and the model registry in memory and
// checks each request as MLflow's REST API reference describes it: the
// method and path, a JSON body for POST, field types (int64 milliseconds,
// string versions), log-batch limits, basic auth, and answers errors as
// {"error_code", "message"} with MLflow's status codes.
type fakeMLflow struct {
	t        *testing.T
	mu       sync.Mutex
	exps     map[string]string // name → id
	runs     map[string]*fakeRun
	models   map[string][]fakeMV
	aliases  map[string]string // model/alias → version
	calls    map[string]int
	failWith int // answer every request with this status (0: no)
}

type fakeRun struct {
	exp, name string
	start     int64
	status    string
	metrics   map[string][]float64
	params    map[string]string
	tags      map[string]string
}

type fakeMV struct{ version, runID, source string }

func newFakeMLflow(t *testing.T) (*fakeMLflow, *Client) {
	f := &fakeMLflow{t: t, exps: map[string]string{}, runs: map[string]*fakeRun{}, models: map[string][]fakeMV{},
		aliases: map[string]string{}, calls: map[string]int{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, &Client{BaseURL: srv.URL + "/", User: "vigil", Password: "mlflow-secret", Backoff: time.Millisecond}
}

func apiErr(w http.ResponseWriter, status int, code, msg string) {
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error_code": code, "message": msg})
}

func (f *fakeMLflow) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	path := strings.TrimPrefix(r.URL.Path, "/api/2.0/mlflow/")
	f.calls[r.Method+" "+path]++
	if f.failWith != 0 {
		apiErr(w, f.failWith, map[int]string{403: "PERMISSION_DENIED", 503: "TEMPORARILY_UNAVAILABLE"}[f.failWith], "no")
		return
	}
	if u, p, ok := r.BasicAuth(); !ok || u != "vigil" || p != "mlflow-secret" {
		apiErr(w, 401, "UNAUTHENTICATED", "You are not authenticated.")
		return
	}
	var body map[string]any
	if r.Method == http.MethodPost {
		if r.Header.Get("Content-Type") != "application/json" {
			f.t.Errorf("%s: Content-Type %q", path, r.Header.Get("Content-Type"))
		}
		dec := json.NewDecoder(r.Body)
		dec.UseNumber()
		if err := dec.Decode(&body); err != nil {
			f.t.Errorf("%s: body is not JSON: %v", path, err)
		}
	}
	str := func(k string) string {
		s, ok := body[k].(string)
		if !ok {
			f.t.Errorf("%s: %s is %T, want a string", path, k, body[k])
		}
		return s
	}
	int64Field := func(m map[string]any, k string) int64 {
		n, ok := m[k].(json.Number)
		v, err := n.Int64()
		if !ok || err != nil {
			f.t.Errorf("%s: %s = %v, want an int64", path, k, m[k])
		}
		return v
	}
	kvs := func(k string, limit int) map[string]string {
		out := map[string]string{}
		list, _ := body[k].([]any)
		if len(list) > limit {
			f.t.Errorf("%s: %d %s, MLflow allows %d per request", path, len(list), k, limit)
		}
		for _, e := range list {
			m := e.(map[string]any)
			key, _ := m["key"].(string)
			val, ok := m["value"].(string)
			if key == "" || !ok {
				f.t.Errorf("%s: %s entry %v", path, k, m)
			}
			out[key] = val
		}
		return out
	}
	switch r.Method + " " + path {
	case "GET experiments/get-by-name":
		id, ok := f.exps[r.URL.Query().Get("experiment_name")]
		if !ok {
			apiErr(w, 404, "RESOURCE_DOES_NOT_EXIST", "Could not find experiment")
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"experiment": map[string]any{"experiment_id": id, "name": r.URL.Query().Get("experiment_name")}})
	case "POST experiments/create":
		name := str("name")
		if _, ok := f.exps[name]; ok {
			apiErr(w, 400, "RESOURCE_ALREADY_EXISTS", "Experiment already exists")
			return
		}
		f.exps[name] = fmt.Sprint(len(f.exps) + 1)
		json.NewEncoder(w).Encode(map[string]any{"experiment_id": f.exps[name]})
	case "POST runs/create":
		id := fmt.Sprintf("run%d", len(f.runs)+1)
		run := &fakeRun{exp: str("experiment_id"), name: str("run_name"), start: int64Field(body, "start_time"), status: "RUNNING",
			metrics: map[string][]float64{}, params: map[string]string{}, tags: kvs("tags", 1<<20)}
		f.runs[id] = run
		json.NewEncoder(w).Encode(map[string]any{"run": map[string]any{"info": map[string]any{"run_id": id, "experiment_id": run.exp, "status": run.status}}})
	case "POST runs/search":
		ids, _ := body["experiment_ids"].([]any)
		filter := str("filter")
		var runs []any
		for id, run := range f.runs {
			for _, e := range ids {
				for k, v := range run.tags {
					if e == run.exp && filter == fmt.Sprintf("tags.`%s` = '%s'", k, v) {
						runs = append(runs, map[string]any{"info": map[string]any{"run_id": id}})
					}
				}
			}
		}
		json.NewEncoder(w).Encode(map[string]any{"runs": runs})
	case "GET runs/get":
		run, ok := f.runs[r.URL.Query().Get("run_id")]
		if !ok {
			apiErr(w, 404, "RESOURCE_DOES_NOT_EXIST", "Run not found")
			return
		}
		var ms, ps, ts []any
		for k, v := range run.metrics {
			ms = append(ms, map[string]any{"key": k, "value": v[len(v)-1]})
		}
		for k, v := range run.params {
			ps = append(ps, map[string]any{"key": k, "value": v})
		}
		for k, v := range run.tags {
			ts = append(ts, map[string]any{"key": k, "value": v})
		}
		json.NewEncoder(w).Encode(map[string]any{"run": map[string]any{"data": map[string]any{"metrics": ms, "params": ps, "tags": ts}}})
	case "POST runs/log-batch":
		run, ok := f.runs[str("run_id")]
		if !ok {
			apiErr(w, 404, "RESOURCE_DOES_NOT_EXIST", "Run not found")
			return
		}
		list, _ := body["metrics"].([]any)
		if len(list) > 1000 {
			f.t.Errorf("log-batch: %d metrics", len(list))
		}
		for _, e := range list {
			m := e.(map[string]any)
			int64Field(m, "timestamp")
			int64Field(m, "step")
			v, _ := m["value"].(json.Number).Float64()
			run.metrics[m["key"].(string)] = append(run.metrics[m["key"].(string)], v)
		}
		for k, v := range kvs("params", 100) {
			if old, ok := run.params[k]; ok && old != v {
				apiErr(w, 400, "INVALID_PARAMETER_VALUE", "Changing param values is not allowed")
				return
			}
			if len(v) > 6000 {
				apiErr(w, 400, "INVALID_PARAMETER_VALUE", "param value too long")
				return
			}
			run.params[k] = v
		}
		for k, v := range kvs("tags", 100) {
			run.tags[k] = v
		}
		w.Write([]byte("{}"))
	case "POST runs/set-tag":
		f.runs[str("run_id")].tags[str("key")] = str("value")
		w.Write([]byte("{}"))
	case "POST runs/update":
		run := f.runs[str("run_id")]
		run.status = str("status")
		int64Field(body, "end_time")
		w.Write([]byte("{}"))
	case "POST registered-models/create":
		name := str("name")
		if _, ok := f.models[name]; ok {
			apiErr(w, 400, "RESOURCE_ALREADY_EXISTS", "Registered Model (name="+name+") already exists.")
			return
		}
		f.models[name] = []fakeMV{}
		json.NewEncoder(w).Encode(map[string]any{"registered_model": map[string]any{"name": name}})
	case "GET model-versions/search":
		var out []any
		for name, mvs := range f.models {
			for _, mv := range mvs {
				if r.URL.Query().Get("filter") == fmt.Sprintf("name='%s' and run_id='%s'", name, mv.runID) {
					out = append(out, map[string]any{"name": name, "version": mv.version, "run_id": mv.runID})
				}
			}
		}
		json.NewEncoder(w).Encode(map[string]any{"model_versions": out})
	case "POST model-versions/create":
		name := str("name")
		mvs, ok := f.models[name]
		if !ok {
			apiErr(w, 404, "RESOURCE_DOES_NOT_EXIST", "Registered Model with name="+name+" not found")
			return
		}
		mv := fakeMV{version: fmt.Sprint(len(mvs) + 1), runID: str("run_id"), source: str("source")}
		f.models[name] = append(mvs, mv)
		json.NewEncoder(w).Encode(map[string]any{"model_version": map[string]any{"name": name, "version": mv.version}})
	case "POST registered-models/alias":
		name, alias, version := str("name"), str("alias"), str("version")
		if len(f.models[name]) < 1 || version == "" {
			apiErr(w, 404, "RESOURCE_DOES_NOT_EXIST", "no such version")
			return
		}
		f.aliases[name+"/"+alias] = version
		w.Write([]byte("{}"))
	default:
		f.t.Errorf("unexpected %s %s", r.Method, r.URL)
		apiErr(w, 404, "ENDPOINT_NOT_FOUND", "no")
	}
}

// fakeOps is the lifecycle: it answers what the wrapped methods return.
type fakeOps struct {
	activities.ModelOps
	registered string
	rollbackTo string
}

func (f *fakeOps) Register(context.Context, lifecycle.RegisterRequest) (string, error) {
	return f.registered, nil
}
func (f *fakeOps) Validate(context.Context, lifecycle.ValidateRequest) (*lifecycle.Validation, error) {
	return &lifecycle.Validation{Metric: "performance.accuracy", Challenger: 0.93, Champion: 0.88, HasChampion: true, Rows: 500, ReportURI: "s3://r/validation.json"}, nil
}
func (f *fakeOps) SetAlias(context.Context, lifecycle.AliasMove) (string, error) {
	return "v1", nil
}
func (f *fakeOps) Rollback(context.Context, lifecycle.RollbackRequest) (lifecycle.Move, error) {
	return lifecycle.Move{From: "v2", To: f.rollbackTo}, nil
}
func (f *fakeOps) RecordOutcome(context.Context, lifecycle.Outcome) error { return nil }

type fakeRegistry map[int]registry.Version

func (r fakeRegistry) Get(_ context.Context, _ string, v int) (registry.Version, error) {
	ver, ok := r[v]
	if !ok {
		return ver, registry.ErrNotFound
	}
	return ver, nil
}

var created = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func versions() fakeRegistry {
	return fakeRegistry{
		1: {Version: 1, RunID: "retrain-churn-1", Created: created.Add(-24 * time.Hour), Trainer: "command", ArtifactURI: "s3://models/churn/runs/r1/model.pkl",
			Metrics: map[string]float64{"accuracy": 0.88}},
		2: {Version: 2, RunID: "retrain-churn-2", Created: created, Trainer: "kubeflow", BackendJobID: "0b5e-run", ArtifactURI: "s3://models/churn/runs/r2/model.pkl",
			CodeVersion: "3f2c1ab", Reason: "accuracy-drop", Hyperparameters: map[string]string{"epochs": "3", "lr": "0.01"},
			Metrics: map[string]float64{"accuracy": 0.93, "loss": 0.21},
			Data:    []registry.Data{{Role: "train", URI: "s3://d/train.jsonl", SHA256: "sha256:aa"}, {Role: "validation", URI: "s3://d/val.jsonl", SHA256: "sha256:bb"}}},
	}
}

func newOps(t *testing.T) (*fakeMLflow, *Ops, *bytes.Buffer) {
	f, c := newFakeMLflow(t)
	var logs bytes.Buffer
	return f, &Ops{ModelOps: &fakeOps{registered: "v2", rollbackTo: "v1"}, Client: c, Registry: versions(),
		Log: slog.New(slog.NewJSONHandler(&logs, nil))}, &logs
}

func TestRegisterLogsTheRetrainAsOneRun(t *testing.T) {
	f, ops, logs := newOps(t)
	ctx := context.Background()
	for range 2 { // a retried Register activity
		if _, err := ops.Register(ctx, lifecycle.RegisterRequest{Model: "churn", RunID: "retrain-churn-2"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ops.Validate(ctx, lifecycle.ValidateRequest{Model: "churn", Challenger: "v2", Champion: "v1", RunID: "retrain-churn-2"}); err != nil {
		t.Fatal(err)
	}
	if len(f.runs) != 1 || f.exps["vigil-churn"] == "" {
		t.Fatalf("runs %v, experiments %v", f.runs, f.exps)
	}
	run := f.runs["run1"]
	if run.name != "retrain-churn-2" || run.start != created.UnixMilli() || run.status != "FINISHED" {
		t.Errorf("run %+v", run)
	}
	if run.params["epochs"] != "3" || run.params["lr"] != "0.01" {
		t.Errorf("params %v", run.params)
	}
	for k, want := range map[string]float64{"accuracy": 0.93, "loss": 0.21, "validation.performance.accuracy": 0.93,
		"validation.champion.performance.accuracy": 0.88, "validation.rows": 500} {
		if got := run.metrics[k]; len(got) != 1 || got[0] != want {
			t.Errorf("metric %s = %v, want once %v", k, got, want)
		}
	}
	for k, want := range map[string]string{TagRunID: "retrain-churn-2", TagVersion: "v2", TagGit: "3f2c1ab", TagTrainer: "kubeflow",
		"vigil.data.train.sha256": "sha256:aa", "vigil.data.validation.sha256": "sha256:bb", "vigil.validation_report": "s3://r/validation.json"} {
		if run.tags[k] != want {
			t.Errorf("tag %s = %q, want %q", k, run.tags[k], want)
		}
	}
	if logs.Len() != 0 && strings.Contains(logs.String(), "ERROR") {
		t.Errorf("errors logged:\n%s", logs.String())
	}
}

func TestTheWorkflowLinkIsATag(t *testing.T) {
	f, ops, _ := newOps(t)
	link := "http://127.0.0.1:8233/namespaces/default/workflows/retrain:churn/abc"
	if _, err := ops.LogRun(context.Background(), "churn", versions()[2], link); err != nil {
		t.Fatal(err)
	}
	if got := f.runs["run1"].tags[TagWorkflow]; got != link {
		t.Errorf("workflow tag %q", got)
	}
}

func TestPromotionAndRollbackAreMirroredAsModelVersionsAndAnAlias(t *testing.T) {
	f, ops, _ := newOps(t)
	ctx := context.Background()
	for range 2 { // a retried SetAlias activity
		if _, err := ops.SetAlias(ctx, lifecycle.AliasMove{Model: "churn", Alias: "production", Version: "v2"}); err != nil {
			t.Fatal(err)
		}
	}
	mvs := f.models["churn"]
	if len(mvs) != 1 || mvs[0].source != "s3://models/churn/runs/r2/model.pkl" || f.runs[mvs[0].runID].name != "retrain-churn-2" {
		t.Fatalf("model versions %+v", mvs)
	}
	if f.aliases["churn/production"] != "1" {
		t.Errorf("aliases %v", f.aliases)
	}
	// Rolling back to v1, which MLflow has never seen: its run and model
	// version are created from the registry, and the alias follows.
	if _, err := ops.Rollback(ctx, lifecycle.RollbackRequest{Model: "churn"}); err != nil {
		t.Fatal(err)
	}
	if mvs := f.models["churn"]; len(mvs) != 2 || f.runs[mvs[1].runID].name != "retrain-churn-1" || f.aliases["churn/production"] != "2" {
		t.Errorf("after rollback: versions %+v, aliases %v", mvs, f.aliases)
	}
	if err := ops.RecordOutcome(ctx, lifecycle.Outcome{Model: "churn", Version: "v2", Status: "rejected"}); err != nil {
		t.Fatal(err)
	}
	if f.runs[mvs[0].runID].tags[TagOutcome] != "rejected" {
		t.Errorf("outcome tag missing: %v", f.runs[mvs[0].runID].tags)
	}
}

// MLflow is a mirror: when it refuses or is down, the lifecycle's answer
// stands and the failure is logged at error level. A refusal (4xx) is not
// retried; an outage (5xx) is, Attempts times.
func TestMLflowFailuresNeverFailTheRetrain(t *testing.T) {
	for _, tc := range []struct {
		status, calls int
		permanent     bool
	}{{403, 1, true}, {503, 3, false}} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			f, ops, logs := newOps(t)
			f.failWith = tc.status
			res, err := ops.Register(context.Background(), lifecycle.RegisterRequest{Model: "churn", RunID: "retrain-churn-2"})
			if err != nil || res != "v2" {
				t.Fatalf("Register = %+v, %v; want the lifecycle's answer", res, err)
			}
			if n := f.calls["GET experiments/get-by-name"]; n != tc.calls {
				t.Errorf("%d calls, want %d", n, tc.calls)
			}
			out := logs.String()
			if !strings.Contains(out, `"level":"ERROR"`) || !strings.Contains(out, `"model":"churn"`) ||
				!strings.Contains(out, fmt.Sprintf(`"permanent":%v`, tc.permanent)) || strings.Contains(out, "mlflow-secret") {
				t.Errorf("log:\n%s", out)
			}
		})
	}
}

func TestLogBatchSplitsAtMLflowsLimits(t *testing.T) {
	f, c := newFakeMLflow(t)
	ctx := context.Background()
	exp, err := c.ExperimentID(ctx, "limits")
	if err != nil {
		t.Fatal(err)
	}
	run, err := c.CreateRun(ctx, exp, "r", created, nil)
	if err != nil {
		t.Fatal(err)
	}
	var metrics []Metric
	var params []KV
	for i := range 2500 {
		metrics = append(metrics, Metric{Key: fmt.Sprintf("m%d", i), Value: float64(i), Timestamp: 1})
	}
	for i := range 250 {
		params = append(params, KV{fmt.Sprintf("p%d", i), strings.Repeat("x", 7000)})
	}
	if err := c.LogBatch(ctx, run, metrics, params, nil); err != nil {
		t.Fatal(err)
	}
	if n := f.calls["POST runs/log-batch"]; n != 3 || len(f.runs[run].metrics) != 2500 || len(f.runs[run].params) != 250 {
		t.Errorf("%d requests, %d metrics, %d params", n, len(f.runs[run].metrics), len(f.runs[run].params))
	}
}

func TestWorkflowLinkPointsAtTheRetrainInTheTemporalUI(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	ops := &Ops{TemporalUI: "http://127.0.0.1:8233/"}
	env.RegisterActivityWithOptions(func(ctx context.Context) (string, error) { return ops.workflowLink(ctx), nil },
		activity.RegisterOptions{Name: "link"})
	val, err := env.ExecuteActivity("link")
	if err != nil {
		t.Fatal(err)
	}
	var link string
	val.Get(&link)
	if !strings.HasPrefix(link, "http://127.0.0.1:8233/namespaces/") || !strings.Contains(link, "/workflows/") {
		t.Errorf("link %q", link)
	}
	if got := ops.workflowLink(context.Background()); got != "" {
		t.Errorf("outside an activity: %q", got)
	}
}
