package dashboard

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"

	"github.com/vigilml/vigil/train/registry"
)

// The rollout view: a model's latest shadow or canary rollout
// (registry.Model.Rollout) as the retrain workflow records it, step by step.

// Step verdicts (registry.RolloutStep.Verdict) and how each is drawn: a
// mark of its own shape, so colour is never the only difference.
var verdictMarks = map[string]struct{ colour, shape, text string }{
	"continue":  {colBlue, "circle", "no decision yet"},
	"better":    {colGreen, "up", "better"},
	"not-worse": {colGreen, "diamond", "not worse (within the margin)"},
	"worse":     {colVermillion, "cross", "worse"},
	"breach":    {colVermillion, "cross", "breach"},
}

// maxStepLabels is how many steps the axis names before it names only
// every k-th (and the last): a long shadow has one step per window.
const maxStepLabels = 12

func verdictMark(v string) (colour, shape, text string) {
	if m, ok := verdictMarks[v]; ok {
		return m.colour, m.shape, m.text
	}
	return colGrey, "square", v
}

// rolloutUnderWay reports whether r is a rollout still running.
func rolloutUnderWay(r *registry.Rollout) bool { return r != nil && r.Decision == "" }

// rolloutClass is the badge class of a rollout's decision.
func rolloutClass(decision string) string {
	switch decision {
	case "promoted":
		return StatusOK
	case "rolled-back":
		return StatusBreach
	case "":
		return StatusWarning // under way
	}
	return "other" // rejected: the champion stays
}

// rolloutTraffic says in words what share of traffic the challenger gets.
func rolloutTraffic(r *registry.Rollout) string {
	if r.Mode == "shadow" {
		return fmt.Sprintf("v%d runs in shadow: it sees every request and answers none", r.Challenger)
	}
	return fmt.Sprintf("v%d answers %d%% of live traffic, v%d the other %d%%", r.Challenger, r.Percent, r.Champion, 100-r.Percent)
}

// RolloutSVG draws a rollout's steps: at each step the difference
// (challenger minus champion) as a mark shaped by its verdict, its
// always-valid interval as a whisker, and the zero line (no difference).
func RolloutSVG(r *registry.Rollout) template.HTML {
	const w, h, left, right, top, bottom = 640.0, 220.0, 56.0, 12.0, 12.0, 34.0
	steps := r.Steps
	n := len(steps)
	lo, hi := 0.0, 0.0 // the zero line is always in range
	for _, s := range steps {
		for _, v := range []float64{s.Lower, s.Upper, s.Difference} {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if lo == hi {
		lo, hi = -0.05, 0.05
	}
	pad := (hi - lo) * 0.08
	lo, hi = lo-pad, hi+pad
	xAt := func(i int) float64 {
		if n <= 1 {
			return left + (w-left-right)/2
		}
		return left + 20 + float64(i)*(w-left-right-40)/float64(n-1)
	}
	yAt := func(v float64) float64 {
		if math.IsNaN(v) {
			v = 0
		}
		v = math.Max(lo, math.Min(hi, v))
		return top + (hi-v)/(hi-lo)*(h-top-bottom)
	}
	every := (n + maxStepLabels - 1) / maxStepLabels // label every step up to maxStepLabels, then every k-th and the last
	metric := "the metric"
	if n > 0 {
		metric = steps[n-1].Metric
	}
	var b strings.Builder
	label := fmt.Sprintf("%s rollout of v%d against v%d: %s difference (challenger minus champion) with its interval at %d steps, from %s to %s; zero means no difference (values in the table below)",
		r.Mode, r.Challenger, r.Champion, metric, n, num(lo), num(hi))
	fmt.Fprintf(&b, `<svg class="chart rollout" viewBox="0 0 %g %g" role="img" aria-label="%s">`, w, h, esc(label))
	for _, v := range []float64{lo, hi} {
		y := yAt(v)
		fmt.Fprintf(&b, `<line x1="%g" x2="%g" y1="%.1f" y2="%.1f" class="grid"/><text x="%g" y="%.1f" class="tick" text-anchor="end">%s</text>`,
			left, w-right, y, y, left-4, y+4, strconv.FormatFloat(v, 'g', 2, 64))
	}
	y0 := yAt(0)
	fmt.Fprintf(&b, `<line x1="%g" x2="%g" y1="%.1f" y2="%.1f" class="zero"/><text x="%g" y="%.1f" class="tick" text-anchor="end">0</text><text x="%g" y="%.1f" class="tick" text-anchor="end">no difference</text>`,
		left, w-right, y0, y0, left-4, y0+4, w-right, y0-3)
	for i, s := range steps {
		x := xAt(i)
		colour, shape, text := verdictMark(s.Verdict)
		tip := fmt.Sprintf("step %d, %s: difference %s [%s, %s], %d rows, %s", i+1, when(s.At), num(s.Difference), num(s.Lower), num(s.Upper), s.Rows, text)
		fmt.Fprintf(&b, `<g class="step" data-verdict="%s"><title>%s</title>`, esc(s.Verdict), esc(tip))
		yl, yu := yAt(s.Lower), yAt(s.Upper)
		fmt.Fprintf(&b, `<line class="interval" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s" stroke-width="2"/>`, x, x, yl, yu, colour)
		for _, y := range []float64{yl, yu} {
			fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s" stroke-width="2"/>`, x-6, x+6, y, y, colour)
		}
		b.WriteString(markSVG(shape, x, yAt(s.Difference), colour))
		b.WriteString(`</g>`)
		if i != n-1 && (i%every != 0 || n-1-i < every/2) { // not too close to the last
			continue
		}
		tick := fmt.Sprintf("#%d", i+1)
		if r.Mode != "shadow" {
			tick += fmt.Sprintf(" · %d%%", s.Percent)
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%g" class="tick step-label" text-anchor="middle">%s</text>`, x, h-18, esc(tick))
	}
	if n > 0 {
		fmt.Fprintf(&b, `<text x="%g" y="%g" class="tick" text-anchor="start">%s</text>`, left, h-4, esc(when(steps[0].At)))
		if n > 1 {
			fmt.Fprintf(&b, `<text x="%g" y="%g" class="tick" text-anchor="end">%s</text>`, w-right, h-4, esc(when(steps[n-1].At)))
		}
	}
	b.WriteString(`</svg><div class="legend">`)
	seen := map[string]bool{}
	for _, v := range []string{"continue", "better", "not-worse", "worse", "breach"} {
		colour, shape, text := verdictMark(v)
		if seen[text] {
			continue
		}
		seen[text] = true
		fmt.Fprintf(&b, `<span><svg width="14" height="14" aria-hidden="true">%s</svg> %s</span>`, markSVG(shape, 7, 7, colour), esc(text))
	}
	b.WriteString(`<span><svg width="28" height="10" aria-hidden="true"><line x1="0" x2="28" y1="5" y2="5" class="zero"/></svg> zero: no difference</span></div>`)
	return template.HTML(b.String())
}

// markSVG draws a verdict mark centred on (x, y).
func markSVG(shape string, x, y float64, colour string) string {
	switch shape {
	case "up":
		return fmt.Sprintf(`<path class="mark" d="M%.1f %.1fL%.1f %.1fL%.1f %.1fZ" fill="%s"/>`, x, y-6, x+6, y+5, x-6, y+5, colour)
	case "diamond":
		return fmt.Sprintf(`<path class="mark" d="M%.1f %.1fL%.1f %.1fL%.1f %.1fL%.1f %.1fZ" fill="%s"/>`, x, y-6, x+6, y, x, y+6, x-6, y, colour)
	case "cross":
		return fmt.Sprintf(`<path class="mark" d="M%.1f %.1fL%.1f %.1fM%.1f %.1fL%.1f %.1f" stroke="%s" stroke-width="3"/>`, x-5, y-5, x+5, y+5, x-5, y+5, x+5, y-5, colour)
	case "square":
		return fmt.Sprintf(`<rect class="mark" x="%.1f" y="%.1f" width="10" height="10" fill="%s"/>`, x-5, y-5, colour)
	}
	return fmt.Sprintf(`<circle class="mark" cx="%.1f" cy="%.1f" r="5" fill="%s"/>`, x, y, colour)
}

// rolloutTable is a rollout's steps as a table, oldest first.
func rolloutTable(r *registry.Rollout) template.HTML {
	var b strings.Builder
	b.WriteString(`<table class="rollout-steps"><thead><tr><th class="num">Step</th><th>At</th><th class="num">Challenger traffic</th><th class="num">Rows</th><th>Metric</th>`)
	fmt.Fprintf(&b, `<th class="num">Champion v%d</th><th class="num">Challenger v%d</th><th class="num">Difference</th><th class="num">Interval</th><th class="num">p-value</th><th>Verdict</th></tr></thead><tbody>`, r.Champion, r.Challenger)
	for i, s := range r.Steps {
		traffic := fmt.Sprintf("%d%%", s.Percent)
		if r.Mode == "shadow" {
			traffic = "shadow"
		}
		_, _, text := verdictMark(s.Verdict)
		fmt.Fprintf(&b, `<tr><td class="num">%d</td><td>%s</td><td class="num">%s</td><td class="num">%d</td><td>%s</td><td class="num">%s</td><td class="num">%s</td><td class="num">%s</td><td class="num">[%s, %s]</td><td class="num">%s</td><td>%s</td></tr>`,
			i+1, esc(when(s.At)), esc(traffic), s.Rows, esc(s.Metric), esc(num(s.Champion)), esc(num(s.Challenger)), esc(num(s.Difference)),
			esc(num(s.Lower)), esc(num(s.Upper)), esc(num(s.PValue)), esc(text))
	}
	b.WriteString(`</tbody></table>`)
	return template.HTML(b.String())
}
