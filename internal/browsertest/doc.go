// Package browsertest drives Debian's chromium with chromedp for tests of
// the pages Vigil serves: it fails a test on console errors and counts what
// the browser drew.
//
// May import: chromedp and the standard library; no Vigil package. Used by tests only.
package browsertest
