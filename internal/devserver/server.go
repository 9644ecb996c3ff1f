package devserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uioptions "github.com/temporalio/ui-server/v2/server/server_options"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
	"google.golang.org/protobuf/types/known/durationpb"
)

const (
	host        = "127.0.0.1"
	clusterName = "active"
)

// Options configure the embedded server.
type Options struct {
	// DBFile is the SQLite file; it is created with the schema on first use.
	DBFile string
	// FrontendPort is the gRPC port clients dial; 0 picks a free one.
	FrontendPort int
	// UIPort serves the Web UI; 0 picks a free one, -1 runs no UI.
	UIPort int
	// CodecEndpoint, when set, is the codec server the Web UI decodes
	// payloads with (its browser calls <endpoint>/decode).
	CodecEndpoint string
	// Namespace is created on first start.
	Namespace string
	// Retention is how long closed workflows stay visible.
	Retention time.Duration
	// SearchAttributes are registered on the namespace when it is created.
	SearchAttributes map[string]enumspb.IndexedValueType
	// Logger receives the server's warnings and errors; nil discards them.
	Logger *slog.Logger
}

// Server is a running embedded Temporal server.
type Server struct {
	opts     Options
	server   temporal.Server
	ui       *uiserver.Server
	frontend string
	uiAddr   string
	stopping atomic.Bool
}

// Start starts the server and waits until it serves the namespace with its
// search attributes. The caller must Stop it.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.DBFile == "" || opts.Namespace == "" {
		return nil, errors.New("devserver: DBFile and Namespace are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Retention < 24*time.Hour {
		opts.Retention = 24 * time.Hour
	}
	if err := os.MkdirAll(filepath.Dir(opts.DBFile), 0o755); err != nil {
		return nil, fmt.Errorf("devserver: create data dir: %w", err)
	}
	ports, err := freePorts(5)
	if err != nil {
		return nil, err
	}
	if opts.FrontendPort == 0 {
		opts.FrontendPort = ports[0]
	} else if err := portFree(opts.FrontendPort); err != nil {
		return nil, fmt.Errorf("devserver: frontend port %d is taken (another Temporal or `worker -dev` running?): %w", opts.FrontendPort, err)
	}
	s := &Server{opts: opts, frontend: fmt.Sprintf("%s:%d", host, opts.FrontendPort)}

	sqlConf := &config.SQL{
		PluginName:   sqliteplugin.PluginName,
		DatabaseName: opts.DBFile,
		// The plugin turns unknown keys into pragmas, by their exact name:
		// WAL lets readers run beside the one writer, and synchronous=normal
		// is safe with WAL (a crash loses at most the last commits, never
		// corrupts). Measured: 2.6× faster at 1,000 models (bench/scale.md).
		ConnectAttributes: map[string]string{"mode": "rwc", "journal_mode": "wal", "synchronous": "normal"},
	}
	if err := prepareDB(sqlConf, opts); err != nil {
		return nil, err
	}

	grpcPorts := map[primitives.ServiceName]int{
		primitives.FrontendService: opts.FrontendPort,
		primitives.HistoryService:  ports[1],
		primitives.MatchingService: ports[2],
		primitives.WorkerService:   ports[3],
	}
	conf := serverConfig(sqlConf, grpcPorts, ports[4])
	// Static membership: with ringpop, a restart on the same file waits about
	// a minute for the hosts of the previous run to time out.
	hosts := map[primitives.ServiceName]static.Hosts{}
	for svc, port := range grpcPorts {
		hosts[svc] = static.SingleLocalHost(fmt.Sprintf("%s:%d", host, port))
	}
	logger := slogAdapter{l: opts.Logger.With("component", "temporal-server"), stopping: &s.stopping}
	authorizer, err := authorization.GetAuthorizerFromConfig(&conf.Global.Authorization)
	if err != nil {
		return nil, fmt.Errorf("devserver: authorizer: %w", err)
	}
	claimMapper, err := authorization.GetClaimMapperFromConfig(&conf.Global.Authorization, logger)
	if err != nil {
		return nil, fmt.Errorf("devserver: claim mapper: %w", err)
	}
	s.server, err = temporal.NewServer(
		temporal.WithConfig(conf),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithStaticHosts(hosts),
		temporal.WithLogger(logger),
		temporal.WithAuthorizer(authorizer),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return claimMapper }),
		temporal.WithDynamicConfigClient(dynamicconfig.StaticClient{
			// Vigil lists workflows by search attribute a lot; the default
			// visibility rate limit is tuned for large clusters.
			dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 200,
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("devserver: new server: %w", err)
	}
	if err := s.server.Start(); err != nil {
		return nil, fmt.Errorf("devserver: start: %w", err)
	}
	if err := s.ensureNamespace(ctx); err != nil {
		_ = s.server.Stop()
		return nil, err
	}
	if opts.UIPort >= 0 {
		if err := s.startUI(ports); err != nil {
			_ = s.server.Stop()
			return nil, err
		}
	}
	return s, nil
}

func prepareDB(sqlConf *config.SQL, opts Options) error {
	if _, err := os.Stat(opts.DBFile); errors.Is(err, os.ErrNotExist) {
		if err := sqliteschema.SetupSchema(sqlConf); err != nil {
			return fmt.Errorf("devserver: create schema in %s: %w", opts.DBFile, err)
		}
	}
	ns, err := sqliteschema.NewNamespaceConfig(clusterName, opts.Namespace, false, opts.SearchAttributes)
	if err != nil {
		return fmt.Errorf("devserver: namespace config: %w", err)
	}
	ns.Detail.Config.Retention = durationpb.New(opts.Retention)
	// A no-op when the namespace exists; ensureNamespace updates it then.
	if err := sqliteschema.CreateNamespaces(sqlConf, ns); err != nil {
		return fmt.Errorf("devserver: create namespace %s: %w", opts.Namespace, err)
	}
	return nil
}

func serverConfig(sqlConf *config.SQL, grpcPorts map[primitives.ServiceName]int, httpPort int) *config.Config {
	var c config.Config
	c.Global.Membership.MaxJoinDuration = 30 * time.Second
	c.Global.Membership.BroadcastAddress = host
	c.Persistence.DefaultStore = "sqlite"
	c.Persistence.VisibilityStore = "sqlite"
	c.Persistence.NumHistoryShards = 1
	c.Persistence.DataStores = map[string]config.DataStore{"sqlite": {SQL: sqlConf}}
	frontend := fmt.Sprintf("%s:%d", host, grpcPorts[primitives.FrontendService])
	c.ClusterMetadata = &cluster.Config{
		FailoverVersionIncrement: 10,
		MasterClusterName:        clusterName,
		CurrentClusterName:       clusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{
			clusterName: {
				Enabled:                true,
				InitialFailoverVersion: 1,
				RPCAddress:             frontend,
				HTTPAddress:            fmt.Sprintf("%s:%d", host, httpPort),
			},
		},
	}
	c.DCRedirectionPolicy.Policy = "noop"
	c.Services = map[string]config.Service{}
	for svc, port := range grpcPorts {
		rpc := config.RPC{GRPCPort: port, BindOnIP: host}
		if svc == primitives.FrontendService {
			rpc.HTTPPort = httpPort
		}
		c.Services[string(svc)] = config.Service{RPC: rpc}
	}
	c.Archival.History.State = "disabled"
	c.Archival.Visibility.State = "disabled"
	c.NamespaceDefaults.Archival.History.State = "disabled"
	c.NamespaceDefaults.Archival.Visibility.State = "disabled"
	c.PublicClient.HostPort = frontend
	return &c
}

// ensureNamespace brings an existing namespace's retention up to the
// options. Search attributes are registered at creation; callers add ones
// that a newer version introduced through the operator API.
func (s *Server) ensureNamespace(ctx context.Context) error {
	c, err := s.Client(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	ns, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: s.opts.Namespace})
	if err != nil {
		return fmt.Errorf("devserver: describe namespace: %w", err)
	}
	if ns.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration() != s.opts.Retention {
		cfg := ns.GetConfig()
		cfg.WorkflowExecutionRetentionTtl = durationpb.New(s.opts.Retention)
		if _, err := c.WorkflowService().UpdateNamespace(ctx, &workflowservice.UpdateNamespaceRequest{
			Namespace: s.opts.Namespace, Config: cfg,
		}); err != nil {
			return fmt.Errorf("devserver: update namespace retention: %w", err)
		}
	}
	return nil
}

func (s *Server) startUI(ports []int) error {
	port := s.opts.UIPort
	if port == 0 {
		var err error
		if port, err = freePort(); err != nil {
			return err
		}
	} else if err := portFree(port); err != nil {
		return fmt.Errorf("devserver: UI port %d is taken: %w", port, err)
	}
	s.uiAddr = fmt.Sprintf("%s:%d", host, port)
	s.ui = uiserver.NewServer(uioptions.WithConfigProvider(&uiconfig.Config{
		Host:                host,
		Port:                port,
		TemporalGRPCAddress: s.frontend,
		EnableUI:            true,
		DefaultNamespace:    s.opts.Namespace,
		CORS:                uiconfig.CORS{CookieInsecure: true},
		HideLogs:            true,
		DisableNewsFetch:    true, // no network beyond loopback is assumed
		Codec:               uiconfig.Codec{Endpoint: s.opts.CodecEndpoint},
	}))
	go func() {
		// Start blocks until Stop; it only returns an error we can't act on.
		if err := s.ui.Start(); err != nil {
			s.opts.Logger.Error("temporal UI stopped", "err", err)
		}
	}()
	return waitHTTP(s.uiAddr, 10*time.Second)
}

// Address is the frontend's host:port.
func (s *Server) Address() string { return s.frontend }

// UIURL is the Web UI's base URL, or "" without a UI.
func (s *Server) UIURL() string {
	if s.uiAddr == "" {
		return ""
	}
	return "http://" + s.uiAddr
}

// Client dials the server in its namespace.
func (s *Server) Client(ctx context.Context) (client.Client, error) {
	return client.DialContext(ctx, client.Options{
		HostPort:  s.frontend,
		Namespace: s.opts.Namespace,
		Logger:    slogSDK(s.opts.Logger),
	})
}

// Stop stops the UI and the server; the SQLite file keeps everything.
func (s *Server) Stop() error {
	s.stopping.Store(true)
	if s.ui != nil {
		s.ui.Stop()
	}
	return s.server.Stop()
}

func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", host+":0")
		if err != nil {
			return nil, fmt.Errorf("devserver: find a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func freePort() (int, error) {
	p, err := freePorts(1)
	if err != nil {
		return 0, err
	}
	return p[0], nil
}

func portFree(port int) error {
	l, err := net.Listen("tcp", fmt.Sprintf("%s:%d", host, port))
	if err != nil {
		return err
	}
	return l.Close()
}

func waitHTTP(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			return conn.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("devserver: UI did not start on %s: %w", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
