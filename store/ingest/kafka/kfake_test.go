package kafka

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/store"
)

func predictions(from, to int) [][]byte {
	var out [][]byte
	for i := from; i < to; i++ {
		out = append(out, prediction(i))
	}
	return out
}

// exactlyOnce fails unless every record 0..n-1 is stored once.
func exactlyOnce(t *testing.T, root string, n int) {
	t.Helper()
	counts, _ := stored(t, root)
	if len(counts) != n {
		t.Errorf("stored %d distinct records, want %d", len(counts), n)
	}
	for i := range n {
		if id := fmt.Sprintf("e%06d", i); counts[id] != 1 {
			t.Errorf("record %s stored %d times", id, counts[id])
		}
	}
}

// committed is the group's committed offset of partition 0 of topic.
func committed(t *testing.T, brokers []string, group, topic string) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsgOffsetFetch(group, topic)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range resp.Groups {
		for _, tp := range g.Topics {
			for _, p := range tp.Partitions {
				if p.Partition == 0 {
					return p.Offset
				}
			}
		}
	}
	return -1
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// A broker that goes away and comes back (kfake persists its log and the
// group's offsets in a data directory) loses nothing and duplicates nothing:
// the consumer reconnects and goes on from the committed offsets.
func TestBrokerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts a broker")
	}
	data, port := t.TempDir(), freePort(t)
	start := func() *kfake.Cluster {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.DataDir(data), kfake.SeedTopics(1, "preds"),
			kfake.GroupMinSessionTimeout(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := start()
	brokers := c.ListenAddrs()
	dir := t.TempDir()
	m := model(dir, brokers, "preds")
	root := filepath.Join(dir, "pred")
	produce(t, brokers, "preds", predictions(0, 300)...)
	stop := runConsumer(t, m, false, slowStore{store.New(config.Storage{})}, Options{MaxPollRecords: 20,
		// A consumer that reconnects as a new member waits for the old
		// member's session to time out; keep that short.
		ClientOpts: []kgo.Opt{kgo.SessionTimeout(2 * time.Second), kgo.HeartbeatInterval(300 * time.Millisecond)}})
	defer stop()
	waitFor(t, 30*time.Second, "the first records", func() bool { n, _ := stored(t, root); return len(n) > 0 })

	c.Close()
	if n, _ := stored(t, root); len(n) >= 300 {
		t.Fatalf("all records were stored before the broker stopped: the restart did not land mid-consume")
	}
	time.Sleep(time.Second) // the consumer's fetches and commits fail meanwhile
	c = start()
	defer c.Close()
	produce(t, brokers, "preds", predictions(300, 600)...)
	waitFor(t, 60*time.Second, "600 records", func() bool { n, _ := stored(t, root); return len(n) >= 600 })
	waitFor(t, 30*time.Second, "the offsets committed", func() bool { return committed(t, brokers, m.Source.Kafka.Group, "preds") == 600 })
	exactlyOnce(t, root, 600)
}

// The helper process for TestKillMidConsume: a consumer that stores slowly,
// so that a kill lands mid-batch.
func TestMain(m *testing.M) {
	if os.Getenv("VIGIL_KAFKA_HELPER") == "1" {
		os.Exit(consumeForever())
	}
	os.Exit(m.Run())
}

type slowStore struct{ Store }

func (s slowStore) PutObject(ctx context.Context, root, key string, data []byte) (string, error) {
	time.Sleep(5 * time.Millisecond)
	return s.Store.PutObject(ctx, root, key, data)
}

func consumeForever() int {
	dir, brokers := os.Getenv("VIGIL_KAFKA_DIR"), strings.Split(os.Getenv("VIGIL_KAFKA_BROKERS"), ",")
	c, err := New(model(dir, brokers, "preds"), false, slowStore{store.New(config.Storage{})}, Options{
		MaxPollRecords: 40, Backoff: 100 * time.Millisecond,
		// The replacement joins at once; a killed member's partitions are
		// given up after its session times out.
		ClientOpts: []kgo.Opt{kgo.SessionTimeout(time.Second), kgo.HeartbeatInterval(200 * time.Millisecond)},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	c.Run(context.Background())
	return 0
}

// Every record Kafka acknowledged is stored exactly once although consumer
// processes are killed with SIGKILL mid-consume, again and again.
func TestKillMidConsume(t *testing.T) {
	if testing.Short() {
		t.Skip("kills consumer processes")
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "preds"),
		kfake.GroupMinSessionTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := c.ListenAddrs()
	dir := t.TempDir()
	root := filepath.Join(dir, "pred")
	kills := 3
	if v, err := strconv.Atoi(os.Getenv("VIGIL_KAFKA_KILLS")); err == nil && v > 0 {
		kills = v
	}
	n := max(2000, 200*kills)
	produce(t, brokers, "preds", predictions(0, n)...)
	spawn := func() (*exec.Cmd, *bytes.Buffer) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "VIGIL_KAFKA_HELPER=1", "VIGIL_KAFKA_DIR="+dir, "VIGIL_KAFKA_BROKERS="+strings.Join(brokers, ","))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd, &stderr
	}
	progress, rollbacks := 0, 0
	for kill := 1; kill <= kills; kill++ {
		cmd, stderr := spawn()
		waitFor(t, 60*time.Second, "progress", func() bool { c, _ := stored(t, root); return len(c) > progress })
		time.Sleep(time.Duration(kill%7*13) * time.Millisecond) // land at different points of a batch
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		// This process rolled back what the one before left half-stored.
		rollbacks += strings.Count(stderr.String(), "rolling back a batch")
		counts, _ := stored(t, root)
		progress = len(counts)
		if progress >= n {
			t.Fatalf("all %d records were stored before kill %d: the kills did not land mid-consume", n, kill)
		}
	}
	t.Logf("%d kills; %d half-stored batches rolled back by the next (killed) process; %d of %d records stored by then", kills, rollbacks, progress, n)
	cmd, _ := spawn()
	waitFor(t, 120*time.Second, "every record", func() bool { c, _ := stored(t, root); return len(c) >= n })
	waitFor(t, 30*time.Second, "the offsets committed", func() bool { return committed(t, brokers, "vigil-churn-predictions", "preds") == int64(n) })
	cmd.Process.Kill()
	cmd.Wait()
	exactlyOnce(t, root, n)
}

func kmsgOffsetFetch(group, topic string) *kmsg.OffsetFetchRequest {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic = topic
	rt.Partitions = []int32{0}
	req.Topics = append(req.Topics, rt)
	return req
}
