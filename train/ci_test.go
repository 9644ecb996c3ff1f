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

// fakeGitLab implements the pipeline trigger, pipeline, variables and
// cancel endpoints of the GitLab REST API v4 for one project.
type fakeGitLab struct {
	t         *testing.T
	mu        sync.Mutex
	pipelines map[int]*fakePipeline
	next      int
	triggers  int
	cancels   int
	// script is the status sequence of a new pipeline, one per GET.
	script []string
	// onSuccess runs when a pipeline succeeds (the pipeline "writes" its output).
	onSuccess func(vars map[string]string)
}

type fakePipeline struct {
	vars map[string]string
	i    int
	done bool
}

const glProject = "ml%2Fchurn-model"

func newFakeGitLab(t *testing.T) (*fakeGitLab, *httptest.Server) {
	f := &fakeGitLab{t: t, pipelines: map[int]*fakePipeline{}, next: 100, script: []string{"pending", "running", "success"}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeGitLab) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	prefix := "/api/v4/projects/" + glProject
	if !strings.HasPrefix(r.URL.EscapedPath(), prefix) {
		f.t.Errorf("unexpected path %s", r.URL.EscapedPath())
		http.NotFound(w, r)
		return
	}
	path := strings.TrimPrefix(r.URL.EscapedPath(), prefix)
	if path != "/trigger/pipeline" && r.Header.Get("PRIVATE-TOKEN") != "api-secret" {
		http.Error(w, `{"message":"401 Unauthorized"}`, http.StatusUnauthorized)
		return
	}
	web := func(id int) string {
		return fmt.Sprintf("https://gitlab.example.com/ml/churn-model/-/pipelines/%d", id)
	}
	var id int
	switch {
	case r.Method == "POST" && path == "/trigger/pipeline":
		r.ParseForm()
		if r.PostForm.Get("token") != "trigger-secret" {
			http.Error(w, `{"message":"404 Not Found"}`, http.StatusNotFound)
			return
		}
		vars := map[string]string{}
		for k, v := range r.PostForm {
			if name, ok := strings.CutPrefix(k, "variables["); ok {
				vars[strings.TrimSuffix(name, "]")] = v[0]
			}
		}
		vars["ref"] = r.PostForm.Get("ref")
		f.next++
		f.triggers++
		f.pipelines[f.next] = &fakePipeline{vars: vars}
		w.WriteHeader(201)
		json.NewEncoder(w).Encode(map[string]any{"id": f.next, "status": "created", "web_url": web(f.next)})
	case r.Method == "GET" && path == "/pipelines":
		var list []map[string]any
		for id := f.next; id > 100; id-- {
			list = append(list, map[string]any{"id": id, "status": "running", "web_url": web(id)})
		}
		json.NewEncoder(w).Encode(list)
	case r.Method == "GET" && sscan(path, "/pipelines/%d/variables", &id):
		var vars []map[string]string
		for k, v := range f.pipelines[id].vars {
			vars = append(vars, map[string]string{"key": k, "value": v})
		}
		json.NewEncoder(w).Encode(vars)
	case r.Method == "POST" && sscan(path, "/pipelines/%d/cancel", &id):
		f.cancels++
		f.pipelines[id].done = true
		json.NewEncoder(w).Encode(map[string]any{"id": id, "status": "canceled"})
	case r.Method == "GET" && sscan(path, "/pipelines/%d", &id):
		p := f.pipelines[id]
		st := f.script[min(p.i, len(f.script)-1)]
		p.i++
		if p.done {
			st = "canceled"
		}
		if st == "success" && f.onSuccess != nil {
			f.onSuccess(p.vars)
		}
		json.NewEncoder(w).Encode(map[string]any{"id": id, "status": st, "web_url": web(id)})
	default:
		f.t.Errorf("unexpected %s %s", r.Method, path)
		http.NotFound(w, r)
	}
}

// sscan matches path against a pattern with one %d exactly.
func sscan(path, pattern string, id *int) bool {
	n, err := fmt.Sscanf(path, pattern, id)
	return err == nil && n == 1 && fmt.Sprintf(pattern, *id) == path
}

func (f *fakeGitLab) count() (triggers, cancels int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.triggers, f.cancels
}

func ciJob(out string) Job {
	return Job{Model: "churn", RunID: "retrain-churn-9", TrainData: "s3://data/train/", Output: out,
		Hyperparameters: map[string]string{"epochs": "3"}}
}

func TestGitLabTriggersAPipelineWithTheJobAndCollectsItsOutput(t *testing.T) {
	f, srv := newFakeGitLab(t)
	out := t.TempDir()
	f.onSuccess = func(vars map[string]string) { // the pipeline's job writes the contract's files
		dir := strings.TrimPrefix(vars["VIGIL_OUTPUT_DIR"], "file://")
		os.WriteFile(filepath.Join(dir, "model.pkl"), []byte("m"), 0o644)
		os.WriteFile(filepath.Join(dir, "metrics.json"), []byte(`{"accuracy": 0.88}`), 0o644)
	}
	g := &GitLab{BaseURL: srv.URL, Project: "ml/churn-model", Ref: "release", TriggerToken: "trigger-secret", APIToken: "api-secret", PollInterval: time.Millisecond}
	var progress lines
	res, err := g.Train(context.Background(), ciJob("file://"+out), progress.add)
	if err != nil {
		t.Fatal(err)
	}
	p := f.pipelines[101]
	if p.vars["VIGIL_RUN_ID"] != "retrain-churn-9" || p.vars["VIGIL_TRAIN_DATA"] != "s3://data/train/" ||
		p.vars["VIGIL_HYPERPARAMETERS"] != `{"epochs":"3"}` || p.vars["ref"] != "release" {
		t.Errorf("pipeline variables = %v", p.vars)
	}
	if res.ArtifactURI != "file://"+filepath.Join(out, "model.pkl") || res.Metrics["accuracy"] != 0.88 ||
		res.BackendJobID != "https://gitlab.example.com/ml/churn-model/-/pipelines/101" {
		t.Errorf("result = %+v", res)
	}
	if !strings.Contains(progress.all(), "pipeline 101: running") {
		t.Errorf("progress = %s", progress.all())
	}

	// A retry with the same run id follows pipeline 101 instead of triggering another.
	f.onSuccess = nil
	if _, err := g.Train(context.Background(), ciJob("file://"+out), nil); err != nil {
		t.Fatal(err)
	}
	if n, _ := f.count(); n != 1 {
		t.Errorf("%d pipelines triggered for one run id", n)
	}
}

func TestGitLabFailedPipelineIsPermanent(t *testing.T) {
	f, srv := newFakeGitLab(t)
	f.script = []string{"running", "failed"}
	g := &GitLab{BaseURL: srv.URL, Project: "ml/churn-model", TriggerToken: "trigger-secret", APIToken: "api-secret", PollInterval: time.Millisecond}
	_, err := g.Train(context.Background(), ciJob("s3://models/churn/run"), nil)
	if !IsPermanent(err) || !strings.Contains(err.Error(), "pipeline failed") {
		t.Fatalf("got %v", err)
	}
}

func TestGitLabBadTriggerTokenIsPermanentAndDoesNotLeak(t *testing.T) {
	_, srv := newFakeGitLab(t)
	g := &GitLab{BaseURL: srv.URL, Project: "ml/churn-model", TriggerToken: "wrong-secret", PollInterval: time.Millisecond}
	_, err := g.Train(context.Background(), ciJob("s3://x"), nil)
	if !IsPermanent(err) || !strings.Contains(err.Error(), "404") || strings.Contains(err.Error(), "wrong-secret") {
		t.Fatalf("got %v", err)
	}
}

func TestGitLabCancellationCancelsThePipeline(t *testing.T) {
	f, srv := newFakeGitLab(t)
	f.script = []string{"running"}
	g := &GitLab{BaseURL: srv.URL, Project: "ml/churn-model", TriggerToken: "trigger-secret", APIToken: "api-secret", PollInterval: 5 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := g.Train(ctx, ciJob("s3://x"), nil)
	if !errors.Is(err, ErrStopped) || IsPermanent(err) {
		t.Fatalf("got %v", err)
	}
	if _, cancels := f.count(); cancels != 1 {
		t.Errorf("%d cancel calls", cancels)
	}
}

// fakeJenkins implements buildWithParameters, the queue and build JSON
// APIs, stop and consoleText for one job in a folder.
type fakeJenkins struct {
	t      *testing.T
	mu     sync.Mutex
	url    string
	starts int
	stops  int
	params map[string]string
	// queuePolls is how many queue polls pass before the build starts.
	queuePolls int
	buildPolls int
	result     string
	running    bool
}

func newFakeJenkins(t *testing.T) *fakeJenkins {
	f := &fakeJenkins{t: t, queuePolls: 2, buildPolls: 2, result: "SUCCESS"}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

func (f *fakeJenkins) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if u, p, ok := r.BasicAuth(); !ok || u != "vigil" || p != "jenkins-secret" {
		w.WriteHeader(401)
		return
	}
	job := "/job/ml/job/train-churn/"
	build := job + "7/"
	switch {
	case r.Method == "POST" && r.URL.Path == job+"buildWithParameters":
		r.ParseForm()
		f.params = map[string]string{}
		for k, v := range r.PostForm {
			f.params[k] = v[0]
		}
		f.starts++
		f.running = true
		w.Header().Set("Location", f.url+"/queue/item/55/")
		w.WriteHeader(201)
	case r.URL.Path == job+"api/json":
		builds := []map[string]any{}
		if f.params != nil && f.queuePolls <= 0 {
			builds = append(builds, map[string]any{"number": 7, "url": f.url + build,
				"actions": []any{map[string]any{}, map[string]any{"parameters": []map[string]any{{"name": "VIGIL_RUN_ID", "value": f.params["VIGIL_RUN_ID"]}}}}})
		}
		json.NewEncoder(w).Encode(map[string]any{"builds": builds})
	case r.URL.Path == "/queue/api/json":
		items := []map[string]any{}
		if f.params != nil && f.queuePolls > 0 {
			items = append(items, map[string]any{"id": 55, "url": "queue/item/55/", "params": "\nVIGIL_RUN_ID=" + f.params["VIGIL_RUN_ID"],
				"task": map[string]any{"url": f.url + job}})
		}
		json.NewEncoder(w).Encode(map[string]any{"items": items})
	case r.URL.Path == "/queue/item/55/api/json":
		item := map[string]any{"id": 55, "why": "Waiting for next available executor"}
		if f.queuePolls--; f.queuePolls < 0 {
			item["executable"] = map[string]any{"number": 7, "url": f.url + build}
		}
		json.NewEncoder(w).Encode(item)
	case r.URL.Path == build+"api/json":
		b := map[string]any{"number": 7, "building": true, "result": nil}
		if f.buildPolls--; f.buildPolls < 0 && f.running {
			b["building"], b["result"] = false, f.result
		}
		if !f.running {
			b["building"], b["result"] = false, "ABORTED"
		}
		json.NewEncoder(w).Encode(b)
	case r.Method == "POST" && r.URL.Path == build+"stop":
		f.stops++
		f.running = false
	case r.URL.Path == build+"consoleText":
		for i := range 50 {
			fmt.Fprintf(w, "step %d\n", i)
		}
		fmt.Fprintln(w, "ERROR: training loss is NaN")
	default:
		f.t.Errorf("unexpected %s %s", r.Method, r.URL)
		w.WriteHeader(404)
	}
}

func (f *fakeJenkins) trainer() *Jenkins {
	return &Jenkins{BaseURL: f.url, Job: "ml/train-churn", User: "vigil", Token: "jenkins-secret", PollInterval: time.Millisecond, LogTailLines: 3}
}

func TestJenkinsStartsTheJobFollowsTheQueueAndWaitsForTheResult(t *testing.T) {
	f := newFakeJenkins(t)
	var progress lines
	res, err := f.trainer().Train(context.Background(), ciJob("s3://models/churn/run-9/"), progress.add)
	if err != nil {
		t.Fatal(err)
	}
	if f.params["VIGIL_MODEL"] != "churn" || f.params["VIGIL_OUTPUT_DIR"] != "s3://models/churn/run-9/" {
		t.Errorf("parameters = %v", f.params)
	}
	if res.BackendJobID != f.url+"/job/ml/job/train-churn/7/" || res.ArtifactURI != "s3://models/churn/run-9/" ||
		res.LogsURI != res.BackendJobID+"console" {
		t.Errorf("result = %+v", res)
	}
	for _, want := range []string{"queued " + f.url + "/queue/item/55/", "build started", "SUCCESS"} {
		if !strings.Contains(progress.all(), want) {
			t.Errorf("progress lacks %q:\n%s", want, progress.all())
		}
	}
}

func TestJenkinsRetryFindsTheQueuedOrRunningBuildOfTheRun(t *testing.T) {
	for _, state := range []string{"queued", "running"} {
		t.Run(state, func(t *testing.T) {
			f := newFakeJenkins(t)
			// An earlier attempt started the build and its worker crashed.
			f.params, f.running = map[string]string{"VIGIL_RUN_ID": "retrain-churn-9"}, true
			if state == "running" {
				f.queuePolls = 0
			}
			if _, err := f.trainer().Train(context.Background(), ciJob("s3://x/"), nil); err != nil {
				t.Fatal(err)
			}
			if f.starts != 0 {
				t.Errorf("job started again for a run id it already has a %s build for", state)
			}
		})
	}
	// A different run id does start a build.
	f := newFakeJenkins(t)
	f.params, f.queuePolls = map[string]string{"VIGIL_RUN_ID": "another-run"}, 0
	if _, err := f.trainer().Train(context.Background(), ciJob("s3://x/"), nil); err != nil || f.starts != 1 {
		t.Fatalf("starts = %d, err = %v", f.starts, err)
	}
}

func TestJenkinsFailedBuildIsPermanentWithTheConsoleTail(t *testing.T) {
	f := newFakeJenkins(t)
	f.result = "FAILURE"
	_, err := f.trainer().Train(context.Background(), ciJob("s3://x/"), nil)
	if !IsPermanent(err) || !strings.Contains(err.Error(), "build FAILURE") || !strings.Contains(err.Error(), "ERROR: training loss is NaN") ||
		strings.Contains(err.Error(), "step 40") || strings.Contains(err.Error(), "jenkins-secret") {
		t.Fatalf("got %v", err)
	}
}

func TestJenkinsCancellationStopsTheBuild(t *testing.T) {
	f := newFakeJenkins(t)
	f.queuePolls, f.buildPolls = 0, 1000
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err := f.trainer().Train(ctx, ciJob("s3://x/"), nil)
	if !errors.Is(err, ErrStopped) {
		t.Fatalf("got %v", err)
	}
	if f.stops != 1 {
		t.Errorf("%d stop calls", f.stops)
	}
}
