package main

import (
	"strings"
	"testing"

	"github.com/vigilml/vigil/config"
)

func TestNewSentryReadsTheDSNFromTheNamedVariable(t *testing.T) {
	cfg := &config.Config{Observability: config.Observability{Sentry: &config.Sentry{DSNEnv: "SENTRY_DSN"}}}
	for _, tc := range []struct {
		env  map[string]string
		want string // "" ok, else an error substring
	}{
		{map[string]string{"SENTRY_DSN": "https://0123456789abcdef@o1.ingest.sentry.io/42"}, ""},
		{map[string]string{}, "environment variable SENTRY_DSN is not set"},
		{map[string]string{"SENTRY_DSN": "key-without-host"}, "observability.sentry (SENTRY_DSN): sentry: the DSN is not valid"},
	} {
		r, err := newSentry(cfg, "build-1", func(k string) string { return tc.env[k] })
		switch {
		case tc.want == "" && (err != nil || !r.Enabled()):
			t.Errorf("%v: %v, %v", tc.env, r, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "key-without-host")):
			t.Errorf("%v: got %v, want %q without the DSN", tc.env, err, tc.want)
		}
	}
	if r, err := newSentry(&config.Config{}, "", nil); r != nil || err != nil {
		t.Errorf("without a sentry section: %v, %v", r, err)
	}
}
