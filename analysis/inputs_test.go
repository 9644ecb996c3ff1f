package analysis

import (
	"errors"
	"fmt"
	"math/rand"
	"strconv"
	"strings"
	"testing"
)

// table builds rows of the given columns from a generator of cells.
func table(cols []string, n int, cell func(row, col int) string) *memRows {
	data := make([][]string, n)
	for i := range data {
		data[i] = make([]string, len(cols))
		for j := range cols {
			data[i][j] = cell(i, j)
		}
	}
	return newMemRows(cols, data)
}

func numbers(row, col int) string { return strconv.Itoa((row*7 + col*3) % 50) }

// Inputs that used to give "no drift" (or a nonsense number) with a nil
// error must now fail with an InputError naming the side and the column.
func TestInputsThatCannotBeAnalysed(t *testing.T) {
	cases := []struct {
		name       string
		ref, cur   *memRows
		opts       Options
		side, col  string
		msgContain string
	}{
		{
			name:       "current shares no column with the reference",
			ref:        table([]string{"a", "b"}, 50, numbers),
			cur:        table([]string{"x", "y"}, 50, numbers),
			side:       SideCurrent,
			msgContain: "shares no feature column",
		},
		{
			name:       "current read as one CSV column of JSON text",
			ref:        table([]string{"age", "plan"}, 50, numbers),
			cur:        table([]string{`{"age":1`, `"plan":2}`}, 50, numbers),
			side:       SideCurrent,
			msgContain: "shares no feature column",
		},
		{
			name:       "-features names a column the current window lacks",
			ref:        table([]string{"a", "b"}, 50, numbers),
			cur:        table([]string{"a"}, 50, numbers),
			opts:       Options{Features: []string{"a", "b"}},
			side:       SideCurrent,
			col:        "b",
			msgContain: "not in the data",
		},
		{
			name:       "-features names a column the reference lacks",
			ref:        table([]string{"a"}, 50, numbers),
			cur:        table([]string{"a", "b"}, 50, numbers),
			opts:       Options{Features: []string{"b"}},
			side:       SideReference,
			col:        "b",
			msgContain: "not in the data",
		},
		{
			name: "continuous target analysed as multiclass",
			ref:  table([]string{"f", "y", "p"}, 50, numbers),
			cur: table([]string{"f", "y", "p"}, 3000, func(r, c int) string {
				return strconv.FormatFloat(float64(r)*0.37+float64(c), 'f', 2, 64)
			}),
			opts:       Options{Task: TaskMulticlass, Target: "y", Prediction: "p"},
			side:       SideCurrent,
			col:        "y",
			msgContain: "use -task regression",
		},
		{
			name: "continuous target analysed as binary",
			ref:  table([]string{"f", "y", "p"}, 50, numbers),
			cur: table([]string{"f", "y", "p"}, 3000, func(r, c int) string {
				return strconv.Itoa(r*3 + c)
			}),
			opts:       Options{Task: TaskBinary, Target: "y", Prediction: "p"},
			side:       SideCurrent,
			col:        "y",
			msgContain: "more than 1000 distinct labels",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := Analyze(tc.ref, tc.cur, tc.opts)
			if err == nil {
				err = CheckVerdict(rep)
			}
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("err = %v, want an InputError", err)
			}
			if !errors.Is(err, ErrInvalidInput) {
				t.Errorf("errors.Is(err, ErrInvalidInput) = false")
			}
			if ie.Side != tc.side || ie.Column != tc.col || !strings.Contains(ie.Msg, tc.msgContain) {
				t.Errorf("got side %q column %q msg %q; want side %q column %q msg containing %q",
					ie.Side, ie.Column, ie.Msg, tc.side, tc.col, tc.msgContain)
			}
		})
	}
}

// Reports with current rows but no verdict fail CheckVerdict; an empty
// window passes (its callers say "no data").
func TestCheckVerdict(t *testing.T) {
	cases := []struct {
		name      string
		ref, cur  *memRows
		opts      Options
		wantErr   bool
		side, msg string
	}{
		{"header only: no data, not an error", table([]string{"a"}, 50, numbers), table([]string{"a"}, 0, numbers), Options{}, false, "", ""},
		{"a tested feature", table([]string{"a"}, 50, numbers), table([]string{"a"}, 50, numbers), Options{}, false, "", ""},
		{"empty reference", table([]string{"a"}, 0, numbers), table([]string{"a"}, 50, numbers), Options{}, true, SideReference, "no rows"},
		{"every current feature empty", table([]string{"a", "b"}, 50, numbers),
			table([]string{"a", "b"}, 50, func(int, int) string { return "" }), Options{}, true, SideCurrent, "every feature is missing"},
		{"no feature columns", table([]string{"y", "p"}, 50, numbers), table([]string{"y", "p"}, 50, numbers),
			Options{Task: TaskRegression, Target: "y", Prediction: "p"}, true, SideReference, "no feature column"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := Analyze(tc.ref, tc.cur, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			err = CheckVerdict(rep)
			if !tc.wantErr {
				if err != nil {
					t.Fatalf("CheckVerdict = %v, want nil", err)
				}
				return
			}
			var ie *InputError
			if !errors.As(err, &ie) || ie.Side != tc.side || !strings.Contains(ie.Msg, tc.msg) {
				t.Fatalf("CheckVerdict = %v, want a %s InputError containing %q", err, tc.side, tc.msg)
			}
		})
	}
}

// Property: no input gives a verdict-less "no drift". Whatever the columns,
// rows and cells, Analyze + CheckVerdict either fail, or report no current
// rows (no data), or tested at least one feature.
func TestNoSilentNoDrift(t *testing.T) {
	rng := rand.New(rand.NewSource(13))
	names := []string{"a", "b", "c", "label", "pred", "score", "time", "event_id", "inference_id"}
	cells := []string{"", "0", "1", "2.5", "-3", "x", "yes", "NaN", "inf", "1e308", "2026-01-01T00:00:00Z"}
	pick := func() []string {
		var cols []string
		for _, n := range names {
			if rng.Intn(2) == 0 {
				cols = append(cols, n)
			}
		}
		return cols
	}
	gen := func(cols []string) *memRows {
		n := rng.Intn(4) * rng.Intn(40)
		return table(cols, n, func(int, int) string { return cells[rng.Intn(len(cells))] })
	}
	for i := range 3000 {
		refCols, curCols := pick(), pick()
		opts := Options{}
		switch rng.Intn(4) {
		case 1:
			opts = Options{Task: TaskBinary, Target: "label", Prediction: "pred", Score: "score"}
		case 2:
			opts = Options{Task: TaskRegression, Target: "label", Prediction: "pred"}
		case 3:
			opts = Options{Features: []string{names[rng.Intn(3)]}}
		}
		rep, err := Analyze(gen(refCols), gen(curCols), opts)
		if err == nil {
			err = CheckVerdict(rep)
		}
		if err != nil {
			continue
		}
		if rep.Rows.Current > 0 && rep.DatasetDrift.Tested == 0 {
			t.Fatalf("case %d: ref %v cur %v opts %+v: nil error, %d current rows, 0 tested features",
				i, refCols, curCols, opts, rep.Rows.Current)
		}
	}
}

// The decision threshold turns scores into predictions when a binary model
// logs only a probability.
func TestScoreThreshold(t *testing.T) {
	cols := []string{"f", "label", "score"}
	data := [][]string{{"1", "1", "0.9"}, {"2", "1", "0.6"}, {"3", "0", "0.55"}, {"4", "0", "0.1"}}
	for _, tc := range []struct {
		threshold float64
		accuracy  float64
	}{{0, 0.75}, {0.5, 0.75}, {0.58, 1}, {0.95, 0.5}} {
		t.Run(fmt.Sprint(tc.threshold), func(t *testing.T) {
			opts := Options{Task: TaskBinary, Target: "label", Score: "score", Threshold: tc.threshold}
			rep, err := Analyze(newMemRows(cols, data), newMemRows(cols, data), opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := rep.Performance["accuracy"]; got != tc.accuracy {
				t.Errorf("accuracy = %v, want %v", got, tc.accuracy)
			}
		})
	}
}

// The SageMaker reader's inference_id column is an identifier, never a
// feature: unique per row, it would drift in every window.
func TestInferenceIDIsNotAFeature(t *testing.T) {
	cols := []string{"event_id", "inference_id", "time", "f"}
	ids := func(off int) *memRows {
		return table(cols, 100, func(r, c int) string {
			if c == 3 {
				return strconv.Itoa(r % 10)
			}
			return strconv.Itoa(off + r)
		})
	}
	rep, err := Analyze(ids(0), ids(1000), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Features) != 1 || rep.Features[0].Name != "f" {
		t.Fatalf("features = %+v, want only f", rep.Features)
	}
	rep, err = Analyze(ids(0), ids(1000), Options{Features: []string{"f", "inference_id"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Features) != 2 {
		t.Fatalf("named in -features, inference_id must be analysed: features = %+v", rep.Features)
	}
}

// The serving version and shadow outputs are metadata, not features, unless
// Options.Features names them.
func TestVersionAndShadowColumnsAreNotFeatures(t *testing.T) {
	cols := []string{"age", "model_version", "shadow.4.prediction", "shadow.4.score", "prediction"}
	sample := [][]string{{"30", "3", "1", "0.7", "1"}}
	s, err := InferSchema(cols, sample, Options{Prediction: "prediction"})
	if err != nil {
		t.Fatal(err)
	}
	roles := map[string]string{}
	for _, c := range s.Columns {
		roles[c.Name] = c.Role
	}
	if roles["age"] != RoleFeature || roles["model_version"] != RoleIgnored || roles["shadow.4.prediction"] != RoleIgnored || roles["shadow.4.score"] != RoleIgnored {
		t.Errorf("roles %v", roles)
	}
	s, _ = InferSchema(cols, sample, Options{Prediction: "prediction", Features: []string{"age", "model_version"}})
	for _, c := range s.Columns {
		if c.Name == "model_version" && c.Role != RoleFeature {
			t.Errorf("model_version named in Features has role %s", c.Role)
		}
	}
}
