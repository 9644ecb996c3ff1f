//go:build nodev

package main

import (
	"context"
	"log/slog"

	"github.com/vigilml/vigil/config"
)

// devBuilt: this binary was built with -tags nodev, without the embedded
// Temporal server and Web UI (about half of the binary), as the container
// image is: production workers dial temporal.address.
const devBuilt = false

func startDev(context.Context, *config.Config, string, *slog.Logger) (devServer, error) {
	return nil, errNoDev
}
