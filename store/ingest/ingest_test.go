package ingest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/store"
)

var now = time.Date(2026, 3, 1, 10, 30, 0, 0, time.UTC)

type fixture struct {
	srv      *httptest.Server
	dir      string
	pred, gt string
	model    config.Model
	st       *store.Store
}

func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{dir: dir, pred: filepath.Join(dir, "pred"), gt: filepath.Join(dir, "gt")}
	f.model = config.Model{
		Name:        "churn",
		Columns:     config.Columns{Target: "label", Prediction: "prediction", Time: "time", EventID: "event_id"},
		Source:      config.Source{URI: "file://" + f.pred, Format: "jsonl"},
		GroundTruth: config.Source{URI: "file://" + f.gt, Format: "jsonl"},
	}
	csvModel := config.Model{Name: "legacy", Source: config.Source{URI: "file://" + dir + "/legacy", Format: "csv"}}
	f.st = store.New(config.Storage{}, store.WithClock(func() time.Time { return now.Add(time.Hour) }))
	if opts.Now == nil {
		opts.Now = func() time.Time { return now }
	}
	f.srv = httptest.NewServer(New([]config.Model{f.model, csvModel}, f.st, opts))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) post(t *testing.T, path, token, body string) (int, ErrorResponse) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e ErrorResponse
	json.NewDecoder(resp.Body).Decode(&e)
	return resp.StatusCode, e
}

// files lists every file under dir, hidden temporaries included.
func files(t *testing.T, dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	return out
}

func TestIngestRoundTrip(t *testing.T) {
	f := newFixture(t, Options{})
	code, e := f.post(t, "/v1/models/churn/predictions", "",
		`{"event_id":"e1","time":"2026-03-01T10:05:00Z","features":{"age":34,"plan":"pro"},"prediction":1,"score":0.9,"latency_ms":12}
{"event_id":"e2","time":1772359800,"features":{"age":51,"plan":"basic"},"prediction":0,"score":0.2}

{"event_id":"e3","features":{"age":22},"prediction":1}
`)
	if code != 200 {
		t.Fatalf("predictions: %d %+v", code, e)
	}
	code, e = f.post(t, "/v1/models/churn/ground-truth", "", `[{"event_id":"e1","label":1},
 {"event_id":"e2","target":1}]`)
	if code != 200 {
		t.Fatalf("ground truth: %d %+v", code, e)
	}
	if got := files(t, f.pred); len(got) != 1 || !strings.HasPrefix(got[0], "2026/03/01/10/") || !strings.HasSuffix(got[0], ".jsonl") {
		t.Errorf("prediction objects = %v, want one in 2026/03/01/10/", got)
	}
	rows, info, err := f.st.OpenWindow(context.Background(), &f.model, now.Add(-30*time.Minute), now.Add(30*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	cols := rows.Columns()
	var got []string
	for rows.Next() {
		m := map[string]string{}
		for i, c := range rows.Row() {
			m[cols[i]] = c
		}
		got = append(got, m["event_id"]+":"+m["time"]+":"+m["age"]+":"+m["label"])
	}
	want := "e1:2026-03-01T10:05:00Z:34:1 e2:2026-03-01T10:10:00Z:51:1 e3:2026-03-01T10:30:00Z:22:"
	if strings.Join(got, " ") != want || info.Labeled != 2 {
		t.Errorf("window rows = %v (labeled %d), want %s (2)", got, info.Labeled, want)
	}
}

func TestIngestRejects(t *testing.T) {
	tests := []struct {
		name   string
		path   string
		token  string
		body   string
		status int
		line   int
		msg    string
	}{
		{"a bad line fails the request with its number", "/v1/models/churn/predictions", "",
			"{\"event_id\":\"e1\",\"prediction\":1}\n{\"event_id\":\"e2\",\"prediction\":1}\n{\"event_id\":\"e3\"}\n", 400, 3, "prediction: required"},
		{"broken JSON", "/v1/models/churn/predictions", "", "{\"event_id\":\"e1\",\"prediction\":1}\n{oops\n", 400, 2, "not a JSON object"},
		{"an array element is reported by its line", "/v1/models/churn/predictions", "", "[\n{\"event_id\":\"e1\",\"prediction\":1},\n{\"event_id\":\"\",\"prediction\":1}\n]", 400, 3, "event_id: required"},
		{"a bad time", "/v1/models/churn/predictions", "", `{"event_id":"e1","prediction":1,"time":"yesterday"}`, 400, 1, "RFC 3339"},
		{"features must be an object", "/v1/models/churn/predictions", "", `{"event_id":"e1","prediction":1,"features":[1,2]}`, 400, 1, "features"},
		{"a non-numeric score", "/v1/models/churn/predictions", "", `{"event_id":"e1","prediction":1,"score":"high"}`, 400, 1, "score"},
		{"another model's record", "/v1/models/churn/predictions", "", `{"event_id":"e1","prediction":1,"model":"other"}`, 400, 1, "model"},
		{"ground truth without a label", "/v1/models/churn/ground-truth", "", `{"event_id":"e1"}`, 400, 1, "label"},
		{"an empty body", "/v1/models/churn/predictions", "", "\n\n", 400, 0, "no records"},
		{"an unknown model", "/v1/models/fraud/predictions", "", `{"event_id":"e1","prediction":1}`, 404, 0, "unknown model"},
		{"an invalid model name", "/v1/models/Churn/predictions", "", `{"event_id":"e1","prediction":1}`, 404, 0, "unknown model"},
		{"an encoded traversal", "/v1/models/..%2F..%2Fetc/predictions", "", `{"event_id":"e1","prediction":1}`, 404, 0, ""},
		{"an encoded dot-dot", "/v1/models/%2e%2e/predictions", "", `{"event_id":"e1","prediction":1}`, 404, 0, ""},
		{"a model whose source is not jsonl", "/v1/models/legacy/predictions", "", `{"event_id":"e1","prediction":1}`, 409, 0, "jsonl"},
		{"neither prediction nor score", "/v1/models/churn/predictions", "", `{"event_id":"e1","score":null}`, 400, 1, "prediction: required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Options{})
			code, e := f.post(t, tt.path, tt.token, tt.body)
			if code != tt.status || e.Line != tt.line || !strings.Contains(e.Error, tt.msg) {
				t.Errorf("got %d %+v, want %d line %d containing %q", code, e, tt.status, tt.line, tt.msg)
			}
			if got := files(t, f.dir); len(got) != 0 {
				t.Errorf("a rejected request wrote %v", got)
			}
		})
	}
}

func TestIngestTraversalNeverEscapes(t *testing.T) {
	f := newFixture(t, Options{})
	for _, p := range []string{
		"/v1/models/../../../tmp/predictions",
		"/v1/models/churn/../legacy/predictions",
		"/v1/models/.%2e/predictions",
		"/v1/models/churn%2F..%2F..%2Fx/predictions",
	} {
		req, _ := http.NewRequest(http.MethodPost, f.srv.URL+p, strings.NewReader(`{"event_id":"e1","prediction":1}`))
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode < 300 {
			t.Errorf("%s: %d, want a 3xx/4xx", p, resp.StatusCode)
		}
	}
	if got := files(t, f.dir); len(got) != 0 {
		t.Errorf("traversal attempts wrote %v", got)
	}
}

func TestIngestAuthAndLimits(t *testing.T) {
	f := newFixture(t, Options{Token: "s3cret", MaxBody: 1024})
	ok := `{"event_id":"e1","prediction":1}`
	tests := []struct {
		name, token, body string
		status            int
	}{
		{"no token", "", ok, 401},
		{"a wrong token", "s3cre", ok, 401},
		{"the token", "s3cret", ok, 200},
		{"a body over the limit", "s3cret", strings.Repeat(ok+"\n", 40), 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, e := f.post(t, "/v1/models/churn/predictions", tt.token, tt.body); code != tt.status {
				t.Errorf("got %d %+v, want %d", code, e, tt.status)
			}
		})
	}
	if got := files(t, f.dir); len(got) != 1 {
		t.Errorf("objects = %v, want only the authorized request's", got)
	}
}

// TestIngestConcurrentWritersNoTornFiles runs writers and a reader at once:
// the reader must only ever see complete objects (every line a full record,
// every object the size of a request).
func TestIngestConcurrentWritersNoTornFiles(t *testing.T) {
	f := newFixture(t, Options{RateLimit: -1}) // 120 requests at once: more than the default burst
	const writers, requests, perRequest = 8, 15, 20
	var done atomic.Bool
	var torn atomic.Int64
	var readerWG sync.WaitGroup
	readerWG.Add(1)
	go func() {
		defer readerWG.Done()
		for !done.Load() {
			filepath.WalkDir(f.pred, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
					return nil
				}
				fh, err := os.Open(p)
				if err != nil {
					return nil
				}
				defer fh.Close()
				n := 0
				sc := bufio.NewScanner(fh)
				for sc.Scan() {
					var m map[string]any
					if json.Unmarshal(sc.Bytes(), &m) != nil {
						torn.Add(1)
					}
					n++
				}
				if n != perRequest {
					torn.Add(1)
				}
				return nil
			})
		}
	}()
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < requests; r++ {
				var b strings.Builder
				for i := 0; i < perRequest; i++ {
					fmt.Fprintf(&b, `{"event_id":"w%d-r%d-%d","time":"2026-03-01T10:%02d:00Z","features":{"x":%d},"prediction":%d}`+"\n", w, r, i, i, i, i%2)
				}
				if code, e := f.post(t, "/v1/models/churn/predictions", "", b.String()); code != 200 {
					t.Errorf("writer %d: %d %+v", w, code, e)
				}
			}
		}()
	}
	wg.Wait()
	done.Store(true)
	readerWG.Wait()
	if torn.Load() != 0 {
		t.Errorf("the reader saw %d torn objects", torn.Load())
	}
	rows, info, err := f.st.OpenWindow(context.Background(), &f.model, now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
	}
	if info.Rows != writers*requests*perRequest || info.Objects != writers*requests {
		t.Errorf("stored %d rows in %d objects, want %d in %d", info.Rows, info.Objects, writers*requests*perRequest, writers*requests)
	}
}

func TestIngestRejectsARecordOverMaxLine(t *testing.T) {
	f := newFixture(t, Options{MaxLine: 100})
	short := `{"event_id":"e1","prediction":1}`
	long := `{"event_id":"e2","prediction":1,"features":{"blob":"` + strings.Repeat("x", 100) + `"}}`
	for _, tt := range []struct {
		name, body string
		status     int
		line       int
	}{
		{"a line at the limit is fine", short + strings.Repeat(" ", 100-len(short)), 200, 0},
		{"the long line is named", short + "\n" + short + "\n" + long + "\n", 413, 3},
		{"an array element is named by its line", "[\n" + short + ",\n" + long + "\n]", 413, 3},
		{"a compact array's line may be long, its records not", "[" + short + "," + short + "," + short + "," + short + "]", 200, 0},
		{"a long element of a compact array", "[" + short + "," + long + "]", 413, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := len(files(t, f.dir))
			code, e := f.post(t, "/v1/models/churn/predictions", "", tt.body)
			if code != tt.status || e.Line != tt.line {
				t.Fatalf("got %d %+v, want %d naming line %d", code, e, tt.status, tt.line)
			}
			if code != 200 && (!strings.Contains(e.Error, "100-byte limit for one record") || len(files(t, f.dir)) != before) {
				t.Errorf("error %q (wants the limit) or the request wrote something", e.Error)
			}
		})
	}
}

func TestIngestRateLimitsEachModel(t *testing.T) {
	dir := t.TempDir()
	model := func(name string) config.Model {
		return config.Model{Name: name, Source: config.Source{URI: "file://" + dir + "/" + name, Format: "jsonl"}}
	}
	clock := now
	h := New([]config.Model{model("churn"), model("fraud")}, store.New(config.Storage{}), Options{RateLimit: 2, Burst: 3, Now: func() time.Time { return now }})
	h.clock = func() time.Time { return clock }
	post := func(m string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/models/"+m+"/predictions", strings.NewReader(`{"event_id":"e1","prediction":1}`)))
		return rec
	}
	for i := 1; i <= 3; i++ {
		if rec := post("churn"); rec.Code != 200 {
			t.Fatalf("request %d of a burst of 3: %d %s", i, rec.Code, rec.Body)
		}
	}
	rec := post("churn")
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "1" || !strings.Contains(rec.Body.String(), "2 requests/s") {
		t.Fatalf("the 4th request at once: %d Retry-After=%q %s, want 429 with Retry-After 1", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	if rec := post("fraud"); rec.Code != 200 {
		t.Errorf("another model shares the limit: %d %s", rec.Code, rec.Body)
	}
	clock = clock.Add(500 * time.Millisecond) // 2/s: one token back
	if rec := post("churn"); rec.Code != 200 {
		t.Errorf("after 0.5s at 2/s: %d %s", rec.Code, rec.Body)
	}
	if rec := post("churn"); rec.Code != http.StatusTooManyRequests {
		t.Errorf("the token was used: %d", rec.Code)
	}
	clock = clock.Add(time.Hour) // refills to the burst, no further
	for i := 1; i <= 4; i++ {
		want := 200
		if i == 4 {
			want = http.StatusTooManyRequests
		}
		if rec := post("churn"); rec.Code != want {
			t.Errorf("after an idle hour, request %d: %d, want %d", i, rec.Code, want)
		}
	}
	if rec := post("nope"); rec.Code != http.StatusNotFound {
		t.Errorf("an unknown model: %d, want 404 (and no bucket)", rec.Code)
	}
	if len(h.limits) != 2 {
		t.Errorf("%d buckets, want one per configured model", len(h.limits))
	}
}

func TestIngestRateLimitDefaultsAreGenerous(t *testing.T) {
	h := New([]config.Model{{Name: "churn"}}, nil, Options{})
	if b := h.limits["churn"]; b == nil || b.Limit() != DefaultRateLimit || b.Burst() != DefaultBurst {
		t.Errorf("default bucket %+v, want %d/s burst %d", b, DefaultRateLimit, DefaultBurst)
	}
	if h := New([]config.Model{{Name: "churn"}}, nil, Options{RateLimit: -1}); h.limits != nil {
		t.Error("a negative RateLimit still limits")
	}
}

func TestIngestTokenCheck(t *testing.T) {
	f := newFixture(t, Options{Token: "s3cret"})
	ok := `{"event_id":"e1","prediction":1}`
	for _, tt := range []struct {
		name, header string
		status       int
	}{
		{"the token", "Bearer s3cret", 200},
		{"the scheme in any case (RFC 9110)", "bearer s3cret", 200},
		{"a prefix of the token", "Bearer s3cre", 401},
		{"the token with more after it", "Bearer s3cretx", 401},
		{"another scheme", "Basic s3cret", 401},
		{"the token without a scheme", "s3cret", 401},
		{"an empty token", "Bearer ", 401},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/v1/models/churn/predictions", strings.NewReader(ok))
			req.Header.Set("Authorization", tt.header)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("got %d, want %d", resp.StatusCode, tt.status)
			}
			if resp.StatusCode == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

// slowWriter blocks until its context ends.
type slowWriter struct{ deleted atomic.Int32 }

func (s *slowWriter) PutObject(ctx context.Context, _, _ string, _ []byte) (string, error) {
	<-ctx.Done()
	return "", ctx.Err()
}
func (s *slowWriter) DeleteObject(context.Context, string, string) error {
	s.deleted.Add(1)
	return nil
}

func TestIngestStoreTimeoutIsRetryable(t *testing.T) {
	m := config.Model{Name: "churn", Source: config.Source{URI: "s3://bucket/pred", Format: "jsonl"}}
	h := New([]config.Model{m}, &slowWriter{}, Options{StoreTimeout: 50 * time.Millisecond})
	rec := httptest.NewRecorder()
	start := time.Now()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/models/churn/predictions", strings.NewReader(`{"event_id":"e1","prediction":1}`)))
	if rec.Code != http.StatusServiceUnavailable || time.Since(start) > 5*time.Second {
		t.Errorf("a hung store: %d after %s, want 503 after the 50ms store timeout", rec.Code, time.Since(start))
	}
}

// A binary model that returns only a probability logs its score; the
// analysis predicts from it (columns.threshold).
func TestIngestAcceptsAScoreWithoutPrediction(t *testing.T) {
	f := newFixture(t, Options{})
	code, e := f.post(t, "/v1/models/churn/predictions", "", `{"event_id":"e1","score":0.83}`)
	if code != http.StatusAccepted && code != http.StatusOK {
		t.Fatalf("got %d %+v, want the record accepted", code, e)
	}
	if got := files(t, f.dir); len(got) != 1 {
		t.Errorf("wrote %v, want one object", got)
	}
}
