package main

import (
	"context"
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"

	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/control"
)

func decodePayload(p *commonpb.Payload, out any) error {
	return converter.GetDefaultDataConverter().FromPayload(p, out)
}

func ensureSearchAttributes(ctx context.Context, wc *control.Client, cfg *config.Config) error {
	if err := wc.EnsureSearchAttributes(ctx, cfg.Temporal.Namespace); err != nil {
		return fmt.Errorf("search attributes VigilModel/VigilStatus/VigilModelVersion/VigilRollout not registered (the UI filters need them; an operator can add them): %w", err)
	}
	return nil
}

// quietLogger keeps the SDK's info lines out of a CLI's output.
type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}
