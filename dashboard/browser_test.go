package dashboard_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/vigilml/vigil/activities"
	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/dashboard"
)

// Browser is Debian's chromium (installed by .ci/run) under chromedp,
// collecting what its console reports: script exceptions, console.error and
// browser log entries (failed loads, blocked resources, CSP violations).
type Browser struct {
	Ctx  context.Context
	mu   sync.Mutex
	errs []string
}

// NewBrowser starts chromium; without it the test fails (CI installs it),
// except under -short.
func NewBrowser(t testing.TB) *Browser {
	t.Helper()
	path := os.Getenv("VIGIL_CHROMIUM")
	if path == "" {
		for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if p, err := exec.LookPath(name); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		if testing.Short() {
			t.Skip("no chromium; the browser tests run without -short")
		}
		t.Fatal("chromium not found: install it (apt-get install chromium; .ci/run does) or set VIGIL_CHROMIUM")
	}
	b := &Browser{}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900), chromedp.Flag("disable-gpu", true))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx, chromedp.WithListener(b.listen))
	t.Cleanup(func() { cancelC(); cancelA() })
	b.Ctx = ctx
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium %s: %v", path, err)
	}
	if _, err := chromedp.Call(ctx, log.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *Browser) listen(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch e := ev.(type) {
	case *runtime.EventExceptionThrown:
		b.errs = append(b.errs, "exception: "+e.ExceptionDetails.Text)
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range e.Args {
				args = append(args, a.Description+string(a.Value))
			}
			b.errs = append(b.errs, "console."+string(e.Type)+": "+strings.Join(args, " "))
		}
	case *log.EventEntryAdded:
		if e.Entry.Level == log.EntryLevelError || e.Entry.Level == log.EntryLevelWarning {
			b.errs = append(b.errs, fmt.Sprintf("%s %s: %s %s", e.Entry.Source, e.Entry.Level, e.Entry.Text, e.Entry.URL))
		}
	}
}

// Errors returns and forgets what the console reported.
func (b *Browser) Errors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.errs
	b.errs = nil
	return e
}

// Open loads url and fails the test on a console error or a page that is
// not 200 OK.
func (b *Browser) Open(t testing.TB, url string) {
	t.Helper()
	resp, err := chromedp.Run(b.Ctx, chromedp.NavigateResponse(url))
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	if err := chromedp.Do(b.Ctx, chromedp.WaitReady(chromedp.CSS("body")), chromedp.Sleep(150*time.Millisecond)); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	if errs := b.Errors(); len(errs) > 0 {
		t.Errorf("%s: console errors:\n%s", url, strings.Join(errs, "\n"))
	}
	if resp == nil || resp.Status != 200 {
		t.Errorf("%s: response %+v, want 200", url, resp)
	}
}

// Drawn counts the elements matching selector that the browser laid out
// with a box (a flat line has no height, a bar of 0% no height).
func (b *Browser) Drawn(t testing.TB, selector string) int {
	t.Helper()
	js := fmt.Sprintf(`Array.from(document.querySelectorAll(%q)).filter(e => { const r = e.getBoundingClientRect(); return r.width > 0 || r.height > 0 }).length`, selector)
	n, err := chromedp.Run(b.Ctx, chromedp.Evaluate[int](js))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestInBrowser(t *testing.T) {
	srv := dashboard.SynthServer(t, 3, 200, 180, dashboard.Renderer{})
	b := NewBrowser(t)

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
		if dir := os.Getenv("VIGIL_SCREENSHOTS"); dir != "" {
			png, err := chromedp.Run(b.Ctx, chromedp.FullScreenshot(100))
			if err == nil {
				err = os.WriteFile(dir+"/synthetic-model.png", png, 0o644)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		for sel, least := range map[string]int{"svg.line polyline": 5, "svg.heatmap rect.cell": 4 * dashboard.HeatmapWindows,
			"svg.line line.threshold": 2, "svg.heatmap path": 20} {
			if n := b.Drawn(t, sel); n < least {
				t.Errorf("%s: %d drawn, want at least %d", sel, n, least)
			}
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
