package audit

import (
	"context"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/internal/motoserver"
	"github.com/vigilml/vigil/store"
)

func TestMain(m *testing.M) { os.Exit(motoserver.Main(m)) }

// The outbox works the same in S3 (moto): an event recorded twice is one,
// every event is published once, and the published ones leave the outbox
// for sent markers that stop a late retry from recording them again.
func TestOutboxInS3(t *testing.T) {
	srv := motoserver.Start(t)
	motoserver.Env(t)
	st := store.New(config.Storage{S3: config.S3{Endpoint: srv.URL, PathStyle: true, Region: motoserver.Region}})
	c, err := st.S3Client(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("audit-outbox")}); err != nil {
		t.Fatal(err)
	}
	o := NewOutbox(st, "s3://audit-outbox/registry")
	ctx := context.Background()
	for i := range 6 {
		if err := o.Record(ctx, event([]string{"churn", "fraud"}[i%2], i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Record(ctx, event("churn", 0)); err != nil { // a retry
		t.Fatal(err)
	}
	if n, err := o.Pending(ctx); err != nil || n != 6 {
		t.Fatalf("%d pending, %v; want 6", n, err)
	}
	k := cluster(t)
	if n := drain(t, publisher(o, k.ListenAddrs())); n != 6 {
		t.Errorf("published %d, want 6", n)
	}
	consume(t, k.ListenAddrs(), 6)
	if err := o.Record(ctx, event("churn", 0)); err != nil { // a late retry
		t.Fatal(err)
	}
	if n, _ := o.Pending(ctx); n != 0 {
		t.Errorf("%d pending after the drain and a late retry, want 0", n)
	}
	if sent, err := st.ListObjects(ctx, o.Root, sentPrefix); err != nil || len(sent) != 6 {
		t.Errorf("%d sent markers, %v; want 6", len(sent), err)
	}
}
