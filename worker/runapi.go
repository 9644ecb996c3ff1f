package main

import (
	"log/slog"
	"net/http"
	"os"

	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/control"
	"github.com/vigilml/vigil/runapi"
)

// mountRunAPI serves the run API (evaluations and retrains for
// orchestrators such as Airflow) beside the ingest API under /v1/.
func mountRunAPI(mux *http.ServeMux, cfg *config.Config, wf *control.Client, log *slog.Logger) {
	var token string
	if cfg.Worker.APITokenEnv != "" {
		token = os.Getenv(cfg.Worker.APITokenEnv)
	}
	models := make([]string, len(cfg.Models))
	for i, m := range cfg.Models {
		models[i] = m.Name
	}
	h := runapi.New(models, &runapi.Temporal{Control: wf}, runapi.Options{Token: token, Logger: log})
	for _, p := range runapi.Patterns() {
		mux.Handle(p, h)
	}
}
