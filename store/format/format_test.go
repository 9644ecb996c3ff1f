package format

import (
	"encoding/csv"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/vigilml/vigil/analysis"
)

func readAll(t *testing.T, rows analysis.Rows) [][]string {
	t.Helper()
	var out [][]string
	for rows.Next() {
		out = append(out, append([]string(nil), rows.Row()...))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCSV(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		opts    Options
		cols    string
		rows    string // rows joined by | and cells by ,
		invalid int64
	}{
		{"header and rows", "a,b\n1,2\n3,4\n", Options{}, "a,b", "1,2|3,4", 0},
		{"empty field is missing", "a,b\n,2\n3,\n", Options{}, "a,b", ",2|3,", 0},
		{"wrong field count is skipped and counted", "a,b\n1,2\n1,2,3\n4\n5,6\n", Options{}, "a,b", "1,2|5,6", 2},
		{"CRLF, blank lines and no final newline", "a,b\r\n1,2\r\n\r\n3,4", Options{}, "a,b", "1,2|3,4", 0},
		{"quotes, escaped quotes, delimiter and newline inside", "a,b\n\"x,y\",\"he said \"\"hi\"\"\"\n\"multi\nline\",2\n", Options{}, "a,b", "x;y,he said \"hi\"|multi\nline,2", 0},
		{"BOM is dropped", "\ufeffa,b\n1,2\n", Options{}, "a,b", "1,2", 0},
		{"headerless with Columns", "1,2\n3,4\n", Options{Columns: []string{"x", "y"}}, "x,y", "1,2|3,4", 0},
		{"other delimiter", "a;b\n1;2\n", Options{Comma: ';'}, "a,b", "1,2", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := Open(strings.NewReader(tc.in), "csv", tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(rows.Columns(), ","); got != tc.cols {
				t.Errorf("columns %q, want %q", got, tc.cols)
			}
			var got []string
			for _, r := range readAll(t, rows) {
				for i := range r {
					r[i] = strings.ReplaceAll(r[i], ",", ";")
				}
				got = append(got, strings.Join(r, ","))
			}
			if g := strings.Join(got, "|"); g != tc.rows {
				t.Errorf("rows %q, want %q", g, tc.rows)
			}
			if rows.Invalid() != tc.invalid {
				t.Errorf("invalid %d, want %d", rows.Invalid(), tc.invalid)
			}
		})
	}
}

func TestCSVEmptyInput(t *testing.T) {
	if _, err := Open(strings.NewReader(""), "csv", Options{}); err != ErrNoHeader {
		t.Errorf("err %v, want ErrNoHeader", err)
	}
}

func TestJSONL(t *testing.T) {
	in := `{"event_id":"e1","model":"churn","time":"2026-01-01T00:00:00Z","features":{"age":42,"plan":"pro","geo":{"cc":"FR"}},"prediction":1,"score":0.83,"latency_ms":12.5,"meta":{"region":"eu","tags":["a","b"]},"ok":true}
not json
{"event_id":"e2","features":{"age":null,"plan":"basic"},"prediction":0,"score":0.1}

[1,2]
{"event_id":"e3","features":{"age":7},"late_key":"ignored?"}
`
	rows, err := Open(strings.NewReader(in), "jsonl", Options{DiscoverRecords: 2})
	if err != nil {
		t.Fatal(err)
	}
	wantCols := "event_id,model,time,age,plan,geo.cc,prediction,score,latency_ms,meta.region,meta.tags,ok"
	if got := strings.Join(rows.Columns(), ","); got != wantCols {
		t.Fatalf("columns\n %s\nwant\n %s", got, wantCols)
	}
	all := readAll(t, rows)
	want := []string{
		`e1|churn|2026-01-01T00:00:00Z|42|pro|FR|1|0.83|12.5|eu|["a","b"]|true`,
		`e2||||basic||0|0.1||||`,
		`e3|||7||||||||`,
	}
	for i, r := range all {
		if got := strings.Join(r, "|"); got != want[i] {
			t.Errorf("row %d %q, want %q", i, got, want[i])
		}
	}
	if len(all) != 3 || rows.Invalid() != 2 {
		t.Errorf("%d rows, %d invalid; want 3 and 2", len(all), rows.Invalid())
	}
}

func TestUnknownFormat(t *testing.T) {
	if _, err := Open(strings.NewReader(""), "xml", Options{}); err == nil || !strings.Contains(err.Error(), "csv") {
		t.Errorf("err %v", err)
	}
}

func BenchmarkCSV(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("a,b,c,d,e,f,g,h,i,j\n")
	for i := 0; i < 10000; i++ {
		sb.WriteString("0.123456,1.5,-2.25,3,4.75,5,6.125,7,8.5,9\n")
	}
	benchmarkRead(b, sb.String())
}

// benchmarkRead reads data as CSV, every row of it, per iteration.
func benchmarkRead(b *testing.B, data string) {
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		rows, _ := NewCSV(strings.NewReader(data), Options{})
		for rows.Next() {
		}
	}
}

// TestCSVMatchesEncodingCSV feeds a large input with quoted fields, embedded
// newlines and CRLFs through tiny and large reads (so records straddle
// blocks) and compares every record with encoding/csv.
func TestCSVMatchesEncodingCSV(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("a,b,c\n")
	cells := []string{"1", "", "x y", "\"q,\"", "\"multi\nline\"", "\"say \"\"hi\"\"\"", "-2.5e3"}
	for i := 0; i < 60000; i++ {
		eol := "\n"
		if i%7 == 0 {
			eol = "\r\n"
		}
		fmt.Fprintf(&sb, "%s,%s,%s%s", cells[i%7], cells[(i/7)%7], cells[(i/49)%7], eol)
	}
	in := sb.String()
	want, err := csv.NewReader(strings.NewReader(in)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]io.Reader{"whole": strings.NewReader(in), "one byte": iotest.OneByteReader(strings.NewReader(in)),
		"half": iotest.HalfReader(strings.NewReader(in))} {
		rows, err := NewCSV(r, Options{})
		if err != nil {
			t.Fatal(err)
		}
		got := readAll(t, rows)
		if len(got) != len(want)-1 {
			t.Fatalf("%s: %d rows, want %d", name, len(got), len(want)-1)
		}
		for i := range got {
			if strings.Join(got[i], "\x00") != strings.Join(want[i+1], "\x00") {
				t.Fatalf("%s: row %d = %q, want %q", name, i, got[i], want[i+1])
			}
		}
	}
}

func BenchmarkJSONL(b *testing.B) {
	var sb strings.Builder
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(&sb, `{"event_id":"e%d","model":"churn","model_version":"3","time":"2026-01-01T00:00:%02dZ","features":{"age":%d,"income":%d.5,"plan":"pro","tenure":%d,"score_a":0.%d},"prediction":1,"score":0.83,"latency_ms":12.5}`+"\n", i, i%60, 20+i%50, 1000+i, i%36, i%97)
	}
	data := sb.String()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		rows, _ := NewJSONL(strings.NewReader(data), Options{})
		for rows.Next() {
		}
	}
}

func TestJSONLScanner(t *testing.T) {
	tests := []struct {
		line string
		want string // k=v pairs joined by ';', or "invalid"
	}{
		{`{"a":1,"b":-2.5e3,"c":true,"d":false,"e":null}`, "a=1;b=-2.5e3;c=true;d=false;e="},
		{` { "a" : "x" , "b" : { "c" : { "d" : 1 } } } `, "a=x;b.c.d=1"},
		{`{"features":{"x":1,"y":{"z":2}},"s":"q\"uote\u00e9"}`, "x=1;y.z=2;s=q\"uoteé"},
		{`{"k\u00e9y":[1,{"a":"]"},[2]],"n":0}`, `kéy=[1,{"a":"]"},[2]];n=0`},
		{`{}`, ""},
		{`{"a":1,}`, "invalid"},
		{`{"a" 1}`, "invalid"},
		{`{"a":tru}`, "invalid"},
		{`{"a":"x}`, "invalid"},
		{`{"a":1} trailing`, "invalid"},
		{`[1,2]`, "invalid"},
		{`{"a":[1,2}`, "invalid"},
	}
	for _, tc := range tests {
		rec, err := flatten(tc.line, nil)
		got := "invalid"
		if err == nil {
			var parts []string
			for _, f := range rec {
				parts = append(parts, f.k+"="+f.v)
			}
			got = strings.Join(parts, ";")
		}
		if got != tc.want {
			t.Errorf("flatten(%s) = %q, want %q", tc.line, got, tc.want)
		}
	}
}

// BenchmarkCSVRealistic reads rows of ten numeric cells that differ from row
// to row, as real data does (the branch predictor cannot learn where the
// delimiters are): float64 written with full precision (Python's repr, as
// pandas writes it) and with six decimals.
func BenchmarkCSVRealistic(b *testing.B) {
	for _, shape := range []struct {
		name string
		cell func(float64) string
	}{
		{"full", func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }},
		{"six-decimals", func(v float64) string { return strconv.FormatFloat(v, 'f', 6, 64) }},
	} {
		b.Run(shape.name, func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			var sb strings.Builder
			sb.WriteString("a,b,c,d,e,f,g,h,i,j\n")
			for range 20000 {
				for j := range 10 {
					if j > 0 {
						sb.WriteByte(',')
					}
					sb.WriteString(shape.cell(r.NormFloat64()))
				}
				sb.WriteByte('\n')
			}
			benchmarkRead(b, sb.String())
		})
	}
}
