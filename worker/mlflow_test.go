package main

import (
	"strings"
	"testing"

	"github.com/vigilml/vigil/activities"
	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/internal/mlflow"
)

func TestWithMLflowWrapsTheLifecycleWithItsSecrets(t *testing.T) {
	cfg := &config.Config{MLflow: &config.MLflow{URL: "https://mlflow.example.com", Username: "vigil", PasswordEnv: "MLFLOW_PASSWORD"}}
	ops, err := withMLflow(cfg, stubOps{}, nil, func(k string) string { return map[string]string{"MLFLOW_PASSWORD": "pw"}[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := ops.(*mlflow.Ops); !ok || m.Client.User != "vigil" || m.Client.Password != "pw" {
		t.Errorf("ops = %#v", ops)
	}
	if _, err := withMLflow(cfg, stubOps{}, nil, func(string) string { return "" }, nil); err == nil ||
		!strings.Contains(err.Error(), "mlflow.password_env: environment variable MLFLOW_PASSWORD is not set") {
		t.Errorf("unset password: %v", err)
	}
}

// stubOps stands for the lifecycle; withMLflow only wraps it.
type stubOps struct{ activities.ModelOps }
