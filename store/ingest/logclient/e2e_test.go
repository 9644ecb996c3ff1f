package logclient_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/store"
	"github.com/vigilml/vigil/store/ingest"
	"github.com/vigilml/vigil/store/ingest/logclient"
)

// TestThroughIngest logs predictions and labels through the real ingest
// handler into a local store and reads the window back.
func TestThroughIngest(t *testing.T) {
	dir := t.TempDir()
	m := config.Model{
		Name:        "churn",
		Columns:     config.Columns{Target: "label", Prediction: "prediction", Time: "time", EventID: "event_id"},
		Source:      config.Source{URI: "file://" + dir + "/pred", Format: "jsonl"},
		GroundTruth: config.Source{URI: "file://" + dir + "/gt", Format: "jsonl"},
	}
	now := time.Now().UTC()
	st := store.New(config.Storage{})
	srv := httptest.NewServer(ingest.New([]config.Model{m}, st, ingest.Options{Token: "t"}))
	defer srv.Close()

	c := logclient.New(srv.URL, "churn", logclient.Options{Token: "t", BatchSize: 40})
	ctx := context.Background()
	for i := 0; i < 100; i++ {
		score := float64(i) / 100
		p := logclient.Prediction{EventID: fmt.Sprint(i), Time: now, ModelVersion: "3", Features: map[string]any{"x": i}, Prediction: i % 2, Score: &score}
		if i%2 == 0 {
			p.Shadow = map[string]logclient.ShadowPrediction{"4": {Prediction: 1 - i%2, Score: &score}}
		}
		if err := c.Log(ctx, p); err != nil {
			t.Fatal(err)
		}
		if i%4 == 0 {
			c.LogGroundTruth(ctx, logclient.GroundTruth{EventID: fmt.Sprint(i), Label: i % 2})
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	rows, info, err := st.OpenWindow(ctx, &m, now.Add(-time.Minute), now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	cols := rows.Columns()
	var shadowed, versioned int
	for rows.Next() {
		for i, c := range rows.Row() {
			switch {
			case cols[i] == "model_version" && c == "3":
				versioned++
			case cols[i] == "shadow.4.prediction" && c != "":
				shadowed++
			}
		}
	}
	if versioned != 100 || shadowed != 50 {
		t.Errorf("%d rows with model_version 3 and %d with a shadow prediction of version 4, want 100 and 50 (columns %v)", versioned, shadowed, cols)
	}
	if info.Rows != 100 || info.Labeled != 25 || rows.Err() != nil {
		t.Errorf("info %+v err %v, want 100 rows, 25 labeled", info, rows.Err())
	}
}
