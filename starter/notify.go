package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"time"

	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/notify"
	"github.com/vigilml/vigil/notify/integrations"
)

// cmdNotifyTest implements `starter notify test`: it sends a clearly marked
// test event through each configured integration (or the ones -route
// selects), retrying transient failures, and prints one line per
// integration. It fails if any integration failed.
func cmdNotifyTest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("notify test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := configFlag(fs)
	route := fs.String("route", "", "test one integration (slack, pagerduty, teams, opsgenie, webhook, console)\nor a severity's route (info, warning, critical: its notify and escalate lists)")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: starter notify test [-config vigil.yaml] [-route NAME]

Sends a test notification, marked [TEST], through every integration configured
under notify: (or the ones -route selects) and prints whether each arrived.
Secrets are read from the environment variables the config names, as the
worker reads them. PagerDuty and Opsgenie get a low-severity test alert that is
resolved at once. Exits non-zero if any integration failed.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	cfg, err := loadConfig(*configPath, config.Options{})
	if err != nil {
		return err
	}
	// Info level: the console integration prints the test event there.
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	built, err := integrations.Build(cfg.Notify, os.Getenv, logger)
	if err != nil {
		return err
	}
	names, err := integrations.Select(cfg.Notify, built, *route)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	actor := "starter notify test"
	if u, err := user.Current(); err == nil && u.Username != "" {
		actor += " (" + u.Username + ")"
	}
	if host, err := os.Hostname(); err == nil {
		actor += " on " + host
	}
	fmt.Fprintf(stdout, "sending a test notification to %d integration(s)\n", len(names))
	err = integrations.SendTest(ctx, built, names, integrations.TestEvent(actor, time.Now()), notify.DefaultBackoff, stdout)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w (timed out after %s)", err, *timeout)
	}
	return err
}
