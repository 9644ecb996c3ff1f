package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/vigilml/vigil/config"
)

// devConfigFile is where `worker -dev` writes the config it runs, inside its
// data dir; `starter` reads .vigil/vigil.yaml when there is no ./vigil.yaml.
const devConfigFile = "vigil.yaml"

// builtInDemo names the config source of `worker -dev` without -config.
const builtInDemo = "the built-in demo"

// writeDevConfig writes the effective config of a dev worker (the built-in
// demo or the -config file, with the addresses it really listens on) to
// <data_dir>/vigil.yaml, so that every `starter` command works without
// flags. The config names secrets by their variables only, so the file
// holds none.
func writeDevConfig(cfg *config.Config, httpAddr, source string) (string, error) {
	editHint := "edit " + source + " instead"
	if source == builtInDemo {
		editHint = "the demo changes only with the code"
	}
	eff := *cfg
	eff.Worker.HTTPAddr = httpAddr
	body, err := eff.Marshal()
	if err != nil {
		return "", err
	}
	header := fmt.Sprintf(`# Written by `+"`worker -dev`"+` at every start: the config it runs (%s),
# with the addresses it listens on. `+"`starter`"+` reads this file when there is no
# ./vigil.yaml and no -config. Secrets are named by environment variable,
# never written here. The next start overwrites it: %s.
`, source, editHint)
	path := filepath.Join(cfg.Dev.DataDir, devConfigFile)
	if err := os.MkdirAll(cfg.Dev.DataDir, 0o755); err != nil {
		return "", err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append([]byte(header), body...), 0o644); err != nil {
		return "", err
	}
	return path, os.Rename(tmp, path)
}
