package train

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilml/vigil/config"
)

// fakeAirflow serves the DAG run endpoints of Airflow's stable REST API for
// one DAG, checking requests as the API reference specifies them: Airflow 3
// (/api/v2, a JWT from POST /auth/token; TriggerDAGRunPostBody is strict and
// requires logical_date, which may be null) or Airflow 2 (/api/v1, basic
// auth). Trigger answers 409 for an existing dag_run_id, GET 404 for a
// missing one; PATCH takes {"state": "failed"}.
type fakeAirflow struct {
	t       *testing.T
	api     string
	mu      sync.Mutex
	runs    map[string]*fakeDAGRun
	logins  int
	posts   int
	patches int
	// tokens are the JWTs handed out; a token in expired is refused.
	tokens, expired map[string]bool
	// script is the state sequence of a new run, one per GET.
	script    []string
	onSuccess func(conf map[string]any)
}

type fakeDAGRun struct {
	conf  map[string]any
	i     int
	state string
}

func newFakeAirflow(t *testing.T, api string) (*fakeAirflow, *httptest.Server) {
	f := &fakeAirflow{t: t, api: api, runs: map[string]*fakeDAGRun{}, tokens: map[string]bool{}, expired: map[string]bool{},
		script: []string{"queued", "running", "success"}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeAirflow) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fail := func(status int, detail string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"detail": detail})
	}
	if f.api == "v2" && r.URL.Path == "/auth/token" {
		var body map[string]string
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&body) != nil {
			fail(http.StatusBadRequest, "want POST of JSON {username, password}")
			return
		}
		if body["username"] != "vigil" || body["password"] != "af-secret" {
			fail(http.StatusUnauthorized, "Invalid credentials")
			return
		}
		f.logins++
		tok := "jwt-" + string(rune('a'+f.logins))
		f.tokens[tok] = true
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]string{"access_token": tok})
		return
	}
	switch f.api {
	case "v2":
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !f.tokens[tok] || f.expired[tok] {
			fail(http.StatusUnauthorized, "Invalid JWT token")
			return
		}
	case "v1":
		want := "Basic " + base64.StdEncoding.EncodeToString([]byte("vigil:af-secret"))
		if r.Header.Get("Authorization") != want {
			fail(http.StatusUnauthorized, "Unauthorized")
			return
		}
	}
	prefix := "/api/" + f.api + "/dags/train_churn/dagRuns"
	path, ok := strings.CutPrefix(r.URL.Path, prefix)
	if !ok {
		f.t.Errorf("unexpected path %s", r.URL.Path)
		fail(http.StatusNotFound, "no such path")
		return
	}
	reply := func(id string, run *fakeDAGRun) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"dag_run_id": id, "dag_id": "train_churn", "state": run.state, "conf": run.conf})
	}
	switch {
	case path == "" && r.Method == http.MethodPost:
		dec := json.NewDecoder(r.Body)
		if f.api == "v2" {
			dec.DisallowUnknownFields() // StrictBaseModel: extra fields are a 422
		}
		var body struct {
			DAGRunID    string          `json:"dag_run_id"`
			Conf        map[string]any  `json:"conf"`
			LogicalDate json.RawMessage `json:"logical_date"`
		}
		if err := dec.Decode(&body); err != nil {
			fail(http.StatusUnprocessableEntity, err.Error())
			return
		}
		if f.api == "v2" && body.LogicalDate == nil {
			fail(http.StatusUnprocessableEntity, "logical_date: Field required")
			return
		}
		if f.api == "v2" && string(body.LogicalDate) != "null" {
			f.t.Errorf("logical_date %s, want null (run now)", body.LogicalDate)
		}
		if _, exists := f.runs[body.DAGRunID]; exists {
			fail(http.StatusConflict, "DAG run already exists")
			return
		}
		f.posts++
		run := &fakeDAGRun{conf: body.Conf, state: "queued"}
		f.runs[body.DAGRunID] = run
		reply(body.DAGRunID, run)
	case strings.HasPrefix(path, "/") && r.Method == http.MethodGet:
		id := strings.TrimPrefix(path, "/")
		run := f.runs[id]
		if run == nil {
			fail(http.StatusNotFound, "DAG run not found")
			return
		}
		if run.state != "failed" && run.state != "success" && run.i < len(f.script) {
			run.state = f.script[run.i]
			run.i++
			if run.state == "success" && f.onSuccess != nil {
				f.onSuccess(run.conf)
			}
		}
		reply(id, run)
	case strings.HasPrefix(path, "/") && r.Method == http.MethodPatch:
		id := strings.TrimPrefix(path, "/")
		var body map[string]string
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body["state"] != "failed" {
			fail(http.StatusBadRequest, "want {\"state\": \"failed\"}")
			return
		}
		run := f.runs[id]
		if run == nil {
			fail(http.StatusNotFound, "DAG run not found")
			return
		}
		f.patches++
		run.state = "failed"
		reply(id, run)
	default:
		fail(http.StatusMethodNotAllowed, r.Method+" "+r.URL.Path)
	}
}

func (f *fakeAirflow) counts() (logins, posts, patches int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.logins, f.posts, f.patches
}

func TestAirflowTriggersADAGRunWithTheJobAsConf(t *testing.T) {
	for _, api := range []string{"v2", "v1"} {
		t.Run(api, func(t *testing.T) {
			f, srv := newFakeAirflow(t, api)
			out := t.TempDir()
			f.onSuccess = func(conf map[string]any) { // the DAG's task writes the contract's files
				dir := strings.TrimPrefix(conf["VIGIL_OUTPUT_DIR"].(string), "file://")
				os.WriteFile(filepath.Join(dir, "model.pkl"), []byte("m"), 0o644)
				os.WriteFile(filepath.Join(dir, "metrics.json"), []byte(`{"accuracy": 0.91}`), 0o644)
			}
			a := &Airflow{BaseURL: srv.URL + "/", API: api, DAG: "train_churn", User: "vigil", Password: "af-secret", PollInterval: time.Millisecond}
			var progress lines
			res, err := a.Train(context.Background(), ciJob("file://"+out), progress.add)
			if err != nil {
				t.Fatal(err)
			}
			run := f.runs["vigil-churn-retrain-churn-9"]
			if run == nil {
				t.Fatalf("no run with the derived dag_run_id; runs %v", f.runs)
			}
			if run.conf["VIGIL_RUN_ID"] != "retrain-churn-9" || run.conf["VIGIL_TRAIN_DATA"] != "s3://data/train/" ||
				run.conf["VIGIL_HYPERPARAMETERS"] != `{"epochs":"3"}` || run.conf["VIGIL_MODEL"] != "churn" {
				t.Errorf("conf = %v", run.conf)
			}
			if res.Trainer != "airflow" || res.ArtifactURI != "file://"+filepath.Join(out, "model.pkl") || res.Metrics["accuracy"] != 0.91 ||
				!strings.Contains(res.BackendJobID, "vigil-churn-retrain-churn-9") {
				t.Errorf("result = %+v", res)
			}
			if !strings.Contains(progress.all(), "vigil-churn-retrain-churn-9: running") {
				t.Errorf("progress = %s", progress.all())
			}

			// A retry with the same run id follows the run instead of triggering another.
			f.onSuccess = nil
			if _, err := a.Train(context.Background(), ciJob("file://"+out), nil); err != nil {
				t.Fatal(err)
			}
			logins, posts, _ := f.counts()
			if posts != 1 {
				t.Errorf("%d DAG runs triggered for one run id", posts)
			}
			if api == "v2" && logins != 1 {
				t.Errorf("%d logins, want one token reused", logins)
			}
		})
	}
}

// A trigger that finds the run already there (a concurrent attempt
// triggered it between the lookup and the trigger) follows that run.
func TestAirflowTriggerConflictFollowsTheRun(t *testing.T) {
	f, srv := newFakeAirflow(t, "v2")
	a := &Airflow{BaseURL: srv.URL, API: "v2", DAG: "train_churn", User: "vigil", Password: "af-secret", PollInterval: time.Millisecond}
	lookups := 0
	a.HTTP = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/dagRuns/") {
			if lookups++; lookups == 1 { // the other attempt triggers right after our lookup
				f.mu.Lock()
				f.runs["vigil-churn-retrain-churn-9"] = &fakeDAGRun{conf: map[string]any{}, state: "queued"}
				f.mu.Unlock()
				return &http.Response{StatusCode: http.StatusNotFound, Body: http.NoBody, Header: http.Header{}, Request: r}, nil
			}
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
	if _, err := a.Train(context.Background(), ciJob("s3://models/churn/run"), nil); err != nil {
		t.Fatal(err)
	}
	if _, posts, _ := f.counts(); posts != 0 {
		t.Errorf("%d runs created, want the existing one followed", posts)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestAirflowExpiredTokenIsRenewed(t *testing.T) {
	f, srv := newFakeAirflow(t, "v2")
	f.script = []string{"running", "running", "success"}
	a := &Airflow{BaseURL: srv.URL, API: "v2", DAG: "train_churn", User: "vigil", Password: "af-secret", PollInterval: time.Millisecond}
	progress := func(msg string) {
		if strings.HasSuffix(msg, ": running") { // the first token expires mid-run
			f.mu.Lock()
			for tok := range f.tokens {
				f.expired[tok] = true
			}
			f.mu.Unlock()
		}
	}
	if _, err := a.Train(context.Background(), ciJob("s3://models/churn/run"), progress); err != nil {
		t.Fatal(err)
	}
	if logins, _, _ := f.counts(); logins != 2 {
		t.Errorf("%d logins, want 2 (the first token expired)", logins)
	}
}

func TestAirflowFailedRunIsPermanent(t *testing.T) {
	f, srv := newFakeAirflow(t, "v1")
	f.script = []string{"running", "failed"}
	a := &Airflow{BaseURL: srv.URL, API: "v1", DAG: "train_churn", User: "vigil", Password: "af-secret", PollInterval: time.Millisecond}
	_, err := a.Train(context.Background(), ciJob("s3://models/churn/run"), nil)
	if !IsPermanent(err) || !strings.Contains(err.Error(), "DAG run failed") {
		t.Fatalf("got %v", err)
	}
}

func TestAirflowBadPasswordIsPermanentAndDoesNotLeak(t *testing.T) {
	for _, api := range []string{"v2", "v1"} {
		t.Run(api, func(t *testing.T) {
			_, srv := newFakeAirflow(t, api)
			a := &Airflow{BaseURL: srv.URL, API: api, DAG: "train_churn", User: "vigil", Password: "wrong-secret", PollInterval: time.Millisecond}
			_, err := a.Train(context.Background(), ciJob("s3://x"), nil)
			if !IsPermanent(err) || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "wrong-secret") {
				t.Fatalf("got %v", err)
			}
		})
	}
}

func TestAirflowCancellationFailsTheRun(t *testing.T) {
	for _, api := range []string{"v2", "v1"} {
		t.Run(api, func(t *testing.T) {
			f, srv := newFakeAirflow(t, api)
			f.script = []string{"running"}
			a := &Airflow{BaseURL: srv.URL, API: api, DAG: "train_churn", User: "vigil", Password: "af-secret", PollInterval: 5 * time.Millisecond}
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			_, err := a.Train(ctx, ciJob("s3://x"), nil)
			if !errors.Is(err, ErrStopped) || IsPermanent(err) {
				t.Fatalf("got %v", err)
			}
			if _, _, patches := f.counts(); patches != 1 || f.runs["vigil-churn-retrain-churn-9"].state != "failed" {
				t.Errorf("%d PATCH calls, run %+v", patches, f.runs["vigil-churn-retrain-churn-9"])
			}
		})
	}
}

// A worker shutting down leaves the run going for the next attempt.
func TestAirflowShutdownLeavesTheRunRunning(t *testing.T) {
	f, srv := newFakeAirflow(t, "v2")
	f.script = []string{"running"}
	a := &Airflow{BaseURL: srv.URL, API: "v2", DAG: "train_churn", User: "vigil", Password: "af-secret", PollInterval: 5 * time.Millisecond}
	ctx, cancel := context.WithCancelCause(context.Background())
	time.AfterFunc(30*time.Millisecond, func() { cancel(ErrShutdown) })
	_, err := a.Train(ctx, ciJob("s3://x"), nil)
	if !errors.Is(err, ErrDetached) {
		t.Fatalf("got %v", err)
	}
	if _, _, patches := f.counts(); patches != 0 {
		t.Errorf("%d PATCH calls on shutdown", patches)
	}
}

// New reads the password from the variable the config names, and refuses
// to build the trainer when it is unset.
func TestNewAirflowReadsThePasswordFromTheEnvironment(t *testing.T) {
	r := &config.Retrain{Trainer: "airflow", Airflow: &config.Airflow{URL: "https://airflow.example.com", API: "v1", DAG: "train_churn", User: "vigil", PasswordEnv: "AIRFLOW_PASSWORD"}}
	tr, err := New(context.Background(), r, Deps{Getenv: func(k string) string { return map[string]string{"AIRFLOW_PASSWORD": "af-secret"}[k] }})
	if err != nil {
		t.Fatal(err)
	}
	if a, ok := tr.(*Airflow); !ok || a.Password != "af-secret" || a.API != "v1" || a.DAG != "train_churn" {
		t.Errorf("trainer %#v", tr)
	}
	if _, err := New(context.Background(), r, Deps{Getenv: func(string) string { return "" }}); err == nil || !strings.Contains(err.Error(), "AIRFLOW_PASSWORD is not set") {
		t.Errorf("unset password: %v", err)
	}
}
