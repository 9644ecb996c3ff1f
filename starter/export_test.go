package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilml/vigil/analysis"
	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/internal/export"
	"github.com/vigilml/vigil/store"
)

type fakeHistory struct{ since time.Time }

func (f *fakeHistory) Evaluations(_ context.Context, model string, since time.Time) ([]export.Evaluation, error) {
	f.since = since
	return []export.Evaluation{{Model: model, Version: "v3", Status: "ok", WindowEnd: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC),
		Report: &analysis.Report{Performance: map[string]float64{"accuracy": 0.9}}}}, nil
}

func (f *fakeHistory) OpenIncidents(context.Context, string) ([]export.Incident, error) {
	return nil, nil
}

func TestExportWritesTheLongTable(t *testing.T) {
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	st := store.New(config.Storage{})
	src := &fakeHistory{}
	var out bytes.Buffer
	o := exportOptions{model: "churn", format: "csv", since: 24 * time.Hour}
	if err := runExport(context.Background(), o, src, st, nil, &out, now); err != nil {
		t.Fatal(err)
	}
	if !src.since.Equal(now.Add(-24*time.Hour)) || !strings.Contains(out.String(), "churn,v3,2026-12-01T10:00:00Z,performance.accuracy,0.9,ok\n") {
		t.Errorf("since %v, csv:\n%s", src.since, out.String())
	}
	dir := t.TempDir()
	o.format, o.out = "parquet", filepath.Join(dir, "churn.parquet")
	out.Reset()
	if err := runExport(context.Background(), o, src, st, nil, &out, now); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(o.out); err != nil || !bytes.HasPrefix(b, []byte("PAR1")) || !strings.Contains(out.String(), "wrote 7 rows of 1 evaluations") {
		t.Errorf("parquet file: %v, %q", err, out.String())
	}
	for _, tc := range []struct {
		o    exportOptions
		want string
	}{
		{exportOptions{format: "csv"}, "-model is required"},
		{exportOptions{model: "m", format: "xlsx"}, "-format: want parquet, csv or elasticsearch"},
		{exportOptions{model: "m", format: "parquet"}, "-format parquet needs -out"},
		{exportOptions{model: "m", format: "elasticsearch"}, "needs -es-url"},
		{exportOptions{model: "m", format: "elasticsearch", esURL: "http://127.0.0.1:1", esKeyEnv: "ES_KEY"}, "environment variable ES_KEY is not set"},
	} {
		err := runExport(context.Background(), tc.o, src, st, func(string) string { return "" }, &out, now)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want %q", tc.o, err, tc.want)
		}
	}
}
