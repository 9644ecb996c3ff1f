package config

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// The decoder walks the YAML syntax tree itself instead of using yaml.Unmarshal
// so that it can report every problem at once, each with its line and field
// path, and remember where each field was written for the validation that
// follows (see Errors.at).

// Error is one problem in a config file.
type Error struct {
	File string
	Line int    // 0 when the field is absent from the file
	Path string // field path, e.g. models[0].rules[1].below
	Msg  string
}

func (e Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Path == "" {
		return loc + ": " + e.Msg
	}
	return fmt.Sprintf("%s: %s: %s", loc, e.Path, e.Msg)
}

// Errors is every problem found in one config file, in file order.
type Errors []Error

func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// decoder collects errors and the line of every field path it has seen.
type decoder struct {
	file  string
	lines map[string]int
	errs  Errors
}

func (d *decoder) errorf(line int, path, format string, args ...any) {
	d.errs = append(d.errs, Error{File: d.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// at reports a problem found after decoding, at the line where path (or its
// nearest written parent) stands in the file.
func (d *decoder) at(path, format string, args ...any) {
	d.errorf(d.lineOf(path), path, format, args...)
}

func (d *decoder) lineOf(path string) int {
	for p := path; p != ""; {
		if l, ok := d.lines[p]; ok {
			return l
		}
		i := strings.LastIndexAny(p, ".[")
		if i <= 0 {
			break
		}
		p = p[:i]
	}
	return 0
}

// decodeYAML parses src into out (a pointer to a struct with yaml tags).
func (d *decoder) decodeYAML(src []byte, out any) {
	f, err := parser.ParseBytes(src, 0)
	if err != nil {
		var se *yaml.SyntaxError
		if errors.As(err, &se) && se.Token != nil {
			d.errorf(se.Token.Position.Line, "", "not valid YAML: %s", se.Message)
			return
		}
		d.errorf(0, "", "not valid YAML: %v", err)
		return
	}
	if len(f.Docs) == 0 || f.Docs[0].Body == nil {
		return
	}
	if len(f.Docs) > 1 {
		d.errorf(lineOfNode(f.Docs[1].Body), "", "only one YAML document is allowed")
	}
	d.value(f.Docs[0].Body, "", reflect.ValueOf(out).Elem())
}

func lineOfNode(n ast.Node) int {
	if n == nil || n.GetToken() == nil {
		return 0
	}
	return n.GetToken().Position.Line
}

// unwrap looks through anchors, aliases and tags to the node holding the value.
func unwrap(n ast.Node) ast.Node {
	for {
		switch v := n.(type) {
		case *ast.AnchorNode:
			n = v.Value
		case *ast.AliasNode:
			// Aliases are resolved by the parser only for merge keys; an alias
			// elsewhere would silently decode as its name, so refuse it.
			return v
		case *ast.TagNode:
			n = v.Value
		default:
			return n
		}
	}
}

var durationType = reflect.TypeOf(Duration(0))

func (d *decoder) value(n ast.Node, path string, v reflect.Value) {
	n = unwrap(n)
	line := lineOfNode(n)
	if path != "" {
		d.lines[path] = line
	}
	if _, ok := n.(*ast.NullNode); ok {
		return // absent: leave the zero value for defaults
	}
	if _, ok := n.(*ast.AliasNode); ok {
		d.errorf(line, path, "YAML aliases are not supported here; repeat the value")
		return
	}
	if v.Type() == durationType {
		s, ok := scalarText(n)
		if !ok {
			d.errorf(line, path, "want a duration like 15m or 2h, got %s", describe(n))
			return
		}
		dur, err := ParseDuration(s)
		if err != nil {
			d.errorf(line, path, "want a duration like 15m or 2h, got %q", s)
			return
		}
		v.SetInt(int64(dur))
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		d.value(n, path, p.Elem())
		v.Set(p)
	case reflect.Struct:
		m, ok := n.(*ast.MappingNode)
		if !ok {
			d.errorf(line, path, "want a mapping of fields, got %s", describe(n))
			return
		}
		d.structFields(m, path, v)
	case reflect.Map:
		m, ok := n.(*ast.MappingNode)
		if !ok {
			d.errorf(line, path, "want a mapping, got %s", describe(n))
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		for _, kv := range m.Values {
			key, _ := scalarText(unwrap(kv.Key))
			elem := reflect.New(v.Type().Elem()).Elem()
			d.value(kv.Value, join(path, key), elem)
			v.SetMapIndex(reflect.ValueOf(key), elem)
		}
	case reflect.Slice:
		s, ok := n.(*ast.SequenceNode)
		if !ok {
			// A single string where a list of strings is wanted is a common slip; accept it.
			if v.Type().Elem().Kind() == reflect.String {
				if text, ok := scalarText(n); ok {
					v.Set(reflect.Append(v, reflect.ValueOf(text)))
					return
				}
			}
			d.errorf(line, path, "want a list, got %s", describe(n))
			return
		}
		out := reflect.MakeSlice(v.Type(), len(s.Values), len(s.Values))
		for i, item := range s.Values {
			d.value(item, fmt.Sprintf("%s[%d]", path, i), out.Index(i))
		}
		v.Set(out)
	case reflect.String:
		text, ok := scalarText(n)
		if !ok {
			d.errorf(line, path, "want a string, got %s", describe(n))
			return
		}
		v.SetString(text)
	case reflect.Bool:
		b, ok := n.(*ast.BoolNode)
		if !ok {
			d.errorf(line, path, "want true or false, got %s", describe(n))
			return
		}
		v.SetBool(b.Value)
	case reflect.Int, reflect.Int64:
		text, _ := scalarText(n)
		i, err := strconv.ParseInt(text, 10, 64)
		if _, isInt := n.(*ast.IntegerNode); !isInt || err != nil {
			d.errorf(line, path, "want a whole number, got %s", describe(n))
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		var f float64
		switch x := n.(type) {
		case *ast.IntegerNode:
			text, _ := scalarText(x)
			f, _ = strconv.ParseFloat(text, 64)
		case *ast.FloatNode:
			f = x.Value
		default:
			d.errorf(line, path, "want a number, got %s", describe(n))
			return
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			d.errorf(line, path, "want a finite number, got %s", describe(n))
			return
		}
		v.SetFloat(f)
	default:
		panic(fmt.Sprintf("config: unsupported field kind %s at %s", v.Kind(), path))
	}
}

func (d *decoder) structFields(m *ast.MappingNode, path string, v reflect.Value) {
	fields := map[string]int{}
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		name := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if name != "" && name != "-" {
			fields[name] = i
		}
	}
	seen := map[string]bool{}
	for _, kv := range m.Values {
		key, ok := scalarText(unwrap(kv.Key))
		if !ok {
			d.errorf(lineOfNode(kv.Key), path, "field names must be plain strings")
			continue
		}
		fp := join(path, key)
		if seen[key] {
			d.errorf(lineOfNode(kv.Key), fp, "field is set twice")
			continue
		}
		seen[key] = true
		i, ok := fields[key]
		if !ok {
			d.errorf(lineOfNode(kv.Key), fp, "unknown field%s", suggest(key, fields))
			continue
		}
		d.value(kv.Value, fp, v.Field(i))
		if d.lines[fp] == 0 {
			d.lines[fp] = lineOfNode(kv.Key)
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// suggest names the known field closest to a misspelled one.
func suggest(key string, fields map[string]int) string {
	best, bestDist := "", 3
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if dist := levenshtein(key, name); dist < bestDist {
			best, bestDist = name, dist
		}
	}
	if best == "" {
		return " (known: " + strings.Join(names, ", ") + ")"
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// scalarText is the source text of a scalar node (strings unquoted).
func scalarText(n ast.Node) (string, bool) {
	switch x := n.(type) {
	case *ast.StringNode:
		return x.Value, true
	case *ast.LiteralNode:
		return x.Value.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return x.GetToken().Value, true
	}
	return "", false
}

func describe(n ast.Node) string {
	switch n.(type) {
	case *ast.MappingNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.StringNode, *ast.LiteralNode:
		s, _ := scalarText(n)
		return strconv.Quote(s)
	}
	if s, ok := scalarText(n); ok {
		return s
	}
	return n.Type().String()
}

// Duration is a time.Duration that YAML writes as "15m", "2h" or "30d".
type Duration time.Duration

// D is the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// ParseDuration accepts Go durations plus a whole number of days ("30d").
func ParseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}
