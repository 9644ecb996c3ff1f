package store

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/vigilml/vigil/config"
)

// fakeS3 serves an in-memory S3 on loopback and returns a Store configured
// for it the way users configure MinIO: custom endpoint, path-style
// addressing, static credentials from the environment (the default chain).
func fakeS3(t *testing.T, buckets ...string) (*Store, *s3mem.Backend) {
	t.Helper()
	be := s3mem.New()
	for _, b := range buckets {
		if err := be.CreateBucket(b); err != nil {
			t.Fatal(err)
		}
	}
	h := gofakes3.New(be).Server()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Query().Get("list-type") == "2" {
			listCalls.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	isolateAWSEnv(t)
	s := New(config.Storage{
		Reports: "s3://vigil/reports",
		S3:      config.S3{Endpoint: srv.URL, PathStyle: true, Region: "eu-west-1"},
	})
	return s, be
}

// listCalls counts ListObjectsV2 requests to fake servers (tests using
// t.Setenv never run in parallel).
var listCalls atomic.Int32

func isolateAWSEnv(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test-key")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

func putObject(t testing.TB, be *s3mem.Backend, bucket, key string, data []byte) {
	t.Helper()
	if strings.HasSuffix(key, ".gz") {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(data)
		zw.Close()
		data = buf.Bytes()
	}
	if _, err := be.PutObject(bucket, key, map[string]string{}, bytes.NewReader(data), int64(len(data)), nil); err != nil {
		t.Fatal(err)
	}
}

func TestS3WindowPaginatesAndGunzips(t *testing.T) {
	s, be := fakeS3(t, "logs")
	const n = 1105 // more than one ListObjectsV2 page (1,000 keys)
	for i := 0; i < n; i++ {
		key := fmt.Sprintf("churn/2026/03/01/10/%05d.jsonl", i)
		if i%2 == 1 {
			key += ".gz"
		}
		putObject(t, be, "logs", key, []byte(pred(fmt.Sprintf("e%d", i), t0.Add(time.Duration(i)*time.Second), float64(i), i%2)))
	}
	putObject(t, be, "logs", "churn/2026/03/01/11/late.jsonl", []byte(pred("next-hour", t0.Add(time.Hour), 0, 0)))
	// Ground truth of every 5th event, landing a day later.
	var gt strings.Builder
	for i := 0; i < n; i += 5 {
		gt.WriteString(label(fmt.Sprintf("e%d", i), i%2))
	}
	putObject(t, be, "logs", "churn/ground-truth/2026/03/02/09/gt.jsonl.gz", []byte(gt.String()))

	s.now = func() time.Time { return t0.Add(48 * time.Hour) }
	m := model("s3://logs/churn", "s3://logs/churn/ground-truth")
	listCalls.Store(0)
	rows, info, err := s.OpenWindow(context.Background(), m, t0, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	got := collect(t, rows)
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != n || info.Objects != n || info.Rows != n || info.Labeled != 221 || info.Incomplete {
		t.Errorf("rows %d, info %+v; want %d rows and objects, 221 labeled", len(got), info, n)
	}
	// One hour of predictions over two pages, plus the ground-truth days.
	if c := listCalls.Load(); c < 4 {
		t.Errorf("%d list requests: the listing did not paginate", c)
	}
	if got[1]["x"] != "1" || got[5]["label"] != "1" || got[6]["label"] != "" {
		t.Errorf("rows 1, 5, 6 = %v %v %v", got[1], got[5], got[6])
	}
}

func TestS3ReferenceFileAndPrefix(t *testing.T) {
	s, be := fakeS3(t, "data")
	testReferenceFileAndPrefix(t, s, "data", func(bucket, key string, data []byte) { putObject(t, be, bucket, key, data) })
}

// testReferenceFileAndPrefix checks that a reference URI names one object or
// every object under a prefix (and no sibling prefix), on any S3 backend.
func testReferenceFileAndPrefix(t *testing.T, s *Store, bucket string, put func(bucket, key string, data []byte)) {
	t.Helper()
	put(bucket, "ref/a.csv", []byte("x,label\n1,0\n"))
	put(bucket, "ref/b.csv.gz", []byte("x,label\n2,1\n"))
	put(bucket, "ref-other/c.csv", []byte("x,label\n9,9\n"))
	for _, tt := range []struct{ uri, want string }{
		{"s3://" + bucket + "/ref/a.csv", "1"},
		{"s3://" + bucket + "/ref", "1,2"},
		{"s3://" + bucket + "/ref/", "1,2"},
	} {
		rows, c, err := s.OpenURI(context.Background(), tt.uri, "csv", ReadOptions{})
		if err != nil {
			t.Fatalf("%s: %v", tt.uri, err)
		}
		var xs []string
		for _, r := range collect(t, rows) {
			xs = append(xs, r["x"])
		}
		c.Close()
		if strings.Join(xs, ",") != tt.want {
			t.Errorf("%s: x = %v, want %s", tt.uri, xs, tt.want)
		}
	}
}

func TestS3MissingBucketIsPermanent(t *testing.T) {
	s, _ := fakeS3(t)
	_, _, err := s.OpenWindow(context.Background(), model("s3://nope/churn", ""), t0, t0.Add(time.Hour))
	if err == nil || !IsPermanent(err) {
		t.Fatalf("err = %v, want a permanent error", err)
	}
}

// TestS3ErrorClassification drives the SDK against canned S3 error responses.
func TestS3ErrorClassification(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the SDK's retry backoff")
	}
	tests := []struct {
		status    int
		code      string
		permanent bool
		attempts  int32
	}{
		{403, "AccessDenied", true, 1},
		{403, "InvalidAccessKeyId", true, 1},
		{404, "NoSuchBucket", true, 1},
		{503, "SlowDown", false, 3},
		{500, "InternalError", false, 3},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(tt.status)
				fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>m</Message></Error>`, tt.code)
			}))
			defer srv.Close()
			isolateAWSEnv(t)
			s := New(config.Storage{S3: config.S3{Endpoint: srv.URL, PathStyle: true}})
			_, _, err := s.OpenWindow(context.Background(), model("s3://b/p", ""), t0, t0.Add(time.Hour))
			if err == nil || IsPermanent(err) != tt.permanent {
				t.Errorf("err = %v, IsPermanent = %v, want %v", err, IsPermanent(err), tt.permanent)
			}
			if calls.Load() != tt.attempts {
				t.Errorf("%d requests, want %d", calls.Load(), tt.attempts)
			}
		})
	}
}

func TestS3BlobsCompareAndSwap(t *testing.T) {
	s, _ := fakeS3(t, "vigil")
	blobs, err := s.Blobs(context.Background(), "s3://vigil/registry")
	if err != nil {
		t.Fatal(err)
	}
	testBlobs(t, blobs, true)
}

func TestLocalBlobsCompareAndSwap(t *testing.T) {
	blobs, err := New(config.Storage{}).Blobs(context.Background(), "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	testBlobs(t, blobs, true)
}

// testBlobs is the Blobs contract, for every backend; atomic adds the
// concurrent writers, for backends whose conditional writes are atomic.
func testBlobs(t *testing.T, b Blobs, atomic bool) {
	ctx := context.Background()
	if _, _, err := b.Get(ctx, "models/churn.json"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of a missing key: %v, want ErrNotFound", err)
	}
	v1, err := b.PutIf(ctx, "models/churn.json", []byte("1"), "")
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if _, err := b.PutIf(ctx, "models/churn.json", []byte("x"), ""); !errors.Is(err, ErrConflict) {
		t.Errorf("create over an existing key: %v, want ErrConflict", err)
	}
	v2, err := b.PutIf(ctx, "models/churn.json", []byte("2"), v1)
	if err != nil {
		t.Fatalf("update at the current version: %v", err)
	}
	if _, err := b.PutIf(ctx, "models/churn.json", []byte("stale"), v1); !errors.Is(err, ErrConflict) {
		t.Errorf("update at a stale version: %v, want ErrConflict", err)
	}
	data, v, err := b.Get(ctx, "models/churn.json")
	if err != nil || string(data) != "2" || v != v2 {
		t.Errorf("Get = %q %q %v, want 2 %q", data, v, err, v2)
	}
	for _, bad := range []string{"../escape", "/abs", "a//b", "a/./b", ".locks/x", ""} {
		if _, err := b.PutIf(ctx, bad, []byte("x"), ""); err == nil || !IsPermanent(err) {
			t.Errorf("key %q: %v, want a permanent error", bad, err)
		}
	}

	if !atomic {
		return
	}
	// Concurrent read-modify-write loops: no increment may be lost.
	const writers, each = 8, 10
	if _, err := b.PutIf(ctx, "counter", []byte("0"), ""); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				for {
					data, v, err := b.Get(ctx, "counter")
					if err != nil {
						t.Error(err)
						return
					}
					var n int
					fmt.Sscan(string(data), &n)
					_, err = b.PutIf(ctx, "counter", []byte(fmt.Sprint(n+1)), v)
					if err == nil {
						break
					}
					if !errors.Is(err, ErrConflict) {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	data, _, _ = b.Get(ctx, "counter")
	if string(data) != fmt.Sprint(writers*each) {
		t.Errorf("counter = %s after %d increments: updates were lost", data, writers*each)
	}
}

func TestReports(t *testing.T) {
	local := New(config.Storage{Reports: "file://" + t.TempDir()})
	s3store, _ := fakeS3(t, "vigil")
	for name, s := range map[string]*Store{"local": local, "s3": s3store} {
		t.Run(name, func(t *testing.T) { testReports(t, s) })
	}
}

// testReports is the reports contract, for every backend.
func testReports(t *testing.T, s *Store) {
	ctx := context.Background()
	starts := []time.Time{t0.Add(-72 * time.Hour), t0, t0.Add(15 * time.Minute)}
	for i, at := range starts {
		uri, err := s.WriteReport(ctx, "churn", at, []byte(fmt.Sprintf(`{"n":%d}`, i)))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(uri, "churn/"+at.Format("2006/01/02")+"/"+at.Format(time.RFC3339)+".json") {
			t.Errorf("uri %s", uri)
		}
	}
	tests := []struct {
		at   time.Time
		want string
	}{
		{t0.Add(20 * time.Minute), `{"n":2}`},
		{t0.Add(14 * time.Minute), `{"n":1}`},
		{t0.Add(-time.Hour), `{"n":0}`}, // three days back: beyond the quick look
		{time.Time{}, `{"n":2}`},        // zero: the latest
	}
	for _, tt := range tests {
		data, ref, err := s.ReadReport(ctx, "churn", tt.at)
		if err != nil || string(data) != tt.want {
			t.Errorf("ReadReport(%v) = %s %+v %v, want %s", tt.at, data, ref, err, tt.want)
		}
	}
	if _, _, err := s.ReadReport(ctx, "churn", t0.Add(-100*time.Hour)); !errors.Is(err, ErrNotFound) {
		t.Errorf("before the first report: %v, want ErrNotFound", err)
	}
	refs, err := s.ListReports(ctx, "churn", t0, time.Time{})
	if err != nil || len(refs) != 2 || !refs[0].WindowStart.Equal(t0) {
		t.Errorf("ListReports = %+v %v", refs, err)
	}
	for n, want := range map[int][]time.Time{1: starts[2:], 2: starts[1:], 3: starts, 10: starts, 0: nil} {
		refs, err := s.LatestReports(ctx, "churn", n)
		var got []time.Time
		for _, r := range refs {
			got = append(got, r.WindowStart)
			if r.Size == 0 || r.URI == "" {
				t.Errorf("LatestReports(%d): %+v lacks its size or URI", n, r)
			}
		}
		if err != nil || !slices.EqualFunc(got, want, time.Time.Equal) {
			t.Errorf("LatestReports(%d) = %v %v, want %v", n, got, err, want)
		}
	}
	if data, ref, err := s.ReadReportAt(ctx, "churn", t0); err != nil || string(data) != `{"n":1}` || !ref.WindowStart.Equal(t0) {
		t.Errorf("ReadReportAt(t0) = %s %+v %v", data, ref, err)
	}
	if _, _, err := s.ReadReportAt(ctx, "churn", t0.Add(time.Minute)); !errors.Is(err, ErrNotFound) {
		t.Errorf("ReadReportAt of a window without a report: %v, want ErrNotFound", err)
	}
	if _, err := s.WriteReport(ctx, "../etc", t0, nil); !IsPermanent(err) {
		t.Errorf("a traversing model name: %v", err)
	}
}

// A window on S3 whose objects misbehave: one answers SlowDown once (the
// client's retry heals it), one is deleted between listing and reading, one
// is a truncated gzip stream. The readable rows arrive, each once; the
// window is incomplete, and its errors name the two broken objects.
func TestS3UnreadableObjectsMakeTheWindowIncomplete(t *testing.T) {
	be := s3mem.New()
	if err := be.CreateBucket("logs"); err != nil {
		t.Fatal(err)
	}
	var throttled atomic.Bool
	h := gofakes3.New(be).Server()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/slow.jsonl") && throttled.CompareAndSwap(false, true) {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	isolateAWSEnv(t)
	s := New(config.Storage{S3: config.S3{Endpoint: srv.URL, PathStyle: true, Region: "eu-west-1"}})

	hour := "churn/2026/03/01/10/"
	putObject(t, be, "logs", hour+"a.jsonl", []byte(pred("a", t0.Add(time.Minute), 1, 1)))
	putObject(t, be, "logs", hour+"gone.jsonl", []byte(pred("gone", t0.Add(2*time.Minute), 2, 0)))
	putObject(t, be, "logs", hour+"slow.jsonl", []byte(pred("slow", t0.Add(3*time.Minute), 3, 1)))
	corrupt := []byte{0x1f, 0x8b, 8, 0, 0, 0}
	if _, err := be.PutObject("logs", hour+"z.jsonl.gz", map[string]string{}, bytes.NewReader(corrupt), int64(len(corrupt)), nil); err != nil {
		t.Fatal(err)
	}

	rows, info, err := s.OpenWindow(context.Background(), model("s3://logs/churn", ""), t0, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := be.DeleteObject("logs", hour+"gone.jsonl"); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for rows.Next() {
		ids = append(ids, rows.Row()[slices.Index(rows.Columns(), "event_id")])
	}
	if strings.Join(ids, ",") != "a,slow" {
		t.Errorf("rows %v, want a and slow", ids)
	}
	if !throttled.Load() {
		t.Error("slow.jsonl was never throttled")
	}
	errs := strings.Join(info.Errors, "\n")
	if !info.Incomplete || len(info.Errors) != 2 || !strings.Contains(errs, "gone.jsonl") || !strings.Contains(errs, "z.jsonl.gz") {
		t.Errorf("incomplete %v, errors:\n%s\nwant gone.jsonl and z.jsonl.gz named", info.Incomplete, errs)
	}
	if !errors.Is(rows.Err(), ErrIncomplete) {
		t.Errorf("Err() = %v, want ErrIncomplete", rows.Err())
	}
}
