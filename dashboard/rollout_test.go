package dashboard

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigilml/vigil/train/registry"
)

// The model page shows the latest rollout from the registry: mode, the two
// versions, the challenger's traffic, one chart mark and one table row per
// step, and once decided the decision with its reason and actor.
func TestModelPageShowsTheRollout(t *testing.T) {
	srv := newTestServer(t, &synthStore{windows: 20, driftFrom: 15}, 3, Renderer{}, "")
	t.Run("a canary under way", func(t *testing.T) {
		_, body := get(t, srv.Client(), srv.URL+"/models/model-001")
		for _, want := range []string{`<h2 id="rollout">Rollout</h2>`, `<span class="badge warning">under way</span>`,
			"challenger <strong>v3</strong> against champion <strong>v2</strong>", "v3 answers 50% of live traffic, v2 the other 50% now",
			`<svg class="chart rollout"`, `aria-label="canary rollout of v3 against v2: accuracy difference`, `class="zero"`} {
			if !strings.Contains(body, want) {
				t.Errorf("model page lacks %q", want)
			}
		}
		if n := strings.Count(body, `<g class="step"`); n != 3 {
			t.Errorf("%d steps drawn, want 3", n)
		}
		rows := tableRows(t, body, "rollout-steps")
		if len(rows) != 3 || !strings.Contains(rows[2], "50%") || !strings.Contains(rows[2], "[0.01, 0.09]") || !strings.Contains(rows[2], "not worse") ||
			!strings.Contains(rows[0], ">400<") || !strings.Contains(rows[0], "no decision yet") {
			t.Errorf("step rows = %q", rows)
		}
		if strings.Contains(body, `id="rollout-decision"`) {
			t.Error("a rollout under way shows a decision")
		}
	})
	t.Run("a shadow rollout rejected", func(t *testing.T) {
		_, body := get(t, srv.Client(), srv.URL+"/models/model-002")
		for _, want := range []string{`<span class="badge other">rejected</span>`, "v3 runs in shadow: it sees every request and answers none",
			`<p class="note" id="rollout-decision"><strong>rejected</strong> by vigil: accuracy 0.07 lower than the champion&#39;s`, `data-verdict="worse"`} {
			if !strings.Contains(body, want) {
				t.Errorf("model page lacks %q", want)
			}
		}
		if rows := tableRows(t, body, "rollout-steps"); len(rows) != 1 || !strings.Contains(rows[0], ">shadow<") {
			t.Errorf("step rows = %q", rows)
		}
	})
	t.Run("no rollout", func(t *testing.T) {
		_, body := get(t, srv.Client(), srv.URL+"/models/model-000")
		if strings.Contains(body, `id="rollout"`) {
			t.Error("a model without a rollout has a Rollout section")
		}
	})
}

// The overview marks a model whose rollout is under way, and only that one
// (model-002's rollout was decided).
func TestOverviewBadgesARolloutUnderWay(t *testing.T) {
	srv := newTestServer(t, &synthStore{windows: 20, driftFrom: 15}, 3, Renderer{}, "")
	_, body := get(t, srv.Client(), srv.URL+"/")
	if n := strings.Count(body, `class="badge warning rollout"`); n != 1 {
		t.Errorf("%d rollout badges, want 1", n)
	}
	if !strings.Contains(body, `<a class="badge warning rollout" href="/models/model-001#rollout">rollout: canary v3 at 50%</a>`) {
		t.Errorf("overview lacks model-001's rollout badge")
	}
}

var lineY = regexp.MustCompile(`<line class="interval" x1="[0-9.]+" x2="[0-9.]+" y1="([0-9.]+)" y2="([0-9.]+)"`)
var zeroY = regexp.MustCompile(`<line x1="[0-9.]+" x2="[0-9.]+" y1="([0-9.]+)" y2="[0-9.]+" class="zero"/>`)

// The chart puts each interval where its numbers say relative to the zero
// line: wholly above it, across it, wholly below it. SVG y grows downwards.
func TestRolloutChartPlacesIntervalsAgainstZero(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	r := &registry.Rollout{Mode: "canary", Champion: 1, Challenger: 2, Percent: 10, Steps: []registry.RolloutStep{
		{At: at, Percent: 10, Metric: "accuracy", Difference: 0.05, Lower: 0.02, Upper: 0.08, Verdict: "better"},
		{At: at.Add(time.Hour), Percent: 10, Metric: "accuracy", Difference: 0, Lower: -0.03, Upper: 0.03, Verdict: "continue"},
		{At: at.Add(2 * time.Hour), Percent: 10, Metric: "accuracy", Difference: -0.1, Lower: -0.2, Upper: -0.05, Verdict: "breach"},
	}}
	svg := string(RolloutSVG(r))
	z := zeroY.FindStringSubmatch(svg)
	ivs := lineY.FindAllStringSubmatch(svg, -1)
	if z == nil || len(ivs) != 3 {
		t.Fatalf("zero line %v, intervals %v in\n%s", z, ivs, svg)
	}
	y0 := atof(t, z[1])
	lower := func(i int) float64 { return atof(t, ivs[i][1]) }
	upper := func(i int) float64 { return atof(t, ivs[i][2]) }
	if !(lower(0) < y0 && upper(0) < y0) {
		t.Errorf("step 1 [0.02, 0.08] drawn at y %g..%g, zero at %g: want above", lower(0), upper(0), y0)
	}
	if !(upper(1) < y0 && lower(1) > y0) {
		t.Errorf("step 2 [-0.03, 0.03] drawn at y %g..%g, zero at %g: want across", lower(1), upper(1), y0)
	}
	if !(lower(2) > y0 && upper(2) > y0) {
		t.Errorf("step 3 [-0.2, -0.05] drawn at y %g..%g, zero at %g: want below", lower(2), upper(2), y0)
	}
	// Verdicts differ by shape, not colour alone: a breach is a cross, a
	// better step a triangle, a step without decision a circle.
	for _, want := range []string{`data-verdict="breach"><title>step 3`, `stroke-width="3"`, `<circle class="mark"`, `<path class="mark" d="M`} {
		if !strings.Contains(svg, want) {
			t.Errorf("chart lacks %q", want)
		}
	}
}

// Values from the registry are text, never markup.
func TestRolloutTextIsEscaped(t *testing.T) {
	r := &registry.Rollout{Mode: "canary", Champion: 1, Challenger: 2, Percent: 10,
		Steps: []registry.RolloutStep{{Metric: "<b>acc</b>", Verdict: `"><script>x()</script>`}}}
	out := string(RolloutSVG(r)) + string(rolloutTable(r))
	if strings.Contains(out, "<script>") || strings.Contains(out, "<b>") {
		t.Errorf("unescaped markup in %s", out)
	}
}

func tableRows(t *testing.T, body, class string) []string {
	t.Helper()
	i := strings.Index(body, `<table class="`+class+`">`)
	if i < 0 {
		t.Fatalf("no table %s", class)
	}
	tbl := body[i:]
	tbl = tbl[:strings.Index(tbl, "</table>")]
	tbody := tbl[strings.Index(tbl, "<tbody>")+len("<tbody>"):]
	return strings.Split(tbody, "<tr>")[1:]
}

func atof(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// A long rollout (a shadow evaluated every window for weeks) keeps its axis
// readable: every step drawn, at most 13 of them named, the last always.
func TestRolloutChartOfManyStepsNamesFewOfThem(t *testing.T) {
	r := &registry.Rollout{Mode: "shadow", Champion: 1, Challenger: 2}
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := range 200 {
		r.Steps = append(r.Steps, registry.RolloutStep{At: at.Add(time.Duration(i) * time.Hour), Metric: "accuracy", Difference: 0.01, Lower: -0.02, Upper: 0.04, Verdict: "continue"})
	}
	svg := string(RolloutSVG(r))
	if n := strings.Count(svg, `<g class="step"`); n != 200 {
		t.Errorf("%d steps drawn, want 200", n)
	}
	labels := regexp.MustCompile(`class="tick step-label"[^>]*>([^<]*)<`).FindAllStringSubmatch(svg, -1)
	if len(labels) > 13 || len(labels) < 2 || labels[len(labels)-1][1] != "#200" || labels[0][1] != "#1" {
		t.Errorf("%d step labels (%v); want at most 13, from #1 to #200", len(labels), labels)
	}
}
