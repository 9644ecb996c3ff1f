package analysis

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Sides of a comparison, as InputError names them.
const (
	SideReference = "reference"
	SideCurrent   = "current"
)

// ErrInvalidInput matches (errors.Is) every InputError: data that cannot be
// analysed as configured. Retrying does not help; the data or the options
// must change.
var ErrInvalidInput = errors.New("invalid input")

// InputError says why one side's data cannot give a trustworthy answer, and
// what to do about it. Callers add the file or URI of the side.
type InputError struct {
	Side   string // SideReference or SideCurrent
	Column string // the column concerned, "" for the data set as a whole
	Msg    string
}

func (e *InputError) Error() string {
	if e.Column != "" {
		return fmt.Sprintf("%s data, column %q: %s", e.Side, e.Column, e.Msg)
	}
	return fmt.Sprintf("%s data: %s", e.Side, e.Msg)
}

// Is makes errors.Is(err, ErrInvalidInput) true.
func (e *InputError) Is(target error) bool { return target == ErrInvalidInput }

// DefaultMaxClasses is the number of distinct labels (true and predicted
// together) a classification task accepts before it reports the target as
// continuous (Options.MaxClasses).
const DefaultMaxClasses = 1000

// checkColumns fails when the current stream cannot be compared with the
// reference: it shares no feature column with it, or lacks a feature the
// options name. Analyze runs it only when the current stream had rows (an
// empty window is no data, not bad data).
func checkColumns(schema *Schema, current []string, opts Options) error {
	for _, f := range opts.Features {
		if !slices.Contains(current, f) {
			return &InputError{Side: SideCurrent, Column: f,
				Msg: fmt.Sprintf("feature named in the options is not in the data (columns: %s)", list(current))}
		}
	}
	var features []string
	shared := 0
	for _, c := range schema.Columns {
		if c.Role != RoleFeature {
			continue
		}
		features = append(features, c.Name)
		if slices.Contains(current, c.Name) {
			shared++
		}
	}
	if len(features) > 0 && shared == 0 {
		return &InputError{Side: SideCurrent, Msg: fmt.Sprintf(
			"shares no feature column with the reference (reference features: %s; current columns: %s): "+
				"check that both sides are read in the right format (-reference-format, -current-format) and name the same columns",
			list(features), list(current))}
	}
	return nil
}

// CheckVerdict fails when a report with current rows has no drift verdict to
// give: no feature could be tested (no feature columns, an empty reference,
// or every feature empty on one side), so "drifted: false" would be a silent
// wrong answer. A report without current rows passes: an empty window is
// "no data", which callers report as such. Callers that promise a drift
// verdict (starter analyze, the monitor) call it; a performance-only use
// (validating a challenger) does not.
func CheckVerdict(rep *Report) error {
	if rep.Rows.Current == 0 {
		return nil
	}
	if rep.Rows.Reference == 0 {
		return &InputError{Side: SideReference, Msg: "has no rows: nothing to compare the current window with"}
	}
	if rep.DatasetDrift.Tested > 0 {
		return nil
	}
	if len(rep.Features) == 0 {
		return &InputError{Side: SideReference, Msg: "has no feature column: every column has a role (target, prediction, score, latency, time, event id) or is not in -features"}
	}
	var empty []string
	for _, f := range rep.Features {
		if f.MissingRatio == 1 {
			empty = append(empty, f.Name)
		}
	}
	if len(empty) == len(rep.Features) {
		return &InputError{Side: SideCurrent, Msg: fmt.Sprintf(
			"every feature is missing in all %d rows (%s): is the file read in the right format?", rep.Rows.Current, list(empty))}
	}
	notes := make([]string, 0, len(rep.Features))
	for _, f := range rep.Features {
		notes = append(notes, f.Name+": "+f.Drift.Note)
	}
	return &InputError{Side: SideReference, Msg: "no feature could be tested for drift (" + strings.Join(notes, "; ") + ")"}
}

// checkClasses fails when a classification profile met more distinct labels
// than the options allow: a continuous target analysed as classes would give
// a confusion matrix as wide as the data.
func checkClasses(side string, p *Profile, opts Options) error {
	if p.Perf == nil || p.Perf.ClassOverflow == 0 {
		return nil
	}
	col := opts.Target
	return &InputError{Side: side, Column: col, Msg: fmt.Sprintf(
		"more than %d distinct labels (true and predicted) for task %q: is the target continuous? use -task regression (config: task: regression)",
		opts.MaxClasses, p.Perf.Task)}
}

// list joins names for messages, at most 20 of them.
func list(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	s := slices.Clone(names)
	sort.Strings(s)
	if len(s) > 20 {
		return strings.Join(s[:20], ", ") + fmt.Sprintf(", … (%d in all)", len(s))
	}
	return strings.Join(s, ", ")
}
