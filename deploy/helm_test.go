package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/vigilml/vigil/config"
)

const (
	chartDir   = "helm/vigil"
	schemasDir = "helm/schemas"
	helmHow    = "go install helm.sh/helm/v3/cmd/helm@v3.22.0"
	kubeconHow = "go install github.com/yannh/kubeconform/cmd/kubeconform@v0.8.0"
)

// The chart carries copies of the tested rules and the dashboard (Helm's
// .Files reads only inside the chart): they must be the same bytes.
func TestHelmChartCarriesTheTestedRulesAndDashboard(t *testing.T) {
	for copyPath, source := range map[string]string{
		"files/vigil.rules.yml": "prometheus/rules/vigil.rules.yml",
		"files/vigil.json":      "grafana/dashboards/vigil.json",
	} {
		a, err := os.ReadFile(filepath.Join(chartDir, copyPath))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(source)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("deploy/%s/%s differs from deploy/%s: cp deploy/%s deploy/%s/%s", chartDir, copyPath, source, source, chartDir, copyPath)
		}
	}
}

// helmPath returns helm from PATH or from $(go env GOPATH)/bin, where
// `go install` puts it.
func helmPath(t *testing.T, name, how string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return tool(t, name, how)
}

var valueSets = map[string][]string{
	"defaults": nil,
	"full":     {"-f", filepath.Join(chartDir, "ci/full-values.yaml")},
}

func TestHelmLint(t *testing.T) {
	helm := helmPath(t, "helm", helmHow)
	for name, args := range valueSets {
		t.Run(name, func(t *testing.T) {
			run(t, ".", nil, helm, append([]string{"lint", "--strict", chartDir}, args...)...)
		})
	}
}

type manifest struct {
	APIVersion string         `yaml:"apiVersion"`
	Kind       string         `yaml:"kind"`
	Metadata   map[string]any `yaml:"metadata"`
	raw        []byte
}

// helmTemplate renders the chart and validates the manifests with
// kubeconform against the vendored schemas (helm/schemas, see gen.go there).
func helmTemplate(t *testing.T, args []string) map[string]manifest {
	t.Helper()
	helm := helmPath(t, "helm", helmHow)
	kubeconform := helmPath(t, "kubeconform", kubeconHow)
	// The Kubernetes version of the schemas (and the chart's kubeVersion floor).
	out := run(t, ".", nil, helm, append([]string{"template", "vigil", chartDir, "--namespace", "ml", "--kube-version", "1.26.0"}, args...)...)
	kubeconformCheck(t, kubeconform, out)
	docs := map[string]manifest{}
	for _, d := range strings.Split(out, "\n---") {
		if strings.TrimSpace(strings.TrimPrefix(d, "---")) == "" {
			continue
		}
		var m manifest
		if err := yaml.Unmarshal([]byte(d), &m); err != nil {
			t.Fatalf("helm template output: %v\n%s", err, d)
		}
		if m.Kind == "" {
			continue // a file of comments only
		}
		m.raw = []byte(d)
		key := m.Kind + "/" + fmt.Sprint(m.Metadata["name"])
		if _, dup := docs[key]; dup {
			t.Errorf("%s rendered twice", key)
		}
		docs[key] = m
	}
	return docs
}

func kubeconformCheck(t *testing.T, kubeconform, manifests string) {
	t.Helper()
	abs, err := filepath.Abs(schemasDir)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(kubeconform, "-strict", "-summary", "-output", "text",
		"-schema-location", filepath.Join(abs, "{{.ResourceKind}}{{.KindSuffix}}.json"), "-")
	cmd.Stdin = strings.NewReader(manifests)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubeconform: %v\n%s", err, out)
	}
	t.Logf("kubeconform: %s", strings.TrimSpace(string(out)))
}

// The vendored schemas reject what the API server would: a misspelt field,
// a wrong type, an unknown kind (no schema: an error, never a skip).
func TestKubeconformSchemasRejectMistakes(t *testing.T) {
	kubeconform := helmPath(t, "kubeconform", kubeconHow)
	abs, err := filepath.Abs(schemasDir)
	if err != nil {
		t.Fatal(err)
	}
	good := "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec:\n  ports: [{port: 80, targetPort: http}]\n"
	for name, c := range map[string]struct {
		doc string
		ok  bool
	}{
		"valid service":        {good, true},
		"misspelt field":       {strings.Replace(good, "ports:", "prots:", 1), false},
		"port not a number":    {strings.Replace(good, "port: 80", "port: eighty", 1), false},
		"unknown kind":         {"apiVersion: v1\nkind: Sevrice\nmetadata: {name: a}\n", false},
		"rule without expr":    {"apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata: {name: a}\nspec:\n  groups: [{name: g, rules: [{alert: A}]}]\n", false},
		"servicemonitor typo":  {"apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: a}\nspec:\n  selector: {}\n  endpoints: [{prot: http}]\n", false},
		"deployment probe int": {"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec:\n  selector: {}\n  template:\n    spec:\n      containers: [{name: c, livenessProbe: {httpGet: {path: /, port: 8088}}}]\n", true},
	} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(kubeconform, "-strict", "-schema-location", filepath.Join(abs, "{{.ResourceKind}}{{.KindSuffix}}.json"), "-")
			cmd.Stdin = strings.NewReader(c.doc)
			out, err := cmd.CombinedOutput()
			if (err == nil) != c.ok {
				t.Errorf("kubeconform accepted=%v, want %v\n%s", err == nil, c.ok, out)
			}
		})
	}
}

func (m manifest) decode(t *testing.T, v any) {
	t.Helper()
	if err := yaml.Unmarshal(m.raw, v); err != nil {
		t.Fatalf("%s: %v", m.Kind, err)
	}
}

func get(t *testing.T, docs map[string]manifest, key string) manifest {
	t.Helper()
	m, ok := docs[key]
	if !ok {
		t.Fatalf("helm template rendered no %s (rendered: %v)", key, slices.Sorted(maps.Keys(docs)))
	}
	return m
}

type envVar struct {
	Name      string `yaml:"name"`
	Value     string `yaml:"value"`
	ValueFrom *struct {
		SecretKeyRef *struct {
			Name string `yaml:"name"`
			Key  string `yaml:"key"`
		} `yaml:"secretKeyRef"`
	} `yaml:"valueFrom"`
}

type probe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
	PeriodSeconds    int `yaml:"periodSeconds"`
	FailureThreshold int `yaml:"failureThreshold"`
}

type deployment struct {
	Spec struct {
		Template struct {
			Spec struct {
				SecurityContext struct {
					RunAsNonRoot bool `yaml:"runAsNonRoot"`
					RunAsUser    int  `yaml:"runAsUser"`
				} `yaml:"securityContext"`
				TerminationGracePeriodSeconds int `yaml:"terminationGracePeriodSeconds"`
				Containers                    []struct {
					Args  []string `yaml:"args"`
					Ports []struct {
						Name          string `yaml:"name"`
						ContainerPort int    `yaml:"containerPort"`
					} `yaml:"ports"`
					Env             []envVar `yaml:"env"`
					StartupProbe    *probe   `yaml:"startupProbe"`
					LivenessProbe   *probe   `yaml:"livenessProbe"`
					ReadinessProbe  *probe   `yaml:"readinessProbe"`
					SecurityContext struct {
						ReadOnlyRootFilesystem   bool `yaml:"readOnlyRootFilesystem"`
						AllowPrivilegeEscalation bool `yaml:"allowPrivilegeEscalation"`
					} `yaml:"securityContext"`
					VolumeMounts []struct {
						Name      string `yaml:"name"`
						MountPath string `yaml:"mountPath"`
						SubPath   string `yaml:"subPath"`
					} `yaml:"volumeMounts"`
				} `yaml:"containers"`
				Volumes []struct {
					Name      string         `yaml:"name"`
					EmptyDir  map[string]any `yaml:"emptyDir"`
					ConfigMap *struct {
						Name string `yaml:"name"`
					} `yaml:"configMap"`
					Secret *struct {
						SecretName string `yaml:"secretName"`
					} `yaml:"secret"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

// TestHelmTemplate renders the chart with its defaults and with every option
// on, validates the manifests against the Kubernetes and Prometheus Operator
// schemas, and checks that the pieces fit the worker: the config loads,
// every secret it names comes from a Secret, the probes hit the worker's
// HTTP address, and the monitoring objects carry the tested files.
func TestHelmTemplate(t *testing.T) {
	rules, err := os.ReadFile("prometheus/rules/vigil.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	dashboard, err := os.ReadFile("grafana/dashboards/vigil.json")
	if err != nil {
		t.Fatal(err)
	}
	for name, args := range valueSets {
		t.Run(name, func(t *testing.T) {
			docs := helmTemplate(t, args)
			const fullname = "vigil"

			var cm struct {
				Data map[string]string `yaml:"data"`
			}
			get(t, docs, "ConfigMap/"+fullname).decode(t, &cm)
			var d deployment
			get(t, docs, "Deployment/"+fullname).decode(t, &d)
			pod := d.Spec.Template.Spec
			if len(pod.Containers) != 1 {
				t.Fatalf("want one container, got %d", len(pod.Containers))
			}
			c := pod.Containers[0]

			// The config the worker loads, with the variables the pod sets.
			env := map[string]envVar{}
			for _, e := range c.Env {
				env[e.Name] = e
			}
			asked := map[string]bool{}
			cfg, err := config.Parse("vigil.yaml", []byte(cm.Data["vigil.yaml"]), config.Options{Getenv: func(k string) string {
				asked[k] = true
				if _, ok := env[k]; ok {
					return "set-in-the-pod"
				}
				return ""
			}})
			if err != nil {
				t.Fatalf("the ConfigMap's vigil.yaml does not load with the Deployment's environment: %v\n%s", err, cm.Data["vigil.yaml"])
			}
			for k := range asked {
				if strings.HasPrefix(k, "VIGIL_TEMPORAL_ADDRESS") || k == "VIGIL_TEMPORAL_NAMESPACE" || k == "VIGIL_HTTP_ADDR" {
					if _, ok := env[k]; ok {
						t.Errorf("env %s overrides the ConfigMap; the chart sets the config itself", k)
					}
					continue
				}
				if e, ok := env[k]; ok && (e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
					t.Errorf("env %s, named by the config as a secret, is not from a Secret (secretKeyRef)", k)
				}
			}

			// HTTP: the container port is the config's http_addr port, on all
			// interfaces, and every probe hits it.
			host, portStr, err := net.SplitHostPort(cfg.Worker.HTTPAddr)
			if err != nil || host != "0.0.0.0" {
				t.Errorf("worker.http_addr = %q: want 0.0.0.0:<port>, reachable by the kubelet and Prometheus", cfg.Worker.HTTPAddr)
			}
			port, _ := strconv.Atoi(portStr)
			if len(c.Ports) != 1 || c.Ports[0].Name != "http" || c.Ports[0].ContainerPort != port {
				t.Errorf("container ports %+v, want http: %d", c.Ports, port)
			}
			for what, p := range map[string]struct {
				p    *probe
				path string
			}{"startup": {c.StartupProbe, "/healthz"}, "liveness": {c.LivenessProbe, "/healthz"}, "readiness": {c.ReadinessProbe, "/readyz"}} {
				if p.p == nil {
					t.Errorf("no %s probe", what)
					continue
				}
				if p.p.HTTPGet.Path != p.path || fmt.Sprint(p.p.HTTPGet.Port) != "http" {
					t.Errorf("%s probe GET %v %s, want %s on port http", what, p.p.HTTPGet.Port, p.p.HTTPGet.Path, p.path)
				}
			}
			if s := c.StartupProbe; s != nil && s.PeriodSeconds*s.FailureThreshold < 60 {
				t.Errorf("startup probe allows %ds: the worker serves HTTP only once it reaches Temporal", s.PeriodSeconds*s.FailureThreshold)
			}

			// Hardening, and the writable places it leaves.
			if !pod.SecurityContext.RunAsNonRoot || pod.SecurityContext.RunAsUser == 0 {
				t.Errorf("pod securityContext %+v: want runAsNonRoot and a non-zero uid", pod.SecurityContext)
			}
			if !c.SecurityContext.ReadOnlyRootFilesystem || c.SecurityContext.AllowPrivilegeEscalation {
				t.Errorf("container securityContext %+v: want a read-only root filesystem, no privilege escalation", c.SecurityContext)
			}
			volumes := map[string]int{}
			for i, v := range pod.Volumes {
				volumes[v.Name] = i
			}
			mounts := map[string]string{}
			for _, m := range c.VolumeMounts {
				if _, ok := volumes[m.Name]; !ok {
					t.Errorf("mount %s: no volume of that name", m.Name)
				}
				mounts[m.MountPath] = m.Name
			}
			if v, ok := mounts["/tmp"]; !ok || pod.Volumes[volumes[v]].EmptyDir == nil {
				t.Errorf("/tmp is not an emptyDir: the worker's temporary files need it with a read-only root")
			}
			configArg := ""
			for _, a := range c.Args {
				if v, ok := strings.CutPrefix(a, "-config="); ok {
					configArg = v
				}
				name, _, _ := strings.Cut(strings.TrimPrefix(a, "-"), "=")
				if !slices.Contains(workerFlags(t), name) {
					t.Errorf("arg %s: the worker has no flag -%s", a, name)
				}
			}
			if v, ok := mounts[configArg]; !ok || pod.Volumes[volumes[v]].ConfigMap == nil || pod.Volumes[volumes[v]].ConfigMap.Name != fullname {
				t.Errorf("-config=%s is not the ConfigMap's mount (mounts %v)", configArg, mounts)
			}
			if tls := cfg.Temporal.TLS; tls.Enabled() {
				for _, f := range []string{tls.CertFile, tls.KeyFile, tls.CAFile} {
					if f == "" {
						continue
					}
					v, ok := mounts[path.Dir(f)]
					if !ok || pod.Volumes[volumes[v]].Secret == nil {
						t.Errorf("temporal.tls file %s is not in a mounted Secret (mounts %v)", f, mounts)
					}
				}
			}

			// Service and ServiceMonitor reach the port, under the job name
			// the alert rules select.
			var svc struct {
				Spec struct {
					Selector map[string]string `yaml:"selector"`
					Ports    []struct {
						Name       string `yaml:"name"`
						TargetPort any    `yaml:"targetPort"`
					} `yaml:"ports"`
				} `yaml:"spec"`
			}
			svcDoc := get(t, docs, "Service/"+fullname)
			svcDoc.decode(t, &svc)
			if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Name != "http" || fmt.Sprint(svc.Spec.Ports[0].TargetPort) != "http" {
				t.Errorf("service ports %+v, want http -> http", svc.Spec.Ports)
			}
			var sm struct {
				Spec struct {
					Selector struct {
						MatchLabels map[string]string `yaml:"matchLabels"`
					} `yaml:"selector"`
					Endpoints []struct {
						Port        string `yaml:"port"`
						Path        string `yaml:"path"`
						Relabelings []struct {
							Action      string `yaml:"action"`
							TargetLabel string `yaml:"targetLabel"`
							Replacement string `yaml:"replacement"`
						} `yaml:"relabelings"`
					} `yaml:"endpoints"`
				} `yaml:"spec"`
			}
			get(t, docs, "ServiceMonitor/"+fullname).decode(t, &sm)
			svcLabels := map[string]string{}
			for k, v := range svcDoc.Metadata["labels"].(map[string]any) {
				svcLabels[k] = fmt.Sprint(v)
			}
			for k, v := range sm.Spec.Selector.MatchLabels {
				if svcLabels[k] != v {
					t.Errorf("ServiceMonitor selects %s=%s; the Service has %q", k, v, svcLabels[k])
				}
			}
			if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != "http" || sm.Spec.Endpoints[0].Path != "/metrics" {
				t.Fatalf("ServiceMonitor endpoints %+v, want port http path /metrics", sm.Spec.Endpoints)
			}
			job := ""
			for _, r := range sm.Spec.Endpoints[0].Relabelings {
				if r.TargetLabel == "job" && r.Action == "replace" {
					job = r.Replacement
				}
			}
			if !bytes.Contains(rules, []byte(`job="`+job+`"`)) || job == "" {
				t.Errorf("ServiceMonitor sets job=%q; the rules select another job", job)
			}

			// PrometheusRule spec is the rules file; the dashboard is the JSON.
			var pr struct {
				Spec any `yaml:"spec"`
			}
			get(t, docs, "PrometheusRule/"+fullname).decode(t, &pr)
			var want any
			if err := yaml.Unmarshal(rules, &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(pr.Spec, want) {
				t.Error("the PrometheusRule's spec is not deploy/prometheus/rules/vigil.rules.yml")
			}
			var dash struct {
				Metadata struct {
					Labels map[string]string `yaml:"labels"`
				} `yaml:"metadata"`
				Data map[string]string `yaml:"data"`
			}
			get(t, docs, "ConfigMap/"+fullname+"-dashboard").decode(t, &dash)
			var got, wantDash any
			if err := json.Unmarshal([]byte(dash.Data["vigil.json"]), &got); err != nil {
				t.Fatalf("dashboard ConfigMap: %v", err)
			}
			json.Unmarshal(dashboard, &wantDash)
			if !reflect.DeepEqual(got, wantDash) {
				t.Error("the dashboard ConfigMap is not deploy/grafana/dashboards/vigil.json")
			}
			if dash.Metadata.Labels["grafana_dashboard"] != "1" {
				t.Errorf("dashboard labels %v: Grafana's sidecar looks for grafana_dashboard=1", dash.Metadata.Labels)
			}
			if name == "full" {
				checkFullValues(t, cfg, env, pod.TerminationGracePeriodSeconds, c.Args)
			}
		})
	}
}

// checkFullValues: the Temporal values reach the config as the worker reads
// them (address, namespace, task queue, TLS, API key by secret).
func checkFullValues(t *testing.T, cfg *config.Config, env map[string]envVar, grace int, args []string) {
	t.Helper()
	tc := cfg.Temporal
	if tc.Address != "my-ns.a1b2c.tmprl.cloud:7233" || tc.Namespace != "my-ns.a1b2c" || tc.TaskQueue != "vigil-prod" {
		t.Errorf("temporal = %s / %s / %s, want the values' address, namespace, task queue", tc.Address, tc.Namespace, tc.TaskQueue)
	}
	if tc.TLS.CertFile != "/etc/vigil/temporal-tls/tls.crt" || tc.TLS.KeyFile != "/etc/vigil/temporal-tls/tls.key" ||
		tc.TLS.CAFile != "/etc/vigil/temporal-tls/ca.crt" || tc.TLS.ServerName != "my-ns.a1b2c.tmprl.cloud" {
		t.Errorf("temporal.tls = %+v", tc.TLS)
	}
	if tc.Deployment.Name != "vigil" {
		t.Errorf("config.temporal.deployment lost in the merge: %+v", tc.Deployment)
	}
	e, ok := env[tc.APIKeyEnv]
	if tc.APIKeyEnv == "" || !ok || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil ||
		e.ValueFrom.SecretKeyRef.Name != "temporal-cloud" || e.ValueFrom.SecretKeyRef.Key != "api-key" {
		t.Errorf("temporal.api_key_env = %q, env %+v: want it from Secret temporal-cloud key api-key", tc.APIKeyEnv, e)
	}
	if env["VIGIL_BUILD_ID"].Value != "2026.12.1" {
		t.Errorf("VIGIL_BUILD_ID = %q", env["VIGIL_BUILD_ID"].Value)
	}
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "-stop-timeout="); ok {
			if d, err := config.ParseDuration(v); err != nil || d.Seconds() >= float64(grace) {
				t.Errorf("-stop-timeout=%s does not fit in terminationGracePeriodSeconds %d (%v)", v, grace, err)
			}
		}
	}
}

// TestReadmeDeployPathsExist: every deploy/… path the README's "Running it
// for real" shows (commands and prose) is in the repository.
func TestReadmeDeployPathsExist(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Running it for real\n")
	if !ok {
		t.Fatal(`README has no "## Running it for real"`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	paths := regexp.MustCompile(`deploy/[A-Za-z0-9_./-]*[A-Za-z0-9_]`).FindAllString(section, -1)
	for _, want := range []string{chartDir, "deploy/terraform/aws", "deploy/ansible/playbook.yml"} {
		if !slices.Contains(paths, "deploy/"+strings.TrimPrefix(want, "deploy/")) {
			t.Errorf("README's Running it for real does not show deploy/%s", strings.TrimPrefix(want, "deploy/"))
		}
	}
	for _, p := range paths {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("README shows %s: %v", p, err)
		}
	}
}
