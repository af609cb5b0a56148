package injeval

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// APIValuesSource names the benign source made of the values real-world
// API descriptions give their requests: every string example, default and
// enumeration value of a parameter (query, path, header, cookie, form) or
// of a request body member, and every whole request body example, of the
// OpenAPI / Swagger documents of the development set
// (openapi/apis-guru-dev). They are what the designers of 142 public APIs
// (AWS, Azure, Google, Twilio …) wrote as ordinary requests: OData
// filters, resource names, selectors, JSON documents, passwords, prose.
// Each value is sent where its document puts it, under its own name.
const APIValuesSource = "api-values"

// apiValueMaxLen bounds one value (longer ones are counted, not sent).
const apiValueMaxLen = 64 << 10

// apiValueMaxDepth bounds the walk into nested body schemas.
const apiValueMaxDepth = 8

// headers a request cannot carry as a value of the document's (they
// describe the message itself): counted, not sent.
var apiValueSkipHeaders = map[string]bool{"host": true, "content-length": true, "transfer-encoding": true,
	"connection": true, "content-encoding": true, "content-type": true, "expect": true, "upgrade": true, "te": true, "trailer": true}

// LoadAPIValues reads every document under dir (*.json, *.yaml, *.yml)
// and returns one benign payload per distinct (position, name, value).
// The part (tuning or validation) is the value's, by SplitOf, as for every
// other payload. What cannot be sent is counted in st: values longer than
// 64 KiB, header values with control characters, headers that describe
// the message (Content-Length …), references outside the document.
func LoadAPIValues(dir string, st *LoadStats) ([]Payload, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".json", ".yaml", ".yml":
			if !d.IsDir() {
				files = append(files, p)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	w := &apiWalker{st: st, seen: map[string]bool{}}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var doc any
		if strings.EqualFold(filepath.Ext(f), ".json") {
			err = json.Unmarshal(raw, &doc)
		} else {
			err = yaml.Unmarshal(raw, &doc)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		root, ok := doc.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: not an OpenAPI document (top level is not an object)", f)
		}
		if _, ok := root["paths"].(map[string]any); !ok {
			st.SkippedFiles = append(st.SkippedFiles, f+" (no paths)")
			continue
		}
		st.Files++
		w.file, w.root = filepath.Base(f), root
		w.document()
	}
	st.Payloads += len(w.out)
	return w.out, nil
}

type apiWalker struct {
	st   *LoadStats
	file string
	root map[string]any
	seen map[string]bool // in \x00 name \x00 value
	out  []Payload
}

var apiMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func (w *apiWalker) document() {
	paths := w.root["paths"].(map[string]any)
	keys := sortedKeys(paths)
	for _, p := range keys {
		item, ok := w.resolve(paths[p]).(map[string]any)
		if !ok {
			continue
		}
		shared := asList(item["parameters"])
		for _, m := range apiMethods {
			op, ok := item[m].(map[string]any)
			if !ok {
				continue
			}
			for _, prm := range append(append([]any(nil), shared...), asList(op["parameters"])...) {
				w.parameter(prm)
			}
			if rb, ok := w.resolve(op["requestBody"]).(map[string]any); ok {
				w.content(rb["content"])
			}
		}
	}
}

// parameter collects an OpenAPI 3 or Swagger 2 parameter's values.
func (w *apiWalker) parameter(p any) {
	prm, ok := w.resolve(p).(map[string]any)
	if !ok {
		return
	}
	name, _ := prm["name"].(string)
	in, _ := prm["in"].(string)
	switch in {
	case "query", "path", "header", "cookie":
	case "formData":
		in = "form"
	case "body": // Swagger 2: the body's schema
		if s, ok := prm["schema"]; ok {
			w.bodySchema("json", s)
		}
		w.bodyExamples(prm["x-examples"])
		return
	default:
		return
	}
	if name == "" {
		return
	}
	vals := w.strings(prm)
	if s, ok := w.resolve(prm["schema"]).(map[string]any); ok {
		vals = append(vals, w.strings(s)...)
		if it, ok := w.resolve(s["items"]).(map[string]any); ok {
			vals = append(vals, w.strings(it)...)
		}
	}
	if it, ok := w.resolve(prm["items"]).(map[string]any); ok { // Swagger 2 arrays
		vals = append(vals, w.strings(it)...)
	}
	for _, v := range vals {
		w.add(in, name, v)
	}
}

// content collects an OpenAPI 3 request body: JSON and form members, and
// whole JSON examples.
func (w *apiWalker) content(c any) {
	cm, ok := c.(map[string]any)
	if !ok {
		return
	}
	for _, ct := range sortedKeys(cm) {
		mt, ok := cm[ct].(map[string]any)
		if !ok {
			continue
		}
		lct := strings.ToLower(ct)
		switch {
		case strings.Contains(lct, "json"):
			w.bodySchema("json", mt["schema"])
			if ex, ok := mt["example"]; ok {
				w.bodyExample(ex)
			}
			w.bodyExamples(mt["examples"])
		case strings.Contains(lct, "x-www-form-urlencoded"):
			w.bodySchema("form", mt["schema"])
		}
	}
}

// bodySchema collects the string values of every named member of a body
// schema, down to apiValueMaxDepth, each reference followed once per path.
func (w *apiWalker) bodySchema(in string, s any) {
	w.members(in, "", s, 0, map[string]bool{})
	if m, ok := w.resolve(s).(map[string]any); ok {
		if ex, ok := m["example"]; ok {
			if _, isObj := ex.(map[string]any); isObj && in == "json" {
				w.bodyExample(ex)
			}
		}
	}
}

func (w *apiWalker) members(in, name string, s any, depth int, onPath map[string]bool) {
	if depth > apiValueMaxDepth {
		return
	}
	if ref := refOf(s); ref != "" {
		if onPath[ref] {
			return
		}
		onPath[ref] = true
		defer delete(onPath, ref)
	}
	m, ok := w.resolve(s).(map[string]any)
	if !ok {
		return
	}
	if name != "" {
		for _, v := range w.strings(m) {
			w.add(in, name, v)
		}
	}
	if props, ok := m["properties"].(map[string]any); ok {
		for _, k := range sortedKeys(props) {
			w.members(in, k, props[k], depth+1, onPath)
		}
	}
	if it, ok := m["items"]; ok {
		w.members(in, name, it, depth+1, onPath)
	}
	for _, k := range []string{"allOf", "oneOf", "anyOf"} {
		for _, sub := range asList(m[k]) {
			w.members(in, name, sub, depth+1, onPath)
		}
	}
}

// bodyExamples: an OpenAPI 3 "examples" map ({name: {value}}) or a
// Swagger 2 "x-examples" map ({media type: value}).
func (w *apiWalker) bodyExamples(x any) {
	m, ok := x.(map[string]any)
	if !ok {
		return
	}
	for _, k := range sortedKeys(m) {
		e := w.resolve(m[k])
		if em, ok := e.(map[string]any); ok {
			if v, ok := em["value"]; ok {
				w.bodyExample(v)
				continue
			}
		}
		w.bodyExample(e)
	}
}

// bodyExample adds a whole JSON request body (an object or an array).
func (w *apiWalker) bodyExample(v any) {
	switch v.(type) {
	case map[string]any, []any:
	default:
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		w.st.skip(APIValuesSource+": body example not representable as JSON", 1)
		return
	}
	w.add("body", "", string(b))
}

// strings returns the string example, x-example, default, enumeration and
// examples values of a parameter or schema.
func (w *apiWalker) strings(m map[string]any) []string {
	var out []string
	for _, k := range []string{"example", "x-example", "default"} {
		if s, ok := m[k].(string); ok {
			out = append(out, s)
		}
	}
	for _, e := range asList(m["enum"]) {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	if ex, ok := m["examples"].(map[string]any); ok { // OpenAPI 3 parameter examples
		for _, k := range sortedKeys(ex) {
			if em, ok := w.resolve(ex[k]).(map[string]any); ok {
				if s, ok := em["value"].(string); ok {
					out = append(out, s)
				}
			}
		}
	}
	for _, e := range asList(m["examples"]) { // JSON Schema examples
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func (w *apiWalker) add(in, name, v string) {
	if v == "" {
		return
	}
	if len(v) > apiValueMaxLen {
		w.st.skip(APIValuesSource+": value over 64 KiB", 1)
		return
	}
	if in == "header" {
		if apiValueSkipHeaders[strings.ToLower(name)] {
			w.st.skip(APIValuesSource+": header describing the message ("+strings.ToLower(name)+")", 1)
			return
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			w.st.skip(APIValuesSource+": header value with a line break or NUL", 1)
			return
		}
	}
	k := in + "\x00" + name + "\x00" + v
	if w.seen[k] {
		return
	}
	w.seen[k] = true
	w.out = append(w.out, Payload{Source: APIValuesSource, Set: in, Class: Benign, Value: v, Split: SplitOf(v), Param: name})
}

// resolve follows local references (#/components/…, #/definitions/…), at
// most 16 in a row; a reference elsewhere is counted and gives nil.
func (w *apiWalker) resolve(x any) any {
	for i := 0; i < 16; i++ {
		ref := refOf(x)
		if ref == "" {
			return x
		}
		if !strings.HasPrefix(ref, "#/") {
			w.st.skip(APIValuesSource+": reference outside the document", 1)
			return nil
		}
		var cur any = w.root
		for _, tok := range strings.Split(ref[2:], "/") {
			tok, _ = url.PathUnescape(tok)
			tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
			m, ok := cur.(map[string]any)
			if !ok {
				cur = nil
				break
			}
			cur = m[tok]
		}
		if cur == nil {
			w.st.skip(APIValuesSource+": unresolvable reference in "+w.file, 1)
			return nil
		}
		x = cur
	}
	return nil
}

func refOf(x any) string {
	if m, ok := x.(map[string]any); ok {
		if r, ok := m["$ref"].(string); ok {
			return r
		}
	}
	return ""
}

func asList(x any) []any {
	l, _ := x.([]any)
	return l
}

func sortedKeys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }
