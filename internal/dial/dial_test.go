package dial

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilml/vigil/config"
)

func env(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }

func TestPlainConnection(t *testing.T) {
	opts, err := Options(config.Temporal{Address: "temporal:7233", Namespace: "ml"}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if opts.HostPort != "temporal:7233" || opts.Namespace != "ml" || opts.ConnectionOptions.TLS != nil || opts.Credentials != nil {
		t.Errorf("options %+v", opts)
	}
}

func TestAPIKeyImpliesTLS(t *testing.T) {
	opts, err := Options(config.Temporal{Address: "ns.tmprl.cloud:7233", APIKeyEnv: "TEMPORAL_API_KEY"}, env(map[string]string{"TEMPORAL_API_KEY": "k"}))
	if err != nil {
		t.Fatal(err)
	}
	if opts.Credentials == nil || opts.ConnectionOptions.TLS == nil || opts.ConnectionOptions.TLS.MinVersion != tls.VersionTLS12 {
		t.Errorf("credentials %v, TLS %+v; want an API key over TLS 1.2+", opts.Credentials, opts.ConnectionOptions.TLS)
	}
	_, err = Options(config.Temporal{APIKeyEnv: "TEMPORAL_API_KEY"}, env(nil))
	if err == nil || !strings.Contains(err.Error(), "TEMPORAL_API_KEY") {
		t.Errorf("unset key: err %v, want the variable named", err)
	}
}

func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := selfSigned(t, dir)
	opts, err := Options(config.Temporal{TLS: config.TLS{CertFile: certFile, KeyFile: keyFile, CAFile: certFile, ServerName: "temporal.internal"}}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	tc := opts.ConnectionOptions.TLS
	if tc == nil || len(tc.Certificates) != 1 || tc.RootCAs == nil || tc.ServerName != "temporal.internal" {
		t.Errorf("TLS %+v", tc)
	}
	empty := filepath.Join(dir, "empty.pem")
	os.WriteFile(empty, []byte("no certificates here"), 0o644)
	if _, err := Options(config.Temporal{TLS: config.TLS{CAFile: empty}}, env(nil)); err == nil || !strings.Contains(err.Error(), "temporal.tls.ca_file") {
		t.Errorf("bad CA: err %v, want the field named", err)
	}
	if _, err := Options(config.Temporal{TLS: config.TLS{CertFile: empty, KeyFile: empty}}, env(nil)); err == nil || !strings.Contains(err.Error(), "temporal.tls") {
		t.Errorf("bad client certificate: err %v, want the field named", err)
	}
}

func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"temporal.internal"}, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return certFile, keyFile
}
