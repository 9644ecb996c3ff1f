package kafkaconn

import (
	"crypto/tls"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/vigilml/vigil/config"
)

// Opts are the client options that reach k's brokers: seeds, TLS verified
// against the system roots when k.TLS, and SASL when k.SASLMechanism is set,
// with the user name and password read through getenv from the variables k
// names. Errors name the variables, never their values.
func Opts(k config.Kafka, getenv func(string) string) ([]kgo.Opt, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(k.Brokers...)}
	if k.TLS {
		opts = append(opts, kgo.DialTLSConfig(&tls.Config{MinVersion: tls.VersionTLS12}))
	}
	if k.SASLMechanism == "" {
		return opts, nil
	}
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	user, pass := getenv(k.SASLUserEnv), getenv(k.SASLPasswordEnv)
	if user == "" || pass == "" {
		return nil, fmt.Errorf("kafka SASL: %s and %s must be set", k.SASLUserEnv, k.SASLPasswordEnv)
	}
	switch k.SASLMechanism {
	case "plain":
		opts = append(opts, kgo.SASL(plain.Auth{User: user, Pass: pass}.AsMechanism()))
	case "scram-sha-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()))
	case "scram-sha-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()))
	default:
		return nil, fmt.Errorf("kafka SASL: unknown mechanism %q", k.SASLMechanism)
	}
	return opts, nil
}
