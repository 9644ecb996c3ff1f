package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/vigilml/vigil/control"
)

// temporalCLI finds the temporal CLI; CI installs it, so there the test
// fails rather than skips when it is missing.
func temporalCLI(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("temporal"); err == nil {
		return p
	}
	if gopath, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "temporal")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("the temporal CLI is not installed (.ci/run installs github.com/temporalio/cli/cmd/temporal@v1.5.1)")
	}
	t.Skip("temporal CLI not installed: go install github.com/temporalio/cli/cmd/temporal@v1.5.1")
	return ""
}

// The README's "Operating with the temporal CLI" section, parsed out of
// README.md and run verbatim (only the address is added) against a real
// server, in the README's order.
func TestReadmeTemporalCLICommands(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	cli := temporalCLI(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ref.csv"), []byte("x,label,prediction\n1,1,1\n2,0,0\n3,1,0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfgPath := writeConfig(t, dir, `
dev: {data_dir: "{{dir}}/state"}
models:
  - name: churn
    task: binary
    schedule: {every: 1h}
    columns: {target: label, prediction: prediction}
    source: {uri: "file://{{dir}}/data"}
    reference: {uri: "file://{{dir}}/ref.csv"}
    rules:
      # No traffic at all is an incident: it opens on the first evaluation.
      - {name: no-traffic, metric: rows.current, below: 1, severity: critical, escalate_after: 1h}
    retrain: {trainer: command, command: ["false"]}
`)
	w := startWorker(t, options{configPath: cfgPath})
	addr := w.Config.Temporal.Address
	ctx := context.Background()
	wc := &control.Client{C: w.Client, TaskQueue: "vigil"}
	closed := func(id string) func(t *testing.T, out string) {
		return func(t *testing.T, out string) {
			wants(id)(t, out)
			waitFor(t, 60*time.Second, id+" to close", func() (bool, error) {
				d, err := w.Client.DescribeWorkflowExecution(ctx, id, "")
				return err == nil && d.WorkflowExecutionInfo.Status != enums.WORKFLOW_EXECUTION_STATUS_RUNNING, err
			})
		}
	}
	checks := []readmeCheck{
		{key: "temporal schedule list", until: containsAll("vigil-monitor-churn")},
		{key: "temporal schedule trigger", check: func(t *testing.T, _ string) {
			waitFor(t, 60*time.Second, "the triggered evaluation to open an incident", func() (bool, error) {
				st, err := wc.Incidents(ctx, "churn")
				return err == nil && st != nil && st.Rules["no-traffic"] != nil && st.Rules["no-traffic"].Open != nil, err
			})
			// The evaluation reached Prometheus: the worker's /metrics has its status.
			waitFor(t, 20*time.Second, "the evaluation's metrics", func() (bool, error) {
				resp, err := http.Get("http://" + w.HTTPAddr + "/metrics")
				if err != nil {
					return false, err
				}
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				return strings.Contains(string(body), `vigil_evaluation_status{model="churn",status="breach"} 1`) &&
					strings.Contains(string(body), `vigil_window_rows{kind="current",model="churn"} 0`) &&
					strings.Contains(string(body), `vigil_incidents_open{model="churn",rule="no-traffic",severity="critical"} 1`), err
			})
		}},
		{key: "temporal workflow start", check: closed("retrain-churn")},
		{key: "temporal workflow update execute", check: func(t *testing.T, out string) {
			wants("churn/no-traffic")(t, out)
			st, err := wc.Incidents(ctx, "churn")
			if err != nil || st.Rules["no-traffic"].Open.AckedBy != "oncall" {
				t.Errorf("incident not acknowledged by the CLI update: %+v %v", st, err)
			}
		}},
		{key: "temporal workflow query", check: wants(`"no-traffic"`, `oncall`)},
		{key: "temporal workflow list", until: containsAll("vigil-monitor-churn")},
		{key: "temporal workflow show", check: func(t *testing.T, out string) {
			if !strings.Contains(strings.ToLower(strings.ReplaceAll(out, "_", "")), "updateaccepted") {
				t.Errorf("history does not show the ack update:\n%s", out)
			}
		}},
		{key: "temporal schedule backfill", check: func(t *testing.T, _ string) {
			waitFor(t, 60*time.Second, "an evaluation of a backfilled window", func() (bool, error) {
				n, err := countWorkflows(ctx, w.Worker, `WorkflowType = "MonitorWorkflow" AND TemporalScheduledStartTime >= "2026-11-01T00:00:00Z" AND TemporalScheduledStartTime <= "2026-11-02T00:00:00Z"`)
				return n >= 1, err
			})
		}},
		{key: "temporal workflow describe", check: wants("retrain-churn", "RetrainWorkflow")},
		{key: "temporal workflow start", check: closed("rollback-churn")},
	}
	commands := readmeCommands(t, readmeSection(t, "Operating with the temporal CLI"), "temporal ")
	runReadme(t, commands, checks, func(words []string) (string, error) {
		out, err := exec.Command(cli, append(words[1:], "--address", addr)...).CombinedOutput()
		return string(out), err
	})

	// What a second start of a running retrain does (the README's "refused
	// while a retrain of churn runs"). This retrain stays running: no worker
	// polls its task queue.
	temporal := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(cli, append(args, "--address", addr)...).CombinedOutput()
		if err != nil {
			t.Fatalf("temporal %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	held := []string{"workflow", "start", "--task-queue", "vigil-held", "--type", "RetrainWorkflow",
		"--workflow-id", "retrain-held", "--input", `{"Model":"held","Reason":"manual"}`}
	firstRun := runID(t, temporal(append(held, "--output", "json")...))
	for _, tc := range []struct {
		name  string
		flags []string
	}{
		// The Go SDK under the CLI answers "already started" with the
		// running execution, whatever the conflict policy: exit 0, the
		// running run's ID, nothing new starts.
		{"default", nil},
		{"--id-conflict-policy Fail", []string{"--id-conflict-policy", "Fail"}},
	} {
		out, err := exec.Command(cli, append(append(held, tc.flags...), "--output", "json", "--address", addr)...).CombinedOutput()
		if err != nil || runID(t, string(out)) != firstRun {
			t.Errorf("second start, %s: %v, want exit 0 with the running execution %s\n%s", tc.name, err, firstRun, out)
		}
	}
	if runs := countRuns(t, w, "retrain-held"); runs != 1 {
		t.Errorf("%d runs of retrain-held after two more starts, want 1", runs)
	}

	// With VIGIL_RECORD_REPLAY set, keep these histories for the replay tests.
	if dst := os.Getenv("VIGIL_RECORD_REPLAY"); dst != "" {
		list, err := w.Client.ListWorkflow(ctx, listRequest(`WorkflowType = "MonitorWorkflow"`))
		if err != nil || len(list.Executions) == 0 {
			t.Fatalf("no monitor workflow to record: %v", err)
		}
		record(t, w, dst, "monitor-breach.json", list.Executions[0].Execution.WorkflowId)
		record(t, w, dst, "incident-ack.json", "vigil-incident-churn")
		record(t, w, dst, "retrain-train-fails.json", "retrain-churn")
	}
}

// runID reads the run ID from `temporal workflow start --output json`.
func runID(t *testing.T, out string) string {
	t.Helper()
	var v struct {
		RunID string `json:"runId"`
	}
	if i := strings.Index(out, "{"); i < 0 || json.Unmarshal([]byte(out[i:]), &v) != nil || v.RunID == "" {
		t.Errorf("no run ID in %q", out)
	}
	return v.RunID
}

// countRuns counts the runs of a workflow ID, closed or not.
func countRuns(t *testing.T, w *running, id string) int {
	t.Helper()
	var n int
	waitFor(t, 10*time.Second, "visibility to list "+id, func() (bool, error) {
		list, err := w.Client.ListWorkflow(context.Background(), listRequest(`WorkflowId = "`+id+`"`))
		if err != nil {
			return false, err
		}
		n = len(list.Executions)
		return n > 0, nil
	})
	return n
}

// record writes a workflow's history as `temporal workflow show --output
// json` does, for workflows/testdata/replay.
func record(t *testing.T, w *running, dir, name, workflowID string) {
	t.Helper()
	ctx := context.Background()
	iter := w.Client.GetWorkflowHistory(ctx, workflowID, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	h := &history.History{}
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		h.Events = append(h.Events, ev)
	}
	b, err := protojson.MarshalOptions{Indent: "  "}.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded %s (%d events)", name, len(h.Events))
}
