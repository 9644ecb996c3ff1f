package kafkaconn

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/vigilml/vigil/config"
)

// The options authenticate to a broker that requires SASL (kfake, with a
// SCRAM-SHA-256 user), with the credentials read from the variables the
// config names; a wrong password is refused by the broker.
func TestSASLAgainstKfake(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"), kfake.EnableSASL(),
		kfake.Superuser("SCRAM-SHA-256", "vigil", "s3cret-pass"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	k := config.Kafka{Brokers: c.ListenAddrs(), Topic: "t", SASLMechanism: "scram-sha-256", SASLUserEnv: "U", SASLPasswordEnv: "P"}
	produce := func(pass string) error {
		opts, err := Opts(k, func(name string) string { return map[string]string{"U": "vigil", "P": pass}[name] })
		if err != nil {
			return err
		}
		cl, err := kgo.NewClient(append(opts, kgo.DefaultProduceTopic("t"), kgo.RecordRetries(1), kgo.RequestRetries(1))...)
		if err != nil {
			return err
		}
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		return cl.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr()
	}
	if err := produce("s3cret-pass"); err != nil {
		t.Fatalf("right credentials: %v", err)
	}
	if err := produce("wrong"); err == nil {
		t.Error("wrong password: produced; want the broker to refuse")
	}
}

// A variable that is not set is an error naming the variables, and a set
// one's value never appears in an error.
func TestSASLErrorsNameVariablesNotValues(t *testing.T) {
	k := config.Kafka{Brokers: []string{"k:9092"}, SASLMechanism: "plain", SASLUserEnv: "KAFKA_USER", SASLPasswordEnv: "KAFKA_PASS"}
	_, err := Opts(k, func(name string) string { return map[string]string{"KAFKA_USER": "alice-the-user"}[name] })
	if err == nil || !strings.Contains(err.Error(), "KAFKA_USER and KAFKA_PASS must be set") || strings.Contains(err.Error(), "alice-the-user") {
		t.Errorf("got %v; want an error naming KAFKA_USER and KAFKA_PASS, without the user's value", err)
	}
	if opts, err := Opts(config.Kafka{Brokers: []string{"k:9092"}}, nil); err != nil || len(opts) != 1 {
		t.Errorf("no TLS, no SASL: %d options, %v; want the seed brokers alone", len(opts), err)
	}
}
