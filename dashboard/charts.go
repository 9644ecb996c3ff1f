package dashboard

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
)

// Charts are inline SVG written here, not drawn by a script: the page is
// complete when it arrives (offline files, air-gapped installs, no console
// to fail), and a test can read what was drawn. Colours are the Okabe–Ito
// palette, which people with any common colour-vision deficiency tell
// apart; series also differ by dash pattern, and verdicts by text and
// marks, never by colour alone. Every chart is role="img" with an
// aria-label, and its numbers are in a table next to it.

// Okabe–Ito colours.
const (
	colBlue       = "#0072B2"
	colOrange     = "#E69F00"
	colGreen      = "#009E73"
	colVermillion = "#D55E00"
	colPink       = "#CC79A7"
	colSky        = "#56B4E9"
	colGrey       = "#6b6b6b"
)

var (
	seriesColours = []string{colBlue, colOrange, colGreen, colPink, colSky, colVermillion}
	seriesDashes  = []string{"", "6 3", "2 3", "8 3 2 3", "1 2", "10 4"}
)

func esc(s string) string { return template.HTMLEscapeString(s) }

// num formats a number for labels: short, no exponent for usual values.
func num(v float64) string {
	switch {
	case math.IsNaN(v):
		return "—"
	case v == 0:
		return "0"
	case math.Abs(v) >= 1e6 || math.Abs(v) < 1e-3:
		return strconv.FormatFloat(v, 'g', 3, 64)
	case math.Abs(v) >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	default:
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
}

// Series is one line of a LineChart; Has[i] false leaves a gap.
type Series struct {
	Name   string
	Values []float64
	Has    []bool
}

// Threshold is a horizontal line drawn across a chart.
type Threshold struct {
	Label string
	Value float64
}

// LineChart plots series over windows.
type LineChart struct {
	Title      string
	X          []string // one label per window, oldest first
	Series     []Series
	Thresholds []Threshold
}

// Empty reports whether no series has a value.
func (c LineChart) Empty() bool {
	for _, s := range c.Series {
		for _, h := range s.Has {
			if h {
				return false
			}
		}
	}
	return true
}

func (c LineChart) bounds() (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, s := range c.Series {
		for i, v := range s.Values {
			if s.Has[i] {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	for _, t := range c.Thresholds {
		lo, hi = math.Min(lo, t.Value), math.Max(hi, t.Value)
	}
	if math.IsInf(lo, 1) {
		return 0, 1
	}
	if lo == hi {
		pad := math.Max(math.Abs(lo)*0.1, 0.5)
		return lo - pad, hi + pad
	}
	pad := (hi - lo) * 0.05
	if lo >= 0 && lo-pad < 0 {
		return 0, hi + pad
	}
	return lo - pad, hi + pad
}

// SVG draws the chart.
func (c LineChart) SVG() template.HTML {
	const w, h, left, right, top, bottom = 640.0, 200.0, 56.0, 12.0, 10.0, 28.0
	lo, hi := c.bounds()
	n := len(c.X)
	xAt := func(i int) float64 {
		if n <= 1 {
			return left + (w-left-right)/2
		}
		return left + float64(i)*(w-left-right)/float64(n-1)
	}
	yAt := func(v float64) float64 { return top + (hi-v)/(hi-lo)*(h-top-bottom) }
	var b strings.Builder
	names := make([]string, len(c.Series))
	for i, s := range c.Series {
		names[i] = s.Name
	}
	fmt.Fprintf(&b, `<svg class="chart line" viewBox="0 0 %g %g" role="img" aria-label="%s">`, w, h,
		esc(fmt.Sprintf("%s: %s over %d windows, from %s to %s (values in the table below)", c.Title, strings.Join(names, ", "), n, num(lo), num(hi))))
	// Axes and gridlines at 0, ½, 1 of the range.
	for _, f := range []float64{0, 0.5, 1} {
		v := lo + f*(hi-lo)
		y := yAt(v)
		fmt.Fprintf(&b, `<line x1="%g" x2="%g" y1="%.1f" y2="%.1f" class="grid"/><text x="%g" y="%.1f" class="tick" text-anchor="end">%s</text>`,
			left, w-right, y, y, left-4, y+4, esc(num(v)))
	}
	if n > 0 {
		for _, i := range []int{0, n - 1} {
			anchor := "start"
			if i == n-1 && n > 1 {
				anchor = "end"
			}
			fmt.Fprintf(&b, `<text x="%.1f" y="%g" class="tick" text-anchor="%s">%s</text>`, xAt(i), h-8, anchor, esc(c.X[i]))
		}
	}
	for _, t := range c.Thresholds {
		y := yAt(t.Value)
		fmt.Fprintf(&b, `<line x1="%g" x2="%g" y1="%.1f" y2="%.1f" class="threshold"/><text x="%g" y="%.1f" class="tick threshold-label" text-anchor="end">%s</text>`,
			left, w-right, y, y, w-right, y-3, esc(t.Label+" "+num(t.Value)))
	}
	for si, s := range c.Series {
		colour, dash := seriesColours[si%len(seriesColours)], seriesDashes[si%len(seriesDashes)]
		var pts []string
		flush := func() {
			if len(pts) > 1 {
				fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" stroke-dasharray="%s" points="%s"/>`, colour, dash, strings.Join(pts, " "))
			}
			pts = pts[:0]
		}
		for i, v := range s.Values {
			if !s.Has[i] {
				flush()
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", xAt(i), yAt(v)))
			if n <= 60 {
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"><title>%s</title></circle>`, xAt(i), yAt(v), colour, esc(s.Name+" "+c.X[i]+": "+num(v)))
			}
		}
		flush()
	}
	b.WriteString(`</svg>`)
	if len(c.Series) > 1 {
		b.WriteString(`<div class="legend">`)
		for si, s := range c.Series {
			fmt.Fprintf(&b, `<span><svg width="28" height="10" aria-hidden="true"><line x1="0" x2="28" y1="5" y2="5" stroke="%s" stroke-width="2" stroke-dasharray="%s"/></svg> %s</span>`,
				seriesColours[si%len(seriesColours)], seriesDashes[si%len(seriesDashes)], esc(s.Name))
		}
		b.WriteString(`</div>`)
	}
	return template.HTML(b.String())
}

// Sparkline is a small line of one series, no axes.
func Sparkline(label string, s Series) template.HTML {
	const w, h = 120.0, 28.0
	c := LineChart{Series: []Series{s}}
	if c.Empty() {
		return template.HTML(`<span class="muted">no values</span>`)
	}
	lo, hi := c.bounds()
	n := len(s.Values)
	var pts []string
	last := 0.0
	for i, v := range s.Values {
		if !s.Has[i] {
			continue
		}
		x := w / 2
		if n > 1 {
			x = 2 + float64(i)*(w-4)/float64(n-1)
		}
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, 2+(hi-v)/(hi-lo)*(h-4)))
		last = v
	}
	return template.HTML(fmt.Sprintf(`<svg class="chart spark" width="%g" height="%g" viewBox="0 0 %g %g" role="img" aria-label="%s"><polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/></svg>`,
		w, h, w, h, esc(fmt.Sprintf("%s over the last %d windows: from %s to %s, latest %s", label, n, num(lo), num(hi), num(last))), colBlue, strings.Join(pts, " ")))
}

// HeatCell is one feature in one window of a Heatmap.
type HeatCell struct {
	Has     bool
	Score   float64 // the statistic relative to its threshold: 1 is the threshold
	Drifted bool
	Title   string
}

// Heatmap shows drift per feature (rows) and window (columns); each column
// links to its window's report.
type Heatmap struct {
	Features []string
	Windows  []string // window labels, oldest first
	Links    []string // the report of each window
	Cells    [][]HeatCell
}

// heatColour maps a score to a sequential blue below the threshold and an
// orange-to-vermillion ramp at and above it (a blue–orange scale stays
// distinct under every common colour-vision deficiency).
func heatColour(c HeatCell) string {
	if !c.Has {
		return "#ffffff"
	}
	lerp := func(a, b [3]float64, t float64) string {
		t = math.Max(0, math.Min(1, t))
		return fmt.Sprintf("#%02x%02x%02x", int(a[0]+(b[0]-a[0])*t), int(a[1]+(b[1]-a[1])*t), int(a[2]+(b[2]-a[2])*t))
	}
	if c.Score < 1 {
		return lerp([3]float64{0xf0, 0xf6, 0xfc}, [3]float64{0x4a, 0x90, 0xc8}, c.Score)
	}
	return lerp([3]float64{0xfd, 0xc0, 0x7a}, [3]float64{0xa6, 0x36, 0x03}, (c.Score-1)/2)
}

// SVG draws the heatmap; drifted cells also carry a cross.
func (hm Heatmap) SVG() template.HTML {
	const left, top, cw, ch = 150.0, 8.0, 14.0, 16.0
	w := left + cw*float64(len(hm.Windows)) + 8
	h := top + ch*float64(len(hm.Features)) + 30
	drifted := 0
	for _, row := range hm.Cells {
		for _, c := range row {
			if c.Drifted {
				drifted++
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart heatmap" viewBox="0 0 %g %g" width="%g" role="img" aria-label="%s">`, w, h, w,
		esc(fmt.Sprintf("Drift of %d features over %d windows; %d drifted cells. Each column links to its window's report; the numbers are in the table below.", len(hm.Features), len(hm.Windows), drifted)))
	for fi, f := range hm.Features {
		fmt.Fprintf(&b, `<text x="%g" y="%g" class="tick" text-anchor="end">%s</text>`, left-6, top+float64(fi)*ch+ch*0.7, esc(f))
	}
	for wi := range hm.Windows {
		x := left + float64(wi)*cw
		fmt.Fprintf(&b, `<a href="%s" class="heat-col" aria-label="%s">`, esc(hm.Links[wi]), esc("report of "+hm.Windows[wi]))
		for fi := range hm.Features {
			c := hm.Cells[fi][wi]
			y := top + float64(fi)*ch
			fmt.Fprintf(&b, `<rect class="cell" x="%.1f" y="%.1f" width="%g" height="%g" fill="%s"><title>%s</title></rect>`, x, y, cw-1, ch-1, heatColour(c), esc(c.Title))
			if c.Drifted {
				fmt.Fprintf(&b, `<path d="M%.1f %.1fl%g %gm0 -%gl-%g %g" stroke="#000" stroke-width="1" pointer-events="none"/>`, x+3, y+3, cw-7, ch-7, ch-7, cw-7, ch-7)
			}
		}
		b.WriteString(`</a>`)
	}
	if n := len(hm.Windows); n > 0 {
		y := top + ch*float64(len(hm.Features)) + 16
		fmt.Fprintf(&b, `<text x="%g" y="%g" class="tick">%s</text>`, left, y, esc(hm.Windows[0]))
		fmt.Fprintf(&b, `<text x="%g" y="%g" class="tick" text-anchor="end">%s</text>`, left+cw*float64(n), y, esc(hm.Windows[n-1]))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// Bars compares the reference and current shares of a feature's bins.
type Bars struct {
	Title  string
	Labels []string
	// Edges, for numeric bins, are their len(Labels)+1 bounds: the axis
	// shows a few of them instead of every bin's label.
	Edges     []float64
	Reference []float64
	Current   []float64
}

// SVG draws grouped bars: reference blue and solid, current orange and
// hatched.
func (bc Bars) SVG() template.HTML {
	const h, left, top, bottom = 150.0, 46.0, 8.0, 34.0
	n := len(bc.Labels)
	gw := math.Max(10, math.Min(40, 560/math.Max(1, float64(n))))
	w := left + gw*float64(n) + 8
	hi := 0.0
	for i := range bc.Labels {
		hi = math.Max(hi, math.Max(bc.Reference[i], bc.Current[i]))
	}
	if hi == 0 {
		hi = 1
	}
	yAt := func(v float64) float64 { return top + (hi-v)/hi*(h-top-bottom) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart bars" viewBox="0 0 %g %g" width="%g" role="img" aria-label="%s">`, w, h, w,
		esc(fmt.Sprintf("%s: reference and current share of %d bins (values in the table)", bc.Title, n)))
	b.WriteString(`<defs><pattern id="hatch" width="4" height="4" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="4" height="4" fill="` + colOrange + `"/><line x1="0" y1="0" x2="0" y2="4" stroke="#fff" stroke-width="1.2"/></pattern></defs>`)
	fmt.Fprintf(&b, `<text x="%g" y="%g" class="tick" text-anchor="end">%s</text><text x="%g" y="%g" class="tick" text-anchor="end">0</text>`,
		left-4, top+8, esc(num(hi)), left-4, h-bottom)
	bw := (gw - 2) / 2
	for i, l := range bc.Labels {
		x := left + float64(i)*gw
		for side, v := range []float64{bc.Reference[i], bc.Current[i]} {
			fill, name := colBlue, "reference"
			if side == 1 {
				fill, name = "url(#hatch)", "current"
			}
			y := yAt(v)
			fmt.Fprintf(&b, `<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s</title></rect>`,
				x+float64(side)*bw, y, bw, h-bottom-y, fill, esc(fmt.Sprintf("%s, %s: %.1f%%", l, name, v*100)))
		}
		if len(bc.Edges) != n+1 && (n <= 12 || i%int(math.Ceil(float64(n)/12)) == 0) {
			fmt.Fprintf(&b, `<text x="%.1f" y="%g" class="tick" text-anchor="middle">%s</text>`, x+gw/2, h-bottom+12, esc(shorten(l, 10)))
		}
	}
	if len(bc.Edges) == n+1 {
		for k, i := range []int{0, n / 2, n} {
			anchor := []string{"start", "middle", "end"}[k]
			fmt.Fprintf(&b, `<text x="%.1f" y="%g" class="tick" text-anchor="%s">%s</text>`, left+float64(i)*gw, h-bottom+12, anchor, esc(num(bc.Edges[i])))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// ROCPoint is one point of a ROC curve.
type ROCPoint struct{ FPR, TPR float64 }

// ROCSVG draws a ROC curve over the chance diagonal.
func ROCSVG(points []ROCPoint, auc float64) template.HTML {
	const s, pad = 200.0, 30.0
	var pts []string
	for _, p := range points {
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", pad+p.FPR*(s-2*pad), s-pad-p.TPR*(s-2*pad)))
	}
	return template.HTML(fmt.Sprintf(`<svg class="chart roc" viewBox="0 0 %g %g" width="%g" role="img" aria-label="%s">`+
		`<rect x="%g" y="%g" width="%g" height="%g" fill="none" stroke="#999"/>`+
		`<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="%s" stroke-dasharray="4 3"/>`+
		`<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+
		`<text x="%g" y="%g" class="tick" text-anchor="middle">false positive rate</text>`+
		`<text x="10" y="%g" class="tick" transform="rotate(-90 10 %g)" text-anchor="middle">true positive rate</text></svg>`,
		s, s, s, esc(fmt.Sprintf("ROC curve of %d points, area under it %s", len(points), num(auc))),
		pad, pad, s-2*pad, s-2*pad, pad, s-pad, s-pad, pad, colGrey, colBlue, strings.Join(pts, " "),
		s/2, s-8, s/2, s/2))
}

// BarRow is one bin of Bars, for its data table.
type BarRow struct {
	Label              string
	Reference, Current float64
}

// Rows lists the bins.
func (bc Bars) Rows() []BarRow {
	out := make([]BarRow, len(bc.Labels))
	for i, l := range bc.Labels {
		out[i] = BarRow{l, bc.Reference[i], bc.Current[i]}
	}
	return out
}
