// Package deploy holds the files that run Vigil outside `worker -dev`: the
// docker-compose stack's support files (deploy/compose), Prometheus rules and
// config, the Grafana dashboard, and the three ways to run the worker for
// real: the Helm chart (helm/vigil), the Terraform module for AWS
// (terraform/aws) and the Ansible playbook (ansible). The compose file and
// the Dockerfile live at the repository root.
//
// No Docker engine is needed for these tests: they check that the pieces of
// the stack agree with each other — service names, ports, mounts, buckets —
// and that the Dockerfile's builds compile. With the compose plugin installed
// they also run `docker compose config`.
package deploy

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/vigilml/vigil/config"
)

// root is the repository root, relative to this package's directory.
const root = ".."

const (
	workerService     = "vigil-worker"
	temporalService   = "temporal"
	uiService         = "temporal-ui"
	minioService      = "minio"
	minioInitService  = "minio-init"
	prometheusService = "prometheus"
	grafanaService    = "grafana"
)

// ---------------------------------------------------------------------------
// docker-compose.yml

type composeFile struct {
	Name     string              `yaml:"name"`
	Services map[string]*service `yaml:"services"`
	Volumes  map[string]any      `yaml:"volumes"`
}

type service struct {
	Image       string         `yaml:"image"`
	Build       any            `yaml:"build"`
	Command     any            `yaml:"command"`
	Entrypoint  any            `yaml:"entrypoint"`
	DependsOn   any            `yaml:"depends_on"`
	Environment any            `yaml:"environment"`
	Volumes     []string       `yaml:"volumes"` // short syntax only: SRC:DST[:MODE]
	Ports       []string       `yaml:"ports"`   // short syntax only: [IP:]HOST:CONTAINER[/PROTO]
	Healthcheck map[string]any `yaml:"healthcheck"`
	Restart     string         `yaml:"restart"`
}

func loadCompose(t *testing.T) *composeFile {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(src, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	if len(c.Services) == 0 {
		t.Fatal("docker-compose.yml: no services")
	}
	return &c
}

func (c *composeFile) service(t *testing.T, name string) *service {
	t.Helper()
	s, ok := c.Services[name]
	if !ok {
		t.Fatalf("docker-compose.yml: no service %q (services: %s)", name, strings.Join(c.names(), ", "))
	}
	return s
}

func (c *composeFile) names() []string {
	var out []string
	for n := range c.Services {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// dependsOn returns each dependency with its condition (service_started for
// the list form).
func (s *service) dependsOn(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	switch d := s.DependsOn.(type) {
	case nil:
	case []any:
		for _, n := range d {
			out[fmt.Sprint(n)] = "service_started"
		}
	case map[string]any:
		for n, v := range d {
			cond := "service_started"
			if m, ok := v.(map[string]any); ok && m["condition"] != nil {
				cond = fmt.Sprint(m["condition"])
			}
			out[n] = cond
		}
	default:
		t.Fatalf("depends_on: unexpected %T", d)
	}
	return out
}

// env returns the service's environment as compose hands it to the
// container with an empty host environment: ${VAR:-default} becomes default.
func (s *service) env(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	switch e := s.Environment.(type) {
	case nil:
	case []any:
		for _, kv := range e {
			k, v, _ := strings.Cut(fmt.Sprint(kv), "=")
			out[k] = interpolateEmpty(v)
		}
	case map[string]any:
		for k, v := range e {
			if v == nil {
				out[k] = ""
				continue
			}
			out[k] = interpolateEmpty(fmt.Sprint(v))
		}
	default:
		t.Fatalf("environment: unexpected %T", e)
	}
	return out
}

var interpolation = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}`)

func interpolateEmpty(v string) string {
	return interpolation.ReplaceAllString(v, "$2")
}

// args returns command or entrypoint as a list (the string form split on
// spaces, enough for the files this test reads).
func args(v any) []string {
	switch a := v.(type) {
	case nil:
		return nil
	case string:
		return strings.Fields(a)
	case []any:
		out := make([]string, len(a))
		for i, x := range a {
			out[i] = fmt.Sprint(x)
		}
		return out
	}
	return []string{fmt.Sprint(v)}
}

type mount struct{ source, target, mode string }

func (m mount) bind() bool {
	return strings.HasPrefix(m.source, ".") || strings.HasPrefix(m.source, "/")
}

func (s *service) mounts() []mount {
	var out []mount
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		m := mount{source: parts[0]}
		if len(parts) > 1 {
			m.target = parts[1]
		}
		if len(parts) > 2 {
			m.mode = parts[2]
		}
		out = append(out, m)
	}
	return out
}

// mountOf returns where the service mounts the repository path rel, or "".
func (s *service) mountOf(rel string) string {
	for _, m := range s.mounts() {
		if m.bind() && filepath.Clean(m.source) == filepath.Clean("./"+rel) {
			return m.target
		}
	}
	return ""
}

type portMapping struct{ host, container int }

func (s *service) ports(t *testing.T) []portMapping {
	t.Helper()
	var out []portMapping
	for _, p := range s.Ports {
		spec, _, _ := strings.Cut(p, "/")
		parts := strings.Split(spec, ":")
		var pm portMapping
		var err error
		switch len(parts) {
		case 1: // container port only: published on a random host port
			pm.container, err = strconv.Atoi(parts[0])
		case 2, 3:
			if pm.host, err = strconv.Atoi(parts[len(parts)-2]); err == nil {
				pm.container, err = strconv.Atoi(parts[len(parts)-1])
			}
		default:
			err = fmt.Errorf("too many colons")
		}
		if err != nil {
			t.Fatalf("ports %q: %v", p, err)
		}
		out = append(out, pm)
	}
	return out
}

// listens returns the container ports other services can reach: the
// published ones, plus those the service is told to listen on through its
// environment (a worker's VIGIL_HTTP_ADDR, Temporal's PROMETHEUS_ENDPOINT).
func (s *service) listens(t *testing.T) []int {
	t.Helper()
	var out []int
	for _, p := range s.ports(t) {
		out = append(out, p.container)
	}
	env := s.env(t)
	for _, k := range []string{"VIGIL_HTTP_ADDR", "PROMETHEUS_ENDPOINT"} {
		if v := env[k]; v != "" {
			out = append(out, port(t, k, v))
		}
	}
	return out
}

func hostPort(t *testing.T, what, addr string) (string, int) {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("%s: want host:port, got %q: %v", what, addr, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("%s: port of %q: %v", what, addr, err)
	}
	return h, n
}

func port(t *testing.T, what, addr string) int {
	t.Helper()
	_, p := hostPort(t, what, addr)
	return p
}

// checkAddress requires addr (what's value) to name a compose service and a
// port that service listens on.
func checkAddress(t *testing.T, c *composeFile, what, addr, wantService string) {
	t.Helper()
	host, p := hostPort(t, what, addr)
	if host != wantService {
		t.Errorf("%s = %q: host should be the compose service %q", what, addr, wantService)
		return
	}
	if s := c.Services[host]; s == nil {
		t.Errorf("%s = %q: no compose service %q", what, addr, host)
	} else if !slices.Contains(s.listens(t), p) {
		t.Errorf("%s = %q: service %s listens on %v, not %d", what, addr, host, s.listens(t), p)
	}
}

func TestComposeDependenciesNameExistingServices(t *testing.T) {
	c := loadCompose(t)
	for name, s := range c.Services {
		for dep, cond := range s.dependsOn(t) {
			d, ok := c.Services[dep]
			if !ok {
				t.Errorf("%s depends on %q, which is not a service", name, dep)
				continue
			}
			switch cond {
			case "service_started":
			case "service_healthy":
				if d.Healthcheck == nil {
					t.Errorf("%s waits for %s to be healthy, but %s has no healthcheck", name, dep, dep)
				}
			case "service_completed_successfully":
				if d.Restart != "no" && d.Restart != "" {
					t.Errorf("%s waits for %s to complete, but %s restarts (%s)", name, dep, dep, d.Restart)
				}
			default:
				t.Errorf("%s depends on %s with unknown condition %q", name, dep, cond)
			}
		}
	}
	// The worker must not start before Temporal is up and the bucket exists.
	deps := c.service(t, workerService).dependsOn(t)
	if deps[temporalService] != "service_healthy" {
		t.Errorf("%s: want depends_on %s: service_healthy, got %q", workerService, temporalService, deps[temporalService])
	}
	if deps[minioInitService] != "service_completed_successfully" {
		t.Errorf("%s: want depends_on %s: service_completed_successfully, got %q", workerService, minioInitService, deps[minioInitService])
	}
}

func TestComposeImagesArePinned(t *testing.T) {
	c := loadCompose(t)
	for name, s := range c.Services {
		if s.Build != nil {
			continue // built from this repository
		}
		img := s.Image
		if img == "" {
			t.Errorf("%s: neither image nor build", name)
			continue
		}
		_, tag, ok := strings.Cut(path.Base(img), ":")
		if !ok || tag == "" || tag == "latest" {
			t.Errorf("%s: image %q: pin a tag (not latest)", name, img)
		}
	}
}

func TestComposeMountsExist(t *testing.T) {
	c := loadCompose(t)
	for name, s := range c.Services {
		for _, m := range s.mounts() {
			if m.target == "" {
				t.Errorf("%s: volume %q has no container path", name, m.source)
				continue
			}
			if !m.bind() {
				if _, ok := c.Volumes[m.source]; !ok {
					t.Errorf("%s: named volume %q is not declared under volumes:", name, m.source)
				}
				continue
			}
			if strings.HasPrefix(m.source, "/") {
				t.Errorf("%s: bind mount %q is an absolute host path; use a path in the repository", name, m.source)
				continue
			}
			if _, err := os.Stat(filepath.Join(root, m.source)); err != nil {
				t.Errorf("%s: bind mount %s: %v", name, m.source, err)
			}
			if m.mode != "ro" {
				t.Errorf("%s: bind mount %s should be read-only (:ro)", name, m.source)
			}
		}
	}
}

func TestComposePublishedPortsDoNotCollide(t *testing.T) {
	c := loadCompose(t)
	owner := map[int]string{}
	for _, name := range c.names() {
		for _, p := range c.Services[name].ports(t) {
			if p.host == 0 {
				continue
			}
			if o, ok := owner[p.host]; ok {
				t.Errorf("host port %d is published by both %s and %s", p.host, o, name)
			}
			owner[p.host] = name
		}
	}
	// The ports the README and the dev mode promise.
	for p, want := range map[int]string{7233: temporalService, 8233: uiService, 8088: workerService,
		9090: prometheusService, 3000: grafanaService, 9000: minioService} {
		if owner[p] != want {
			t.Errorf("host port %d: want %s, published by %q", p, want, owner[p])
		}
	}
}

// TestComposeWorksWithEmptyEnvironment: every ${VAR} has a default, so
// `docker compose up` needs no .env file and no exported secrets.
func TestComposeWorksWithEmptyEnvironment(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(src), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for _, m := range regexp.MustCompile(`\$\{[^}]*\}`).FindAllString(line, -1) {
			if !strings.Contains(m, ":-") {
				t.Errorf("docker-compose.yml:%d: %s has no default; write ${VAR:-}", i+1, m)
			}
		}
	}
}

func TestWorkerAndUIReachTemporal(t *testing.T) {
	c := loadCompose(t)
	for name, s := range c.Services {
		if addr, ok := s.env(t)["VIGIL_TEMPORAL_ADDRESS"]; ok {
			checkAddress(t, c, name+" VIGIL_TEMPORAL_ADDRESS", addr, temporalService)
		}
	}
	if _, ok := c.service(t, workerService).env(t)["VIGIL_TEMPORAL_ADDRESS"]; !ok {
		t.Errorf("%s: VIGIL_TEMPORAL_ADDRESS not set", workerService)
	}
	ui := c.service(t, uiService)
	checkAddress(t, c, uiService+" TEMPORAL_ADDRESS", ui.env(t)["TEMPORAL_ADDRESS"], temporalService)
	if !slices.Contains(ui.ports(t), portMapping{8233, 8080}) {
		t.Errorf("%s: want the UI at localhost:8233 (8233:8080) like `worker -dev`, got %v", uiService, ui.Ports)
	}
}

// TestPrometheusScrapesComposeServices: every static target of
// deploy/prometheus/prometheus.yml is a service of the stack on a port it
// listens on; the vigil-worker job scrapes the worker's VIGIL_HTTP_ADDR.
func TestPrometheusScrapesComposeServices(t *testing.T) {
	c := loadCompose(t)
	src, err := os.ReadFile(filepath.Join(root, "deploy/prometheus/prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var prom struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(src, &prom); err != nil {
		t.Fatalf("prometheus.yml: %v", err)
	}
	jobs := map[string][]string{}
	for _, sc := range prom.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			for _, target := range st.Targets {
				jobs[sc.JobName] = append(jobs[sc.JobName], target)
				host, _ := hostPort(t, "job "+sc.JobName, target)
				if host == "localhost" || host == "127.0.0.1" {
					if sc.JobName != "prometheus" {
						t.Errorf("job %s: target %s is Prometheus's own container, not a service", sc.JobName, target)
					}
					continue
				}
				checkAddress(t, c, "prometheus.yml job "+sc.JobName+" target", target, host)
			}
		}
	}
	worker := c.service(t, workerService)
	httpAddr := worker.env(t)["VIGIL_HTTP_ADDR"]
	want := net.JoinHostPort(workerService, strconv.Itoa(port(t, "VIGIL_HTTP_ADDR", httpAddr)))
	if !slices.Equal(jobs["vigil-worker"], []string{want}) {
		t.Errorf("job vigil-worker (named by the alert rules) scrapes %v, want [%s] (VIGIL_HTTP_ADDR=%s)", jobs["vigil-worker"], want, httpAddr)
	}
	for _, target := range jobs["temporal"] {
		checkAddress(t, c, "prometheus.yml job temporal", target, temporalService)
	}
	if _, ok := c.Services["pushgateway"]; !ok && jobs["pushgateway"] != nil {
		t.Errorf("prometheus.yml scrapes a pushgateway, but the stack has none")
	}

	// The config and its rules are mounted so that rule_files resolve.
	p := c.service(t, prometheusService)
	cfgAt := p.mountOf("deploy/prometheus/prometheus.yml")
	rulesAt := p.mountOf("deploy/prometheus/rules")
	if cfgAt == "" || rulesAt == "" {
		t.Fatalf("%s: mount deploy/prometheus/prometheus.yml and deploy/prometheus/rules (volumes: %v)", prometheusService, p.Volumes)
	}
	if !slices.Contains(args(p.Command), "--config.file="+cfgAt) {
		t.Errorf("%s: command %v does not load %s", prometheusService, args(p.Command), cfgAt)
	}
	for _, rf := range prom.RuleFiles {
		dir := path.Dir(path.Join(path.Dir(cfgAt), rf))
		if dir != rulesAt {
			t.Errorf("prometheus.yml rule_files %q looks in %s in the container; the rules are mounted at %s", rf, dir, rulesAt)
		}
		matches, _ := filepath.Glob(filepath.Join(root, "deploy/prometheus", rf))
		if len(matches) == 0 {
			t.Errorf("prometheus.yml rule_files %q matches no file in deploy/prometheus", rf)
		}
	}
}

// TestGrafanaProvisioning: the data source is the stack's Prometheus, the
// provisioning and dashboards directories are mounted where the
// provisioning files expect them, and anonymous users can view.
func TestGrafanaProvisioning(t *testing.T) {
	c := loadCompose(t)
	g := c.service(t, grafanaService)

	var ds struct {
		Datasources []struct {
			Name, Type, URL string
		} `yaml:"datasources"`
	}
	readYAML(t, "deploy/grafana/provisioning/datasources/prometheus.yml", &ds)
	var prom int
	for _, d := range ds.Datasources {
		if d.Type != "prometheus" {
			continue
		}
		prom++
		u, err := url.Parse(d.URL)
		if err != nil {
			t.Fatalf("data source %s: url %q: %v", d.Name, d.URL, err)
		}
		checkAddress(t, c, "Grafana data source "+d.Name+" url", u.Host, prometheusService)
	}
	if prom == 0 {
		t.Error("deploy/grafana/provisioning/datasources: no prometheus data source")
	}
	if deps := g.dependsOn(t); deps[prometheusService] == "" {
		t.Errorf("%s should depend on %s", grafanaService, prometheusService)
	}

	if at := g.mountOf("deploy/grafana/provisioning"); at != "/etc/grafana/provisioning" {
		t.Errorf("%s: mount deploy/grafana/provisioning at /etc/grafana/provisioning, got %q", grafanaService, at)
	}
	var dash struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, "deploy/grafana/provisioning/dashboards/vigil.yml", &dash)
	dashAt := g.mountOf("deploy/grafana/dashboards")
	for _, p := range dash.Providers {
		if p.Options.Path != dashAt {
			t.Errorf("dashboard provider reads %s; deploy/grafana/dashboards is mounted at %q", p.Options.Path, dashAt)
		}
	}
	env := g.env(t)
	if env["GF_AUTH_ANONYMOUS_ENABLED"] != "true" || env["GF_AUTH_ANONYMOUS_ORG_ROLE"] != "Viewer" {
		t.Errorf("%s: want anonymous viewers (GF_AUTH_ANONYMOUS_ENABLED=true, GF_AUTH_ANONYMOUS_ORG_ROLE=Viewer), got %v", grafanaService, env)
	}
	if home := env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]; home != "" {
		rel, ok := strings.CutPrefix(home, dashAt+"/")
		if _, err := os.Stat(filepath.Join(root, "deploy/grafana/dashboards", rel)); !ok || err != nil {
			t.Errorf("%s: home dashboard %s is not a file of deploy/grafana/dashboards", grafanaService, home)
		}
	}
}

func readYAML(t *testing.T, rel string, v any) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(src, v); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
}

// ---------------------------------------------------------------------------
// deploy/compose/vigil.yaml and MinIO

const composeConfig = "deploy/compose/vigil.yaml"

// TestComposeConfigLoads: the worker's config is valid, needs no secret from
// the host, and, with the worker's environment applied, points at the stack.
func TestComposeConfigLoads(t *testing.T) {
	c := loadCompose(t)
	w := c.service(t, workerService)
	env := w.env(t)

	if _, err := config.Load(filepath.Join(root, composeConfig), config.Options{SkipEnv: true}); err != nil {
		t.Fatalf("%s: %v", composeConfig, err)
	}
	// What the worker itself does: env applied and every *_env checked,
	// against the environment compose gives it when the host has none.
	cfg, err := config.Load(filepath.Join(root, composeConfig), config.Options{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatalf("%s with the %s environment of an empty host: %v", composeConfig, workerService, err)
	}
	checkAddress(t, c, "temporal.address (with the worker's env)", cfg.Temporal.Address, temporalService)
	if p := port(t, "worker.http_addr", cfg.Worker.HTTPAddr); !slices.Contains(w.listens(t), p) {
		t.Errorf("worker.http_addr %s: the worker service does not publish %d", cfg.Worker.HTTPAddr, p)
	}
	if host, _ := hostPort(t, "worker.http_addr", cfg.Worker.HTTPAddr); host != "0.0.0.0" && host != "" {
		t.Errorf("worker.http_addr %s: in a container it must listen on all interfaces", cfg.Worker.HTTPAddr)
	}
	// Without the env override too: the file on its own describes the stack.
	raw, _ := config.Load(filepath.Join(root, composeConfig), config.Options{SkipEnv: true, Getenv: func(string) string { return "" }})
	checkAddress(t, c, composeConfig+" temporal.address", raw.Temporal.Address, temporalService)

	// Every service that runs the image reads this file at the path it passes.
	for name, s := range c.Services {
		if s.Build == nil {
			continue
		}
		at := s.mountOf(composeConfig)
		if at == "" {
			t.Errorf("%s: %s is not mounted", name, composeConfig)
			continue
		}
		a := append(args(s.Entrypoint), args(s.Command)...)
		if i := slices.Index(a, "-config"); i < 0 || i+1 >= len(a) || a[i+1] != at {
			t.Errorf("%s: runs %v; want -config %s (where %s is mounted)", name, a, at, composeConfig)
		}
	}
}

// TestComposeConfigStorageIsMinIO: every s3:// URI of the config is in a
// bucket minio-init creates, at the minio service, with the credentials
// MinIO was started with; the models' references are uploaded.
func TestComposeConfigStorageIsMinIO(t *testing.T) {
	c := loadCompose(t)
	cfg, err := config.Load(filepath.Join(root, composeConfig), config.Options{SkipEnv: true})
	if err != nil {
		t.Fatalf("%s: %v", composeConfig, err)
	}
	u, err := url.Parse(cfg.Storage.S3.Endpoint)
	if err != nil || u.Host == "" {
		t.Fatalf("storage.s3.endpoint %q: want http://minio:9000", cfg.Storage.S3.Endpoint)
	}
	checkAddress(t, c, "storage.s3.endpoint", u.Host, minioService)
	if !cfg.Storage.S3.PathStyle {
		t.Error("storage.s3.path_style: MinIO needs true")
	}

	minio, worker := c.service(t, minioService), c.service(t, workerService)
	menv, wenv := minio.env(t), worker.env(t)
	if wenv["AWS_ACCESS_KEY_ID"] != menv["MINIO_ROOT_USER"] || wenv["AWS_SECRET_ACCESS_KEY"] != menv["MINIO_ROOT_PASSWORD"] {
		t.Errorf("%s's AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (%q/%q) are not MinIO's root user/password (%q/%q)",
			workerService, wenv["AWS_ACCESS_KEY_ID"], wenv["AWS_SECRET_ACCESS_KEY"], menv["MINIO_ROOT_USER"], menv["MINIO_ROOT_PASSWORD"])
	}
	if len(menv["MINIO_ROOT_PASSWORD"]) < 8 {
		t.Errorf("MINIO_ROOT_PASSWORD default %q: MinIO refuses fewer than 8 characters", menv["MINIO_ROOT_PASSWORD"])
	}

	init := c.service(t, minioInitService)
	if deps := init.dependsOn(t); deps[minioService] != "service_healthy" {
		t.Errorf("%s: want depends_on %s: service_healthy", minioInitService, minioService)
	}
	script := initScript(t, init)
	buckets := map[string]bool{}
	for _, m := range regexp.MustCompile(`mc mb[^\n]*?\blocal/([a-z0-9.-]+)`).FindAllStringSubmatch(script, -1) {
		buckets[m[1]] = true
	}
	uploads := map[string]string{} // s3://bucket/key -> container path of the source
	for _, m := range regexp.MustCompile(`mc cp\s+"?(\S+?)"?\s+"?local/([^"\s]+)"?`).FindAllStringSubmatch(script, -1) {
		uploads["s3://"+m[2]] = m[1]
	}

	uris := map[string]string{"storage.reports": cfg.Storage.Reports, "storage.registry": cfg.Storage.Registry}
	for _, m := range cfg.Models {
		uris["models."+m.Name+".source"] = m.Source.URI
		uris["models."+m.Name+".ground_truth"] = m.GroundTruth.URI
		uris["models."+m.Name+".reference"] = m.Reference.URI
	}
	for field, uri := range uris {
		rest, ok := strings.CutPrefix(uri, "s3://")
		if !ok {
			t.Errorf("%s = %q: the compose stack keeps everything in MinIO (s3://)", field, uri)
			continue
		}
		bucket, _, _ := strings.Cut(rest, "/")
		if !buckets[bucket] {
			t.Errorf("%s = %q: bucket %q is not created by %s (creates %v)", field, uri, bucket, minioInitService, buckets)
		}
	}
	for _, m := range cfg.Models {
		src, ok := uploads[m.Reference.URI]
		if !ok {
			t.Errorf("model %s: reference %s is not uploaded by %s (uploads %v)", m.Name, m.Reference.URI, minioInitService, uploads)
			continue
		}
		if !mountedFileExists(init, src) {
			t.Errorf("model %s: %s uploads %s, which is not a file mounted from the repository", m.Name, minioInitService, src)
		}
	}
}

// initScript returns what the mc service runs: its mounted script, or its
// command line.
func initScript(t *testing.T, s *service) string {
	t.Helper()
	a := append(args(s.Entrypoint), args(s.Command)...)
	var b strings.Builder
	b.WriteString(strings.Join(a, " "))
	for _, m := range s.mounts() {
		if m.bind() && slices.Contains(a, m.target) {
			src, err := os.ReadFile(filepath.Join(root, m.source))
			if err != nil {
				t.Fatal(err)
			}
			b.WriteString("\n")
			b.Write(src)
		}
	}
	return b.String()
}

func mountedFileExists(s *service, containerPath string) bool {
	for _, m := range s.mounts() {
		if !m.bind() {
			continue
		}
		if rel, ok := strings.CutPrefix(containerPath, m.target); ok && (rel == "" || strings.HasPrefix(rel, "/")) {
			fi, err := os.Stat(filepath.Join(root, m.source, rel))
			return err == nil && !fi.IsDir()
		}
	}
	return false
}

// ---------------------------------------------------------------------------
// Dockerfile

type stage struct {
	from, name string
	lines      []string // instructions, continuation lines joined
}

func loadDockerfile(t *testing.T) []stage {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stages []stage
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	flush := func() {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return
		}
		fields := strings.Fields(line)
		if strings.EqualFold(fields[0], "FROM") {
			st := stage{}
			for _, f := range fields[1:] {
				if !strings.HasPrefix(f, "--") && st.from == "" {
					st.from = f
				}
			}
			if n := len(fields); n >= 4 && strings.EqualFold(fields[n-2], "AS") {
				st.name = fields[n-1]
			}
			stages = append(stages, st)
			return
		}
		if len(stages) == 0 {
			return // ARG before FROM
		}
		stages[len(stages)-1].lines = append(stages[len(stages)-1].lines, line)
	}
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if s, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(line)
		flush()
	}
	flush()
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(stages) < 2 {
		t.Fatalf("Dockerfile: want a multi-stage build, got %d stage(s)", len(stages))
	}
	return stages
}

type goBuild struct{ out, pkg, tags string }

// goBuilds returns the `go build [-tags T] -o OUT PKG` commands of a stage.
func goBuilds(st stage) []goBuild {
	var out []goBuild
	re := regexp.MustCompile(`go build ([^&;]*)`)
	for _, l := range st.lines {
		for _, m := range re.FindAllStringSubmatch(l, -1) {
			f := strings.Fields(m[1])
			var b goBuild
			for i := 0; i < len(f); i++ {
				switch {
				case f[i] == "-o" && i+1 < len(f):
					b.out = f[i+1]
					i++
				case f[i] == "-tags" && i+1 < len(f):
					b.tags = f[i+1]
					i++
				case strings.HasPrefix(f[i], "./"):
					b.pkg = f[i]
				}
			}
			out = append(out, b)
		}
	}
	return out
}

func goDirective(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+(?:\.\d+)?)\s*$`).FindSubmatch(src)
	if m == nil {
		t.Fatal("go.mod: no go directive")
	}
	return string(m[1])
}

func versionParts(v string) []int {
	var out []int
	for _, p := range strings.Split(v, ".") {
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil
		}
		out = append(out, n)
	}
	return out
}

// TestDockerfileGoMatchesGoMod: the builder's Go is at least go.mod's go
// directive, so the image never builds with an older toolchain (or downloads
// a newer one). A floating tag (golang:1.26) tracks the newest patch and
// counts for any 1.26.x.
func TestDockerfileGoMatchesGoMod(t *testing.T) {
	stages := loadDockerfile(t)
	want := goDirective(t)
	var found bool
	for _, st := range stages {
		img, tag, _ := strings.Cut(st.from, ":")
		if path.Base(img) != "golang" {
			continue
		}
		found = true
		m := regexp.MustCompile(`^(\d+\.\d+(?:\.\d+)?)`).FindString(tag)
		if m == "" {
			t.Errorf("Dockerfile FROM %s: pin a Go version (go.mod says go %s)", st.from, want)
			continue
		}
		have, need := versionParts(m), versionParts(want)
		for len(need) < 3 {
			need = append(need, 0)
		}
		if len(have) == 2 { // floating minor tag: newest patch
			have = append(have, need[2])
		}
		if slices.Compare(have, need) < 0 {
			t.Errorf("Dockerfile FROM %s: Go %s is older than go.mod's go %s", st.from, m, want)
		}
	}
	if !found {
		t.Error("Dockerfile: no golang builder stage")
	}
}

// TestDockerfileFinalStage: the image runs as a non-root user, exposes the
// worker's port, and its entrypoints are binaries the build stage produced.
func TestDockerfileFinalStage(t *testing.T) {
	stages := loadDockerfile(t)
	final := stages[len(stages)-1]
	nonroot := strings.HasSuffix(final.from, ":nonroot") || strings.Contains(final.from, ":nonroot-") || strings.Contains(final.from, ":debug-nonroot")
	user := ""
	var copied, exposed []string
	var entrypoint string
	for _, l := range final.lines {
		f := strings.Fields(l)
		switch strings.ToUpper(f[0]) {
		case "USER":
			user = f[1]
		case "EXPOSE":
			exposed = append(exposed, f[1:]...)
		case "COPY":
			var from string
			var paths []string
			for _, a := range f[1:] {
				if v, ok := strings.CutPrefix(a, "--from="); ok {
					from = v
				} else if !strings.HasPrefix(a, "--") {
					paths = append(paths, a)
				}
			}
			if from != "" && len(paths) >= 2 {
				dst := paths[len(paths)-1]
				for _, src := range paths[:len(paths)-1] {
					copied = append(copied, path.Join(dst, path.Base(src)))
				}
			}
		case "ENTRYPOINT":
			if m := regexp.MustCompile(`\["([^"]+)"`).FindStringSubmatch(l); m != nil {
				entrypoint = m[1]
			}
		}
	}
	if user != "" {
		name, _, _ := strings.Cut(user, ":")
		nonroot = name != "root" && name != "0"
	}
	if !nonroot {
		t.Errorf("Dockerfile final stage (FROM %s, USER %q) runs as root; use a :nonroot image or USER nonroot", final.from, user)
	}

	var built []string
	for _, st := range stages[:len(stages)-1] {
		for _, b := range goBuilds(st) {
			built = append(built, path.Base(b.out))
		}
	}
	for _, c := range copied {
		if !slices.Contains(built, path.Base(c)) {
			t.Errorf("Dockerfile: the final stage copies %s, which no go build produces (builds %v)", c, built)
		}
	}
	if !slices.Contains(copied, entrypoint) {
		t.Errorf("Dockerfile: ENTRYPOINT %q is not one of the copied binaries %v", entrypoint, copied)
	}
	if path.Base(entrypoint) != "worker" {
		t.Errorf("Dockerfile: ENTRYPOINT %q; want the worker", entrypoint)
	}
	// Compose services that override the entrypoint run a binary of the image.
	c := loadCompose(t)
	for name, s := range c.Services {
		if e := args(s.Entrypoint); s.Build != nil && len(e) > 0 && !slices.Contains(copied, e[0]) {
			t.Errorf("%s: entrypoint %s is not in the image (%v)", name, e[0], copied)
		}
	}
	worker := c.service(t, workerService)
	wp := strconv.Itoa(port(t, "VIGIL_HTTP_ADDR", worker.env(t)["VIGIL_HTTP_ADDR"]))
	if !slices.Contains(exposed, wp) && !slices.Contains(exposed, wp+"/tcp") {
		t.Errorf("Dockerfile EXPOSE %v; the worker listens on %s", exposed, wp)
	}
}

// TestDockerfileBuildsCompile runs each `go build` of the Dockerfile's
// builder the way it runs there: static (CGO_ENABLED=0), -trimpath.
func TestDockerfileBuildsCompile(t *testing.T) {
	stages := loadDockerfile(t)
	var builds []goBuild
	for _, st := range stages {
		builds = append(builds, goBuilds(st)...)
	}
	if len(builds) == 0 {
		t.Fatal("Dockerfile: no go build")
	}
	var pkgs []string
	for _, b := range builds {
		pkgs = append(pkgs, b.pkg)
	}
	for _, want := range []string{"./worker", "./starter"} {
		if !slices.Contains(pkgs, want) {
			t.Errorf("Dockerfile: does not build %s (builds %v)", want, pkgs)
		}
	}
	// The image's worker leaves out the embedded Temporal server of -dev
	// (internal/arch checks that -tags nodev does).
	for _, b := range builds {
		if b.pkg == "./worker" && !slices.Contains(strings.Split(b.tags, ","), "nodev") {
			t.Errorf("Dockerfile: builds ./worker without -tags nodev, so the image ships the embedded Temporal server")
		}
	}
	for _, b := range builds {
		if b.pkg == "" || b.out == "" {
			t.Fatalf("Dockerfile: go build without -o OUT ./pkg: %+v", b)
		}
		if fi, err := os.Stat(filepath.Join(root, b.pkg)); err != nil || !fi.IsDir() {
			t.Fatalf("Dockerfile builds %s: no such package directory", b.pkg)
		}
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not on PATH")
	}
	// Cheap and always: every package of the static build resolves with
	// CGO_ENABLED=0 (a cgo-only dependency would have no Go files left).
	for _, b := range builds {
		list := exec.Command(goBin, "list", "-deps", "-e", "-tags", b.tags, "-f", "{{if .Error}}{{.ImportPath}}: {{.Error}}{{end}}", b.pkg)
		list.Dir = root
		list.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := list.CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "" {
			t.Fatalf("CGO_ENABLED=0 go list -deps -tags %q %s: %v\n%s", b.tags, b.pkg, err, out)
		}
	}
	// The full static compile rebuilds the embedded Temporal server without
	// cgo: minutes on a cold cache, so it runs when asked (VIGIL_DOCKER_BUILD=1).
	if os.Getenv("VIGIL_DOCKER_BUILD") == "" {
		t.Skip("set VIGIL_DOCKER_BUILD=1 to compile the Dockerfile's binaries with CGO_ENABLED=0")
	}
	for _, b := range builds {
		t.Run(strings.TrimPrefix(b.pkg, "./"), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			if d, ok := t.Deadline(); ok {
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, d.Add(-10*time.Second))
				defer cancel()
			}
			cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-tags", b.tags, "-o", os.DevNull, b.pkg)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=readonly")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("CGO_ENABLED=0 go build %s: %v\n%s", b.pkg, err, out)
			}
		})
	}
}

// TestDockerignoreKeepsTheBuildInputs: .dockerignore leaves in every file
// the Dockerfile's builds compile or embed, and keeps out .git and local
// state.
func TestDockerignoreKeepsTheBuildInputs(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, l := range strings.Split(string(src), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, l)
		}
	}
	for _, p := range []string{".git/HEAD", ".vigil/temporal.db", "worker/.vigil/x"} {
		if !dockerignored(patterns, p) {
			t.Errorf(".dockerignore: %s is sent to the build", p)
		}
	}

	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not on PATH")
	}
	cmd := exec.Command(goBin, "list", "-deps", "-f",
		`{{if .Module}}{{if .Module.Main}}{{.Dir}}{{range .GoFiles}} {{.}}{{end}}{{range .EmbedFiles}} {{.}}{{end}}{{end}}{{end}}`,
		"./worker", "./starter")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	abs, _ := filepath.Abs(root)
	needed := []string{"go.mod", "go.sum"}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		dir, err := filepath.Rel(abs, f[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range f[1:] {
			needed = append(needed, filepath.ToSlash(filepath.Join(dir, name)))
		}
	}
	for _, p := range needed {
		if dockerignored(patterns, p) {
			t.Errorf(".dockerignore excludes %s, which the build needs", p)
		}
	}
}

// dockerignored reports whether .dockerignore patterns exclude the
// slash-separated path p: the last matching pattern wins, a pattern also
// excludes what is under a matching directory, ** matches any number of
// directories.
func dockerignored(patterns []string, p string) bool {
	ignored := false
	for _, pat := range patterns {
		neg := strings.HasPrefix(pat, "!")
		pat = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(pat, "!"), "/"), "/")
		if matchDockerignore(pat, p) {
			ignored = !neg
		}
	}
	return ignored
}

func matchDockerignore(pat, p string) bool {
	ps := strings.Split(p, "/")
	// The path or any of its parent directories.
	for i := 1; i <= len(ps); i++ {
		if globSegments(strings.Split(pat, "/"), ps[:i]) {
			return true
		}
	}
	return false
}

func globSegments(pat, p []string) bool {
	if len(pat) == 0 {
		return len(p) == 0
	}
	if pat[0] == "**" {
		for i := 0; i <= len(p); i++ {
			if globSegments(pat[1:], p[i:]) {
				return true
			}
		}
		return false
	}
	if len(p) == 0 {
		return false
	}
	ok, _ := path.Match(pat[0], p[0])
	return ok && globSegments(pat[1:], p[1:])
}

// ---------------------------------------------------------------------------
// docker compose itself, when installed

// TestDockerComposeConfig runs `docker compose config -q`, the compose
// plugin's own validation (no daemon needed). Skipped without the plugin.
func TestDockerComposeConfig(t *testing.T) {
	docker, err := exec.LookPath("docker")
	if err != nil {
		t.Skip("docker CLI not on PATH")
	}
	if out, err := exec.Command(docker, "compose", "version").CombinedOutput(); err != nil {
		t.Skipf("docker compose plugin not installed: %s", strings.TrimSpace(string(out)))
	}
	cmd := exec.Command(docker, "compose", "-f", "docker-compose.yml", "config", "-q")
	cmd.Dir = root
	// An empty host environment: the file's defaults must suffice.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("docker compose config -q: %v\n%s", err, out)
	}
}
