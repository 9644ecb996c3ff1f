package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/vigilml/vigil/config"
)

// configUsage is the -config flag's help, the same for every command.
// (A back-quoted word in a flag's usage is its argument's name in -h.)
const configUsage = "the Vigil config `file` (default: ./vigil.yaml, else .vigil/vigil.yaml, the config 'worker -dev' runs)"

// devConfig is where `worker -dev` writes the config it runs (with its
// default data dir), so that starter works against it without flags.
var devConfig = filepath.Join(config.DefaultDataDir, "vigil.yaml")

// configFlag registers -config on fs; empty means "find it" (findConfig).
func configFlag(fs *flag.FlagSet) *string {
	return fs.String("config", "", configUsage)
}

// findConfig resolves -config: the path given, else ./vigil.yaml, else the
// config a dev worker started in this directory wrote.
func findConfig(path string) (string, error) {
	if path != "" {
		return path, nil
	}
	for _, p := range []string{"vigil.yaml", devConfig} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no config: neither ./vigil.yaml nor %s (written by `go run ./worker -dev` when it starts) exists here; pass -config PATH, or run starter where the dev worker runs", devConfig)
}

// loadConfig finds and loads the config. Commands that only read (all but
// `notify test`) skip the check that the secrets' variables are set.
func loadConfig(path string, opts config.Options) (*config.Config, error) {
	p, err := findConfig(path)
	if err != nil {
		return nil, err
	}
	cfg, err := config.Load(p, opts)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("-config %s: no such file", p)
	}
	return cfg, err
}
