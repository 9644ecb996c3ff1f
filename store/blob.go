package store

import (
	"context"
	"errors"
)

// ErrNotFound is returned when a key does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned by PutIf when the object changed since it was read:
// the caller re-reads, re-applies its change and tries again.
var ErrConflict = errors.New("changed by another writer")

// Blobs is a flat key → bytes store with compare-and-swap writes, used for
// small documents that several writers update (the model registry). Local
// directories and S3 (conditional writes, If-Match / If-None-Match) implement it.
type Blobs interface {
	// Get returns the object and an opaque version token for PutIf.
	Get(ctx context.Context, key string) (data []byte, version string, err error)
	// PutIf writes data if the object is still at version ("" = must not
	// exist yet) and returns the new version; otherwise ErrConflict.
	PutIf(ctx context.Context, key string, data []byte, version string) (newVersion string, err error)
}
