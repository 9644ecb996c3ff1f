package config

import (
	_ "embed"
	"strings"
)

//go:embed demo.yaml
var demoYAML string

// Demo is the built-in config of `worker -dev`: one demo model whose data the
// dev worker generates under dataDir.
func Demo(dataDir string) (*Config, error) {
	src := strings.ReplaceAll(demoYAML, "{{data_dir}}", dataDir)
	return Parse("demo.yaml (built in)", []byte(src), Options{})
}
