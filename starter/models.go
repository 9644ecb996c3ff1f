package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/store"
	"github.com/vigilml/vigil/train"
	"github.com/vigilml/vigil/train/registry"
)

// cmdModels implements `starter models list|history|show`: read-only views
// of the model registry (storage.registry in the config).
func cmdModels(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	usage := func() {
		fmt.Fprint(stderr, `Usage:
  starter models list    [-config vigil.yaml] [-model M]   models and their production version, or M's versions
  starter models history [-config vigil.yaml] -model M     who moved M's aliases, when and why
  starter models show    [-config vigil.yaml] -model M [-version V]
                                                           one version's lineage as JSON (default: production)
  starter models register [-config vigil.yaml] -model M -artifact URI [-metrics metrics.json] [-promote] [-reason TEXT]
                                                           import a model that already serves (trained outside
                                                           Vigil) as a version; -promote makes it production
`)
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		usage()
		return errors.New("models: want a subcommand: list, history, show or register")
	}
	sub := args[0]
	fs := flag.NewFlagSet("models "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := configFlag(fs)
	model := fs.String("model", "", "model name")
	version := fs.Int("version", 0, "version number (show; default: the production version)")
	artifact := fs.String("artifact", "", "register: the model artifact's URI (s3://…, file://…)")
	metricsFile := fs.String("metrics", "", "register: a JSON object of numbers to record as the version's metrics")
	promote := fs.Bool("promote", false, "register: make the version production (the registry alias only; the endpoint already serves it)")
	reason := fs.String("reason", "imported: served before Vigil", "register: why, recorded with the version")
	actor := fs.String("actor", actorName(), "register: who")
	fs.Usage = func() { usage(); fmt.Fprintln(stderr, "\nFlags:"); fs.PrintDefaults() }
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("models %s: unexpected arguments: %v", sub, fs.Args())
	}
	cfg, reg, err := openRegistry(ctx, *configPath)
	if err != nil {
		return err
	}
	switch sub {
	case "list":
		if *model == "" {
			return listModels(ctx, cfg, reg, stdout)
		}
		return listVersions(ctx, reg, *model, stdout)
	case "history":
		if *model == "" {
			return errors.New("models history: -model is required")
		}
		return printHistory(ctx, reg, *model, stdout)
	case "register":
		return registerExisting(ctx, cfg, reg, *model, *artifact, *metricsFile, *promote, *actor, *reason, stdout)
	case "show":
		if *model == "" {
			return errors.New("models show: -model is required")
		}
		var v registry.Version
		if *version == 0 {
			v, err = reg.Resolve(ctx, *model, registry.AliasProduction)
		} else {
			v, err = reg.Get(ctx, *model, *version)
		}
		if err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	usage()
	return fmt.Errorf("models: unknown subcommand %q (want list, history, show or register)", sub)
}

// registerExisting imports a model that serves already (trained outside
// Vigil) as a version, so retraining has a registered champion and
// rollback a version to return to. Idempotent by artifact: its run id is
// derived from the URI, so running it twice registers one version.
func registerExisting(ctx context.Context, cfg *config.Config, reg *registry.Registry, model, artifact, metricsFile string, promote bool, actor, reason string, stdout io.Writer) error {
	if model == "" || artifact == "" {
		return errors.New("models register: -model and -artifact are required")
	}
	if cfg.Model(model) == nil {
		return fmt.Errorf("models register: model %q is not in the config %s", model, cfg.File)
	}
	if !strings.Contains(artifact, "://") {
		return fmt.Errorf("models register: -artifact %q: want a URI (s3://bucket/key, file:///path)", artifact)
	}
	v := registry.Version{RunID: fmt.Sprintf("import-%x", sha256.Sum256([]byte(artifact)))[:len("import-")+16], Trainer: "import",
		ArtifactURI: artifact, Reason: reason, CodeVersion: train.CodeVersion(nil)}
	if metricsFile != "" {
		data, err := os.ReadFile(metricsFile)
		if err != nil {
			return fmt.Errorf("models register: -metrics: %w", err)
		}
		var raw map[string]any
		if err := json.Unmarshal(data, &raw); err != nil {
			return fmt.Errorf("models register: %s: want a JSON object of numbers: %w", metricsFile, err)
		}
		v.Metrics = map[string]float64{}
		for k, x := range raw {
			f, ok := x.(float64)
			if !ok {
				return fmt.Errorf("models register: %s: %q is not a number", metricsFile, k)
			}
			v.Metrics[k] = f
		}
	}
	got, err := reg.Register(ctx, model, v)
	if err != nil {
		return fmt.Errorf("models register: %w", err)
	}
	if got.ArtifactURI != artifact {
		return fmt.Errorf("models register: run id %s is version %d with artifact %s", v.RunID, got.Version, got.ArtifactURI)
	}
	fmt.Fprintf(stdout, "%s: registered %s as version %d\n", model, artifact, got.Version)
	if !promote {
		return nil
	}
	prev, err := reg.SetAlias(ctx, model, registry.AliasProduction, got.Version, actor, reason)
	if err != nil {
		return fmt.Errorf("models register: promote: %w", err)
	}
	if prev == got.Version {
		fmt.Fprintf(stdout, "%s: version %d already is production\n", model, got.Version)
		return nil
	}
	fmt.Fprintf(stdout, "%s: production %s → %d\n", model, versionOrNone(prev), got.Version)
	return recordAliasMove(ctx, cfg, reg, model, registry.AliasProduction, prev, got.Version, actor, reason)
}

// cmdPromote implements `starter promote -model M -version V -reason ...`:
// it makes V the production version, updating the SageMaker endpoint too
// when the model's retrain section configures one. It is a direct operation
// for operators; automatic promotion happens inside RetrainWorkflow.
func cmdPromote(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("promote", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := configFlag(fs)
	model := fs.String("model", "", "model name (required)")
	version := fs.Int("version", 0, "version to make production (required)")
	reason := fs.String("reason", "", "why; recorded in the alias history (required)")
	actor := fs.String("actor", actorName(), "who is promoting")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: starter promote [-config vigil.yaml] -model M -version V -reason TEXT [-actor NAME]\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *model == "" || *version <= 0 || *reason == "" {
		fs.Usage()
		return errors.New("promote: -model, -version and -reason are required")
	}
	cfg, reg, err := openRegistry(ctx, *configPath)
	if err != nil {
		return err
	}
	p := &train.Promoter{Registry: reg}
	if m := cfg.Model(*model); m != nil && m.Retrain != nil {
		if p.Deployer, err = train.NewDeployer(ctx, m.Retrain, train.Deps{}); err != nil {
			return err
		}
	}
	pr, err := p.Promote(ctx, *model, *version, *actor, *reason, func(msg string) { fmt.Fprintln(stderr, msg) })
	if err != nil {
		return err
	}
	if pr.Previous == pr.Version {
		fmt.Fprintf(stdout, "%s: version %d already is production\n", *model, pr.Version)
		return nil
	}
	fmt.Fprintf(stdout, "%s: production %s → %d", *model, versionOrNone(pr.Previous), pr.Version)
	if pr.Deployment != nil {
		fmt.Fprintf(stdout, " (endpoint %s on %s)", pr.Deployment.Endpoint, pr.Deployment.EndpointConfig)
	}
	fmt.Fprintln(stdout)
	return recordAliasMove(ctx, cfg, reg, *model, registry.AliasProduction, pr.Previous, pr.Version, *actor, *reason)
}

// openRegistry loads the config (secrets are not needed) and opens the
// registry at storage.registry.
func openRegistry(ctx context.Context, path string) (*config.Config, *registry.Registry, error) {
	cfg, err := loadConfig(path, config.Options{SkipEnv: true})
	if err != nil {
		return nil, nil, err
	}
	reg, err := registryOf(ctx, cfg)
	return cfg, reg, err
}

// registryOf opens the registry at the config's storage.registry.
func registryOf(ctx context.Context, cfg *config.Config) (*registry.Registry, error) {
	blobs, err := store.New(cfg.Storage).Blobs(ctx, cfg.Storage.Registry)
	if err != nil {
		return nil, fmt.Errorf("open registry %s: %w", cfg.Storage.Registry, err)
	}
	return registry.New(blobs), nil
}

func listModels(ctx context.Context, cfg *config.Config, reg *registry.Registry, stdout io.Writer) error {
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tVERSIONS\tPRODUCTION\tALIASES\tLATEST")
	names := make([]string, 0, len(cfg.Models))
	for _, m := range cfg.Models {
		names = append(names, m.Name)
	}
	sort.Strings(names)
	for _, name := range names {
		m, err := reg.Model(ctx, name)
		if errors.Is(err, registry.ErrNotFound) {
			fmt.Fprintf(tw, "%s\t0\t-\t-\t-\n", name)
			continue
		}
		if err != nil {
			return err
		}
		var aliases []string
		for _, a := range m.SortedAliases() {
			aliases = append(aliases, fmt.Sprintf("%s=%d", a, m.Aliases[a]))
		}
		latest := m.Versions[len(m.Versions)-1]
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d (%s, %s)\n", name, len(m.Versions), versionOrNone(m.Aliases[registry.AliasProduction]),
			dashIfEmpty(strings.Join(aliases, " ")), latest.Version, latest.Status, latest.Created.Format(time.RFC3339))
	}
	return tw.Flush()
}

func listVersions(ctx context.Context, reg *registry.Registry, model string, stdout io.Writer) error {
	m, err := reg.Model(ctx, model)
	if err != nil {
		return err
	}
	aliasesOf := map[int][]string{}
	for _, a := range m.SortedAliases() {
		aliasesOf[m.Aliases[a]] = append(aliasesOf[m.Aliases[a]], a)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tSTATUS\tALIASES\tCREATED\tTRAINER\tMETRICS\tRUN")
	for i := len(m.Versions) - 1; i >= 0; i-- {
		v := m.Versions[i]
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", v.Version, v.Status, dashIfEmpty(strings.Join(aliasesOf[v.Version], ",")),
			v.Created.Format(time.RFC3339), v.Trainer, dashIfEmpty(formatVersionMetrics(v.Metrics)), v.RunID)
	}
	return tw.Flush()
}

func printHistory(ctx context.Context, reg *registry.Registry, model string, stdout io.Writer) error {
	m, err := reg.Model(ctx, model)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tALIAS\tFROM\tTO\tACTOR\tREASON")
	for i := len(m.History) - 1; i >= 0; i-- {
		h := m.History[i]
		reason := h.Reason
		if h.Rollback {
			reason = "[rollback] " + reason
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", h.Time.Format(time.RFC3339), h.Alias, versionOrNone(h.From), versionOrNone(h.To), h.Actor, reason)
	}
	return tw.Flush()
}

func formatVersionMetrics(m map[string]float64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+"="+strconv.FormatFloat(m[k], 'g', 4, 64))
	}
	return strings.Join(parts, " ")
}

func versionOrNone(v int) string {
	if v == 0 {
		return "none"
	}
	return strconv.Itoa(v)
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func actorName() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "unknown"
}
