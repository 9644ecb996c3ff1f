package dashboard

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vigilml/vigil/analysis"
	"github.com/vigilml/vigil/config"
)

func newTestServer(t testing.TB, st *synthStore, models int, r Renderer, token string) *httptest.Server {
	t.Helper()
	ui := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "<!DOCTYPE html><title>Temporal</title>")
	}))
	t.Cleanup(ui.Close)
	l := &Loader{Config: synthConfig(models), Reports: st, Registry: synthRegistry{}, Runs: synthRuns{ui: ui.URL}}
	srv := httptest.NewServer(Handler(l, r, token))
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, c *http.Client, url string, header ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestReportURLIsPublicURLPlusReportPath(t *testing.T) {
	start := time.Date(2026, 3, 1, 10, 15, 0, 0, time.FixedZone("CET", 3600))
	for _, tc := range []struct{ public, want string }{
		{"https://vigil.example.com", "https://vigil.example.com/models/churn/reports/2026-03-01T09:15:00Z"},
		{"https://example.com/vigil/", "https://example.com/vigil/models/churn/reports/2026-03-01T09:15:00Z"},
		{"", "s3://bucket/reports/churn/2026/03/01/2026-03-01T09:15:00Z.json"},
	} {
		if got := ReportURL(tc.public, "churn", start, "s3://bucket/reports/churn/2026/03/01/2026-03-01T09:15:00Z.json"); got != tc.want {
			t.Errorf("ReportURL(%q) = %s, want %s", tc.public, got, tc.want)
		}
	}
}

func TestRulesAndStatusAreJudgedAsTheMonitorDoes(t *testing.T) {
	cfg := synthConfig(1)
	rules := cfg.Models[0].Rules
	good := synthReport("m", synthT0, false, 0)
	drifted := synthReport("m", synthT0, true, 0)
	incomplete := synthReport("m", synthT0, true, 0)
	incomplete.Incomplete = true
	invalid := &Stored{Invalid: "no column shared with the reference"}
	small := synthReport("m", synthT0, true, 0)
	small.InsufficientData = true
	empty := &Stored{}
	for name, tc := range map[string]struct {
		s        *Stored
		status   string
		breached []string
	}{
		"good":         {good, StatusOK, nil},
		"drifted":      {drifted, StatusBreach, []string{"accuracy-drop", "x-drift"}},
		"incomplete":   {incomplete, StatusIncomplete, nil},
		"invalid":      {invalid, StatusInvalid, nil},
		"insufficient": {small, StatusInsufficientData, nil},
		"no data":      {empty, StatusNoData, nil},
	} {
		res := JudgeRules(rules, tc.s)
		var breached []string
		for _, r := range res {
			if r.Breached {
				breached = append(breached, r.Rule)
			}
		}
		if got := StatusOf(tc.s, res); got != tc.status || strings.Join(breached, ",") != strings.Join(tc.breached, ",") {
			t.Errorf("%s: status %s, breached %v; want %s, %v", name, got, breached, tc.status, tc.breached)
		}
	}
}

// The overview reads each model's latest OverviewWindows reports once, and
// nothing on the next request while they are unchanged.
func TestOverviewReadsOnlyTheLatestWindowsOnce(t *testing.T) {
	st := &synthStore{windows: 1000, driftFrom: 990}
	l := &Loader{Config: synthConfig(3), Reports: st}
	p := l.Overview(context.Background())
	if got := st.reads.Load(); got != 3*OverviewWindows {
		t.Errorf("first overview read %d reports, want %d", got, 3*OverviewWindows)
	}
	for _, m := range p.Models {
		if m.Status != StatusBreach || m.Last == nil || !m.Last.Start.Equal(st.start(999)) || len(m.Errors) > 0 {
			t.Errorf("%s: status %s, last %+v, errors %v", m.Name, m.Status, m.Last, m.Errors)
		}
		if n := len(m.Trend.Values); n != OverviewWindows || !m.Trend.Has[n-1] || m.Trend.Values[n-1] > 0.8 {
			t.Errorf("%s: trend %+v", m.Name, m.Trend)
		}
	}
	l.Overview(context.Background())
	if got := st.reads.Load(); got != 3*OverviewWindows {
		t.Errorf("second overview read %d more reports, want none", got-3*OverviewWindows)
	}
}

func TestPages(t *testing.T) {
	st := &synthStore{windows: 100, driftFrom: 80}
	srv := newTestServer(t, st, 2, Renderer{}, "")
	report := srv.URL + ReportPath("model-000", st.start(90))
	for _, tc := range []struct {
		path   string
		status int
		want   []string
	}{
		{"/", 200, []string{`href="/models/model-001"`, "breach", "accuracy-drop", "v2", `class="chart spark"`}},
		{"/models/model-000", 200, []string{"Performance", "Latency (ms)", "Dataset drift share", `class="chart heatmap"`,
			`href="` + ReportPath("model-000", st.start(99)) + `"`, "accuracy-drop below 0.85", "promoted after retrain-model-000", "retrain-model-000"}},
		{ReportPath("model-000", st.start(90)), 200, []string{"accuracy-drop", "&lt; 0.85", "Confusion matrix", "ROC curve",
			"secret-customer-tier", `id="feature-x"`, "wasserstein", `class="chart bars"`}},
		{"/models/nope", 404, []string{"no such model"}},
		{ReportPath("model-000", st.start(100)), 404, []string{"not found"}},
		{"/models/model-000/reports/yesterday", 400, []string{"RFC 3339"}},
	} {
		code, body := get(t, srv.Client(), srv.URL+tc.path)
		if code != tc.status {
			t.Errorf("GET %s: %d, want %d\n%.300s", tc.path, code, tc.status, body)
		}
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("GET %s lacks %q", tc.path, w)
			}
		}
	}
	// Drifted features come first in a report.
	_, body := get(t, srv.Client(), report)
	if x, y := strings.Index(body, `id="feature-x"`), strings.Index(body, `id="feature-y"`); x < 0 || y < x {
		t.Errorf("drifted feature x is not listed before y")
	}
	resp, err := srv.Client().Post(srv.URL+"/", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d, want 405 (read-only)", resp.StatusCode)
	}
}

func TestHideValuesKeepsCategoriesAndReadErrorsOffThePage(t *testing.T) {
	s := synthReport("m", synthT0, true, 0)
	s.ReadErrors = []string{`s3://b/k.jsonl line 7: {"email":"ann@example.com"}: invalid`}
	for _, hide := range []bool{false, true} {
		var b bytes.Buffer
		if err := (Renderer{HideValues: hide}).Report(&b, NewReportPage("m", s, nil), true); err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{"secret-customer-tier", "ann@example.com"} {
			if strings.Contains(b.String(), secret) == hide {
				t.Errorf("hide_values %v: %q on the page: %v", hide, secret, !hide)
			}
		}
		if hide && !strings.Contains(b.String(), "category 2") {
			t.Errorf("hidden categories are not numbered")
		}
	}
}

func TestToken(t *testing.T) {
	st := &synthStore{windows: 5, driftFrom: 5}
	srv := newTestServer(t, st, 1, Renderer{}, "s3cret")
	noRedirect := *srv.Client()
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if code, body := get(t, &noRedirect, srv.URL+"/"); code != 401 || !strings.Contains(body, "?token=") {
		t.Errorf("no token: %d %s", code, body)
	}
	if code, _ := get(t, &noRedirect, srv.URL+"/", "Authorization", "Bearer wrong"); code != 401 {
		t.Errorf("wrong token: %d", code)
	}
	if code, _ := get(t, &noRedirect, srv.URL+"/", "Authorization", "Bearer s3cret"); code != 200 {
		t.Errorf("bearer token: %d", code)
	}
	resp, err := noRedirect.Get(srv.URL + "/models/model-000?token=s3cret")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cookies := resp.Cookies()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/models/model-000" || len(cookies) != 1 || !cookies[0].HttpOnly {
		t.Fatalf("?token=: %d, Location %q, cookies %v", resp.StatusCode, resp.Header.Get("Location"), cookies)
	}
	if code, _ := get(t, &noRedirect, srv.URL+"/models/model-000", "Cookie", TokenCookie+"=s3cret"); code != 200 {
		t.Errorf("cookie: %d", code)
	}
}

// BenchmarkOverview renders / for 100 models with 1,000 stored windows each:
// "cold" parses every model's latest OverviewWindows reports (a fresh
// worker), "warm" the steady state, where only listing is repeated.
func BenchmarkOverview(b *testing.B) {
	for _, warm := range []bool{false, true} {
		name := "cold"
		if warm {
			name = "warm"
		}
		b.Run(name, func(b *testing.B) {
			st := &synthStore{windows: 1000, driftFrom: 990}
			cfg := synthConfig(100)
			l := &Loader{Config: cfg, Reports: st, Registry: synthRegistry{}, Runs: synthRuns{}}
			if warm {
				l.Overview(context.Background())
			}
			before := st.reads.Load()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if !warm {
					l.cache = nil
				}
				var buf bytes.Buffer
				if err := (Renderer{}).Overview(&buf, l.Overview(context.Background())); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(st.reads.Load()-before)/float64(b.N), "reports-read/op")
		})
	}
}

// A window whose data cannot be analysed says why and shows no numbers; an
// incomplete one says its rules were not judged.
func TestReportOfAWindowWithoutVerdicts(t *testing.T) {
	rules := synthConfig(1).Models[0].Rules
	incomplete := synthReport("m", synthT0, true, 0)
	incomplete.Incomplete = true
	for name, tc := range map[string]struct {
		s       *Stored
		want    []string
		notWant []string
	}{
		"invalid":    {&Stored{WindowStart: synthT0, Invalid: "no column shared with the reference"}, []string{"cannot be analysed", "no column shared", "not judged", "invalid"}, []string{"Dataset drift", "Confusion matrix"}},
		"incomplete": {incomplete, []string{"Incomplete:", "not judged", "incomplete"}, []string{"✕ breach"}},
	} {
		var b bytes.Buffer
		if err := (Renderer{}).Report(&b, NewReportPage("m", tc.s, rules), false); err != nil {
			t.Fatal(err)
		}
		for _, w := range tc.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s: the report lacks %q", name, w)
			}
		}
		for _, w := range tc.notWant {
			if strings.Contains(b.String(), w) {
				t.Errorf("%s: the report shows %q", name, w)
			}
		}
	}
}

// Behind a proxy at worker.public_url's path, every link carries it.
func TestLinksCarryThePublicPath(t *testing.T) {
	st := &synthStore{windows: 60, driftFrom: 50}
	srv := newTestServer(t, st, 1, Renderer{Base: BasePath("https://example.com/vigil/")}, "")
	_, body := get(t, srv.Client(), srv.URL+"/models/model-000")
	if !strings.Contains(body, `href="/vigil`+ReportPath("model-000", st.start(59))+`"`) || strings.Contains(body, `href="/models/`) {
		t.Errorf("links do not all start with /vigil")
	}
}

// A report's estimated performance, weak segments and multivariate drift
// are on its page, and a threshold: auto rule is judged on the report's
// reference band as the monitor judges it.
func TestReportShowsRowLevelAnalysesAndJudgesAutoRules(t *testing.T) {
	s := synthReport("m", synthT0, false, 0)
	s.EstimatedPerformance = map[string]analysis.Estimate{"accuracy": {Value: 0.812, Lower: 0.8, Upper: 0.825}}
	s.Estimation = &analysis.Estimation{Method: "cbpe", Rows: 900, ReferenceRows: 5000}
	s.Segments = []analysis.Segment{{Filter: "plan = basic", Rows: 250, Metric: "accuracy", Value: 0.51, Delta: -0.4, PValue: 1e-9}}
	s.MultivariateDrift = &analysis.MultivariateDrift{Method: "domain_classifier", Statistic: 0.83, Threshold: 0.54, Drifted: true, Features: 4, CategoricalFeatures: 1}
	s.Bands = map[string]analysis.Band{"estimated_performance.accuracy": {Lower: 0.85, Upper: 0.95}}
	rules := []config.Rule{{Name: "est", Metric: "estimated_performance.accuracy", ThresholdMode: config.ThresholdAuto, Severity: "warning"}}
	res := JudgeRules(rules, s)
	if !res[0].Breached || res[0].Threshold != "within the reference band [0.85, 0.95]" {
		t.Errorf("auto rule %+v, want breached below its band", res[0])
	}
	var b bytes.Buffer
	if err := (Renderer{}).Report(&b, NewReportPage("m", s, rules), false); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"Estimated performance", "cbpe on 900 rows", "0.812", "Weakest segments", "plan = basic",
		"Multivariate drift", "domain_classifier", "over 4 features (1 categorical)", "within the reference band [0.85, 0.95]"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("the report lacks %q", w)
		}
	}
	for _, w := range []string{"taken as calibrated", "Estimated without labels: each row"} {
		if strings.Contains(b.String(), w) {
			t.Errorf("a report with labeled segments and a checked calibration says %q", w)
		}
	}
	// Segments found without labels, and a multiclass estimate whose
	// reference could not check the probabilities, say so.
	s.Segments[0].Metric = "estimated_accuracy"
	s.Estimation.ReferenceRows = 0
	b.Reset()
	if err := (Renderer{}).Report(&b, NewReportPage("m", s, rules), false); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"Estimated without labels: each row counts as the calibrated probability", "taken as calibrated"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("the report lacks %q", w)
		}
	}
	b.Reset()
	if err := (Renderer{HideValues: true}).Report(&b, NewReportPage("m", s, rules), false); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "plan = basic") {
		t.Error("hide_values shows a segment's category")
	}
}
