package store

import (
	"context"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/vigilml/vigil/analysis"
	"github.com/vigilml/vigil/config"
)

// WindowInfo describes what a window read. Its counters are final once the
// window's rows have been consumed (Next returned false).
type WindowInfo struct {
	From, To time.Time
	// Objects and Bytes count the prediction objects read (Bytes as stored,
	// so compressed objects count their compressed size).
	Objects int
	Bytes   int64
	// Rows is the number of prediction rows in the window; Labeled how many
	// of them have a target (in the record or joined from ground truth);
	// Invalid the malformed records skipped.
	Rows, Labeled, Invalid int64
	// LabelObjects and Labels count the ground-truth objects read and the
	// labels kept for this window's events.
	LabelObjects int
	Labels       int
	// LabelsFrom/LabelsTo is the range of ground-truth partitions read.
	LabelsFrom, LabelsTo time.Time
	// Incomplete is set when an object could not be read after retries (the
	// SDK's per request, and three reads per object, resuming after the rows
	// already delivered): the window is a partial view. Errors says which
	// objects and why (at most 20).
	Incomplete bool
	Errors     []string
	// ShadowRows counts the shadow variant's records read (SageMaker
	// source.shadow_variant) and ShadowPaired the served rows they were
	// paired with.
	ShadowRows, ShadowPaired int64
}

func (w *WindowInfo) fail(uri string, err error) {
	w.Incomplete = true
	if len(w.Errors) < 20 {
		w.Errors = append(w.Errors, fmt.Sprintf("%s: %v", uri, err))
	}
}

// readSpec says how to decode a source's objects.
type readSpec struct {
	format  string         // csv | jsonl | parquet | sagemaker; "" = from the key's extension
	columns []string       // names of headerless CSV payload fields
	names   config.Columns // special columns (event id, time, target, prediction)
	// SageMaker capture: the source URI, variant → model version, and the
	// shadow variant (variants.go).
	uri           string
	variants      map[string]string
	shadowVariant string
	// keep selects the columns a Parquet object's rows are read with (nil:
	// all); see modelColumns.
	keep func(column string) bool
}

// modelColumns says which columns of its records a model's evaluation and
// training read: its features (and forced categoricals), its special
// columns (target, prediction, score, latency, time, event id, class
// scores, and the default event_id and time), the serving version
// (model_version), the SageMaker inference id and shadow versions' outputs
// (shadow.*). A model that does not list its features uses every column:
// nil. Parquet objects are read with only these columns (column
// projection); the other formats are read whole.
func modelColumns(m *config.Model) func(column string) bool {
	if len(m.Features) == 0 {
		return nil
	}
	c := m.Columns
	need := map[string]bool{defaultNames.EventID: true, defaultNames.Time: true, VersionColumn: true, analysis.InferenceIDColumn: true}
	for _, names := range [][]string{m.Features, m.Categorical, {c.Target, c.Prediction, c.Score, c.Latency, c.Time, c.EventID}} {
		for _, n := range names {
			need[n] = true
		}
	}
	for _, n := range c.ClassScores {
		need[n] = true
	}
	return func(column string) bool { return need[column] || strings.HasPrefix(column, "shadow.") }
}

func specOf(src config.Source, names config.Columns) readSpec {
	return readSpec{format: src.Format, columns: src.Columns, names: names,
		uri: src.URI, variants: src.Variants, shadowVariant: src.ShadowVariant}
}

// OpenWindow streams the prediction records of model m whose hour partition
// overlaps [from, to) and whose time column (columns.time, when the records
// have it) is in [from, to). When the model has a target column and a
// ground_truth source, the target is filled in from the ground truth by
// event id (columns.event_id), so a re-evaluation sees labels that arrived
// since the last one.
//
// Ground truth for a window may land in later partitions than its
// predictions: labels are read from the partitions in
// [from, min(to + lookahead, now)) (lookahead DefaultLabelLookahead).
//
// Memory: the join makes one extra pass over the window's predictions that
// only reads event ids into a Bloom filter (about 10 bits per prediction
// row, sized from the window's bytes), then reads the ground truth keeping
// only labels whose id may belong to the window; the label map is therefore
// proportional to the labeled events of the window (plus ~1% false
// positives), not to the whole lookahead. Rows are then streamed.
//
// Listing errors are returned at once; IsPermanent tells credentials and
// missing buckets from transient failures. Objects that cannot be read are
// skipped, recorded in the WindowInfo (Incomplete, Errors) and make the
// rows' Err return ErrIncomplete at the end of the stream, so a partial
// window is never evaluated silently. The rows implement io.Closer: close
// them when stopping before the end.
//
// The window's columns are those of its first object; a column that only
// later objects have (the shadow outputs of a version that began scoring
// mid-window) is read only when the caller names it in columns: rows then
// have it, empty where an object lacks it.
func (s *Store) OpenWindow(ctx context.Context, m *config.Model, from, to time.Time, columns ...string) (analysis.Rows, *WindowInfo, error) {
	be, objs, err := s.listWindow(ctx, m, from, to)
	if err != nil {
		return nil, nil, err
	}
	return s.openObjects(ctx, be, m, from, to, objs, columns)
}

// WindowObject is one prediction object of a window's listing.
type WindowObject struct {
	Key  string `json:"key"` // relative to the model's source URI
	Size int64  `json:"size"`
}

// ListWindow lists, in key order, the prediction objects OpenWindow would
// read for the window, so that a window can be profiled in shards of whole
// objects (OpenWindowObjects). A source with a shadow variant cannot be
// sharded (its records pair with the served ones across objects): it is an
// error here.
func (s *Store) ListWindow(ctx context.Context, m *config.Model, from, to time.Time) ([]WindowObject, error) {
	if m.Source.ShadowVariant != "" {
		return nil, permanentf("model %s: a source with a shadow variant is read whole, not in shards", m.Name)
	}
	_, objs, err := s.listWindow(ctx, m, from, to)
	if err != nil {
		return nil, err
	}
	out := make([]WindowObject, len(objs))
	for i, o := range objs {
		out[i] = WindowObject{Key: o.Key, Size: o.Size}
	}
	return out, nil
}

// OpenWindowObjects is OpenWindow over objs, part of the window's listing
// (ListWindow), in that order: the rows of those objects whose time is in
// [from, to), with labels joined from the ground truth by event id. An
// object listed but gone since is an unreadable object (Incomplete).
func (s *Store) OpenWindowObjects(ctx context.Context, m *config.Model, from, to time.Time, objs []WindowObject) (analysis.Rows, *WindowInfo, error) {
	if m.Source.ShadowVariant != "" {
		return nil, nil, permanentf("model %s: a source with a shadow variant is read whole, not in shards", m.Name)
	}
	loc, err := parseURI(m.Source.URI)
	if err != nil {
		return nil, nil, fmt.Errorf("model %s: source: %w", m.Name, err)
	}
	be, err := s.backend(ctx, loc)
	if err != nil {
		return nil, nil, err
	}
	list := make([]object, len(objs))
	for i, o := range objs {
		list[i] = object{Key: o.Key, Size: o.Size}
	}
	return s.openObjects(ctx, be, m, from, to, list, nil)
}

// listWindow lists the objects of a window (served and shadow variants).
func (s *Store) listWindow(ctx context.Context, m *config.Model, from, to time.Time) (backend, []object, error) {
	loc, err := parseURI(m.Source.URI)
	if err != nil {
		return nil, nil, fmt.Errorf("model %s: source: %w", m.Name, err)
	}
	be, err := s.backend(ctx, loc)
	if err != nil {
		return nil, nil, err
	}
	roots := []string{""}
	if m.Source.Format == "sagemaker" {
		if roots, err = captureRoots(ctx, be); err != nil {
			return nil, nil, fmt.Errorf("model %s: %w", m.Name, err)
		}
	}
	objs, err := listHoursUnder(ctx, be, roots, from, to)
	if err != nil {
		return nil, nil, fmt.Errorf("model %s: %w", m.Name, err)
	}
	return be, objs, nil
}

// openObjects reads the listed objects of a window as OpenWindow describes.
func (s *Store) openObjects(ctx context.Context, be backend, m *config.Model, from, to time.Time, objs []object, columns []string) (analysis.Rows, *WindowInfo, error) {
	info := &WindowInfo{From: from, To: to}
	var err error
	spec := specOf(m.Source, m.Columns)
	spec.keep = modelColumns(m)
	objs, shadowObjs := splitShadow(objs, spec)
	open := func(info *WindowInfo) *objectRows {
		r := newObjectRows(ctx, be, objs, spec, info)
		if i, ok := r.index[m.Columns.Time]; ok && m.Columns.Time != "" {
			r.timeIdx, r.from, r.to = i, from, to
		}
		return r
	}

	var labels map[string]string
	if m.Columns.Target != "" && m.GroundTruth.URI != "" && len(objs) > 0 {
		labels, err = s.readLabels(ctx, m, objs, open, from, to, info)
		if err != nil {
			return nil, nil, err
		}
	}
	rows := open(info)
	if rows.err != nil {
		return nil, nil, rows.err
	}
	if rows.cur != nil {
		for _, c := range columns {
			rows.addColumn(c)
		}
	}
	j := &windowRows{objectRows: rows, info: info, labels: labels, target: -1, key: joinKey(rows, m.Columns.EventID)}
	if m.Columns.Target != "" {
		j.target = rows.addColumn(m.Columns.Target)
	}
	if spec.shadowVariant != "" {
		sh, err := readShadow(ctx, be, shadowObjs, spec, m, info)
		if err != nil {
			rows.Close()
			return nil, nil, err
		}
		version := spec.versionOf(spec.shadowVariant)
		sh.predCol = rows.addColumn(ShadowColumn(version, "prediction"))
		sh.scoreCol = rows.addColumn(ShadowColumn(version, "score"))
		sh.key = j.key
		j.shadow = sh
		info.ShadowRows = sh.shadowRows
	}
	return j, info, nil
}

// readLabels does the two passes described on OpenWindow.
func (s *Store) readLabels(ctx context.Context, m *config.Model, objs []object, open func(*WindowInfo) *objectRows, from, to time.Time, info *WindowInfo) (map[string]string, error) {
	gtLoc, err := parseURI(m.GroundTruth.URI)
	if err != nil {
		return nil, fmt.Errorf("model %s: ground_truth: %w", m.Name, err)
	}
	gtBe, err := s.backend(ctx, gtLoc)
	if err != nil {
		return nil, err
	}
	lookahead := s.lookahead
	if m.GroundTruth.Lookahead > 0 {
		lookahead = time.Duration(m.GroundTruth.Lookahead)
	}
	end := to.Add(lookahead)
	if now := s.now(); end.After(now) {
		end = now
	}
	if end.Before(to) {
		end = to
	}
	info.LabelsFrom, info.LabelsTo = from, end
	gtObjs, err := listHours(ctx, gtBe, from, end)
	if err != nil {
		return nil, fmt.Errorf("model %s: ground truth: %w", m.Name, err)
	}
	if len(gtObjs) == 0 {
		return nil, nil
	}

	// Pass 1: the window's event ids into a Bloom filter.
	var size int64
	for _, o := range objs {
		size += o.Size
	}
	ids := newBloom(size / 16) // generous: rows are rarely under 16 bytes
	scratch := &WindowInfo{}
	pr := open(scratch)
	key := joinKey(pr, m.Columns.EventID)
	if key == nil {
		pr.Close()
		s.log.Warn("predictions have no event id column; ground truth cannot be joined", "model", m.Name, "column", m.Columns.EventID)
		return nil, nil
	}
	for pr.Next() {
		if id := key(pr.Row()); id != "" {
			ids.add(id)
		}
	}
	pr.Close()
	if pr.err != nil {
		return nil, pr.err
	}

	// Pass 2: labels whose id may be in the window.
	gspec := specOf(m.GroundTruth, m.Columns)
	gspec.columns = nil
	gi := &WindowInfo{}
	gr := newObjectRows(ctx, gtBe, gtObjs, gspec, gi)
	defer gr.Close()
	if gr.err != nil {
		return nil, gr.err
	}
	gid, okID := gr.index[m.Columns.EventID]
	gl := -1
	for _, name := range []string{m.Columns.Target, "label", "target"} {
		if i, ok := gr.index[name]; ok {
			gl = i
			break
		}
	}
	labels := map[string]string{}
	if !okID || gl < 0 {
		if len(gr.cols) > 0 {
			info.fail(gtBe.uri(""), fmt.Errorf("ground truth has no %q and %q columns (has %s)", m.Columns.EventID, m.Columns.Target, strings.Join(gr.cols, ", ")))
		}
	} else {
		for gr.Next() {
			row := gr.Row()
			id, label := row[gid], row[gl]
			if id != "" && label != "" && ids.has(id) {
				labels[strings.Clone(id)] = strings.Clone(label) // latest wins
			}
		}
	}
	if gr.err != nil {
		return nil, gr.err
	}
	info.LabelObjects = gi.Objects
	info.Labels = len(labels)
	if gi.Incomplete {
		info.Incomplete = true
		info.Errors = append(info.Errors, gi.Errors...)
	}
	return labels, nil
}

// joinKey returns the function that gives a prediction row's ground-truth
// key, nil when the rows have no event id. SageMaker merges ground truth on
// the caller's inferenceId when a capture record has one and on its eventId
// otherwise (AWS, "Ingest Ground Truth labels and merge them with
// predictions"); the capture reader's inference_id column carries it.
func joinKey(r *objectRows, eventID string) func(row []string) string {
	id, okID := r.index[eventID]
	inf, okInf := r.index[analysis.InferenceIDColumn]
	switch {
	case okInf && okID:
		return func(row []string) string {
			if k := row[inf]; k != "" {
				return k
			}
			return row[id]
		}
	case okID:
		return func(row []string) string { return row[id] }
	}
	return nil
}

// windowRows fills the target column from the label map and keeps the
// window's counters.
type windowRows struct {
	*objectRows
	info   *WindowInfo
	labels map[string]string
	target int
	key    func(row []string) string // nil: no event id
	shadow *shadowJoin               // nil: no shadow variant
}

func (w *windowRows) Next() bool {
	if !w.objectRows.Next() {
		w.info.Invalid = w.objectRows.Invalid()
		return false
	}
	row := w.objectRows.row
	if w.shadow != nil {
		w.shadow.fill(row)
		w.info.ShadowPaired = w.shadow.paired
	}
	if w.target >= 0 {
		if row[w.target] == "" && w.key != nil && w.labels != nil {
			row[w.target] = w.labels[w.key(row)]
		}
		if row[w.target] != "" {
			w.info.Labeled++
		}
	}
	w.info.Rows++
	return true
}

// bloom is a fixed-size Bloom filter over strings (k = 7, ~1% false
// positives at 10 bits per element).
type bloom struct {
	bits []uint64
	seed maphash.Seed
}

func newBloom(n int64) *bloom {
	if n < 1024 {
		n = 1024
	}
	words := (n*10 + 63) / 64
	return &bloom{bits: make([]uint64, words), seed: maphash.MakeSeed()}
}

func (b *bloom) positions(s string, fn func(uint64) bool) bool {
	h := maphash.String(b.seed, s)
	h1, h2 := h&0xffffffff, h>>32|1
	m := uint64(len(b.bits) * 64)
	for i := uint64(0); i < 7; i++ {
		if !fn((h1 + i*h2) % m) {
			return false
		}
	}
	return true
}

func (b *bloom) add(s string) {
	b.positions(s, func(p uint64) bool { b.bits[p/64] |= 1 << (p % 64); return true })
}

func (b *bloom) has(s string) bool {
	return b.positions(s, func(p uint64) bool { return b.bits[p/64]&(1<<(p%64)) != 0 })
}

// OpenReference streams a reference data set: a single object, or every
// object under a directory or prefix (any layout), in key order.
func (s *Store) OpenReference(ctx context.Context, src config.Source) (analysis.Rows, io.Closer, error) {
	return s.openAll(ctx, src.URI, readSpec{format: src.Format, columns: src.Columns, names: defaultNames})
}

// OpenModelReference is OpenReference of model m's reference, reading from
// Parquet objects only the columns m uses (modelColumns), as OpenWindow
// does.
func (s *Store) OpenModelReference(ctx context.Context, m *config.Model) (analysis.Rows, io.Closer, error) {
	src := m.Reference
	return s.openAll(ctx, src.URI, readSpec{format: src.Format, columns: src.Columns, names: defaultNames, keep: modelColumns(m)})
}

// ReadOptions tune OpenURI.
type ReadOptions struct {
	// Columns names the fields of headerless CSV payloads (SageMaker capture).
	Columns []string
	// Names of the special columns the SageMaker reader produces; empty
	// fields take the config defaults (event_id, time, label, prediction).
	Names config.Columns
}

// OpenURI streams a file or prefix named by a local path, a file:// or an
// s3:// URI, for `starter analyze`. format "" guesses from each object's
// extension (jsonl for unknown ones).
func (s *Store) OpenURI(ctx context.Context, uri, format string, opts ReadOptions) (analysis.Rows, io.Closer, error) {
	names := opts.Names
	if names.EventID == "" {
		names.EventID = defaultNames.EventID
	}
	if names.Time == "" {
		names.Time = defaultNames.Time
	}
	return s.openAll(ctx, uri, readSpec{format: format, columns: opts.Columns, names: names})
}

var defaultNames = config.Columns{EventID: "event_id", Time: "time"}

func (s *Store) openAll(ctx context.Context, uri string, spec readSpec) (analysis.Rows, io.Closer, error) {
	loc, err := parseURI(uri)
	if err != nil {
		return nil, nil, err
	}
	var be backend
	var objs []object
	switch loc.scheme {
	case "file":
		st, err := os.Stat(loc.path)
		if err != nil {
			return nil, nil, fmt.Errorf("open %s: %w", uri, err)
		}
		if st.IsDir() {
			be = localBackend{root: loc.path}
			err = be.list(ctx, "", func(o object) error { objs = append(objs, o); return nil })
		} else {
			be = localBackend{root: filepath.Dir(loc.path)}
			objs = []object{{Key: filepath.Base(loc.path), Size: st.Size(), ModTime: st.ModTime()}}
		}
		if err != nil {
			return nil, nil, err
		}
	case "s3":
		c, err := s.s3client(ctx)
		if err != nil {
			return nil, nil, err
		}
		be = &s3Backend{client: c, bucket: loc.bucket}
		err = be.list(ctx, loc.path, func(o object) error {
			if loc.path == "" || o.Key == loc.path || strings.HasPrefix(o.Key, strings.TrimSuffix(loc.path, "/")+"/") {
				if !strings.HasPrefix(path.Base(o.Key), ".") {
					objs = append(objs, o)
				}
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	if len(objs) == 0 {
		return nil, nil, fmt.Errorf("open %s: no objects found: %w", uri, ErrNotFound)
	}
	info := &WindowInfo{}
	r := newObjectRows(ctx, be, objs, spec, info)
	if r.err != nil {
		return nil, nil, r.err
	}
	if r.cur == nil && info.Incomplete {
		return nil, nil, fmt.Errorf("open %s: %s", uri, strings.Join(info.Errors, "; "))
	}
	return r, r, nil
}
