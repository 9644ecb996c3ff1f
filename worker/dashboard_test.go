package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/vigilml/vigil/internal/browsertest"
)

// checkDashboard opens the worker's dashboard in chromium after the demo's
// closed loop (breach, incident, retrain, promotion, recovery) and checks
// that the pages show it, reading the real store, registry and Temporal.
// With VIGIL_SCREENSHOTS=dir it also writes the README's screenshots there
// (docs/dashboard: go test ./worker -run ClosedLoop with
// VIGIL_SCREENSHOTS=$PWD/docs/dashboard).
func checkDashboard(t *testing.T, w *running) {
	t.Helper()
	base := "http://" + w.HTTPAddr
	shots := os.Getenv("VIGIL_SCREENSHOTS")
	b := browsertest.New(t)
	text := func(sel string) string {
		s, err := chromedp.Run(b.Ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("%s: %v", sel, err)
		}
		return s
	}

	b.Open(t, base+"/")
	if row := text("table.models tbody tr"); !strings.Contains(row, "demo") || !strings.Contains(row, "v2") {
		t.Errorf("overview row of demo: %q, want it with production v2", row)
	}
	if n := b.Drawn(t, "svg.spark polyline"); n != 1 {
		t.Errorf("%d sparklines drawn, want 1", n)
	}
	if shots != "" {
		b.ScreenshotViewport(t, filepath.Join(shots, "overview.png"), 400)
	}

	b.Open(t, base+"/models/demo")
	timeline := text("#timeline")
	for _, want := range []string{"retrain", "Completed", "evaluation", "breach"} {
		if !strings.Contains(timeline, want) {
			t.Errorf("the model page's timeline lacks %q:\n%s", want, timeline)
		}
	}
	if moves := text("#alias-history"); !strings.Contains(moves, "v1") || !strings.Contains(moves, "v2") {
		t.Errorf("the alias history does not show production moving from v1 to v2:\n%s", moves)
	}
	for sel, least := range map[string]int{"svg.line polyline": 3, "svg.line line.threshold": 1, "svg.heatmap rect.cell": 4} {
		if n := b.Drawn(t, sel); n < least {
			t.Errorf("%s: %d drawn, want at least %d", sel, n, least)
		}
	}
	if shots != "" {
		b.ScreenshotViewport(t, filepath.Join(shots, "model.png"), 1900)
	}
	// A breaching window, from the timeline, opens its report.
	breach, err := chromedp.Run(b.Ctx, chromedp.Evaluate[string](`(document.querySelector('#timeline a[href*="/reports/"]') || {}).href || ""`))
	if err != nil || breach == "" {
		t.Fatalf("no breaching window linked from the timeline (err %v)", err)
	}
	b.Open(t, breach)
	if h1 := text("h1"); !strings.Contains(h1, "breach") {
		t.Errorf("the breaching window's report says %q", h1)
	}
	if n := b.Drawn(t, "svg.bars rect.bar"); n < 8 {
		t.Errorf("%d histogram bars drawn in the report", n)
	}
	if shots != "" {
		b.ScreenshotViewport(t, filepath.Join(shots, "report.png"), 1700)
	}
	// A heatmap column opens its window's report.
	b.Open(t, base+"/models/demo")
	if err := chromedp.Do(b.Ctx, chromedp.Click(chromedp.CSS(`svg.heatmap a.heat-col:last-of-type rect.cell`)),
		chromedp.WaitVisible(chromedp.CSS(`.feature`))); err != nil {
		t.Fatal(err)
	}
	if loc, _ := chromedp.Run(b.Ctx, chromedp.Location()); !strings.Contains(loc, "/models/demo/reports/") {
		t.Errorf("a heatmap click went to %s", loc)
	}
	if errs := b.Errors(); len(errs) > 0 {
		t.Errorf("console errors: %v", errs)
	}
}
