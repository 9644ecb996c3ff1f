package config

import (
	"reflect"
	"sort"
	"strings"
)

// SecretEnvNames lists the environment variables the config names as
// secrets: every non-empty field whose YAML key ends in _env (or _envs, a
// list), sorted and without duplicates. Error reporters scrub these
// variables' values from what they send.
func (c *Config) SecretEnvNames() []string {
	seen := map[string]bool{}
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer, reflect.Interface:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Slice, reflect.Array:
			for i := range v.Len() {
				walk(v.Index(i))
			}
		case reflect.Map:
			for _, k := range v.MapKeys() {
				walk(v.MapIndex(k))
			}
		case reflect.Struct:
			t := v.Type()
			for i := range t.NumField() {
				f, fv := t.Field(i), v.Field(i)
				if !f.IsExported() {
					continue
				}
				key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
				switch {
				case strings.HasSuffix(key, "_env") && fv.Kind() == reflect.String:
					if fv.String() != "" {
						seen[fv.String()] = true
					}
				case strings.HasSuffix(key, "_envs") && fv.Kind() == reflect.Slice:
					for j := range fv.Len() {
						if s := fv.Index(j).String(); s != "" {
							seen[s] = true
						}
					}
				default:
					walk(fv)
				}
			}
		}
	}
	walk(reflect.ValueOf(c))
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
