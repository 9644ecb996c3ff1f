package kafka

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/store"
	"github.com/vigilml/vigil/store/ingest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// model is a model whose predictions and labels arrive over Kafka.
func model(dir string, brokers []string, topic string) config.Model {
	return config.Model{
		Name:    "churn",
		Task:    "binary",
		Columns: config.Columns{Target: "label", Prediction: "prediction"},
		Source: config.Source{URI: "file://" + filepath.Join(dir, "pred"), Format: "jsonl",
			Kafka: &config.Kafka{Brokers: brokers, Topic: topic, Group: "vigil-churn-predictions"}},
		GroundTruth: config.Source{URI: "file://" + filepath.Join(dir, "gt"), Format: "jsonl",
			Kafka: &config.Kafka{Brokers: brokers, Topic: topic + "-labels", Group: "vigil-churn-ground-truth"}},
	}
}

// prediction is record i; even records fall in the hour 10:00, odd ones in
// 11:00, so a batch is stored as two objects.
func prediction(i int) []byte {
	return fmt.Appendf(nil, `{"event_id":"e%06d","time":"2026-03-01T%02d:%02d:00Z","prediction":1,"features":{"x":%d}}`, i, 10+i%2, i%60, i)
}

// stored reads every record stored under root (the state and rejected
// records under _kafka/ aside) and counts them by event id.
func stored(t *testing.T, root string) (map[string]int, []string) {
	t.Helper()
	counts := map[string]int{}
	var keys []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if os.IsNotExist(err) {
			return nil
		}
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			if rel == "_kafka" {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		keys = append(keys, filepath.ToSlash(rel))
		f, err := os.Open(p)
		if os.IsNotExist(err) {
			return nil // rolled back by a running consumer since the walk listed it
		}
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var rec struct {
				EventID string `json:"event_id"`
			}
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				return fmt.Errorf("%s: %v", p, err)
			}
			counts[rec.EventID]++
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(keys)
	return counts, keys
}

func produce(t *testing.T, brokers []string, topic string, values ...[]byte) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, len(values))
	for i, v := range values {
		recs[i] = &kgo.Record{Value: v}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func runConsumer(t *testing.T, m config.Model, groundTruth bool, st Store, opts Options) (stop func()) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	if opts.Backoff == 0 {
		opts.Backoff = 100 * time.Millisecond
	}
	c, err := New(m, groundTruth, st, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	return func() { cancel(); <-done }
}

// Records consumed from Kafka are stored exactly as the ingest API stores the
// same records: the same normalized lines in the same hour partitions
// (predictions by their time, labels by arrival).
func TestStoresLikeTheIngestAPI(t *testing.T) {
	c := kfake.MustCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "preds", "preds-labels"))
	defer c.Close()
	dir := t.TempDir()
	m := model(dir, c.ListenAddrs(), "preds")
	now := time.Date(2026, 3, 2, 8, 30, 0, 0, time.UTC)
	preds := [][]byte{
		[]byte(`{"event_id":"a","time":"2026-03-01T10:05:00Z","prediction":1,"features":{"x":1.5}}`),
		[]byte(`{"event_id":7,"time":1772362800,"prediction":0,"score":0.2}`),
	}
	labels := [][]byte{[]byte(`{"event_id":"a","label":1}`), []byte(`{"event_id":7,"target":0}`)}
	produce(t, c.ListenAddrs(), "preds", preds...)
	produce(t, c.ListenAddrs(), "preds-labels", labels...)
	st := store.New(config.Storage{})
	for _, gt := range []bool{false, true} {
		stop := runConsumer(t, m, gt, st, Options{Now: func() time.Time { return now }})
		root := filepath.Join(dir, "pred")
		if gt {
			root = filepath.Join(dir, "gt")
		}
		waitFor(t, 20*time.Second, "two records", func() bool { n, _ := stored(t, root); return len(n) == 2 })
		stop()
	}

	// The same records through the HTTP API, into another directory.
	httpDir := t.TempDir()
	hm := model(httpDir, nil, "preds")
	h := ingest.New([]config.Model{hm}, store.New(config.Storage{}), ingest.Options{Now: func() time.Time { return now }, RateLimit: -1})
	for path, body := range map[string][][]byte{"predictions": preds, "ground-truth": labels} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/models/churn/"+path, bytes.NewReader(bytes.Join(body, []byte("\n")))))
		if rec.Code != http.StatusOK {
			t.Fatalf("HTTP ingest %s: %d %s", path, rec.Code, rec.Body)
		}
	}
	for _, sub := range []string{"pred", "gt"} {
		viaKafka, viaHTTP := linesByHour(t, filepath.Join(dir, sub)), linesByHour(t, filepath.Join(httpDir, sub))
		if fmt.Sprint(viaKafka) != fmt.Sprint(viaHTTP) {
			t.Errorf("%s: stored from Kafka\n%v\nfrom HTTP\n%v", sub, viaKafka, viaHTTP)
		}
	}
	if got := linesByHour(t, filepath.Join(dir, "gt")); len(got["2026/03/02/08"]) != 2 {
		t.Errorf("labels are filed under their arrival hour 2026/03/02/08: %v", got)
	}
}

// linesByHour maps each hour partition under root to its sorted lines.
func linesByHour(t *testing.T, root string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	_, keys := stored(t, root)
	for _, k := range keys {
		data, err := os.ReadFile(filepath.Join(root, k))
		if err != nil {
			t.Fatal(err)
		}
		hour := k[:len("2026/03/01/10")]
		out[hour] = append(out[hour], strings.Split(strings.TrimSpace(string(data)), "\n")...)
		sort.Strings(out[hour])
	}
	return out
}

// flakyStore fails chosen writes, as a store outage or a crash between two
// writes would leave things.
type flakyStore struct {
	Store
	fail func(key string) bool
}

func (f flakyStore) PutObject(ctx context.Context, root, key string, data []byte) (string, error) {
	if f.fail(key) {
		return "", fmt.Errorf("injected failure writing %s", key)
	}
	return f.Store.PutObject(ctx, root, key, data)
}

func fetched(offsets ...int64) []*kgo.Record {
	recs := make([]*kgo.Record, len(offsets))
	for i, o := range offsets {
		recs[i] = &kgo.Record{Topic: "preds", Partition: 0, Offset: o, Value: prediction(int(o))}
	}
	return recs
}

func label(i int) *kgo.Record {
	return &kgo.Record{Topic: "preds-labels", Offset: int64(i), Value: fmt.Appendf(nil, `{"event_id":"e%06d","label":%d}`, i, i%2)}
}

// The store, not Kafka, knows what is stored: a batch stored but not
// committed is skipped when it comes again, a batch half-written by a
// consumer that died is rolled back before it is stored again, and a record
// whose event id was stored recently (a producer's retry) is dropped.
func TestBatchesAreStoredOnce(t *testing.T) {
	ctx := context.Background()
	// Failures that stop a consumer between its writes.
	secondHour := func(key string) bool { return strings.HasPrefix(key, "2026/03/01/11/") }
	finalState := func() func(string) bool {
		n := 0
		return func(key string) bool {
			if strings.HasPrefix(key, "_kafka/") && strings.HasSuffix(key, "/0.json") {
				n++
				return n == 2 // the first names the batch pending, the second would close it
			}
			return false
		}
	}
	cases := []struct {
		name        string
		groundTruth bool
		batches     [][]*kgo.Record
		failAt      int // 1-based index of the batch whose consumer dies mid-way (0: none)
		fail        func() func(key string) bool
		want        int // distinct records stored
	}{
		{"redelivered after a lost commit", false, [][]*kgo.Record{fetched(0, 1, 2), fetched(0, 1, 2, 3)}, 0, nil, 4},
		{"redelivered after a death between two objects", false, [][]*kgo.Record{fetched(0, 1, 2), fetched(0, 1, 2, 3, 4)}, 1, func() func(string) bool { return secondHour }, 5},
		{"redelivered shorter after a death between two objects", false, [][]*kgo.Record{fetched(0, 1, 2, 3), fetched(0, 1), fetched(2, 3)}, 1, func() func(string) bool { return secondHour }, 4},
		{"labels redelivered an hour later after a death before the state moved", true, [][]*kgo.Record{{label(0), label(1)}, {label(0), label(1), label(2)}}, 1, finalState, 3},
		{"a producer's retry at a later offset", false, [][]*kgo.Record{fetched(0, 1), {{Topic: "preds", Offset: 2, Value: prediction(1)}}}, 0, nil, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			m := model(dir, []string{"127.0.0.1:1"}, "preds")
			st := store.New(config.Storage{})
			for i, b := range tc.batches {
				var s Store = st
				if i+1 == tc.failAt {
					s = flakyStore{Store: st, fail: tc.fail()}
				}
				// Each batch arrives an hour after the one before.
				now := time.Date(2026, 3, 2, 8+i, 0, 0, 0, time.UTC)
				c, err := New(m, tc.groundTruth, s, Options{Logger: quiet, Now: func() time.Time { return now }})
				if err != nil {
					t.Fatal(err)
				}
				err = c.storeBatch(ctx, 0, b)
				if (err != nil) != (i+1 == tc.failAt) {
					t.Fatalf("batch %d: err %v", i+1, err)
				}
			}
			root := filepath.Join(dir, "pred")
			if tc.groundTruth {
				root = filepath.Join(dir, "gt")
			}
			counts, keys := stored(t, root)
			if len(counts) != tc.want {
				t.Errorf("stored %d distinct records, want %d: %v", len(counts), tc.want, counts)
			}
			for id, n := range counts {
				if n != 1 {
					t.Errorf("event %s stored %d times (objects %v)", id, n, keys)
				}
			}
		})
	}
}

// A record that does not validate is kept with its error and offset, and
// the records around it are stored.
func TestRejectedRecordsAreKept(t *testing.T) {
	dir := t.TempDir()
	m := model(dir, []string{"127.0.0.1:1"}, "preds")
	c, err := New(m, false, store.New(config.Storage{}), Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	batch := append(fetched(0), &kgo.Record{Offset: 1, Value: []byte(`{"event_id":"x","features":{}}`)}, &kgo.Record{Offset: 2, Value: []byte(`not json`)})
	batch = append(batch, fetched(3)...)
	if err := c.storeBatch(context.Background(), 0, batch); err != nil {
		t.Fatal(err)
	}
	if counts, _ := stored(t, filepath.Join(dir, "pred")); len(counts) != 2 || counts["e000000"] != 1 || counts["e000003"] != 1 {
		t.Errorf("stored %v, want e000000 and e000003", counts)
	}
	data, err := os.ReadFile(filepath.Join(dir, "pred", "_kafka", "vigil-churn-predictions", "preds", "rejected", "0-00000000000000000000.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var got []struct {
		Offset int64  `json:"offset"`
		Error  string `json:"error"`
		Value  string `json:"value"`
	}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var r struct {
			Offset int64  `json:"offset"`
			Error  string `json:"error"`
			Value  string `json:"value"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if len(got) != 2 || got[0].Offset != 1 || got[0].Error != "prediction: required" || got[1].Offset != 2 || got[1].Value != "not json" || !strings.Contains(got[1].Error, "not a JSON object") {
		t.Errorf("rejected %+v", got)
	}
}
