package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

func init() { retryDelay = time.Millisecond }

// flakyBackend breaks the first failures reads of every object after
// cutAfter bytes, like a dropped connection.
type flakyBackend struct {
	backend
	cutAfter int
	failures int
	mu       sync.Mutex
	opens    map[string]int
}

func (f *flakyBackend) open(ctx context.Context, key string) (io.ReadCloser, error) {
	rc, err := f.backend.open(ctx, key)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opens[key]++
	if f.opens[key] > f.failures {
		return rc, nil
	}
	return struct {
		io.Reader
		io.Closer
	}{io.MultiReader(io.LimitReader(rc, int64(f.cutAfter)), errReader{}), rc}, nil
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset by peer") }

func TestObjectReadsResumeAfterTransientFailures(t *testing.T) {
	dir := t.TempDir()
	var content strings.Builder
	for i := 0; i < 400; i++ {
		content.WriteString(pred(fmt.Sprintf("e%d", i), t0.Add(time.Duration(i)*time.Second), float64(i), i%2))
	}
	writeFile(t, dir, "2026/03/01/10/a.jsonl", content.String())
	tests := []struct {
		name       string
		failures   int
		rows       int64
		incomplete bool
	}{
		{"no failure", 0, 400, false},
		{"one dropped connection is resumed without repeating rows", 1, 400, false},
		{"two are too", 2, 400, false},
		{"three make the window incomplete", 3, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			be := &flakyBackend{backend: localBackend{root: dir}, cutAfter: 20000 /* past the JSONL reader's 100-record discovery */, failures: tt.failures, opens: map[string]int{}}
			objs, _ := listHours(context.Background(), be, t0, t0.Add(time.Hour))
			info := &WindowInfo{}
			r := newObjectRows(context.Background(), be, objs, readSpec{format: "jsonl", names: defaultNames}, info)
			seen := map[string]int{}
			var n int64
			for r.Next() {
				seen[r.Row()[r.index["event_id"]]]++
				n++
			}
			for id, c := range seen {
				if c != 1 {
					t.Errorf("%s delivered %d times", id, c)
				}
			}
			if info.Incomplete != tt.incomplete || (!tt.incomplete && n != tt.rows) {
				t.Errorf("rows %d incomplete %v (%v), want %d %v", n, info.Incomplete, info.Errors, tt.rows, tt.incomplete)
			}
			if tt.incomplete && (n == 0 || n >= 400) {
				t.Errorf("%d rows: the failure should come mid-stream", n)
			}
			if tt.incomplete && !errors.Is(r.Err(), ErrIncomplete) {
				t.Errorf("Err = %v, want ErrIncomplete", r.Err())
			}
		})
	}
}
