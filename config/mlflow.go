package config

import "strings"

// MLflow mirrors retrains and promotions into an MLflow tracking server
// (internal/mlflow): each retrain is a run, each alias move a model version
// with the same alias.
type MLflow struct {
	// URL is the tracking server, e.g. https://mlflow.example.com or
	// https://<workspace>.cloud.databricks.com.
	URL string `yaml:"url"`
	// TokenEnv names a variable holding a bearer token; or Username and
	// PasswordEnv for MLflow's basic-auth app.
	TokenEnv    string `yaml:"token_env"`
	Username    string `yaml:"username"`
	PasswordEnv string `yaml:"password_env"`
	// Experiment names the experiment of a model's runs; {model} is
	// replaced by the model name. Default vigil-{model}.
	Experiment string `yaml:"experiment"`
	// RegisteredModel names the model in MLflow's Model Registry; {model}
	// is replaced. Default {model}.
	RegisteredModel string `yaml:"registered_model"`
}

func (m *MLflow) validate(d *decoder, env envChecker) {
	if m.URL == "" {
		d.at("mlflow.url", "required: the tracking server, e.g. https://mlflow.example.com")
	} else {
		checkHTTPURL(d, "mlflow.url", m.URL)
		if strings.Contains(m.URL, "/api/2.0") {
			d.at("mlflow.url", "want the server's base URL, without /api/2.0/mlflow, got %q", m.URL)
		}
	}
	switch {
	case m.TokenEnv != "" && m.Username != "":
		d.at("mlflow.username", "set token_env or username with password_env, not both")
	case m.Username != "":
		env.require("mlflow.password_env", m.PasswordEnv, "the variable holding the password of username")
	case m.PasswordEnv != "":
		d.at("mlflow.password_env", "needs mlflow.username")
	}
	env.check("mlflow.token_env", m.TokenEnv)
	if m.Experiment != "" && !strings.Contains(m.Experiment, "{model}") {
		d.at("mlflow.experiment", "must contain {model}, so each model's runs stay apart (e.g. vigil-{model}), got %q", m.Experiment)
	}
	if m.RegisteredModel != "" && !strings.Contains(m.RegisteredModel, "{model}") {
		d.at("mlflow.registered_model", "must contain {model} (e.g. {model} or ml.vigil.{model}), got %q", m.RegisteredModel)
	}
}
