package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// localBackend stores objects as files under root. Writers create a hidden
// temporary file (".tmp-…") in the target directory and rename it into
// place, so a reader never sees a partial file; listings skip hidden files.
type localBackend struct{ root string }

func (b localBackend) uri(key string) string {
	return "file://" + filepath.ToSlash(filepath.Join(b.root, filepath.FromSlash(key)))
}

func (b localBackend) list(ctx context.Context, prefix string, fn func(object) error) error {
	// Walk only the directory part of the prefix.
	dir := prefix
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		dir = prefix[:i]
	} else {
		dir = ""
	}
	start := filepath.Join(b.root, filepath.FromSlash(dir))
	var objs []object
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && p != start {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(b.root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		objs = append(objs, object{Key: key, Size: info.Size(), ModTime: info.ModTime()})
		return nil
	})
	if err != nil {
		return fmt.Errorf("list %s: %w", b.uri(prefix), err)
	}
	sort.Slice(objs, func(i, j int) bool { return objs[i].Key < objs[j].Key })
	for _, o := range objs {
		if err := fn(o); err != nil {
			return err
		}
	}
	return nil
}

func (b localBackend) dirs(_ context.Context, prefix string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(b.root, filepath.FromSlash(prefix)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", b.uri(prefix), err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

func (b localBackend) open(_ context.Context, key string) (io.ReadCloser, error) {
	f, err := os.Open(filepath.Join(b.root, filepath.FromSlash(key)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("open %s: %w", b.uri(key), ErrNotFound)
	}
	return f, err
}

func (b localBackend) put(_ context.Context, key string, data []byte) error {
	return writeFileAtomic(filepath.Join(b.root, filepath.FromSlash(key)), data)
}

func (b localBackend) remove(_ context.Context, key string) error {
	err := os.Remove(filepath.Join(b.root, filepath.FromSlash(key)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// StaleTemp is the age from which a ".tmp-" file is taken for the remains
// of a write whose process died between create and rename: a live write
// holds its temporary file for the time of one write and fsync.
const StaleTemp = 10 * time.Minute

// sweepEvery bounds how often one directory is swept (a partition
// directory can hold many files; listing it at every write would cost
// more than the write).
const sweepEvery = 10 * time.Minute

var swept sync.Map // dir → time of its last sweep

// sweepTemps removes the stale temporary files of dir, at the first write
// to it in this process and then at most every sweepEvery.
func sweepTemps(dir string, now time.Time) {
	if last, ok := swept.Load(dir); ok && now.Sub(last.(time.Time)) < sweepEvery {
		return
	}
	swept.Store(dir, now)
	removeStaleTemps(dir, now)
}

// removeStaleTemps removes the ".tmp-" files of dir older than StaleTemp
// and returns how many it removed.
func removeStaleTemps(dir string, now time.Time) int {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		if e.IsDir() || !strings.HasPrefix(e.Name(), ".tmp-") {
			continue
		}
		if info, err := e.Info(); err == nil && now.Sub(info.ModTime()) >= StaleTemp {
			if os.Remove(filepath.Join(dir, e.Name())) == nil {
				n++
			}
		}
	}
	return n
}

// SweepTemps removes the stale temporary files (older than StaleTemp) that
// killed writes left anywhere under a local root URI, and says how many; S3
// roots have none (a PutObject is atomic). The worker runs it at startup
// over the sources the ingest API writes to.
func SweepTemps(rootURI string) (int, error) {
	loc, err := parseURI(rootURI)
	if err != nil || loc.scheme != "file" {
		return 0, err
	}
	now := time.Now()
	n := 0
	err = filepath.WalkDir(loc.path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			n += removeStaleTemps(p, now)
		}
		return nil
	})
	return n, err
}

// writeFileAtomic writes data to a hidden temporary file beside dst, syncs it
// and renames it over dst. It first sweeps the directory of temporary files
// left by killed writes (sweepTemps).
func writeFileAtomic(dst string, data []byte) error {
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	sweepTemps(dir, time.Now())
	tmp := filepath.Join(dir, ".tmp-"+randomHex(8)+"-"+path.Base(filepath.ToSlash(dst)))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", dst, err)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
