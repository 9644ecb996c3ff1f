package main

import (
	"fmt"
	"log/slog"

	"github.com/vigilml/vigil/activities"
	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/internal/mlflow"
)

// withMLflow wraps the model lifecycle so that retrains and promotions are
// mirrored into the MLflow server the config's mlflow section names (no
// section: ops as it is). Secrets are read from the variables it names.
func withMLflow(cfg *config.Config, ops activities.ModelOps, reg mlflow.Versions, getenv func(string) string, log *slog.Logger) (activities.ModelOps, error) {
	m := cfg.MLflow
	if m == nil || ops == nil {
		return ops, nil
	}
	c := &mlflow.Client{BaseURL: m.URL, User: m.Username}
	for _, s := range []struct {
		field, name string
		into        *string
	}{{"mlflow.token_env", m.TokenEnv, &c.Token}, {"mlflow.password_env", m.PasswordEnv, &c.Password}} {
		if s.name == "" {
			continue
		}
		if *s.into = getenv(s.name); *s.into == "" {
			return nil, fmt.Errorf("%s: environment variable %s is not set", s.field, s.name)
		}
	}
	return &mlflow.Ops{ModelOps: ops, Client: c, Registry: reg, Experiment: m.Experiment, RegisteredModel: m.RegisteredModel,
		TemporalUI: cfg.Temporal.UIURL, Log: log}, nil
}
