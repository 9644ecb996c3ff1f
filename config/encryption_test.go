package config

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"
)

var (
	testKey    = base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	testOldKey = base64.StdEncoding.EncodeToString([]byte("fedcba9876543210fedcba9876543210"))
)

const encryptionYAML = `temporal:
  encryption:
    key_env: VIGIL_ENCRYPTION_KEY
    previous_key_envs: [VIGIL_ENCRYPTION_KEY_OLD]
    codec_server:
      cors_origins: [https://temporal.example.com, "http://127.0.0.1:8233"]
      token_env: VIGIL_CODEC_TOKEN
`

func TestEncryptionConfig(t *testing.T) {
	c, err := Parse("v.yaml", []byte(encryptionYAML), Options{Getenv: env(map[string]string{
		"VIGIL_ENCRYPTION_KEY": testKey, "VIGIL_ENCRYPTION_KEY_OLD": testOldKey, "VIGIL_CODEC_TOKEN": "t",
	})})
	if err != nil {
		t.Fatal(err)
	}
	e := c.Temporal.Encryption
	if e == nil || e.KeyEnv != "VIGIL_ENCRYPTION_KEY" || !slices.Equal(e.PreviousKeyEnvs, []string{"VIGIL_ENCRYPTION_KEY_OLD"}) {
		t.Fatalf("encryption = %+v", e)
	}
	if cs := e.CodecServer; cs == nil || len(cs.CORSOrigins) != 2 || cs.TokenEnv != "VIGIL_CODEC_TOKEN" {
		t.Errorf("codec_server = %+v", cs)
	}

	c, err = Parse("v.yaml", []byte("temporal: {address: 127.0.0.1:7233}\n"), Options{})
	if err != nil || c.Temporal.Encryption != nil {
		t.Errorf("without an encryption section payloads stay plain: %+v %v", c.Temporal.Encryption, err)
	}
}

// A key variable that is unset or holds no key stops the worker at start,
// with the file, line, field and variable in the message but never the value.
func TestEncryptionKeyMustBeSetAndValid(t *testing.T) {
	short := base64.StdEncoding.EncodeToString([]byte("only-sixteen-b.."))
	for _, tc := range []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"unset", map[string]string{"VIGIL_ENCRYPTION_KEY_OLD": testOldKey, "VIGIL_CODEC_TOKEN": "t"},
			[]string{`v.yaml:3: temporal.encryption.key_env: environment variable VIGIL_ENCRYPTION_KEY is not set`}},
		{"too short", map[string]string{"VIGIL_ENCRYPTION_KEY": short, "VIGIL_ENCRYPTION_KEY_OLD": testOldKey, "VIGIL_CODEC_TOKEN": "t"},
			[]string{`v.yaml:3: temporal.encryption.key_env: environment variable VIGIL_ENCRYPTION_KEY: want the base64 of 32 bytes, got 16 bytes (generate one with: head -c32 /dev/urandom | base64)`}},
		{"previous not base64", map[string]string{"VIGIL_ENCRYPTION_KEY": testKey, "VIGIL_ENCRYPTION_KEY_OLD": "not a key!", "VIGIL_CODEC_TOKEN": "t"},
			[]string{`v.yaml:4: temporal.encryption.previous_key_envs[0]: environment variable VIGIL_ENCRYPTION_KEY_OLD: not base64`}},
		{"token unset", map[string]string{"VIGIL_ENCRYPTION_KEY": testKey, "VIGIL_ENCRYPTION_KEY_OLD": testOldKey},
			[]string{`v.yaml:7: temporal.encryption.codec_server.token_env: environment variable VIGIL_CODEC_TOKEN is not set`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("v.yaml", []byte(encryptionYAML), Options{Getenv: env(tc.env)})
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("missing %q in:\n%v", w, err)
				}
			}
			for _, v := range tc.env {
				if len(v) > 4 && strings.Contains(err.Error(), v) {
					t.Errorf("the error repeats a variable's value: %v", err)
				}
			}
		})
	}
	if _, err := Parse("v.yaml", []byte(encryptionYAML), Options{SkipEnv: true}); err != nil {
		t.Errorf("SkipEnv (starter validate -skip-env) does not look at keys: %v", err)
	}
}

func TestEncryptionConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"unknown field", "temporal:\n  encryption: {key_evn: VIGIL_ENCRYPTION_KEY}\n",
			`v.yaml:2: temporal.encryption.key_evn: unknown field (did you mean "key_env"?)`},
		{"unknown codec_server field", "temporal:\n  encryption:\n    key_env: K\n    codec_server: {listen: \":9000\"}\n",
			`v.yaml:4: temporal.encryption.codec_server.listen: unknown field (known: cors_origins, token_env)`},
		{"no key_env", "temporal:\n  encryption: {previous_key_envs: [OLD]}\n",
			`v.yaml:2: temporal.encryption.key_env: required: the variable holding the encryption key`},
		{"key pasted inline", "temporal:\n  encryption: {key_env: \"" + testKey + "\"}\n",
			`temporal.encryption.key_env: want the NAME of`},
		{"unpadded key pasted inline", "temporal:\n  encryption: {key_env: " + strings.TrimRight(base64.RawURLEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef")), "=") + "}\n",
			`temporal.encryption.key_env: want the NAME of the environment variable holding the key, not the key itself`},
		{"previous repeats current", "temporal:\n  encryption: {key_env: K, previous_key_envs: [OLD, K]}\n",
			`v.yaml:2: temporal.encryption.previous_key_envs[1]: K is already named by temporal.encryption.key_env`},
		{"wildcard origin", "temporal:\n  encryption:\n    key_env: K\n    codec_server: {cors_origins: [\"*\"]}\n",
			`v.yaml:4: temporal.encryption.codec_server.cors_origins[0]: a wildcard would let any web page use the codec server`},
		{"origin with a path", "temporal:\n  encryption:\n    key_env: K\n    codec_server: {cors_origins: [\"https://ui.example.com/namespaces\"]}\n",
			`temporal.encryption.codec_server.cors_origins[0]: want an origin like https://temporal.example.com`},
		{"origin with a slash", "temporal:\n  encryption:\n    key_env: K\n    codec_server: {cors_origins: [\"https://ui.example.com/\"]}\n",
			`cors_origins[0]: an origin has no path: want "https://ui.example.com"`},
		{"origin without scheme", "temporal:\n  encryption:\n    key_env: K\n    codec_server: {cors_origins: [ui.example.com]}\n",
			`cors_origins[0]: want an origin like`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("v.yaml", []byte(tc.yaml), Options{SkipEnv: true})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("want %q, got:\n%v", tc.want, err)
			}
			if err != nil && strings.Contains(err.Error(), testKey[:20]) {
				t.Errorf("the error repeats the key: %v", err)
			}
		})
	}
}
