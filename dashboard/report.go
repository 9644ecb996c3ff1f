package dashboard

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/vigilml/vigil/analysis"
	"github.com/vigilml/vigil/config"
)

// Statuses of a window, as the MonitorWorkflow sets VigilStatus.
const (
	StatusOK               = "ok"
	StatusWarning          = "warning"
	StatusBreach           = "breach"
	StatusNoData           = "no-data"
	StatusIncomplete       = "incomplete"
	StatusInvalid          = "invalid"
	StatusInsufficientData = "insufficient-data"
)

// Stored is one stored evaluation report: the analysis report and what the
// Analyze activity wrote around it.
type Stored struct {
	Model            string    `json:"model"`
	WindowStart      time.Time `json:"window_start"`
	WindowEnd        time.Time `json:"window_end"`
	Incomplete       bool      `json:"incomplete"`
	InsufficientData bool      `json:"insufficient_data"`
	MinRows          int       `json:"min_rows"`
	ReadErrors       []string  `json:"read_errors"`
	Objects          int       `json:"objects"`
	// Invalid is why the window's data cannot be analysed (the report then
	// has no numbers).
	Invalid string `json:"invalid"`
	analysis.Report
	// URI is where the report is stored (not part of the document).
	URI string `json:"-"`
}

// DecodeReport reads a stored report.
func DecodeReport(data []byte) (*Stored, error) {
	var s Stored
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("decode report: %w", err)
	}
	return &s, nil
}

// WindowID is how a window is named in URLs: its start, RFC 3339 UTC.
func WindowID(start time.Time) string { return start.UTC().Format(time.RFC3339) }

// ModelPath is the path of a model's page.
func ModelPath(model string) string { return "/models/" + url.PathEscape(model) }

// ReportPath is the path of one window's report page.
func ReportPath(model string, windowStart time.Time) string {
	return ModelPath(model) + "/reports/" + WindowID(windowStart)
}

// ReportURL is the link alerts carry: publicURL + ReportPath when the
// worker's public address is known, else the stored report's URI.
func ReportURL(publicURL, model string, windowStart time.Time, storedURI string) string {
	if publicURL == "" || model == "" || windowStart.IsZero() {
		return storedURI
	}
	return strings.TrimRight(publicURL, "/") + ReportPath(model, windowStart)
}

// RuleResult is one rule judged on one window.
type RuleResult struct {
	Rule      string
	Metric    string
	Severity  string
	Value     float64
	HasValue  bool
	Breached  bool
	Threshold string
}

// JudgeRules checks the model's rules on a stored report the way the
// MonitorWorkflow did (workflows.CheckRules): no value on an invalid or
// incomplete window, and only rows.* rules on a window below min_rows.
func JudgeRules(rules []config.Rule, s *Stored) []RuleResult {
	out := make([]RuleResult, 0, len(rules))
	for _, r := range rules {
		v, ok := s.Metric(r.Metric)
		if s.Incomplete || s.Invalid != "" || (s.InsufficientData && !strings.HasPrefix(r.Metric, "rows.")) {
			v, ok = 0, false
		}
		rr := RuleResult{Rule: r.Name, Metric: r.Metric, Severity: r.Severity, Value: v, HasValue: ok,
			Breached: ok && r.Breached(v), Threshold: r.Threshold()}
		if r.Auto() {
			b, has := s.Bands[r.Metric]
			rr.Breached, rr.Threshold = r.BandVerdict(v, ok, has, b.Lower, b.Upper, b.Note)
		}
		out = append(out, rr)
	}
	return out
}

// StatusOf is the window's status as the MonitorWorkflow sets it
// (workflows.statusOf).
func StatusOf(s *Stored, results []RuleResult) string {
	switch {
	case s.Invalid != "":
		return StatusInvalid
	case s.Incomplete:
		return StatusIncomplete
	}
	status := StatusOK
	switch {
	case s.Rows.Current == 0:
		status = StatusNoData
	case s.InsufficientData:
		status = StatusInsufficientData
	}
	for _, rr := range results {
		if !rr.Breached {
			continue
		}
		if rr.Severity == "critical" {
			return StatusBreach
		}
		status = StatusWarning
	}
	return status
}

// MainMetric is the metric a model's sparkline shows: its retrain metric,
// else its task's main metric, else the dataset drift share.
func MainMetric(m *config.Model) string {
	if m.Retrain != nil && m.Retrain.Metric != "" {
		return m.Retrain.Metric
	}
	if m.Task == "" {
		return "dataset_drift.share"
	}
	return config.MainMetric(m.Task)
}
