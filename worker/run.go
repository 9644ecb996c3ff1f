package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/vigilml/vigil/activities"
	"github.com/vigilml/vigil/codec"
	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/control"
	"github.com/vigilml/vigil/dashboard"
	vdial "github.com/vigilml/vigil/internal/dial"
	"github.com/vigilml/vigil/internal/metrics"
	"github.com/vigilml/vigil/internal/tensorboard"
	"github.com/vigilml/vigil/notify/integrations"
	"github.com/vigilml/vigil/store"
	"github.com/vigilml/vigil/store/ingest"
	"github.com/vigilml/vigil/train"
	"github.com/vigilml/vigil/train/lifecycle"
	"github.com/vigilml/vigil/train/registry"
	"github.com/vigilml/vigil/workflows"
)

// Worker is a running Vigil worker; tests get it through options.ready.
type Worker struct {
	Config   *config.Config
	Client   client.Client
	Dev      devServer
	HTTPAddr string
	// CodecEndpoint is the codec server's URL (http://<http_addr>/codec)
	// when it is served, else "".
	CodecEndpoint string
	Store         *store.Store
	Registry      *prometheus.Registry
	// BuildID is this worker's version in temporal.deployment, or "".
	BuildID string
	ready   atomic.Bool
}

func loadConfig(o options) (*config.Config, error) {
	if o.configPath == "" {
		if !o.dev {
			return nil, errors.New("-config is required (or run with -dev for the built-in demo)")
		}
		dir := o.dataDir
		if dir == "" {
			dir = config.DefaultDataDir
		}
		return config.Demo(dir)
	}
	cfg, err := config.Load(o.configPath, config.Options{})
	if err != nil {
		return nil, err
	}
	if o.dataDir != "" {
		cfg.Dev.DataDir = o.dataDir
	}
	return cfg, nil
}

func run(ctx context.Context, o options, stdout io.Writer) error {
	if o.dev && !devBuilt {
		return errNoDev
	}
	log, err := newLogger(o)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(o)
	if err != nil {
		return err
	}
	w := &Worker{Config: cfg, Registry: metrics.NewRegistry()}
	deployment := cfg.Temporal.Deployment.Name
	if deployment != "" {
		if w.BuildID, err = buildID(o.buildID, debug.ReadBuildInfo); err != nil {
			return err
		}
		log.Info("worker versioning on", "deployment", deployment, "build_id", w.BuildID)
	}
	sentryRep, err := newSentry(cfg, w.BuildID, os.Getenv)
	if err != nil {
		return err
	}
	if sentryRep != nil {
		log = slog.New(sentryRep.Handler(log.Handler()))
		defer sentryRep.Flush(5 * time.Second)
		log.Info("reporting errors to Sentry", "dsn_env", cfg.Observability.Sentry.DSNEnv)
	}
	started := time.Now()
	enc, err := newEncryption(cfg, o.dev, os.Getenv)
	if err != nil {
		return err
	}
	if enc != nil {
		log.Info("payload encryption on", "key_id", enc.codec.KeyID(), "decrypts_key_ids", enc.codec.KeyIDs())
	}

	// Listen before the dev server starts, so that its Web UI can be given
	// the codec endpoint's address.
	addr := cfg.Worker.HTTPAddr
	if o.httpPort != 0 {
		addr = fmt.Sprintf("127.0.0.1:%d", o.httpPort)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on worker.http_addr %s: %w", addr, err)
	}
	defer ln.Close()
	w.HTTPAddr = ln.Addr().String()
	var uiCodec string
	if enc.serve() {
		w.CodecEndpoint = "http://" + browserAddr(ln.Addr()) + "/codec"
		if enc.token == "" {
			uiCodec = w.CodecEndpoint
		} else if o.dev {
			log.Warn("the embedded Web UI cannot send temporal.encryption.codec_server.token_env's token, so it shows payloads encrypted; use the temporal CLI with --codec-auth")
		}
	}

	if o.dev {
		if o.frontendPort != 0 {
			cfg.Dev.FrontendPort = o.frontendPort
		}
		if o.uiPort != 0 {
			cfg.Dev.UIPort = o.uiPort
		}
		w.Dev, err = startDev(ctx, cfg, uiCodec, log)
		if err != nil {
			return err
		}
		defer func() {
			if err := w.Dev.Stop(); err != nil {
				log.Warn("stop embedded temporal", "err", err)
			}
		}()
		cfg.Temporal.Address = w.Dev.Address()
		if w.Dev.UIURL() != "" {
			cfg.Temporal.UIURL = w.Dev.UIURL()
		}
	}

	w.Client, err = dial(ctx, cfg, log, w.Registry, enc.dataConverter())
	if err != nil {
		return err
	}
	defer w.Client.Close()
	// Registering search attributes needs operator rights; a worker without
	// them still works, the UI filters just won't.
	if err := (&control.Client{C: w.Client}).EnsureSearchAttributes(ctx, cfg.Temporal.Namespace); err != nil {
		log.Warn("could not register Vigil's search attributes; run `starter apply` with operator rights", "err", err)
	}

	w.Store = store.New(cfg.Storage, store.WithLogger(log))
	notifiers, err := integrations.Build(cfg.Notify, os.Getenv, log)
	if err != nil {
		return fmt.Errorf("notifiers: %w", err)
	}
	mopts := metrics.Options{MaxFeatures: cfg.Observability.MaxFeatures}
	if dd := cfg.Observability.Datadog; dd != nil && dd.Address != "" {
		sd, err := metrics.NewDogStatsD(*dd)
		if err != nil {
			return fmt.Errorf("observability.datadog: %w", err)
		}
		defer sd.Close()
		mopts.StatsD = sd
	}
	pub := metrics.New(w.Registry, mopts)
	for _, m := range cfg.Models {
		pub.Cadence(m.Name, m.Schedule.Every.D())
	}
	blobs, err := w.Store.Blobs(ctx, cfg.Storage.Registry)
	if err != nil {
		return fmt.Errorf("model registry at %s: %w", cfg.Storage.Registry, err)
	}
	reg := registry.New(blobs)
	wfClient := &control.Client{C: w.Client, TaskQueue: cfg.Temporal.TaskQueue}
	acts := &activities.Activities{
		Config:    func() *config.Config { return cfg },
		Store:     w.Store,
		Notifiers: notifiers,
		Workflows: wfClient,
		Metrics:   pub,
		Logger:    log,
		Models:    lifecycle.New(func() *config.Config { return cfg }, w.Store, reg, train.Deps{Getenv: os.Getenv}, log),
	}
	if acts.Models, err = withMLflow(cfg, acts.Models, reg, os.Getenv, log); err != nil {
		return err
	}
	if tb := cfg.Observability.TensorBoard; tb != nil && tb.LogDir != "" {
		acts.Sinks = append(acts.Sinks, &tensorboard.Sink{LogDir: tb.LogDir, Put: w.Store.PutObject})
	}
	startAudit(ctx, cfg, w.Store, reg, acts, wfClient, log)

	wopts := workerOptions(cfg, w.BuildID, o.stopTimeout)
	if sentryRep != nil {
		wopts.Interceptors = append(wopts.Interceptors, sentryRep.Interceptor())
	}
	tw := worker.New(w.Client, cfg.Temporal.TaskQueue, wopts)
	register(tw, acts, deployment != "")
	if err := tw.Start(); err != nil {
		return fmt.Errorf("start worker on task queue %s: %w", cfg.Temporal.TaskQueue, err)
	}
	defer tw.Stop()
	// Shards of sharded windows come on a queue of their own, taken at most
	// shard_slots at a time, which bounds this process's memory and leaves
	// the rest in the queue for other workers.
	sopts := wopts
	sopts.MaxConcurrentActivityExecutionSize = cmp.Or(cfg.Analysis.ShardSlots, runtime.GOMAXPROCS(0))
	shardQueue := workflows.ShardTaskQueue(cfg.Temporal.TaskQueue)
	sw := worker.New(w.Client, shardQueue, sopts)
	sw.RegisterActivity(acts)
	if err := sw.Start(); err != nil {
		return fmt.Errorf("start worker on task queue %s: %w", shardQueue, err)
	}
	defer sw.Stop()
	if deployment != "" {
		if cfg.Temporal.Deployment.SetCurrent {
			if err := promote(ctx, w.Client, deployment, w.BuildID, log); err != nil {
				return err
			}
		} else {
			warnIfNotCurrent(ctx, w.Client, deployment, w.BuildID, log)
		}
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, _ *http.Request) { fmt.Fprintln(rw, "ok") })
	mux.HandleFunc("GET /readyz", func(rw http.ResponseWriter, _ *http.Request) {
		if !w.ready.Load() {
			http.Error(rw, "starting", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(rw, "ready")
	})
	mux.Handle("GET /metrics", metrics.Handler(w.Registry))
	var token string
	if cfg.Worker.IngestTokenEnv != "" {
		token = os.Getenv(cfg.Worker.IngestTokenEnv)
	}
	mux.Handle("/v1/", ingest.New(cfg.Models, w.Store, ingest.Options{Token: token, Logger: log,
		MaxBody: cfg.Worker.Ingest.MaxBodyBytes, MaxLine: cfg.Worker.Ingest.MaxRecordBytes,
		RateLimit: cfg.Worker.Ingest.RatePerSecond, Burst: cfg.Worker.Ingest.Burst}))
	// Temporary files of ingest writes a killed worker left behind.
	go sweepIngestTemps(cfg.Models, log)
	mountRunAPI(mux, cfg, wfClient, log)
	if err := startKafkaConsumers(ctx, cfg, w.Store, log); err != nil {
		return fmt.Errorf("kafka ingest: %w", err)
	}
	if h, err := integrations.SlackInteractions(cfg.Notify, os.Getenv, slackActions{wfClient}, log); err != nil {
		return fmt.Errorf("slack interactivity: %w", err)
	} else if h != nil {
		mux.Handle("POST /slack/interactions", h)
	}
	var dashToken string
	if cfg.Worker.Dashboard.TokenEnv != "" {
		dashToken = os.Getenv(cfg.Worker.Dashboard.TokenEnv)
	}
	loader, renderer := newDashboard(ctx, cfg, w.Store, reg, w.Client, enc.dataConverter(), wfClient, log)
	dash := dashboard.Handler(loader, renderer, dashToken)
	mux.Handle("GET /{$}", dash)
	mux.Handle("/models/", dash)
	if w.CodecEndpoint != "" {
		mux.Handle("/codec/", codec.NewHandler(enc.codec, codec.HandlerOptions{
			AllowedOrigins: enc.origins(w.Dev), Token: enc.token,
		}))
	}
	// Bounded so a slow or stalled client cannot hold connections forever
	// (the dashboard's pages too);
	// ingest bodies are at most a few MiB (ingest.Options.MaxBody).
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", "err", err)
		}
	}()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()

	if o.dev {
		changes, err := control.ApplySchedules(ctx, w.Client, enc.dataConverter(), cfg, false)
		for _, c := range changes {
			log.Info("schedule", "model", c.Model, "id", c.ID, "action", c.Action)
		}
		if err != nil {
			// The worker still serves the models that are scheduled; the
			// rest are applied at the next start or by `starter apply`.
			log.Error("some schedules were not applied", "err", err)
		}
	}
	if o.demoTraffic && cfg.Model(demoModel) != nil {
		d := &demoTraffic{cfg: cfg, reg: reg, ingestURL: "http://" + w.HTTPAddr, driftAfter: o.demoDriftAfter,
			rate: o.demoRate, tick: o.demoTick, log: log.With("component", "demo"), revertOnChallenger: o.demoRevertOnChallenger}
		go func() {
			if err := d.run(ctx); err != nil {
				log.Error("demo traffic stopped", "err", err)
			}
		}()
	}
	if o.dev {
		source := builtInDemo
		if o.configPath != "" {
			source = o.configPath
		}
		if path, err := writeDevConfig(cfg, w.HTTPAddr, source); err != nil {
			// Only `starter` without -config needs it.
			log.Warn("could not write the dev config for starter; pass starter -config", "err", err)
		} else {
			log.Info("wrote the config this worker runs, for starter", "path", path)
		}
	}
	models := make([]string, len(cfg.Models))
	for i, m := range cfg.Models {
		models[i] = m.Name
	}
	go watchSchedules(ctx, w.Client.ScheduleClient(), models, pub, log)
	w.ready.Store(true)
	log.Info("worker ready", "task_queue", cfg.Temporal.TaskQueue, "temporal", cfg.Temporal.Address,
		"http", "http://"+w.HTTPAddr, "models", len(cfg.Models), "took", time.Since(started).Round(time.Millisecond))
	if o.dev {
		printDevBanner(stdout, w)
	}
	if o.ready != nil {
		o.ready <- w
	}
	<-ctx.Done()
	log.Info("shutting down")
	return nil
}

// register puts every workflow and activity on the worker; workflows are
// registered by function, activities as the struct's methods.
//
// A versioned worker declares each workflow's behavior. Monitor, retrain and
// rollback runs are bounded and pinned: they finish on the build that started
// them, so their code may change freely between builds. Incident workflows
// live for months and auto-upgrade to the current build at their next task;
// their changes must stay replay-safe with workflow.GetVersion.
func register(r worker.Registry, acts *activities.Activities, versioned bool) {
	pinned := workflow.RegisterOptions{}
	upgrade := workflow.RegisterOptions{}
	if versioned {
		pinned.VersioningBehavior = workflow.VersioningBehaviorPinned
		upgrade.VersioningBehavior = workflow.VersioningBehaviorAutoUpgrade
	}
	r.RegisterWorkflowWithOptions(workflows.MonitorWorkflow, pinned)
	r.RegisterWorkflowWithOptions(workflows.IncidentWorkflow, upgrade)
	r.RegisterWorkflowWithOptions(workflows.RetrainWorkflow, pinned)
	r.RegisterWorkflowWithOptions(workflows.RollbackWorkflow, pinned)
	r.RegisterActivity(acts)
}

// dial connects to Temporal; dc is nil without payload encryption.
func dial(ctx context.Context, cfg *config.Config, log *slog.Logger, reg prometheus.Registerer, dc converter.DataConverter) (client.Client, error) {
	opts, err := vdial.Options(cfg.Temporal, os.Getenv)
	if err != nil {
		return nil, err
	}
	opts.Logger = sdklog.NewStructuredLogger(log.With("component", "temporal-sdk"))
	opts.MetricsHandler = metrics.TemporalHandler(reg)
	opts.DataConverter = dc
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := client.DialContext(dctx, opts)
	if err != nil {
		return nil, fmt.Errorf("dial temporal at %s (namespace %s): %w", cfg.Temporal.Address, cfg.Temporal.Namespace, err)
	}
	return c, nil
}

// slackActions turns Slack button clicks into incident Updates.
type slackActions struct{ c *control.Client }

func (s slackActions) Ack(ctx context.Context, model, rule, actor string) error {
	_, err := s.c.Ack(ctx, model, rule, actor)
	return err
}

func (s slackActions) Silence(ctx context.Context, model, rule string, d time.Duration, actor string) error {
	_, err := s.c.Silence(ctx, model, rule, d, actor)
	return err
}

func printDevBanner(out io.Writer, w *Worker) {
	cfg := w.Config
	fmt.Fprintf(out, `
  Vigil dev mode is up.

  Temporal Web UI   %s/namespaces/%s/workflows
  Temporal frontend %s   (temporal CLI: --address %s)
  Dashboard         %s
  Worker HTTP       http://%s   (/healthz, /metrics, ingest)
%s  State             %s

  Try:
    temporal schedule list --address %s
    temporal workflow list --address %s --query 'VigilStatus="breach"'
    go run ./starter list
    go run ./starter trigger -model %s

`, cfg.Temporal.UIURL, cfg.Temporal.Namespace, cfg.Temporal.Address, cfg.Temporal.Address, dashboardURL(w), w.HTTPAddr,
		codecBanner(w), absDir(cfg.Dev.DataDir), cfg.Temporal.Address, cfg.Temporal.Address, firstModel(cfg))
}

// dashboardURL is where the dashboard is reached: worker.public_url, else
// the HTTP address.
func dashboardURL(w *Worker) string {
	if u := w.Config.Worker.PublicURL; u != "" {
		return strings.TrimRight(u, "/") + "/"
	}
	return "http://" + w.HTTPAddr + "/"
}

func firstModel(cfg *config.Config) string {
	if len(cfg.Models) == 0 {
		return "<model>"
	}
	return cfg.Models[0].Name
}

func codecBanner(w *Worker) string {
	if w.CodecEndpoint == "" {
		return ""
	}
	return fmt.Sprintf("  Codec server      %s   (payloads are encrypted; temporal CLI: --codec-endpoint %s)\n",
		w.CodecEndpoint, w.CodecEndpoint)
}

// sweepIngestTemps removes, under every local source and ground-truth
// location, the temporary files of writes a killed worker left (each
// later write also sweeps its own directory).
func sweepIngestTemps(models []config.Model, log *slog.Logger) {
	for _, m := range models {
		for _, uri := range []string{m.Source.URI, m.GroundTruth.URI} {
			if uri == "" {
				continue
			}
			n, err := store.SweepTemps(uri)
			if err != nil {
				log.Warn("sweep temporary files", "model", m.Name, "uri", uri, "err", err)
			} else if n > 0 {
				log.Info("removed temporary files of interrupted writes", "model", m.Name, "uri", uri, "files", n)
			}
		}
	}
}

// devServer is the embedded Temporal server of -dev (internal/devserver).
// The worker names it through this interface so that a build with -tags
// nodev links no Temporal server code at all.
type devServer interface {
	Address() string
	UIURL() string
	Client(ctx context.Context) (client.Client, error)
	Stop() error
}

// errNoDev is -dev in a worker built with -tags nodev.
var errNoDev = errors.New("-dev needs the embedded Temporal server, and this worker was built without it (-tags nodev, as the container image is): " +
	"run `go run ./worker -dev` from the source tree, or run this one with -config against a Temporal server (temporal.address)")
