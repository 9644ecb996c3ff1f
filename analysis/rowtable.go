package analysis

import "math"

// rowTable is a row sample parsed for the row-level analyses: numeric
// columns as floats (NaN when missing, unparsable or infinite), the others
// as cells.
type rowTable struct {
	schema                *Schema
	n                     int
	rows                  [][]string
	num                   map[int][]float64
	target, pred, score   int
	features              []int // feature columns, in schema order
	numeric, categoricals []int // the numeric and the categorical features
	// labels memoises normLabel, which parses every cell.
	labels map[string]string
	// right holds, once estimatePerformance ran CBPE, each row's
	// calibrated probability that its prediction is right (NaN for a row
	// CBPE could not use); nil when CBPE did not run.
	right []float64
}

func newRowTable(s *RowSample, schema *Schema) *rowTable {
	if s == nil || len(s.Rows) == 0 {
		return nil
	}
	t := &rowTable{schema: schema, rows: s.sorted(), num: map[int][]float64{},
		target: schema.index(RoleTarget), pred: schema.index(RolePrediction), score: schema.index(RoleScore)}
	t.n = len(t.rows)
	for j, c := range schema.Columns {
		if c.Role == RoleFeature {
			t.features = append(t.features, j)
			if c.Kind == KindNumeric {
				t.numeric = append(t.numeric, j)
			} else {
				t.categoricals = append(t.categoricals, j)
			}
		}
		if c.Kind != KindNumeric || c.Role == RoleIgnored || c.Role == RoleTime || c.Role == RoleEventID {
			continue
		}
		v := make([]float64, t.n)
		for i, r := range t.rows {
			v[i] = math.NaN()
			if x, ok := parseNumber(r[j]); ok && !math.IsInf(x, 0) {
				v[i] = x
			}
		}
		t.num[j] = v
	}
	return t
}

// label is the normalised class label in column j of row i ("" when
// missing or when the column does not exist).
func (t *rowTable) label(j, i int) string {
	c := ""
	if j >= 0 {
		c = t.rows[i][j]
	}
	if c == "" {
		return ""
	}
	l, ok := t.labels[c]
	if !ok {
		if t.labels == nil {
			t.labels = map[string]string{}
		}
		if len(t.labels) > 1<<16 {
			return normLabel(c)
		}
		l = normLabel(c)
		t.labels[c] = l
	}
	return l
}

// predicted is the binary prediction of row i: its prediction cell, else
// its score against Options.Threshold.
func (t *rowTable) predicted(i int, score float64, opts Options) (positive, ok bool) {
	if l := t.label(t.pred, i); l != "" {
		return l == opts.PositiveLabel, true
	}
	if math.IsNaN(score) {
		return false, false
	}
	return score >= opts.Threshold, true
}
