//go:build !nodev

package main

import (
	"context"
	"log/slog"
	"path/filepath"

	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/internal/devserver"
	"github.com/vigilml/vigil/workflows"
)

// devBuilt: this binary embeds the Temporal server and Web UI that -dev runs.
// A build with -tags nodev (the container image's) leaves them out.
const devBuilt = true

// startDev starts the embedded Temporal server of -dev, its SQLite file in
// dev.data_dir, its Web UI decoding payloads through uiCodec ("" = none).
func startDev(ctx context.Context, cfg *config.Config, uiCodec string, log *slog.Logger) (devServer, error) {
	s, err := devserver.Start(ctx, devserver.Options{
		DBFile:           filepath.Join(cfg.Dev.DataDir, "temporal.db"),
		FrontendPort:     cfg.Dev.FrontendPort,
		UIPort:           cfg.Dev.UIPort,
		Namespace:        cfg.Temporal.Namespace,
		Retention:        cfg.Dev.Retention.D(),
		SearchAttributes: workflows.SearchAttributes(),
		CodecEndpoint:    uiCodec,
		Logger:           log,
	})
	if err != nil {
		return nil, err // not a typed nil: Worker.Dev == nil means "no dev server"
	}
	return s, nil
}
