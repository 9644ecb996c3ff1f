package pagerduty_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilml/vigil/notify"
	"github.com/vigilml/vigil/notify/pagerduty"
)

const routingKey = "R0UT1NGKEY0123456789abcdef012345"

// v2Event is the Events API v2 body as PagerDuty documents it.
type v2Event struct {
	RoutingKey  string `json:"routing_key"`
	EventAction string `json:"event_action"`
	DedupKey    string `json:"dedup_key"`
	Client      string `json:"client"`
	ClientURL   string `json:"client_url"`
	Links       []struct {
		Href string `json:"href"`
		Text string `json:"text"`
	} `json:"links"`
	Payload *struct {
		Summary       string         `json:"summary"`
		Source        string         `json:"source"`
		Severity      string         `json:"severity"`
		Timestamp     string         `json:"timestamp"`
		Component     string         `json:"component"`
		Group         string         `json:"group"`
		Class         string         `json:"class"`
		CustomDetails map[string]any `json:"custom_details"`
	} `json:"payload"`
}

type fakePD struct {
	mu         sync.Mutex
	events     []v2Event
	status     int
	retryAfter string
}

func (f *fakePD) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Method != http.MethodPost || r.URL.Path != "/v2/enqueue" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	var e v2Event
	if err := json.NewDecoder(r.Body).Decode(&e); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.events = append(f.events, e)
	w.Header().Set("Content-Type", "application/json")
	if f.retryAfter != "" {
		w.Header().Set("Retry-After", f.retryAfter)
	}
	if f.status != 0 {
		w.WriteHeader(f.status)
		_, _ = w.Write([]byte(`{"status":"invalid event","message":"Event object is invalid","errors":["routing_key ` + e.RoutingKey + ` is invalid"]}`))
		return
	}
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write([]byte(`{"status":"success","message":"Event processed","dedup_key":"` + e.DedupKey + `"}`))
}

func setup(t *testing.T) (*fakePD, *pagerduty.Notifier) {
	f := &fakePD{}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	n, err := pagerduty.New(pagerduty.Options{RoutingKey: routingKey, EventsURL: srv.URL, HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return f, n
}

var at = time.Date(2026, 11, 28, 3, 15, 0, 0, time.UTC)

func escalation() notify.Event {
	return notify.Event{
		Kind: notify.KindEscalate, IncidentID: "churn/accuracy-drop/1", DedupKey: notify.DedupKey("churn", "accuracy-drop"),
		Model: "churn", ModelVersion: "v7", Rule: "accuracy-drop", Severity: "critical",
		Metric: "performance.accuracy", Value: 0.78, Threshold: "< 0.85",
		WindowStart: at.Add(-15 * time.Minute), WindowEnd: at, TopDrifted: []string{"tenure"},
		WorkflowURL: "http://ui/wf", ReportURL: "http://reports/r.json", At: at,
	}
}

func TestEscalationTriggersWithDedupKeySeverityDetailsAndLinks(t *testing.T) {
	f, n := setup(t)
	ref, err := n.Notify(context.Background(), escalation())
	if err != nil {
		t.Fatal(err)
	}
	if ref != "vigil/churn/accuracy-drop" || len(f.events) != 1 {
		t.Fatalf("ref=%q events=%d", ref, len(f.events))
	}
	e := f.events[0]
	if e.RoutingKey != routingKey || e.EventAction != "trigger" || e.DedupKey != "vigil/churn/accuracy-drop" ||
		e.Client != "Vigil" || e.ClientURL != "http://ui/wf" {
		t.Errorf("envelope = %+v", e)
	}
	p := e.Payload
	if p == nil || p.Severity != "critical" || p.Source != "vigil/churn" || p.Component != "churn" ||
		p.Summary != "[critical] churn: accuracy-drop: performance.accuracy = 0.78 (threshold < 0.85)" ||
		p.Timestamp != "2026-11-28T03:15:00Z" || p.Class != "performance.accuracy" {
		t.Fatalf("payload = %+v", p)
	}
	d := p.CustomDetails
	if d["model"] != "churn" || d["model_version"] != "v7" || d["value"] != 0.78 || d["threshold"] != "< 0.85" ||
		d["window"] != "2026-11-28 03:00 – 03:15 UTC" || d["incident_id"] != "churn/accuracy-drop/1" {
		t.Errorf("custom_details = %v", d)
	}
	if len(e.Links) != 2 || e.Links[0].Href != "http://ui/wf" || e.Links[1].Href != "http://reports/r.json" {
		t.Errorf("links = %+v", e.Links)
	}
}

func TestActionsByKind(t *testing.T) {
	for _, tc := range []struct {
		kind    notify.Kind
		actions string
	}{
		{notify.KindTrigger, "trigger"},
		{notify.KindEscalate, "trigger"},
		{notify.KindAcknowledge, "acknowledge"},
		{notify.KindResolve, "resolve"},
		{notify.KindUpdate, ""},
		{notify.KindTest, "trigger,resolve"},
	} {
		t.Run(string(tc.kind), func(t *testing.T) {
			f, n := setup(t)
			ev := escalation()
			ev.Kind = tc.kind
			if _, err := n.Notify(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range f.events {
				got = append(got, e.EventAction)
				if tc.kind != notify.KindTest && e.DedupKey != "vigil/churn/accuracy-drop" {
					t.Errorf("dedup_key = %q", e.DedupKey)
				}
				if e.EventAction != "trigger" && e.Payload != nil {
					t.Errorf("%s carries a payload", e.EventAction)
				}
			}
			if strings.Join(got, ",") != tc.actions {
				t.Fatalf("actions = %v, want %s", got, tc.actions)
			}
			if tc.kind == notify.KindTest {
				if f.events[0].DedupKey != f.events[1].DedupKey || !strings.HasPrefix(f.events[0].DedupKey, "vigil/test/") ||
					f.events[0].Payload.Severity != "info" || !strings.Contains(f.events[0].Payload.Summary, "[TEST]") {
					t.Errorf("test events = %+v", f.events)
				}
			}
		})
	}
}

func TestSeverityMapping(t *testing.T) {
	for in, want := range map[string]string{"critical": "critical", "warning": "warning", "info": "info", "": "error", "major": "error"} {
		if got := pagerduty.Severity(in); got != want {
			t.Errorf("Severity(%q) = %q, want %q", in, got, want)
		}
	}
}

// A 429's Retry-After reaches the activity, which waits that long before
// the next attempt.
func TestRateLimitCarriesRetryAfter(t *testing.T) {
	f, n := setup(t)
	f.status, f.retryAfter = http.StatusTooManyRequests, "7"
	_, err := n.Notify(context.Background(), escalation())
	var e *notify.Error
	if !errors.As(err, &e) || !e.Retryable || e.RetryAfter != 7*time.Second {
		t.Fatalf("got %#v, want a retryable error with RetryAfter 7s", err)
	}
	f.retryAfter = "soon" // not seconds: ignored
	if _, err := n.Notify(context.Background(), escalation()); !errors.As(err, &e) || e.RetryAfter != 0 {
		t.Fatalf("got %#v, want no RetryAfter", err)
	}
}

func TestErrorClassification(t *testing.T) {
	for _, tc := range []struct {
		status int
		retry  bool
		want   string
	}{
		{400, false, "routing_key_env"},
		{429, true, "rate limited"},
		{500, true, "HTTP 500"},
		{503, true, "HTTP 503"},
	} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			f, n := setup(t)
			f.status = tc.status
			_, err := n.Notify(context.Background(), escalation())
			if err == nil || notify.IsRetryable(err) != tc.retry || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want retryable=%v with %q", err, tc.retry, tc.want)
			}
			if strings.Contains(err.Error(), routingKey) {
				t.Fatalf("error leaks the routing key: %v", err)
			}
		})
	}
}
