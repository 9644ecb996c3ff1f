//go:build ignore

// gen writes the JSON schemas that deploy/helm_test.go hands kubeconform, so
// that validating the chart needs no network. Run from this directory:
//
//	go run gen.go
//
// Sources, both from the Go module proxy (go mod download):
//   - the Kubernetes API's OpenAPI v3 documents (core/v1 and apps/v1) that
//     k8s.io/client-go ships as test data, at the version go.mod requires.
//     They describe the Kubernetes 1.26 API (PodSpec has schedulingGates, new
//     in 1.26; Container has no resizePolicy, new in 1.27), so a chart that
//     validates uses nothing a 1.26 cluster lacks;
//   - the CustomResourceDefinitions prometheus-operator publishes
//     (example/prometheus-operator-crd) for ServiceMonitor and PrometheusRule.
//
// Each kind becomes one file named as kubeconform's schema-location template
// {{.ResourceKind}}{{.KindSuffix}}.json expects, holding the kind's schema and
// the definitions it references. Like kubeconform's own "strict" schemas,
// objects with declared properties reject unknown ones (a typo in a template
// fails validation); descriptions are dropped to keep the files small.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/goccy/go-yaml"
)

const promOperator = "github.com/prometheus-operator/prometheus-operator@v0.85.0"

// kinds: output file, OpenAPI document under client-go's testdata, component.
var kinds = []struct{ file, doc, component string }{
	{"deployment-apps-v1.json", "apis__apps__v1_openapi.json", "io.k8s.api.apps.v1.Deployment"},
	{"service-v1.json", "api__v1_openapi.json", "io.k8s.api.core.v1.Service"},
	{"configmap-v1.json", "api__v1_openapi.json", "io.k8s.api.core.v1.ConfigMap"},
	{"serviceaccount-v1.json", "api__v1_openapi.json", "io.k8s.api.core.v1.ServiceAccount"},
}

var crds = []struct{ file, crd string }{
	{"servicemonitor-monitoring-v1.json", "monitoring.coreos.com_servicemonitors.yaml"},
	{"prometheusrule-monitoring-v1.json", "monitoring.coreos.com_prometheusrules.yaml"},
}

func main() {
	clientGo := moduleDir("k8s.io/client-go@" + goModVersion("k8s.io/client-go"))
	for _, k := range kinds {
		var doc struct {
			Components struct {
				Schemas map[string]any `json:"schemas"`
			} `json:"components"`
		}
		readJSON(filepath.Join(clientGo, "openapi/openapitest/testdata", k.doc), &doc)
		all := doc.Components.Schemas
		defs := map[string]any{}
		collect(all, k.component, defs)
		root := convert(all[k.component])
		rootMap := root.(map[string]any)
		delete(defs, k.component)
		if len(defs) > 0 {
			out := map[string]any{}
			for name, s := range defs {
				out[name] = convert(s)
			}
			rootMap["definitions"] = out
		}
		write(k.file, rootMap)
	}
	po := moduleDir(promOperator)
	for _, c := range crds {
		src, err := os.ReadFile(filepath.Join(po, "example/prometheus-operator-crd", c.crd))
		check(err)
		var crd struct {
			Spec struct {
				Versions []struct {
					Name   string `yaml:"name"`
					Schema struct {
						OpenAPIV3Schema map[string]any `yaml:"openAPIV3Schema"`
					} `yaml:"schema"`
				} `yaml:"versions"`
			} `yaml:"spec"`
		}
		check(yaml.Unmarshal(src, &crd))
		found := false
		for _, v := range crd.Spec.Versions {
			if v.Name == "v1" {
				write(c.file, convert(v.Schema.OpenAPIV3Schema).(map[string]any))
				found = true
			}
		}
		if !found {
			log.Fatalf("%s: no version v1", c.crd)
		}
	}
}

var refPrefix = "#/components/schemas/"

// collect adds name and every component it references to defs.
func collect(all map[string]any, name string, defs map[string]any) {
	if _, ok := defs[name]; ok {
		return
	}
	s, ok := all[name]
	if !ok {
		log.Fatalf("no component %s", name)
	}
	defs[name] = s
	walk(s, func(m map[string]any) {
		if r, ok := m["$ref"].(string); ok {
			collect(all, strings.TrimPrefix(r, refPrefix), defs)
		}
	})
}

func walk(v any, f func(map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		f(x)
		for _, e := range x {
			walk(e, f)
		}
	case []any:
		for _, e := range x {
			walk(e, f)
		}
	}
}

// quantity is resource.Quantity: a string ("100m", "1Gi") or a number.
const quantity = "io.k8s.apimachinery.pkg.api.resource.Quantity"

// convert turns an OpenAPI v3 schema into JSON Schema: refs into
// #/definitions, int-or-string and quantities into oneOf, nullable into a
// null type, and declared properties into closed objects.
func convert(v any) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = convert(e)
		}
		return out
	case map[string]any:
		if x["x-kubernetes-int-or-string"] == true || x["format"] == "int-or-string" {
			return map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}}
		}
		out := map[string]any{}
		for k, e := range x {
			switch {
			case k == "description", strings.HasPrefix(k, "x-kubernetes-"), k == "nullable":
			case k == "properties" || k == "patternProperties" || k == "definitions":
				props := map[string]any{}
				for name, p := range e.(map[string]any) {
					props[name] = convert(p)
				}
				out[k] = props
			case k == "$ref":
				name := strings.TrimPrefix(e.(string), refPrefix)
				if name == quantity {
					return map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "number"}}}
				}
				out[k] = "#/definitions/" + name
			default:
				out[k] = convert(e)
			}
		}
		if _, ok := x["properties"]; ok && x["additionalProperties"] == nil && x["x-kubernetes-preserve-unknown-fields"] != true {
			out["additionalProperties"] = false
		}
		if x["nullable"] == true {
			if t, ok := out["type"].(string); ok {
				out["type"] = []any{t, "null"}
			}
		}
		return out
	}
	return v
}

func write(name string, schema map[string]any) {
	schema["$schema"] = "http://json-schema.org/draft-07/schema#"
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	check(enc.Encode(schema))
	check(os.WriteFile(name, buf.Bytes(), 0o644))
	fmt.Printf("%s\t%d bytes\n", name, buf.Len())
}

func readJSON(path string, v any) {
	b, err := os.ReadFile(path)
	check(err)
	check(json.Unmarshal(b, v))
}

// goModVersion is the version of module that ../../../go.mod requires.
func goModVersion(module string) string {
	b, err := os.ReadFile("../../../go.mod")
	check(err)
	m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(module) + `\s+(v\S+)`).FindSubmatch(b)
	if m == nil {
		log.Fatalf("go.mod does not require %s", module)
	}
	return string(m[1])
}

func moduleDir(modVersion string) string {
	out, err := exec.Command("go", "mod", "download", "-json", modVersion).Output()
	check(err)
	var m struct{ Dir, Error string }
	check(json.Unmarshal(out, &m))
	if m.Error != "" {
		log.Fatal(m.Error)
	}
	return m.Dir
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
