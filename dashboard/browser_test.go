package dashboard_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vigilml/vigil/activities"
	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/dashboard"
	"github.com/vigilml/vigil/internal/browsertest"
)

func TestInBrowser(t *testing.T) {
	srv := dashboard.SynthServer(t, 3, 200, 180, dashboard.Renderer{})
	b := browsertest.New(t)

	t.Run("the console check catches errors", func(t *testing.T) {
		if err := chromedp.Do(b.Ctx, chromedp.Navigate(`data:text/html,<script>console.error("boom"); missing();</script>`),
			chromedp.Sleep(200*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		if errs := strings.Join(b.Errors(), "\n"); !strings.Contains(errs, "boom") || !strings.Contains(errs, "exception") {
			t.Errorf("console errors not caught: %q", errs)
		}
	})

	t.Run("overview", func(t *testing.T) {
		b.Open(t, srv.URL+"/")
		if n := b.Drawn(t, "svg.spark polyline"); n != 3 {
			t.Errorf("%d sparklines drawn, want 3", n)
		}
		if n := b.Drawn(t, ".badge.breach"); n < 3 {
			t.Errorf("%d breach badges, want one per model at least", n)
		}
	})

	t.Run("model page", func(t *testing.T) {
		b.Open(t, srv.URL+"/models/model-001")
		for sel, least := range map[string]int{"svg.line polyline": 5, "svg.heatmap rect.cell": 4 * dashboard.HeatmapWindows,
			"svg.line line.threshold": 2, "svg.heatmap path": 20} {
			if n := b.Drawn(t, sel); n < least {
				t.Errorf("%s: %d drawn, want at least %d", sel, n, least)
			}
		}
	})

	t.Run("the rollout section", func(t *testing.T) {
		b.Open(t, srv.URL+"/models/model-001") // Open fails on console errors
		want := dashboard.SynthRollout()
		if n := b.Drawn(t, "svg.rollout g.step .mark"); n != len(want.Steps) {
			t.Errorf("%d step marks drawn, want %d", n, len(want.Steps))
		}
		if n := b.Drawn(t, "svg.rollout line.interval"); n != len(want.Steps) {
			t.Errorf("%d intervals drawn, want %d", n, len(want.Steps))
		}
		rows, err := chromedp.Run(b.Ctx, chromedp.Evaluate[[][]string](`Array.from(document.querySelectorAll("table.rollout-steps tbody tr")).map(r => Array.from(r.cells).map(c => c.textContent))`))
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != len(want.Steps) {
			t.Fatalf("%d table rows, want %d: %v", len(rows), len(want.Steps), rows)
		}
		for i, s := range want.Steps {
			// Step, At, traffic, rows, metric, champion, challenger, difference, interval.
			if r := rows[i]; r[0] != fmt.Sprint(i+1) || r[2] != fmt.Sprintf("%d%%", s.Percent) || r[3] != fmt.Sprint(s.Rows) || r[4] != s.Metric ||
				r[7] != dashboard.Num(s.Difference) || r[8] != "["+dashboard.Num(s.Lower)+", "+dashboard.Num(s.Upper)+"]" {
				t.Errorf("row %d = %q; want step %+v", i, r, s)
			}
		}
		label, err := chromedp.Run(b.Ctx, chromedp.AttributeValue(chromedp.CSS("svg.rollout"), "aria-label"))
		if err != nil || !strings.Contains(label.Value, "canary rollout of v3 against v2") {
			t.Errorf("aria-label %q, %v", label.Value, err)
		}
	})

	t.Run("a heatmap cell opens its window's report", func(t *testing.T) {
		b.Open(t, srv.URL+"/models/model-001")
		// The last column is the latest window (199), where x drifted.
		err := chromedp.Do(b.Ctx,
			chromedp.Click(chromedp.CSS(`svg.heatmap a.heat-col:last-of-type rect.cell`)),
			chromedp.WaitVisible(chromedp.CSS(`#feature-x`)))
		if err != nil {
			t.Fatal(err)
		}
		loc, _ := chromedp.Run(b.Ctx, chromedp.Location())
		h1, _ := chromedp.Run(b.Ctx, chromedp.Text(chromedp.CSS("h1")))
		want := srv.URL + dashboard.ReportPath("model-001", dashboard.SynthWindow(199))
		if loc != want || !strings.Contains(h1, "breach") {
			t.Errorf("clicked to %s (h1 %q), want %s with status breach", loc, h1, want)
		}
		if errs := b.Errors(); len(errs) > 0 {
			t.Errorf("console errors: %v", errs)
		}
		if n := b.Drawn(t, "svg.bars rect.bar"); n != 2*(5+5+5+3) {
			t.Errorf("%d histogram bars drawn", n)
		}
		if n := b.Drawn(t, "svg.roc polyline"); n != 1 {
			t.Errorf("ROC curve not drawn")
		}
	})

	t.Run("alert links resolve", func(t *testing.T) {
		cfg := &config.Config{Worker: config.Worker{PublicURL: srv.URL}}
		inc := activities.Incident{Model: "model-002", Rule: "accuracy-drop", WindowStart: dashboard.SynthWindow(190),
			ReportURI: "file:///reports/model-002/x.json", WorkflowID: "vigil-incident-model-002"}
		ev := activities.EventOf(activities.NotifyInput{Integration: "slack", Kind: "trigger", Incident: inc}, cfg)
		b.Open(t, ev.ReportURL)
		h1, err := chromedp.Run(b.Ctx, chromedp.Text(chromedp.CSS("h1")))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(h1, "model-002") || !strings.Contains(h1, "2026-03-02 23:30 UTC") {
			t.Errorf("the alert's report link %s shows %q", ev.ReportURL, h1)
		}
		// And the page's own links: the incident's workflow, the model.
		b.Open(t, srv.URL+"/models/model-002")
		links, err := chromedp.Run(b.Ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("main a[href]")).map(a => new URL(a.getAttribute("href"), location.href).href)`))
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, l := range links {
			if seen[l] || len(seen) >= 12 {
				continue
			}
			seen[l] = true
			b.Open(t, l)
		}
	})
}
