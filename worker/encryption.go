package main

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"go.temporal.io/sdk/converter"

	"github.com/vigilml/vigil/codec"
	"github.com/vigilml/vigil/config"
)

// encryption is the worker's payload encryption (temporal.encryption); a
// nil *encryption means payloads are plain, and its methods say so.
type encryption struct {
	codec *codec.Codec
	dc    converter.DataConverter
	// serveCodec: the codec server runs (codec_server is configured, or
	// dev mode, whose Web UI uses it).
	serveCodec  bool
	token       string
	corsOrigins []string
}

func newEncryption(cfg *config.Config, dev bool, getenv func(string) string) (*encryption, error) {
	e := cfg.Temporal.Encryption
	if e == nil {
		return nil, nil
	}
	c, err := codec.FromEnv(getenv, e.KeyEnv, e.PreviousKeyEnvs...)
	if err != nil {
		return nil, fmt.Errorf("temporal.encryption: %w", err)
	}
	out := &encryption{codec: c, dc: codec.NewDataConverter(c), serveCodec: dev || e.CodecServer != nil}
	if cs := e.CodecServer; cs != nil {
		out.corsOrigins = cs.CORSOrigins
		if cs.TokenEnv != "" {
			out.token = getenv(cs.TokenEnv)
		}
	}
	return out, nil
}

func (e *encryption) serve() bool { return e != nil && e.serveCodec }

// dataConverter is nil (the SDK's default) without encryption.
func (e *encryption) dataConverter() converter.DataConverter {
	if e == nil {
		return nil
	}
	return e.dc
}

// origins are the configured CORS origins plus, in dev mode, the embedded
// Web UI's under both names a browser may use for it.
func (e *encryption) origins(dev devServer) []string {
	out := append([]string(nil), e.corsOrigins...)
	if dev != nil && dev.UIURL() != "" {
		ui := dev.UIURL()
		out = append(out, ui, strings.Replace(ui, "://127.0.0.1:", "://localhost:", 1))
	}
	return out
}

// browserAddr is addr as a browser or CLI on this machine reaches it: a
// wildcard listen address becomes 127.0.0.1.
func browserAddr(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return addr.String()
	}
	host := tcp.IP.String()
	if tcp.IP == nil || tcp.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, strconv.Itoa(tcp.Port))
}
