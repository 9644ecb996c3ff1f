package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/store"
	"github.com/vigilml/vigil/train/registry"
)

// registryConfig writes a config whose registry is a temp dir holding churn
// versions 1 and 2 (1 in production) and returns its path.
func registryConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "vigil.yaml")
	os.WriteFile(path, []byte(`
storage: {registry: "file://`+dir+`/registry"}
models:
  - name: churn
    task: binary
    columns: {target: label, prediction: prediction}
    source: {uri: "file://`+dir+`/data"}
    reference: {uri: "file://`+dir+`/ref.csv"}
  - name: fraud
    source: {uri: "file://`+dir+`/data"}
    reference: {uri: "file://`+dir+`/ref.csv"}
`), 0o644)
	blobs, err := store.New(config.Storage{}).Blobs(context.Background(), "file://"+dir+"/registry")
	if err != nil {
		t.Fatal(err)
	}
	reg := registry.New(blobs)
	ctx := context.Background()
	for _, run := range []string{"run-a", "run-b"} {
		reg.Register(ctx, "churn", registry.Version{RunID: run, Trainer: "command", ArtifactURI: "file:///m/" + run,
			Metrics: map[string]float64{"accuracy": 0.9}, Data: []registry.Data{{Role: "train", URI: "file:///d", SHA256: "sha256:ab"}}})
	}
	if _, err := reg.SetAlias(ctx, "churn", registry.AliasProduction, 1, "alice", "first deploy"); err != nil {
		t.Fatal(err)
	}
	return path
}

func runModelsCmd(t *testing.T, cmd func(context.Context, []string, io.Writer, io.Writer) error, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := cmd(context.Background(), args, &out, &errOut)
	return out.String(), err
}

func TestModelsListShowsEveryConfiguredModel(t *testing.T) {
	cfg := registryConfig(t)
	out, err := runModelsCmd(t, cmdModels, "list", "-config", cfg)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "churn") || !strings.Contains(lines[1], "production=1") ||
		!strings.HasPrefix(lines[2], "fraud") {
		t.Errorf("list:\n%s", out)
	}
	out, err = runModelsCmd(t, cmdModels, "list", "-config", cfg, "-model", "churn")
	if err != nil || !strings.Contains(out, "accuracy=0.9") || strings.Index(out, "\n2 ") > strings.Index(out, "\n1 ") {
		t.Errorf("versions, newest first:\n%s %v", out, err)
	}
}

func TestPromoteThenHistoryAndShow(t *testing.T) {
	cfg := registryConfig(t)
	if _, err := runModelsCmd(t, cmdPromote, "-config", cfg, "-model", "churn", "-version", "2"); err == nil {
		t.Error("promote without a reason must fail")
	}
	out, err := runModelsCmd(t, cmdPromote, "-config", cfg, "-model", "churn", "-version", "2", "-reason", "better on March data", "-actor", "bob")
	if err != nil || !strings.Contains(out, "production 1 → 2") {
		t.Fatalf("promote: %q %v", out, err)
	}
	out, err = runModelsCmd(t, cmdModels, "history", "-config", cfg, "-model", "churn")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.Contains(lines[1], "bob") || !strings.Contains(lines[1], "better on March data") ||
		!strings.Contains(lines[2], "alice") {
		t.Errorf("history, newest first:\n%s", out)
	}
	out, err = runModelsCmd(t, cmdModels, "show", "-config", cfg, "-model", "churn")
	var v registry.Version
	if err != nil || json.Unmarshal([]byte(out), &v) != nil || v.Version != 2 || v.Data[0].SHA256 != "sha256:ab" {
		t.Errorf("show production: %s %v", out, err)
	}
	if _, err := runModelsCmd(t, cmdModels, "show", "-config", cfg, "-model", "churn", "-version", "9"); err == nil {
		t.Error("show of a missing version must fail")
	}
	if _, err := runModelsCmd(t, cmdModels, "frobnicate", "-config", cfg); err == nil {
		t.Error("unknown subcommand must fail")
	}
}

// `models register` imports a model that already serves as the first
// version of a model Vigil has not trained, once per artifact.
func TestModelsRegisterImportsAnExistingModel(t *testing.T) {
	cfg := registryConfig(t)
	metrics := filepath.Join(t.TempDir(), "metrics.json")
	os.WriteFile(metrics, []byte(`{"accuracy": 0.87}`), 0o644)
	for _, tc := range []struct {
		args []string
		want string // in stdout; "" for an error
	}{
		{[]string{"-model", "fraud"}, ""},                                    // no artifact
		{[]string{"-model", "nope", "-artifact", "s3://m/fraud.tar.gz"}, ""}, // not configured
		{[]string{"-model", "fraud", "-artifact", "fraud.tar.gz"}, ""},       // not a URI
		{[]string{"-model", "fraud", "-artifact", "s3://m/fraud.tar.gz", "-metrics", metrics, "-promote"}, "fraud: registered s3://m/fraud.tar.gz as version 1\nfraud: production none → 1"},
		{[]string{"-model", "fraud", "-artifact", "s3://m/fraud.tar.gz", "-promote"}, "as version 1\nfraud: version 1 already is production"}, // again: the same version
	} {
		out, err := runModelsCmd(t, cmdModels, append([]string{"register", "-config", cfg}, tc.args...)...)
		if tc.want == "" {
			if err == nil {
				t.Errorf("register %v: want an error, got %q", tc.args, out)
			}
			continue
		}
		if err != nil || !strings.Contains(out, tc.want) {
			t.Errorf("register %v = %q, %v; want %q", tc.args, out, err, tc.want)
		}
	}
	out, err := runModelsCmd(t, cmdModels, "show", "-config", cfg, "-model", "fraud")
	var v registry.Version
	if err != nil || json.Unmarshal([]byte(out), &v) != nil || v.Version != 1 || v.Trainer != "import" || v.Metrics["accuracy"] != 0.87 {
		t.Errorf("show fraud: %s %v", out, err)
	}
}
