package browsertest

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
)

// Browser is Debian's chromium (installed by .ci/run) under chromedp,
// collecting what its console reports: script exceptions, console.error and
// browser log entries (failed loads, blocked resources, CSP violations).
type Browser struct {
	Ctx  context.Context
	mu   sync.Mutex
	errs []string
}

// New starts chromium; without it the test fails (CI installs it),
// except under -short.
func New(t testing.TB) *Browser {
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

// Screenshot writes a PNG of the whole page to path.
func (b *Browser) Screenshot(t testing.TB, path string) {
	t.Helper()
	png, err := chromedp.Run(b.Ctx, chromedp.FullScreenshot(100))
	if err == nil {
		err = os.WriteFile(path, png, 0o644)
	}
	if err != nil {
		t.Fatalf("screenshot %s: %v", path, err)
	}
}

// ScreenshotViewport writes a PNG of the top height pixels of the page,
// 1280 wide, which keeps images small enough for a README.
func (b *Browser) ScreenshotViewport(t testing.TB, path string, height int64) {
	t.Helper()
	if err := chromedp.Do(b.Ctx, chromedp.EmulateViewport(1280, height)); err != nil {
		t.Fatal(err)
	}
	defer chromedp.Do(b.Ctx, chromedp.ResetViewport())
	png, err := chromedp.Run(b.Ctx, chromedp.CaptureScreenshot())
	if err == nil {
		err = os.WriteFile(path, png, 0o644)
	}
	if err != nil {
		t.Fatalf("screenshot %s: %v", path, err)
	}
}
