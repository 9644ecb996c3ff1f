package dial

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"go.temporal.io/sdk/client"

	"github.com/vigilml/vigil/config"
)

// Options are the client options for t; getenv reads the API key's variable.
// Callers add their logger, metrics handler and data converter.
func Options(t config.Temporal, getenv func(string) string) (client.Options, error) {
	opts := client.Options{HostPort: t.Address, Namespace: t.Namespace}
	if t.TLS.Enabled() {
		tc, err := tlsConfig(t.TLS)
		if err != nil {
			return opts, err
		}
		opts.ConnectionOptions.TLS = tc
	}
	if name := t.APIKeyEnv; name != "" {
		key := getenv(name)
		if key == "" {
			return opts, fmt.Errorf("temporal.api_key_env: environment variable %s is not set", name)
		}
		opts.Credentials = client.NewAPIKeyStaticCredentials(key)
		if opts.ConnectionOptions.TLS == nil {
			// Temporal Cloud takes API keys over TLS only.
			opts.ConnectionOptions.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		}
	}
	return opts, nil
}

func tlsConfig(t config.TLS) (*tls.Config, error) {
	out := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("temporal.tls: load client certificate: %w", err)
		}
		out.Certificates = []tls.Certificate{cert}
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("temporal.tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("temporal.tls.ca_file %s: no certificate found", t.CAFile)
		}
		out.RootCAs = pool
	}
	return out, nil
}
