package audit

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/internal/kafkaconn"
)

// Defaults for Publisher.
const (
	DefaultInterval        = 5 * time.Second
	DefaultDeliveryTimeout = 30 * time.Second
	DefaultBatch           = 500
)

// Publisher drains an Outbox to a Kafka topic. One runs in each worker;
// several (workers sharing storage.registry) may run at once: an event two
// of them publish is a duplicate with one id, as after a crash.
type Publisher struct {
	Outbox *Outbox
	Kafka  config.Kafka
	// Getenv reads the SASL credentials the config names (os.Getenv).
	Getenv func(string) string
	// Interval is how often the outbox is looked at when no event was
	// recorded in this process (DefaultInterval); after an error the wait
	// doubles up to a minute.
	Interval time.Duration
	// DeliveryTimeout bounds how long one batch waits for Kafka
	// (DefaultDeliveryTimeout): then it stays in the outbox for the next try.
	DeliveryTimeout time.Duration
	// ClientOpts are added to the Kafka client's (tests).
	ClientOpts []kgo.Opt
	Logger     *slog.Logger

	// beforeMark, in tests, runs after Kafka acknowledged a batch and before
	// it is marked sent; an error stops the drain there (a crash).
	beforeMark func() error
	lastPrune  time.Time
}

func (p *Publisher) log() *slog.Logger {
	if p.Logger == nil {
		return slog.Default()
	}
	return p.Logger
}

func (p *Publisher) client() (*kgo.Client, error) {
	opts, err := kafkaconn.Opts(p.Kafka, p.Getenv)
	if err != nil {
		return nil, err
	}
	timeout := p.DeliveryTimeout
	if timeout <= 0 {
		timeout = DefaultDeliveryTimeout
	}
	opts = append(opts,
		kgo.DefaultProduceTopic(p.Kafka.Topic),
		// Every in-sync replica has the event before it counts as
		// published; the idempotent producer (franz-go's default, kept on)
		// writes a retried batch once and in order.
		kgo.RequiredAcks(kgo.AllISRAcks()),
		// The key (the model) picks the partition: a model's events stay
		// in order.
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.RecordDeliveryTimeout(timeout),
	)
	return kgo.NewClient(append(opts, p.ClientOpts...)...)
}

// Run drains the outbox until ctx is done. Kafka errors are logged and the
// events stay in the outbox; the next drain tries again.
func (p *Publisher) Run(ctx context.Context) error {
	interval := p.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	wait := interval
	var cl *kgo.Client
	defer func() {
		if cl != nil {
			cl.Close()
		}
	}()
	for {
		var err error
		if cl == nil {
			cl, err = p.client()
		}
		if err == nil {
			var n int
			n, err = p.Drain(ctx, cl)
			if n > 0 {
				p.log().Debug("audit events published", "events", n, "topic", p.Kafka.Topic)
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			left, _ := p.Outbox.Pending(ctx)
			p.log().Error("audit events not published yet; they wait in the outbox", "topic", p.Kafka.Topic, "pending", left, "err", err, "retry_in", wait)
			// A fresh client next time: a failed idempotent producer may
			// hold a sequence Kafka no longer accepts.
			if cl != nil {
				cl.Close()
				cl = nil
			}
		} else {
			wait = interval
		}
		select {
		case <-ctx.Done():
			return nil
		case <-p.Outbox.wake:
		case <-time.After(wait):
		}
		if err != nil {
			wait = min(2*wait, time.Minute)
		}
	}
}

// Drain publishes what the outbox holds, oldest first, in batches, and
// returns how many events Kafka acknowledged. Within a model, an event is
// marked sent only when every earlier one was: a failed event and those
// after it are published again, in order, by the next drain.
func (p *Publisher) Drain(ctx context.Context, cl *kgo.Client) (int, error) {
	pending, err := p.Outbox.pending(ctx)
	if err != nil {
		return 0, err
	}
	batch := DefaultBatch
	timeout := p.DeliveryTimeout
	if timeout <= 0 {
		timeout = DefaultDeliveryTimeout
	}
	sent := 0
	failed := map[string]bool{} // models with an event Kafka did not take
	var errs []error
	for len(pending) > 0 {
		n := min(batch, len(pending))
		part := slices.DeleteFunc(slices.Clone(pending[:n]), func(e entry) bool { return failed[e.model] })
		pending = pending[n:]
		if len(part) == 0 {
			continue
		}
		recs := make([]*kgo.Record, len(part))
		for i, e := range part {
			recs[i] = &kgo.Record{Topic: p.Kafka.Topic, Key: []byte(e.model), Value: e.Event,
				Headers: []kgo.RecordHeader{{Key: "content-type", Value: []byte(ContentType)}}}
		}
		pctx, cancel := context.WithTimeout(ctx, timeout+10*time.Second)
		results := cl.ProduceSync(pctx, recs...)
		cancel()
		if p.beforeMark != nil {
			if err := p.beforeMark(); err != nil {
				return sent, err
			}
		}
		for i, r := range results {
			e := part[i]
			if r.Err != nil || failed[e.model] {
				if r.Err != nil {
					errs = append(errs, fmt.Errorf("event %s (%s): %w", e.id, e.model, r.Err))
				}
				failed[e.model] = true
				continue
			}
			if err := p.Outbox.markSent(ctx, e.id); err != nil {
				return sent, fmt.Errorf("mark audit event %s sent: %w", e.id, err)
			}
			sent++
		}
	}
	if len(errs) > 0 {
		return sent, fmt.Errorf("produce to %s: %d event(s) not acknowledged, first: %w", p.Kafka.Topic, len(errs), errs[0])
	}
	if now := time.Now(); now.Sub(p.lastPrune) > time.Hour {
		if n, err := p.Outbox.prune(ctx, now, SentRetention); err != nil {
			p.log().Warn("prune audit sent markers", "err", err)
		} else {
			p.lastPrune = now
			if n > 0 {
				p.log().Debug("audit sent markers pruned", "markers", n)
			}
		}
	}
	return sent, nil
}

// Flush publishes what the outbox holds now with a client of its own (a
// drain outside Run).
func (p *Publisher) Flush(ctx context.Context) (int, error) {
	cl, err := p.client()
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	return p.Drain(ctx, cl)
}
