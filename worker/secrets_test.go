package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/vigilml/vigil/control"
	"github.com/vigilml/vigil/workflows"
)

// Known values for every secret the worker reads. They are long and unusual
// so that finding one anywhere is a leak, not a coincidence.
const (
	secretSlackToken    = "xoxb-SECRET-slack-7c1f0e9a4b2d"
	secretRoutingKey    = "R0UTING-SECRET-pd-53e8a1c64f07"
	secretSigningSecret = "SIGNING-SECRET-slack-a9d2e4f61b38"
)

var knownSecrets = []string{secretSlackToken, secretRoutingKey, secretSigningSecret}

// TestSecretsStayOutOfHistoriesAndLogs runs one incident end to end through
// the real worker — Slack first, PagerDuty when nobody acknowledges — with
// known secrets in the environment, and then requires that
//   - no event of any workflow's history contains a secret,
//   - no line the worker logged (at debug level) contains a secret,
//   - the secrets did reach the integrations (so the above is not vacuous),
//   - Slack got exactly one head message and PagerDuty exactly one trigger.
func TestSecretsStayOutOfHistoriesAndLogs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server")
	}
	slack := newFakeSlack(t, fakeOptions{Credential: secretSlackToken, Channel: "C0VIGIL"})
	pd := newFakePagerDuty(t, fakeOptions{Credential: secretRoutingKey})
	t.Setenv("SLACK_BOT_TOKEN", secretSlackToken)
	t.Setenv("PAGERDUTY_ROUTING_KEY", secretRoutingKey)
	t.Setenv("SLACK_SIGNING_SECRET", secretSigningSecret)

	dir := t.TempDir()
	if err := os.WriteFile(dir+"/ref.csv", []byte("x,label,prediction\n1,1,1\n2,0,0\n3,1,0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfgPath := writeConfig(t, dir, fmt.Sprintf(`
dev: {data_dir: "{{dir}}/state"}
notify:
  slack: {token_env: SLACK_BOT_TOKEN, signing_secret_env: SLACK_SIGNING_SECRET, channel: C0VIGIL, api_url: %q}
  pagerduty: {routing_key_env: PAGERDUTY_ROUTING_KEY, events_url: %q}
models:
  - name: churn
    task: binary
    schedule: {every: 1h}
    columns: {target: label, prediction: prediction}
    source: {uri: "file://{{dir}}/data"}
    reference: {uri: "file://{{dir}}/ref.csv"}
    rules:
      # No traffic at all breaches on the first evaluation; nobody acks, so it pages after 2s.
      - {name: no-traffic, metric: rows.current, below: 1, severity: critical, escalate_after: 2s}
`, slack.apiURL(), pd.srv.URL))

	logs := captureStderr(t)
	w := startWorker(t, options{configPath: cfgPath, logLevel: "debug"})
	ctx := context.Background()
	wc := &control.Client{C: w.Client, TaskQueue: w.Config.Temporal.TaskQueue}
	if _, err := wc.Trigger(ctx, "churn", time.Time{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 40*time.Second, "the unacknowledged incident to page PagerDuty", func() (bool, error) {
		return pd.triggers() >= 1, nil
	})
	time.Sleep(3 * time.Second) // room for a duplicate message or page to show up

	// The rest of the incident's life goes through history and logs too:
	// an ack edits the Slack head and acknowledges the page, and recovery
	// (traffic arrives) resolves both.
	if _, err := wc.Ack(ctx, "churn", "", "alice"); err != nil {
		t.Fatalf("ack: %v", err)
	}
	waitFor(t, 30*time.Second, "the ack to reach Slack and PagerDuty", func() (bool, error) {
		return slices.Contains(slack.methods(), "chat.update") && slices.Contains(pd.actions(), "acknowledge"), nil
	})
	sendTraffic(t, ctx, wc, dir, "churn")
	waitFor(t, 30*time.Second, "recovery to resolve the page", func() (bool, error) {
		return slices.Contains(pd.actions(), "resolve"), nil
	})
	waitFor(t, 10*time.Second, "recovery to reach Slack", func() (bool, error) {
		n := 0
		for _, m := range slack.methods() {
			if m == "chat.update" {
				n++
			}
		}
		return n >= 2, nil
	})
	if got := pd.actions(); !slices.Equal(got, []string{"trigger", "acknowledge", "resolve"}) {
		t.Errorf("PagerDuty events = %v, want trigger, acknowledge, resolve", got)
	}

	// Every workflow in the namespace, every event of its history. Listing
	// goes through visibility, which lags a moment behind.
	var list *workflowservice.ListWorkflowExecutionsResponse
	waitFor(t, 10*time.Second, "visibility to list the monitor and incident workflows", func() (bool, error) {
		var err error
		list, err = w.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{})
		ids := map[string]bool{}
		for _, ex := range list.GetExecutions() {
			ids[ex.Execution.WorkflowId] = true
		}
		return ids[workflows.MonitorWorkflowID("churn")] && ids[workflows.IncidentWorkflowID("churn")], err
	})
	var events, workflowsSeen int
	for _, ex := range list.Executions {
		workflowsSeen++
		id, run := ex.Execution.WorkflowId, ex.Execution.RunId
		iter := w.Client.GetWorkflowHistory(ctx, id, run, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for iter.HasNext() {
			ev, err := iter.Next()
			if err != nil {
				t.Fatalf("history of %s: %v", id, err)
			}
			events++
			b, err := protojson.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range knownSecrets {
				if bytes.Contains(b, []byte(s)) {
					t.Errorf("workflow %s event %d (%s) contains a secret: %s", id, ev.EventId, ev.EventType, b)
				}
			}
		}
	}
	if workflowsSeen < 2 || events == 0 {
		t.Errorf("checked %d events of %d workflows; want at least the monitor and the incident", events, workflowsSeen)
	}

	w.shutdown()
	out := logs()
	lines := strings.Split(out, "\n")
	if len(lines) < 10 || !strings.Contains(out, "level=DEBUG") {
		t.Errorf("captured only %d log lines (debug present: %v); the check below would prove nothing", len(lines), strings.Contains(out, "level=DEBUG"))
	}
	for i, l := range lines {
		for _, s := range knownSecrets {
			if strings.Contains(l, s) {
				t.Errorf("log line %d contains a secret: %s", i+1, l)
			}
		}
	}

	if got := slack.heads(""); got != 1 {
		t.Errorf("Slack got %d head messages, want exactly 1 (calls: %v)", got, slack.methods())
	}
	if got := pd.triggers(); got != 1 {
		t.Errorf("PagerDuty got %d trigger events, want exactly 1 (events: %v)", got, pd.actions())
	}
	if bad := slack.badTokens(); bad != 0 {
		t.Errorf("%d Slack calls without the configured token", bad)
	}
	if bad := pd.badKeys(); bad != 0 {
		t.Errorf("%d PagerDuty events without the configured routing key", bad)
	}
	if testing.Verbose() {
		t.Logf("worker log:\n%s", out)
	}
	t.Logf("checked %d history events of %d workflows and %d log lines", events, workflowsSeen, len(lines))
}

// captureStderr points os.Stderr at a pipe until the returned function is
// called; the worker's logger writes to the os.Stderr it finds at start.
func captureStderr(t *testing.T) (stop func() string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	orig := os.Stderr
	os.Stderr = w
	var buf bytes.Buffer
	copied := make(chan struct{})
	go func() { io.Copy(&buf, r); close(copied) }()
	var once sync.Once
	var out string
	stop = func() string {
		once.Do(func() {
			os.Stderr = orig
			w.Close()
			<-copied
			r.Close()
			out = buf.String()
		})
		return out
	}
	t.Cleanup(func() { stop() })
	return stop
}
