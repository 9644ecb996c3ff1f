package format

import (
	"strings"
	"testing"
)

// Records are bounded per line: a line over MaxRecordBytes is skipped and
// counted as invalid, never fatal for its file, and lines longer than the
// read buffer (64 KiB) but under the bound are read whole.
func TestRecordBound(t *testing.T) {
	long := strings.Repeat("z", 200<<10) // longer than the 64 KiB buffer
	jsonl := func(v string) string { return `{"event_id":"e","features":{"a":1,"b":"` + v + `"}}` }
	capture := func(v string) string {
		return `{"captureData":{"endpointInput":{"observedContentType":"application/json","mode":"INPUT","data":"{\"a\":1,\"b\":\"` + v + `\"}","encoding":"JSON"}},"eventMetadata":{"eventId":"e"},"eventVersion":"0"}`
	}
	cases := []struct {
		name    string
		format  string
		lines   []string
		max     int
		rows    int
		invalid int64
		lastB   string // the b of the last row read
	}{
		{"jsonl: an oversized line between good ones", "jsonl", []string{jsonl("x"), jsonl(long), jsonl("y")}, 100 << 10, 2, 1, "y"},
		{"jsonl: an oversized last line without newline", "jsonl", []string{jsonl("x"), jsonl(long)}, 100 << 10, 1, 1, "x"},
		{"jsonl: a long line under the bound", "jsonl", []string{jsonl("x"), jsonl(long), jsonl("y")}, 1 << 20, 3, 0, "y"},
		{"jsonl: CRLF line endings", "jsonl", []string{jsonl("x") + "\r", jsonl("y") + "\r"}, 0, 2, 0, "y"},
		{"sagemaker: an oversized line between good ones", "sagemaker", []string{capture("x"), capture(long), capture("y")}, 100 << 10, 2, 1, "y"},
		{"sagemaker: a long line under the bound", "sagemaker", []string{capture("x"), capture(long)}, 1 << 20, 2, 0, long},
		{"sagemaker: an oversized first line", "sagemaker", []string{capture(long), capture("y")}, 100 << 10, 1, 1, "y"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := strings.NewReader(strings.Join(tc.lines, "\n"))
			var rows interface {
				Columns() []string
				Next() bool
				Row() []string
				Invalid() int64
				Err() error
			}
			var err error
			if tc.format == "jsonl" {
				rows, err = NewJSONL(in, Options{MaxRecordBytes: tc.max})
			} else {
				rows, err = OpenSageMaker(in, SageMakerOptions{MaxRecordBytes: tc.max})
			}
			if err != nil {
				t.Fatal(err)
			}
			b := -1
			for i, c := range rows.Columns() {
				if c == "b" {
					b = i
				}
			}
			n, last := 0, ""
			for rows.Next() {
				n++
				last = rows.Row()[b]
			}
			if err := rows.Err(); err != nil {
				t.Fatalf("the file failed: %v", err)
			}
			if n != tc.rows || rows.Invalid() != tc.invalid || last != tc.lastB {
				t.Errorf("%d rows, %d invalid, last b %.10q…; want %d, %d, %.10q…", n, rows.Invalid(), last, tc.rows, tc.invalid, tc.lastB)
			}
		})
	}
}

// BenchmarkHugeJSONLLine reads one 50 MB line: B/op is what a record that
// size costs (about 2× its size; growing one slice by append cost 5.8×).
func BenchmarkHugeJSONLLine(b *testing.B) {
	line := `{"event_id":"big","features":{"a":1,"b":"` + strings.Repeat("y", 50<<20) + `"}}` + "\n"
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for range b.N {
		j, err := NewJSONL(strings.NewReader(line), Options{})
		if err != nil {
			b.Fatal(err)
		}
		for j.Next() {
		}
	}
}
