package deploy

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// The compose file as `docker compose` reads it: compose-go validates it
// against the Compose specification, interpolates it (with an empty
// environment), normalizes short syntax and resolves relative paths.
func loadProject(t *testing.T) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root), cli.WithEnv(nil), cli.WithInterpolation(true),
		cli.WithNormalization(true), cli.WithResolvedPaths(true), cli.WithConsistency(true))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("docker-compose.yml (compose-go): %v", err)
	}
	return p
}

func projectService(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, ok := p.Services[name]
	if !ok {
		t.Fatalf("docker-compose.yml: no service %s (have %v)", name, slices.Sorted(maps.Keys(p.Services)))
	}
	return s
}

// moduleVersion is the version go.mod requires of a module.
func moduleVersion(t *testing.T, module string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(module) + `\s+v(\S+)`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("go.mod does not require %s", module)
	}
	return string(m[1])
}

// moduleDir is where the Go module cache holds the required module.
func moduleDir(t *testing.T, module string) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module).Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		t.Skipf("module %s not in the module cache: %v", module, err)
	}
	return strings.TrimSpace(string(out))
}

const (
	schemaService    = "temporal-schema"
	namespaceService = "temporal-namespace"
)

// The stack runs the Temporal server and UI the code is tested on (go.mod's
// go.temporal.io/server and ui-server), with the server's own image and
// admin-tools of the same release, never the development-only auto-setup.
func TestComposeRunsTheTestedTemporal(t *testing.T) {
	p := loadProject(t)
	server := moduleVersion(t, "go.temporal.io/server")
	ui := moduleVersion(t, "github.com/temporalio/ui-server/v2")
	for _, tc := range []struct{ service, image string }{
		{schemaService, "temporalio/admin-tools:" + server},
		{temporalService, "temporalio/server:" + server},
		{namespaceService, "temporalio/admin-tools:" + server},
		{uiService, "temporalio/ui:" + ui},
	} {
		if got := projectService(t, p, tc.service).Image; got != tc.image {
			t.Errorf("%s: image %s, want %s", tc.service, got, tc.image)
		}
	}
	for name, s := range p.Services {
		if strings.Contains(s.Image, "auto-setup") {
			t.Errorf("%s: %s is for development only", name, s.Image)
		}
	}
}

// Startup order: PostgreSQL healthy → schema set up → server healthy →
// namespace created → Vigil. One-shot jobs do not restart (compose waits
// for them to complete; they retry inside).
func TestComposeStartupOrder(t *testing.T) {
	p := loadProject(t)
	for _, tc := range []struct {
		service string
		needs   map[string]string
	}{
		{schemaService, map[string]string{"postgresql": types.ServiceConditionHealthy}},
		{temporalService, map[string]string{schemaService: types.ServiceConditionCompletedSuccessfully}},
		{namespaceService, map[string]string{temporalService: types.ServiceConditionHealthy}},
		{uiService, map[string]string{temporalService: types.ServiceConditionHealthy}},
		{workerService, map[string]string{namespaceService: types.ServiceConditionCompletedSuccessfully,
			minioInitService: types.ServiceConditionCompletedSuccessfully}},
		{"vigil-apply", map[string]string{namespaceService: types.ServiceConditionCompletedSuccessfully}},
	} {
		s := projectService(t, p, tc.service)
		for dep, cond := range tc.needs {
			if got := s.DependsOn[dep].Condition; got != cond {
				t.Errorf("%s: depends_on %s: %q, want %q", tc.service, dep, got, cond)
			}
		}
	}
	for name, s := range p.Services {
		for dep, d := range s.DependsOn {
			target := projectService(t, p, dep)
			switch d.Condition {
			case types.ServiceConditionHealthy:
				if target.HealthCheck == nil || target.HealthCheck.Disable {
					t.Errorf("%s waits for %s to be healthy; it has no healthcheck", name, dep)
				}
			case types.ServiceConditionCompletedSuccessfully:
				if target.Restart != "" && target.Restart != types.RestartPolicyNo {
					t.Errorf("%s waits for %s to complete; it restarts (%s)", name, dep, target.Restart)
				}
			}
		}
	}
}

// Published ports: one service per host port, and the ones the README and
// the configs name.
func TestComposePorts(t *testing.T) {
	p := loadProject(t)
	owner := map[string]string{}
	for name, s := range p.Services {
		for _, port := range s.Ports {
			if other, ok := owner[port.Published]; ok {
				t.Errorf("host port %s published by %s and %s", port.Published, other, name)
			}
			owner[port.Published] = name
		}
	}
	for _, tc := range []struct {
		service           string
		published, target string
	}{
		{temporalService, "7233", "7233"},
		{uiService, "8233", "8080"},
		{workerService, "8088", "8088"},
		{prometheusService, "9090", "9090"},
		{grafanaService, "3000", "3000"},
	} {
		s := projectService(t, p, tc.service)
		if !slices.ContainsFunc(s.Ports, func(pc types.ServicePortConfig) bool {
			return pc.Published == tc.published && fmt.Sprint(pc.Target) == tc.target
		}) {
			t.Errorf("%s: want %s:%s published, got %+v", tc.service, tc.published, tc.target, s.Ports)
		}
	}
}

// The UI lets through the origin its browser pages come from — its own
// published port, not Grafana's.
func TestComposeUICORSOrigin(t *testing.T) {
	p := loadProject(t)
	ui := projectService(t, p, uiService)
	want := "http://localhost:8233"
	got := ui.Environment["TEMPORAL_CORS_ORIGINS"]
	if got == nil || !slices.Contains(strings.Split(*got, ","), want) {
		t.Errorf("%s: TEMPORAL_CORS_ORIGINS %v, want it to list %s", uiService, deref(got), want)
	}
	if got != nil && strings.Contains(*got, ":3000") {
		t.Errorf("%s: TEMPORAL_CORS_ORIGINS %s names Grafana's port", uiService, *got)
	}
}

func deref(s *string) string {
	if s == nil {
		return "<unset>"
	}
	return *s
}

// Every bind mount's source exists; the Temporal jobs' scripts and the
// server's dynamic config are where the containers look for them.
func TestComposeMountsAreInPlace(t *testing.T) {
	p := loadProject(t)
	for name, s := range p.Services {
		for _, v := range s.Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("%s: bind mount source %s: %v", name, v.Source, err)
			}
		}
	}
	mounted := func(service, target string) string {
		for _, v := range projectService(t, p, service).Volumes {
			if v.Target == target {
				return v.Source
			}
		}
		t.Errorf("%s: nothing mounted at %s", service, target)
		return ""
	}
	for _, tc := range []struct{ service, script string }{
		{schemaService, "/temporal-schema.sh"},
		{namespaceService, "/temporal-namespace.sh"},
	} {
		mounted(tc.service, tc.script)
		if e := projectService(t, p, tc.service).Entrypoint; !slices.Contains(e, tc.script) {
			t.Errorf("%s: entrypoint %v does not run %s", tc.service, e, tc.script)
		}
	}
	// The server image's working directory is /etc/temporal; the dynamic
	// config path is relative to it.
	server := projectService(t, p, temporalService)
	dc := server.Environment["DYNAMIC_CONFIG_FILE_PATH"]
	if dc == nil {
		t.Fatalf("%s: DYNAMIC_CONFIG_FILE_PATH unset", temporalService)
	}
	mounted(temporalService, path.Join("/etc/temporal", *dc))
}

// The server's environment is what the config template of the tested
// server release reads, and the schema job applies that release's schema
// directories.
func TestComposeTemporalServerEnvironment(t *testing.T) {
	p := loadProject(t)
	dir := moduleDir(t, "go.temporal.io/server")
	tmpl, err := os.ReadFile(filepath.Join(dir, "docker", "config_template.yaml"))
	if err != nil {
		t.Skipf("server config template: %v", err)
	}
	known := map[string]bool{}
	for _, m := range regexp.MustCompile(`\.Env\.([A-Z0-9_]+)`).FindAllStringSubmatch(string(tmpl), -1) {
		known[m[1]] = true
	}
	known["BIND_ON_IP"] = true // the image's entrypoint reads it too
	server := projectService(t, p, temporalService)
	for k := range server.Environment {
		if !known[k] {
			t.Errorf("%s: %s is not read by the config template of server %s", temporalService, k, filepath.Base(dir))
		}
	}
	if db := server.Environment["DB"]; db == nil || *db != "postgres12" {
		t.Errorf("%s: DB %s, want postgres12", temporalService, deref(db))
	}
	script, err := os.ReadFile(filepath.Join("compose", "temporal-schema.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for _, db := range []string{"temporal", "visibility"} {
		rel := "postgresql/v12/" + db + "/versioned"
		if !strings.Contains(string(script), "/etc/temporal/schema/postgresql/v12/$db/versioned") {
			t.Errorf("temporal-schema.sh does not apply %s", rel)
		}
		if _, err := os.Stat(filepath.Join(dir, "schema", filepath.FromSlash(rel))); err != nil {
			t.Errorf("server %s has no schema directory %s: %v", filepath.Base(dir), rel, err)
		}
	}
}
