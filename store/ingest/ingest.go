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

	"golang.org/x/time/rate"

	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/store"
)

// Defaults for Options.
const (
	DefaultMaxBody      = 8 << 20
	DefaultMaxLine      = 1 << 20
	DefaultRateLimit    = 50  // requests per second per model
	DefaultBurst        = 100 // requests at once per model
	DefaultStoreTimeout = 30 * time.Second
)

// Options configure the handler.
type Options struct {
	// Token is the bearer token requests must carry; "" leaves ingest open
	// (dev mode). The worker reads it from worker.ingest_token_env.
	Token string
	// MaxBody limits the request body in bytes (0 = DefaultMaxBody); larger
	// bodies get 413.
	MaxBody int64
	// MaxLine limits one record in bytes — a line of JSON lines, an element
	// of a JSON array (0 = DefaultMaxLine); a longer one fails the request
	// with 413 and its line.
	MaxLine int
	// RateLimit is how many requests per second each model accepts, sustained
	// (0 = DefaultRateLimit, negative = no limit); Burst how many it accepts
	// at once (0 = DefaultBurst). Over it, requests get 429 and Retry-After.
	RateLimit float64
	Burst     int
	// StoreTimeout bounds each write to the store (0 = DefaultStoreTimeout).
	StoreTimeout time.Duration
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
	// limits holds one token bucket per configured model (nil: no limit);
	// the map is never written after New, so unknown names cannot grow it.
	limits map[string]*rate.Limiter
	clock  func() time.Time // the rate limiter's clock (tests)
}

// New builds the handler for the config's models.
func New(models []config.Model, w Writer, opts Options) *Handler {
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.MaxLine <= 0 {
		opts.MaxLine = DefaultMaxLine
	}
	if opts.RateLimit == 0 {
		opts.RateLimit = DefaultRateLimit
	}
	if opts.Burst <= 0 {
		opts.Burst = DefaultBurst
	}
	if opts.StoreTimeout <= 0 {
		opts.StoreTimeout = DefaultStoreTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	h := &Handler{models: map[string]config.Model{}, w: w, opts: opts, mux: http.NewServeMux(), clock: time.Now}
	for _, m := range models {
		h.models[m.Name] = m
	}
	if opts.RateLimit > 0 {
		h.limits = map[string]*rate.Limiter{}
		for _, m := range models {
			h.limits[m.Name] = rate.NewLimiter(rate.Limit(opts.RateLimit), opts.Burst)
		}
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
	auth := r.Header.Get("Authorization")
	if len(auth) < len("Bearer ") || !strings.EqualFold(auth[:len("Bearer ")], "Bearer ") { // the scheme is case-insensitive (RFC 9110)
		return false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(auth[len("Bearer "):])))
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
	if src.URI == "" || config.IsFile(src.URI) || (src.Format != "" && src.Format != "jsonl") {
		writeError(w, http.StatusConflict, fmt.Sprintf("model %q cannot take ingest here: its %s must be a jsonl directory or prefix (file://dir or s3://bucket/prefix), is %q (%s)", name, k.section(), src.URI, src.Format), 0)
		return
	}
	if lim := h.limits[name]; lim != nil {
		now := h.clock()
		// A reservation that would have to wait is given back: the client
		// is told when to retry instead of being held.
		if r := lim.ReserveN(now, 1); r.DelayFrom(now) > 0 {
			wait := r.DelayFrom(now)
			r.CancelAt(now)
			secs := max(1, int((wait+time.Second-1)/time.Second))
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			writeError(w, http.StatusTooManyRequests, fmt.Sprintf("model %q takes at most %g requests/s (burst %d): retry after %d s, or send larger batches", name, float64(lim.Limit()), lim.Burst(), secs), 0)
			return
		}
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
	if line, n := longRecord(body, h.opts.MaxLine); line > 0 {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("line %d: a record of %d bytes, over the %d-byte limit for one record: send it smaller", line, n, h.opts.MaxLine), line)
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
		key := Partition(hr) + "/" + strconv.FormatInt(now.UnixNano(), 10) + "-" + randomHex() + ".jsonl"
		ctx, cancel := context.WithTimeout(r.Context(), h.opts.StoreTimeout)
		uri, err := h.w.PutObject(ctx, src.URI, key, groups[hr].Bytes())
		cancel()
		if err != nil {
			// All or nothing: take back what this request already wrote, even
			// when the client has gone.
			for _, k := range written {
				ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), h.opts.StoreTimeout)
				derr := h.w.DeleteObject(ctx, src.URI, k)
				cancel()
				if derr != nil {
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

func randomHex() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// longRecord returns the 1-based line and length of the first record of body
// longer than limit bytes (0, 0 when there is none): a line of JSON lines, an
// element of a JSON array (which may share its line with others, as in a
// compact array). A body that does not parse is left to parse to report.
func longRecord(body []byte, limit int) (line, n int) {
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) > 0 && t[0] == '[' {
		dec := json.NewDecoder(bytes.NewReader(body))
		if _, err := dec.Token(); err != nil {
			return 0, 0
		}
		for dec.More() {
			start := dec.InputOffset()
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return 0, 0
			}
			if len(raw) > limit {
				return lineAt(body, start), len(raw)
			}
		}
		return 0, 0
	}
	for i := 1; len(body) > 0; i++ {
		l := bytes.IndexByte(body, '\n')
		if l < 0 {
			l = len(body)
		}
		if l > limit {
			return i, l
		}
		body = body[min(l+1, len(body)):]
	}
	return 0, 0
}
