package main

import (
	"fmt"

	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/internal/sentryreport"
)

// newSentry builds the Sentry reporter observability.sentry configures, or
// nil. The DSN and the values scrubbed from events (every secret the config
// names) are read from the environment here, never stored in the config.
func newSentry(cfg *config.Config, release string, getenv func(string) string) (*sentryreport.Reporter, error) {
	s := cfg.Observability.Sentry
	if s == nil {
		return nil, nil
	}
	dsn := getenv(s.DSNEnv)
	if dsn == "" {
		return nil, fmt.Errorf("observability.sentry.dsn_env: environment variable %s is not set", s.DSNEnv)
	}
	var secrets []string
	for _, name := range cfg.SecretEnvNames() {
		if v := getenv(name); v != "" {
			secrets = append(secrets, v)
		}
	}
	r, err := sentryreport.New(dsn, sentryreport.Options{Environment: s.Environment, Release: release, SampleRate: s.SampleRate, Secrets: secrets})
	if err != nil {
		return nil, fmt.Errorf("observability.sentry (%s): %w", s.DSNEnv, err)
	}
	return r, nil
}
