package train

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// S3Lister is the part of *s3.Client HashData uses.
type S3Lister interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// HashData returns a content hash for a training input, for the registry's
// lineage, prefixed with how it was computed:
//
//   - a local file (file:// or a path): "sha256:" + sha256 of its bytes;
//   - a local directory: "sha256-tree:" + sha256 of the sorted lines
//     "<relative path>\t<size>\t<sha256 of the file>\n" of every file in it;
//   - an s3:// object or prefix: "s3-listing:" + sha256 of the sorted lines
//     "<key>\t<size>\t<etag>\n" of every object under it (S3 does not hash
//     content for us, and ETags change whenever content does).
//
// s3c may be nil when no s3:// URI is hashed.
func HashData(ctx context.Context, uri string, s3c S3Lister) (string, error) {
	if rest, ok := strings.CutPrefix(uri, "s3://"); ok {
		if s3c == nil {
			return "", fmt.Errorf("hash %s: no S3 client", uri)
		}
		bucket, prefix, _ := strings.Cut(rest, "/")
		return hashS3(ctx, s3c, bucket, prefix)
	}
	path, err := LocalPath(uri)
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", uri, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", uri, err)
	}
	if !st.IsDir() {
		sum, err := hashFile(path)
		return "sha256:" + sum, err
	}
	h := sha256.New()
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		sum, err := hashFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(path, p)
		fmt.Fprintf(h, "%s\t%d\t%s\n", filepath.ToSlash(rel), info.Size(), sum)
		return nil
	}) // WalkDir visits in lexical order, so the listing is sorted.
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", uri, err)
	}
	return "sha256-tree:" + hex.EncodeToString(h.Sum(nil)), nil
}

func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func hashS3(ctx context.Context, c S3Lister, bucket, prefix string) (string, error) {
	h := sha256.New()
	n := 0
	in := &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)}
	for {
		out, err := c.ListObjectsV2(ctx, in)
		if err != nil {
			return "", fmt.Errorf("hash s3://%s/%s: %w", bucket, prefix, err)
		}
		for _, o := range out.Contents { // S3 lists keys in UTF-8 binary order
			fmt.Fprintf(h, "%s\t%d\t%s\n", aws.ToString(o.Key), aws.ToInt64(o.Size), aws.ToString(o.ETag))
			n++
		}
		if !aws.ToBool(out.IsTruncated) || out.NextContinuationToken == nil {
			break
		}
		in.ContinuationToken = out.NextContinuationToken
	}
	if n == 0 {
		return "", fmt.Errorf("hash s3://%s/%s: %w", bucket, prefix, errNoObjects)
	}
	return "s3-listing:" + hex.EncodeToString(h.Sum(nil)), nil
}

var errNoObjects = errors.New("no objects under this prefix")
