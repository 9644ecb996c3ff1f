package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/vigilml/vigil/config"
)

const ansibleDir = "ansible"

// tool returns the path of an external tool the test needs. Missing, it
// fails the test under CI=true (.ci/run installs it) and skips it otherwise.
func tool(t *testing.T, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not on PATH under CI=true: .ci/run must install it (%s)", name, install)
	}
	t.Skipf("%s not on PATH (%s)", name, install)
	return ""
}

func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out)
}

// ansibleEnv keeps Ansible's run self-contained: the directory's config, no
// color, a temporary home for its caches.
func ansibleEnv(t *testing.T) []string {
	return []string{"ANSIBLE_CONFIG=ansible.cfg", "ANSIBLE_NOCOLOR=1", "NO_COLOR=1", "ANSIBLE_LOCAL_TEMP=" + t.TempDir(),
		"ANSIBLE_HOME=" + t.TempDir()}
}

func TestAnsibleSyntaxAndLint(t *testing.T) {
	if testing.Short() {
		t.Skip("ansible-lint takes about 20 s")
	}
	playbook := tool(t, "ansible-playbook", "apt-get install ansible-core")
	lint := tool(t, "ansible-lint", "apt-get install ansible-lint")
	run(t, ansibleDir, ansibleEnv(t), playbook, "--syntax-check", "-i", "inventory.example.ini", "playbook.yml")
	out := run(t, ansibleDir, append(ansibleEnv(t), "XDG_CACHE_HOME="+t.TempDir()), lint, "--offline", "--nocolor", "--profile", "production", "playbook.yml", "roles")
	t.Log(strings.TrimSpace(out))
}

// TestAnsibleRendersAWorkingService renders the roles' templates with
// Ansible itself, secrets coming from an ansible-vault file, and checks what
// a VM would get: a vigil.yaml the worker loads with the environment file's
// variables (every *_env it names is set), a unit that runs the worker with
// flags it has, and Prometheus targets on the workers' ports.
func TestAnsibleRendersAWorkingService(t *testing.T) {
	if testing.Short() {
		t.Skip("two Ansible runs take about 30 s")
	}
	playbook := tool(t, "ansible-playbook", "apt-get install ansible-core")
	vault := tool(t, "ansible-vault", "apt-get install ansible-core")
	abs, err := filepath.Abs(ansibleDir)
	if err != nil {
		t.Fatal(err)
	}
	dir, out := t.TempDir(), t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pw := write("vault-pass", "test-only-password\n")
	write("vault.yml", "vault_slack_bot_token: 'xoxb-1-\"quoted\" \\ and $dollar'\nvault_pagerduty_key: R0UTINGKEY\n")
	run(t, dir, ansibleEnv(t), vault, "encrypt", "--vault-password-file", pw, "vault.yml")
	if b, _ := os.ReadFile(filepath.Join(dir, "vault.yml")); !strings.HasPrefix(string(b), "$ANSIBLE_VAULT") {
		t.Fatal("ansible-vault did not encrypt vault.yml")
	}
	write("vars.yml", `
vigil_config:
  temporal: {address: temporal.internal:7233, namespace: prod}
  storage: {reports: file:///var/lib/vigil/reports, registry: file:///var/lib/vigil/registry}
  notify:
    slack: {token_env: SLACK_BOT_TOKEN, channel: "#ml-alerts"}
    pagerduty: {routing_key_env: PAGERDUTY_ROUTING_KEY}
  models: []
vigil_secret_env:
  SLACK_BOT_TOKEN: "{{ vault_slack_bot_token }}"
  PAGERDUTY_ROUTING_KEY: "{{ vault_pagerduty_key }}"
vigil_env: {AWS_REGION: eu-west-1}
`)
	write("inventory.ini", `localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3
[vigil_workers]
vigil-1.internal
vigil-2.internal vigil_http_addr=0.0.0.0:9100
`)
	tmpl := func(role, src, dest string) string {
		return "    - ansible.builtin.template: {src: " + filepath.Join(abs, "roles", role, "templates", src) +
			", dest: " + filepath.Join(out, dest) + ", mode: '0600'}\n"
	}
	write("render.yml", `- hosts: localhost
  gather_facts: false
  vars_files:
    - `+filepath.Join(abs, "roles/vigil_worker/defaults/main.yml")+`
    - `+filepath.Join(abs, "roles/vigil_prometheus_scrape/defaults/main.yml")+`
    - vars.yml
    - vault.yml
  tasks:
`+tmpl("vigil_worker", "vigil.yaml.j2", "vigil.yaml")+
		tmpl("vigil_worker", "vigil.env.j2", "vigil.env")+
		tmpl("vigil_worker", "vigil-worker.service.j2", "vigil-worker.service")+
		tmpl("vigil_prometheus_scrape", "vigil-worker.file_sd.yml.j2", "file_sd.yml"))
	run(t, dir, ansibleEnv(t), playbook, "-i", "inventory.ini", "--vault-password-file", pw, "render.yml")

	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	env := parseEnvironmentFile(t, read("vigil.env"))
	if got := env["SLACK_BOT_TOKEN"]; got != `xoxb-1-"quoted" \ and $dollar` {
		t.Errorf("SLACK_BOT_TOKEN from the vault = %q after systemd's unquoting", got)
	}
	cfg, err := config.Parse("vigil.yaml", []byte(read("vigil.yaml")), config.Options{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatalf("the rendered vigil.yaml does not load with the rendered environment: %v", err)
	}
	if cfg.Worker.HTTPAddr != "0.0.0.0:8088" || cfg.Temporal.Namespace != "prod" {
		t.Errorf("worker.http_addr = %q (want VIGIL_HTTP_ADDR 0.0.0.0:8088), temporal.namespace = %q", cfg.Worker.HTTPAddr, cfg.Temporal.Namespace)
	}

	unit := read("vigil-worker.service")
	for _, want := range []string{"User=vigil", "Restart=on-failure", "StandardOutput=journal", "StandardError=journal",
		"EnvironmentFile=/etc/vigil/vigil.env", "ProtectSystem=strict", "ReadWritePaths=/var/lib/vigil"} {
		if !strings.Contains(unit, "\n"+want+"\n") {
			t.Errorf("vigil-worker.service lacks %s", want)
		}
	}
	// systemd's own parser: every directive known, every value valid. The
	// binary is not installed here, so /bin/true stands in for it.
	analyze := tool(t, "systemd-analyze", "apt-get install systemd")
	unitFile := filepath.Join(out, "vigil-worker.service")
	os.WriteFile(unitFile, []byte(strings.Replace(unit, "ExecStart=/usr/local/bin/vigil-worker ", "ExecStart=/bin/true ", 1)), 0o600)
	if msg := run(t, out, []string{"SYSTEMD_LOG_COLOR=0"}, analyze, "verify", unitFile); strings.TrimSpace(msg) != "" {
		t.Errorf("systemd-analyze verify vigil-worker.service:\n%s", msg)
	}
	execStart := regexp.MustCompile(`(?m)^ExecStart=(\S+)(.*)$`).FindStringSubmatch(unit)
	if execStart == nil || execStart[1] != "/usr/local/bin/vigil-worker" {
		t.Fatalf("ExecStart: %v", execStart)
	}
	flags := workerFlags(t)
	for _, f := range strings.Fields(execStart[2]) {
		if name, ok := strings.CutPrefix(f, "-"); ok && !slices.Contains(flags, name) {
			t.Errorf("ExecStart passes -%s, which the worker does not define (flags: %v)", name, flags)
		}
	}
	// Stop: systemd's timeout leaves the worker its -stop-timeout.
	stop := regexp.MustCompile(`-stop-timeout (\d+)s`).FindStringSubmatch(unit)
	tout := regexp.MustCompile(`(?m)^TimeoutStopSec=(\d+)s$`).FindStringSubmatch(unit)
	if stop == nil || tout == nil {
		t.Fatalf("unit without -stop-timeout Ns or TimeoutStopSec=Ns")
	}
	if a, _ := strconv.Atoi(stop[1]); func() bool { b, _ := strconv.Atoi(tout[1]); return a >= b }() {
		t.Errorf("TimeoutStopSec=%ss does not exceed -stop-timeout %ss", tout[1], stop[1])
	}

	var sd []struct {
		Targets []string `yaml:"targets"`
	}
	if err := yaml.Unmarshal([]byte(read("file_sd.yml")), &sd); err != nil {
		t.Fatalf("file_sd.yml: %v", err)
	}
	if len(sd) != 1 || !slices.Equal(sd[0].Targets, []string{"vigil-1.internal:8088", "vigil-2.internal:9100"}) {
		t.Errorf("file_sd targets = %+v, want vigil-1.internal:8088 and vigil-2.internal:9100", sd)
	}
	// The job the role's defaults tell to add, with the rendered file, is a
	// config promtool accepts (it reads file_sd files too).
	promtool := tool(t, "promtool", "apt-get install prometheus")
	cfgFile := filepath.Join(out, "prometheus.yml")
	os.WriteFile(cfgFile, []byte("scrape_configs:\n  - job_name: vigil-worker\n    file_sd_configs:\n      - files: ["+filepath.Join(out, "file_sd.yml")+"]\n"), 0o600)
	run(t, out, nil, promtool, "check", "config", cfgFile)
}

// parseEnvironmentFile reads NAME=VALUE lines as systemd's EnvironmentFile
// does for the forms the template writes: unquoted, or double-quoted with
// \\ and \" escapes.
func parseEnvironmentFile(t *testing.T, src string) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, l := range strings.Split(src, "\n") {
		if l = strings.TrimSpace(l); l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			t.Fatalf("vigil.env: %q is not NAME=VALUE", l)
		}
		if strings.HasPrefix(v, `"`) {
			if len(v) < 2 || !strings.HasSuffix(v, `"`) {
				t.Fatalf("vigil.env: unterminated quote in %s", k)
			}
			var b strings.Builder
			in := v[1 : len(v)-1]
			for i := 0; i < len(in); i++ {
				if in[i] == '\\' && i+1 < len(in) {
					i++
				} else if in[i] == '"' {
					t.Fatalf("vigil.env: unescaped quote in %s", k)
				}
				b.WriteByte(in[i])
			}
			v = b.String()
		}
		env[k] = v
	}
	return env
}

// workerFlags lists the flags worker/main.go defines.
func workerFlags(t *testing.T) []string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(root, "worker", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range regexp.MustCompile(`flag\.\w+Var\(&[\w.]+, "([\w-]+)"`).FindAllStringSubmatch(string(src), -1) {
		out = append(out, m[1])
	}
	if len(out) == 0 {
		t.Fatal("no flags found in worker/main.go")
	}
	return out
}
