package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
)

// command is one line of the command table: its name and summary (what
// `starter -h` lists) and how it runs. Commands that talk to Temporal are
// a temporalCmd: the table's connected() gives them the shared flags,
// connection and -model check.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = []command{
	{"validate", "check a config file; print every error with file:line", cmdValidate},
	{"apply", "create or update one Temporal Schedule per model (-prune deletes removed models')", connected("apply", applyCmd)},
	{"list", "models, their schedules and last status", connected("list", listCmd)},
	{"trigger", "run an evaluation of a model now", connected("trigger", triggerCmd)},
	{"backfill", "re-evaluate past windows of a model through its schedule", connected("backfill", backfillCmd)},
	{"history", "past evaluations, incidents and retrains of a model", connected("history", historyCmd)},
	{"incidents", "open incidents of a model (the incident workflow's state)", connected("incidents", incidentsCmd)},
	{"ack", "acknowledge a model's open incidents (stops escalation)", connected("ack", ackCmd)},
	{"silence", "mute a model's alerts for a while", connected("silence", silenceCmd)},
	{"retrain", "start a retrain of a model (refused while one runs)", connected("retrain", retrainCmd)},
	{"approve", "approve the challenger a retrain is waiting on", connected("approve", decideCmd("approve", true))},
	{"reject", "reject the challenger a retrain is waiting on", connected("reject", decideCmd("reject", false))},
	{"rollback", "move a model's production alias back (RollbackWorkflow)", connected("rollback", rollbackCmd)},
	{"audit", "a model's trail, oldest first: versions and lineage, approvals, alias moves, rollouts, evaluations, incidents, retrains", connected("audit", auditCmd)},
	{"models", "model registry: list | history | show", cmdModels},
	{"promote", "point production at a registered version", cmdPromote},
	{"analyze", "compare two data files offline: performance, drift, quality", cmdAnalyze},
	{"compare", "which of two models (columns or versions) is better, with a test and an interval", cmdCompare},
	{"baseline", "profile a reference file into statistics and constraints", cmdBaseline},
	{"report", "print a stored evaluation report", cmdReport},
	{"export", "evaluation history as a long table (csv, parquet; file or S3) or to Elasticsearch", cmdExport},
	{"notify", "notify test: send a test alert through each integration", cmdNotify},
}

// lookup finds a command of the table by name.
func lookup(name string) (command, bool) {
	i := slices.IndexFunc(commands, func(c command) bool { return c.name == name })
	if i < 0 {
		return command{}, false
	}
	return commands[i], true
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(runMain(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// runMain dispatches a command line and returns the exit code: 0 ok, 1 the
// command failed, 2 usage.
func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := lookup(args[0])
	if !ok {
		fmt.Fprintf(stderr, "starter: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	err := cmd.run(ctx, args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	fmt.Fprintf(stderr, "starter %s: %v\n", args[0], err)
	return 1
}

// errUsage marks errors already explained by the flag set's usage text.
var errUsage = errors.New("usage")

func usage(w io.Writer) {
	fmt.Fprint(w, `Usage: starter <command> [flags]

Vigil's command line. Commands read their config from -config: by default
./vigil.yaml, else .vigil/vigil.yaml, the config 'go run ./worker -dev' runs
(it writes that file at every start), so the tour works without flags.
VIGIL_TEMPORAL_ADDRESS and VIGIL_TEMPORAL_NAMESPACE override the config.

Commands:
`)
	for _, c := range slices.SortedFunc(slices.Values(commands), func(a, b command) int { return strings.Compare(a.name, b.name) }) {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun 'starter <command> -h' for a command's flags.\n")
}

func cmdNotify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "test" {
		fmt.Fprintln(stderr, "Usage: starter notify test [-config vigil.yaml] [-route NAME]")
		return errUsage
	}
	return cmdNotifyTest(ctx, args[1:], stdout, stderr)
}

// parseFlags parses args and turns a usage problem into errUsage (the flag
// set has printed it).
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %s\n", strings.Join(fs.Args(), " "))
		return errUsage
	}
	return nil
}
