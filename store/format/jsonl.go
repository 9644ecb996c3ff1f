package format

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// JSONL reads one JSON object per line, for instance inference records
//
//	{"event_id":"e1","model":"churn","model_version":"3","time":"2026-01-01T00:00:00Z",
//	 "features":{"age":42,"plan":"pro"},"prediction":1,"score":0.83,"latency_ms":12.5}
//
// into columns: the keys of the "features" object become top-level columns
// without prefix, other scalar keys are columns, other nested objects are
// flattened with dots ("meta.region"), arrays are kept as JSON text, null is
// missing, booleans are "true"/"false" and numbers keep their text. The
// columns are those seen in the first DiscoverRecords records (buffered), in
// order of first appearance; keys first seen later are ignored. Lines that
// are not a JSON object are skipped and counted in Invalid; blank lines are
// ignored.
type JSONL struct {
	r       *bufio.Reader
	columns []string
	index   map[string]int
	row     []string
	pending [][]kv
	invalid int64
	err     error
	cur     []kv
}

type kv struct{ k, v string }

// NewJSONL buffers the first records to discover the columns.
func NewJSONL(r io.Reader, opts Options) (*JSONL, error) {
	j := &JSONL{r: bufio.NewReaderSize(r, 1<<16), index: map[string]int{}}
	n := opts.DiscoverRecords
	if n <= 0 {
		n = 100
	}
	for len(j.pending) < n {
		rec, err := j.read()
		if err != nil {
			if err == io.EOF {
				break
			}
			return nil, err
		}
		for _, f := range rec {
			if _, ok := j.index[f.k]; !ok {
				j.index[f.k] = len(j.columns)
				j.columns = append(j.columns, f.k)
			}
		}
		j.pending = append(j.pending, rec)
	}
	j.row = make([]string, len(j.columns))
	return j, nil
}

// read returns the next valid record's fields, counting invalid lines.
func (j *JSONL) read() ([]kv, error) {
	for {
		line, err := j.r.ReadBytes('\n')
		if len(line) == 0 && err != nil {
			return nil, err
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		rec, perr := flatten(line, j.cur[:0])
		if perr != nil {
			j.invalid++
			continue
		}
		return rec, nil
	}
}

// Columns implements analysis.Rows.
func (j *JSONL) Columns() []string { return j.columns }

// Row implements analysis.Rows.
func (j *JSONL) Row() []string { return j.row }

// Invalid implements analysis.Rows.
func (j *JSONL) Invalid() int64 { return j.invalid }

// Err implements analysis.Rows.
func (j *JSONL) Err() error { return j.err }

// Next implements analysis.Rows.
func (j *JSONL) Next() bool {
	var rec []kv
	if len(j.pending) > 0 {
		rec = j.pending[0]
		j.pending[0] = nil
		j.pending = j.pending[1:]
	} else {
		var err error
		rec, err = j.read()
		if err != nil {
			if err != io.EOF {
				j.err = err
			}
			return false
		}
		j.cur = rec
	}
	for i := range j.row {
		j.row[i] = ""
	}
	for _, f := range rec {
		if i, ok := j.index[f.k]; ok {
			j.row[i] = f.v
		}
	}
	return true
}

var errNotObject = errors.New("format: jsonl: record is not a JSON object")

// flatten parses one JSON object into (column, text) pairs.
func flatten(line []byte, out []kv) ([]kv, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := t.(json.Delim); !ok || d != '{' {
		return nil, errNotObject
	}
	out, err = flattenObject(dec, "", true, out)
	if err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("format: jsonl: trailing data after the object")
	}
	return out, nil
}

// flattenObject reads the members of an object whose '{' was consumed.
func flattenObject(dec *json.Decoder, prefix string, top bool, out []kv) ([]kv, error) {
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := t.(string)
		name := prefix + key
		if top && key == "features" {
			name = ""
		}
		t, err = dec.Token()
		if err != nil {
			return nil, err
		}
		switch v := t.(type) {
		case json.Delim:
			switch v {
			case '{':
				p := name + "."
				if name == "" {
					p = ""
				}
				if out, err = flattenObject(dec, p, false, out); err != nil {
					return nil, err
				}
			case '[':
				raw, err := readArray(dec)
				if err != nil {
					return nil, err
				}
				out = append(out, kv{name, raw})
			}
		case nil:
			out = append(out, kv{name, ""})
		case bool:
			out = append(out, kv{name, strconv.FormatBool(v)})
		case json.Number:
			out = append(out, kv{name, string(v)})
		case string:
			out = append(out, kv{name, v})
		}
	}
	if _, err := dec.Token(); err != nil { // '}'
		return nil, err
	}
	return out, nil
}

// readArray re-encodes an array whose '[' was consumed as compact JSON.
func readArray(dec *json.Decoder) (string, error) {
	var vals []any
	for dec.More() {
		var v any
		if err := dec.Decode(&v); err != nil {
			return "", err
		}
		vals = append(vals, v)
	}
	if _, err := dec.Token(); err != nil {
		return "", err
	}
	b, err := json.Marshal(vals)
	if err != nil {
		return "", fmt.Errorf("format: jsonl: array: %w", err)
	}
	return string(b), nil
}
