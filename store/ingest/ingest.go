// Package ingest is the HTTP API model servers without data capture use to
// log their predictions and the ground truth that arrives later:
//
//	POST /v1/models/{model}/predictions    records {event_id, time?, prediction, features{...}, score?, ...}
//	POST /v1/models/{model}/ground-truth   records {event_id, time?, label|target|<columns.target>}
//
// A body is JSON lines or one JSON array. Every record is validated before
// anything is written; a bad record fails the whole request with 400 and its
// line (or array element) number, so a request is stored entirely or not at
// all. Records are appended to the model's source.uri (predictions) or
// ground_truth.uri (labels) as new JSONL objects,
// <yyyy/mm/dd/hh>/<unix-nanos>-<random>.jsonl: predictions in the hour of
// their time, ground truth in the hour it arrives (the window reader looks
// for labels up to a week after the window). Each object is written
// atomically (temporary file + rename, or one S3 PutObject), so readers never
// see a torn file.
//
// The worker mounts it beside its other endpoints:
//
//	h := ingest.New(cfg.Models, st, ingest.Options{Token: os.Getenv(cfg.Worker.IngestTokenEnv)})
//	mux.Handle("/v1/", h)
//
// Status codes: 200 stored ({"accepted": n, "objects": [...]}), 400 a bad
// record ({"error", "line"}), 401 missing or wrong token, 404 unknown model,
// 405 not POST, 409 the model's source cannot take JSONL, 413 body too large,
// 503 the store failed (retry), 500 the store refused (permanent).
package ingest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/store"
)

// DefaultMaxBody is the default request body limit.
const DefaultMaxBody = 8 << 20

// Options configure the handler.
type Options struct {
	// Token is the bearer token requests must carry; "" leaves ingest open
	// (dev mode). The worker reads it from worker.ingest_token_env.
	Token string
	// MaxBody limits the request body in bytes (0 = DefaultMaxBody); larger
	// bodies get 413.
	MaxBody int64
	// Now replaces time.Now (tests).
	Now    func() time.Time
	Logger *slog.Logger
}

// Writer stores objects; *store.Store implements it.
type Writer interface {
	PutObject(ctx context.Context, rootURI, key string, data []byte) (string, error)
	DeleteObject(ctx context.Context, rootURI, key string) error
}

// Handler serves the ingest API.
type Handler struct {
	models map[string]config.Model
	w      Writer
	opts   Options
	token  [32]byte
	mux    *http.ServeMux
}

// New builds the handler for the config's models.
func New(models []config.Model, w Writer, opts Options) *Handler {
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	h := &Handler{models: map[string]config.Model{}, w: w, opts: opts, mux: http.NewServeMux()}
	for _, m := range models {
		h.models[m.Name] = m
	}
	h.token = sha256.Sum256([]byte(opts.Token))
	h.mux.HandleFunc("POST /v1/models/{model}/predictions", func(w http.ResponseWriter, r *http.Request) { h.serve(w, r, kindPrediction) })
	h.mux.HandleFunc("POST /v1/models/{model}/ground-truth", func(w http.ResponseWriter, r *http.Request) { h.serve(w, r, kindGroundTruth) })
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="vigil"`)
		writeError(w, http.StatusUnauthorized, "missing or wrong bearer token", 0)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// authorized compares the bearer token in constant time (of equal-length
// digests, so the token's length does not leak either).
func (h *Handler) authorized(r *http.Request) bool {
	if h.opts.Token == "" {
		return true
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(got)))
	return subtle.ConstantTimeCompare(sum[:], h.token[:]) == 1
}

type kind int

const (
	kindPrediction kind = iota
	kindGroundTruth
)

// Response is the body of a successful request.
type Response struct {
	Accepted int      `json:"accepted"`
	Objects  []string `json:"objects"`
}

// ErrorResponse is the body of a failed request.
type ErrorResponse struct {
	Error string `json:"error"`
	Line  int    `json:"line,omitempty"`
}

func writeError(w http.ResponseWriter, status int, msg string, line int) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(ErrorResponse{Error: msg, Line: line})
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, k kind) {
	name := r.PathValue("model")
	if !store.ValidModelName(name) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown model %q", name), 0)
		return
	}
	m, ok := h.models[name]
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown model %q", name), 0)
		return
	}
	src := m.Source
	if k == kindGroundTruth {
		src = m.GroundTruth
	}
	if src.URI == "" || isFileURI(src.URI) || (src.Format != "" && src.Format != "jsonl") {
		writeError(w, http.StatusConflict, fmt.Sprintf("model %q cannot take ingest here: its %s must be a jsonl directory or prefix (file://dir or s3://bucket/prefix), is %q (%s)", name, k.section(), src.URI, src.Format), 0)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.opts.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes: send smaller batches", h.opts.MaxBody), 0)
			return
		}
		writeError(w, http.StatusBadRequest, "read body: "+err.Error(), 0)
		return
	}
	now := h.opts.Now().UTC()
	recs, line, err := parse(body, name, &m, k, now)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), line)
		return
	}
	if len(recs) == 0 {
		writeError(w, http.StatusBadRequest, "no records in the body", 0)
		return
	}
	// Group by partition hour: predictions by their time, labels by arrival.
	groups := map[time.Time]*bytes.Buffer{}
	for _, rec := range recs {
		hour := rec.at.Truncate(time.Hour)
		if k == kindGroundTruth {
			hour = now.Truncate(time.Hour)
		}
		if groups[hour] == nil {
			groups[hour] = &bytes.Buffer{}
		}
		groups[hour].Write(rec.line)
		groups[hour].WriteByte('\n')
	}
	hours := make([]time.Time, 0, len(groups))
	for t := range groups {
		hours = append(hours, t)
	}
	sort.Slice(hours, func(i, j int) bool { return hours[i].Before(hours[j]) })
	var written []string
	var uris []string
	for _, hr := range hours {
		key := hr.Format("2006/01/02/15") + "/" + strconv.FormatInt(now.UnixNano(), 10) + "-" + randomHex() + ".jsonl"
		uri, err := h.w.PutObject(r.Context(), src.URI, key, groups[hr].Bytes())
		if err != nil {
			// All or nothing: take back what this request already wrote.
			for _, k := range written {
				if derr := h.w.DeleteObject(context.WithoutCancel(r.Context()), src.URI, k); derr != nil {
					h.opts.Logger.Error("ingest: could not roll back a partial request", "model", name, "key", k, "error", derr)
				}
			}
			h.opts.Logger.Error("ingest: write failed", "model", name, "error", err)
			status := http.StatusServiceUnavailable
			if store.IsPermanent(err) {
				status = http.StatusInternalServerError
			}
			writeError(w, status, "could not store the records; retry later", 0)
			return
		}
		written = append(written, key)
		uris = append(uris, uri)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(Response{Accepted: len(recs), Objects: uris})
}

func (k kind) section() string {
	if k == kindGroundTruth {
		return "ground_truth.uri"
	}
	return "source.uri"
}

func isFileURI(uri string) bool {
	u := strings.TrimSuffix(strings.ToLower(uri), ".gz")
	for _, ext := range []string{".csv", ".jsonl", ".json", ".parquet"} {
		if strings.HasSuffix(u, ext) {
			return true
		}
	}
	return false
}

func randomHex() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}
