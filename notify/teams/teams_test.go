package teams_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vigilml/vigil/notify"
	"github.com/vigilml/vigil/notify/teams"
)

func event() notify.Event {
	at := time.Date(2026, 11, 28, 3, 15, 0, 0, time.UTC)
	return notify.Event{
		Kind: notify.KindTrigger, Model: "churn", ModelVersion: "v7", Rule: "accuracy-drop", Severity: "critical",
		Metric: "performance.accuracy", Value: 0.78, Threshold: "< 0.85", WindowStart: at.Add(-15 * time.Minute), WindowEnd: at,
		TopDrifted: []string{"tenure", "plan"}, WorkflowURL: "http://ui/wf", ReportURL: "http://reports/r.json", At: at,
	}
}

func TestPostsAnAdaptiveCard(t *testing.T) {
	var got struct {
		Type        string `json:"type"`
		Attachments []struct {
			ContentType string `json:"contentType"`
			Content     struct {
				Type    string `json:"type"`
				Version string `json:"version"`
				Body    []struct {
					Type  string `json:"type"`
					Text  string `json:"text"`
					Color string `json:"color"`
					Facts []struct{ Title, Value string }
				} `json:"body"`
				Actions []struct{ Type, Title, URL string } `json:"actions"`
			} `json:"content"`
		} `json:"attachments"`
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || r.URL.RawQuery != "sig=s3cret" {
			t.Errorf("%s %s %s", r.Method, r.URL, r.Header.Get("Content-Type"))
		}
		if err := json.NewDecoder(r.Body).Decode(&got); err != nil {
			t.Error(err)
		}
		w.WriteHeader(http.StatusAccepted) // Workflows URLs answer 202
	}))
	defer srv.Close()
	n, err := teams.New(teams.Options{WebhookURL: srv.URL + "/workflows/abc?sig=s3cret", HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Notify(context.Background(), event()); err != nil {
		t.Fatal(err)
	}
	if got.Type != "message" || len(got.Attachments) != 1 || got.Attachments[0].ContentType != "application/vnd.microsoft.card.adaptive" {
		t.Fatalf("envelope = %+v", got)
	}
	c := got.Attachments[0].Content
	if c.Type != "AdaptiveCard" || c.Version != "1.4" || len(c.Body) < 2 {
		t.Fatalf("card = %+v", c)
	}
	if c.Body[0].Text != "[critical] churn: accuracy-drop" || c.Body[0].Color != "attention" {
		t.Errorf("headline = %+v", c.Body[0])
	}
	facts := map[string]string{}
	for _, f := range c.Body[1].Facts {
		facts[f.Title] = f.Value
	}
	want := map[string]string{
		"Model": "churn v7", "Rule": "accuracy-drop (critical)", "Observed": "performance.accuracy = 0.78 (threshold < 0.85)",
		"Window": "2026-11-28 03:00 – 03:15 UTC", "Top drifted": "tenure, plan",
	}
	for k, v := range want {
		if facts[k] != v {
			t.Errorf("fact %s = %q, want %q", k, facts[k], v)
		}
	}
	if len(c.Actions) != 2 || c.Actions[0].Type != "Action.OpenUrl" || c.Actions[0].URL != "http://ui/wf" || c.Actions[1].URL != "http://reports/r.json" {
		t.Errorf("actions = %+v", c.Actions)
	}
}

func TestStatusClassification(t *testing.T) {
	for _, tc := range []struct {
		status int
		retry  bool
	}{{400, false}, {404, false}, {429, true}, {500, true}, {502, true}} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "Microsoft Teams endpoint returned HTTP error", tc.status)
		}))
		n, _ := teams.New(teams.Options{WebhookURL: srv.URL + "/hook?sig=s3cret", HTTPClient: srv.Client()})
		_, err := n.Notify(context.Background(), event())
		srv.Close()
		if err == nil || notify.IsRetryable(err) != tc.retry || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("status %d: %v (retryable %v)", tc.status, err, notify.IsRetryable(err))
		}
	}
}
