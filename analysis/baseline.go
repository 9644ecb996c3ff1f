package analysis

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// Baseline is the reference's statistics plus constraints a current window
// must satisfy, in the spirit of SageMaker Model Monitor's
// statistics.json/constraints.json. It is plain JSON meant to be edited by
// people: loosen a range, add an allowed category, change a threshold.
type Baseline struct {
	Version  int               `json:"version"`
	Rows     int64             `json:"rows"`
	Features []BaselineFeature `json:"features"`
}

// BaselineFeature is one column's statistics and constraints.
type BaselineFeature struct {
	Name        string             `json:"name"`
	Statistics  FeatureStatistics  `json:"statistics"`
	Constraints FeatureConstraints `json:"constraints"`
}

// FeatureStatistics describes a column of the reference.
type FeatureStatistics struct {
	Kind    string `json:"kind"`
	Count   int64  `json:"count"`
	Missing int64  `json:"missing"`
	// Numeric columns.
	Mean      *float64           `json:"mean,omitempty"`
	Std       *float64           `json:"std,omitempty"`
	Min       *float64           `json:"min,omitempty"`
	Max       *float64           `json:"max,omitempty"`
	Quantiles map[string]float64 `json:"quantiles,omitempty"`
	// Categorical columns: counts of the (up to 100) most frequent categories
	// and the number of distinct ones.
	TopCategories map[string]int64 `json:"top_categories,omitempty"`
	Distinct      int              `json:"distinct,omitempty"`
}

// FeatureConstraints are checked against each current window. A zero or
// absent field is not checked.
type FeatureConstraints struct {
	// Kind: a numeric column must hold numbers (no type mismatches).
	Kind string `json:"kind"`
	// Completeness is the least share of non-missing values.
	Completeness float64 `json:"completeness"`
	// Min and Max bound numeric values.
	Min *float64 `json:"min,omitempty"`
	Max *float64 `json:"max,omitempty"`
	// AllowedCategories lists the categories a categorical column may take
	// (nil: not checked).
	AllowedCategories []string `json:"allowed_categories,omitempty"`
	// DriftMethod and DriftThreshold: the feature's drift statistic under this
	// method must stay below the threshold (p-value above it for ks and
	// chisquare). Checked when the analysis used the same method.
	DriftMethod    string  `json:"drift_method,omitempty"`
	DriftThreshold float64 `json:"drift_threshold,omitempty"`
}

// Violation is one broken constraint.
type Violation struct {
	Feature    string `json:"feature"`
	Constraint string `json:"constraint"` // kind|completeness|range|categories|drift
	// Value is what was observed and Limit the bound it broke.
	Value       float64 `json:"value"`
	Limit       float64 `json:"limit"`
	Description string  `json:"description"`
}

// maxAllowedCategories is the number of distinct categories above which no
// allowed-category constraint is suggested (ids, free text).
const maxAllowedCategories = 100

// BuildBaseline profiles the reference and suggests constraints: its kind,
// completeness (the reference's own, rounded down to 0.01), the observed
// numeric range, the observed categories (when at most 100) and the drift
// method and threshold of opts.
func BuildBaseline(rows Rows, opts Options) (*Baseline, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	schema, ref, err := sampleSchema(rows, opts)
	if err != nil {
		return nil, err
	}
	p, err := ProfileRows(ref, schema, opts)
	if err != nil {
		return nil, err
	}
	return BaselineFromProfile(p, opts), nil
}

// BaselineFromProfile suggests a baseline from a reference profile.
func BaselineFromProfile(p *Profile, opts Options) *Baseline {
	opts = opts.withDefaults()
	b := &Baseline{Version: 1, Rows: p.Rows}
	for _, c := range p.Columns {
		if c.Role != RoleFeature {
			continue
		}
		f := BaselineFeature{Name: c.Name}
		st := &f.Statistics
		st.Kind, st.Count, st.Missing = c.Kind, c.Count, c.Missing
		cons := &f.Constraints
		cons.Kind = c.Kind
		if c.Count > 0 {
			cons.Completeness = math.Floor(100*float64(c.Count-c.Missing)/float64(c.Count)) / 100
		}
		if c.Kind == KindNumeric && c.N() > 0 {
			std := c.Std()
			mean, lo, hi := c.Mean, c.Min, c.Max
			st.Mean, st.Std, st.Min, st.Max = &mean, &std, &lo, &hi
			v, w := c.Values.Sorted()
			st.Quantiles = map[string]float64{}
			for _, q := range []float64{0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99} {
				st.Quantiles[fmt.Sprintf("p%02.0f", q*100)] = quantileWeighted(v, w, q)
			}
			cons.Min, cons.Max = &lo, &hi
		}
		if c.Kind == KindCategorical {
			st.Distinct = len(c.Categories)
			type kv struct {
				k string
				n int64
			}
			var all []kv
			for k, n := range c.Categories {
				all = append(all, kv{k, n})
			}
			sort.Slice(all, func(i, j int) bool { return all[i].n > all[j].n || all[i].n == all[j].n && all[i].k < all[j].k })
			st.TopCategories = map[string]int64{}
			for i, x := range all {
				if i == maxAllowedCategories {
					break
				}
				st.TopCategories[x.k] = x.n
			}
			if len(all) <= maxAllowedCategories && c.Other == 0 {
				for _, x := range all {
					cons.AllowedCategories = append(cons.AllowedCategories, x.k)
				}
				sort.Strings(cons.AllowedCategories)
			}
		}
		method := opts.DriftMethod
		if method == MethodAuto {
			// what auto will choose for this reference size
			small := c.Count-c.Missing <= int64(opts.AutoSmallN)
			switch {
			case c.Kind == KindNumeric && small:
				method = MethodKS
			case c.Kind == KindNumeric:
				method = MethodWasserstein
			case small:
				method = MethodChiSquare
			default:
				method = MethodJensenShannon
			}
		}
		cons.DriftMethod = method
		cons.DriftThreshold = threshold(method, opts, opts.DriftMethod == MethodAuto)
		b.Features = append(b.Features, f)
	}
	return b
}

// Check returns the constraints the current window breaks, given its report
// and profile (cur may be nil: then range and category constraints are
// checked from the report only where possible).
func (b *Baseline) Check(rep *Report, cur *Profile) []Violation {
	var out []Violation
	for _, f := range b.Features {
		var fr *FeatureReport
		for i := range rep.Features {
			if rep.Features[i].Name == f.Name {
				fr = &rep.Features[i]
			}
		}
		var col *ColumnProfile
		if cur != nil {
			col = cur.Column(f.Name)
		}
		if fr == nil && col == nil {
			out = append(out, Violation{Feature: f.Name, Constraint: "completeness", Value: 0, Limit: f.Constraints.Completeness,
				Description: fmt.Sprintf("column %q is missing from the current window", f.Name)})
			continue
		}
		c := f.Constraints
		if col != nil {
			if c.Kind != "" && c.Kind != col.Kind {
				out = append(out, Violation{Feature: f.Name, Constraint: "kind",
					Description: fmt.Sprintf("column is %s, baseline expects %s", col.Kind, c.Kind)})
			} else if c.Kind == KindNumeric && col.Mismatch > 0 {
				out = append(out, Violation{Feature: f.Name, Constraint: "kind", Value: float64(col.Mismatch),
					Description: fmt.Sprintf("%d non-numeric values in a numeric column", col.Mismatch)})
			}
			if col.Count > 0 {
				comp := 1 - float64(col.Missing)/float64(col.Count)
				if comp < c.Completeness {
					out = append(out, Violation{Feature: f.Name, Constraint: "completeness", Value: comp, Limit: c.Completeness,
						Description: fmt.Sprintf("%.4f of values present, baseline requires %.4f", comp, c.Completeness)})
				}
			}
			if col.N() > 0 && c.Min != nil && col.Min < *c.Min {
				out = append(out, Violation{Feature: f.Name, Constraint: "range", Value: col.Min, Limit: *c.Min,
					Description: fmt.Sprintf("minimum %g is below %g", col.Min, *c.Min)})
			}
			if col.N() > 0 && c.Max != nil && col.Max > *c.Max {
				out = append(out, Violation{Feature: f.Name, Constraint: "range", Value: col.Max, Limit: *c.Max,
					Description: fmt.Sprintf("maximum %g is above %g", col.Max, *c.Max)})
			}
			if c.AllowedCategories != nil && col.Kind == KindCategorical {
				var bad []string
				var n int64
				for k, cnt := range col.Categories {
					if !slices.Contains(c.AllowedCategories, k) {
						bad = append(bad, k)
						n += cnt
					}
				}
				n += col.Other
				if n > 0 {
					sort.Strings(bad)
					if len(bad) > 5 {
						bad = append(bad[:5], "…")
					}
					out = append(out, Violation{Feature: f.Name, Constraint: "categories", Value: float64(n),
						Description: fmt.Sprintf("%d values in categories outside the allowed list: %s", n, strings.Join(bad, ", "))})
				}
			}
		}
		if fr != nil && c.DriftMethod != "" && fr.Drift.Method == c.DriftMethod && fr.Drift.Note == "" {
			d := fr.Drift
			if isPValueMethod(c.DriftMethod) {
				if d.PValue != nil && *d.PValue < c.DriftThreshold {
					out = append(out, Violation{Feature: f.Name, Constraint: "drift", Value: *d.PValue, Limit: c.DriftThreshold,
						Description: fmt.Sprintf("%s p-value %.3g is below %g", d.Method, *d.PValue, c.DriftThreshold)})
				}
			} else if limit := c.DriftThreshold; d.Statistic >= limit && !(d.ThresholdSource == ThresholdCalibrated && d.Statistic < d.Threshold) {
				// The constraint is a floor: a window too small for it to
				// mean drift is held to its calibrated threshold instead.
				if d.ThresholdSource == ThresholdCalibrated {
					limit = max(limit, d.Threshold)
				}
				out = append(out, Violation{Feature: f.Name, Constraint: "drift", Value: d.Statistic, Limit: limit,
					Description: fmt.Sprintf("%s %.4g is at or above %g", d.Method, d.Statistic, limit)})
			}
		}
	}
	return out
}
