package activities

import (
	"testing"
	"time"

	"github.com/vigilml/vigil/config"
)

// Every integration sends Event.ReportURL as the alert's report link: the
// dashboard's page of the window under worker.public_url, else the stored
// report's URI.
func TestAlertReportLink(t *testing.T) {
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	in := NotifyInput{Kind: "trigger", Integration: "slack", Incident: Incident{Model: "churn", Rule: "accuracy-drop",
		WindowStart: start, WindowEnd: start.Add(15 * time.Minute), ReportURI: "s3://b/reports/churn/2026/03/01/2026-03-01T10:00:00Z.json"}}
	for _, tc := range []struct{ public, want string }{
		{"https://vigil.example.com", "https://vigil.example.com/models/churn/reports/2026-03-01T10:00:00Z"},
		{"", "s3://b/reports/churn/2026/03/01/2026-03-01T10:00:00Z.json"},
	} {
		cfg := &config.Config{Worker: config.Worker{PublicURL: tc.public}}
		if got := EventOf(in, cfg).ReportURL; got != tc.want {
			t.Errorf("public_url %q: report link %s, want %s", tc.public, got, tc.want)
		}
	}
}
