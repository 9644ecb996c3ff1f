package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/notify"
)

func TestDedupKey(t *testing.T) {
	t.Run("short keys are readable", func(t *testing.T) {
		if got := notify.DedupKey("churn", "accuracy-drop"); got != "vigil/churn/accuracy-drop" {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("long keys are hashed within the PagerDuty limit", func(t *testing.T) {
		long := strings.Repeat("é", 200)
		a, b := notify.DedupKey(long, "r1"), notify.DedupKey(long, "r2")
		if len(a) > notify.MaxDedupKeyLen || !strings.HasPrefix(a, "vigil/") || !strings.Contains(a, "~") {
			t.Fatalf("bad key %q (len %d)", a, len(a))
		}
		if a == b {
			t.Fatal("different rules share a key")
		}
		if a != notify.DedupKey(long, "r1") {
			t.Fatal("not deterministic")
		}
	})
}

func TestClassification(t *testing.T) {
	for _, tc := range []struct {
		status int
		retry  bool
	}{{400, false}, {401, false}, {403, false}, {404, false}, {408, true}, {429, true}, {500, true}, {502, true}, {503, true}} {
		if got := notify.IsRetryable(notify.StatusError("x", tc.status, "")); got != tc.retry {
			t.Errorf("status %d: retryable=%v, want %v", tc.status, got, tc.retry)
		}
	}
	if !notify.IsRetryable(errors.New("connection reset")) {
		t.Error("transport errors should be retryable")
	}
	if notify.IsRetryable(context.Canceled) {
		t.Error("a canceled context is not retryable")
	}
	if !strings.Contains(notify.StatusError("slack", 400, "bad").Error(), "permanent") {
		t.Error("permanent errors should say so")
	}
}

func TestDoNeverShowsTheURL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such hook "+r.URL.Path, http.StatusNotFound)
	}))
	defer srv.Close()
	secretURL := srv.URL + "/hooks/s3cr3t-path-token"
	_, err := notify.Do(context.Background(), srv.Client(), notify.Request{Integration: "teams", URL: secretURL, Body: map[string]string{}, Secrets: []string{secretURL, "s3cr3t-path-token"}})
	if err == nil || strings.Contains(err.Error(), "s3cr3t") || notify.IsRetryable(err) {
		t.Fatalf("got %v", err)
	}
	srv.Close()
	_, err = notify.Do(context.Background(), nil, notify.Request{Integration: "teams", URL: secretURL, Body: 1, Secrets: []string{secretURL}})
	if err == nil || strings.Contains(err.Error(), "s3cr3t") || !notify.IsRetryable(err) {
		t.Fatalf("transport error: %v", err)
	}
}

type flaky struct {
	errs  []error
	calls int
}

func (f *flaky) Name() string { return "flaky" }
func (f *flaky) Notify(context.Context, notify.Event) (string, error) {
	f.calls++
	if len(f.errs) == 0 {
		return "ref", nil
	}
	err := f.errs[0]
	f.errs = f.errs[1:]
	return "", err
}

func TestSend(t *testing.T) {
	b := notify.Backoff{Attempts: 3, Initial: time.Millisecond, Max: 2 * time.Millisecond}
	for _, tc := range []struct {
		name      string
		errs      []error
		wantCalls int
		wantErr   bool
	}{
		{"retries 5xx then succeeds", []error{notify.StatusError("x", 503, ""), notify.StatusError("x", 429, "")}, 3, false},
		{"gives up on 4xx at once", []error{notify.StatusError("x", 400, "")}, 1, true},
		{"stops after the attempts", []error{notify.StatusError("x", 500, ""), notify.StatusError("x", 500, ""), notify.StatusError("x", 500, ""), nil}, 3, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &flaky{errs: tc.errs}
			ref, err := notify.Send(context.Background(), f, notify.Event{}, b)
			if f.calls != tc.wantCalls || (err != nil) != tc.wantErr || (err == nil && ref != "ref") {
				t.Fatalf("calls=%d err=%v ref=%q", f.calls, err, ref)
			}
		})
	}
}

func TestRoute(t *testing.T) {
	on := true
	cfg := config.Notify{Slack: &config.Slack{}, PagerDuty: &config.PagerDuty{}, Console: &on}
	first, esc := notify.Route(cfg, "critical")
	if strings.Join(first, ",") != "slack,console" || strings.Join(esc, ",") != "pagerduty" {
		t.Fatalf("defaults: first=%v escalate=%v", first, esc)
	}
	if _, esc := notify.Route(cfg, "warning"); len(esc) != 0 {
		t.Fatalf("warning should not page: %v", esc)
	}
	cfg.Routes = map[string]config.Route{"warning": {Notify: []string{"pagerduty"}}}
	if first, _ := notify.Route(cfg, "warning"); strings.Join(first, ",") != "pagerduty" {
		t.Fatalf("configured route ignored: %v", first)
	}
}

func TestWorkflowURL(t *testing.T) {
	got := notify.WorkflowURL("http://127.0.0.1:8233/", "default", "incident-churn")
	if got != "http://127.0.0.1:8233/namespaces/default/workflows/incident-churn" {
		t.Fatal(got)
	}
}

func TestEventRoundTripsThroughJSON(t *testing.T) {
	at := time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)
	ev := notify.Event{Kind: notify.KindAcknowledge, IncidentID: "churn/acc/1", DedupKey: "vigil/churn/acc", Model: "churn",
		Rule: "acc", Severity: "critical", Metric: "performance.accuracy", Value: 0.5, Threshold: "< 0.8",
		WindowStart: at, WindowEnd: at.Add(time.Hour), TopDrifted: []string{"a"}, Actor: "alice", AckedBy: "alice", At: at, Ref: "C1:2.3"}
	raw, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var back notify.Event
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ev, back) {
		t.Fatalf("round trip changed the event:\n%+v\n%+v", ev, back)
	}
}
