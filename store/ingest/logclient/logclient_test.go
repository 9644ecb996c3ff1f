package logclient

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is a stand-in ingest server that can fail the first requests.
type recorder struct {
	mu       sync.Mutex
	fail     []int // statuses to answer first, in order
	requests []string
	records  int
	auth     []string
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = append(r.requests, req.URL.Path)
	r.auth = append(r.auth, req.Header.Get("Authorization"))
	if len(r.fail) > 0 {
		status := r.fail[0]
		r.fail = r.fail[1:]
		http.Error(w, "nope", status)
		return
	}
	sc := bufio.NewScanner(req.Body)
	for sc.Scan() {
		r.records++
	}
	w.Write([]byte(`{"accepted":1}`))
}

func (r *recorder) counts() (requests, records int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.requests), r.records
}

func serve(t *testing.T, fail ...int) (*recorder, string) {
	rec := &recorder{fail: fail}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	return rec, srv.URL
}

func TestBatchingAndEndpoints(t *testing.T) {
	rec, url := serve(t)
	c := New(url, "churn", Options{BatchSize: 10, FlushInterval: time.Hour, Token: "tok"})
	ctx := context.Background()
	for i := 0; i < 25; i++ {
		if err := c.Log(ctx, Prediction{EventID: "e", Prediction: 1}); err != nil {
			t.Fatal(err)
		}
	}
	c.LogGroundTruth(ctx, GroundTruth{EventID: "e", Label: 1})
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	requests, records := rec.counts()
	if requests != 4 || records != 26 {
		t.Errorf("%d requests with %d records, want 4 (10+10+5 predictions, 1 label) with 26", requests, records)
	}
	if rec.requests[0] != "/v1/models/churn/predictions" || rec.requests[3] != "/v1/models/churn/ground-truth" || rec.auth[0] != "Bearer tok" {
		t.Errorf("requests %v auth %v", rec.requests, rec.auth)
	}
	c.Close()
	if err := c.Log(ctx, Prediction{EventID: "late"}); err != ErrClosed {
		t.Errorf("Log after Close = %v, want ErrClosed", err)
	}
}

func TestBatchBytes(t *testing.T) {
	rec, url := serve(t)
	c := New(url, "churn", Options{BatchBytes: 200, FlushInterval: time.Hour})
	defer c.Close()
	for i := 0; i < 10; i++ {
		c.Log(context.Background(), Prediction{EventID: strings.Repeat("x", 50), Prediction: 1})
	}
	c.Flush(context.Background())
	if requests, records := rec.counts(); requests < 4 || records != 10 {
		t.Errorf("%d requests, %d records: batches must stay under 200 bytes", requests, records)
	}
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name     string
		fail     []int
		requests int
		records  int
		wantErr  bool
	}{
		{"5xx and 429 are retried", []int{503, 429, 500}, 4, 1, false},
		{"other 4xx are not", []int{400}, 1, 0, true},
		{"attempts are bounded", []int{503, 503, 503, 503}, 3, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, url := serve(t, tt.fail...)
			var reported []error
			c := New(url, "churn", Options{MaxAttempts: 3 + boolInt(tt.name == "5xx and 429 are retried"), Backoff: time.Millisecond, FlushInterval: time.Hour,
				OnError: func(err error) { reported = append(reported, err) }})
			defer c.Close()
			c.Log(context.Background(), Prediction{EventID: "e", Prediction: 1})
			err := c.Flush(context.Background())
			if (err != nil) != tt.wantErr || (len(reported) > 0) != tt.wantErr {
				t.Errorf("Flush = %v, reported %v; want error %v", err, reported, tt.wantErr)
			}
			if requests, records := rec.counts(); requests != tt.requests || records != tt.records {
				t.Errorf("%d requests, %d records; want %d, %d", requests, records, tt.requests, tt.records)
			}
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestIntervalAndClose(t *testing.T) {
	rec, url := serve(t)
	c := New(url, "churn", Options{FlushInterval: 10 * time.Millisecond})
	c.Log(context.Background(), Prediction{EventID: "e1", Prediction: 1})
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, records := rec.counts(); records == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a partial batch was not sent after the flush interval")
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.Log(context.Background(), Prediction{EventID: "e2", Prediction: 1})
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, records := rec.counts(); records != 2 {
		t.Errorf("Close must flush: %d records", records)
	}
}
