package config

import (
	"fmt"
	"net"
	"strings"
)

// Observability configures what the worker exports about the models it
// watches. Prometheus needs nothing here: the worker serves /metrics on
// worker.http_addr.
type Observability struct {
	// MaxFeatures caps the features that get per-feature series (drift
	// statistic, verdict, missing ratio) per model, most drifted first, so a
	// wide model cannot blow up the label cardinality. 0 means 50.
	MaxFeatures int `yaml:"max_features"`
	// Datadog, when its address is set, also sends the evaluation metrics
	// over DogStatsD (tags instead of labels).
	Datadog *Datadog `yaml:"datadog"`
	// TensorBoard, when its logdir is set, also writes each evaluation's
	// metrics as TensorBoard event files, one run per model.
	TensorBoard *TensorBoard `yaml:"tensorboard"`
	// Sentry, when set, reports Vigil's own errors (failed activities,
	// workflow task panics, error log records) to a Sentry project.
	Sentry *Sentry `yaml:"sentry"`
}

// Sentry names the variable holding the project's DSN.
type Sentry struct {
	DSNEnv      string  `yaml:"dsn_env"`     // e.g. SENTRY_DSN
	Environment string  `yaml:"environment"` // e.g. production; default none
	SampleRate  float64 `yaml:"sample_rate"` // share of events sent, (0, 1]; 0 means 1
}

// TensorBoard says where event files go: <logdir>/<model>/events.out.tfevents.*.
type TensorBoard struct {
	// LogDir is a directory (file:// or a path) or an s3:// prefix, e.g.
	// the one training jobs write their summaries under.
	LogDir string `yaml:"logdir"`
}

// Datadog says where the DogStatsD agent listens.
type Datadog struct {
	// Address is host:port (UDP, e.g. 127.0.0.1:8125) or
	// unix:///var/run/datadog/dsd.socket.
	Address string `yaml:"address"`
	// Namespace prefixes every metric name; default "vigil." gives names
	// like vigil.model_performance.
	Namespace string `yaml:"namespace"`
	// Tags are added to every metric, as key:value (e.g. env:prod).
	Tags []string `yaml:"tags"`
}

// DefaultMaxFeatures is the per-model feature cap when max_features is 0.
const DefaultMaxFeatures = 50

// validate reports problems under "observability"; env checks the
// variables secrets are read from.
func (o *Observability) validate(d *decoder, env envChecker) {
	if s := o.Sentry; s != nil {
		env.require("observability.sentry.dsn_env", s.DSNEnv, "the variable holding the project's DSN (e.g. SENTRY_DSN)")
		if s.SampleRate < 0 || s.SampleRate > 1 {
			d.at("observability.sentry.sample_rate", "want a share of events in (0, 1], got %g", s.SampleRate)
		}
	}
	if o.MaxFeatures < 0 || o.MaxFeatures > 10000 {
		d.at("observability.max_features", "want 0 (default %d) to 10000, got %d", DefaultMaxFeatures, o.MaxFeatures)
	}
	if tb := o.TensorBoard; tb != nil {
		if tb.LogDir == "" {
			d.at("observability.tensorboard.logdir", "required: a directory or s3://bucket/prefix (e.g. s3://ml-logs/tensorboard)")
		} else {
			checkURI(d, "observability.tensorboard.logdir", tb.LogDir)
		}
	}
	dd := o.Datadog
	if dd == nil {
		return
	}
	switch {
	case dd.Address == "":
		d.at("observability.datadog.address", "required: host:port of the DogStatsD agent (e.g. 127.0.0.1:8125) or unix:///path/to/dsd.socket")
	case strings.HasPrefix(dd.Address, "unix://"):
		if strings.TrimPrefix(dd.Address, "unix://") == "" {
			d.at("observability.datadog.address", "unix:// needs a socket path")
		}
	default:
		if _, _, err := net.SplitHostPort(dd.Address); err != nil {
			d.at("observability.datadog.address", "want host:port or unix:///path, got %q", dd.Address)
		}
	}
	if strings.ContainsAny(dd.Namespace, " ,|:#") {
		d.at("observability.datadog.namespace", "want letters, digits, _ and . only, e.g. \"vigil.\", got %q", dd.Namespace)
	}
	for i, t := range dd.Tags {
		if t == "" || strings.ContainsAny(t, ",|#\n ") {
			d.at(fmt.Sprintf("observability.datadog.tags[%d]", i), "want key:value without spaces, commas, | or #, got %q", t)
		}
	}
}
