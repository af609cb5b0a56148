package config

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// Key describes one configuration key for the documentation.
type Key struct {
	Key     string // dotted; "[]" stands for any list element ("sinks[].url")
	Type    string // string, integer, number, true/false, duration, list of strings, mapping …
	Default string // rendered default; "" when there is none
	Doc     string // meaning, from the field's doc tag
}

// Describer is implemented by a section with dynamic members (the
// families of detect.options, the kinds of sources): it lists their keys,
// relative to the section.
type Describer interface {
	DescribeKeys() []Key
}

var describerType = reflect.TypeFor[Describer]()

// Describe lists every key of the configuration v (its current values are
// the defaults), from the yaml and doc tags of its types.
func Describe(v any) []Key {
	var out []Key
	describe(reflect.ValueOf(v), "", "", &out, 0)
	return out
}

func describe(v reflect.Value, path, doc string, out *[]Key, depth int) {
	if depth > 32 || !v.IsValid() {
		return
	}
	t := v.Type()
	if t.Implements(describerType) || reflect.PointerTo(t).Implements(describerType) {
		var d Describer
		if t.Implements(describerType) {
			d = v.Interface().(Describer)
		} else {
			c := reflect.New(t)
			c.Elem().Set(v)
			d = c.Interface().(Describer)
		}
		keys := d.DescribeKeys()
		sort.SliceStable(keys, func(i, j int) bool { return keys[i].Key < keys[j].Key })
		for _, k := range keys {
			k.Key = join(path, k.Key)
			*out = append(*out, k)
		}
		return
	}
	if leaf, typ := leafType(t); leaf {
		*out = append(*out, Key{Key: path, Type: typ, Default: render(v), Doc: doc})
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v = reflect.New(t.Elem())
		}
		describe(v.Elem(), path, doc, out, depth+1)
	case reflect.Struct:
		fields(v, path, func(fv reflect.Value, p string, f reflect.StructField) {
			describe(fv, p, f.Tag.Get("doc"), out, depth+1)
		})
	case reflect.Slice:
		elem := reflect.New(t.Elem()).Elem()
		if v.Len() > 0 {
			elem = v.Index(0)
		}
		describe(elem, path+"[]", doc, out, depth+1)
	case reflect.Map:
		elem := reflect.New(t.Elem()).Elem()
		describe(elem, path+".<name>", doc, out, depth+1)
	default:
		*out = append(*out, Key{Key: path, Type: t.Kind().String(), Default: render(v), Doc: doc})
	}
}

var durationType = reflect.TypeFor[Duration]()

// leafType reports whether t is a value (not a section) and names it.
func leafType(t reflect.Type) (bool, string) {
	if t == durationType {
		return true, "duration"
	}
	switch t.Kind() {
	case reflect.String:
		return true, "string"
	case reflect.Bool:
		return true, "true/false"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint32, reflect.Uint64, reflect.Uint:
		return true, "integer"
	case reflect.Float64, reflect.Float32:
		return true, "number"
	case reflect.Slice:
		if ok, typ := leafType(t.Elem()); ok && t.Elem().Kind() != reflect.Slice {
			return true, "list of " + plural(typ)
		}
	case reflect.Map:
		if ok, typ := leafType(t.Elem()); ok && t.Key().Kind() == reflect.String && t.Elem().Kind() != reflect.Slice && t.Elem().Kind() != reflect.Map {
			return true, "mapping of " + plural(typ)
		}
	}
	return false, ""
}

func plural(typ string) string {
	switch typ {
	case "true/false":
		return "true/false"
	case "duration":
		return "durations"
	}
	return typ + "s"
}

// render shows a default value as a user would write it.
func render(v reflect.Value) string {
	if !v.IsValid() || v.IsZero() {
		if !v.IsValid() {
			return ""
		}
		switch v.Kind() {
		case reflect.Bool:
			return "false"
		case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint32, reflect.Uint64, reflect.Float64, reflect.Float32:
			if v.Type() == durationType {
				return "0s"
			}
			return "0"
		}
		return ""
	}
	if d, ok := v.Interface().(Duration); ok {
		return d.String()
	}
	switch v.Kind() {
	case reflect.String:
		return v.String()
	case reflect.Float64, reflect.Float32:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	case reflect.Slice:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = render(v.Index(i))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case reflect.Map:
		keys := v.MapKeys()
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%v: %s", k, render(v.MapIndex(k))))
		}
		sort.Strings(parts)
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprint(v.Interface())
}
