package sentryreport

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// envelopeServer is a local Sentry ingest endpoint: it accepts envelopes at
// /api/<project>/envelope/ as Sentry's envelope format specifies (a header
// line, then item header and payload lines) and keeps the events.
type envelopeServer struct {
	t      *testing.T
	mu     sync.Mutex
	events []map[string]any
	raw    []string
	dsn    string
}

func newEnvelopeServer(t *testing.T) *envelopeServer {
	e := &envelopeServer{t: t}
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	e.dsn = "http://0123456789abcdef@" + strings.TrimPrefix(srv.URL, "http://") + "/42"
	return e
}

func (e *envelopeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/api/42/envelope/" {
		e.t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if auth := r.Header.Get("X-Sentry-Auth"); !strings.Contains(auth, "sentry_key=0123456789abcdef") {
		e.t.Errorf("X-Sentry-Auth = %q", auth)
	}
	body, _ := io.ReadAll(r.Body)
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	if !sc.Scan() || !json.Valid(sc.Bytes()) {
		e.t.Errorf("envelope without a JSON header line: %q", body)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.raw = append(e.raw, string(body))
	for sc.Scan() {
		var item struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(sc.Bytes(), &item); err != nil || !sc.Scan() {
			e.t.Errorf("bad item in envelope %q", body)
			return
		}
		if item.Type == "event" {
			var ev map[string]any
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				e.t.Errorf("event payload: %v", err)
			}
			e.events = append(e.events, ev)
		}
	}
	w.Write([]byte(`{"id":"x"}`))
}

func (e *envelopeServer) got() ([]map[string]any, string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]map[string]any(nil), e.events...), strings.Join(e.raw, "\n")
}

const secret = "s3cr3t-token-value"

func newReporter(t *testing.T, e *envelopeServer) *Reporter {
	r, err := New(e.dsn, Options{Environment: "test", Release: "build-1", Secrets: []string{secret}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func tags(ev map[string]any) map[string]any {
	m, _ := ev["tags"].(map[string]any)
	return m
}

type EvaluateInput struct {
	Model  string
	Record string // raw data: must never reach Sentry
}

func failingActivity(ctx context.Context, in EvaluateInput) error {
	return temporal.NewNonRetryableApplicationError("read window of "+in.Model+": 401 for token "+secret, "StoreAuth", nil)
}

func monitorWorkflow(ctx workflow.Context, in EvaluateInput) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
	return workflow.ExecuteActivity(ctx, failingActivity, in).Get(ctx, nil)
}

func panickingWorkflow(ctx workflow.Context, in EvaluateInput) error {
	panic("workflow bug for " + in.Model)
}

func TestActivityFailureIsReportedWithTagsAndWithoutSecretsOrInputs(t *testing.T) {
	e := newEnvelopeServer(t)
	r := newReporter(t, e)
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{r.Interceptor()}})
	env.RegisterWorkflow(monitorWorkflow)
	env.RegisterActivity(failingActivity)
	env.ExecuteWorkflow(monitorWorkflow, EvaluateInput{Model: "churn", Record: `{"age": 41, "email": "ann@example.com"}`})
	if env.GetWorkflowError() == nil {
		t.Fatal("the workflow did not fail")
	}
	r.Flush(5 * time.Second)
	evs, raw := e.got()
	if len(evs) != 1 {
		t.Fatalf("%d events, want 1:\n%s", len(evs), raw)
	}
	ev := evs[0]
	tg := tags(ev)
	if tg["model"] != "churn" || tg["activity_type"] != "failingActivity" || tg["workflow_type"] != "monitorWorkflow" ||
		tg["source"] != "activity" || tg["attempt"] != "1" || ev["level"] != "error" || ev["environment"] != "test" || ev["release"] != "build-1" {
		t.Errorf("event = %v", ev)
	}
	if !strings.Contains(raw, "read window of churn: 401 for token [redacted]") {
		t.Errorf("the error message is missing or unscrubbed:\n%s", raw)
	}
	for _, leak := range []string{secret, "ann@example.com", `\"age\"`} {
		if strings.Contains(raw, leak) {
			t.Errorf("the envelope carries %q:\n%s", leak, raw)
		}
	}
}

func TestWorkflowPanicIsReportedWhenLive(t *testing.T) {
	e := newEnvelopeServer(t)
	r := newReporter(t, e)
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{r.Interceptor()}})
	env.RegisterWorkflow(panickingWorkflow)
	env.ExecuteWorkflow(panickingWorkflow, EvaluateInput{Model: "fraud"})
	var pe *temporal.PanicError
	if err := env.GetWorkflowError(); !errors.As(err, &pe) {
		t.Fatalf("workflow error %v, want the SDK's PanicError (the panic re-raised)", err)
	}
	r.Flush(5 * time.Second)
	evs, raw := e.got()
	if len(evs) != 1 {
		t.Fatalf("%d events, want 1:\n%s", len(evs), raw)
	}
	if tg := tags(evs[0]); tg["model"] != "fraud" || tg["workflow_type"] != "panickingWorkflow" || tg["source"] != "workflow" || evs[0]["level"] != "fatal" {
		t.Errorf("event = %v", evs[0])
	}
	if !strings.Contains(raw, "panic: workflow bug for fraud") || !strings.Contains(raw, "panickingWorkflow") {
		t.Errorf("the event lacks the panic or its stack:\n%s", raw)
	}
}

// Replaying a recorded history runs the workflow code again, panics
// included; those were reported when they happened live and must not be
// again on every worker that replays them. The recorded monitor history is
// replayed by a workflow of the same type that panics.
func TestWorkflowPanicIsNotReportedWhileReplaying(t *testing.T) {
	e := newEnvelopeServer(t)
	r := newReporter(t, e)
	rep, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{Interceptors: []interceptor.WorkerInterceptor{r.Interceptor()}})
	if err != nil {
		t.Fatal(err)
	}
	rep.RegisterWorkflowWithOptions(func(ctx workflow.Context, in map[string]any) error {
		panic("replayed bug")
	}, workflow.RegisterOptions{Name: "MonitorWorkflow"})
	err = rep.ReplayWorkflowHistoryFromJSONFile(nil, "../../workflows/testdata/replay/monitor-breach.json")
	if err == nil || !strings.Contains(err.Error(), "replayed bug") {
		t.Fatalf("replay error %v, want the panic", err)
	}
	r.Flush(2 * time.Second)
	if evs, raw := e.got(); len(evs) != 0 {
		t.Errorf("reported while replaying:\n%s", raw)
	}
}

func TestErrorLogRecordsAreReportedWithTheirTags(t *testing.T) {
	e := newEnvelopeServer(t)
	r := newReporter(t, e)
	var out bytes.Buffer
	log := slog.New(r.Handler(slog.NewJSONHandler(&out, nil))).With("model", "churn")
	log.Info("evaluated", "rows", 1200)
	log.Error("notify slack failed", "workflow_id", "incident:churn:accuracy", "err", errors.New("401 for "+secret), "payload", "ann@example.com")
	log.With("component", "temporal-sdk").Error("Activity error.", "err", errors.New("x"))
	r.Flush(5 * time.Second)
	evs, raw := e.got()
	if len(evs) != 1 {
		t.Fatalf("%d events, want only the application's error record:\n%s", len(evs), raw)
	}
	if tg := tags(evs[0]); tg["model"] != "churn" || tg["workflow_id"] != "incident:churn:accuracy" || tg["source"] != "log" ||
		evs[0]["message"] != "notify slack failed" {
		t.Errorf("event = %v", evs[0])
	}
	if strings.Contains(raw, secret) || strings.Contains(raw, "ann@example.com") || !strings.Contains(raw, "401 for [redacted]") {
		t.Errorf("envelope:\n%s", raw)
	}
	if !strings.Contains(out.String(), `"msg":"evaluated"`) || strings.Count(out.String(), "\n") != 3 {
		t.Errorf("the wrapped handler did not get every record:\n%s", out.String())
	}
}

func TestInvalidDSNDoesNotEchoIt(t *testing.T) {
	_, err := New("not-a-dsn-"+secret, Options{})
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("got %v", err)
	}
}
