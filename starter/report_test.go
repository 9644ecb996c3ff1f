package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/store"
)

func TestCmdReport(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "vigil.yaml")
	os.WriteFile(cfgPath, []byte(`storage: {reports: "file://`+dir+`/reports"}
models:
  - name: churn
    source: {uri: "file://`+dir+`/pred"}
    reference: {uri: "file://`+dir+`/ref.csv"}
`), 0o644)
	st := store.New(config.Storage{Reports: "file://" + dir + "/reports"})
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for i, at := range []time.Time{t0, t0.Add(15 * time.Minute)} {
		if _, err := st.WriteReport(context.Background(), "churn", at, []byte(`{"rows":{"current":`+string(rune('1'+i))+`}}`)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		args    []string
		wantOut string
		wantErr string
	}{
		{"the latest at or before -at", []string{"-model", "churn", "-at", "2026-03-01T10:10:00Z"}, `"current": 1`, ""},
		{"a date means its end", []string{"-model", "churn", "-at", "2026-03-01"}, `"current": 2`, ""},
		{"list", []string{"-model", "churn", "-at", "2026-03-01T11:00:00Z", "-list"}, "2026-03-01T10:15:00Z", ""},
		{"nothing before the first", []string{"-model", "churn", "-at", "2026-02-01T00:00:00Z"}, "", "has the model been evaluated"},
		{"an unknown model", []string{"-model", "fraud"}, "", "not in"},
		{"no model", nil, "", "usage"},
		{"a bad time", []string{"-model", "churn", "-at", "noon"}, "", "usage"},
	}
	t.Run("html", func(t *testing.T) {
		page := filepath.Join(dir, "report.html")
		var out, errOut bytes.Buffer
		if err := cmdReport(context.Background(), []string{"-config", cfgPath, "-model", "churn", "-at", "2026-03-01", "-html", page}, &out, &errOut); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(page)
		if err != nil || !strings.Contains(string(b), "churn · window 2026-03-01 10:15 UTC") || out.Len() > 0 {
			t.Errorf("wrote %.300s (err %v), printed %q", b, err, out.String())
		}
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := cmdReport(context.Background(), append([]string{"-config", cfgPath}, tt.args...), &out, &errOut)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("out %q err %v (stderr %q), want %q", out.String(), err, errOut.String(), tt.wantOut)
			}
		})
	}
}
