package train

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
)

// CI backends (GitLab, Jenkins) pass the job to the pipeline as variables
// with the command contract's names: VIGIL_MODEL, VIGIL_RUN_ID,
// VIGIL_TRAIN_DATA, VIGIL_VALIDATION_DATA, VIGIL_OUTPUT_DIR (Job.Output, a
// URI the pipeline writes model.* and metrics.json under) and
// VIGIL_HYPERPARAMETERS (JSON). When Output is local (file://, e.g. a shared
// volume) the result carries the artifact path and metrics; otherwise the
// artifact URI is the output prefix and the caller reads metrics.json.
func ciVariables(job Job) map[string]string {
	hp, _ := json.Marshal(orEmpty(job.Hyperparameters))
	return map[string]string{
		EnvModel:           job.Model,
		EnvRunID:           job.RunID,
		EnvTrainData:       job.TrainData,
		EnvValidationData:  job.ValidationData,
		EnvOutputDir:       job.Output,
		EnvHyperparameters: string(hp),
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ciResult builds the result of a successful pipeline.
func ciResult(backend, id, logs string, job Job) (*Result, error) {
	res := &Result{Trainer: backend, BackendJobID: id, LogsURI: logs, ArtifactURI: job.Output}
	if dir, err := LocalPath(job.Output); err == nil {
		art, err := findArtifact(dir)
		if err != nil {
			return nil, &PermanentError{Backend: backend, JobID: id, Reason: "the pipeline succeeded but " + err.Error()}
		}
		res.ArtifactURI = "file://" + art
		if res.Metrics, err = readMetrics(filepath.Join(dir, MetricsFile)); err != nil {
			return nil, &PermanentError{Backend: backend, JobID: id, Reason: err.Error()}
		}
	}
	return res, nil
}

// httpError is a non-2xx answer. 4xx other than 408/429 are permanent: a
// bad token or a missing project does not fix itself.
type httpError struct {
	Method, URL string
	Status      int
	Body        string
}

func (e *httpError) Error() string {
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.URL, e.Status, http.StatusText(e.Status), e.Body)
}

func (e *httpError) retryable() bool {
	return e.Status >= 500 || e.Status == 429 || e.Status == 408
}

// do sends req and decodes a JSON answer into out (if not nil). It returns
// the response for its headers.
func do(client *http.Client, req *http.Request, out any) (*http.Response, error) {
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// The URL is logged without its query: tokens never travel there, but be safe.
		u := *req.URL
		u.RawQuery = ""
		return resp, &httpError{Method: req.Method, URL: u.String(), Status: resp.StatusCode, Body: truncate(strings.TrimSpace(string(body)), 300)}
	}
	if out != nil && len(body) > 0 {
		if err := json.Unmarshal(body, out); err != nil {
			return resp, fmt.Errorf("%s %s: decode answer: %w", req.Method, req.URL.Path, err)
		}
	}
	return resp, nil
}

// permanentHTTP turns a non-retryable HTTP error into a PermanentError.
func permanentHTTP(backend, id string, err error) error {
	if he, ok := err.(*httpError); ok && !he.retryable() {
		return &PermanentError{Backend: backend, JobID: id, Reason: he.Error()}
	}
	return err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
