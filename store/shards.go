package store

import (
	"context"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Shard documents (the plan of a sharded evaluation and the profile of each
// shard) live beside the reports, at
// <storage.reports>/_shards/<model>/<run>/<name>: the underscore keeps them
// apart from every model's reports (a model name starts with a letter or a
// digit). A run writes each name once per attempt, so a retried shard
// replaces its own document and nothing else; DeleteShards removes a run's
// documents once its report is written (or its evaluation failed), and
// ShardRuns finds the runs whose workflow ended without removing them.

func shardKey(model, run, name string) (string, error) {
	key := path.Join("_shards", model, run, name)
	if err := checkKey(key); err != nil || strings.Contains(run, "/") || strings.Contains(name, "/") {
		return "", permanentf("invalid shard document %q of run %q", name, run)
	}
	return key, nil
}

// WriteShard stores a shard document of the evaluation run of model and
// returns its URI; writing it again replaces it.
func (s *Store) WriteShard(ctx context.Context, model, run, name string, data []byte) (string, error) {
	b, err := s.reports(ctx, model)
	if err != nil {
		return "", err
	}
	key, err := shardKey(model, run, name)
	if err != nil {
		return "", err
	}
	if err := b.put(ctx, key, data); err != nil {
		return "", err
	}
	return b.uri(key), nil
}

// ReadShard reads a shard document written by WriteShard; a missing one is
// ErrNotFound.
func (s *Store) ReadShard(ctx context.Context, model, run, name string) ([]byte, error) {
	b, err := s.reports(ctx, model)
	if err != nil {
		return nil, err
	}
	key, err := shardKey(model, run, name)
	if err != nil {
		return nil, err
	}
	return readObject(ctx, b, key)
}

// DeleteShards removes every shard document of the run.
func (s *Store) DeleteShards(ctx context.Context, model, run string) error {
	b, err := s.reports(ctx, model)
	if err != nil {
		return err
	}
	dir, err := shardKey(model, run, "x")
	if err != nil {
		return err
	}
	dir = path.Dir(dir) + "/"
	var keys []string
	if err := b.list(ctx, dir, func(o object) error {
		keys = append(keys, o.Key)
		return nil
	}); err != nil {
		return err
	}
	for _, k := range keys {
		if err := b.remove(ctx, k); err != nil {
			return err
		}
	}
	if l, ok := b.(localBackend); ok {
		// Else every evaluation would leave an empty directory (S3 has
		// none); one that is not empty yet (a writer's temporary file) stays.
		_ = os.Remove(filepath.Join(l.root, filepath.FromSlash(dir)))
	}
	return nil
}

// ShardRun is a run of a model that has shard documents.
type ShardRun struct {
	Run string
	// Newest is the modification time of the run's newest document: a run
	// still under way writes one as each shard ends.
	Newest time.Time
}

// ShardRuns lists the runs of model that have shard documents, in run
// order, with the time of each one's newest document: one listing of
// _shards/<model>/, local or S3.
func (s *Store) ShardRuns(ctx context.Context, model string) ([]ShardRun, error) {
	b, err := s.reports(ctx, model)
	if err != nil {
		return nil, err
	}
	dir, err := shardKey(model, "x", "x")
	if err != nil {
		return nil, err
	}
	dir = path.Dir(path.Dir(dir)) + "/"
	newest := map[string]time.Time{}
	if err := b.list(ctx, dir, func(o object) error {
		run, _, ok := strings.Cut(strings.TrimPrefix(o.Key, dir), "/")
		if !ok {
			return nil // not a run's document
		}
		if t, seen := newest[run]; !seen || o.ModTime.After(t) {
			newest[run] = o.ModTime
		}
		return nil
	}); err != nil {
		return nil, err
	}
	out := make([]ShardRun, 0, len(newest))
	for run, t := range newest {
		out = append(out, ShardRun{Run: run, Newest: t})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Run < out[j].Run })
	return out, nil
}
