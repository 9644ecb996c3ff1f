package store

import (
	"context"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/vigilml/vigil/analysis"
	"github.com/vigilml/vigil/config"
)

// SageMaker data capture lands under <prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/;
// a capture record does not name its variant, its folder does. With
// source.variants or source.shadow_variant set, the rows of a production
// variant get the column model_version (the version the variant serves, by
// default its name), and the records of the shadow variant are not rows of
// the window but the shadow predictions of the production records of the
// same request: columns shadow.<version>.prediction and .score.

// VersionColumn and ShadowColumn name the columns of the version that served
// a prediction and of a shadow version's outputs, in every format.
const VersionColumn = "model_version"

// ShadowColumn is the column of a shadow version's field ("prediction",
// "score"): shadow.<version>.<field>, as JSONL flattens
// {"shadow": {"<version>": {...}}}.
func ShadowColumn(version, field string) string { return "shadow." + version + "." + field }

// versioned reports whether the source's variants map to versions.
func (s readSpec) versioned() bool { return len(s.variants) > 0 || s.shadowVariant != "" }

// variantOf is the capture variant an object belongs to: the folder above
// its yyyy/mm/dd/hh partition, else (the source URI names the variant) the
// last segment of the source URI.
func (s readSpec) variantOf(key string) string {
	parts := strings.Split(key, "/")
	for i := 1; i+4 < len(parts); i++ {
		if isYear(parts[i]) {
			if _, ok := partitionHour(strings.Join(parts[i:], "/")); ok {
				return parts[i-1]
			}
		}
	}
	return path.Base(strings.TrimSuffix(s.uri, "/"))
}

// versionOf is the model version a capture variant serves.
func (s readSpec) versionOf(variant string) string {
	if v, ok := s.variants[variant]; ok {
		return v
	}
	return variant
}

// withColumn adds a constant column to every row of rows.
type withColumn struct {
	analysis.Rows
	cols []string
	row  []string
	val  string
}

func addConstColumn(rows analysis.Rows, name, value string) analysis.Rows {
	cols := append(append([]string(nil), rows.Columns()...), name)
	return &withColumn{Rows: rows, cols: cols, row: make([]string, len(cols)), val: value}
}

func (w *withColumn) Columns() []string { return w.cols }
func (w *withColumn) Row() []string {
	n := copy(w.row, w.Rows.Row())
	w.row[n] = w.val
	return w.row
}

// Close closes the wrapped rows when they hold resources.
func (w *withColumn) Close() error {
	if c, ok := w.Rows.(interface{ Close() error }); ok {
		return c.Close()
	}
	return nil
}

// splitShadow separates the shadow variant's objects from the others.
func splitShadow(objs []object, spec readSpec) (served, shadow []object) {
	if spec.shadowVariant == "" {
		return objs, nil
	}
	for _, o := range objs {
		if spec.variantOf(o.Key) == spec.shadowVariant {
			shadow = append(shadow, o)
		} else {
			served = append(served, o)
		}
	}
	return served, shadow
}

// shadowJoin fills the shadow columns of served rows from the shadow
// variant's records of the same request: the same inferenceId (or, without
// one, eventId) and the same position in a batch request.
type shadowJoin struct {
	preds      map[string][2]string // request key#n → prediction, score
	predCol    int                  // output columns in the window rows
	scoreCol   int
	seen       map[string]int // occurrences of each key among served rows
	key        func(row []string) string
	paired     int64
	shadowRows int64
}

// readShadow reads the shadow variant's records of the window into memory
// (one entry per shadow prediction: its memory grows with the shadow
// traffic of one window).
func readShadow(ctx context.Context, be backend, objs []object, spec readSpec, m *config.Model, info *WindowInfo) (*shadowJoin, error) {
	j := &shadowJoin{preds: map[string][2]string{}, seen: map[string]int{}}
	if len(objs) == 0 {
		return j, nil
	}
	r := newObjectRows(ctx, be, objs, spec, info)
	defer r.Close()
	if r.err != nil {
		return nil, r.err
	}
	key := joinKey(r, m.Columns.EventID)
	if key == nil {
		return nil, fmt.Errorf("model %s: the shadow variant's records have no %s column to pair them with served ones", m.Name, m.Columns.EventID)
	}
	pi, okP := r.index[m.Columns.Prediction]
	si, okS := r.index[m.Columns.Score]
	counts := map[string]int{}
	for r.Next() {
		row := r.Row()
		k := key(row)
		if k == "" {
			continue
		}
		n := counts[k]
		counts[k] = n + 1
		var v [2]string
		if okP {
			v[0] = row[pi]
		}
		if okS && m.Columns.Score != "" {
			v[1] = row[si]
		}
		j.preds[k+"#"+strconv.Itoa(n)] = v
		j.shadowRows++
	}
	if r.err != nil {
		return nil, r.err
	}
	return j, nil
}

// fill writes the shadow outputs of a served row.
func (j *shadowJoin) fill(row []string) {
	if j.key == nil {
		return
	}
	k := j.key(row)
	if k == "" {
		return
	}
	n := j.seen[k]
	j.seen[k] = n + 1
	if v, ok := j.preds[k+"#"+strconv.Itoa(n)]; ok {
		row[j.predCol], row[j.scoreCol] = v[0], v[1]
		j.paired++
	}
}
