package console_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/vigilml/vigil/notify"
	"github.com/vigilml/vigil/notify/console"
)

func TestLogsOneLinePerEvent(t *testing.T) {
	var buf bytes.Buffer
	n := console.New(slog.New(slog.NewTextHandler(&buf, nil)))
	ev := notify.Event{Kind: notify.KindTrigger, IncidentID: "churn/drift/1", Model: "churn", Rule: "drift", Severity: "critical",
		Metric: "dataset_drift.share", Value: 0.6, Threshold: "> 0.5", TopDrifted: []string{"a", "b"}}
	ref, err := n.Notify(context.Background(), ev)
	if err != nil || ref != "churn/drift/1" {
		t.Fatalf("ref=%q err=%v", ref, err)
	}
	line := buf.String()
	for _, want := range []string{"level=ERROR", `msg="vigil alert: [critical] churn: drift"`, "integration=console", "kind=trigger", "value=0.6", "top_drifted=a,b"} {
		if !strings.Contains(line, want) {
			t.Errorf("log line lacks %q: %s", want, line)
		}
	}
	if strings.Count(line, "\n") != 1 {
		t.Errorf("want one line, got %q", line)
	}
}
