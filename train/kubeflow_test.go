package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeKFP implements the KFP v2beta1 RunService endpoints Vigil uses
// (create, list, get, terminate), checking each request against the API
// reference: JSON bodies with a display_name and either a
// pipeline_version_reference or a pipeline_spec, the list filter as a
// JSON-serialized Filter message, the auth headers.
type fakeKFP struct {
	t       *testing.T
	mu      sync.Mutex
	runs    map[string]*fakeKFPRun
	order   []string
	creates int
	stops   int
	// script is the state sequence of a new run, one per GET.
	script    []string
	onSuccess func(params map[string]string)
	// wantUser is the kubeflow-userid header required (multi-user mode).
	wantUser string
	lastBody map[string]any
	lastList string
}

type fakeKFPRun struct {
	name       string
	params     map[string]string
	i          int
	terminated bool
}

func newFakeKFP(t *testing.T) (*fakeKFP, *httptest.Server) {
	f := &fakeKFP{t: t, runs: map[string]*fakeKFPRun{}, script: []string{"PENDING", "RUNNING", "SUCCEEDED"}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeKFP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.wantUser != "" && r.Header.Get("kubeflow-userid") != f.wantUser {
		w.WriteHeader(http.StatusForbidden)
		json.NewEncoder(w).Encode(map[string]any{"code": 7, "message": "User is not authorized"})
		return
	}
	if f.wantUser == "" && r.Header.Get("Authorization") != "Bearer kfp-secret" {
		w.WriteHeader(http.StatusUnauthorized)
		json.NewEncoder(w).Encode(map[string]any{"code": 16, "message": "Unauthenticated"})
		return
	}
	const base = "/pipeline/apis/v2beta1/runs"
	path := r.URL.Path
	switch {
	case r.Method == "POST" && path == base:
		if r.Header.Get("Content-Type") != "application/json" {
			f.t.Errorf("create run: Content-Type %q", r.Header.Get("Content-Type"))
		}
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			f.t.Errorf("create run: body is not JSON: %v", err)
		}
		f.lastBody = body
		name, _ := body["display_name"].(string)
		ref, hasRef := body["pipeline_version_reference"].(map[string]any)
		_, hasSpec := body["pipeline_spec"].(map[string]any)
		if name == "" || hasRef == hasSpec || (hasRef && ref["pipeline_id"] == "") {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]any{"code": 3, "message": "Invalid input error: a run needs a display name and one pipeline"})
			return
		}
		params := map[string]string{}
		rc, _ := body["runtime_config"].(map[string]any)
		ps, _ := rc["parameters"].(map[string]any)
		for k, v := range ps {
			s, ok := v.(string)
			if !ok {
				f.t.Errorf("parameter %s is %T, want a string", k, v)
			}
			params[k] = s
		}
		f.creates++
		id := fmt.Sprintf("0b5e%04d-run", f.creates)
		f.runs[id] = &fakeKFPRun{name: name, params: params}
		f.order = append(f.order, id)
		json.NewEncoder(w).Encode(map[string]any{"run_id": id, "display_name": name, "state": "PENDING",
			"created_at": fmt.Sprintf("2026-12-01T10:00:%02dZ", f.creates)})
	case r.Method == "GET" && path == base:
		f.lastList = r.URL.RawQuery
		var filter struct {
			Predicates []struct {
				Key         string `json:"key"`
				Operation   string `json:"operation"`
				StringValue string `json:"string_value"`
			} `json:"predicates"`
		}
		if err := json.Unmarshal([]byte(r.URL.Query().Get("filter")), &filter); err != nil || len(filter.Predicates) != 1 ||
			filter.Predicates[0].Key != "display_name" || filter.Predicates[0].Operation != "EQUALS" {
			f.t.Errorf("list runs: filter %q (%v)", r.URL.Query().Get("filter"), err)
		}
		var runs []map[string]any
		for i, id := range f.order {
			if run := f.runs[id]; run.name == filter.Predicates[0].StringValue {
				runs = append(runs, map[string]any{"run_id": id, "display_name": run.name, "state": "RUNNING",
					"created_at": fmt.Sprintf("2026-12-01T10:00:%02dZ", i+1)})
			}
		}
		json.NewEncoder(w).Encode(map[string]any{"runs": runs, "total_size": len(runs)})
	case r.Method == "POST" && strings.HasSuffix(path, ":terminate"):
		id := strings.TrimSuffix(strings.TrimPrefix(path, base+"/"), ":terminate")
		f.stops++
		f.runs[id].terminated = true
		w.Write([]byte("{}"))
	case r.Method == "GET" && strings.HasPrefix(path, base+"/"):
		id := strings.TrimPrefix(path, base+"/")
		run, ok := f.runs[id]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(map[string]any{"code": 5, "message": "Run " + id + " not found"})
			return
		}
		st := f.script[min(run.i, len(f.script)-1)]
		run.i++
		if run.terminated {
			st = "CANCELED"
		}
		out := map[string]any{"run_id": id, "display_name": run.name, "state": st}
		if st == "FAILED" {
			out["error"] = map[string]any{"code": 2, "message": "task train: exit code 1"}
		}
		if st == "SUCCEEDED" && f.onSuccess != nil {
			f.onSuccess(run.params)
		}
		json.NewEncoder(w).Encode(out)
	default:
		f.t.Errorf("unexpected %s %s", r.Method, r.URL)
		w.WriteHeader(http.StatusNotFound)
	}
}

func (f *fakeKFP) counts() (creates, stops int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.creates, f.stops
}

func kfpTrainer(url string) *Kubeflow {
	return &Kubeflow{BaseURL: url + "/pipeline", PipelineID: "pl-churn", Token: "kfp-secret", PollInterval: time.Millisecond}
}

func TestKubeflowCreatesARunWithTheJobAsParametersAndCollectsItsOutput(t *testing.T) {
	f, srv := newFakeKFP(t)
	out := t.TempDir()
	f.onSuccess = func(p map[string]string) { // the pipeline's train step writes the contract's files
		dir := strings.TrimPrefix(p["VIGIL_OUTPUT_DIR"], "file://")
		os.WriteFile(filepath.Join(dir, "model.pkl"), []byte("m"), 0o644)
		os.WriteFile(filepath.Join(dir, "metrics.json"), []byte(`{"accuracy": 0.91}`), 0o644)
	}
	k := kfpTrainer(srv.URL)
	k.PipelineVersionID, k.ExperimentID, k.Namespace = "v7", "exp-1", "team-ml"
	var progress lines
	res, err := k.Train(context.Background(), ciJob("file://"+out), progress.add)
	if err != nil {
		t.Fatal(err)
	}
	run := f.runs["0b5e0001-run"]
	if run.name != "vigil-churn-retrain-churn-9" || run.params["VIGIL_RUN_ID"] != "retrain-churn-9" ||
		run.params["VIGIL_HYPERPARAMETERS"] != `{"epochs":"3"}` || run.params["VIGIL_TRAIN_DATA"] != "s3://data/train/" {
		t.Errorf("run %q, parameters %v", run.name, run.params)
	}
	ref := f.lastBody["pipeline_version_reference"].(map[string]any)
	if ref["pipeline_id"] != "pl-churn" || ref["pipeline_version_id"] != "v7" || f.lastBody["experiment_id"] != "exp-1" ||
		f.lastBody["namespace"] != "team-ml" {
		t.Errorf("create body = %v", f.lastBody)
	}
	if !strings.Contains(f.lastList, "namespace=team-ml") || !strings.Contains(f.lastList, "experiment_id=exp-1") {
		t.Errorf("list query = %s", f.lastList)
	}
	if res.Trainer != "kubeflow" || res.BackendJobID != "0b5e0001-run" || res.Metrics["accuracy"] != 0.91 ||
		res.ArtifactURI != "file://"+filepath.Join(out, "model.pkl") {
		t.Errorf("result = %+v", res)
	}
	if !strings.Contains(progress.all(), "run 0b5e0001-run: RUNNING") {
		t.Errorf("progress = %s", progress.all())
	}

	// A retry of the same run id follows the run by its name.
	f.onSuccess = nil
	if _, err := k.Train(context.Background(), ciJob("file://"+out), nil); err != nil {
		t.Fatal(err)
	}
	if n, _ := f.counts(); n != 1 {
		t.Errorf("%d runs created for one run id", n)
	}
}

func TestKubeflowInlinePipelineSpecAndMultiUserHeader(t *testing.T) {
	f, srv := newFakeKFP(t)
	f.wantUser = "ml-team@example.com"
	spec := filepath.Join(t.TempDir(), "pipeline.yaml")
	os.WriteFile(spec, []byte("pipelineInfo:\n  name: train-churn\nroot:\n  dag: {tasks: {}}\nschemaVersion: 2.1.0\nsdkVersion: kfp-2.7.0\n"), 0o644)
	raw, err := LoadPipelineSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	k := &Kubeflow{BaseURL: srv.URL + "/pipeline", PipelineSpec: raw, UserID: "ml-team@example.com", PollInterval: time.Millisecond}
	if _, err := k.Train(context.Background(), ciJob("s3://models/churn/run-9/"), nil); err != nil {
		t.Fatal(err)
	}
	ps := f.lastBody["pipeline_spec"].(map[string]any)
	if ps["pipelineInfo"].(map[string]any)["name"] != "train-churn" || ps["schemaVersion"] != "2.1.0" {
		t.Errorf("pipeline_spec = %v", ps)
	}
	if _, ok := f.lastBody["pipeline_version_reference"]; ok {
		t.Error("an inline spec run also names a pipeline version")
	}
}

func TestLoadPipelineSpecRefusesWhatIsNotOneCompiledPipeline(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"not a pipeline": "name: x\n",
		"platform spec":  "pipelineInfo: {name: x}\nroot: {}\n---\nplatforms: {kubernetes: {}}\n",
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".yaml")
		os.WriteFile(p, []byte(body), 0o644)
		if _, err := LoadPipelineSpec(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestKubeflowRunStates(t *testing.T) {
	for _, tc := range []struct {
		script []string
		want   string // "" ok, else a substring of the permanent error
	}{
		{[]string{"RUNTIME_STATE_UNSPECIFIED", "RUNNING", "SUCCEEDED"}, ""},
		{[]string{"RUNTIMESTATE_UNSPECIFIED", "PAUSED", "SUCCEEDED"}, ""},
		{[]string{"", "PENDING", "SUCCEEDED"}, ""},
		{[]string{"RUNNING", "FAILED"}, "run FAILED: task train: exit code 1"},
		{[]string{"CANCELING", "CANCELED"}, "run CANCELED"},
		{[]string{"SKIPPED"}, "run SKIPPED"},
	} {
		t.Run(strings.Join(tc.script, ","), func(t *testing.T) {
			f, srv := newFakeKFP(t)
			f.script = tc.script
			_, err := kfpTrainer(srv.URL).Train(context.Background(), ciJob("s3://x/"), nil)
			switch {
			case tc.want == "" && err != nil:
				t.Fatal(err)
			case tc.want != "" && (!IsPermanent(err) || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want a permanent error with %q", err, tc.want)
			}
		})
	}
}

func TestKubeflowBadTokenIsPermanentAndDoesNotLeak(t *testing.T) {
	_, srv := newFakeKFP(t)
	k := kfpTrainer(srv.URL)
	k.Token = "wrong-secret"
	_, err := k.Train(context.Background(), ciJob("s3://x"), nil)
	if !IsPermanent(err) || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "wrong-secret") {
		t.Fatalf("got %v", err)
	}
}

func TestKubeflowCancellationTerminatesTheRun(t *testing.T) {
	f, srv := newFakeKFP(t)
	f.script = []string{"RUNNING"}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := kfpTrainer(srv.URL).Train(ctx, ciJob("s3://x"), nil)
	if !errors.Is(err, ErrStopped) || IsPermanent(err) {
		t.Fatalf("got %v", err)
	}
	if _, stops := f.counts(); stops != 1 {
		t.Errorf("%d terminate calls", stops)
	}
}

func TestKubeflowWorkerShutdownLeavesTheRunForTheNextAttempt(t *testing.T) {
	f, srv := newFakeKFP(t)
	f.script = []string{"RUNNING", "RUNNING", "RUNNING", "SUCCEEDED"}
	ctx := shutdownAfter(t, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		r := f.runs["0b5e0001-run"]
		return r != nil && r.i >= 1
	})
	_, err := kfpTrainer(srv.URL).Train(ctx, ciJob("s3://x/"), nil)
	if !errors.Is(err, ErrDetached) || errors.Is(err, ErrStopped) {
		t.Fatalf("on shutdown: %v, want ErrDetached", err)
	}
	if _, err := kfpTrainer(srv.URL).Train(context.Background(), ciJob("s3://x/"), nil); err != nil {
		t.Fatal(err)
	}
	if creates, stops := f.counts(); creates != 1 || stops != 0 {
		t.Errorf("creates %d, stops %d; want the one run left running and followed", creates, stops)
	}
}
