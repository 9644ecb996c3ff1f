package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilml/vigil/config"
)

// Without -config, starter reads ./vigil.yaml, else the config a dev worker
// started here wrote; when neither exists it says which flag to use.
func TestLoadConfigFindsTheDevWorkersConfig(t *testing.T) {
	model := func(name string) string {
		return "models: [{name: " + name + ", source: {uri: file:///d}, reference: {uri: file:///r.csv}}]\n"
	}
	tests := []struct {
		name      string
		files     map[string]string
		flag      string
		wantModel string
		wantErr   string
	}{
		{"nothing here", nil, "", "", "pass -config PATH"},
		{"the dev worker's config", map[string]string{".vigil/vigil.yaml": model("demo")}, "", "demo", ""},
		{"./vigil.yaml first", map[string]string{"vigil.yaml": model("churn"), ".vigil/vigil.yaml": model("demo")}, "", "churn", ""},
		{"-config wins", map[string]string{"vigil.yaml": model("churn"), "other.yaml": model("fraud")}, "other.yaml", "fraud", ""},
		{"-config missing", map[string]string{".vigil/vigil.yaml": model("demo")}, "missing.yaml", "", "-config missing.yaml: no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, body := range tt.files {
				if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			t.Chdir(dir)
			cfg, err := loadConfig(tt.flag, config.Options{SkipEnv: true})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Models[0].Name != tt.wantModel {
				t.Errorf("loaded model %s, want %s", cfg.Models[0].Name, tt.wantModel)
			}
		})
	}
}
