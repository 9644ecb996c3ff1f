package format

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
)

// JSONL reads one JSON object per line, for instance inference records
//
//	{"event_id":"e1","model":"churn","model_version":"3","time":"2026-01-01T00:00:00Z",
//	 "features":{"age":42,"plan":"pro"},"prediction":1,"score":0.83,"latency_ms":12.5}
//
// into columns: the keys of the "features" object become top-level columns
// without prefix, other scalar keys are columns, other nested objects are
// flattened with dots ("meta.region"), arrays are kept as their JSON text,
// null is missing, booleans are "true"/"false" and numbers keep their text. The
// columns are those seen in the first DiscoverRecords records (buffered), in
// order of first appearance; keys first seen later are ignored. Lines that
// are not a JSON object are skipped and counted in Invalid; blank lines are
// ignored.
type JSONL struct {
	r       *lineReader
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
	j := &JSONL{r: newLineReader(r, opts.MaxRecordBytes), index: map[string]int{}}
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
		line, tooLong, err := j.r.next()
		if err != nil {
			return nil, err
		}
		if tooLong {
			j.invalid++
			continue
		}
		line = strings.TrimSpace(line)
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

// flatten parses one JSON object into (column, text) pairs. It is a small
// hand-written scanner: cells are substrings of one string per line (no
// allocation per value unless a string has escapes or a nested key needs
// its prefix), which makes it ~10× faster than encoding/json's tokenizer.
func flatten(line string, out []kv) ([]kv, error) {
	sc := scanner{s: line}
	sc.ws()
	if !sc.eat('{') {
		return nil, errNotObject
	}
	out, err := sc.object("", true, out)
	if err != nil {
		return nil, err
	}
	sc.ws()
	if sc.i != len(sc.s) {
		return nil, errors.New("format: jsonl: trailing data after the object")
	}
	return out, nil
}

type scanner struct {
	s     string
	i     int
	depth int // objects open at the cursor
}

// maxDepth bounds object nesting. Each level's column names carry the
// prefix of the levels above, so without a bound a line of n nested
// objects would allocate O(n²) bytes (a 1 MiB line, tens of gigabytes)
// and recurse n deep.
const maxDepth = 64

var errTooDeep = errors.New("format: jsonl: objects nested deeper than 64 levels")

var errSyntax = errors.New("format: jsonl: malformed JSON")

func (sc *scanner) ws() {
	for sc.i < len(sc.s) {
		switch sc.s[sc.i] {
		case ' ', '\t', '\r', '\n':
			sc.i++
		default:
			return
		}
	}
}

func (sc *scanner) eat(c byte) bool {
	sc.ws()
	if sc.i < len(sc.s) && sc.s[sc.i] == c {
		sc.i++
		return true
	}
	return false
}

// object reads the members of an object whose '{' was consumed.
func (sc *scanner) object(prefix string, top bool, out []kv) ([]kv, error) {
	if sc.depth++; sc.depth > maxDepth {
		return nil, errTooDeep
	}
	defer func() { sc.depth-- }()
	if sc.eat('}') {
		return out, nil
	}
	for {
		sc.ws()
		key, err := sc.str()
		if err != nil {
			return nil, err
		}
		if !sc.eat(':') {
			return nil, errSyntax
		}
		name := key
		if prefix != "" {
			name = prefix + key
		}
		if top && key == "features" {
			name = ""
		}
		sc.ws()
		if sc.i >= len(sc.s) {
			return nil, errSyntax
		}
		switch c := sc.s[sc.i]; {
		case c == '{':
			sc.i++
			p := name + "."
			if name == "" {
				p = ""
			}
			if out, err = sc.object(p, false, out); err != nil {
				return nil, err
			}
		case c == '[':
			start := sc.i
			if err := sc.skipArray(); err != nil {
				return nil, err
			}
			out = append(out, kv{name, sc.s[start:sc.i]})
		case c == '"':
			v, err := sc.str()
			if err != nil {
				return nil, err
			}
			out = append(out, kv{name, v})
		case c == 't' || c == 'f' || c == 'n':
			lit := "null"
			if c == 't' {
				lit = "true"
			} else if c == 'f' {
				lit = "false"
			}
			if !strings.HasPrefix(sc.s[sc.i:], lit) {
				return nil, errSyntax
			}
			sc.i += len(lit)
			if c == 'n' {
				lit = ""
			}
			out = append(out, kv{name, lit})
		case c == '-' || (c >= '0' && c <= '9'):
			start := sc.i
			for sc.i < len(sc.s) {
				d := sc.s[sc.i]
				if (d >= '0' && d <= '9') || d == '-' || d == '+' || d == '.' || d == 'e' || d == 'E' {
					sc.i++
					continue
				}
				break
			}
			out = append(out, kv{name, sc.s[start:sc.i]})
		default:
			return nil, errSyntax
		}
		if sc.eat(',') {
			continue
		}
		if sc.eat('}') {
			return out, nil
		}
		return nil, errSyntax
	}
}

// str reads a string at the cursor; escapes are decoded by encoding/json.
func (sc *scanner) str() (string, error) {
	if sc.i >= len(sc.s) || sc.s[sc.i] != '"' {
		return "", errSyntax
	}
	start := sc.i
	escaped := false
	for j := sc.i + 1; j < len(sc.s); j++ {
		switch sc.s[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			sc.i = j + 1
			if !escaped {
				return sc.s[start+1 : j], nil
			}
			var v string
			if err := json.Unmarshal([]byte(sc.s[start:sc.i]), &v); err != nil {
				return "", err
			}
			return v, nil
		}
	}
	return "", errSyntax
}

// skipArray moves past a balanced array at the cursor.
func (sc *scanner) skipArray() error {
	depth := 0
	for sc.i < len(sc.s) {
		switch sc.s[sc.i] {
		case '[', '{':
			depth++
		case ']', '}':
			depth--
			if depth == 0 {
				sc.i++
				return nil
			}
		case '"':
			if _, err := sc.str(); err != nil {
				return err
			}
			continue
		}
		sc.i++
	}
	return errSyntax
}
