package config

import (
	"net"
	"regexp"
	"slices"
	"strings"
)

// Kafka is a topic of JSON records (one per message value) that the worker
// consumes into a model's source or ground truth. Offsets are committed only
// after the records are stored (see the README's "Kafka ingest").
type Kafka struct {
	Brokers []string `yaml:"brokers"` // host:port seeds
	Topic   string   `yaml:"topic"`
	// Group is the consumer group; default vigil-<model>-predictions or
	// vigil-<model>-ground-truth.
	Group string `yaml:"group"`
	// TLS dials the brokers over TLS, verified against the system roots.
	TLS bool `yaml:"tls"`
	// SASLMechanism is "" (none), plain, scram-sha-256 or scram-sha-512; the
	// user name and password are read from the environment variables named.
	SASLMechanism   string `yaml:"sasl_mechanism"`
	SASLUserEnv     string `yaml:"sasl_user_env"`
	SASLPasswordEnv string `yaml:"sasl_password_env"`
}

var (
	saslMechanisms = []string{"", "plain", "scram-sha-256", "scram-sha-512"}
	// topicRE is Kafka's own rule for topic names.
	topicRE = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)
)

// defaultKafkaGroup names the consumer group of a model's stream.
func defaultKafkaGroup(model, section string) string {
	return "vigil-" + model + "-" + strings.ReplaceAll(section, "_", "-")
}

// Audit publishes Vigil's audit trail (evaluations, incidents, retrains,
// rollbacks, alias moves) as CloudEvents; see the README's "Audit events".
type Audit struct {
	// Kafka is the topic the events go to (group is not used: events are
	// produced, not consumed). Absent: no audit events.
	Kafka *Kafka `yaml:"kafka"`
}

func (a *Audit) validate(d *decoder, env envChecker) {
	k := a.Kafka
	if k == nil {
		return
	}
	k.validateConn(d, "audit.kafka", env)
	if k.Group != "" {
		d.at("audit.kafka.group", "not used: audit events are produced to the topic, not consumed (remove it)")
	}
}

func (k *Kafka) validate(d *decoder, p string, src Source, env envChecker) {
	k.validateConn(d, p, env)
	if k.Group == "" {
		d.at(p+".group", "required: the consumer group")
	}
	// The consumer appends objects under the uri, as the ingest API does.
	parent := strings.TrimSuffix(p, ".kafka")
	if src.URI == "" || IsFile(src.URI) || src.Format != "jsonl" {
		d.at(parent+".uri", "a Kafka stream is stored as JSONL objects under a directory or prefix (file://dir or s3://bucket/prefix, format jsonl), got %q (%s)", src.URI, src.Format)
	}
}

// validateConn checks what every Kafka client needs: brokers, topic, TLS
// and SASL.
func (k *Kafka) validateConn(d *decoder, p string, env envChecker) {
	if len(k.Brokers) == 0 {
		d.at(p+".brokers", "required: the brokers to bootstrap from (host:port)")
	}
	for _, b := range k.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			d.at(p+".brokers", "want host:port, got %q", b)
		}
	}
	if !topicRE.MatchString(k.Topic) {
		d.at(p+".topic", "want a Kafka topic name (letters, digits, '.', '_', '-'), got %q", k.Topic)
	}
	if !slices.Contains(saslMechanisms, k.SASLMechanism) {
		d.at(p+".sasl_mechanism", "want one of %s, got %q", quoteList(saslMechanisms), k.SASLMechanism)
	} else if k.SASLMechanism != "" {
		env.require(p+".sasl_user_env", k.SASLUserEnv, "the variable holding the SASL user name")
		env.require(p+".sasl_password_env", k.SASLPasswordEnv, "the variable holding the SASL password")
	} else if k.SASLUserEnv != "" || k.SASLPasswordEnv != "" {
		d.at(p+".sasl_mechanism", "sasl_user_env or sasl_password_env is set, so sasl_mechanism is required (plain, scram-sha-256 or scram-sha-512)")
	}
}
