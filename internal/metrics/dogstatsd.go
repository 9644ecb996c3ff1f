package metrics

import (
	"fmt"
	"strings"

	"github.com/DataDog/datadog-go/v5/statsd"

	"github.com/vigilml/vigil/config"
)

// StatsD is the part of a DogStatsD client a Publisher uses;
// *statsd.Client of github.com/DataDog/datadog-go/v5 implements it.
type StatsD interface {
	Gauge(name string, value float64, tags []string, rate float64) error
	Count(name string, value int64, tags []string, rate float64) error
	Distribution(name string, value float64, tags []string, rate float64) error
}

// NewDogStatsD opens the DogStatsD client configured under
// observability.datadog (UDP host:port or unix:///socket). Metric names get
// the namespace (default "vigil.") and every metric the configured tags. The
// caller closes the client on shutdown (Close flushes what is buffered).
func NewDogStatsD(c config.Datadog) (*statsd.Client, error) {
	ns := c.Namespace
	if ns == "" {
		ns = "vigil."
	}
	if !strings.HasSuffix(ns, ".") {
		ns += "."
	}
	client, err := statsd.New(c.Address,
		statsd.WithNamespace(ns),
		statsd.WithTags(c.Tags),
		statsd.WithoutTelemetry(), // the agent's own telemetry metrics are noise here
	)
	if err != nil {
		return nil, fmt.Errorf("dogstatsd %s: %w (check observability.datadog.address)", c.Address, err)
	}
	return client, nil
}

// tags turns label names and values into DogStatsD tags ("model:churn").
// Characters that end a tag or a datagram are replaced by "_".
func tags(keys, values []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k + ":" + tagValue.Replace(values[i])
	}
	return out
}

var tagValue = strings.NewReplacer(",", "_", "|", "_", "#", "_", "\n", "_", " ", "_")
