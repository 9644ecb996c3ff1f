package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Backoff is the retry policy of Send: exponential, starting at Initial and
// doubling up to Max, for at most Attempts attempts in total.
type Backoff struct {
	Attempts int
	Initial  time.Duration
	Max      time.Duration
}

// DefaultBackoff suits an interactive command: 4 attempts within ~7 s.
var DefaultBackoff = Backoff{Attempts: 4, Initial: time.Second, Max: 4 * time.Second}

// Send is the one retry loop: it calls n.Notify until it succeeds, fails
// permanently (IsRetryable false), or the attempts or ctx run out, waiting
// with exponential backoff in between (or the provider's Retry-After, when
// longer). The worker does not use it: there, Temporal's activity retry
// policy retries each Notify call.
func Send(ctx context.Context, n Notifier, ev Event, b Backoff) (string, error) {
	if b.Attempts < 1 {
		b.Attempts = 1
	}
	wait := b.Initial
	for attempt := 1; ; attempt++ {
		ref, err := n.Notify(ctx, ev)
		if err == nil || !IsRetryable(err) || attempt >= b.Attempts {
			return ref, err
		}
		d := wait
		var e *Error
		if errors.As(err, &e) && e.RetryAfter > d {
			d = e.RetryAfter
		}
		if b.Max > 0 && d > b.Max {
			d = b.Max
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", fmt.Errorf("%w (gave up after %d attempts: %v)", err, attempt, ctx.Err())
		case <-t.C:
		}
		wait *= 2
		if b.Max > 0 && wait > b.Max {
			wait = b.Max
		}
	}
}

// Request is one HTTP call made by an integration through Do.
type Request struct {
	Integration string
	Method      string // default POST
	URL         string
	Body        any // marshaled as JSON
	Header      http.Header
	// Secrets are redacted from any error text (keys, tokens); the parts
	// of URL that may be secret are redacted anyway (see URLSecrets).
	Secrets []string
}

// MaxResponse bounds how much of a response body Do reads.
const MaxResponse = 1 << 20

// Do sends r once and classifies the outcome: 2xx returns the body; 429 and
// 5xx are retryable *Errors; other 4xx are permanent *Errors. The URL never
// appears in an error (webhook URLs are secrets); the response text does,
// shortened and with r.Secrets redacted.
func Do(ctx context.Context, client *http.Client, r Request) ([]byte, error) {
	if client == nil {
		client = http.DefaultClient
	}
	method := r.Method
	if method == "" {
		method = http.MethodPost
	}
	var body io.Reader
	if r.Body != nil {
		raw, err := json.Marshal(r.Body)
		if err != nil {
			return nil, &Error{Integration: r.Integration, Msg: "encode request: " + err.Error()}
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.URL, body)
	if err != nil {
		// The error text would quote the URL.
		return nil, &Error{Integration: r.Integration, Msg: "invalid URL: check the configured variable holds an http(s) URL"}
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if r.Body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, TransportError(r.Integration, err, append(URLSecrets(r.URL), r.Secrets...)...)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, MaxResponse))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return out, nil
	}
	secrets := append(URLSecrets(r.URL), r.Secrets...)
	e := StatusError(r.Integration, resp.StatusCode, shorten(Redact(string(out), secrets...)))
	if resp.StatusCode == http.StatusTooManyRequests {
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			e.RetryAfter = time.Duration(s) * time.Second
		}
	}
	return nil, e
}

func shorten(s string) string {
	const max = 300
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
