package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigilml/vigil/config"
)

// A write killed between create and rename leaves a ".tmp-" file. The next
// write to that directory removes it once it is older than StaleTemp, and
// SweepTemps (run by the worker at startup) removes it anywhere under a
// root; a temporary file young enough to belong to a live write stays.
func TestStaleTempFilesAreRemoved(t *testing.T) {
	cases := []struct {
		name string
		// sweep runs the cleanup under test over root (the source) whose
		// partition directory is part.
		sweep func(t *testing.T, root, part string)
	}{
		{"the next write to the partition", func(t *testing.T, root, part string) {
			s := New(config.Storage{})
			if _, err := s.PutObject(context.Background(), "file://"+root, "2026/03/01/10/next.jsonl", []byte("{}\n")); err != nil {
				t.Fatal(err)
			}
		}},
		{"SweepTemps at startup", func(t *testing.T, root, part string) {
			n, err := SweepTemps("file://" + root)
			if err != nil || n != 1 {
				t.Fatalf("SweepTemps = %d, %v; want 1 removed", n, err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			part := filepath.Join(root, "2026", "03", "01", "10")
			if err := os.MkdirAll(part, 0o755); err != nil {
				t.Fatal(err)
			}
			stale := filepath.Join(part, ".tmp-0123456789abcdef-a.jsonl")
			live := filepath.Join(part, ".tmp-fedcba9876543210-b.jsonl")
			for _, p := range []string{stale, live} {
				if err := os.WriteFile(p, []byte(`{"event_id":"e1"`), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			old := time.Now().Add(-StaleTemp - time.Minute)
			if err := os.Chtimes(stale, old, old); err != nil {
				t.Fatal(err)
			}
			swept.Delete(part) // as in a freshly started process
			tc.sweep(t, root, part)
			if _, err := os.Stat(stale); !os.IsNotExist(err) {
				t.Errorf("stale temporary file still there (err %v)", err)
			}
			if _, err := os.Stat(live); err != nil {
				t.Errorf("a young temporary file (a live write) was removed: %v", err)
			}
		})
	}
}
