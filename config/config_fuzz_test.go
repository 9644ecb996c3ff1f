package config

import (
	"bytes"
	"errors"
	"os"
	"runtime"
	"testing"
	"time"
)

// FuzzParse states what Parse promises for any bytes: it does not panic, it
// returns (within seconds: the input is small), and it either returns a config or an Errors whose every entry names the file
// and a line that exists in it (0 when the field is absent from the file).
// Seeds live in testdata/fuzz/FuzzParse (real configs, broken ones, YAML
// oddities: anchors, aliases, tags, merge keys, multiple documents).
//
//	go test -run='^$' -fuzz=FuzzParse -fuzztime=60s ./config
func FuzzParse(f *testing.F) {
	for _, name := range []string{"testdata/valid.yaml", "testdata/errors.yaml"} {
		if src, err := os.ReadFile(name); err == nil {
			f.Add(src)
		}
	}
	getenv := env(map[string]string{"SLACK_BOT_TOKEN": "xoxb-1", "PAGERDUTY_ROUTING_KEY": "R1"})
	f.Fuzz(func(t *testing.T, src []byte) {
		var c *Config
		var err error
		done := make(chan struct{})
		go func() {
			defer close(done)
			c, err = Parse("fuzz.yaml", src, Options{Getenv: getenv})
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			buf := make([]byte, 1<<16)
			t.Fatalf("Parse of %d bytes did not return in 5s:\n%s", len(src), buf[:runtime.Stack(buf, true)])
		}
		if err == nil {
			if c == nil {
				t.Fatal("Parse returned neither a config nor an error")
			}
			return
		}
		var es Errors
		if !errors.As(err, &es) || len(es) == 0 {
			t.Fatalf("error is not a non-empty Errors: %T %v", err, err)
		}
		// YAML breaks lines at \n, \r\n and a lone \r.
		norm := bytes.ReplaceAll(src, []byte("\r\n"), []byte("\n"))
		lines := bytes.Count(norm, []byte{'\n'}) + bytes.Count(norm, []byte{'\r'}) + 1
		for _, e := range es {
			if e.File != "fuzz.yaml" || e.Line < 0 || e.Line > lines+1 || e.Msg == "" {
				t.Fatalf("error %q points outside the file (%d lines): %+v", e.Error(), lines, e)
			}
		}
	})
}
