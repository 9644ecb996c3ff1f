package store

import (
	"bytes"
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

// Blobs returns the compare-and-swap store rooted at rootURI (file://dir, a
// plain path, or s3://bucket/prefix).
//
// Local: an object is the file <root>/<key>; its version is the SHA-256 of
// its content. PutIf takes an exclusive flock(2) on <root>/.locks/<key>,
// re-reads the current version, and replaces the file by rename, so the
// compare-and-swap holds across processes on one host (and on network file
// systems whose flock is reliable).
//
// S3: the version is the object's ETag; PutIf sends If-None-Match: * for a
// new object and If-Match: <etag> otherwise, so S3 (and stores that honour
// conditional writes: MinIO, gofakes3 >= v1.2) arbitrate. A store that
// silently ignores the conditions would lose updates; see the package tests.
func (s *Store) Blobs(ctx context.Context, rootURI string) (Blobs, error) {
	loc, err := parseURI(rootURI)
	if err != nil {
		return nil, err
	}
	switch loc.scheme {
	case "s3":
		c, err := s.s3client(ctx)
		if err != nil {
			return nil, err
		}
		return &s3Blobs{b: &s3Backend{client: c, bucket: loc.bucket, prefix: loc.path}}, nil
	default:
		return &localBlobs{root: loc.path}, nil
	}
}

// checkKey refuses keys that could leave the root or hide among temporary
// files.
func checkKey(key string) error {
	if key == "" || strings.HasPrefix(key, "/") || strings.Contains(key, "\\") {
		return permanentf("invalid key %q", key)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." || strings.HasPrefix(seg, ".") {
			return permanentf("invalid key %q: empty, dot or hidden path segment", key)
		}
	}
	return nil
}

type localBlobs struct{ root string }

func contentVersion(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:16])
}

func (l *localBlobs) Get(_ context.Context, key string) ([]byte, string, error) {
	if err := checkKey(key); err != nil {
		return nil, "", err
	}
	data, err := os.ReadFile(filepath.Join(l.root, filepath.FromSlash(key)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", fmt.Errorf("get %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, "", err
	}
	return data, contentVersion(data), nil
}

func (l *localBlobs) PutIf(_ context.Context, key string, data []byte, version string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	lockPath := filepath.Join(l.root, ".locks", filepath.FromSlash(key)+".lock")
	unlock, err := lockFile(lockPath)
	if err != nil {
		return "", fmt.Errorf("lock %s: %w", key, err)
	}
	defer unlock()
	dst := filepath.Join(l.root, filepath.FromSlash(key))
	cur, err := os.ReadFile(dst)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if version != "" {
			return "", fmt.Errorf("put %s: %w (it was deleted)", key, ErrConflict)
		}
	case err != nil:
		return "", err
	case version == "" || contentVersion(cur) != version:
		return "", fmt.Errorf("put %s: %w", key, ErrConflict)
	}
	if err := writeFileAtomic(dst, data); err != nil {
		return "", err
	}
	return contentVersion(data), nil
}

type s3Blobs struct{ b *s3Backend }

func (s *s3Blobs) Get(ctx context.Context, key string) ([]byte, string, error) {
	if err := checkKey(key); err != nil {
		return nil, "", err
	}
	out, err := s.b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.b.bucket), Key: aws.String(s.b.key(key))})
	if err != nil {
		return nil, "", classify("get", s.b.uri(key), err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, "", fmt.Errorf("get %s: %w", s.b.uri(key), err)
	}
	return data, aws.ToString(out.ETag), nil
}

func (s *s3Blobs) PutIf(ctx context.Context, key string, data []byte, version string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	in := &s3.PutObjectInput{
		Bucket:        aws.String(s.b.bucket),
		Key:           aws.String(s.b.key(key)),
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
	}
	if version == "" {
		in.IfNoneMatch = aws.String("*")
	} else {
		in.IfMatch = aws.String(version)
	}
	out, err := s.b.client.PutObject(ctx, in)
	if err != nil {
		return "", classify("put", s.b.uri(key), err)
	}
	return aws.ToString(out.ETag), nil
}
