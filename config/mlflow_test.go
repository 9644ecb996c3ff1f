package config

import (
	"strings"
	"testing"
)

func TestMLflowSection(t *testing.T) {
	const models = "models:\n  - name: churn\n    source: {uri: \"file:///d\"}\n    reference: {uri: \"file:///r.csv\"}\n"
	env := map[string]string{"MLFLOW_TOKEN": "t", "MLFLOW_PASSWORD": "p"}
	for _, tc := range []struct{ yaml, want string }{
		{"mlflow: {url: https://mlflow.example.com, token_env: MLFLOW_TOKEN}\n", ""},
		{"mlflow: {url: https://mlflow.example.com, username: vigil, password_env: MLFLOW_PASSWORD, experiment: '/Shared/vigil-{model}', registered_model: 'ml.vigil.{model}'}\n", ""},
		{"mlflow: {token_env: MLFLOW_TOKEN}\n", "vigil.yaml:1: mlflow.url: required"},
		{"mlflow: {url: mlflow.example.com}\n", "mlflow.url: want an http(s) URL"},
		{"mlflow: {url: 'https://m/api/2.0/mlflow'}\n", "mlflow.url: want the server's base URL"},
		{"mlflow: {url: 'https://m', username: vigil}\n", "mlflow.password_env: required"},
		{"mlflow: {url: 'https://m', token_env: MLFLOW_TOKEN, username: vigil, password_env: MLFLOW_PASSWORD}\n", "mlflow.username: set token_env or username"},
		{"mlflow: {url: 'https://m', token_env: UNSET_TOKEN}\n", "mlflow.token_env: environment variable UNSET_TOKEN is not set"},
		{"mlflow: {url: 'https://m', experiment: vigil}\n", "mlflow.experiment: must contain {model}"},
	} {
		_, err := Parse("vigil.yaml", []byte(tc.yaml+models), Options{Getenv: func(k string) string { return env[k] }})
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.yaml, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: got %v, want %q", tc.yaml, err, tc.want)
		}
	}
}
