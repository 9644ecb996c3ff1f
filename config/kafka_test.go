package config

import (
	"fmt"
	"strings"
	"testing"
)

// source.kafka and ground_truth.kafka name a topic the worker consumes into
// the model's store; every mistake is reported with its file and line.
func TestKafkaSource(t *testing.T) {
	base := `models:
  - name: churn
    source:
      uri: %s
      kafka: %s
    ground_truth: {uri: "file:///data/gt", kafka: {brokers: ["k:9092"], topic: labels}}
    reference: {uri: "file:///data/ref.csv"}
`
	cfg, err := Parse("vigil.yaml", []byte(fmt.Sprintf(base, "file:///data/pred", `{brokers: ["k1:9092", "k2:9092"], topic: preds, tls: true, sasl_mechanism: scram-sha-512, sasl_user_env: KAFKA_USER, sasl_password_env: KAFKA_PASS}`)),
		Options{Getenv: env(map[string]string{"KAFKA_USER": "u", "KAFKA_PASS": "p"})})
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.Models[0]
	if k := m.Source.Kafka; k == nil || k.Topic != "preds" || len(k.Brokers) != 2 || !k.TLS || k.Group != "vigil-churn-predictions" || k.SASLMechanism != "scram-sha-512" {
		t.Errorf("source.kafka %+v", m.Source.Kafka)
	}
	if k := m.GroundTruth.Kafka; k == nil || k.Group != "vigil-churn-ground-truth" {
		t.Errorf("ground_truth.kafka %+v, want the default group vigil-churn-ground-truth", m.GroundTruth.Kafka)
	}

	for _, tc := range []struct{ uri, kafka, want string }{
		{"file:///data/pred", `{topic: preds}`, "vigil.yaml:5: models[0].source.kafka.brokers: required"},
		{"file:///data/pred", `{brokers: [k1], topic: preds}`, `vigil.yaml:5: models[0].source.kafka.brokers: want host:port, got "k1"`},
		{"file:///data/pred", `{brokers: ["k:9092"], topic: "a topic"}`, `vigil.yaml:5: models[0].source.kafka.topic: want a Kafka topic name`},
		{"file:///data/pred", `{brokers: ["k:9092"], topic: t, sasl_mechanism: gssapi}`, `vigil.yaml:5: models[0].source.kafka.sasl_mechanism: want one of plain, scram-sha-256, scram-sha-512, got "gssapi"`},
		{"file:///data/pred", `{brokers: ["k:9092"], topic: t, sasl_mechanism: plain, sasl_password_env: P}`, `vigil.yaml:5: models[0].source.kafka.sasl_user_env: required`},
		{"file:///data/pred", `{brokers: ["k:9092"], topic: t, sasl_user_env: U, sasl_password_env: P}`, `vigil.yaml:5: models[0].source.kafka.sasl_mechanism: sasl_user_env or sasl_password_env is set`},
		{"file:///data/pred.csv", `{brokers: ["k:9092"], topic: t}`, `vigil.yaml:4: models[0].source.uri: a Kafka stream is stored as JSONL objects under a directory`},
		{"file:///data/pred", `{brokers: ["k:9092"], topic: t, partitions: 3}`, `vigil.yaml:5: models[0].source.kafka.partitions: unknown field`},
	} {
		_, err := Parse("vigil.yaml", []byte(fmt.Sprintf(base, tc.uri, tc.kafka)), Options{SkipEnv: true})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("uri %s, kafka %s:\n got %v\nwant %q", tc.uri, tc.kafka, err, tc.want)
		}
	}

	_, err = Parse("vigil.yaml", []byte(`models:
  - name: churn
    source: {uri: "file:///data/pred"}
    reference: {uri: "file:///data/ref.csv", kafka: {brokers: ["k:9092"], topic: t}}
`), Options{SkipEnv: true})
	if want := "vigil.yaml:4: models[0].reference.kafka: kafka applies to source and ground_truth only"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("reference.kafka: got %v, want %q", err, want)
	}
}

// audit.kafka names the topic the audit trail is published to: the same
// connection settings as source.kafka, no consumer group, secrets by name,
// and every mistake reported with its file and line.
func TestAuditKafka(t *testing.T) {
	cfg, err := Parse("vigil.yaml", []byte(`audit:
  kafka: {brokers: ["k1:9092"], topic: vigil.audit, tls: true, sasl_mechanism: plain, sasl_user_env: KAFKA_USER, sasl_password_env: KAFKA_PASS}
`), Options{Getenv: env(map[string]string{"KAFKA_USER": "u", "KAFKA_PASS": "p"})})
	if err != nil {
		t.Fatal(err)
	}
	if k := cfg.Audit.Kafka; k == nil || k.Topic != "vigil.audit" || !k.TLS || k.Group != "" || k.SASLUserEnv != "KAFKA_USER" {
		t.Errorf("audit.kafka %+v", cfg.Audit.Kafka)
	}
	if got := cfg.SecretEnvNames(); strings.Join(got, ",") != "KAFKA_PASS,KAFKA_USER" {
		t.Errorf("secret env names %v: the SASL variables must be scrubbed from error reports", got)
	}
	if cfg, err := Parse("vigil.yaml", []byte("models: []\n"), Options{SkipEnv: true}); err != nil || cfg.Audit.Kafka != nil {
		t.Errorf("no audit section: %+v, %v; want no audit events", cfg.Audit, err)
	}
	for _, tc := range []struct{ kafka, want string }{
		{`{topic: a}`, "vigil.yaml:2: audit.kafka.brokers: required"},
		{`{brokers: ["k:9092"], topic: "a b"}`, "vigil.yaml:2: audit.kafka.topic: want a Kafka topic name"},
		{`{brokers: ["k:9092"], topic: a, group: g}`, "vigil.yaml:2: audit.kafka.group: not used"},
		{`{brokers: ["k:9092"], topic: a, sasl_mechanism: plain}`, "vigil.yaml:2: audit.kafka.sasl_user_env: required"},
		{`{brokers: ["k:9092"], topic: a, sasl_mechanism: plain, sasl_user_env: U, sasl_password_env: "xoxb-1"}`, "audit.kafka.sasl_password_env: want the NAME of an environment variable"},
	} {
		_, err := Parse("vigil.yaml", []byte("audit:\n  kafka: "+tc.kafka+"\n"), Options{SkipEnv: true})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("audit.kafka %s:\n got %v\nwant %q", tc.kafka, err, tc.want)
		}
	}
	_, err = Parse("vigil.yaml", []byte("audit:\n  kafka: {brokers: [\"k:9092\"], topic: a, sasl_mechanism: plain, sasl_user_env: U, sasl_password_env: P}\n"),
		Options{Getenv: env(map[string]string{"U": "u"})})
	if want := "vigil.yaml:2: audit.kafka.sasl_password_env: environment variable P is not set"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("unset password variable: got %v, want %q", err, want)
	}
}
