package runapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
)

// fakeStarter records what the handler asked for. The Temporal side is
// exercised against the embedded server in worker/runapi_test.go.
type fakeStarter struct {
	evaluated   []time.Time
	retrains    []string
	running     bool // a retrain runs: Retrain returns it, not started
	fail        bool
	describeErr error
}

func (f *fakeStarter) Evaluate(_ context.Context, model string, end time.Time) (Run, error) {
	if f.fail {
		return Run{}, errors.New("temporal: unavailable")
	}
	f.evaluated = append(f.evaluated, end)
	return Run{WorkflowID: f.EvaluationID(model), RunID: "r-eval", Status: "running"}, nil
}

func (f *fakeStarter) Retrain(_ context.Context, model, reason, actor string) (Run, error) {
	if f.fail {
		return Run{}, errors.New("temporal: unavailable")
	}
	f.retrains = append(f.retrains, reason+"|"+actor)
	started := !f.running
	return Run{WorkflowID: f.RetrainID(model), RunID: "r-retrain", Status: "running", Started: &started}, nil
}

func (f *fakeStarter) Describe(_ context.Context, workflowID, runID string) (Run, error) {
	if f.describeErr != nil {
		return Run{}, f.describeErr
	}
	if runID != "r-1" {
		return Run{}, ErrNotFound
	}
	return Run{WorkflowID: workflowID, RunID: runID, Status: "completed"}, nil
}

func (f *fakeStarter) EvaluationID(m string) string { return "vigil-monitor-" + m + "-manual" }
func (f *fakeStarter) RetrainID(m string) string    { return "retrain-" + m }

func TestAPI(t *testing.T) {
	cases := []struct {
		name, method, path, token, body string
		starter                         fakeStarter
		wantStatus                      int
		wantBody                        string // a substring of the answer
	}{
		{"evaluation now", "POST", "/v1/models/churn/evaluations", "tok", "", fakeStarter{}, 202,
			`"workflow_id":"vigil-monitor-churn-manual","run_id":"r-eval","status":"running","status_url":"/v1/models/churn/evaluations/r-eval"`},
		{"evaluation of a window", "POST", "/v1/models/churn/evaluations", "tok", `{"window_end": "2026-03-01T10:00:00+01:00"}`, fakeStarter{}, 202, `"run_id":"r-eval"`},
		{"retrain started", "POST", "/v1/models/churn/retrains", "tok", `{"reason": "weekly", "actor": "airflow"}`, fakeStarter{}, 202,
			`"workflow_id":"retrain-churn","run_id":"r-retrain","status":"running","started":true`},
		{"retrain already running", "POST", "/v1/models/churn/retrains", "tok", "", fakeStarter{running: true}, 200, `"started":false`},
		{"state of a run", "GET", "/v1/models/churn/retrains/r-1", "tok", "", fakeStarter{}, 200, `"workflow_id":"retrain-churn","run_id":"r-1","status":"completed"`},
		{"state of an evaluation", "GET", "/v1/models/churn/evaluations/r-1", "tok", "", fakeStarter{}, 200, `"workflow_id":"vigil-monitor-churn-manual"`},
		{"unknown run", "GET", "/v1/models/churn/retrains/r-9", "tok", "", fakeStarter{}, 404, `no retrain run \"r-9\" of model \"churn\"`},
		{"unknown model", "POST", "/v1/models/fraud/retrains", "tok", "", fakeStarter{}, 404, `unknown model \"fraud\"`},
		{"no token", "POST", "/v1/models/churn/retrains", "", "", fakeStarter{}, 401, "missing or wrong bearer token"},
		{"wrong token", "GET", "/v1/models/churn/retrains/r-1", "nope", "", fakeStarter{}, 401, "missing or wrong bearer token"},
		{"bad body", "POST", "/v1/models/churn/evaluations", "tok", `{"window": "yesterday"}`, fakeStarter{}, 400, "unknown field"},
		{"bad time", "POST", "/v1/models/churn/evaluations", "tok", `{"window_end": "yesterday"}`, fakeStarter{}, 400, "RFC 3339"},
		{"temporal down", "POST", "/v1/models/churn/retrains", "tok", "", fakeStarter{fail: true}, 502, "retry later"},
		{"describe fails", "GET", "/v1/models/churn/retrains/r-1", "tok", "", fakeStarter{describeErr: errors.New("deadline exceeded")}, 502, "retry later"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.starter
			h := New([]string{"churn"}, &s, Options{Token: "tok", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.wantStatus || !strings.Contains(rec.Body.String(), tc.wantBody) {
				t.Errorf("%s %s: %d %s\nwant %d with %s", tc.method, tc.path, rec.Code, rec.Body, tc.wantStatus, tc.wantBody)
			}
			if rec.Header().Get("Content-Type") != "application/json" {
				t.Errorf("content type %q", rec.Header().Get("Content-Type"))
			}
			if strings.Contains(rec.Body.String(), "unavailable") || strings.Contains(rec.Body.String(), "deadline") {
				t.Errorf("an internal error leaks to the caller: %s", rec.Body)
			}
		})
	}
}

// The handler passes the window end in UTC, and the retrain's reason and
// actor (defaults when absent).
func TestAPIArguments(t *testing.T) {
	s := &fakeStarter{}
	h := New([]string{"churn"}, s, Options{})
	for _, body := range []string{`{"window_end": "2026-03-01T10:00:00+01:00"}`, ""} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/v1/models/churn/evaluations", strings.NewReader(body)))
	}
	if len(s.evaluated) != 2 || !s.evaluated[0].Equal(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)) || s.evaluated[0].Location() != time.UTC || !s.evaluated[1].IsZero() {
		t.Errorf("window ends %v", s.evaluated)
	}
	for _, body := range []string{`{"reason": "drift seen in the warehouse", "actor": "airflow:dag=retrain_churn"}`, ""} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/v1/models/churn/retrains", strings.NewReader(body)))
	}
	if want := []string{"drift seen in the warehouse|airflow:dag=retrain_churn", "requested through the API|api"}; strings.Join(s.retrains, ",") != strings.Join(want, ",") {
		t.Errorf("retrains %v, want %v", s.retrains, want)
	}
}

// Every workflow status has a name of its own; none reads as completed
// but completed.
func TestStatusNames(t *testing.T) {
	seen := map[string]bool{}
	for v := range enumspb.WorkflowExecutionStatus_name {
		s := enumspb.WorkflowExecutionStatus(v)
		name := status(s)
		if s != enumspb.WORKFLOW_EXECUTION_STATUS_UNSPECIFIED && (name == "unknown" || seen[name]) {
			t.Errorf("%s is reported as %q", s, name)
		}
		seen[name] = true
		if (name == "completed") != (s == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED) {
			t.Errorf("%s is reported as %q", s, name)
		}
	}
}
