package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/store"
)

const topic = "vigil.audit"

func cluster(t *testing.T, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(3, topic)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func newOutbox(t *testing.T) *Outbox {
	return NewOutbox(store.New(config.Storage{}), "file://"+t.TempDir())
}

func publisher(o *Outbox, brokers []string) *Publisher {
	return &Publisher{Outbox: o, Kafka: config.Kafka{Brokers: brokers, Topic: topic}, DeliveryTimeout: 3 * time.Second,
		Interval: 50 * time.Millisecond}
}

// event i of a model, recorded in that order.
func event(model string, i int) Event {
	typ := Types[i%len(Types)]
	return New(Source("default"), typ, time.Date(2026, 12, 1, 10, 0, i, 0, time.UTC),
		Data{Model: model, ModelVersion: fmt.Sprint(i), Reason: fmt.Sprintf("step %d", i)}, "wf-"+model, "run", fmt.Sprint(i))
}

func drain(t *testing.T, p *Publisher) int {
	t.Helper()
	cl, err := p.client()
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	n, err := p.Drain(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// published is a record as a consumer reads it.
type published struct {
	Partition int32
	Key       string
	Header    string
	Event     map[string]any
}

// consume reads the topic from its start until it has n records (failing
// after a minute).
func consume(t *testing.T, brokers []string, n int) []published {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out []published
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%d of %d records on %s after a minute", len(out), n, topic)
		}
		fs.EachRecord(func(r *kgo.Record) {
			var ev map[string]any
			if err := json.Unmarshal(r.Value, &ev); err != nil {
				t.Errorf("record %d/%d is not JSON: %v", r.Partition, r.Offset, err)
			}
			p := published{Partition: r.Partition, Key: string(r.Key), Event: ev}
			for _, h := range r.Headers {
				if h.Key == "content-type" {
					p.Header = string(h.Value)
				}
			}
			out = append(out, p)
		})
	}
	// Nothing beyond n: a short poll finds no more records.
	sctx, scancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer scancel()
	if more := cl.PollFetches(sctx).NumRecords(); more > 0 {
		t.Errorf("%d records beyond the %d expected", more, n)
	}
	return out
}

// validCloudEvent fails unless ev has the CloudEvents 1.0 required
// attributes and the ones Vigil promises.
func validCloudEvent(t *testing.T, p published) {
	t.Helper()
	ev := p.Event
	for _, attr := range []string{"specversion", "id", "source", "type", "subject", "time", "datacontenttype"} {
		if s, ok := ev[attr].(string); !ok || s == "" {
			t.Errorf("event %v: attribute %s missing or not a string", ev["id"], attr)
		}
	}
	if ev["specversion"] != "1.0" || ev["datacontenttype"] != "application/json" || p.Header != ContentType {
		t.Errorf("event %v: specversion %v, datacontenttype %v, content-type header %q", ev["id"], ev["specversion"], ev["datacontenttype"], p.Header)
	}
	if _, err := time.Parse(time.RFC3339, ev["time"].(string)); err != nil {
		t.Errorf("event %v: time %v is not RFC 3339", ev["id"], ev["time"])
	}
	data, _ := ev["data"].(map[string]any)
	if data == nil || data["model"] != ev["subject"] || p.Key != ev["subject"] {
		t.Errorf("event %v: key %q, subject %v, data.model %v: want the model thrice", ev["id"], p.Key, ev["subject"], data["model"])
	}
}

// Events of several models, recorded interleaved, arrive as valid
// CloudEvents keyed by model; each model's events are on one partition, in
// the order they were recorded.
func TestEventsArrivePerModelInOrder(t *testing.T) {
	c := cluster(t)
	o := newOutbox(t)
	models := []string{"churn", "fraud", "ltv"}
	var want = map[string][]string{}
	for i := range 30 {
		m := models[i%len(models)]
		ev := event(m, i)
		if err := o.Record(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
		want[m] = append(want[m], ev.ID)
	}
	if n := drain(t, publisher(o, c.ListenAddrs())); n != 30 {
		t.Fatalf("published %d, want 30", n)
	}
	got := map[string][]string{}
	partition := map[string]int32{}
	for _, p := range consume(t, c.ListenAddrs(), 30) {
		validCloudEvent(t, p)
		if q, ok := partition[p.Key]; ok && q != p.Partition {
			t.Errorf("model %s on partitions %d and %d", p.Key, q, p.Partition)
		}
		partition[p.Key] = p.Partition
		got[p.Key] = append(got[p.Key], p.Event["id"].(string))
	}
	for _, m := range models {
		if fmt.Sprint(got[m]) != fmt.Sprint(want[m]) {
			t.Errorf("model %s: ids in partition order %v, want the recording order %v", m, got[m], want[m])
		}
	}
	if n, _ := o.Pending(context.Background()); n != 0 {
		t.Errorf("%d events left in the outbox after a drain", n)
	}
}

// A step that runs twice (a retried activity) records the same event id:
// the outbox keeps one, before and after it is published.
func TestRecordedTwiceIsOneEvent(t *testing.T) {
	c := cluster(t)
	o := newOutbox(t)
	p := publisher(o, c.ListenAddrs())
	ev := event("churn", 1)
	retry := ev
	retry.Time = ev.Time.Add(time.Minute) // a later attempt
	for _, e := range []Event{ev, retry} {
		if err := o.Record(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	if n := drain(t, p); n != 1 {
		t.Errorf("published %d events for one step, want 1", n)
	}
	if err := o.Record(context.Background(), retry); err != nil { // after publication
		t.Fatal(err)
	}
	if n := drain(t, p); n != 0 {
		t.Errorf("a step retried after its event was published published %d more", n)
	}
	got := consume(t, c.ListenAddrs(), 1)
	if got[0].Event["id"] != ev.ID || got[0].Event["time"] != ev.Time.Format(time.RFC3339) {
		t.Errorf("published %v at %v; want the first recording, %s at %s", got[0].Event["id"], got[0].Event["time"], ev.ID, ev.Time.Format(time.RFC3339))
	}
}

// While no broker answers, recording succeeds (activities do not fail) and
// the events wait in the outbox; once the broker is back, the running
// publisher delivers every one of them, once.
func TestKafkaOutageDelaysEventsLosesNone(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a publisher to retry")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // nothing listens: Kafka is down
	brokers := []string{fmt.Sprintf("127.0.0.1:%d", port)}
	o := newOutbox(t)
	p := publisher(o, brokers)
	p.DeliveryTimeout = time.Second
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	for i := range 20 {
		if err := o.Record(ctx, event([]string{"churn", "fraud"}[i%2], i)); err != nil {
			t.Fatalf("record while Kafka is down: %v", err)
		}
	}
	// The publisher tries at least once meanwhile, and fails.
	cl, err := p.client()
	if err != nil {
		t.Fatal(err)
	}
	if n, err := p.Drain(ctx, cl); n != 0 || err == nil {
		t.Errorf("drain with Kafka down: %d published, err %v; want 0 and an error", n, err)
	}
	cl.Close()
	if n, _ := o.Pending(ctx); n != 20 {
		t.Fatalf("%d events in the outbox while Kafka is down, want 20", n)
	}

	c := cluster(t, kfake.Ports(port)) // Kafka is back
	got := consume(t, c.ListenAddrs(), 20)
	seen := map[string]int{}
	for _, r := range got {
		validCloudEvent(t, r)
		seen[r.Event["id"].(string)]++
	}
	for i := range 20 {
		if id := event([]string{"churn", "fraud"}[i%2], i).ID; seen[id] != 1 {
			t.Errorf("event %d published %d times, want 1", i, seen[id])
		}
	}
	waitFor(t, "an empty outbox", func() bool { n, _ := o.Pending(ctx); return n == 0 })
}

// What we claim: at-least-once with a stable id. A publisher that dies
// after Kafka acknowledged a batch and before marking it sent leaves the
// batch in the outbox; the next publisher sends it again, with the same
// ids, so a consumer that drops ids it has seen gets every event once, and
// nothing is lost.
func TestPublisherCrashBetweenAckAndMarkRepublishesSameIDs(t *testing.T) {
	c := cluster(t)
	o := newOutbox(t)
	var ids []string
	for i := range 10 {
		ev := event("churn", i)
		ids = append(ids, ev.ID)
		if err := o.Record(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	crashing := publisher(o, c.ListenAddrs())
	crash := errors.New("killed")
	crashing.beforeMark = func() error { return crash }
	cl, err := crashing.client()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := crashing.Drain(context.Background(), cl); !errors.Is(err, crash) {
		t.Fatalf("crashing drain: %v", err)
	}
	cl.Close()
	if n, _ := o.Pending(context.Background()); n != 10 {
		t.Fatalf("%d events in the outbox after the crash, want all 10", n)
	}
	if n := drain(t, publisher(o, c.ListenAddrs())); n != 10 {
		t.Errorf("the restarted publisher published %d, want the 10 unmarked", n)
	}
	got := consume(t, c.ListenAddrs(), 20)
	count := map[string]int{}
	var firstCopy []string
	for _, r := range got {
		id := r.Event["id"].(string)
		if count[id] == 0 {
			firstCopy = append(firstCopy, id)
		}
		count[id]++
	}
	for _, id := range ids {
		if count[id] != 2 {
			t.Errorf("event %s on the topic %d times; the claim is: acknowledged-but-unmarked events are sent again (twice here)", id, count[id])
		}
	}
	if fmt.Sprint(firstCopy) != fmt.Sprint(ids) {
		t.Errorf("deduplicated by id: %v, want every event once, in order %v", firstCopy, ids)
	}
	if n := drain(t, publisher(o, c.ListenAddrs())); n != 0 {
		t.Errorf("a third drain published %d, want 0", n)
	}
}

// Recording refuses an event that is not one of ours.
func TestRecordRefusesUnknownEvents(t *testing.T) {
	o := newOutbox(t)
	for _, ev := range []Event{
		{ID: "x", Type: "io.vigil.something", Subject: "churn"},
		{Type: IncidentOpened, Subject: "churn"},
		{ID: "x", Type: IncidentOpened},
	} {
		if err := o.Record(context.Background(), ev); err == nil {
			t.Errorf("recorded %+v", ev)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after a minute", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A silence's event is identified by the silence (model, rule, end): sent
// twice it is one event, and another silence is another event.
func TestSilenceEventID(t *testing.T) {
	until := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	a := Silenced(Source("default"), "churn", "", "alice", time.Hour, until)
	b := Silenced(Source("default"), "churn", "", "bob", time.Hour, until)
	later := Silenced(Source("default"), "churn", "", "alice", time.Hour, until.Add(time.Minute))
	if a.ID != b.ID || a.ID == later.ID {
		t.Errorf("ids %s, %s, %s: want the same silence once, another silence apart", a.ID, b.ID, later.ID)
	}
	if a.Data.Incident.Rule != "*" || !a.Time.Equal(until.Add(-time.Hour)) || a.Type != IncidentSilenced || a.Subject != "churn" {
		t.Errorf("silence event %+v", a)
	}
	o := newOutbox(t)
	rec := SilenceRecorder(o, "default")
	for range 2 {
		if err := rec(context.Background(), "churn", "", "alice", time.Hour, until); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := o.Pending(context.Background()); n != 1 {
		t.Errorf("%d events for one silence recorded twice, want 1", n)
	}
}
