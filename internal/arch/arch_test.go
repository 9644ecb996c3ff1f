package arch

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/vigilml/vigil"

// pkg is what `go list -json` says about a package.
type pkg struct {
	ImportPath                         string
	Imports, TestImports, XTestImports []string
	Deps                               []string
}

// root is the module's directory (this package is internal/arch).
var root = filepath.Join("..", "..")

// list runs `go list -json args` in the module and decodes its packages.
func list(t *testing.T, args ...string) map[string]pkg {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-json"}, args...)...)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -json %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list -json: %v", err)
		}
		pkgs[p.ImportPath] = p
	}
	if len(pkgs) == 0 {
		t.Fatalf("go list -json %s: no packages", strings.Join(args, " "))
	}
	return pkgs
}

func project(path string) bool { return path == module || strings.HasPrefix(path, module+"/") }

func under(path, prefix string) bool { return path == prefix || strings.HasPrefix(path, prefix+"/") }

// allowed are known violations, each to be deleted by the change that
// removes it; the test fails when an entry no longer matches anything.
var allowed = map[string]string{}

// rule is one import rule: which packages it governs, and what a governed
// package may not import (directly, or through any dependency).
type rule struct {
	name       string
	governs    func(path string) bool
	transitive bool // check Deps, else the package's own imports
	tests      bool // also the imports of its tests
	forbidden  func(imp string) bool
}

var serverModules = []string{"go.temporal.io/server", "github.com/temporalio/ui-server"}

var rules = []rule{
	{
		name:       "analysis imports no Vigil package",
		governs:    func(p string) bool { return under(p, module+"/analysis") },
		transitive: true,
		forbidden:  project,
	},
	{
		name:    "workflows import no I/O package",
		governs: func(p string) bool { return under(p, module+"/workflows") },
		forbidden: func(imp string) bool {
			for _, io := range []string{"control", "store", "notify", "train", "internal", "worker", "starter"} {
				if under(imp, module+"/"+io) {
					return true
				}
			}
			return slices.Contains([]string{"net", "net/http", "os", "os/exec", "go.temporal.io/sdk/client"}, imp) ||
				under(imp, "github.com/aws")
		},
	},
	{
		name:    "only internal/devserver imports the Temporal server and UI",
		governs: func(p string) bool { return project(p) && p != module+"/internal/devserver" },
		tests:   true,
		forbidden: func(imp string) bool {
			return slices.ContainsFunc(serverModules, func(m string) bool { return under(imp, m) })
		},
	},
	{
		name:       "domain packages (train/...) depend on neither activities, workflows nor control",
		governs:    func(p string) bool { return under(p, module+"/train") },
		transitive: true,
		forbidden: func(imp string) bool {
			return under(imp, module+"/activities") || under(imp, module+"/workflows") || under(imp, module+"/control")
		},
	},
}

func TestImportRules(t *testing.T) {
	pkgs := list(t, "./...")
	used := map[string]bool{}
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			governed := 0
			for _, p := range pkgs {
				if !r.governs(p.ImportPath) {
					continue
				}
				governed++
				imps := p.Imports
				if r.transitive {
					imps = p.Deps
				}
				if r.tests {
					imps = slices.Concat(imps, p.TestImports, p.XTestImports)
				}
				for _, imp := range imps {
					if !r.forbidden(imp) {
						continue
					}
					key := strings.TrimPrefix(p.ImportPath, module+"/") + " -> " + strings.TrimPrefix(imp, module+"/")
					if why, ok := allowed[key]; ok {
						used[key] = true
						t.Logf("allowed for now: %s (%s)", key, why)
						continue
					}
					t.Errorf("%s imports %s", p.ImportPath, imp)
				}
			}
			if governed == 0 {
				t.Errorf("the rule governs no package: has a package moved?")
			}
		})
	}
	for key := range allowed {
		if !used[key] {
			t.Errorf("allow-list entry %q matches no import any more: delete it from internal/arch", key)
		}
	}
}

// The production builds link no Temporal server: the worker built with
// -tags nodev (the Dockerfile's) and the starter.
func TestProductionBuildsLinkNoTemporalServer(t *testing.T) {
	for _, args := range [][]string{{"-tags", "nodev", "./worker"}, {"./starter"}} {
		pkgs := list(t, append([]string{"-deps"}, args...)...)
		for path := range pkgs {
			if under(path, module+"/internal/devserver") ||
				slices.ContainsFunc(serverModules, func(m string) bool { return strings.HasPrefix(path, m) }) {
				t.Errorf("go list -deps %s: links %s", strings.Join(args, " "), path)
			}
		}
	}
	// The check can fail: the default worker build does link the server.
	if _, ok := list(t, "-deps", "./worker")[module+"/internal/devserver"]; !ok {
		t.Error("go list -deps ./worker: no internal/devserver, so `go run ./worker -dev` has no server")
	}
}

// A worker built without the server says so when asked for -dev, instead of
// failing somewhere later.
func TestNodevWorkerRefusesDev(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the worker (-short skips it)")
	}
	bin := filepath.Join(t.TempDir(), "worker")
	build := exec.Command("go", "build", "-tags", "nodev", "-o", bin, "./worker")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -tags nodev ./worker: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-dev", "-data-dir", t.TempDir())
	cmd.Env = append(os.Environ(), "VIGIL_HTTP_ADDR=127.0.0.1:0")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("worker -dev: want exit status 1, got %v\n%s", err, out)
	}
	if want := "built without it (-tags nodev"; !strings.Contains(string(out), want) {
		t.Errorf("worker -dev: want an error containing %q, got\n%s", want, out)
	}
}
