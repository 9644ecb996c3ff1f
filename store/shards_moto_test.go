package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/vigilml/vigil/config"
)

// On moto's S3: a window's listing can be read in parts of whole objects
// (the rows of every part together are the window's), and the shard
// documents of a run are written, replaced, read and deleted beside the
// reports without touching them.
func TestMotoShardedWindowAndDocuments(t *testing.T) {
	s, put := motoS3(t, "s3://reports/vigil", "data", "reports")
	for i := range 5 {
		put("data", fmt.Sprintf("pred/2026/03/01/10/part-%d.csv", i), []byte(fmt.Sprintf("x\n%d\n%d\n", i, 10+i)))
	}
	m := &config.Model{Name: "churn", Source: config.Source{URI: "s3://data/pred", Format: "csv"}}
	from := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	ctx := context.Background()
	objs, err := s.ListWindow(ctx, m, from, from.Add(time.Hour))
	if err != nil || len(objs) != 5 {
		t.Fatalf("listing: %v, %v", objs, err)
	}
	var got []string
	for _, part := range [][]WindowObject{objs[:2], objs[2:]} {
		rows, info, err := s.OpenWindowObjects(ctx, m, from, from.Add(time.Hour), part)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			got = append(got, rows.Row()[0])
		}
		if rows.Err() != nil || info.Objects != len(part) || info.Rows != int64(2*len(part)) {
			t.Errorf("part of %d objects: %d objects, %d rows read (err %v)", len(part), info.Objects, info.Rows, rows.Err())
		}
	}
	if fmt.Sprint(got) != "[0 10 1 11 2 12 3 13 4 14]" {
		t.Errorf("rows of the parts %v, want every row of the window in listing order", got)
	}

	report, err := s.WriteReport(ctx, "churn", from, []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{"first", "second"} { // a retried shard replaces its document
		if _, err := s.WriteShard(ctx, "churn", "run-1", "shard-00000.json", []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	s.WriteShard(ctx, "churn", "run-2", "plan.json", []byte("other run"))
	if b, err := s.ReadShard(ctx, "churn", "run-1", "shard-00000.json"); err != nil || string(b) != "second" {
		t.Fatalf("read %q, %v; want the last write", b, err)
	}
	if refs, err := s.ListReports(ctx, "churn", time.Time{}, time.Time{}); err != nil || len(refs) != 1 || refs[0].URI != report {
		t.Errorf("reports listed beside shard documents: %v, %v", refs, err)
	}
	if err := s.DeleteShards(ctx, "churn", "run-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadShard(ctx, "churn", "run-1", "shard-00000.json"); !errors.Is(err, ErrNotFound) {
		t.Errorf("after DeleteShards: %v, want ErrNotFound", err)
	}
	if b, err := s.ReadShard(ctx, "churn", "run-2", "plan.json"); err != nil || string(b) != "other run" {
		t.Errorf("another run's document: %q, %v", b, err)
	}
	if _, err := s.WriteShard(ctx, "churn", "../x", "plan.json", nil); err == nil {
		t.Error("a run ID with a path separator was accepted")
	}
}

// On moto's S3, ShardRuns finds the runs of a model by their documents'
// keys and dates them by LastModified.
func TestMotoShardRuns(t *testing.T) {
	s, _ := motoS3(t, "s3://moto-shard-runs/vigil", "moto-shard-runs")
	testShardRuns(t, s)
}
