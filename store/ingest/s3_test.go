package ingest

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/store"
)

func TestIngestToS3(t *testing.T) {
	be := s3mem.New()
	be.CreateBucket("logs")
	s3srv := httptest.NewServer(gofakes3.New(be).Server())
	defer s3srv.Close()
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "AWS_CONFIG_FILE": "/nonexistent",
		"AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_EC2_METADATA_DISABLED": "true", "AWS_PROFILE": ""} {
		t.Setenv(k, v)
	}
	st := store.New(config.Storage{S3: config.S3{Endpoint: s3srv.URL, PathStyle: true, Region: "us-east-1"}},
		store.WithClock(func() time.Time { return now.Add(time.Hour) }))
	m := config.Model{
		Name:        "churn",
		Columns:     config.Columns{Target: "label", Time: "time", EventID: "event_id"},
		Source:      config.Source{URI: "s3://logs/churn", Format: "jsonl"},
		GroundTruth: config.Source{URI: "s3://logs/churn/ground-truth", Format: "jsonl"},
	}
	f := &fixture{srv: httptest.NewServer(New([]config.Model{m}, st, Options{Now: func() time.Time { return now }}))}
	defer f.srv.Close()
	if code, e := f.post(t, "/v1/models/churn/predictions", "", `{"event_id":"e1","prediction":1,"features":{"x":1}}`); code != 200 {
		t.Fatalf("%d %+v", code, e)
	}
	if code, e := f.post(t, "/v1/models/churn/ground-truth", "", `{"event_id":"e1","label":0}`); code != 200 {
		t.Fatalf("%d %+v", code, e)
	}
	rows, info, err := st.OpenWindow(context.Background(), &m, now.Add(-time.Minute), now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
	}
	if info.Rows != 1 || info.Labeled != 1 || rows.Err() != nil {
		t.Errorf("info %+v err %v, want the ingested row, labeled", info, rows.Err())
	}
}
