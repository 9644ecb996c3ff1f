package train

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Airflow trains by triggering a DAG run through Airflow's stable REST API
// with the job as the run's conf (the VIGIL_* keys of ciVariables) and
// polling the run until it succeeds or fails:
//
//	Airflow 3 (API "v2"): POST /auth/token {username, password} → {access_token},
//	  then Authorization: Bearer on /api/v2/…; a 401 fetches a new token once.
//	Airflow 2 (API "v1"): HTTP basic auth on /api/v1/….
//
//	POST  /api/vN/dags/{dag_id}/dagRuns                 {dag_run_id, conf[, logical_date: null]}
//	GET   /api/vN/dags/{dag_id}/dagRuns/{dag_run_id}    → {state: queued|running|success|failed}
//	PATCH /api/vN/dags/{dag_id}/dagRuns/{dag_run_id}    {state: failed}   (on cancellation)
//
// It is idempotent by run id: the dag_run_id is derived from the job's model
// and run id (JobName), so a retry first looks that run up and follows it; a
// trigger answered 409 (the run exists: a concurrent attempt) follows it too.
type Airflow struct {
	BaseURL  string // e.g. https://airflow.example.com
	API      string // "v2" (Airflow 3, default) or "v1" (Airflow 2)
	DAG      string
	User     string
	Password string
	// PollInterval is how often the run is polled; default 30s.
	PollInterval time.Duration
	HTTP         *http.Client

	mu    sync.Mutex
	token string // Airflow 3's JWT, fetched at first use
}

// Name implements Trainer.
func (a *Airflow) Name() string { return "airflow" }

type afRun struct {
	DAGRunID string `json:"dag_run_id"`
	State    string `json:"state"`
}

func (a *Airflow) version() string {
	if a.API == "v1" {
		return "v1"
	}
	return "v2"
}

func (a *Airflow) base() string { return strings.TrimRight(a.BaseURL, "/") }

func (a *Airflow) runsURL() string {
	return a.base() + "/api/" + a.version() + "/dags/" + url.PathEscape(a.DAG) + "/dagRuns"
}

// uiURL is the run's page in the Airflow UI, for links in results and logs.
func (a *Airflow) uiURL(runID string) string {
	if a.version() == "v1" {
		return a.base() + "/dags/" + url.PathEscape(a.DAG) + "/grid?dag_run_id=" + url.QueryEscape(runID)
	}
	return a.base() + "/dags/" + url.PathEscape(a.DAG) + "/runs/" + url.PathEscape(runID)
}

// login fetches a JWT from Airflow 3's /auth/token.
func (a *Airflow) login(ctx context.Context) (string, error) {
	body, _ := json.Marshal(map[string]string{"username": a.User, "password": a.Password})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base()+"/auth/token", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if _, err := do(a.HTTP, req, &tok); err != nil {
		return "", err // names POST …/auth/token; left unwrapped for permanentHTTP
	}
	if tok.AccessToken == "" {
		return "", &PermanentError{Backend: "airflow", JobID: a.DAG, Reason: "/auth/token answered without an access_token"}
	}
	return tok.AccessToken, nil
}

// call sends one API request, authenticated for the API version, and
// decodes the answer into out.
func (a *Airflow) call(ctx context.Context, method, u string, in, out any) error {
	for attempt := 0; ; attempt++ {
		var body *bytes.Reader
		if in != nil {
			b, err := json.Marshal(in)
			if err != nil {
				return err
			}
			body = bytes.NewReader(b)
		}
		var req *http.Request
		var err error
		if body != nil {
			req, err = http.NewRequestWithContext(ctx, method, u, body)
		} else {
			req, err = http.NewRequestWithContext(ctx, method, u, nil)
		}
		if err != nil {
			return err
		}
		if in != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Accept", "application/json")
		if a.version() == "v1" {
			req.SetBasicAuth(a.User, a.Password)
		} else {
			a.mu.Lock()
			tok := a.token
			a.mu.Unlock()
			if tok == "" {
				if tok, err = a.login(ctx); err != nil {
					return err
				}
				a.mu.Lock()
				a.token = tok
				a.mu.Unlock()
			}
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		_, err = do(a.HTTP, req, out)
		var he *httpError
		if a.version() == "v2" && attempt == 0 && errors.As(err, &he) && he.Status == http.StatusUnauthorized {
			// The token expired ([api_auth] jwt_expiration_time): log in again, once.
			a.mu.Lock()
			a.token = ""
			a.mu.Unlock()
			continue
		}
		return err
	}
}

func isStatus(err error, status int) bool {
	var he *httpError
	return errors.As(err, &he) && he.Status == status
}

// Train implements Trainer.
func (a *Airflow) Train(ctx context.Context, job Job, progress func(string)) (*Result, error) {
	if err := job.Validate(); err != nil {
		return nil, err
	}
	progress = progressOrNop(progress)
	runID := JobName(job.Model, job.RunID, 250)
	runURL := a.runsURL() + "/" + url.PathEscape(runID)
	ui := a.uiURL(runID)

	var run afRun
	err := a.call(ctx, http.MethodGet, runURL, nil, &run)
	switch {
	case err == nil:
		progress("re-attaching to DAG run " + ui)
	case isStatus(err, http.StatusNotFound):
		conf := map[string]any{}
		for k, v := range ciVariables(job) {
			conf[k] = v
		}
		body := map[string]any{"dag_run_id": runID, "conf": conf}
		if a.version() == "v2" {
			// Airflow 3 requires the field; null runs the DAG now, outside
			// its schedule's data intervals.
			body["logical_date"] = nil
		}
		err = a.call(ctx, http.MethodPost, a.runsURL(), body, &run)
		switch {
		case err == nil:
			progress("triggered DAG run " + ui)
		case isStatus(err, http.StatusConflict):
			if err := a.call(ctx, http.MethodGet, runURL, nil, &run); err != nil {
				return nil, fmt.Errorf("train: airflow: look up run %s: %w", runID, startCut(ctx, permanentHTTP("airflow", ui, err)))
			}
			progress("re-attaching to DAG run " + ui)
		default:
			return nil, fmt.Errorf("train: airflow: trigger DAG %s: %w", a.DAG, startCut(ctx, permanentHTTP("airflow", ui, err)))
		}
	default:
		return nil, fmt.Errorf("train: airflow: look up run %s: %w", runID, startCut(ctx, permanentHTTP("airflow", ui, err)))
	}

	last := run.State
	err = poller{interval: a.PollInterval, tolerate: ciTolerate}.run(ctx, func() (bool, error) {
		var cur afRun
		if err := a.call(ctx, http.MethodGet, runURL, nil, &cur); err != nil {
			return false, err
		}
		if cur.State != last {
			progress("DAG run " + runID + ": " + cur.State)
			last = cur.State
		}
		switch cur.State {
		case "success":
			return true, nil
		case "failed":
			return false, &PermanentError{Backend: "airflow", JobID: ui, Reason: "DAG run failed"}
		}
		return false, nil // queued, running
	}, func(stopCtx context.Context) error {
		// Failing the run stops its running tasks and skips the rest.
		return a.call(stopCtx, http.MethodPatch, runURL, map[string]string{"state": "failed"}, nil)
	})
	if err != nil {
		return nil, fmt.Errorf("train: airflow DAG run %s: %w", ui, err)
	}
	return ciResult("airflow", ui, ui, job)
}
