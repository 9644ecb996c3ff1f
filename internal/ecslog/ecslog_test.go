package ecslog

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// The ECS logging specification requires @timestamp, log.level, message
// and ecs.version on every line, in that order first.
func TestRecordsAreECS(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})).With("model", "churn")
	log.Warn("window incomplete", "workflow_id", "vigil-monitor-churn", "err", errors.New("read s3://b/k: timeout"),
		slog.Group("window", "start", "2026-12-01T10:00:00Z"))
	line := buf.String()
	for i, key := range []string{`{"@timestamp":`, `"log.level":"warn"`, `"message":"window incomplete"`, `"ecs.version":"8.11.0"`} {
		if idx := strings.Index(line, key); idx < 0 || (i > 0 && idx < strings.Index(line, []string{`"@timestamp"`, `"log.level"`, `"message"`}[i-1])) {
			t.Errorf("%s missing or out of order:\n%s", key, line)
		}
	}
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	ts, err := time.Parse(time.RFC3339Nano, rec["@timestamp"].(string))
	if err != nil || ts.Location() != time.UTC {
		t.Errorf("@timestamp %v: %v", rec["@timestamp"], err)
	}
	if rec["error.message"] != "read s3://b/k: timeout" || rec["model"] != "churn" || rec["workflow_id"] != "vigil-monitor-churn" ||
		rec["window"].(map[string]any)["start"] != "2026-12-01T10:00:00Z" {
		t.Errorf("record %v", rec)
	}
	for _, k := range []string{"time", "level", "msg", "err"} {
		if _, ok := rec[k]; ok {
			t.Errorf("slog key %q left in an ECS record", k)
		}
	}
}
