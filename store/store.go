// Package store is where Vigil's data lives: model predictions and ground
// truth in hour-partitioned layouts, reference data sets, reports and the
// registry's documents, on a local disk (file://dir or a plain path) or in S3
// and S3-compatible stores (s3://bucket/prefix).
//
// Layouts:
//
//	<source.uri>/yyyy/mm/dd/hh/<any>.{jsonl,csv,parquet}[.gz]   predictions (UTC hours)
//	<ground_truth.uri>/yyyy/mm/dd/hh/<any>.jsonl[.gz]           labels, in the hour they arrived
//	<capture prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/*.jsonl  SageMaker data capture
//	<storage.reports>/<model>/yyyy/mm/dd/<window start RFC 3339>.json
//	<storage.registry>/<key>                                     Blobs (compare-and-swap)
//
// Objects whose name starts with "." are never read (writers' temporaries).
// Gzip objects are recognised by their magic bytes, whatever their name.
//
// Reading is streaming: a window is a sequence of objects, each decoded by
// the format readers in store/format while the consumer pulls rows, so memory
// depends on the number of columns, not on the number of rows. The one
// exception is the ground-truth join, documented on OpenWindow. The columns of
// a multi-object stream are those of its first object; later objects are
// matched by column name (a column only later objects have is dropped).
//
// Errors: IsPermanent tells failures no retry can fix (credentials, access
// denied, missing bucket, bad URI) from transient ones (throttling, 5xx,
// network), so activities can mark the former non-retryable. ErrNotFound,
// ErrConflict and ErrIncomplete are matched with errors.Is.
package store

import (
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/vigilml/vigil/config"
)

// DefaultLabelLookahead is how long after a window ground truth is still
// looked for: labels of a window may land in hour partitions up to this much
// later than its predictions.
const DefaultLabelLookahead = 7 * 24 * time.Hour

// Store reads and writes Vigil's data. It is safe for concurrent use; the S3
// client is built on first use of an s3:// URI.
type Store struct {
	cfg       config.Storage
	now       func() time.Time
	lookahead time.Duration
	log       *slog.Logger

	mu sync.Mutex
	s3 *s3.Client
}

// Option changes a Store.
type Option func(*Store)

// WithClock replaces time.Now (tests).
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithLabelLookahead changes DefaultLabelLookahead.
func WithLabelLookahead(d time.Duration) Option { return func(s *Store) { s.lookahead = d } }

// WithLogger sets the logger for skipped objects and similar events.
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.log = l } }

// WithS3Client uses c instead of building a client from the config.
func WithS3Client(c *s3.Client) Option { return func(s *Store) { s.s3 = c } }

// New returns a Store for the storage section of the config. It does no I/O.
func New(cfg config.Storage, opts ...Option) *Store {
	s := &Store{cfg: cfg, now: time.Now, lookahead: DefaultLabelLookahead, log: slog.Default()}
	for _, o := range opts {
		o(s)
	}
	return s
}
