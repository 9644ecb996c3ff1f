package config

import (
	_ "embed"
	"os"
	"strings"
)

//go:embed demo.yaml
var demoYAML string

// Demo is the built-in config of `worker -dev`: one demo model whose data the
// dev worker generates under dataDir, retrained by the running binary's
// `demo-train` subcommand.
func Demo(dataDir string) (*Config, error) {
	self, err := os.Executable()
	if err != nil {
		self = "worker"
	}
	src := strings.NewReplacer("{{data_dir}}", dataDir, "{{self}}", self).Replace(demoYAML)
	return Parse("demo.yaml (built in)", []byte(src), Options{})
}
