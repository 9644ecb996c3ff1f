package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"

	"github.com/vigilml/vigil/config"
)

// TestLocalBlobsAcrossProcesses runs read-modify-write loops in several
// processes (this test binary re-executed) against one directory: the
// compare-and-swap must not lose an increment.
func TestLocalBlobsAcrossProcesses(t *testing.T) {
	if dir := os.Getenv("VIGIL_BLOBS_CHILD_DIR"); dir != "" {
		incrementMany(t, dir, 25)
		return
	}
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := t.TempDir()
	const procs = 4
	var wg sync.WaitGroup
	for i := 0; i < procs; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^TestLocalBlobsAcrossProcesses$")
			cmd.Env = append(os.Environ(), "VIGIL_BLOBS_CHILD_DIR="+dir)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("child: %v\n%s", err, out)
			}
		}()
	}
	wg.Wait()
	b, _ := New(config.Storage{}).Blobs(context.Background(), dir)
	data, _, err := b.Get(context.Background(), "counter")
	if err != nil || string(data) != fmt.Sprint(procs*25) {
		t.Errorf("counter = %s (%v), want %d", data, err, procs*25)
	}
}

func incrementMany(t *testing.T, dir string, n int) {
	ctx := context.Background()
	b, _ := New(config.Storage{}).Blobs(ctx, dir)
	for i := 0; i < n; i++ {
		for {
			data, v, err := b.Get(ctx, "counter")
			if errors.Is(err, ErrNotFound) {
				data, v = []byte("0"), ""
			} else if err != nil {
				t.Fatal(err)
			}
			var c int
			fmt.Sscan(string(data), &c)
			_, err = b.PutIf(ctx, "counter", []byte(fmt.Sprint(c+1)), v)
			if err == nil {
				break
			}
			if !errors.Is(err, ErrConflict) {
				t.Fatal(err)
			}
		}
	}
}
