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

// WithLogger sets the logger for skipped objects and similar events.
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.log = l } }

// New returns a Store for the storage section of the config. It does no I/O.
func New(cfg config.Storage, opts ...Option) *Store {
	s := &Store{cfg: cfg, now: time.Now, lookahead: DefaultLabelLookahead, log: slog.Default()}
	for _, o := range opts {
		o(s)
	}
	return s
}
