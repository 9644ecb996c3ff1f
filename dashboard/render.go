package dashboard

import (
	"embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vigilml/vigil/analysis"
)

//go:embed templates/*.html templates/style.css
var assets embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"num":             num,
	"pct":             func(v float64) string { return strconv.FormatFloat(v*100, 'f', 1, 64) + "%" },
	"when":            when,
	"modelPath":       ModelPath,
	"reportPath":      ReportPath,
	"statusClass":     statusClass,
	"spark":           Sparkline,
	"chartTable":      chartTable,
	"heatTable":       heatTable,
	"cmColour":        cmColour,
	"rolloutSVG":      RolloutSVG,
	"rolloutTable":    rolloutTable,
	"rolloutClass":    rolloutClass,
	"rolloutTraffic":  rolloutTraffic,
	"rolloutUnderWay": rolloutUnderWay,
	"lastValue": func(s Series) string {
		for i := len(s.Values) - 1; i >= 0; i-- {
			if s.Has[i] {
				return num(s.Values[i])
			}
		}
		return ""
	},
	"lastWindow": func(ws []Window) *Window {
		if len(ws) == 0 {
			return nil
		}
		return &ws[len(ws)-1]
	},
	"reverseWindows": func(ws []Window) []Window {
		out := make([]Window, len(ws))
		for i, w := range ws {
			out[len(ws)-1-i] = w
		}
		return out
	},
}).ParseFS(assets, "templates/*.html"))

var css = func() template.CSS {
	b, err := assets.ReadFile("templates/style.css")
	if err != nil {
		panic(err)
	}
	return template.CSS(b)
}()

// Renderer writes pages. Its zero value serves at / and shows every value.
type Renderer struct {
	// Base is the path the pages are served under behind a proxy ("" or
	// "/vigil"), from worker.public_url.
	Base string
	// HideValues keeps data values (category names, read errors that may
	// quote records) off the pages.
	HideValues bool
}

type layout struct {
	Kind, Title string
	Base        string
	CSS         template.CSS
	Offline     bool
	HideValues  bool
	Now         string
	Windows     int
	Page        any
	View        *reportView
}

func (r Renderer) page(kind, title string, page any) layout {
	return layout{Kind: kind, Title: title, Base: strings.TrimRight(r.Base, "/"), CSS: css, HideValues: r.HideValues,
		Now: time.Now().UTC().Format("2006-01-02 15:04:05 UTC"), Windows: OverviewWindows, Page: page}
}

// Overview writes the page at /.
func (r Renderer) Overview(w io.Writer, p OverviewPage) error {
	return pages.ExecuteTemplate(w, "layout", r.page("overview", "Models", p))
}

// Model writes a model's page.
func (r Renderer) Model(w io.Writer, p *ModelPage) error {
	if base := strings.TrimRight(r.Base, "/"); base != "" {
		cp := *p
		cp.Heatmap.Links = make([]string, len(p.Heatmap.Links))
		for i, l := range p.Heatmap.Links {
			cp.Heatmap.Links[i] = base + l
		}
		p = &cp
	}
	return pages.ExecuteTemplate(w, "layout", r.page("model", p.Model.Name, p))
}

// Report writes one window's report. Offline writes a self-contained file
// with no links to other pages.
func (r Renderer) Report(w io.Writer, p *ReportPage, offline bool) error {
	title := p.Model + " " + WindowID(p.Report.WindowStart)
	if p.Report.WindowStart.IsZero() {
		title = p.Model + " " + p.Subtitle
	}
	l := r.page("report", title, p)
	l.Offline = offline
	l.View = newReportView(p.Report, r.HideValues)
	return pages.ExecuteTemplate(w, "layout", l)
}

func statusClass(s string) string {
	switch s {
	case StatusOK, StatusWarning, StatusBreach, "drifted":
		return s
	case "critical":
		return StatusBreach
	case "Completed":
		return StatusOK
	case "Failed", "Terminated", "TimedOut":
		return StatusBreach
	case "Running":
		return StatusWarning
	}
	return "other"
}

type named struct {
	Name  string
	Value float64
}

type featureView struct {
	Name, Kind, KindNote  string
	Method, Stat          string
	Threshold             float64
	ThresholdSource, Note string
	Drifted               bool
	MissingRatio          float64
	Bars                  *Bars
	score                 float64
}

type featureQuality struct {
	Name string
	Q    *analysis.FeatureQuality
}

type reportView struct {
	Performance    []named
	Quality        []named
	Features       []featureView
	FeatureQuality []featureQuality
	CMMax          int64
	ROC            bool
	ROCSVG         template.HTML
}

// newReportView orders what the report shows: drifted features first, then
// by their statistic relative to the threshold.
func newReportView(s *Stored, hide bool) *reportView {
	v := &reportView{}
	for k, x := range s.Performance {
		v.Performance = append(v.Performance, named{k, x})
	}
	sort.Slice(v.Performance, func(i, j int) bool { return v.Performance[i].Name < v.Performance[j].Name })
	for _, k := range analysis.QualityKeys {
		if x, ok := s.Quality[k]; ok {
			v.Quality = append(v.Quality, named{k, x})
		}
	}
	for _, f := range s.Features {
		fv := featureView{Name: f.Name, Kind: f.Kind, KindNote: f.KindNote, Method: f.Drift.Method, Threshold: f.Drift.Threshold,
			ThresholdSource: f.Drift.ThresholdSource, Note: f.Drift.Note, Drifted: f.Drift.Drifted, MissingRatio: f.MissingRatio}
		cell := FeatureCell{Statistic: f.Drift.Statistic, PValue: f.Drift.PValue, Threshold: f.Drift.Threshold, Note: f.Drift.Note}
		fv.Stat = "statistic " + num(f.Drift.Statistic)
		if f.Drift.PValue != nil {
			fv.Stat += ", p-value " + num(*f.Drift.PValue)
		}
		fv.score, _ = cell.Score()
		if h := f.Histogram; h != nil && len(h.Reference) == len(h.Current) && len(h.Reference) > 0 {
			b := &Bars{Title: f.Name, Reference: h.Reference, Current: h.Current}
			if len(h.Edges) == len(h.Reference)+1 {
				b.Edges = h.Edges
				for i := range h.Reference {
					b.Labels = append(b.Labels, num(h.Edges[i])+"–"+num(h.Edges[i+1]))
				}
			} else if len(h.Labels) == len(h.Reference) {
				b.Labels = h.Labels
				if hide {
					b.Labels = make([]string, len(h.Labels))
					for i, l := range h.Labels {
						b.Labels[i] = "category " + strconv.Itoa(i+1)
						if l == analysis.OtherLabel {
							b.Labels[i] = l
						}
					}
				}
			}
			if len(b.Labels) == len(b.Reference) {
				fv.Bars = b
			}
		}
		v.Features = append(v.Features, fv)
		if f.Quality != nil {
			v.FeatureQuality = append(v.FeatureQuality, featureQuality{f.Name, f.Quality})
		}
	}
	sort.SliceStable(v.Features, func(i, j int) bool {
		a, b := v.Features[i], v.Features[j]
		if a.Drifted != b.Drifted {
			return a.Drifted
		}
		return a.score > b.score
	})
	for i, row := range s.ConfusionMatrix {
		for j, n := range row {
			if i == j || n > v.CMMax {
				v.CMMax = max(v.CMMax, n)
			}
		}
	}
	if len(s.ROC) > 1 {
		pts := make([]ROCPoint, len(s.ROC))
		for i, p := range s.ROC {
			pts[i] = ROCPoint{FPR: p.FPR, TPR: p.TPR}
		}
		v.ROC, v.ROCSVG = true, ROCSVG(pts, s.Performance["roc_auc"])
	}
	return v
}

// cmColour shades a confusion-matrix cell: blue on the diagonal (right),
// orange off it (wrong), darker for more rows.
func cmColour(n, most int64, diagonal bool) template.CSS {
	if most == 0 || n == 0 {
		return "#ffffff"
	}
	t := math.Sqrt(float64(n) / float64(most))
	if diagonal {
		return template.CSS(fmt.Sprintf("rgba(0,114,178,%.2f)", 0.1+0.4*t))
	}
	return template.CSS(fmt.Sprintf("rgba(230,159,0,%.2f)", 0.1+0.5*t))
}

// chartTable is a LineChart's numbers as a table.
func chartTable(c LineChart) template.HTML {
	var b strings.Builder
	b.WriteString(`<table><thead><tr><th>Window</th>`)
	for _, s := range c.Series {
		fmt.Fprintf(&b, `<th class="num">%s</th>`, esc(s.Name))
	}
	b.WriteString(`</tr></thead><tbody>`)
	for i, x := range c.X {
		fmt.Fprintf(&b, `<tr><td>%s</td>`, esc(x))
		for _, s := range c.Series {
			if s.Has[i] {
				fmt.Fprintf(&b, `<td class="num">%s</td>`, esc(num(s.Values[i])))
			} else {
				b.WriteString(`<td class="num muted">—</td>`)
			}
		}
		b.WriteString(`</tr>`)
	}
	for _, t := range c.Thresholds {
		fmt.Fprintf(&b, `<tr><td colspan="%d">threshold %s: %s</td></tr>`, len(c.Series)+1, esc(t.Label), esc(num(t.Value)))
	}
	b.WriteString(`</tbody></table>`)
	return template.HTML(b.String())
}

// heatTable is the heatmap as a table: features × windows, the statistic
// relative to its threshold, "drifted" marked.
func heatTable(hm Heatmap) template.HTML {
	var b strings.Builder
	b.WriteString(`<table><thead><tr><th>Window</th>`)
	for _, f := range hm.Features {
		fmt.Fprintf(&b, `<th class="num">%s</th>`, esc(f))
	}
	b.WriteString(`</tr></thead><tbody>`)
	for wi := len(hm.Windows) - 1; wi >= 0; wi-- {
		fmt.Fprintf(&b, `<tr><td><a href="%s">%s</a></td>`, esc(hm.Links[wi]), esc(hm.Windows[wi]))
		for fi := range hm.Features {
			c := hm.Cells[fi][wi]
			switch {
			case !c.Has:
				b.WriteString(`<td class="num muted">—</td>`)
			case c.Drifted:
				fmt.Fprintf(&b, `<td class="num"><strong>%s× drifted</strong></td>`, esc(num(c.Score)))
			default:
				fmt.Fprintf(&b, `<td class="num">%s×</td>`, esc(num(c.Score)))
			}
		}
		b.WriteString(`</tr>`)
	}
	b.WriteString(`</tbody></table>`)
	return template.HTML(b.String())
}

// when is a time for people, to the second only when it has seconds.
func when(t time.Time) string {
	if t.Second() != 0 {
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}
