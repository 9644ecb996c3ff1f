package runapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Starter starts and describes the workflows; the worker adapts the
// workflows client to it.
type Starter interface {
	// Evaluate starts one evaluation of model for the window ending at
	// windowEnd (zero: now).
	Evaluate(ctx context.Context, model string, windowEnd time.Time) (Run, error)
	// Retrain starts a retrain unless one runs; then it returns that one
	// with Started false.
	Retrain(ctx context.Context, model, reason, actor string) (Run, error)
	// Describe reports the state of one workflow run; ErrNotFound when
	// there is none.
	Describe(ctx context.Context, workflowID, runID string) (Run, error)
	// EvaluationID and RetrainID are the workflow IDs of model's on-demand
	// evaluations and retrains.
	EvaluationID(model string) string
	RetrainID(model string) string
}

// ErrNotFound is returned by Describe for a run that does not exist.
var ErrNotFound = errors.New("no such workflow run")

// Run is one workflow run as the API reports it.
type Run struct {
	WorkflowID string     `json:"workflow_id"`
	RunID      string     `json:"run_id"`
	Status     string     `json:"status"`
	Started    *bool      `json:"started,omitempty"` // POST /retrains only
	StartedAt  *time.Time `json:"started_at,omitempty"`
	ClosedAt   *time.Time `json:"closed_at,omitempty"`
	StatusURL  string     `json:"status_url,omitempty"`
}

// Options configure the handler.
type Options struct {
	// Token is the bearer token requests must carry; "" leaves the API open.
	Token  string
	Logger *slog.Logger
}

// Handler serves the API.
type Handler struct {
	models map[string]bool
	s      Starter
	opts   Options
	token  [32]byte
	mux    *http.ServeMux
}

// New builds the handler for the named models.
func New(models []string, s Starter, opts Options) *Handler {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	h := &Handler{models: map[string]bool{}, s: s, opts: opts, token: sha256.Sum256([]byte(opts.Token)), mux: http.NewServeMux()}
	for _, m := range models {
		h.models[m] = true
	}
	h.mux.HandleFunc("POST /v1/models/{model}/evaluations", h.evaluate)
	h.mux.HandleFunc("POST /v1/models/{model}/retrains", h.retrain)
	h.mux.HandleFunc("GET /v1/models/{model}/evaluations/{run}", func(w http.ResponseWriter, r *http.Request) {
		h.describe(w, r, "evaluations", s.EvaluationID)
	})
	h.mux.HandleFunc("GET /v1/models/{model}/retrains/{run}", func(w http.ResponseWriter, r *http.Request) {
		h.describe(w, r, "retrains", s.RetrainID)
	})
	return h
}

// Patterns are the routes to mount the handler on in a mux shared with
// other handlers (the worker's, beside the ingest API under /v1/).
func Patterns() []string {
	return []string{
		"POST /v1/models/{model}/evaluations", "POST /v1/models/{model}/retrains",
		"GET /v1/models/{model}/evaluations/{run}", "GET /v1/models/{model}/retrains/{run}",
	}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="vigil"`)
		writeError(w, http.StatusUnauthorized, "missing or wrong bearer token")
		return
	}
	h.mux.ServeHTTP(w, r)
}

// authorized compares digests of the tokens in constant time.
func (h *Handler) authorized(r *http.Request) bool {
	if h.opts.Token == "" {
		return true
	}
	auth := r.Header.Get("Authorization")
	if len(auth) < len("Bearer ") || !strings.EqualFold(auth[:len("Bearer ")], "Bearer ") {
		return false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(auth[len("Bearer "):])))
	return subtle.ConstantTimeCompare(sum[:], h.token[:]) == 1
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// model returns the request's model, or answers 404.
func (h *Handler) model(w http.ResponseWriter, r *http.Request) (string, bool) {
	m := r.PathValue("model")
	if !h.models[m] {
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown model %q", m))
		return "", false
	}
	return m, true
}

// body decodes an optional JSON body (empty: the zero value).
func body(r *http.Request, v any) error {
	data, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func statusURL(model, kind, runID string) string {
	return "/v1/models/" + model + "/" + kind + "/" + runID
}

func (h *Handler) evaluate(w http.ResponseWriter, r *http.Request) {
	m, ok := h.model(w, r)
	if !ok {
		return
	}
	var in struct {
		WindowEnd *time.Time `json:"window_end"`
	}
	if err := body(r, &in); err != nil {
		writeError(w, http.StatusBadRequest, "want {\"window_end\": RFC 3339} or no body: "+err.Error())
		return
	}
	var end time.Time
	if in.WindowEnd != nil {
		end = in.WindowEnd.UTC()
	}
	run, err := h.s.Evaluate(r.Context(), m, end)
	if err != nil {
		h.opts.Logger.Error("run API: start evaluation", "model", m, "err", err)
		writeError(w, http.StatusBadGateway, "could not start the evaluation; retry later")
		return
	}
	run.StatusURL = statusURL(m, "evaluations", run.RunID)
	writeJSON(w, http.StatusAccepted, run)
}

func (h *Handler) retrain(w http.ResponseWriter, r *http.Request) {
	m, ok := h.model(w, r)
	if !ok {
		return
	}
	var in struct {
		Reason string `json:"reason"`
		Actor  string `json:"actor"`
	}
	if err := body(r, &in); err != nil {
		writeError(w, http.StatusBadRequest, "want {\"reason\", \"actor\"} or no body: "+err.Error())
		return
	}
	if in.Reason == "" {
		in.Reason = "requested through the API"
	}
	if in.Actor == "" {
		in.Actor = "api"
	}
	run, err := h.s.Retrain(r.Context(), m, in.Reason, in.Actor)
	if err != nil {
		h.opts.Logger.Error("run API: start retrain", "model", m, "err", err)
		writeError(w, http.StatusBadGateway, "could not start the retrain; retry later")
		return
	}
	run.StatusURL = statusURL(m, "retrains", run.RunID)
	status := http.StatusAccepted
	if run.Started != nil && !*run.Started {
		status = http.StatusOK
	}
	writeJSON(w, status, run)
}

func (h *Handler) describe(w http.ResponseWriter, r *http.Request, kind string, id func(string) string) {
	m, ok := h.model(w, r)
	if !ok {
		return
	}
	runID := r.PathValue("run")
	run, err := h.s.Describe(r.Context(), id(m), runID)
	if errors.Is(err, ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no %s run %q of model %q", strings.TrimSuffix(kind, "s"), runID, m))
		return
	}
	if err != nil {
		h.opts.Logger.Error("run API: describe", "model", m, "run_id", runID, "err", err)
		writeError(w, http.StatusBadGateway, "could not read the run's state; retry later")
		return
	}
	run.StatusURL = statusURL(m, kind, run.RunID)
	writeJSON(w, http.StatusOK, run)
}
