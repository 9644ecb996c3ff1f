package store

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"
	"time"
)

// location is a parsed storage URI: a local directory or file, or an S3
// bucket and key prefix.
type location struct {
	scheme string // "file" or "s3"
	bucket string // s3 only
	path   string // local path, or S3 key (no leading slash)
}

// parseURI accepts file://path, s3://bucket/prefix and plain local paths.
func parseURI(uri string) (location, error) {
	switch {
	case strings.HasPrefix(uri, "s3://"):
		rest := strings.TrimPrefix(uri, "s3://")
		bucket, key, _ := strings.Cut(rest, "/")
		if bucket == "" {
			return location{}, permanentf("want s3://bucket/prefix, got %q", uri)
		}
		return location{scheme: "s3", bucket: bucket, path: strings.Trim(key, "/")}, nil
	case strings.HasPrefix(uri, "file://"):
		p := strings.TrimPrefix(uri, "file://")
		if u, err := url.PathUnescape(p); err == nil {
			p = u
		}
		if p == "" {
			return location{}, permanentf("file:// needs a path, got %q", uri)
		}
		return location{scheme: "file", path: filepath.Clean(p)}, nil
	case strings.Contains(uri, "://"):
		return location{}, permanentf("unsupported scheme in %q: want file://, s3:// or a local path", uri)
	case uri == "":
		return location{}, permanentf("empty storage URI")
	}
	return location{scheme: "file", path: filepath.Clean(uri)}, nil
}

// String renders the location back as a URI.
func (l location) String() string {
	if l.scheme == "s3" {
		if l.path == "" {
			return "s3://" + l.bucket
		}
		return "s3://" + l.bucket + "/" + l.path
	}
	return "file://" + filepath.ToSlash(l.path)
}

// object is one listed file or S3 object.
type object struct {
	Key     string // relative to the listed root, slash-separated
	Size    int64
	ModTime time.Time
}

// backend is the little the store needs from a place that holds objects.
// Keys are slash-separated and relative to the root location.
type backend interface {
	// list calls fn for every object whose key starts with prefix (a key
	// prefix, not only a directory), in key order.
	list(ctx context.Context, prefix string, fn func(object) error) error
	// dirs lists the names of the immediate "directories" under prefix
	// ("" or ending in "/"): sub-directories, or S3 common prefixes.
	dirs(ctx context.Context, prefix string) ([]string, error)
	// open streams one object.
	open(ctx context.Context, key string) (io.ReadCloser, error)
	// put writes an object atomically: readers see all of it or nothing.
	put(ctx context.Context, key string, data []byte) error
	// remove deletes an object; a missing one is not an error.
	remove(ctx context.Context, key string) error
	// uri names a key for messages and results.
	uri(key string) string
}

func (s *Store) backend(ctx context.Context, l location) (backend, error) {
	switch l.scheme {
	case "file":
		return localBackend{root: l.path}, nil
	case "s3":
		c, err := s.s3client(ctx)
		if err != nil {
			return nil, err
		}
		return &s3Backend{client: c, bucket: l.bucket, prefix: l.path}, nil
	}
	return nil, fmt.Errorf("unsupported location %v", l)
}
