package config

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/goccy/go-yaml"
)

// Marshal writes c as YAML that Parse reads back into the same Config:
// `worker -dev` writes the config it runs to <data_dir>/vigil.yaml so that
// `starter` finds it. Zero values are left out (Parse reads an absent field
// as its zero value and applies the same defaults); pointers that are set
// are written even when they point to a zero value (`below: 0`,
// `console: false`). A Config holds no secrets, only the names of the
// variables that hold them, so the output holds none either.
func (c *Config) Marshal() ([]byte, error) {
	tree, err := encodeValue(reflect.ValueOf(*c), "")
	if err != nil {
		return nil, err
	}
	return yaml.MarshalWithOptions(tree, yaml.IndentSequence(true))
}

// encodeValue turns v into values goccy/go-yaml writes as the decoder reads
// them: structs as yaml.MapSlice in field order, durations as "15m0s".
// A nil result means "leave the field out".
func encodeValue(v reflect.Value, path string) (any, error) {
	if v.Type() == durationType {
		if v.Int() == 0 {
			return nil, nil
		}
		return shortDuration(Duration(v.Int())), nil
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return nil, nil
		}
		out, err := encodeValue(v.Elem(), path)
		if out == nil && err == nil {
			// Set but zero: written, so that Parse sets the pointer too.
			if v.Elem().Kind() == reflect.Struct {
				return yaml.MapSlice{}, nil
			}
			return v.Elem().Interface(), nil
		}
		return out, err
	case reflect.Struct:
		var out yaml.MapSlice
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			name := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
			if name == "" || name == "-" {
				continue
			}
			item, err := encodeValue(v.Field(i), join(path, name))
			if err != nil {
				return nil, err
			}
			if item != nil {
				out = append(out, yaml.MapItem{Key: name, Value: item})
			}
		}
		if len(out) == 0 {
			return nil, nil
		}
		return out, nil
	case reflect.Map:
		if v.Len() == 0 {
			return nil, nil
		}
		if v.Type().Key().Kind() != reflect.String {
			return nil, fmt.Errorf("config: cannot write %s: map keys are not strings", path)
		}
		keys := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			keys = append(keys, k.String())
		}
		sort.Strings(keys)
		out := yaml.MapSlice{}
		for _, k := range keys {
			item, err := encodeValue(v.MapIndex(reflect.ValueOf(k).Convert(v.Type().Key())), join(path, k))
			if err != nil {
				return nil, err
			}
			if item == nil {
				item = yaml.MapSlice{} // a key with an empty value is still a key (routes: {info: {}})
			}
			out = append(out, yaml.MapItem{Key: k, Value: item})
		}
		return out, nil
	case reflect.Slice:
		if v.Len() == 0 {
			return nil, nil
		}
		out := make([]any, v.Len())
		for i := range v.Len() {
			item, err := encodeValue(v.Index(i), fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			if item == nil {
				item = reflect.Zero(v.Type().Elem()).Interface()
				if v.Type().Elem().Kind() == reflect.Struct {
					item = yaml.MapSlice{}
				}
			}
			out[i] = item
		}
		return out, nil
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int64, reflect.Float64:
		if v.IsZero() {
			return nil, nil
		}
		return v.Interface(), nil
	}
	return nil, fmt.Errorf("config: cannot write %s: unsupported kind %s", path, v.Kind())
}

// shortDuration is d as Go writes it without trailing zero units: "1m", not
// "1m0s"; "720h", not "720h0m0s".
func shortDuration(d Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
