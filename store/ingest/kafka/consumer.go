package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/internal/kafkaconn"
	"github.com/vigilml/vigil/store"
	"github.com/vigilml/vigil/store/ingest"
)

// RecentIDs is how many event ids of each partition are remembered for
// dropping duplicates.
const RecentIDs = 1000

// Defaults for Options.
const (
	DefaultMaxPollRecords = 5000
	DefaultStoreTimeout   = 30 * time.Second
)

// Store holds the records and the consumer's progress; *store.Store
// implements it.
type Store interface {
	PutObject(ctx context.Context, rootURI, key string, data []byte) (string, error)
	GetObject(ctx context.Context, rootURI, key string) ([]byte, error)
	DeleteObject(ctx context.Context, rootURI, key string) error
}

// Options configure a Consumer.
type Options struct {
	// Getenv reads the SASL credentials the config names (os.Getenv).
	Getenv func(string) string
	// MaxPollRecords bounds one batch (0 = DefaultMaxPollRecords).
	MaxPollRecords int
	// StoreTimeout bounds each store call (0 = DefaultStoreTimeout).
	StoreTimeout time.Duration
	// Backoff is the first wait before reconnecting after an error (0 = 1s);
	// it doubles up to a minute.
	Backoff time.Duration
	// ClientOpts are added to the Kafka client's (tests: session timeouts).
	ClientOpts []kgo.Opt
	// Now replaces time.Now (the arrival hour of ground truth).
	Now    func() time.Time
	Logger *slog.Logger
}

// Consumer consumes one stream: a model's predictions or its ground truth.
type Consumer struct {
	model       config.Model
	groundTruth bool
	src         config.Source
	k           config.Kafka
	st          Store
	opts        Options
	log         *slog.Logger

	mu    sync.Mutex
	parts map[int32]*partState // loaded states of the assigned partitions
}

// New builds the consumer of m's source.kafka (groundTruth false) or
// ground_truth.kafka; it fails when that section has no kafka.
func New(m config.Model, groundTruth bool, st Store, opts Options) (*Consumer, error) {
	src := m.Source
	if groundTruth {
		src = m.GroundTruth
	}
	if src.Kafka == nil {
		return nil, fmt.Errorf("model %q: %s has no kafka", m.Name, section(groundTruth))
	}
	if opts.MaxPollRecords <= 0 {
		opts.MaxPollRecords = DefaultMaxPollRecords
	}
	if opts.StoreTimeout <= 0 {
		opts.StoreTimeout = DefaultStoreTimeout
	}
	if opts.Backoff <= 0 {
		opts.Backoff = time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Getenv == nil {
		opts.Getenv = func(string) string { return "" }
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	c := &Consumer{model: m, groundTruth: groundTruth, src: src, k: *src.Kafka, st: st, opts: opts,
		parts: map[int32]*partState{}}
	c.log = opts.Logger.With("model", m.Name, "stream", section(groundTruth), "topic", c.k.Topic, "group", c.k.Group)
	return c, nil
}

func section(groundTruth bool) string {
	if groundTruth {
		return "ground_truth"
	}
	return "source"
}

// Run consumes until ctx is done. Errors (brokers gone, the store failing)
// are logged and the consumer reconnects after a backoff, resuming from the
// last committed offsets and the stored state: nothing is skipped.
func (c *Consumer) Run(ctx context.Context) error {
	backoff := c.opts.Backoff
	for {
		started := time.Now()
		err := c.runOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(started) > 5*time.Minute {
			backoff = c.opts.Backoff
		}
		c.log.Error("kafka consumer stopped; reconnecting", "err", err, "after", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Minute)
	}
}

func (c *Consumer) clientOpts() ([]kgo.Opt, error) {
	conn, err := kafkaconn.Opts(c.k, c.opts.Getenv)
	if err != nil {
		return nil, err
	}
	opts := append(conn,
		kgo.ConsumerGroup(c.k.Group),
		kgo.ConsumeTopics(c.k.Topic),
		// A new group reads the topic from its start: no record is skipped.
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		// A rebalance waits until the polled batch is stored and committed,
		// so no partition changes owner mid-batch.
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsRevoked(c.forget),
		kgo.OnPartitionsLost(c.forget),
	)
	return append(opts, c.opts.ClientOpts...), nil
}

// forget drops the cached state of partitions this member no longer owns; a
// later assignment reads it again from the store.
func (c *Consumer) forget(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range lost[c.k.Topic] {
		delete(c.parts, p)
	}
}

func (c *Consumer) runOnce(ctx context.Context) error {
	opts, err := c.clientOpts()
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	// A new client is a new member: partition states are read afresh.
	c.mu.Lock()
	c.parts = map[int32]*partState{}
	c.mu.Unlock()
	for {
		fetches := cl.PollRecords(ctx, c.opts.MaxPollRecords)
		if ctx.Err() != nil || fetches.IsClientClosed() {
			cl.AllowRebalance()
			return ctx.Err()
		}
		fetches.EachError(func(topic string, p int32, err error) {
			// The client retries these itself (brokers down, leaders moving).
			c.log.Warn("kafka fetch", "partition", p, "err", err)
		})
		var last []*kgo.Record
		var batchErr error
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			if batchErr != nil || len(fp.Records) == 0 {
				return
			}
			if err := c.storeBatch(ctx, fp.Partition, fp.Records); err != nil {
				batchErr = fmt.Errorf("partition %d offsets %d-%d: %w", fp.Partition, fp.Records[0].Offset, fp.Records[len(fp.Records)-1].Offset, err)
				return
			}
			last = append(last, fp.Records[len(fp.Records)-1])
		})
		if batchErr != nil {
			// The client has moved past the batch: a new client starts again
			// from the committed offsets (stored partitions are skipped).
			cl.AllowRebalance()
			return batchErr
		}
		if len(last) > 0 {
			if err := cl.CommitRecords(ctx, last...); err != nil {
				cl.AllowRebalance()
				return fmt.Errorf("commit offsets: %w", err)
			}
		}
		cl.AllowRebalance()
	}
}

// partState is what the store knows of one partition.
type partState struct {
	// Next is the first offset not yet stored.
	Next int64 `json:"next"`
	// Pending is a batch being stored: its objects may be partly written.
	Pending *pending `json:"pending,omitempty"`
	// Recent are the event ids of the last RecentIDs records stored, oldest
	// first.
	Recent []string `json:"recent,omitempty"`
}

type pending struct {
	First int64    `json:"first"`
	Last  int64    `json:"last"`
	Keys  []string `json:"keys"` // under the stream's uri
}

func (c *Consumer) stateKey(p int32) string {
	return fmt.Sprintf("_kafka/%s/%s/%d.json", c.k.Group, c.k.Topic, p)
}

// state returns partition p's state, reading it (and rolling back a batch a
// dead predecessor left pending) at the first batch after an assignment.
func (c *Consumer) state(ctx context.Context, p int32) (*partState, error) {
	c.mu.Lock()
	s := c.parts[p]
	c.mu.Unlock()
	if s != nil {
		return s, nil
	}
	s = &partState{}
	data, err := c.get(ctx, c.stateKey(p))
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("read the stream's state: %w", err)
	default:
		if err := json.Unmarshal(data, s); err != nil {
			return nil, fmt.Errorf("the stream's state %s is corrupt (%v): move it away to store the partition again from the committed offset", c.stateKey(p), err)
		}
	}
	if s.Pending != nil {
		c.log.Warn("rolling back a batch a stopped consumer left half-stored", "partition", p, "first", s.Pending.First, "last", s.Pending.Last, "objects", len(s.Pending.Keys))
		for _, k := range s.Pending.Keys {
			if err := c.del(ctx, k); err != nil {
				return nil, fmt.Errorf("roll back %s: %w", k, err)
			}
		}
		s.Pending = nil
		if err := c.putState(ctx, p, s); err != nil {
			return nil, err
		}
	}
	c.mu.Lock()
	c.parts[p] = s
	c.mu.Unlock()
	return s, nil
}

// storeBatch stores the records of one partition (in offset order) and
// updates its state; the caller commits the offsets afterwards.
func (c *Consumer) storeBatch(ctx context.Context, p int32, recs []*kgo.Record) error {
	s, err := c.state(ctx, p)
	if err != nil {
		return err
	}
	for len(recs) > 0 && recs[0].Offset < s.Next {
		recs = recs[1:] // stored before a crash, not yet committed
	}
	if len(recs) == 0 {
		return nil
	}
	first, last := recs[0].Offset, recs[len(recs)-1].Offset
	now := c.opts.Now().UTC()
	seen := make(map[string]bool, len(s.Recent)+len(recs))
	for _, id := range s.Recent {
		seen[id] = true
	}
	groups := map[string][]byte{}
	var order []string
	var rejected []byte
	var ids []string
	dups := 0
	for _, r := range recs {
		rec, err := ingest.Validate(r.Value, &c.model, c.groundTruth, now)
		if err != nil {
			line, _ := json.Marshal(map[string]any{"offset": r.Offset, "partition": p, "error": err.Error(), "value": string(r.Value)})
			rejected = append(append(rejected, line...), '\n')
			c.log.Error("kafka record rejected; kept under _kafka/.../rejected", "partition", p, "offset", r.Offset, "err", err)
			continue
		}
		if seen[rec.EventID] {
			dups++
			continue
		}
		seen[rec.EventID] = true
		ids = append(ids, rec.EventID)
		key := fmt.Sprintf("%s/kafka-%s-%d-%020d.jsonl", ingest.Partition(rec.Hour), c.k.Topic, p, first)
		if _, ok := groups[key]; !ok {
			order = append(order, key)
		}
		groups[key] = append(append(groups[key], rec.Line...), '\n')
	}
	if len(rejected) > 0 {
		key := fmt.Sprintf("_kafka/%s/%s/rejected/%d-%020d.jsonl", c.k.Group, c.k.Topic, p, first)
		order = append(order, key)
		groups[key] = rejected
	}
	if dups > 0 {
		c.log.Info("kafka records with an event id already stored were dropped", "partition", p, "duplicates", dups)
	}
	next := &partState{Next: last + 1, Recent: s.Recent}
	if len(order) > 0 {
		// (1) name the objects, (2) write them, (3) move past the batch.
		s.Pending = &pending{First: first, Last: last, Keys: order}
		if err := c.putState(ctx, p, s); err != nil {
			s.Pending = nil
			return err
		}
		for _, key := range order {
			if err := c.put(ctx, key, groups[key]); err != nil {
				// Left pending: the next consumer of p rolls it back.
				c.forget(ctx, nil, map[string][]int32{c.k.Topic: {p}})
				return fmt.Errorf("store %s: %w", key, err)
			}
		}
		next.Recent = append(append([]string(nil), s.Recent...), ids...)
		if n := len(next.Recent); n > RecentIDs {
			next.Recent = next.Recent[n-RecentIDs:]
		}
	}
	if err := c.putState(ctx, p, next); err != nil {
		c.forget(ctx, nil, map[string][]int32{c.k.Topic: {p}})
		return err
	}
	c.mu.Lock()
	c.parts[p] = next
	c.mu.Unlock()
	c.log.Debug("kafka batch stored", "partition", p, "first", first, "last", last, "records", len(ids), "objects", len(order))
	return nil
}

func (c *Consumer) putState(ctx context.Context, p int32, s *partState) error {
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := c.put(ctx, c.stateKey(p), data); err != nil {
		return fmt.Errorf("write the stream's state: %w", err)
	}
	return nil
}

func (c *Consumer) put(ctx context.Context, key string, data []byte) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.StoreTimeout)
	defer cancel()
	_, err := c.st.PutObject(ctx, c.src.URI, key, data)
	return err
}

func (c *Consumer) get(ctx context.Context, key string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.StoreTimeout)
	defer cancel()
	return c.st.GetObject(ctx, c.src.URI, key)
}

func (c *Consumer) del(ctx context.Context, key string) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.StoreTimeout)
	defer cancel()
	return c.st.DeleteObject(ctx, c.src.URI, key)
}
