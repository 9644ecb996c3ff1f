package analysis

import (
	"math"
	"strconv"
	"testing"
)

func TestParseNumberMatchesStrconv(t *testing.T) {
	cases := []string{"0", "-0", "1", "-1.5", "+2.25", "0.1", "123456789012345", "1234567890123456", "0.000001",
		"3.141592653589793", "1e5", "1E-3", ".5", "5.", "-.25", "00012.5000", "9007199254740993", "0.30000000000000004",
		"1.0000000000000000000001", "NaN", "inf", "-Inf", "abc", "", "-", ".", "1.2.3", " 7 ", "0x10", "1_000",
		// the eight-bytes-at-once path: the last 8 bytes hold decimals and
		// what precedes them
		"-0.806033", "12345678.12345678", "1.23.456", "1.2345a78", "1234567.x", "-1234567.", "0.1234567", "99999999.9",
		"1.:234567", "1.0/23456", "123456789012.1234567", "1234567890123.1234567"}
	u := lcgUniforms(3, 2000)
	for i, x := range u {
		cases = append(cases, strconv.FormatFloat((x-0.5)*1e6, 'f', i%12, 64), strconv.FormatFloat(x, 'g', -1, 64))
	}
	for _, c := range cases {
		got, ok := parseNumber(c)
		want, err := strconv.ParseFloat(c, 64)
		if err != nil {
			if w2, err2 := strconv.ParseFloat(" "+c, 64); err2 == nil {
				want, err = w2, nil
			}
		}
		if c == " 7 " {
			want, err = 7, nil
		}
		if c == "0x10" || c == "1_000" {
			// strconv accepts hex and underscores only with a base prefix;
			// whatever it says, we say the same
		}
		if ok != (err == nil) || (ok && got != want && !(got != got && want != want)) {
			t.Errorf("parseNumber(%q) = %v, %v; strconv %v, %v", c, got, ok, want, err)
		}
	}
}

// FuzzParseDecimal: the fast path either declines or agrees with strconv to
// the bit.
func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"-0.806033", "12345678.12345678", "1.2345a78", "0.1", "-.5", "5."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseDecimal(s)
		if !ok {
			return
		}
		want, err := strconv.ParseFloat(s, 64)
		if err != nil || math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("parseDecimal(%q) = %v; strconv %v, %v", s, got, want, err)
		}
	})
}
