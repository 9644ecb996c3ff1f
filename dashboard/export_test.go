package dashboard

import (
	"net/http/httptest"
	"testing"
	"time"
)

// For the browser tests in package dashboard_test (which import activities,
// which imports this package).

// SynthServer serves models synthetic models with windows windows each; from
// window driftFrom on, feature x drifts and accuracy drops.
func SynthServer(t testing.TB, models, windows, driftFrom int, r Renderer) *httptest.Server {
	return newTestServer(t, &synthStore{windows: windows, driftFrom: driftFrom}, models, r, "")
}

// SynthWindow is the start of synthetic window i.
func SynthWindow(i int) time.Time { return synthT0.Add(time.Duration(i) * 15 * time.Minute) }

// SynthReport is synthetic window i of model as stored.
func SynthReport(model string, i int, drifted bool) *Stored {
	return synthReport(model, SynthWindow(i), drifted, i)
}

// Num is how the pages format a number.
func Num(v float64) string { return num(v) }
