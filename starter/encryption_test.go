package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/sdk/converter"

	"github.com/vigilml/vigil/codec"
	"github.com/vigilml/vigil/config"
)

func encryptedConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "vigil.yaml")
	if err := os.WriteFile(path, []byte(`
temporal:
  address: 127.0.0.1:1   # never dialled: the key check comes first
  encryption: {key_env: VIGIL_TEST_ENCRYPTION_KEY}
models:
  - name: churn
    source: {uri: "file://`+dir+`/data"}
    reference: {uri: "file://`+dir+`/ref.csv"}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// With encryption configured, every command that talks to Temporal needs
// the key: without it the CLI would write plaintext the worker cannot tell
// apart, or fail to read results. The error names the variable, not its value.
func TestCLINeedsTheEncryptionKey(t *testing.T) {
	path := encryptedConfig(t)
	short := base64.StdEncoding.EncodeToString([]byte("sixteen bytes!!!"))
	for _, tc := range []struct {
		value, want string
	}{
		{"", "temporal.encryption: environment variable VIGIL_TEST_ENCRYPTION_KEY is not set"},
		{short, "temporal.encryption: environment variable VIGIL_TEST_ENCRYPTION_KEY: want the base64 of 32 bytes, got 16 bytes"},
	} {
		t.Setenv("VIGIL_TEST_ENCRYPTION_KEY", tc.value)
		var stdout, stderr bytes.Buffer
		code := runMain(context.Background(), []string{"list", "-config", path}, &stdout, &stderr)
		if code != 1 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("key %q: exit %d, stderr %q; want exit 1 and %q", tc.value, code, stderr.String(), tc.want)
		}
		if tc.value != "" && strings.Contains(stderr.String(), tc.value) {
			t.Errorf("the error prints the key: %s", stderr.String())
		}
	}
}

// The CLI's client encrypts with the configured key, so the worker (same
// key) reads what `starter trigger` or `starter ack` send, and vice versa.
func TestCLIClientEncryptsWithTheConfiguredKey(t *testing.T) {
	key := bytes.Repeat([]byte{7}, codec.KeySize)
	t.Setenv("VIGIL_TEST_ENCRYPTION_KEY", base64.StdEncoding.EncodeToString(key))
	cfg, err := config.Load(encryptedConfig(t), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	opts, err := clientOptions(cfg, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	if opts.DataConverter == nil {
		t.Fatal("no data converter: the CLI would send plaintext")
	}
	p, err := opts.DataConverter.ToPayload(map[string]string{"Actor": "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if string(p.Metadata[converter.MetadataEncoding]) != codec.Encoding || string(p.Metadata[codec.MetadataKeyID]) != codec.KeyID(key) {
		t.Errorf("payload metadata = %q", p.Metadata)
	}
	c, _ := codec.New(key)
	var back map[string]string
	if err := codec.NewDataConverter(c).FromPayload(p, &back); err != nil || back["Actor"] != "alice" {
		t.Errorf("the worker's codec reads %v (%v)", back, err)
	}

	plain, err := clientOptions(&config.Config{}, os.Getenv)
	if err != nil || plain.DataConverter != nil {
		t.Errorf("without encryption the CLI uses the SDK's default converter: %v %v", plain.DataConverter, err)
	}
}
