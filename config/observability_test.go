package config

import (
	"strings"
	"testing"
)

func TestObservabilityValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		o    Observability
		want []string // substrings of the errors, in order; none for valid
	}{
		{"zero value", Observability{}, nil},
		{"udp agent", Observability{MaxFeatures: 20, Datadog: &Datadog{Address: "127.0.0.1:8125", Tags: []string{"env:prod"}}}, nil},
		{"unix socket", Observability{Datadog: &Datadog{Address: "unix:///var/run/datadog/dsd.socket", Namespace: "ml.vigil."}}, nil},
		{"negative cap", Observability{MaxFeatures: -1}, []string{"observability.max_features: want 0 (default 50) to 10000"}},
		{"no address", Observability{Datadog: &Datadog{}}, []string{"observability.datadog.address: required"}},
		{"no port", Observability{Datadog: &Datadog{Address: "agent"}}, []string{"observability.datadog.address: want host:port"}},
		{"empty socket", Observability{Datadog: &Datadog{Address: "unix://"}}, []string{"needs a socket path"}},
		{"bad tag", Observability{Datadog: &Datadog{Address: "agent:8125", Tags: []string{"ok:1", "a,b"}}}, []string{"observability.datadog.tags[1]"}},
		{"tensorboard on s3", Observability{TensorBoard: &TensorBoard{LogDir: "s3://ml-logs/tensorboard"}}, nil},
		{"tensorboard without logdir", Observability{TensorBoard: &TensorBoard{}}, []string{"observability.tensorboard.logdir: required"}},
		{"tensorboard on gcs", Observability{TensorBoard: &TensorBoard{LogDir: "gs://b/tb"}}, []string{"observability.tensorboard.logdir: unsupported scheme"}},
		{"sentry", Observability{Sentry: &Sentry{DSNEnv: "SENTRY_DSN", Environment: "production", SampleRate: 0.5}}, nil},
		{"sentry without dsn_env", Observability{Sentry: &Sentry{}}, []string{"observability.sentry.dsn_env: required"}},
		{"sentry dsn inline", Observability{Sentry: &Sentry{DSNEnv: "https://k@o1.ingest.sentry.io/1"}}, []string{"observability.sentry.dsn_env: want the NAME of an environment variable"}},
		{"sentry dsn unset", Observability{Sentry: &Sentry{DSNEnv: "MY_DSN"}}, []string{"observability.sentry.dsn_env: environment variable MY_DSN is not set"}},
		{"sentry rate", Observability{Sentry: &Sentry{DSNEnv: "SENTRY_DSN", SampleRate: 2}}, []string{"observability.sentry.sample_rate: want a share of events in (0, 1]"}},
		{"bad namespace", Observability{Datadog: &Datadog{Address: "agent:8125", Namespace: "my ns"}}, []string{"observability.datadog.namespace"}},
	} {
		d := &decoder{file: "vigil.yaml", lines: map[string]int{}}
		c.o.validate(d, envChecker{d: d, getenv: func(k string) string { return map[string]string{"SENTRY_DSN": "https://k@o1.ingest.sentry.io/1"}[k] }})
		if len(d.errs) != len(c.want) {
			t.Errorf("%s: errors %v, want %d", c.name, d.errs, len(c.want))
			continue
		}
		for i, w := range c.want {
			if !strings.Contains(d.errs[i].Error(), w) {
				t.Errorf("%s: error %q, want it to contain %q", c.name, d.errs[i].Error(), w)
			}
		}
	}
}
