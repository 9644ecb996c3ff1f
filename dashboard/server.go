package dashboard

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/vigilml/vigil/store"
)

// TokenCookie carries the dashboard token after a visit with ?token=.
const TokenCookie = "vigil_dashboard"

// Handler serves the pages: GET /, /models/{model},
// /models/{model}/reports/{window}. With a token, a request must carry it as
// "Authorization: Bearer <token>", or as the cookie a visit to any page with
// ?token=<token> sets (the URL is then redirected without it, so the token
// stays out of the address bar and history).
func Handler(l *Loader, r Renderer, token string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, req *http.Request) {
		p := l.Overview(req.Context())
		serve(w, req, func(b *bytes.Buffer) error { return r.Overview(b, p) })
	})
	mux.HandleFunc("GET /models/{model}", func(w http.ResponseWriter, req *http.Request) {
		p, err := l.Model(req.Context(), req.PathValue("model"))
		if err != nil {
			fail(w, err)
			return
		}
		serve(w, req, func(b *bytes.Buffer) error { return r.Model(b, p) })
	})
	mux.HandleFunc("GET /models/{model}/reports/{window}", func(w http.ResponseWriter, req *http.Request) {
		start, err := time.Parse(time.RFC3339, req.PathValue("window"))
		if err != nil {
			http.Error(w, fmt.Sprintf("window %q: want its start in RFC 3339, like 2026-03-01T10:00:00Z", req.PathValue("window")), http.StatusBadRequest)
			return
		}
		p, err := l.Report(req.Context(), req.PathValue("model"), start)
		if err != nil {
			fail(w, err)
			return
		}
		serve(w, req, func(b *bytes.Buffer) error { return r.Report(b, p, false) })
	})
	if token == "" {
		return readOnly(mux)
	}
	return readOnly(requireToken(token, mux))
}

// readOnly refuses every method but GET and HEAD: the dashboard changes
// nothing.
func readOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "the dashboard is read-only", http.StatusMethodNotAllowed)
			return
		}
		next.ServeHTTP(w, req)
	})
}

func requireToken(token string, next http.Handler) http.Handler {
	same := func(s string) bool { return subtle.ConstantTimeCompare([]byte(s), []byte(token)) == 1 }
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if q := req.URL.Query().Get("token"); q != "" {
			if !same(q) {
				http.Error(w, "wrong dashboard token", http.StatusUnauthorized)
				return
			}
			http.SetCookie(w, &http.Cookie{Name: TokenCookie, Value: q, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
				Secure: req.TLS != nil || req.Header.Get("X-Forwarded-Proto") == "https"})
			u := *req.URL
			v := u.Query()
			v.Del("token")
			u.RawQuery = v.Encode()
			http.Redirect(w, req, u.RequestURI(), http.StatusSeeOther)
			return
		}
		if h, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer "); ok && same(h) {
			next.ServeHTTP(w, req)
			return
		}
		if c, err := req.Cookie(TokenCookie); err == nil && same(c.Value) {
			next.ServeHTTP(w, req)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="vigil dashboard"`)
		http.Error(w, "this dashboard needs its token (worker.dashboard.token_env): open the page once with ?token=<token>, or send Authorization: Bearer <token>", http.StatusUnauthorized)
	})
}

// serve renders into a buffer first, so a template error becomes a 500
// instead of half a page.
func serve(w http.ResponseWriter, req *http.Request, render func(*bytes.Buffer) error) {
	var b bytes.Buffer
	if err := render(&b); err != nil {
		http.Error(w, "render: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	// Nothing is loaded from elsewhere and no script runs.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	if req.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(b.Bytes())
}

func fail(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrUnknownModel), errors.Is(err, store.ErrNotFound):
		http.Error(w, err.Error(), http.StatusNotFound)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
	default:
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

// BasePath is the path part of worker.public_url, under which a proxy may
// serve the pages ("" for none).
func BasePath(publicURL string) string {
	u, err := url.Parse(publicURL)
	if err != nil {
		return ""
	}
	return strings.TrimRight(u.Path, "/")
}
