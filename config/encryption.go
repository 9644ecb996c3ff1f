package config

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/vigilml/vigil/codec"
)

// Encryption turns on payload encryption (package codec): the worker and the
// starter CLI encrypt every payload they write to Temporal (workflow and
// activity inputs and results, signals, updates, queries, memos) with
// AES-256-GCM, so history holds ciphertext. Search attributes, workflow IDs
// and failure messages stay readable.
type Encryption struct {
	// KeyEnv names the variable holding the current key: the base64 of 32
	// random bytes. New payloads are encrypted with it.
	KeyEnv string `yaml:"key_env"`
	// PreviousKeyEnvs name variables holding older keys that still decrypt
	// what they encrypted (key rotation).
	PreviousKeyEnvs []string `yaml:"previous_key_envs"`
	// CodecServer, when set, serves /codec/encode and /codec/decode on
	// worker.http_addr so the Temporal Web UI and the temporal CLI can show
	// decrypted payloads. `worker -dev` serves it whenever encryption is on.
	CodecServer *CodecServer `yaml:"codec_server"`
}

// CodecServer configures the worker's codec endpoint.
type CodecServer struct {
	// CORSOrigins are the origins of the Temporal Web UIs whose browsers may
	// call the endpoint, e.g. https://temporal.example.com.
	CORSOrigins []string `yaml:"cors_origins"`
	// TokenEnv names the variable with a bearer token every request must
	// carry (temporal CLI: --codec-auth "Bearer $TOKEN"). Unset: no token.
	TokenEnv string `yaml:"token_env"`
}

func (e *Encryption) validate(d *decoder, env envChecker) {
	const p = "temporal.encryption"
	if looksLikeKey(e.KeyEnv) {
		d.at(p+".key_env", "want the NAME of the environment variable holding the key, not the key itself")
	} else if env.require(p+".key_env", e.KeyEnv, "the variable holding the encryption key, the base64 of 32 random bytes ("+codec.GenerateHint+")") {
		checkKey(d, env, p+".key_env", e.KeyEnv)
	}
	seen := map[string]string{e.KeyEnv: p + ".key_env"}
	for i, name := range e.PreviousKeyEnvs {
		path := fmt.Sprintf("%s.previous_key_envs[%d]", p, i)
		if first, dup := seen[name]; dup && name != "" {
			d.at(path, "%s is already named by %s", name, first)
			continue
		}
		seen[name] = path
		if name == "" {
			d.at(path, "want the name of an environment variable")
		} else if looksLikeKey(name) {
			d.at(path, "want the NAME of the environment variable holding the key, not the key itself")
		} else if env.check(path, name) {
			checkKey(d, env, path, name)
		}
	}
	if cs := e.CodecServer; cs != nil {
		for i, o := range cs.CORSOrigins {
			checkOrigin(d, fmt.Sprintf("%s.codec_server.cors_origins[%d]", p, i), o)
		}
		env.check(p+".codec_server.token_env", cs.TokenEnv)
	}
}

// looksLikeKey catches a key pasted where its variable's name belongs, so
// that no message repeats it (keys with + / = are caught by envChecker).
func looksLikeKey(name string) bool {
	_, err := codec.ParseKey(name)
	return err == nil && strings.ToUpper(name) != name
}

// checkKey reports a key variable whose value is not a key; the message
// names the variable and never repeats its value.
func checkKey(d *decoder, env envChecker, path, name string) {
	if _, err := codec.ParseKey(env.getenv(name)); err != nil {
		d.at(path, "environment variable %s: %v", name, err)
	}
}

// checkOrigin wants a browser origin: scheme, host and optional port.
func checkOrigin(d *decoder, path, o string) {
	if o == "*" {
		d.at(path, "a wildcard would let any web page use the codec server; list the Web UI's origin, e.g. https://temporal.example.com")
		return
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		d.at(path, "want an origin like https://temporal.example.com or http://127.0.0.1:8233 (scheme, host, port; no path), got %q", o)
		return
	}
	if u.Path == "/" {
		d.at(path, "an origin has no path: want %q, got %q", u.Scheme+"://"+u.Host, o)
	}
}
