package mlflow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client calls one MLflow tracking server.
type Client struct {
	BaseURL string // e.g. https://mlflow.example.com (no /api suffix)
	// Token is sent as a bearer token (Databricks, most proxies); User and
	// Password as HTTP basic auth (mlflow server --app-name basic-auth).
	Token, User, Password string
	HTTP                  *http.Client
	// Attempts bounds the tries of a retryable failure; default 3, with
	// 0.5s, 1s, … between them.
	Attempts int
	Backoff  time.Duration
}

// APIError is a non-2xx answer: MLflow's {"error_code", "message"}.
type APIError struct {
	Method, Path string
	Status       int
	Code         string // e.g. RESOURCE_ALREADY_EXISTS, RESOURCE_DOES_NOT_EXIST
	Message      string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("mlflow %s %s: %d %s: %s", e.Method, e.Path, e.Status, e.Code, e.Message)
}

// Retryable reports whether trying again may help: server errors, 429 and
// 408. Other 4xx (a bad token, a malformed request) will not fix themselves.
func (e *APIError) Retryable() bool {
	return e.Status >= 500 || e.Status == 429 || e.Status == 408
}

// IsPermanent reports whether err is an MLflow answer retrying cannot fix.
func IsPermanent(err error) bool {
	var e *APIError
	return errors.As(err, &e) && !e.Retryable()
}

func hasCode(err error, code string) bool {
	var e *APIError
	return errors.As(err, &e) && e.Code == code
}

// call sends one request (body as JSON for POST, query for GET) and decodes
// the answer into out, retrying transient failures.
func (c *Client) call(ctx context.Context, method, path string, query url.Values, body, out any) error {
	attempts := c.Attempts
	if attempts <= 0 {
		attempts = 3
	}
	backoff := c.Backoff
	if backoff <= 0 {
		backoff = 500 * time.Millisecond
	}
	var err error
	for i := range attempts {
		if i > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
			case <-time.After(backoff << (i - 1)):
			}
		}
		if err = c.once(ctx, method, path, query, body, out); err == nil {
			return nil
		}
		var api *APIError
		if errors.As(err, &api) && !api.Retryable() {
			return err
		}
	}
	return err
}

func (c *Client) once(ctx context.Context, method, path string, query url.Values, body, out any) error {
	u := strings.TrimRight(c.BaseURL, "/") + "/api/2.0/mlflow/" + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	switch {
	case c.Token != "":
		req.Header.Set("Authorization", "Bearer "+c.Token)
	case c.User != "":
		req.SetBasicAuth(c.User, c.Password)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("mlflow %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("mlflow %s %s: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &APIError{Method: method, Path: path, Status: resp.StatusCode}
		var body struct {
			Code    string `json:"error_code"`
			Message string `json:"message"`
		}
		if json.Unmarshal(b, &body) == nil && body.Code != "" {
			e.Code, e.Message = body.Code, body.Message
		} else {
			e.Message = truncate(strings.TrimSpace(string(b)), 300)
		}
		return e
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("mlflow %s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// KV is MLflow's {key, value} (params, tags).
type KV struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Metric is one metric value of log-batch.
type Metric struct {
	Key       string  `json:"key"`
	Value     float64 `json:"value"`
	Timestamp int64   `json:"timestamp"` // milliseconds since the epoch
	Step      int64   `json:"step"`
}

// ExperimentID returns the id of the experiment named name, creating it
// when it does not exist (a concurrent creation is read back).
func (c *Client) ExperimentID(ctx context.Context, name string) (string, error) {
	var got struct {
		Experiment struct {
			ID string `json:"experiment_id"`
		} `json:"experiment"`
	}
	err := c.call(ctx, http.MethodGet, "experiments/get-by-name", url.Values{"experiment_name": {name}}, nil, &got)
	if err == nil {
		return got.Experiment.ID, nil
	}
	if !hasCode(err, "RESOURCE_DOES_NOT_EXIST") {
		return "", err
	}
	var created struct {
		ID string `json:"experiment_id"`
	}
	err = c.call(ctx, http.MethodPost, "experiments/create", nil, map[string]any{"name": name}, &created)
	if hasCode(err, "RESOURCE_ALREADY_EXISTS") {
		return c.ExperimentID(ctx, name)
	}
	return created.ID, err
}

// FindRun returns the id of the run of experiment whose tag key is value, or "".
func (c *Client) FindRun(ctx context.Context, experiment, key, value string) (string, error) {
	var got struct {
		Runs []struct {
			Info struct {
				RunID string `json:"run_id"`
			} `json:"info"`
		} `json:"runs"`
	}
	filter := fmt.Sprintf("tags.`%s` = '%s'", key, strings.ReplaceAll(value, "'", "\\'"))
	err := c.call(ctx, http.MethodPost, "runs/search", nil,
		map[string]any{"experiment_ids": []string{experiment}, "filter": filter, "max_results": 1}, &got)
	if err != nil || len(got.Runs) == 0 {
		return "", err
	}
	return got.Runs[0].Info.RunID, nil
}

// CreateRun creates a run and returns its id.
func (c *Client) CreateRun(ctx context.Context, experiment, name string, start time.Time, tags []KV) (string, error) {
	var got struct {
		Run struct {
			Info struct {
				RunID string `json:"run_id"`
			} `json:"info"`
		} `json:"run"`
	}
	err := c.call(ctx, http.MethodPost, "runs/create", nil, map[string]any{
		"experiment_id": experiment, "run_name": name, "start_time": start.UnixMilli(), "tags": tags}, &got)
	if err == nil && got.Run.Info.RunID == "" {
		err = fmt.Errorf("mlflow runs/create answered without a run_id")
	}
	return got.Run.Info.RunID, err
}

// MLflow's log-batch limits per request.
const (
	maxBatchMetrics = 1000
	maxBatchParams  = 100
	maxBatchTags    = 100
	maxParamValue   = 6000
)

// LogBatch logs metrics, params and tags, in as many requests as MLflow's
// per-request limits need. Param values are cut to MLflow's 6000 characters.
func (c *Client) LogBatch(ctx context.Context, run string, metrics []Metric, params, tags []KV) error {
	for i := range params {
		params[i].Value = truncate(params[i].Value, maxParamValue-len("…"))
	}
	for len(metrics) > 0 || len(params) > 0 || len(tags) > 0 {
		m, p, t := min(len(metrics), maxBatchMetrics), min(len(params), maxBatchParams), min(len(tags), maxBatchTags)
		body := map[string]any{"run_id": run, "metrics": metrics[:m], "params": params[:p], "tags": tags[:t]}
		if err := c.call(ctx, http.MethodPost, "runs/log-batch", nil, body, nil); err != nil {
			return err
		}
		metrics, params, tags = metrics[m:], params[p:], tags[t:]
	}
	return nil
}

// SetTag sets one tag of a run.
func (c *Client) SetTag(ctx context.Context, run, key, value string) error {
	return c.call(ctx, http.MethodPost, "runs/set-tag", nil, map[string]any{"run_id": run, "key": key, "value": value}, nil)
}

// FinishRun marks a run FINISHED at end.
func (c *Client) FinishRun(ctx context.Context, run string, end time.Time) error {
	return c.call(ctx, http.MethodPost, "runs/update", nil, map[string]any{"run_id": run, "status": "FINISHED", "end_time": end.UnixMilli()}, nil)
}

// EnsureRegisteredModel creates the registered model unless it exists.
func (c *Client) EnsureRegisteredModel(ctx context.Context, name string) error {
	err := c.call(ctx, http.MethodPost, "registered-models/create", nil, map[string]any{"name": name}, nil)
	if hasCode(err, "RESOURCE_ALREADY_EXISTS") {
		return nil
	}
	return err
}

// ModelVersion returns the version of registered model name created from
// run, creating it (from source) when there is none, so that a retried
// mirror does not register the run twice.
func (c *Client) ModelVersion(ctx context.Context, name, run, source, runLink string, tags []KV) (string, error) {
	var found struct {
		ModelVersions []struct {
			Version string `json:"version"`
		} `json:"model_versions"`
	}
	filter := fmt.Sprintf("name='%s' and run_id='%s'", strings.ReplaceAll(name, "'", "\\'"), run)
	if err := c.call(ctx, http.MethodGet, "model-versions/search", url.Values{"filter": {filter}, "max_results": {"10"}}, nil, &found); err != nil {
		return "", err
	}
	if len(found.ModelVersions) > 0 {
		return found.ModelVersions[0].Version, nil
	}
	var created struct {
		ModelVersion struct {
			Version string `json:"version"`
		} `json:"model_version"`
	}
	err := c.call(ctx, http.MethodPost, "model-versions/create", nil, map[string]any{
		"name": name, "source": source, "run_id": run, "run_link": runLink, "tags": tags}, &created)
	if err == nil && created.ModelVersion.Version == "" {
		err = fmt.Errorf("mlflow model-versions/create answered without a version")
	}
	return created.ModelVersion.Version, err
}

// SetAlias points alias of registered model name at version.
func (c *Client) SetAlias(ctx context.Context, name, alias, version string) error {
	return c.call(ctx, http.MethodPost, "registered-models/alias", nil, map[string]any{"name": name, "alias": alias, "version": version}, nil)
}

// RunData is what a run already holds (runs/get), so that a retried mirror
// logs only what is missing.
type RunData struct {
	Metrics map[string]bool
	Params  map[string]string
	Tags    map[string]string
}

// GetRun reads a run's logged metric keys, params and tags.
func (c *Client) GetRun(ctx context.Context, run string) (*RunData, error) {
	var got struct {
		Run struct {
			Data struct {
				Metrics []struct {
					Key string `json:"key"`
				} `json:"metrics"`
				Params []KV `json:"params"`
				Tags   []KV `json:"tags"`
			} `json:"data"`
		} `json:"run"`
	}
	if err := c.call(ctx, http.MethodGet, "runs/get", url.Values{"run_id": {run}}, nil, &got); err != nil {
		return nil, err
	}
	d := &RunData{Metrics: map[string]bool{}, Params: map[string]string{}, Tags: map[string]string{}}
	for _, m := range got.Run.Data.Metrics {
		d.Metrics[m.Key] = true
	}
	for _, p := range got.Run.Data.Params {
		d.Params[p.Key] = p.Value
	}
	for _, t := range got.Run.Data.Tags {
		d.Tags[t.Key] = t.Value
	}
	return d, nil
}
