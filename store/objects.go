package store

import (
	"context"
	"fmt"
	"io"
	"time"
)

// PutObject writes data at key (slash-separated, relative) under rootURI
// (file://dir, a plain path or s3://bucket/prefix) so that readers see the
// whole object or nothing: a local file is written to a hidden temporary
// file and renamed, an S3 object is one PutObject. It returns the object's
// URI. The ingest API appends to a model's store this way.
func (s *Store) PutObject(ctx context.Context, rootURI, key string, data []byte) (string, error) {
	b, err := s.objectBackend(ctx, rootURI, key)
	if err != nil {
		return "", err
	}
	if err := b.put(ctx, key, data); err != nil {
		return "", err
	}
	return b.uri(key), nil
}

// DeleteObject removes key under rootURI; a missing object is not an error.
func (s *Store) DeleteObject(ctx context.Context, rootURI, key string) error {
	b, err := s.objectBackend(ctx, rootURI, key)
	if err != nil {
		return err
	}
	return b.remove(ctx, key)
}

func (s *Store) objectBackend(ctx context.Context, rootURI, key string) (backend, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	loc, err := parseURI(rootURI)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rootURI, err)
	}
	return s.backend(ctx, loc)
}

// GetObject reads key under rootURI; a missing object is ErrNotFound. The
// Kafka ingest keeps its per-partition progress beside the records this way.
func (s *Store) GetObject(ctx context.Context, rootURI, key string) ([]byte, error) {
	b, err := s.objectBackend(ctx, rootURI, key)
	if err != nil {
		return nil, err
	}
	return readObject(ctx, b, key)
}

// readObject reads a whole object; a missing one is ErrNotFound.
func readObject(ctx context.Context, b backend, key string) ([]byte, error) {
	r, err := b.open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", b.uri(key), err)
	}
	return data, nil
}

// ObjectInfo is one object a listing found.
type ObjectInfo struct {
	Key     string // relative to the listed root, slash-separated
	ModTime time.Time
}

// ListObjects lists the objects under rootURI whose key starts with prefix,
// in key order (hidden "." objects, writers' temporaries, are skipped). The
// audit outbox finds the events it has not published this way.
func (s *Store) ListObjects(ctx context.Context, rootURI, prefix string) ([]ObjectInfo, error) {
	loc, err := parseURI(rootURI)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rootURI, err)
	}
	b, err := s.backend(ctx, loc)
	if err != nil {
		return nil, err
	}
	var out []ObjectInfo
	err = b.list(ctx, prefix, func(o object) error {
		out = append(out, ObjectInfo{Key: o.Key, ModTime: o.ModTime})
		return nil
	})
	return out, err
}
