package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigilml/vigil/config"
)

// Locally, ShardRuns dates each run by its newest document (a document
// aged on disk ages its run), and DeleteShards leaves no directory behind.
func TestShardRunsLocal(t *testing.T) {
	dir := t.TempDir()
	s := New(config.Storage{Reports: "file://" + dir})
	testShardRuns(t, s)
	ctx := context.Background()
	if _, err := s.WriteShard(ctx, "churn", "run-old", "plan.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(dir, "_shards", "churn", "run-old", "plan.json"), old, old); err != nil {
		t.Fatal(err)
	}
	runs, err := s.ShardRuns(ctx, "churn")
	if err != nil || len(runs) != 2 || runs[0].Run != "run-b" || runs[1].Run != "run-old" || !runs[1].Newest.Equal(old) {
		t.Errorf("ShardRuns = %+v, %v; want run-b, and run-old dated %v", runs, err, old)
	}
	if err := s.DeleteShards(ctx, "churn", "run-old"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "_shards", "churn", "run-old")); !os.IsNotExist(err) {
		t.Errorf("the run's directory after DeleteShards: %v, want it gone", err)
	}
}

// testShardRuns is the ShardRuns contract, for every backend: the runs of
// one model with shard documents, each dated by its newest document (S3
// dates to the second), and neither reports nor other models' runs.
func testShardRuns(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	if runs, err := s.ShardRuns(ctx, "churn"); err != nil || len(runs) != 0 {
		t.Fatalf("ShardRuns before any document = %+v, %v; want none", runs, err)
	}
	before := time.Now().Add(-time.Second)
	for _, doc := range []struct{ model, run, name string }{
		{"churn", "run-a", "plan.json"}, {"churn", "run-a", "shard-00000.json"},
		{"churn", "run-b", "plan.json"}, {"fraud", "run-c", "plan.json"},
	} {
		if _, err := s.WriteShard(ctx, doc.model, doc.run, doc.name, []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.WriteReport(ctx, "churn", t0, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	after := time.Now().Add(time.Second)
	runs, err := s.ShardRuns(ctx, "churn")
	if err != nil || len(runs) != 2 || runs[0].Run != "run-a" || runs[1].Run != "run-b" {
		t.Fatalf("ShardRuns = %+v, %v; want run-a and run-b", runs, err)
	}
	for _, r := range runs {
		if r.Newest.Before(before) || r.Newest.After(after) {
			t.Errorf("run %s dated %v, want between %v and %v", r.Run, r.Newest, before, after)
		}
	}
	if err := s.DeleteShards(ctx, "churn", "run-a"); err != nil {
		t.Fatal(err)
	}
	if runs, err := s.ShardRuns(ctx, "churn"); err != nil || len(runs) != 1 || runs[0].Run != "run-b" {
		t.Errorf("ShardRuns after deleting run-a = %+v, %v; want run-b", runs, err)
	}
	if _, err := s.ShardRuns(ctx, "../etc"); !IsPermanent(err) {
		t.Errorf("a traversing model name: %v", err)
	}
}
