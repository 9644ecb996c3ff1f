package format

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"unsafe"

	"github.com/vigilml/vigil/analysis"
)

// SageMakerOptions configure OpenSageMaker. Empty names take the defaults
// shown.
type SageMakerOptions struct {
	// Columns names the fields of headerless CSV inputs, in order (from
	// config source.columns). Without it they are named f0, f1, ...
	Columns []string
	// OutputColumns names the fields of CSV outputs; default: the one field
	// is Prediction, further ones output_1, output_2, ...
	OutputColumns []string
	// Names of the columns the reader adds.
	EventID     string // "event_id"
	InferenceID string // "inference_id"
	Time        string // "time" (eventMetadata.inferenceTime)
	Prediction  string // "prediction"
	Target      string // "label" (ground-truth files)
	// MaxRecordBytes bounds one line (0 = DefaultMaxRecordBytes); longer
	// lines are skipped and counted as invalid.
	MaxRecordBytes int
}

func (o *SageMakerOptions) defaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&o.EventID, "event_id")
	def(&o.InferenceID, "inference_id")
	def(&o.Time, "time")
	def(&o.Prediction, "prediction")
	def(&o.Target, "label")
}

// OpenSageMaker streams SageMaker Model Monitor files: data capture (one JSON
// object per line with captureData.endpointInput/endpointOutput) or ground
// truth (groundTruthData), whichever the first valid line is.
//
// Capture records become rows of event_id, inference_id, time, the input
// fields, then the output fields. Payloads are decoded by encoding (CSV,
// JSON, BASE64) and observedContentType (text/csv, application/json,
// application/jsonlines): a CSV input is split with Columns; a JSON input
// object gives its keys; {"instances": [...]} and multi-line CSV payloads
// are batches, one row per instance, paired with the output's
// {"predictions": [...]} or lines. The input columns are fixed by the first
// valid record; keys that appear only later are dropped.
//
// Ground-truth records become rows of event_id and the label (Target):
// groundTruthData.data decoded the same way (a JSON object contributes its
// Target, "label" or only field).
//
// A line that is not JSON, lacks its payload or whose batch sizes disagree
// is counted as invalid and skipped.
func OpenSageMaker(r io.Reader, o SageMakerOptions) (analysis.Rows, error) {
	o.defaults()
	s := &smRows{opts: o, lines: newLineReader(r, o.MaxRecordBytes)}
	// Read until the first valid record fixes the columns.
	for s.cur == nil && s.scan() {
	}
	if s.err != nil {
		return nil, s.err
	}
	if s.cols == nil {
		s.cols = []string{o.EventID, o.InferenceID, o.Time}
	}
	s.row = make([]string, len(s.cols))
	return s, nil
}

type smPayload struct {
	ObservedContentType string `json:"observedContentType"`
	Mode                string `json:"mode"`
	Data                string `json:"data"`
	Encoding            string `json:"encoding"`
}

type smRecord struct {
	CaptureData *struct {
		EndpointInput  *smPayload `json:"endpointInput"`
		EndpointOutput *smPayload `json:"endpointOutput"`
	} `json:"captureData"`
	GroundTruthData *smPayload `json:"groundTruthData"`
	EventMetadata   struct {
		EventID       string `json:"eventId"`
		InferenceID   string `json:"inferenceId"`
		InferenceTime string `json:"inferenceTime"`
	} `json:"eventMetadata"`
	EventVersion string `json:"eventVersion"`
}

// field is one named (or positional, name "") value of a decoded payload.
type field struct{ name, value string }

type smRows struct {
	opts    SageMakerOptions
	lines   *lineReader
	groundT bool // ground-truth file
	cols    []string
	index   map[string]int
	nIn     int // input columns after the 3 metadata columns
	// cur is the decoded record whose rows Next has not all returned; they
	// are built one at a time into row, so a batch costs its fields, not
	// rows × columns (a wide first record followed by long batches of
	// short lines would otherwise allocate quadratically in the input).
	cur     *smPending
	row     []string
	invalid int64
	err     error
}

func (s *smRows) Columns() []string { return s.cols }
func (s *smRows) Row() []string     { return s.row }
func (s *smRows) Invalid() int64    { return s.invalid }
func (s *smRows) Err() error        { return s.err }

func (s *smRows) Next() bool {
	for s.cur == nil || s.cur.next >= s.cur.rows() {
		s.cur = nil
		if !s.scan() {
			return false
		}
	}
	s.fill(s.row, s.cur, s.cur.next)
	s.cur.next++
	return true
}

// smPending is one decoded record: a ground-truth label, or a capture's
// input (and output) records, one row each.
type smPending struct {
	meta    [3]string // event id, inference id, time
	label   string    // ground truth
	in, out [][]field // capture
	next    int       // the next row to return
}

func (p *smPending) rows() int {
	if p.in == nil {
		return 1
	}
	return len(p.in)
}

// fill writes row i of p into row.
func (s *smRows) fill(row []string, p *smPending, i int) {
	clear(row)
	if p.in == nil {
		row[0], row[1] = p.meta[0], p.label
		return
	}
	row[0], row[1], row[2] = p.meta[0], p.meta[1], p.meta[2]
	if len(p.in) > 1 && row[0] != "" {
		row[0] += "-" + strconv.Itoa(i) // one event, several rows: keep ids unique
	}
	s.place(row, p.in[i], 3, s.opts.Columns, "f")
	if p.out != nil {
		s.placeOutput(row, p.out[i])
	}
}

// scan reads one line and queues its rows; false at the end or on error.
func (s *smRows) scan() bool {
	text, tooLong, err := s.lines.next()
	if err != nil {
		if !errors.Is(err, io.EOF) {
			s.err = fmt.Errorf("sagemaker: %w", err)
		}
		return false
	}
	if tooLong {
		// One oversized record must not fail the file: skipped, counted.
		s.invalid++
		return true
	}
	text = strings.TrimSpace(text)
	if len(text) == 0 {
		return true
	}
	var rec smRecord
	// json.Unmarshal only reads its input: the line's bytes need no copy.
	if err := json.Unmarshal(unsafe.Slice(unsafe.StringData(text), len(text)), &rec); err != nil {
		s.invalid++
		return true
	}
	p, ok := s.decode(&rec)
	if !ok {
		s.invalid++
		return true
	}
	s.cur = p
	return true
}

func (s *smRows) decode(rec *smRecord) (*smPending, bool) {
	switch {
	case rec.GroundTruthData != nil && (s.cols == nil || s.groundT):
		return s.decodeGroundTruth(rec)
	case rec.CaptureData != nil && rec.CaptureData.EndpointInput != nil && (s.cols == nil || !s.groundT):
		return s.decodeCapture(rec)
	}
	return nil, false
}

func (s *smRows) decodeGroundTruth(rec *smRecord) (*smPending, bool) {
	if rec.EventMetadata.EventID == "" {
		return nil, false
	}
	recs, ok := payload(rec.GroundTruthData)
	if !ok || len(recs) != 1 {
		return nil, false
	}
	label, ok := s.labelOf(recs[0])
	if !ok {
		return nil, false
	}
	if s.cols == nil {
		s.groundT = true
		s.cols = []string{s.opts.EventID, s.opts.Target}
	}
	return &smPending{meta: [3]string{rec.EventMetadata.EventID}, label: label}, true
}

func (s *smRows) labelOf(fs []field) (string, bool) {
	if len(fs) == 1 {
		return fs[0].value, true
	}
	for _, want := range []string{s.opts.Target, "label", "target"} {
		for _, f := range fs {
			if f.name == want {
				return f.value, true
			}
		}
	}
	return "", false
}

func (s *smRows) decodeCapture(rec *smRecord) (*smPending, bool) {
	cd := rec.CaptureData
	in, ok := payload(cd.EndpointInput)
	if !ok || len(in) == 0 {
		return nil, false
	}
	var out [][]field
	if cd.EndpointOutput != nil {
		if out, ok = payload(cd.EndpointOutput); !ok {
			return nil, false
		}
		if len(out) != len(in) {
			return nil, false
		}
	}
	if s.cols == nil {
		s.fixColumns(in[0], out)
	}
	m := rec.EventMetadata
	return &smPending{meta: [3]string{m.EventID, m.InferenceID, m.InferenceTime}, in: in, out: out}, true
}

// fixColumns derives the columns from the first valid record.
func (s *smRows) fixColumns(in []field, out [][]field) {
	cols := []string{s.opts.EventID, s.opts.InferenceID, s.opts.Time}
	if in[0].name == "" { // positional (CSV or JSON array)
		n := max(len(in), len(s.opts.Columns))
		for i := 0; i < n; i++ {
			cols = append(cols, positional(s.opts.Columns, "f", i))
		}
	} else {
		for _, f := range in {
			cols = append(cols, f.name)
		}
	}
	s.nIn = len(cols) - 3
	if len(out) > 0 {
		o := out[0]
		if len(o) > 0 && o[0].name == "" {
			for i := range o {
				cols = append(cols, s.outputName(i))
			}
		} else {
			for _, f := range o {
				cols = append(cols, f.name)
			}
		}
	}
	s.cols = cols
	s.index = make(map[string]int, len(cols))
	for i, c := range cols {
		if _, dup := s.index[c]; !dup {
			s.index[c] = i
		}
	}
}

func (s *smRows) outputName(i int) string {
	if i < len(s.opts.OutputColumns) {
		return s.opts.OutputColumns[i]
	}
	if i == 0 {
		return s.opts.Prediction
	}
	return "output_" + strconv.Itoa(i)
}

func positional(names []string, prefix string, i int) string {
	if i < len(names) && names[i] != "" {
		return names[i]
	}
	return prefix + strconv.Itoa(i)
}

// place writes input fields into row: positional ones into the input block,
// named ones by name.
func (s *smRows) place(row []string, fs []field, base int, names []string, prefix string) {
	for i, f := range fs {
		if f.name == "" {
			if i < s.nIn {
				row[base+i] = f.value
			}
			continue
		}
		if j, ok := s.index[f.name]; ok && j >= base && j < base+s.nIn {
			row[j] = f.value
		}
	}
}

func (s *smRows) placeOutput(row []string, fs []field) {
	for i, f := range fs {
		name := f.name
		if name == "" {
			name = s.outputName(i)
		}
		if j, ok := s.index[name]; ok && j >= 3+s.nIn {
			row[j] = f.value
		}
	}
}

// payload decodes one captured payload into records (a batch has several),
// each a list of fields.
func payload(p *smPayload) ([][]field, bool) {
	if p == nil {
		return nil, false
	}
	data := []byte(p.Data)
	enc := strings.ToUpper(p.Encoding)
	if enc == "BASE64" {
		d, err := base64.StdEncoding.DecodeString(p.Data)
		if err != nil {
			return nil, false
		}
		data = d
	}
	kind := contentKind(p.ObservedContentType, enc, data)
	switch kind {
	case "json":
		return jsonPayload(data)
	case "jsonlines":
		var recs [][]field
		for _, line := range bytes.Split(data, []byte("\n")) {
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			r, ok := jsonPayload(line)
			if !ok {
				return nil, false
			}
			recs = append(recs, r...)
		}
		return recs, len(recs) > 0
	default:
		return csvPayload(data)
	}
}

func contentKind(ct, enc string, data []byte) string {
	ct = strings.ToLower(ct)
	switch {
	case strings.Contains(ct, "jsonlines"), strings.Contains(ct, "x-ndjson"):
		return "jsonlines"
	case strings.Contains(ct, "json"):
		return "json"
	case strings.Contains(ct, "csv"):
		return "csv"
	case enc == "JSON":
		return "json"
	case enc == "CSV":
		return "csv"
	}
	if t := bytes.TrimSpace(data); len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		return "json"
	}
	return "csv"
}

func csvPayload(data []byte) ([][]field, bool) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	var recs [][]field
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, false
		}
		fs := make([]field, len(rec))
		for i, v := range rec {
			fs[i] = field{value: strings.TrimSpace(v)}
		}
		recs = append(recs, fs)
	}
	return recs, len(recs) > 0
}

// jsonPayload understands a scalar, an array of scalars (one positional
// record), an object of scalars (named fields), and the batch envelopes
// {"instances": [...]}, {"inputs": [...]}, {"predictions": [...]} and a top
// level array of objects or arrays.
func jsonPayload(data []byte) ([][]field, bool) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, false
	}
	if m, ok := v.(map[string]any); ok {
		for _, k := range []string{"instances", "inputs", "predictions", "outputs"} {
			if arr, ok := m[k].([]any); ok && len(m) <= 2 {
				return batch(arr)
			}
		}
	}
	if arr, ok := v.([]any); ok && len(arr) > 0 {
		switch arr[0].(type) {
		case map[string]any, []any:
			return batch(arr)
		}
	}
	fs, ok := one(v)
	if !ok {
		return nil, false
	}
	return [][]field{fs}, true
}

func batch(arr []any) ([][]field, bool) {
	recs := make([][]field, 0, len(arr))
	for _, e := range arr {
		fs, ok := one(e)
		if !ok {
			return nil, false
		}
		recs = append(recs, fs)
	}
	return recs, len(recs) > 0
}

// one turns a JSON value into the fields of one record.
func one(v any) ([]field, bool) {
	switch t := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fs := make([]field, 0, len(keys))
		for _, k := range keys {
			fs = append(fs, field{name: k, value: scalar(t[k])})
		}
		return fs, len(fs) > 0
	case []any:
		fs := make([]field, len(t))
		for i, e := range t {
			fs[i] = field{value: scalar(e)}
		}
		return fs, len(fs) > 0
	case nil:
		return nil, false
	}
	return []field{{value: scalar(v)}}, true
}

func scalar(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case json.Number:
		return t.String()
	case bool:
		return strconv.FormatBool(t)
	case []any:
		if len(t) == 1 {
			return scalar(t[0]) // [[0.93]] style single-value outputs
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}
