package opsgenie_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vigilml/vigil/notify"
	"github.com/vigilml/vigil/notify/opsgenie"
)

const apiKey = "0psg3n1e-key-0000-1111-222233334444"

type request struct {
	Path, Query string
	Body        map[string]any
}

func setup(t *testing.T, status int) (*[]request, *opsgenie.Notifier) {
	var got []request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "GenieKey "+apiKey || r.Method != http.MethodPost {
			t.Errorf("%s with Authorization %q", r.Method, r.Header.Get("Authorization"))
		}
		var b map[string]any
		_ = json.NewDecoder(r.Body).Decode(&b)
		got = append(got, request{Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Body: b})
		if status != 0 {
			w.WriteHeader(status)
			_, _ = w.Write([]byte(`{"message":"Key format is not valid!","took":0.0}`))
			return
		}
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"result":"Request will be processed","took":0.2,"requestId":"43a29c5c"}`))
	}))
	t.Cleanup(srv.Close)
	n, err := opsgenie.New(opsgenie.Options{APIKey: apiKey, APIURL: srv.URL, HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return &got, n
}

func event(kind notify.Kind) notify.Event {
	return notify.Event{
		Kind: kind, IncidentID: "churn/accuracy-drop/1", DedupKey: notify.DedupKey("churn", "accuracy-drop"),
		Model: "churn", Rule: "accuracy-drop", Severity: "critical", Metric: "performance.accuracy", Value: 0.78,
		Threshold: "< 0.85", WorkflowURL: "http://ui/wf", Actor: "alice",
	}
}

func TestCreateUsesTheDedupKeyAsAlias(t *testing.T) {
	got, n := setup(t, 0)
	ref, err := n.Notify(context.Background(), event(notify.KindEscalate))
	if err != nil || ref != "vigil/churn/accuracy-drop" {
		t.Fatalf("ref=%q err=%v", ref, err)
	}
	r := (*got)[0]
	if r.Path != "/v2/alerts" || r.Query != "" {
		t.Fatalf("path %s?%s", r.Path, r.Query)
	}
	b := r.Body
	if b["alias"] != "vigil/churn/accuracy-drop" || b["priority"] != "P1" || b["source"] != "vigil" || b["entity"] != "churn" ||
		b["message"] != "[critical] churn: accuracy-drop: performance.accuracy = 0.78 (threshold < 0.85)" {
		t.Errorf("body = %v", b)
	}
	d := b["details"].(map[string]any)
	if d["value"] != "0.78" || d["workflow_url"] != "http://ui/wf" || d["incident_id"] != "churn/accuracy-drop/1" {
		t.Errorf("details = %v", d)
	}
}

func TestFollowUpsAddressTheAlertByAlias(t *testing.T) {
	for _, tc := range []struct {
		kind notify.Kind
		path string
		note string
	}{
		{notify.KindAcknowledge, "/v2/alerts/vigil%2Fchurn%2Faccuracy-drop/acknowledge", "Acknowledged in Vigil by alice"},
		{notify.KindResolve, "/v2/alerts/vigil%2Fchurn%2Faccuracy-drop/close", "Resolved: performance.accuracy"},
		{notify.KindUpdate, "/v2/alerts/vigil%2Fchurn%2Faccuracy-drop/notes", "Update: performance.accuracy"},
	} {
		t.Run(string(tc.kind), func(t *testing.T) {
			got, n := setup(t, 0)
			if _, err := n.Notify(context.Background(), event(tc.kind)); err != nil {
				t.Fatal(err)
			}
			r := (*got)[0]
			if r.Path != tc.path || r.Query != "identifierType=alias" {
				t.Fatalf("got %s?%s, want %s?identifierType=alias", r.Path, r.Query, tc.path)
			}
			if r.Body["user"] != "alice" || r.Body["source"] != "vigil" || !strings.HasPrefix(r.Body["note"].(string), tc.note) {
				t.Errorf("body = %v", r.Body)
			}
		})
	}
}

func TestTestEventCreatesAndClosesALowPriorityAlert(t *testing.T) {
	got, n := setup(t, 0)
	if _, err := n.Notify(context.Background(), event(notify.KindTest)); err != nil {
		t.Fatal(err)
	}
	if len(*got) != 2 || (*got)[0].Body["priority"] != "P5" || !strings.HasSuffix((*got)[1].Path, "/close") {
		t.Fatalf("requests = %+v", *got)
	}
}

func TestStatusClassification(t *testing.T) {
	for _, tc := range []struct {
		status int
		retry  bool
		want   string
	}{{400, false, "HTTP 400"}, {401, false, "api_key_env"}, {422, false, "HTTP 422"}, {429, true, "HTTP 429"}, {500, true, "HTTP 500"}} {
		_, n := setup(t, tc.status)
		_, err := n.Notify(context.Background(), event(notify.KindTrigger))
		if err == nil || notify.IsRetryable(err) != tc.retry || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), apiKey) {
			t.Errorf("status %d: %v", tc.status, err)
		}
	}
}
