//go:build !unix

package store

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// lockFile takes a lock by creating path exclusively; a lock older than a
// minute is taken to be left by a dead process and broken.
func lockFile(path string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	for {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			f.Close()
			return func() { os.Remove(path) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		if st, err := os.Stat(path); err == nil && time.Since(st.ModTime()) > time.Minute {
			os.Remove(path)
			continue
		}
		time.Sleep(5 * time.Millisecond)
	}
}
