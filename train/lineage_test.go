package train

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestHashDataChangesWithContentOnly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	write := func(name, body string) {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644)
	}
	write("2026/11/28/03/a.jsonl", `{"x":1}`)
	write("2026/11/28/04/b.jsonl", `{"x":2}`)

	file, _ := HashData(ctx, "file://"+filepath.Join(dir, "2026/11/28/03/a.jsonl"), nil)
	sum := sha256.Sum256([]byte(`{"x":1}`))
	if file != "sha256:"+hex.EncodeToString(sum[:]) {
		t.Errorf("file hash = %q", file)
	}
	tree1, err := HashData(ctx, "file://"+dir, nil)
	if err != nil || !strings.HasPrefix(tree1, "sha256-tree:") {
		t.Fatalf("tree hash = %q, %v", tree1, err)
	}
	tree2, _ := HashData(ctx, dir, nil)
	if tree1 != tree2 {
		t.Error("file:// and a plain path must hash the same")
	}
	write("2026/11/28/04/b.jsonl", `{"x":3}`)
	if tree3, _ := HashData(ctx, dir, nil); tree3 == tree1 {
		t.Error("changing a file's content must change the tree hash")
	}
	if _, err := HashData(ctx, filepath.Join(dir, "missing"), nil); err == nil {
		t.Error("missing data must be an error")
	}
}

type fakeLister struct{ pages [][]s3types.Object }

func (f *fakeLister) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	i := 0
	if in.ContinuationToken != nil {
		i = int((*in.ContinuationToken)[0] - '0')
	}
	out := &s3.ListObjectsV2Output{Contents: f.pages[i]}
	if i+1 < len(f.pages) {
		out.IsTruncated, out.NextContinuationToken = aws.Bool(true), aws.String(string(rune('0'+i+1)))
	}
	return out, nil
}

func TestHashDataOverAnS3PrefixHashesTheListing(t *testing.T) {
	obj := func(k, etag string) s3types.Object {
		return s3types.Object{Key: aws.String(k), ETag: aws.String(etag), Size: aws.Int64(10)}
	}
	a := &fakeLister{pages: [][]s3types.Object{{obj("p/a", `"1"`)}, {obj("p/b", `"2"`)}}}
	b := &fakeLister{pages: [][]s3types.Object{{obj("p/a", `"1"`)}, {obj("p/b", `"3"`)}}}
	ha, err := HashData(context.Background(), "s3://bkt/p/", a)
	if err != nil || !strings.HasPrefix(ha, "s3-listing:") {
		t.Fatalf("%q %v", ha, err)
	}
	hb, _ := HashData(context.Background(), "s3://bkt/p/", b)
	if ha == hb {
		t.Error("a changed ETag on the second page must change the hash")
	}
	if _, err := HashData(context.Background(), "s3://bkt/empty", &fakeLister{pages: [][]s3types.Object{nil}}); err == nil {
		t.Error("an empty prefix is an error, not the hash of nothing")
	}
}
