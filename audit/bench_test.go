package audit

import (
	"context"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/store"
)

// BenchmarkRecordAndPublish: one event recorded in a local outbox and
// published to kfake, per op (in batches of 100).
//
//	go test -run '^$' -bench RecordAndPublish -benchmem ./audit
func BenchmarkRecordAndPublish(b *testing.B) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, topic))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	o := NewOutbox(store.New(config.Storage{}), "file://"+b.TempDir())
	p := &Publisher{Outbox: o, Kafka: config.Kafka{Brokers: c.ListenAddrs(), Topic: topic}}
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := o.Record(ctx, event(fmt.Sprint("m", i%5), i)); err != nil {
			b.Fatal(err)
		}
		if i%100 == 99 {
			if _, err := p.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
}
