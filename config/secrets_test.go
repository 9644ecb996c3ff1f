package config

import (
	"slices"
	"testing"
)

func TestSecretEnvNamesFindsEveryEnvField(t *testing.T) {
	c := &Config{
		Temporal:      Temporal{APIKeyEnv: "TEMPORAL_KEY", Encryption: &Encryption{KeyEnv: "ENC", PreviousKeyEnvs: []string{"ENC_OLD"}}},
		Notify:        Notify{Slack: &Slack{TokenEnv: "SLACK_BOT_TOKEN"}},
		Models:        []Model{{Name: "m", Retrain: &Retrain{Kubeflow: &Kubeflow{TokenEnv: "KFP_TOKEN"}, Jenkins: &Jenkins{TokenEnv: "SLACK_BOT_TOKEN"}}}},
		Observability: Observability{Sentry: &Sentry{DSNEnv: "SENTRY_DSN"}},
	}
	want := []string{"ENC", "ENC_OLD", "KFP_TOKEN", "SENTRY_DSN", "SLACK_BOT_TOKEN", "TEMPORAL_KEY"}
	if got := c.SecretEnvNames(); !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
