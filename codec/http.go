package codec

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"slices"
	"strings"

	"go.temporal.io/sdk/converter"
)

// HandlerOptions configure NewHandler.
type HandlerOptions struct {
	// AllowedOrigins are the browser origins (scheme://host[:port]) that
	// may call the endpoint: the Temporal Web UI's. Requests from other
	// origins are refused; requests without an Origin (the temporal CLI,
	// curl) are not browser requests and pass.
	AllowedOrigins []string
	// Token, when not empty, is the bearer token every request must carry.
	Token string
	// MaxBody bounds a request body in bytes; 0 means 8 MiB.
	MaxBody int64
}

// NewHandler serves a codec server, the remote codec the Temporal Web UI and
// the temporal CLI (--codec-endpoint) call: POST <prefix>/encode and POST
// <prefix>/decode with a JSON {"payloads": [...]} body, under any prefix
// (mount it with mux.Handle("/codec/", h) and give clients
// http://host:port/codec). It answers CORS preflights for AllowedOrigins,
// with the X-Namespace header the UI sends, and checks the bearer token.
func NewHandler(c converter.PayloadCodec, o HandlerOptions) http.Handler {
	if o.MaxBody <= 0 {
		o.MaxBody = 8 << 20
	}
	h := &handler{next: converter.NewPayloadCodecHTTPHandler(c), origins: o.AllowedOrigins, maxBody: o.MaxBody}
	if o.Token != "" {
		sum := sha256.Sum256([]byte(o.Token))
		h.token = &sum
	}
	return h
}

type handler struct {
	next    http.Handler
	origins []string
	token   *[sha256.Size]byte
	maxBody int64
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Add("Vary", "Origin")
	if origin := r.Header.Get("Origin"); origin != "" {
		if !slices.Contains(h.origins, origin) {
			http.Error(w, "origin "+origin+" may not call this codec server (not in its allowed origins)", http.StatusForbidden)
			return
		}
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Set("Access-Control-Allow-Credentials", "true")
	}
	if r.Method == http.MethodOptions {
		// A preflight carries no credentials, so it is answered before the
		// token check.
		w.Header().Set("Access-Control-Allow-Methods", "POST, OPTIONS")
		w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Namespace")
		w.Header().Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="vigil-codec"`)
		http.Error(w, "missing or wrong bearer token", http.StatusUnauthorized)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, h.maxBody)
	h.next.ServeHTTP(w, r)
}

// authorized compares the bearer token in constant time (of equal-length
// hashes, so not even the token's length leaks).
func (h *handler) authorized(r *http.Request) bool {
	if h.token == nil {
		return true
	}
	auth := r.Header.Get("Authorization")
	const scheme = "Bearer "
	if len(auth) < len(scheme) || !strings.EqualFold(auth[:len(scheme)], scheme) {
		return false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(auth[len(scheme):])))
	return subtle.ConstantTimeCompare(sum[:], h.token[:]) == 1
}
