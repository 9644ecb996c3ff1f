package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/vigilml/vigil/notify"
)

// Name is the integration's name in config and routes.
const Name = "webhook"

// Version is the body's schema version.
const Version = "1"

// Header names.
const (
	SignatureHeader = "X-Vigil-Signature"
	TimestampHeader = "X-Vigil-Timestamp"
	EventHeader     = "X-Vigil-Event"
)

// Body is what the webhook receives.
type Body struct {
	Version string    `json:"version"`
	SentAt  time.Time `json:"sent_at"`
	notify.Event
}

// Options configures a Notifier. URL and Secret are secrets.
type Options struct {
	URL        string
	Secret     string // HMAC key; empty: unsigned
	HTTPClient *http.Client
	Now        func() time.Time
}

// Notifier posts signed JSON. It is safe for concurrent use.
type Notifier struct{ opts Options }

// New builds a Notifier.
func New(opts Options) (*Notifier, error) {
	if opts.URL == "" {
		return nil, errors.New("webhook: the URL is empty")
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Notifier{opts: opts}, nil
}

// Name implements notify.Notifier.
func (n *Notifier) Name() string { return Name }

// Notify implements notify.Notifier with one attempt. The ref is the
// incident's dedup key, which the receiver also sees.
func (n *Notifier) Notify(ctx context.Context, ev notify.Event) (string, error) {
	now := n.opts.Now().UTC().Truncate(time.Second)
	raw, err := json.Marshal(Body{Version: Version, SentAt: now, Event: ev})
	if err != nil {
		return "", &notify.Error{Integration: Name, Msg: "encode event: " + err.Error()}
	}
	h := http.Header{
		"Content-Type":  {"application/json"},
		"User-Agent":    {"vigil-webhook/" + Version},
		TimestampHeader: {strconv.FormatInt(now.Unix(), 10)},
		EventHeader:     {string(ev.Kind)},
	}
	if n.opts.Secret != "" {
		h.Set(SignatureHeader, Sign(n.opts.Secret, raw))
	}
	_, err = notify.Do(ctx, n.opts.HTTPClient, notify.Request{
		Integration: Name, URL: n.opts.URL, Body: json.RawMessage(raw), Header: h,
		Secrets: []string{n.opts.URL, n.opts.Secret},
	})
	return ev.DedupKey, err
}

// Sign returns the X-Vigil-Signature value for body.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify is for receivers written in Go: it checks r's signature against
// secret, and that the body's sent_at is within tolerance of now, and
// returns the decoded body. It reads r.Body.
func Verify(r *http.Request, secret string, now time.Time, tolerance time.Duration) (*Body, error) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, notify.MaxResponse))
	if err != nil {
		return nil, err
	}
	want := Sign(secret, raw)
	if !hmac.Equal([]byte(want), []byte(r.Header.Get(SignatureHeader))) {
		return nil, errors.New("webhook: bad signature")
	}
	var b Body
	if err := json.NewDecoder(bytes.NewReader(raw)).Decode(&b); err != nil {
		return nil, fmt.Errorf("webhook: decode body: %w", err)
	}
	if d := now.Sub(b.SentAt); d > tolerance || d < -tolerance {
		return nil, fmt.Errorf("webhook: sent_at %s is more than %s from now: stale or replayed", b.SentAt.Format(time.RFC3339), tolerance)
	}
	return &b, nil
}
