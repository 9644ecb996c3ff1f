package demo

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/store"
	"github.com/vigilml/vigil/train/registry"
)

func TestBootstrapRegistersAProductionModelAndAReferenceOnce(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	blobs, err := store.New(config.Storage{}).Blobs(ctx, "file://"+filepath.Join(dir, "registry"))
	if err != nil {
		t.Fatal(err)
	}
	reg := registry.New(blobs)
	g := NewGenerator(GeneratorConfig{Seed: 1, DriftAt: drift})
	ref := filepath.Join(dir, "demo", "reference.csv")
	v, err := Bootstrap(ctx, reg, "demo", filepath.Join(dir, "registry", "demo", "runs"), ref, g, before, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if v.Version != 1 || v.Status != registry.Production || v.Metrics["accuracy"] < 0.85 || len(v.Data) != 1 || v.Data[0].SHA256 == "" {
		t.Fatalf("bootstrap version = %+v", v)
	}
	m, err := LoadURI(v.ArtifactURI)
	if err != nil {
		t.Fatal(err)
	}
	if acc := Accuracy(m, g.Samples(1000, before)); acc < 0.85 {
		t.Errorf("bootstrap model accuracy %.3f", acc)
	}
	csv, _ := os.ReadFile(ref)
	if lines := strings.Split(strings.TrimSpace(string(csv)), "\n"); len(lines) != 1001 || lines[0] != "x1,x2,x3,x4,label,prediction,score,latency_ms" {
		t.Errorf("reference: %d lines, header %q", len(lines), lines[0])
	}
	again, err := Bootstrap(ctx, reg, "demo", filepath.Join(dir, "runs"), ref, g, before, 1000)
	if err != nil || again.Version != 1 {
		t.Errorf("second bootstrap = %+v, %v", again, err)
	}
	if vs, _ := reg.List(ctx, "demo"); len(vs) != 1 {
		t.Errorf("%d versions after two bootstraps", len(vs))
	}
}
