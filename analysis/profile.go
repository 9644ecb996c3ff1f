package analysis

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// Column kinds and roles.
const (
	KindNumeric     = "numeric"
	KindCategorical = "categorical"

	RoleFeature    = "feature"
	RoleTarget     = "target"
	RolePrediction = "prediction"
	RoleScore      = "score"
	RoleLatency    = "latency"
	// RoleClassScore is a multiclass model's probability of one class
	// (Options.ClassScores).
	RoleClassScore = "class_score"
	RoleTime       = "time"
	RoleEventID    = "event_id"
	RoleIgnored    = "ignored"
)

// InferenceIDColumn is the column of SageMaker's caller-supplied inference
// id (store/format's reader adds it); it is not a feature unless
// Options.Features names it.
const InferenceIDColumn = "inference_id"

// SchemaSampleRows is how many leading reference rows InferSchema looks at.
const SchemaSampleRows = 1000

// maxEventIDs bounds the duplicate-event-id check per profile.
const maxEventIDs = 1 << 20

// Schema fixes each column's role and kind. It is inferred once from the
// reference and shared by every profile that will be compared, so shards of
// a window profile the same way.
type Schema struct {
	Columns []SchemaColumn `json:"columns"`
}

// SchemaColumn is one column of a Schema. KindNote says why a column of
// numbers is categorical (KindNoteFewValues), when it is for that reason.
type SchemaColumn struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"`
	Role     string `json:"role"`
	KindNote string `json:"kind_note,omitempty"`
}

// KindNoteFewValues marks a numeric column treated as categorical because
// its sample holds only a few distinct integers.
const KindNoteFewValues = "few distinct integer values: categorical"

// Few-values rule of InferSchema: a numeric column whose sample has at least
// fewValuesMinSample values, all integers, with at most fewValuesMax
// distinct ones, is categorical.
const (
	fewValuesMax       = 10
	fewValuesMinSample = 100
)

// fewIntegerValues applies the few-values rule to column i of the sample.
func fewIntegerValues(sample [][]string, i int) bool {
	seen := map[float64]struct{}{}
	n := 0
	for _, row := range sample {
		if i >= len(row) || row[i] == "" {
			continue
		}
		v, ok := parseNumber(row[i])
		if !ok {
			continue
		}
		if v != math.Trunc(v) || math.IsInf(v, 0) {
			return false
		}
		n++
		if _, ok := seen[v]; !ok {
			seen[v] = struct{}{}
			if len(seen) > fewValuesMax {
				return false
			}
		}
	}
	return n >= fewValuesMinSample
}

// InferSchema assigns roles from opts and kinds from a sample of rows (the
// first SchemaSampleRows of the reference): a column is numeric when at
// least 90% of its non-missing sample values parse as numbers, unless it is
// listed in opts.Categorical. Class labels (target, prediction of binary and
// multiclass tasks) are categorical; score and latency are numeric.
func InferSchema(columns []string, sample [][]string, opts Options) (*Schema, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	has := func(n string) bool { return slices.Contains(columns, n) }
	// Time, event id, score and latency are not required: a reference (a
	// training set) often has none of them, while the production window has
	// them all. Absent score and latency columns are added to the schema and
	// read as missing where a stream lacks them.
	for _, c := range []struct{ flag, name string }{{"target", opts.Target}, {"prediction", opts.Prediction}} {
		if c.name != "" && !has(c.name) {
			return nil, &InputError{Side: SideReference, Column: c.name, Msg: fmt.Sprintf("%s column is not in the data (columns: %s)", c.flag, strings.Join(columns, ","))}
		}
	}
	for _, f := range opts.Features {
		if !has(f) {
			return nil, &InputError{Side: SideReference, Column: f, Msg: fmt.Sprintf("feature is not in the data (columns: %s)", strings.Join(columns, ","))}
		}
	}
	timeCol, idCol := opts.Time, opts.EventID
	if timeCol == "" && has("time") {
		timeCol = "time"
	}
	if idCol == "" && has("event_id") {
		idCol = "event_id"
	}
	s := &Schema{}
	for i, name := range columns {
		c := SchemaColumn{Name: name, Role: RoleFeature}
		switch name {
		case opts.Target:
			c.Role = RoleTarget
		case opts.Prediction:
			c.Role = RolePrediction
		case opts.Score:
			c.Role = RoleScore
		case opts.Latency:
			c.Role = RoleLatency
		case timeCol:
			c.Role = RoleTime
		case idCol:
			c.Role = RoleEventID
		case InferenceIDColumn, "model_version":
			// The SageMaker reader's caller-supplied id, the version that
			// served a prediction: metadata, never features (an id drifts in
			// every window, a version at every promotion), unless named.
			c.Role = RoleIgnored
			if slices.Contains(opts.Features, name) {
				c.Role = RoleFeature
			}
		default:
			if strings.HasPrefix(name, "shadow.") && !slices.Contains(opts.Features, name) {
				// a shadow version's output is not an input of the model
				c.Role = RoleIgnored
				break
			}
			if len(opts.Features) > 0 && !slices.Contains(opts.Features, name) {
				c.Role = RoleIgnored
			}
			if classScoreColumn(opts, name) {
				c.Role = RoleClassScore
			}
		}
		var num, nonMissing int
		for _, row := range sample {
			if i >= len(row) || row[i] == "" {
				continue
			}
			nonMissing++
			if _, ok := parseNumber(row[i]); ok {
				num++
			}
		}
		c.Kind = KindCategorical
		if nonMissing == 0 || float64(num) >= 0.9*float64(nonMissing) {
			c.Kind = KindNumeric
			if fewIntegerValues(sample, i) {
				// 0/1 flags and small integer codes are categories, as in
				// Evidently: a distance between their histograms means
				// something, a Wasserstein distance over codes does not.
				c.Kind, c.KindNote = KindCategorical, KindNoteFewValues
			}
		}
		if slices.Contains(opts.Categorical, name) {
			c.Kind, c.KindNote = KindCategorical, ""
		}
		switch {
		case c.Role == RoleScore || c.Role == RoleLatency || c.Role == RoleClassScore:
			c.Kind = KindNumeric
		case (c.Role == RoleTarget || c.Role == RolePrediction) && (opts.Task == TaskBinary || opts.Task == TaskMulticlass):
			c.Kind = KindCategorical
		case (c.Role == RoleTarget || c.Role == RolePrediction) && opts.Task == TaskRegression:
			c.Kind = KindNumeric
		case c.Role == RoleEventID || c.Role == RoleTime:
			c.Kind = KindCategorical
		}
		if c.Role != RoleFeature && c.Role != RoleIgnored {
			c.KindNote = ""
		}
		s.Columns = append(s.Columns, c)
	}
	extra := []SchemaColumn{{Name: opts.Score, Role: RoleScore}, {Name: opts.Latency, Role: RoleLatency}}
	for _, class := range slices.Sorted(maps.Keys(opts.ClassScores)) {
		extra = append(extra, SchemaColumn{Name: opts.ClassScores[class], Role: RoleClassScore})
	}
	for _, c := range extra {
		if c.Name != "" && !has(c.Name) && !slices.ContainsFunc(s.Columns, func(sc SchemaColumn) bool { return sc.Name == c.Name }) {
			c.Kind = KindNumeric
			s.Columns = append(s.Columns, c)
		}
	}
	return s, nil
}

// classScoreColumn reports whether name is one of opts.ClassScores'
// columns.
func classScoreColumn(opts Options, name string) bool {
	for _, col := range opts.ClassScores {
		if col == name {
			return true
		}
	}
	return false
}

func (s *Schema) index(role string) int {
	for i, c := range s.Columns {
		if c.Role == role {
			return i
		}
	}
	return -1
}

var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseDecimal parses the numbers CSV writers produce: an optional sign,
// digits with an optional decimal point, an optional exponent ("-12.375",
// "0.12345678901234568", "1.5e-05"). With at most 19 significant digits the
// mantissa is exact, and the value comes from Clinger's fast path (mantissa
// below 2^53, power of ten up to 22: one correctly rounded operation) or
// from Eisel–Lemire (atof.go): either way it equals strconv.ParseFloat's to
// the bit. It reports false for anything else (more digits, inf, nan,
// spaces, hex, underscores, results that are not normal doubles), which
// falls back to strconv; when true, the value is finite.
func parseDecimal(s string) (float64, bool) {
	if v, ok := shortDecimal(s); ok {
		return v, true
	}
	if v, ok := fullDecimal(s); ok {
		return v, true
	}
	return parseAnyDecimal(s)
}

// parseAnyDecimal is parseDecimal for every shape.
func parseAnyDecimal(s string) (float64, bool) {
	n := len(s)
	if n == 0 {
		return 0, false
	}
	sign, i := signOf(s)
	var m uint64
	first := i
	for i < n && s[i] == '0' {
		i++
	}
	lead := i - first // leading zeros: not significant
	for ; i < n && s[i]-'0' < 10; i++ {
		m = m*10 + uint64(s[i]-'0')
	}
	nd := i - first - lead // significant digits in m
	if i < n && s[i] == '.' && nd <= 11 {
		if frac := n - i - 1; frac > 0 && frac <= 8 && n >= 8 {
			// Six-decimal data: the decimals are the last frac bytes of s.
			// Convert the 8 bytes ending there at once, with the ones before
			// the decimals set to '0': this breaks the digit-by-digit
			// dependency chain.
			w := binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s[n-8:]), 8))
			keep := uint(8 * (8 - frac))
			if d, ok := eightDigits(w>>keep<<keep | 0x3030303030303030>>(64-keep)); ok {
				m = m*pow10u[frac] + d
				if m <= 1<<53 {
					return math.Float64frombits(math.Float64bits(float64(m)/pow10[frac]) | sign), true
				}
				return eiselLemire64(m, -frac, sign != 0)
			}
		}
	}
	digits := i - first
	exp10 := 0
	if i < n && s[i] == '.' {
		i++
		fracStart := i
		if nd == 0 {
			for i < n && s[i] == '0' {
				i++
			}
		}
		// Full-precision decimals: eight digits per step.
		for i+8 <= n && nd <= 11 {
			d, ok := eightDigits(binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s[i:]), 8)))
			if !ok {
				break
			}
			m = m*1e8 + d
			nd += 8
			i += 8
		}
		for ; i < n && s[i]-'0' < 10; i++ {
			m = m*10 + uint64(s[i]-'0')
			nd++
		}
		exp10 = fracStart - i
		digits += i - fracStart
	}
	if digits == 0 || nd > 19 {
		return 0, false
	}
	if i < n && s[i]|0x20 == 'e' {
		i++
		esign := 1
		if i < n && (s[i] == '-' || s[i] == '+') {
			if s[i] == '-' {
				esign = -1
			}
			i++
		}
		start, e := i, 0
		for ; i < n && s[i]-'0' < 10; i++ {
			if e < 10000 {
				e = e*10 + int(s[i]-'0')
			}
		}
		if i == start {
			return 0, false
		}
		exp10 += esign * e
	}
	if i != n {
		return 0, false
	}
	if m <= 1<<53 && exp10 >= -22 && exp10 <= 22 {
		f := float64(m)
		if exp10 < 0 {
			f /= pow10[-exp10]
		} else {
			f *= pow10[exp10]
		}
		return math.Float64frombits(math.Float64bits(f) | sign), true
	}
	return eiselLemire64(m, exp10, sign != 0)
}

var pow10u = [...]uint64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8}

// eightDigits converts eight ASCII digits, the first in the low byte, to
// their value with three multiplications (the SWAR method of simdjson), and
// reports false if any byte is not a digit.
func eightDigits(w uint64) (uint64, bool) {
	if (w&0xf0f0f0f0f0f0f0f0)|(((w+0x0606060606060606)&0xf0f0f0f0f0f0f0f0)>>4) != 0x3333333333333333 {
		return 0, false
	}
	w = (w & 0x0f0f0f0f0f0f0f0f) * 2561 >> 8
	w = (w & 0x00ff00ff00ff00ff) * 6553601 >> 16
	return (w & 0x0000ffff0000ffff) * 42949672960001 >> 32, true
}

// parseNumber parses a numeric cell. Leading/trailing spaces are allowed.
func parseNumber(s string) (float64, bool) {
	if v, ok := parseDecimal(s); ok {
		return v, true
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t := strings.TrimSpace(s)
		if t == s || t == "" {
			return 0, false
		}
		v, err = strconv.ParseFloat(t, 64)
		if err != nil {
			return 0, false
		}
	}
	return v, true
}

// normLabel normalises a class label: numbers by value ("1.0" → "1"),
// anything else trimmed.
func normLabel(s string) string {
	if v, ok := parseNumber(s); ok && !math.IsNaN(v) {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return strings.TrimSpace(s)
}

// ColumnProfile is the mergeable summary of one column.
type ColumnProfile struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"`
	Role     string `json:"role"`
	KindNote string `json:"kind_note,omitempty"`
	// Count is the number of rows seen; Missing the empty cells (and NaN in
	// numeric columns); Mismatch the non-numeric text in a numeric column;
	// NonFinite the ±Inf values of a numeric column. Only finite numbers
	// enter Values and the moments.
	Count     int64 `json:"count"`
	Missing   int64 `json:"missing"`
	Mismatch  int64 `json:"type_mismatch"`
	NonFinite int64 `json:"non_finite"`
	// Numeric: moments, range and the value sample. Mean and M2 (sum of
	// squared deviations) cover the first MomentsN values: while the sample
	// is exact they are computed on demand by two passes over it (as numpy),
	// then updated per value (Welford) and merged with Chan's formula.
	Mean     float64 `json:"mean"`
	M2       float64 `json:"m2"`
	MomentsN int64   `json:"moments_n"`
	Min      float64 `json:"min"`
	Max      float64 `json:"max"`
	Values   *Sample `json:"values,omitempty"`
	// Categorical: counts per category; Other counts values beyond
	// MaxCategories distinct ones.
	Categories map[string]int64 `json:"categories,omitempty"`
	Other      int64            `json:"other,omitempty"`

	// cal caches auto's calibrated thresholds when this column is a
	// reference (calibrate.go).
	calOnce sync.Once
	cal     *calibration
}

// N is the number of finite numeric values.
func (c *ColumnProfile) N() int64 {
	if c.Values == nil {
		return 0
	}
	return c.Values.N
}

// Std is the population standard deviation (ddof 0) of the numeric values.
func (c *ColumnProfile) Std() float64 {
	c.settle()
	if c.N() == 0 {
		return 0
	}
	return math.Sqrt(c.M2 / float64(c.N()))
}

// Moments returns the mean and population variance of the numeric values.
func (c *ColumnProfile) Moments() (mean, variance float64) {
	c.settle()
	if c.N() == 0 {
		return 0, 0
	}
	return c.Mean, c.M2 / float64(c.N())
}

// settle brings Mean and M2 up to date: with an exact sample in two
// passes, with a sketch by folding the values it received since.
func (c *ColumnProfile) settle() {
	if c.Values == nil || c.MomentsN == c.Values.N {
		return
	}
	if !c.Values.IsExact() {
		c.foldSketch()
		return
	}
	x := c.Values.Exact
	sum := 0.0
	for _, v := range x {
		sum += v
	}
	mean := sum / float64(len(x))
	m2 := 0.0
	for _, v := range x {
		m2 += (v - mean) * (v - mean)
	}
	c.Mean, c.M2, c.MomentsN = mean, m2, int64(len(x))
}

func (c *ColumnProfile) addNumber(v float64) {
	s := c.Values
	if len(s.Exact) < cap(s.Exact) && len(s.Exact) < s.Limit {
		// The common case, exact and with room: no moments to update yet.
		if s.N == 0 || v < c.Min {
			c.Min = v
		}
		if s.N == 0 || v > c.Max {
			c.Max = v
		}
		s.Exact = append(s.Exact, v)
		s.N++
		return
	}
	if s.N == 0 {
		c.Min, c.Max = v, v
	} else if v < c.Min {
		c.Min = v
	} else if v > c.Max {
		c.Max = v
	}
	if s.Levels == nil {
		if len(s.Exact) < s.Limit {
			s.Add(v)
			return
		}
		c.settle() // about to become a sketch: fix the exact moments first
		s.Add(v)
		c.addMoment(v)
		return
	}
	// The moments of a sketch take in the values added since the last fold
	// (the tail of level 0) in one pass before level 0 is compacted, rather
	// than one division per value.
	if lv := s.Levels[0]; len(lv) < s.capacity(0) {
		s.Levels[0] = append(lv, v) // Add without a compaction
		s.N++
		return
	}
	c.settle()
	s.Add(v) // compacts level 0
	c.addMoment(v)
}

// addShort adds the values of shortMantissa's cells us, as addNumber
// would one after another, but in one loop while level 0 (or the exact
// sample) has room.
func (c *ColumnProfile) addShort(us []uint64) {
	s := c.Values
	for len(us) > 0 {
		dst, room := s.Exact, min(cap(s.Exact), s.Limit)-len(s.Exact)
		if s.Levels != nil {
			dst, room = s.Levels[0], s.capacity(0)-len(s.Levels[0])
		}
		if room <= 0 || s.N == 0 {
			c.addNumber(shortValue(us[0]))
			us = us[1:]
			continue
		}
		n := min(room, len(us))
		out := dst[len(dst) : len(dst)+n]
		lo, hi := c.Min, c.Max
		for i, u := range us[:n] {
			v := shortValue(u)
			out[i] = v
			if v < lo {
				lo = v
			} else if v > hi {
				hi = v
			}
		}
		c.Min, c.Max = lo, hi
		dst = dst[:len(dst)+n]
		if s.Levels != nil {
			s.Levels[0] = dst
		} else {
			s.Exact = dst
		}
		s.N += int64(n)
		us = us[n:]
	}
}

// addMoment updates the moments with one value (Welford).
func (c *ColumnProfile) addMoment(v float64) {
	d := v - c.Mean
	c.Mean += d / float64(c.MomentsN+1)
	c.M2 += d * (v - c.Mean)
	c.MomentsN++
}

// foldSketch adds the values a sketch received since its moments were last
// updated (the last N − MomentsN values of level 0) to Mean and M2: their
// own mean and M2 in two passes, combined with Chan's formula.
func (c *ColumnProfile) foldSketch() {
	s := c.Values
	p := s.N - c.MomentsN
	if p <= 0 || len(s.Levels) == 0 || p > int64(len(s.Levels[0])) {
		return
	}
	tail := s.Levels[0][int64(len(s.Levels[0]))-p:]
	// Four partial sums: four independent chains of additions instead of
	// one, whose latency bounded the loop.
	var s4, q4 [4]float64
	i := 0
	for ; i+4 <= len(tail); i += 4 {
		s4[0] += tail[i]
		s4[1] += tail[i+1]
		s4[2] += tail[i+2]
		s4[3] += tail[i+3]
	}
	for ; i < len(tail); i++ {
		s4[0] += tail[i]
	}
	mb := (s4[0] + s4[1] + (s4[2] + s4[3])) / float64(p)
	i = 0
	for ; i+4 <= len(tail); i += 4 {
		d0, d1, d2, d3 := tail[i]-mb, tail[i+1]-mb, tail[i+2]-mb, tail[i+3]-mb
		q4[0] += d0 * d0
		q4[1] += d1 * d1
		q4[2] += d2 * d2
		q4[3] += d3 * d3
	}
	for ; i < len(tail); i++ {
		d := tail[i] - mb
		q4[0] += d * d
	}
	m2b := q4[0] + q4[1] + (q4[2] + q4[3])
	if c.MomentsN == 0 {
		c.Mean, c.M2 = mb, m2b
	} else {
		na, nb := float64(c.MomentsN), float64(p)
		d := mb - c.Mean
		c.Mean += d * nb / (na + nb)
		c.M2 += m2b + d*d*na*nb/(na+nb)
	}
	c.MomentsN += p
}

func (c *ColumnProfile) merge(o *ColumnProfile) {
	c.Count += o.Count
	c.Missing += o.Missing
	c.Mismatch += o.Mismatch
	c.NonFinite += o.NonFinite
	if c.Values != nil && o.Values != nil && o.Values.N > 0 {
		c.settle()
		o.settle()
		na, nb := float64(c.Values.N), float64(o.Values.N)
		if na == 0 {
			c.Mean, c.M2, c.Min, c.Max, c.MomentsN = o.Mean, o.M2, o.Min, o.Max, o.MomentsN
		} else {
			d := o.Mean - c.Mean
			c.Mean += d * nb / (na + nb)
			c.M2 += o.M2 + d*d*na*nb/(na+nb)
			c.MomentsN += o.MomentsN
			c.Min = math.Min(c.Min, o.Min)
			c.Max = math.Max(c.Max, o.Max)
		}
		c.Values.Merge(o.Values)
	}
	for k, v := range o.Categories {
		if c.Categories == nil {
			c.Categories = map[string]int64{}
		}
		c.Categories[k] += v
	}
	c.Other += o.Other
}

// PerfProfile accumulates the performance of a model over labeled rows.
type PerfProfile struct {
	Task    string `json:"task"`
	Labeled int64  `json:"labeled"`
	// PredictionMissing counts labeled rows without a usable prediction.
	PredictionMissing int64 `json:"prediction_missing"`
	// Classification: Confusion[true][predicted] counts, over at most
	// Options.MaxClasses distinct labels; ClassOverflow counts the labeled
	// rows left out because they would have added one more.
	Confusion     map[string]map[string]int64 `json:"confusion,omitempty"`
	ClassOverflow int64                       `json:"class_overflow,omitempty"`
	labels        map[string]struct{}         // distinct labels in Confusion (rebuilt when nil)
	// Binary: scores of positive and negative rows, and the sum of the
	// per-row log loss terms.
	PosScores      *Sample `json:"pos_scores,omitempty"`
	NegScores      *Sample `json:"neg_scores,omitempty"`
	LogLossSum     float64 `json:"log_loss_sum"`
	ScoreNonFinite int64   `json:"score_non_finite"`
	// Regression sums.
	N        int64   `json:"n"`
	AbsErr   float64 `json:"abs_err"`
	SqErr    float64 `json:"sq_err"`
	AbsPctEr float64 `json:"abs_pct_err"`
	YMean    float64 `json:"y_mean"`
	YM2      float64 `json:"y_m2"`
}

func (p *PerfProfile) merge(o *PerfProfile) {
	p.Labeled += o.Labeled
	p.ClassOverflow += o.ClassOverflow
	p.labels = nil
	p.PredictionMissing += o.PredictionMissing
	for t, row := range o.Confusion {
		if p.Confusion == nil {
			p.Confusion = map[string]map[string]int64{}
		}
		if p.Confusion[t] == nil {
			p.Confusion[t] = map[string]int64{}
		}
		for q, n := range row {
			p.Confusion[t][q] += n
		}
	}
	if p.PosScores != nil {
		p.PosScores.Merge(o.PosScores)
		p.NegScores.Merge(o.NegScores)
	}
	p.LogLossSum += o.LogLossSum
	p.ScoreNonFinite += o.ScoreNonFinite
	if o.N > 0 {
		na, nb := float64(p.N), float64(o.N)
		d := o.YMean - p.YMean
		p.YMean += d * nb / (na + nb)
		p.YM2 += o.YM2 + d*d*na*nb/(na+nb)
		p.N += o.N
		p.AbsErr += o.AbsErr
		p.SqErr += o.SqErr
		p.AbsPctEr += o.AbsPctEr
	}
}

// Profile is the mergeable summary of a window: profiles of shards of the
// same window, made with the same Schema and Options, merge into the profile
// of the whole window (Merge). CompareProfiles turns a reference and a
// current profile into a Report.
type Profile struct {
	Schema  *Schema          `json:"schema"`
	Rows    int64            `json:"rows"`
	Invalid int64            `json:"invalid"`
	Columns []*ColumnProfile `json:"columns"`
	Perf    *PerfProfile     `json:"performance,omitempty"`
	// TimeMin/TimeMax bound the parsed time column (Unix seconds); TimeN
	// counts parsed times.
	TimeMin float64 `json:"time_min"`
	TimeMax float64 `json:"time_max"`
	TimeN   int64   `json:"time_n"`
	// DuplicateIDs counts rows whose event id was already seen in this
	// profile. Merge cross-checks the ids of profiles made in this process;
	// shards decoded from JSON carry only their own counts.
	DuplicateIDs int64 `json:"duplicate_event_ids"`
	// Sample is a uniform sample of whole rows, kept when a row-level
	// analysis is wanted (Options.RowSample).
	Sample *RowSample `json:"row_sample,omitempty"`

	ids map[uint64]struct{}
}

// readyToMerge does the work of a later Merge of p into another profile
// that can be done on p alone (folding the moments of its sketches' last
// values, sorting their level 0), where p was made: the parts of a large
// window are profiled on every core, but merged one after another.
func (p *Profile) readyToMerge() {
	for _, c := range p.Columns {
		if c.Values != nil {
			c.settle() // folds level 0's tail: before it is sorted
			c.Values.sortLevel0()
		}
	}
}

// Merge adds the shard o into p. Both must come from the same Schema.
func (p *Profile) Merge(o *Profile) error {
	if len(p.Columns) != len(o.Columns) {
		return fmt.Errorf("analysis: merge: profiles have %d and %d columns; profile shards with the same schema", len(p.Columns), len(o.Columns))
	}
	for i := range p.Columns {
		if p.Columns[i].Name != o.Columns[i].Name {
			return fmt.Errorf("analysis: merge: column %d is %q in one profile and %q in the other", i, p.Columns[i].Name, o.Columns[i].Name)
		}
	}
	p.Rows += o.Rows
	p.Invalid += o.Invalid
	for i := range p.Columns {
		p.Columns[i].merge(o.Columns[i])
	}
	if p.Perf != nil && o.Perf != nil {
		p.Perf.merge(o.Perf)
	}
	if o.TimeN > 0 {
		if p.TimeN == 0 {
			p.TimeMin, p.TimeMax = o.TimeMin, o.TimeMax
		} else {
			p.TimeMin = math.Min(p.TimeMin, o.TimeMin)
			p.TimeMax = math.Max(p.TimeMax, o.TimeMax)
		}
		p.TimeN += o.TimeN
	}
	p.DuplicateIDs += o.DuplicateIDs
	// Event ids seen by both (in one process: ids do not travel as JSON)
	// are duplicates too, as if one profiler had seen both streams.
	for k := range o.ids {
		if _, dup := p.ids[k]; dup {
			p.DuplicateIDs++
		} else if len(p.ids) < maxEventIDs {
			if p.ids == nil {
				p.ids = map[uint64]struct{}{}
			}
			p.ids[k] = struct{}{}
		}
	}
	if p.Sample != nil {
		p.Sample.merge(o.Sample)
	}
	return nil
}

// IsExact reports whether every numeric column still holds all its values
// (so drift statistics equal scipy's exactly).
func (p *Profile) IsExact() bool {
	for _, c := range p.Columns {
		if c.Values != nil && !c.Values.IsExact() {
			return false
		}
	}
	if p.Perf != nil && p.Perf.PosScores != nil && (!p.Perf.PosScores.IsExact() || !p.Perf.NegScores.IsExact()) {
		return false
	}
	return true
}

// Column returns the profile of the named column, or nil.
func (p *Profile) Column(name string) *ColumnProfile {
	for _, c := range p.Columns {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Profiler builds a Profile row by row. Memory grows with the number of
// columns (and categories), not with rows: numeric columns switch to a
// quantile sketch after Options.ExactLimit values.
type Profiler struct {
	opts    Options
	p       *Profile
	target  int
	pred    int
	score   int
	timeCol int
	idCol   int
	// idx maps the schema column i to the position in the bound row.
	idx []int
	// profiled lists the columns add profiles (not ignored, ids or times),
	// resolved once per bind rather than per cell.
	profiled []boundColumn
	// lanes[i] holds column i's short decimals not yet added (flush).
	lanes []decimalLane
	// shortPos lists the row positions of the numeric columns whose short
	// decimals a row's shortRow reads (the first shortRowMax); shortU holds
	// what it read.
	shortPos []int32
	shortU   [shortRowMax]uint64
	// shortAll has a bit for each of shortPos; fullM holds what a row's
	// fullRow read (when shortRow did not read every cell).
	shortAll uint64
	fullM    [2 * shortRowMax]uint64
	// arena holds sampled rows; sampleSeed seeds their priorities.
	arena      rowArena
	sampleSeed uint64
}

type boundColumn struct {
	c    *ColumnProfile
	pos  int          // in the bound row; -1 when absent
	lane *decimalLane // numeric columns: their short decimals not yet added
	// short is the column's place in shortPos (shortRowMax: none).
	short int
}

// decimalLane holds a numeric column's latest cells read by shortRow or
// shortMantissa (six-decimal data), in order, until a full lane or a cell
// of another shape adds them to the column in one loop (addShort). The
// conversions to float64, a division each, then overlap, where one at the
// end of every parse waited for the digits and held up the next cells
// (about a sixth of the time of a large window).
type decimalLane struct {
	n int
	u [laneLen]uint64
	// wide: the column had a cell of more than eight digits (shortMantissa).
	wide bool
}

// laneLen is how many cells a lane holds: small enough that the lanes of a
// few dozen columns stay in L1 with the rows.
const laneLen = 128

// flush adds the lane's cells to c.
func (l *decimalLane) flush(c *ColumnProfile) {
	if l.n > 0 {
		c.addShort(l.u[:l.n])
		l.n = 0
	}
}

// NewProfiler returns a profiler for rows laid out as schema.
func NewProfiler(schema *Schema, opts Options) *Profiler {
	opts = opts.withDefaults()
	p := &Profile{Schema: schema}
	for _, sc := range schema.Columns {
		c := &ColumnProfile{Name: sc.Name, Kind: sc.Kind, Role: sc.Role, KindNote: sc.KindNote}
		if sc.Kind == KindNumeric {
			c.Values = newSample(opts.ExactLimit, opts.SketchCap)
		} else {
			c.Categories = map[string]int64{}
		}
		p.Columns = append(p.Columns, c)
	}
	if opts.Task != "" {
		p.Perf = &PerfProfile{Task: opts.Task}
		if opts.Task == TaskBinary {
			p.Perf.PosScores = newSample(opts.ExactLimit, opts.SketchCap)
			p.Perf.NegScores = newSample(opts.ExactLimit, opts.SketchCap)
		}
	}
	if opts.rowSampling() {
		p.Sample = &RowSample{K: opts.RowSample}
	}
	pr := &Profiler{opts: opts, p: p,
		target: schema.index(RoleTarget), pred: schema.index(RolePrediction), score: schema.index(RoleScore),
		timeCol: schema.index(RoleTime), idCol: schema.index(RoleEventID)}
	pr.bind(nil)
	return pr
}

// bind maps the schema's columns onto the columns of a stream (by name);
// nil means the stream has the schema's layout.
func (pr *Profiler) bind(columns []string) {
	pr.flush()
	if pr.lanes == nil {
		pr.lanes = make([]decimalLane, len(pr.p.Columns))
	}
	pr.idx = make([]int, len(pr.p.Columns))
	for i, c := range pr.p.Columns {
		if columns == nil {
			pr.idx[i] = i
		} else {
			pr.idx[i] = slices.Index(columns, c.Name)
		}
	}
	pr.profiled = pr.profiled[:0]
	pr.shortPos = pr.shortPos[:0]
	for i, c := range pr.p.Columns {
		if c.Role != RoleIgnored && c.Role != RoleEventID && c.Role != RoleTime {
			bc := boundColumn{c: c, pos: pr.idx[i], short: shortRowMax}
			if c.Values != nil {
				bc.lane = &pr.lanes[i]
				if bc.pos >= 0 && len(pr.shortPos) < shortRowMax {
					bc.short = len(pr.shortPos)
					pr.shortPos = append(pr.shortPos, int32(bc.pos))
				}
			}
			pr.profiled = append(pr.profiled, bc)
		}
	}
	pr.shortAll = 1<<len(pr.shortPos) - 1 // all ones for 64
}

// AddRows adds every row of rows (matching columns by name; a column absent
// from rows counts as missing) and its invalid-record count.
//
// Rows that can be split (Splitter: a mapped CSV file) and that are large
// enough to be sketched are profiled in parts on every core, merged in
// order.
func (pr *Profiler) AddRows(rows Rows) error {
	if p, ok := rows.(*prefixRows); ok && p.i == -1 {
		// Analyze's reference: the rows read for the schema, then the
		// stream, which may split.
		pr.bind(p.Columns())
		for _, row := range p.buf {
			pr.add(row)
		}
		pr.bind(nil)
		p.i, p.buf = 0, nil
		return pr.AddRows(p.Rows)
	}
	var n int64
	if e, ok := rows.(RowEstimator); ok {
		n = e.EstimatedRows()
	}
	if s, ok := rows.(Splitter); ok && n/2 > int64(pr.opts.ExactLimit) {
		// Only windows that will be sketched: their parts' sketches merge
		// in little memory, where exact parts would be copied into one
		// array of every value (twice the memory; a window small enough to
		// stay exact is quick anyway, and both windows are profiled at once).
		if parts := s.Split(splitPartBytes); len(parts) > 1 && pr.addParts(parts, n) {
			pr.p.Invalid += rows.Invalid() // skipped before the split (a schema sample)
			return nil
		}
	}
	pr.reserve(n)
	if t, ok := rows.(Transient); ok {
		if rest := t.Transient(); rest != nil {
			pr.p.Invalid += rows.Invalid() // skipped before (a schema sample)
			rows = rest
		}
	}
	return pr.addSequential(rows)
}

// reserve sizes the numeric samples for n more rows (see Sample.reserve),
// all in one block of memory (valueBlock).
func (pr *Profiler) reserve(n int64) {
	if n <= 0 {
		return
	}
	var total int64
	for _, c := range pr.p.Columns {
		if c.Values != nil {
			total += c.Values.reserveSize(n)
		}
	}
	block := valueBlock(total)
	for _, c := range pr.p.Columns {
		if c.Values != nil {
			c.Values.reserve(n, &block)
		}
	}
}

// addSequential adds every row of rows, in this goroutine.
func (pr *Profiler) addSequential(rows Rows) error {
	pr.bind(rows.Columns())
	for rows.Next() {
		pr.add(rows.Row())
	}
	pr.p.Invalid += rows.Invalid()
	pr.bind(nil)
	pr.settle()
	return rows.Err()
}

// Add adds one row laid out as the schema.
func (pr *Profiler) Add(row []string) { pr.add(row) }

// Profile returns the profile built so far (not a copy), its moments up
// to date.
func (pr *Profiler) Profile() *Profile {
	pr.settle()
	return pr.p
}

// settle brings the moments of sketched columns up to date, so that the
// exported fields are complete (a profile may travel as JSON).
func (pr *Profiler) settle() {
	pr.flush()
	for _, c := range pr.p.Columns {
		if c.Values != nil && !c.Values.IsExact() {
			c.settle()
		}
	}
}

// flush adds the cells waiting in the lanes to their columns.
func (pr *Profiler) flush() {
	for i := range pr.lanes {
		pr.lanes[i].flush(pr.p.Columns[i])
	}
}

func (pr *Profiler) cell(row []string, i int) string {
	j := pr.idx[i]
	if j < 0 || j >= len(row) {
		return ""
	}
	return row[j]
}

func (pr *Profiler) add(row []string) {
	p := pr.p
	p.Rows++
	short := shortRow(row, pr.shortPos, &pr.shortU)
	var full uint64
	if short != pr.shortAll {
		full = fullRow(row, pr.shortPos, &pr.fullM)
	}
	for _, bc := range pr.profiled {
		c := bc.c
		var s string
		if uint(bc.pos) < uint(len(row)) {
			s = row[bc.pos]
		}
		c.Count++
		if s == "" {
			c.Missing++
			continue
		}
		if c.Values != nil {
			// Plain decimals (the bulk of real data) first: always finite.
			// Six-decimal cells, read with the row's others (shortRow)
			// or one by one, wait in the lane; full-precision ones and
			// the rest are parsed here (parseDecimal's paths, inlined).
			l := bc.lane
			if short>>uint(bc.short)&1 == 1 {
				l.u[l.n] = pr.shortU[bc.short]
				if l.n++; l.n == laneLen {
					l.flush(c)
				}
				continue
			}
			// A cell the row parsers looked at and left is not one
			// shortMantissa or fullDecimal reads either (they read the
			// same cells, the same way): only columns past the first
			// shortRowMax try them.
			rowRead := bc.short < shortRowMax
			if !rowRead {
				if u, ok, wider := shortMantissa(s, l.wide); ok {
					l.wide = l.wide || wider
					l.u[l.n] = u
					if l.n++; l.n == laneLen {
						l.flush(c)
					}
					continue
				}
			}
			l.flush(c) // the values go in in order
			if full>>uint(bc.short)&1 == 1 {
				info := pr.fullM[shortRowMax+bc.short]
				if v, ok := eiselLemire64(pr.fullM[bc.short], -int(info&127), info>>7 != 0); ok {
					c.addNumber(v)
					continue
				}
			}
			var v float64
			ok := false
			if !rowRead {
				v, ok = fullDecimal(s)
			}
			if !ok {
				v, ok = parseAnyDecimal(s)
			}
			if ok {
				c.addNumber(v)
				continue
			}
			v, ok = parseNumber(s)
			switch {
			case !ok:
				c.Mismatch++
			case math.IsNaN(v):
				c.Missing++
			case math.IsInf(v, 0):
				c.NonFinite++
			default:
				c.addNumber(v)
			}
			continue
		}
		if n, ok := c.Categories[s]; ok {
			c.Categories[s] = n + 1
		} else if len(c.Categories) < pr.opts.MaxCategories {
			c.Categories[strings.Clone(s)] = 1
		} else {
			c.Other++
		}
	}
	if pr.timeCol >= 0 {
		if t, ok := parseTime(pr.cell(row, pr.timeCol)); ok {
			if p.TimeN == 0 {
				p.TimeMin, p.TimeMax = t, t
			} else {
				p.TimeMin = math.Min(p.TimeMin, t)
				p.TimeMax = math.Max(p.TimeMax, t)
			}
			p.TimeN++
		}
	}
	if pr.idCol >= 0 {
		if id := pr.cell(row, pr.idCol); id != "" {
			if p.ids == nil {
				p.ids = map[uint64]struct{}{}
			}
			h := fnv.New64a()
			h.Write([]byte(id))
			k := h.Sum64()
			if _, dup := p.ids[k]; dup {
				p.DuplicateIDs++
			} else if len(p.ids) < maxEventIDs {
				p.ids[k] = struct{}{}
			}
		}
	}
	if p.Perf != nil {
		pr.addPerf(row)
	}
	if p.Sample != nil {
		pr.sampleRow(row)
	}
}

// sampleRow offers the row to the row sample, laid out as the schema. Its
// priority is a hash of the row's position in this profile, seeded by a
// hash of the profile's first row (of the columns it does not ignore, so a
// reader that skips ignored columns samples the same rows): a shard's rows
// get independent uniform priorities whatever their content (duplicates
// included), at the cost of one multiply-xorshift per row, and two shards
// starting differently get unrelated sequences.
func (pr *Profiler) sampleRow(row []string) {
	s := pr.p.Sample
	if pr.p.Rows == 1 {
		h := uint64(14695981039346656037)
		for i := range pr.idx {
			if pr.p.Columns[i].Role == RoleIgnored {
				// not read at all when a reader projects columns
				continue
			}
			c := pr.cell(row, i)
			for k := 0; k < len(c); k++ {
				h ^= uint64(c[k])
				h *= 1099511628211
			}
			h ^= 0xff
			h *= 1099511628211
		}
		pr.sampleSeed = h
	}
	key := mix64(pr.sampleSeed + uint64(pr.p.Rows)*0x9e3779b97f4a7c15)
	if s.wants(key) {
		s.add(key, pr.arena.encodeRow(row, pr.idx))
	}
}

// eps64 is numpy.finfo(float64).eps, sklearn's clipping for log_loss and
// its floor for MAPE denominators.
const eps64 = 2.220446049250313e-16

func (pr *Profiler) addPerf(row []string) {
	perf := pr.p.Perf
	t := pr.cell(row, pr.target)
	if pr.target < 0 || t == "" {
		return
	}
	perf.Labeled++
	var predCell string
	if pr.pred >= 0 {
		predCell = pr.cell(row, pr.pred)
	}
	switch perf.Task {
	case TaskRegression:
		y, ok1 := parseNumber(t)
		yh, ok2 := parseNumber(predCell)
		if !ok1 || !ok2 || math.IsNaN(y) || math.IsNaN(yh) || math.IsInf(y, 0) || math.IsInf(yh, 0) {
			perf.PredictionMissing++
			return
		}
		e := yh - y
		perf.AbsErr += math.Abs(e)
		perf.SqErr += e * e
		perf.AbsPctEr += math.Abs(e) / math.Max(math.Abs(y), eps64)
		perf.N++
		d := y - perf.YMean
		perf.YMean += d / float64(perf.N)
		perf.YM2 += d * (y - perf.YMean)
	default:
		tl := normLabel(t)
		var score float64
		scoreOK := false
		if pr.score >= 0 && perf.Task == TaskBinary {
			if v, ok := parseNumber(pr.cell(row, pr.score)); ok {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					perf.ScoreNonFinite++
				} else {
					score, scoreOK = v, true
				}
			}
		}
		var pl string
		switch {
		case predCell != "":
			pl = normLabel(predCell)
		case scoreOK:
			pl = "0"
			if score >= pr.opts.Threshold {
				pl = pr.opts.PositiveLabel
			}
		default:
			perf.PredictionMissing++
			return
		}
		if perf.Confusion == nil {
			perf.Confusion = map[string]map[string]int64{}
		}
		if !perf.admit(tl, pl, pr.opts.MaxClasses) {
			return
		}
		// Keys are cloned once: cells point into the reader's buffers.
		r := perf.Confusion[tl]
		if r == nil {
			r = map[string]int64{}
			perf.Confusion[strings.Clone(tl)] = r
		}
		if _, seen := r[pl]; seen {
			r[pl]++
		} else {
			r[strings.Clone(pl)] = 1
		}
		if scoreOK {
			pos := tl == pr.opts.PositiveLabel
			// sklearn log_loss: clip to [eps, 1-eps], expand to [1-p, p],
			// renormalise the row, −log of the true class's entry.
			pc := math.Min(math.Max(score, eps64), 1-eps64)
			sum := (1 - pc) + pc
			if pos {
				perf.PosScores.Add(score)
				perf.LogLossSum -= math.Log(pc / sum)
			} else {
				perf.NegScores.Add(score)
				perf.LogLossSum -= math.Log((1 - pc) / sum)
			}
		}
	}
}

// admit reports whether a row of true label t and predicted label q fits
// in the confusion matrix without exceeding maxClasses distinct labels, and
// counts it in ClassOverflow when it does not: a continuous target read as
// classes must not grow a matrix as wide as the data.
func (p *PerfProfile) admit(t, q string, maxClasses int) bool {
	if p.labels == nil {
		p.labels = map[string]struct{}{}
		for tl, row := range p.Confusion {
			p.labels[tl] = struct{}{}
			for ql := range row {
				p.labels[ql] = struct{}{}
			}
		}
	}
	_, okT := p.labels[t]
	_, okQ := p.labels[q]
	if okT && okQ {
		return true
	}
	n := len(p.labels)
	if !okT {
		n++
	}
	if !okQ && q != t {
		n++
	}
	if n > maxClasses {
		p.ClassOverflow++
		return false
	}
	if !okT {
		p.labels[strings.Clone(t)] = struct{}{}
	}
	if !okQ {
		p.labels[strings.Clone(q)] = struct{}{}
	}
	return true
}

// parseTime reads RFC 3339 timestamps, "2006-01-02 15:04:05" and Unix epoch
// numbers (seconds, or milliseconds when above 1e11), returning Unix seconds.
func parseTime(s string) (float64, bool) {
	if s == "" {
		return 0, false
	}
	if v, ok := parseNumber(s); ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
		if math.Abs(v) > 1e11 {
			v /= 1000
		}
		return v, true
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return float64(t.UnixNano()) / 1e9, true
		}
	}
	return 0, false
}

// ProfileRows profiles a whole stream with the given schema.
func ProfileRows(rows Rows, schema *Schema, opts Options) (*Profile, error) {
	pr := NewProfiler(schema, opts)
	if err := pr.AddRows(rows); err != nil {
		return nil, err
	}
	return pr.Profile(), nil
}
