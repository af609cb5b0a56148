package inventory

import (
	"encoding/json"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/specfile"
)

// lenientSpec extracts servers and operations from a generic decoding of
// an OpenAPI 3 document that kin-openapi rejected (for instance a number
// where the schema wants a string). Only what the inventory needs is read:
// servers, paths, methods, parameters (local $refs resolved), JSON request
// body properties, security and deprecation.
func lenientSpec(s *Spec, data []byte) error {
	var root map[string]any
	if err := json.Unmarshal(data, &root); err != nil {
		var v any
		if yerr := specfile.UnmarshalYAML(data, &v); yerr != nil {
			return yerr
		}
		m, ok := specfile.JSONable(v).(map[string]any)
		if !ok {
			return err
		}
		root = m
	}
	doc := &openapi3.T{}
	if info, ok := root["info"].(map[string]any); ok {
		s.Title, _ = info["title"].(string)
		s.Version, _ = info["version"].(string)
	}
	for _, sv := range asList(root["servers"]) {
		m, _ := sv.(map[string]any)
		u, _ := m["url"].(string)
		if u == "" {
			continue
		}
		srv := &openapi3.Server{URL: u, Variables: map[string]*openapi3.ServerVariable{}}
		vars, _ := m["variables"].(map[string]any)
		for name, v := range vars {
			vm, _ := v.(map[string]any)
			def, _ := vm["default"].(string)
			srv.Variables[name] = &openapi3.ServerVariable{Default: def}
		}
		doc.Servers = append(doc.Servers, srv)
	}
	s.servers(doc)
	globalAuth := lenientAuth(root["security"], false)
	paths, _ := root["paths"].(map[string]any)
	keys := make([]string, 0, len(paths))
	for k := range paths {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, p := range keys {
		item, _ := resolve(root, paths[p]).(map[string]any)
		if item == nil {
			continue
		}
		var methods []string
		for m := range item {
			if knownMethods[strings.ToUpper(m)] {
				methods = append(methods, m)
			}
		}
		sort.Strings(methods)
		for _, m := range methods {
			op, _ := item[m].(map[string]any)
			if op == nil {
				continue
			}
			so := SpecOperation{Method: strings.ToUpper(m), Path: p}
			so.OperationID, _ = op["operationId"].(string)
			so.Op.Deprecated, _ = op["deprecated"].(bool)
			for _, t := range asList(op["tags"]) {
				if ts, ok := t.(string); ok {
					so.Op.Tags = append(so.Op.Tags, ts)
				}
			}
			if _, has := op["security"]; has {
				so.Op.AuthRequired = lenientAuth(op["security"], false)
			} else {
				so.Op.AuthRequired = globalAuth
			}
			seen := map[paramKey]bool{}
			for _, list := range []any{op["parameters"], item["parameters"]} {
				for _, pr := range asList(list) {
					pm, _ := resolve(root, pr).(map[string]any)
					name, _ := pm["name"].(string)
					in, _ := pm["in"].(string)
					if name == "" || in == "" || seen[paramKey{in, name}] {
						continue
					}
					seen[paramKey{in, name}] = true
					typ, format := lenientType(resolve(root, pm["schema"]))
					so.Op.Params = append(so.Op.Params, model.SpecParam{Name: name, In: in, Type: typ, Format: format})
					if req, _ := pm["required"].(bool); req || in == "path" {
						so.Required = append(so.Required, in+":"+name)
					}
				}
			}
			if rb, _ := resolve(root, op["requestBody"]).(map[string]any); rb != nil {
				content, _ := rb["content"].(map[string]any)
				for ct, mt := range content {
					if !strings.Contains(ct, "json") {
						continue
					}
					mm, _ := mt.(map[string]any)
					sch, _ := resolve(root, mm["schema"]).(map[string]any)
					props, _ := sch["properties"].(map[string]any)
					req := map[string]bool{}
					for _, r := range asList(sch["required"]) {
						if rs, ok := r.(string); ok {
							req[rs] = true
						}
					}
					names := make([]string, 0, len(props))
					for n := range props {
						names = append(names, n)
					}
					sort.Strings(names)
					for _, n := range names {
						if seen[paramKey{"body", n}] {
							continue
						}
						seen[paramKey{"body", n}] = true
						typ, format := lenientType(resolve(root, props[n]))
						so.Op.Params = append(so.Op.Params, model.SpecParam{Name: n, In: "body", Type: typ, Format: format})
						if req[n] {
							so.Required = append(so.Required, "body:"+n)
						}
					}
				}
			}
			s.Ops = append(s.Ops, so)
		}
	}
	return nil
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// resolve follows local "#/..." references (a few hops at most).
func resolve(root map[string]any, v any) any {
	for hop := 0; hop < 8; hop++ {
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		ref, ok := m["$ref"].(string)
		if !ok || !strings.HasPrefix(ref, "#/") {
			return v
		}
		var cur any = root
		for _, part := range strings.Split(ref[2:], "/") {
			part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
			cm, ok := cur.(map[string]any)
			if !ok {
				return nil
			}
			cur = cm[part]
		}
		v = cur
	}
	return v
}

func lenientType(v any) (string, string) {
	m, _ := v.(map[string]any)
	format, _ := m["format"].(string)
	switch t := m["type"].(type) {
	case string:
		return t, format
	case []any:
		for _, x := range t {
			if xs, ok := x.(string); ok && xs != "null" {
				return xs, format
			}
		}
	}
	return "string", format
}

func lenientAuth(v any, def bool) bool {
	l, ok := v.([]any)
	if !ok {
		return def
	}
	if len(l) == 0 {
		return false
	}
	for _, r := range l {
		if m, ok := r.(map[string]any); ok && len(m) == 0 {
			return false
		}
	}
	return true
}
