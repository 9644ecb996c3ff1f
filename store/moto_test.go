package store

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/internal/motoserver"
)

func TestMain(m *testing.M) { os.Exit(motoserver.Main(m)) }

// motoS3 is a Store on moto's S3, configured as users configure an
// S3-compatible store (endpoint, path style, the default credential chain),
// with the buckets created, and a function that uploads an object (gzip'd
// when the key ends in .gz) through the store's own client.
func motoS3(t *testing.T, reports string, buckets ...string) (*Store, func(bucket, key string, data []byte)) {
	t.Helper()
	srv := motoserver.Start(t)
	motoserver.Env(t)
	s := New(config.Storage{Reports: reports, S3: config.S3{Endpoint: srv.URL, PathStyle: true, Region: motoserver.Region}})
	c, err := s.S3Client(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range buckets {
		if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	put := func(bucket, key string, data []byte) {
		if strings.HasSuffix(key, ".gz") {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			zw.Write(data)
			zw.Close()
			data = buf.Bytes()
		}
		if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data)}); err != nil {
			t.Error(err)
		}
	}
	return s, put
}

// The tests below run the S3 contract of the fake-backed tests in
// s3_test.go against moto, an independent implementation of S3.

// Pagination is TestS3WindowPaginatesAndGunzips's (1,105 objects): storing
// a thousand objects in moto took about 30 s on the 2-core CI machine.
func TestMotoS3WindowGunzipsAndJoinsLabels(t *testing.T) {
	s, put := motoS3(t, "", "moto-logs")
	const n = 60
	var wg sync.WaitGroup
	work := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				key := fmt.Sprintf("churn/2026/03/01/10/%05d.jsonl", i)
				if i%2 == 1 {
					key += ".gz"
				}
				put("moto-logs", key, []byte(pred(fmt.Sprintf("e%d", i), t0.Add(time.Duration(i)*time.Second), float64(i), i%2)))
			}
		}()
	}
	for i := 0; i < n; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	put("moto-logs", "churn/2026/03/01/11/late.jsonl", []byte(pred("next-hour", t0.Add(time.Hour), 0, 0)))
	var gt strings.Builder
	for i := 0; i < n; i += 5 {
		gt.WriteString(label(fmt.Sprintf("e%d", i), i%2))
	}
	put("moto-logs", "churn/ground-truth/2026/03/02/09/gt.jsonl.gz", []byte(gt.String()))

	s.now = func() time.Time { return t0.Add(48 * time.Hour) }
	rows, info, err := s.OpenWindow(context.Background(), model("s3://moto-logs/churn", "s3://moto-logs/churn/ground-truth"), t0, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	got := collect(t, rows)
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != n || info.Objects != n || info.Rows != n || info.Labeled != 12 || info.Incomplete {
		t.Errorf("rows %d, info %+v; want %d rows and objects, 12 labeled", len(got), info, n)
	}
	if got[1]["x"] != "1" || got[5]["label"] != "1" || got[6]["label"] != "" {
		t.Errorf("rows 1, 5, 6 = %v %v %v", got[1], got[5], got[6])
	}
}

func TestMotoS3ReferenceFileAndPrefix(t *testing.T) {
	s, put := motoS3(t, "", "moto-data")
	testReferenceFileAndPrefix(t, s, "moto-data", put)
}

func TestMotoS3MissingBucketIsPermanent(t *testing.T) {
	s, _ := motoS3(t, "")
	_, _, err := s.OpenWindow(context.Background(), model("s3://moto-no-such-bucket/churn", ""), t0, t0.Add(time.Hour))
	if err == nil || !IsPermanent(err) {
		t.Fatalf("err = %v, want a permanent error", err)
	}
}

// Compare-and-swap rests on S3's conditional writes (If-None-Match: * and
// If-Match: <etag>), which moto answers as S3 does, one request at a time:
// moto 5.2.1 checks the condition and writes without a lock, so concurrent
// writers can both win there (S3 makes the check and the write atomic); the
// concurrent part of the contract runs on the fake only.
func TestMotoS3BlobsCompareAndSwap(t *testing.T) {
	s, _ := motoS3(t, "", "moto-registry")
	blobs, err := s.Blobs(context.Background(), "s3://moto-registry/registry")
	if err != nil {
		t.Fatal(err)
	}
	testBlobs(t, blobs, false)
}

func TestMotoS3ReportsAndObjects(t *testing.T) {
	s, _ := motoS3(t, "s3://moto-reports/reports", "moto-reports")
	testReports(t, s)
	ctx := context.Background()
	uri, err := s.PutObject(ctx, "s3://moto-reports/runs/r1", "validation-report.json", []byte(`{"ok":true}`))
	if err != nil || uri != "s3://moto-reports/runs/r1/validation-report.json" {
		t.Fatalf("PutObject = %s, %v", uri, err)
	}
	blobs, err := s.Blobs(ctx, "s3://moto-reports/runs/r1")
	if err != nil {
		t.Fatal(err)
	}
	if data, _, err := blobs.Get(ctx, "validation-report.json"); err != nil || string(data) != `{"ok":true}` {
		t.Errorf("read back %q, %v", data, err)
	}
	if err := s.DeleteObject(ctx, "s3://moto-reports/runs/r1", "validation-report.json"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := blobs.Get(ctx, "validation-report.json"); err == nil {
		t.Error("object still there after DeleteObject")
	}
	testListObjects(t, s, "s3://moto-reports/outbox")
}
