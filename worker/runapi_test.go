package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The run API on a real worker: an orchestrator starts an evaluation and
// follows it to completed; a retrain the config cannot run (no retrain
// section) is followed to failed, never to completed; without the token
// nothing starts.
func TestRunAPIStartsAndFollowsWorkflows(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	dir := t.TempDir()
	t.Setenv("VIGIL_TEST_API_TOKEN", "api-secret")
	yaml := `
dev: {data_dir: "{{dir}}/state"}
worker: {api_token_env: VIGIL_TEST_API_TOKEN}
models:
  - {name: a, schedule: {every: 1h, paused: true}, source: {uri: "file://{{dir}}/a"}, reference: {uri: "file://{{dir}}/a.csv"}}
`
	if err := os.WriteFile(filepath.Join(dir, "a.csv"), []byte("x\n1\n2\n3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w := startWorker(t, options{configPath: writeConfig(t, dir, yaml)})
	base := "http://" + w.HTTPAddr

	call := func(method, path, token string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(""))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	follow := func(statusURL string) string {
		t.Helper()
		var status string
		waitFor(t, 60*time.Second, statusURL, func() (bool, error) {
			code, run := call("GET", statusURL, "api-secret")
			if code != http.StatusOK {
				return false, fmt.Errorf("GET %s: %d %v", statusURL, code, run)
			}
			status, _ = run["status"].(string)
			return status != "running", nil
		})
		return status
	}

	if code, _ := call("POST", "/v1/models/a/evaluations", ""); code != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", code)
	}
	code, run := call("POST", "/v1/models/a/evaluations", "api-secret")
	if code != http.StatusAccepted || run["workflow_id"] != "vigil-monitor-a-manual" || run["run_id"] == "" {
		t.Fatalf("start evaluation: %d %v", code, run)
	}
	if status := follow(run["status_url"].(string)); status != "completed" {
		t.Errorf("evaluation ended %s, want completed", status)
	}

	code, run = call("POST", "/v1/models/a/retrains", "api-secret")
	if code != http.StatusAccepted || run["workflow_id"] != "retrain-a" || run["started"] != true {
		t.Fatalf("start retrain: %d %v", code, run)
	}
	if status := follow(run["status_url"].(string)); status != "failed" {
		t.Errorf("a retrain without a retrain section ended %s, want failed", status)
	}
	if code, body := call("GET", "/v1/models/a/retrains/no-such-run", "api-secret"); code != http.StatusNotFound {
		t.Errorf("unknown run: %d %v", code, body)
	}
}
