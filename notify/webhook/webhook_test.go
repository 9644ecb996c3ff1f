package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vigilml/vigil/notify"
	"github.com/vigilml/vigil/notify/webhook"
)

const secret = "whsec-0123456789abcdef"

var now = time.Date(2026, 11, 28, 3, 20, 0, 0, time.UTC)

func event() notify.Event {
	return notify.Event{
		Kind: notify.KindTrigger, IncidentID: "churn/accuracy-drop/1", DedupKey: "vigil/churn/accuracy-drop",
		Model: "churn", Rule: "accuracy-drop", Severity: "critical", Metric: "performance.accuracy", Value: 0.78,
		Threshold: "< 0.85", TopDrifted: []string{"tenure"}, At: now.Add(-time.Minute),
	}
}

func TestPostsTheSignedEvent(t *testing.T) {
	var (
		raw    []byte
		header http.Header
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ = io.ReadAll(r.Body)
		header = r.Header
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	n, _ := webhook.New(webhook.Options{URL: srv.URL + "/hook/tok", Secret: secret, HTTPClient: srv.Client(), Now: func() time.Time { return now }})
	ref, err := n.Notify(context.Background(), event())
	if err != nil || ref != "vigil/churn/accuracy-drop" {
		t.Fatalf("ref=%q err=%v", ref, err)
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{
		"version": "1", "sent_at": "2026-11-28T03:20:00Z", "kind": "trigger", "incident_id": "churn/accuracy-drop/1",
		"dedup_key": "vigil/churn/accuracy-drop", "model": "churn", "rule": "accuracy-drop", "value": 0.78, "threshold": "< 0.85",
	} {
		if body[k] != v {
			t.Errorf("body[%s] = %v, want %v", k, body[k], v)
		}
	}
	if header.Get("X-Vigil-Timestamp") != "1795836000" || header.Get("X-Vigil-Event") != "trigger" || header.Get("Content-Type") != "application/json" {
		t.Errorf("headers = %v", header)
	}
	if got, want := header.Get("X-Vigil-Signature"), webhook.Sign(secret, raw); got != want || !strings.HasPrefix(got, "sha256=") || len(got) != 71 {
		t.Errorf("signature = %q, want %q", got, want)
	}

	// The receiver's side.
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(raw))
	req.Header = header
	if b, err := webhook.Verify(req, secret, now.Add(time.Minute), 5*time.Minute); err != nil || b.Model != "churn" || b.Version != "1" {
		t.Fatalf("Verify = %+v, %v", b, err)
	}
	for name, check := range map[string]func() error{
		"wrong secret": func() error {
			_, err := webhook.Verify(request(raw, header), "other", now, 5*time.Minute)
			return err
		},
		"tampered body": func() error {
			_, err := webhook.Verify(request(bytes.Replace(raw, []byte("0.78"), []byte("0.98"), 1), header), secret, now, 5*time.Minute)
			return err
		},
		"replayed an hour later": func() error {
			_, err := webhook.Verify(request(raw, header), secret, now.Add(time.Hour), 5*time.Minute)
			return err
		},
	} {
		if check() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func request(raw []byte, h http.Header) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(raw))
	r.Header = h
	return r
}

func TestStatusClassification(t *testing.T) {
	for _, tc := range []struct {
		status int
		retry  bool
	}{{400, false}, {401, false}, {410, false}, {429, true}, {500, true}, {503, true}} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(tc.status)
		}))
		n, _ := webhook.New(webhook.Options{URL: srv.URL + "/hook/tok", HTTPClient: srv.Client()})
		_, err := n.Notify(context.Background(), event())
		srv.Close()
		if err == nil || notify.IsRetryable(err) != tc.retry || strings.Contains(err.Error(), "/hook/tok") {
			t.Errorf("status %d: %v", tc.status, err)
		}
	}
}
