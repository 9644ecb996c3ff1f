package store

import (
	"context"
	"path"
	"strings"
)

// Shard documents (the plan of a sharded evaluation and the profile of each
// shard) live beside the reports, at
// <storage.reports>/_shards/<model>/<run>/<name>: the underscore keeps them
// apart from every model's reports (a model name starts with a letter or a
// digit). A run writes each name once per attempt, so a retried shard
// replaces its own document and nothing else; DeleteShards removes a run's
// documents once its report is written.

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
	return nil
}
