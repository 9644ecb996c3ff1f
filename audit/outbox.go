package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vigilml/vigil/store"
)

// Store is where the outbox lives; *store.Store implements it.
type Store interface {
	PutObject(ctx context.Context, rootURI, key string, data []byte) (string, error)
	GetObject(ctx context.Context, rootURI, key string) ([]byte, error)
	DeleteObject(ctx context.Context, rootURI, key string) error
	ListObjects(ctx context.Context, rootURI, prefix string) ([]store.ObjectInfo, error)
}

// Outbox keys, under the outbox's root.
const (
	outboxPrefix = "audit/outbox/"
	sentPrefix   = "audit/sent/"
)

// SentRetention is how long a published event's sent marker is kept: an
// activity retried within it does not record the event again.
const SentRetention = 7 * 24 * time.Hour

// Outbox holds the events recorded and not yet published, under Root
// (storage.registry: a directory or an S3 prefix).
type Outbox struct {
	Store Store
	Root  string
	// Now stamps the order of recording (time.Now).
	Now func() time.Time

	wake chan struct{}
	mu   sync.Mutex
	last time.Time // the latest recording stamp: stamps strictly increase
}

// NewOutbox returns the outbox under root.
func NewOutbox(st Store, root string) *Outbox {
	return &Outbox{Store: st, Root: root, Now: time.Now, wake: make(chan struct{}, 1)}
}

// entry is an outbox object: the event and when it was recorded, which
// orders publication.
type entry struct {
	Recorded time.Time       `json:"recorded"`
	Event    json.RawMessage `json:"event"`

	id    string
	model string
}

// Record writes ev to the outbox unless an event with its id is there
// already or was published (a retried step): the first recording wins.
// It returns once the event is durable; publishing is the Publisher's.
func (o *Outbox) Record(ctx context.Context, ev Event) error {
	if ev.ID == "" || !slices.Contains(Types, ev.Type) || ev.Subject == "" {
		return fmt.Errorf("audit event %q of type %q about %q: want an id, a known type and a model", ev.ID, ev.Type, ev.Subject)
	}
	for _, key := range []string{sentPrefix + ev.ID, outboxPrefix + ev.ID + ".json"} {
		_, err := o.Store.GetObject(ctx, o.Root, key)
		if err == nil {
			return nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("audit outbox: %w", err)
		}
	}
	body, err := marshal(ev)
	if err != nil {
		return err
	}
	data, err := marshal(entry{Recorded: o.stamp(), Event: body})
	if err != nil {
		return err
	}
	if _, err := o.Store.PutObject(ctx, o.Root, outboxPrefix+ev.ID+".json", data); err != nil {
		return fmt.Errorf("audit outbox: %w", err)
	}
	if o.wake != nil {
		select {
		case o.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// marshal is json.Marshal without HTML escaping: a threshold reads
// "< 0.85", not "\u003c 0.85".
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// stamp is the recording time: the clock's, or just after the previous
// stamp when the clock did not move (or went back), so that two events
// recorded one after the other in this process are published in that order.
func (o *Outbox) stamp() time.Time {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	t := now().UTC()
	if !t.After(o.last) {
		t = o.last.Add(time.Nanosecond)
	}
	o.last = t
	return t
}

// pending returns the outbox's events, oldest recording first.
func (o *Outbox) pending(ctx context.Context) ([]entry, error) {
	objs, err := o.Store.ListObjects(ctx, o.Root, outboxPrefix)
	if err != nil {
		return nil, fmt.Errorf("list the audit outbox: %w", err)
	}
	out := make([]entry, 0, len(objs))
	for _, obj := range objs {
		id, ok := strings.CutSuffix(strings.TrimPrefix(obj.Key, outboxPrefix), ".json")
		if !ok {
			continue
		}
		data, err := o.Store.GetObject(ctx, o.Root, obj.Key)
		if errors.Is(err, store.ErrNotFound) {
			continue // published meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", obj.Key, err)
		}
		var e entry
		var ev struct {
			Subject string `json:"subject"`
		}
		if err := json.Unmarshal(data, &e); err != nil || json.Unmarshal(e.Event, &ev) != nil {
			return nil, fmt.Errorf("audit outbox object %s is corrupt: move it away (its event is lost) or repair it", obj.Key)
		}
		e.id, e.model = id, ev.Subject
		out = append(out, e)
	}
	slices.SortStableFunc(out, func(a, b entry) int {
		if c := a.Recorded.Compare(b.Recorded); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	return out, nil
}

// markSent records that Kafka acknowledged the event, then takes it out of
// the outbox.
func (o *Outbox) markSent(ctx context.Context, id string) error {
	if _, err := o.Store.PutObject(ctx, o.Root, sentPrefix+id, []byte("{}")); err != nil {
		return err
	}
	return o.Store.DeleteObject(ctx, o.Root, outboxPrefix+id+".json")
}

// prune deletes sent markers older than retention.
func (o *Outbox) prune(ctx context.Context, now time.Time, retention time.Duration) (int, error) {
	objs, err := o.Store.ListObjects(ctx, o.Root, sentPrefix)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, obj := range objs {
		if now.Sub(obj.ModTime) > retention {
			if err := o.Store.DeleteObject(ctx, o.Root, obj.Key); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// Pending counts the events waiting to be published.
func (o *Outbox) Pending(ctx context.Context) (int, error) {
	objs, err := o.Store.ListObjects(ctx, o.Root, outboxPrefix)
	return len(objs), err
}
