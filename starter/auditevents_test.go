package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// With audit.kafka, a promotion the starter makes itself goes to the audit
// outbox (the worker publishes it) as an alias.moved event with the
// version's lineage; a promotion that moves nothing records nothing.
func TestPromoteRecordsAnAliasMove(t *testing.T) {
	cfg := registryConfig(t)
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("audit:\n  kafka: {brokers: [\"127.0.0.1:9092\"], topic: vigil.audit}\n")
	f.Close()
	for range 2 { // the second moves nothing
		if out, err := runModelsCmd(t, cmdPromote, "-config", cfg, "-model", "churn", "-version", "2", "-reason", "better on March data", "-actor", "bob"); err != nil {
			t.Fatalf("promote: %q %v", out, err)
		}
	}
	outbox, _ := filepath.Glob(filepath.Join(filepath.Dir(cfg), "registry", "audit", "outbox", "*.json"))
	if len(outbox) != 1 {
		t.Fatalf("%d events in the outbox, want 1: %v", len(outbox), outbox)
	}
	data, err := os.ReadFile(outbox[0])
	if err != nil {
		t.Fatal(err)
	}
	var entry struct {
		Event struct {
			Type string `json:"type"`
			Data struct {
				Alias, Actor, Reason string
				ModelVersion         string `json:"model_version"`
				PreviousVersion      string `json:"previous_version"`
				Data                 []struct{ SHA256 string }
			} `json:"data"`
		} `json:"event"`
	}
	if err := json.Unmarshal(data, &entry); err != nil {
		t.Fatal(err)
	}
	ev := entry.Event
	if ev.Type != "io.vigil.alias.moved" || ev.Data.Alias != "production" || ev.Data.ModelVersion != "v2" || ev.Data.PreviousVersion != "v1" ||
		ev.Data.Actor != "bob" || ev.Data.Reason != "better on March data" || len(ev.Data.Data) != 1 || ev.Data.Data[0].SHA256 != "sha256:ab" {
		t.Errorf("event: %s", data)
	}
}
