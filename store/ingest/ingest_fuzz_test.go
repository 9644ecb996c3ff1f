package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/vigilml/vigil/config"
)

// memWriter is a Writer in memory that can fail its nth PutObject.
type memWriter struct {
	mu      sync.Mutex
	objects map[string][]byte
	puts    int
	failAt  int // 1-based; 0 never fails
}

func (m *memWriter) PutObject(_ context.Context, root, key string, data []byte) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.puts++
	if m.puts == m.failAt {
		return "", errors.New("store unavailable")
	}
	m.objects[root+"/"+key] = append([]byte(nil), data...)
	return root + "/" + key, nil
}

func (m *memWriter) DeleteObject(_ context.Context, root, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objects, root+"/"+key)
	return nil
}

// FuzzIngest posts any body to either endpoint, with a store that may fail
// one of its writes, and checks the handler's promises: it does not panic;
// it answers a status from its documented list; a request is stored entirely
// or not at all (a 200 stores exactly the records it counts, every stored
// line a JSON object of this model; anything else leaves the store empty);
// a failure names a line that exists in the body.
//
//	go test -run='^$' -fuzz=FuzzIngest -fuzztime=60s ./store/ingest
func FuzzIngest(f *testing.F) {
	f.Add([]byte(`{"event_id":"e1","time":"2026-03-01T10:05:00Z","features":{"age":34},"prediction":1,"score":0.9}`), false, uint8(0))
	f.Add([]byte(`[{"event_id":"e1","label":1},{"event_id":"e2","target":0}]`), true, uint8(0))
	f.Add([]byte("{\"event_id\":\"e1\",\"time\":1772359800,\"prediction\":1}\n{\"event_id\":\"e2\",\"time\":1772363400,\"prediction\":0}\n"), false, uint8(2))
	f.Add([]byte(`{"event_id":"e1","model_version":3,"prediction":1,"shadow":{"4":{"prediction":0,"score":0.2}}}`), false, uint8(0))
	model := config.Model{
		Name:        "churn",
		Columns:     config.Columns{Target: "label", Prediction: "prediction", Time: "time", EventID: "event_id"},
		Source:      config.Source{URI: "mem://pred", Format: "jsonl"},
		GroundTruth: config.Source{URI: "mem://gt", Format: "jsonl"},
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.Fuzz(func(t *testing.T, body []byte, groundTruth bool, failAt uint8) {
		mw := &memWriter{objects: map[string][]byte{}, failAt: int(failAt % 4)}
		h := New([]config.Model{model}, mw, Options{MaxBody: 64 << 10, MaxLine: 4 << 10, RateLimit: -1, Now: func() time.Time { return now }, Logger: quiet})
		path := "/v1/models/churn/predictions"
		if groundTruth {
			path = "/v1/models/churn/ground-truth"
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body)))

		stored := 0
		for key, obj := range mw.objects {
			for _, line := range bytes.Split(bytes.TrimSuffix(obj, []byte{'\n'}), []byte{'\n'}) {
				var m map[string]any
				if err := json.Unmarshal(line, &m); err != nil || m["model"] != "churn" {
					t.Fatalf("%s holds %q, not a record of churn", key, line)
				}
				stored++
			}
		}
		switch rec.Code {
		case http.StatusOK:
			var resp Response
			if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
				t.Fatalf("200 with body %q: %v", rec.Body, err)
			}
			if resp.Accepted == 0 || resp.Accepted != stored || len(resp.Objects) != len(mw.objects) {
				t.Fatalf("200 accepted %d in %d objects, the store holds %d records in %d", resp.Accepted, len(resp.Objects), stored, len(mw.objects))
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusServiceUnavailable, http.StatusInternalServerError:
			if len(mw.objects) != 0 {
				t.Fatalf("%d left %d objects in the store", rec.Code, len(mw.objects))
			}
			var e ErrorResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" {
				t.Fatalf("%d with body %q", rec.Code, rec.Body)
			}
			if e.Line < 0 || e.Line > bytes.Count(body, []byte{'\n'})+1 {
				t.Fatalf("error names line %d of a %d-line body", e.Line, bytes.Count(body, []byte{'\n'})+1)
			}
		default:
			t.Fatalf("status %d is not one the handler documents for a POST body: %s", rec.Code, rec.Body)
		}
	})
}
