package inventory

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/palisade-sec/palisade/internal/enrich"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/specfile"
)

// Spec is a declared API description (OpenAPI 3.0/3.1, or Swagger 2.0
// converted to OpenAPI 3).
type Spec struct {
	Name    string // file name (or the name given to ParseSpec)
	Title   string
	Version string // info.version
	Format  string // "openapi 3.0.1", "swagger 2.0", …
	// Hosts the spec applies to: the hosts of its absolute `servers` URLs.
	// Callers may set or extend it before AddSpec (a spec without servers,
	// or with relative server URLs only, needs at least one host).
	Hosts []string
	// BasePaths from the servers' URL paths ("" when none).
	BasePaths []string
	Ops       []SpecOperation
	Doc       *openapi3.T
	// Warnings: validation problems that did not prevent loading.
	Warnings []string
}

// SpecOperation is one declared operation.
type SpecOperation struct {
	Method      string
	Path        string // as declared (without base path)
	OperationID string
	Op          model.SpecOp
	Required    []string // "in:name" of required parameters
	// ResponseFields are the JSON paths ("$.a.b", "$.items[*].c") declared
	// by the operation's 2xx JSON response schemas; a path ending in ".*"
	// is an open object (any field below it is declared). Nil when the
	// operation declares no JSON response schema.
	ResponseFields []string
}

type declOp struct {
	op         model.SpecOp
	source     string
	required   map[paramKey]bool
	respFields []string
}

// LoadSpec reads and parses a spec file (JSON or YAML; OpenAPI 3.0/3.1 or
// Swagger 2.0). Its errors name the file once ("spec api.yaml: …", or
// "api.yaml:12: …" for a position in it). The argument may carry options after the file name:
// "api.yaml,host=api.example.test,host=api2.example.test" applies the spec
// to those hosts (in addition to its servers' hosts).
func LoadSpec(arg string) (*Spec, error) {
	path, hosts, err := SplitSpecArg(arg)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is named once, below
		}
		return nil, fmt.Errorf("spec %s: %w", path, err)
	}
	s, err := ParseSpec(path, data)
	if err != nil {
		return nil, err // "api.yaml:12: …"
	}
	for _, h := range hosts {
		if !contains(s.Hosts, h) {
			s.Hosts = append(s.Hosts, h)
		}
	}
	return s, nil
}

// SplitSpecArg splits "FILE[,host=HOST]..." into the file name and hosts.
// A file that exists under the full argument is taken as is.
func SplitSpecArg(arg string) (string, []string, error) {
	i := strings.Index(arg, ",host=")
	if i < 0 {
		return arg, nil, nil
	}
	if _, err := os.Stat(arg); err == nil {
		return arg, nil, nil
	}
	path := arg[:i]
	var hosts []string
	for _, opt := range strings.Split(arg[i+1:], ",") {
		k, v, ok := strings.Cut(opt, "=")
		if !ok || k != "host" || v == "" {
			return "", nil, fmt.Errorf("spec %s: bad option %q (want host=HOST)", path, opt)
		}
		hosts = append(hosts, enrich.NormalizeHost(v, ""))
	}
	return path, hosts, nil
}

// ParseSpec parses a spec held in memory; name is used in errors
// ("name:line: message" when the position is known). A panic of the
// OpenAPI library on malformed input is returned as an error.
func ParseSpec(name string, data []byte) (s *Spec, err error) {
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("%s: malformed document (OpenAPI library failed: %v)", name, r)
		}
	}()
	return parseSpec(name, data)
}

func parseSpec(name string, data []byte) (*Spec, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("%s: empty document", name)
	}
	var top map[string]any
	if trimmed[0] == '{' {
		if err := json.Unmarshal(trimmed, &top); err != nil {
			var se *json.SyntaxError
			var te *json.UnmarshalTypeError
			switch {
			case errors.As(err, &se):
				line, col := specfile.LineCol(data, int(se.Offset)+(len(data)-len(bytes.TrimLeft(data, " \t\r\n"))))
				return nil, fmt.Errorf("%s:%d:%d: invalid JSON: %v", name, line, col, se)
			case errors.As(err, &te):
				return nil, fmt.Errorf("%s: top level must be an object: %v", name, err)
			}
			return nil, fmt.Errorf("%s: invalid JSON: %v", name, err)
		}
	} else {
		doc, err := specfile.ParseYAML(data)
		if err != nil {
			var se *specfile.SyntaxError
			if errors.As(err, &se) && se.Line > 0 {
				return nil, fmt.Errorf("%s:%d: invalid YAML: %s", name, se.Line, se.Msg)
			}
			return nil, fmt.Errorf("%s: invalid YAML: %v", name, err)
		}
		if len(doc.Content) == 0 || doc.Content[0].Kind != specfile.MappingNode {
			line := 1
			if len(doc.Content) > 0 {
				line = doc.Content[0].Line
			}
			return nil, fmt.Errorf("%s:%d: top level must be a mapping (an OpenAPI object)", name, line)
		}
		top = map[string]any{}
		root := doc.Content[0]
		for i := 0; i+1 < len(root.Content); i += 2 {
			k, v := root.Content[i], root.Content[i+1]
			if v.Kind == specfile.ScalarNode {
				top[k.Value] = v.Value
			} else {
				top[k.Value] = true
			}
		}
	}
	s := &Spec{Name: name}
	var doc *openapi3.T
	switch {
	case top["swagger"] != nil:
		s.Format = "swagger " + fmt.Sprint(top["swagger"])
		if fmt.Sprint(top["swagger"]) != "2.0" {
			return nil, fmt.Errorf("%s: swagger version %q is not supported (2.0 only)", name, fmt.Sprint(top["swagger"]))
		}
		d3, notes, err := specfile.LoadOpenAPI(data, true)
		if err != nil {
			what := "not a valid Swagger 2.0 document"
			var oe *specfile.OpenAPIError
			if errors.As(err, &oe) {
				what = map[string]string{"yaml": "invalid YAML", "json": "cannot convert YAML to JSON", "swagger": what,
					"convert": "converting Swagger 2.0 to OpenAPI 3"}[oe.Step]
			}
			return nil, fmt.Errorf("%s: %s: %v", name, what, err)
		}
		s.Warnings = append(s.Warnings, notes...)
		doc = d3
	case top["openapi"] != nil:
		v := fmt.Sprint(top["openapi"])
		s.Format = "openapi " + v
		if !strings.HasPrefix(v, "3.") {
			return nil, fmt.Errorf("%s: openapi version %q is not supported (3.0, 3.1)", name, v)
		}
		d, _, err := specfile.LoadOpenAPI(data, false)
		if err != nil {
			// Strict decoding failed: fall back to a lenient reading of the
			// structure when it is there, and keep the error as a warning.
			if _, ok := top["paths"]; ok && lenientSpec(s, data) == nil && len(s.Ops) > 0 {
				s.Warnings = append(s.Warnings, "loaded leniently: "+name+":"+locate(data, err.Error()))
				return s, nil
			}
			return nil, fmt.Errorf("%s:%s", name, locate(data, err.Error()))
		}
		doc = d
	default:
		return nil, fmt.Errorf("%s: not an OpenAPI or Swagger document (no top-level \"openapi\" or \"swagger\" field)", name)
	}
	s.Doc = doc
	if doc.Info != nil {
		s.Title, s.Version = doc.Info.Title, doc.Info.Version
	}
	if err := doc.Validate(context.Background(), openapi3.DisableExamplesValidation(), openapi3.DisableSchemaDefaultsValidation(),
		openapi3.DisableSchemaPatternValidation()); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			if line = strings.TrimSpace(line); line != "" && len(s.Warnings) < 20 {
				s.Warnings = append(s.Warnings, line)
			}
		}
	}
	s.servers(doc)
	s.operations(doc)
	return s, nil
}

var fieldRe = regexp.MustCompile(`field [A-Za-z0-9_]+\.([A-Za-z0-9_$]+)`)

// locate shortens a kin-openapi loader error and prefixes the line of the
// field it names when that key occurs once in the source (the loader gives
// no positions).
func locate(data []byte, msg string) string {
	if i := strings.LastIndex(msg, "yaml error: "); i >= 0 && strings.HasPrefix(msg, "failed to unmarshal data: json error: invalid character") {
		msg = msg[i+len("yaml error: "):]
	}
	msg = strings.TrimPrefix(msg, "error unmarshaling JSON: while decoding JSON: ")
	key := ""
	if m := fieldRe.FindStringSubmatch(msg); m != nil {
		key = m[1]
	} else if i := strings.Index(msg, `"`); i >= 0 {
		if j := strings.Index(msg[i+1:], `"`); j > 0 {
			key = msg[i+1 : i+1+j]
		}
	}
	if key != "" {
		var offs []int
		for _, pat := range []string{"\n\\s*" + regexp.QuoteMeta(key) + ":", `"` + regexp.QuoteMeta(key) + `"\s*:`} {
			for _, loc := range regexp.MustCompile(pat).FindAllIndex(data, 2) {
				offs = append(offs, loc[0]+1)
			}
		}
		if len(offs) == 1 {
			line, _ := specfile.LineCol(data, offs[0])
			return strconv.Itoa(line) + ": " + msg
		}
	}
	return " " + msg
}

func (s *Spec) servers(doc *openapi3.T) {
	seenHost := map[string]bool{}
	seenBase := map[string]bool{}
	for _, srv := range doc.Servers {
		if srv == nil {
			continue
		}
		raw := srv.URL
		for name, v := range srv.Variables {
			if v != nil {
				raw = strings.ReplaceAll(raw, "{"+name+"}", v.Default)
			}
		}
		u, err := url.Parse(raw)
		if err != nil {
			s.Warnings = append(s.Warnings, fmt.Sprintf("server URL %q: %v", srv.URL, err))
			continue
		}
		if u.Host != "" && !strings.Contains(u.Host, "{") {
			h := enrich.NormalizeHost(u.Host, strings.ToLower(u.Scheme))
			if !seenHost[h] {
				seenHost[h] = true
				s.Hosts = append(s.Hosts, h)
			}
		}
		base := strings.TrimRight(u.EscapedPath(), "/")
		if strings.Contains(base, "{") {
			base = ""
		}
		if !seenBase[base] {
			seenBase[base] = true
			s.BasePaths = append(s.BasePaths, base)
		}
	}
	if len(s.BasePaths) == 0 {
		s.BasePaths = []string{""}
	}
}

func (s *Spec) operations(doc *openapi3.T) {
	if doc.Paths == nil {
		return
	}
	globalAuth := authRequired(&doc.Security)
	paths := doc.Paths.Map()
	keys := make([]string, 0, len(paths))
	for k := range paths {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, p := range keys {
		item := paths[p]
		if item == nil {
			continue
		}
		ops := item.Operations()
		methods := make([]string, 0, len(ops))
		for m := range ops {
			methods = append(methods, m)
		}
		sort.Strings(methods)
		for _, m := range methods {
			op := ops[m]
			if op == nil {
				continue
			}
			so := SpecOperation{Method: strings.ToUpper(m), Path: p, OperationID: op.OperationID}
			so.Op.Deprecated = op.Deprecated
			so.Op.Tags = append([]string(nil), op.Tags...)
			if op.Security != nil {
				so.Op.AuthRequired = authRequired(op.Security)
				so.Op.Scopes = scopes(op.Security)
			} else {
				so.Op.AuthRequired = globalAuth
				so.Op.Scopes = scopes(&doc.Security)
			}
			seen := map[paramKey]bool{}
			for _, list := range []openapi3.Parameters{op.Parameters, item.Parameters} {
				for _, pr := range list {
					if pr == nil || pr.Value == nil {
						continue
					}
					prm := pr.Value
					k := paramKey{prm.In, prm.Name}
					if seen[k] {
						continue // operation-level overrides path-level
					}
					seen[k] = true
					typ, format := schemaType(prm.Schema)
					so.Op.Params = append(so.Op.Params, model.SpecParam{Name: prm.Name, In: prm.In, Type: typ, Format: format})
					if prm.Required || prm.In == "path" {
						so.Required = append(so.Required, prm.In+":"+prm.Name)
					}
				}
			}
			if rb := op.RequestBody; rb != nil && rb.Value != nil {
				for ct, mt := range rb.Value.Content {
					if !strings.Contains(ct, "json") && !strings.Contains(ct, "form") || mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
						continue
					}
					sch := mt.Schema.Value
					req := map[string]bool{}
					for _, r := range sch.Required {
						req[r] = true
					}
					names := make([]string, 0, len(sch.Properties))
					for n := range sch.Properties {
						names = append(names, n)
					}
					sort.Strings(names)
					for _, n := range names {
						k := paramKey{"body", n}
						if seen[k] {
							continue
						}
						seen[k] = true
						typ, format := schemaType(sch.Properties[n])
						so.Op.Params = append(so.Op.Params, model.SpecParam{Name: n, In: "body", Type: typ, Format: format})
						if req[n] {
							so.Required = append(so.Required, "body:"+n)
						}
					}
				}
			}
			so.ResponseFields = responseFields(op)
			s.Ops = append(s.Ops, so)
		}
	}
}

// responseFields lists the JSON paths declared by an operation's 2xx JSON
// response schemas (nil when there is none).
func responseFields(op *openapi3.Operation) []string {
	if op.Responses == nil {
		return nil
	}
	set := map[string]bool{}
	found := false
	for code, rr := range op.Responses.Map() {
		if !strings.HasPrefix(code, "2") || rr == nil || rr.Value == nil {
			continue
		}
		for ct, mt := range rr.Value.Content {
			if !strings.Contains(ct, "json") || mt == nil || mt.Schema == nil {
				continue
			}
			found = true
			walkSchemaFields(mt.Schema, "$", set, map[*openapi3.Schema]bool{}, 0)
		}
	}
	if !found {
		return nil
	}
	out := make([]string, 0, len(set))
	for f := range set {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

func walkSchemaFields(r *openapi3.SchemaRef, path string, set map[string]bool, seen map[*openapi3.Schema]bool, depth int) {
	if r == nil || r.Value == nil || depth > 16 {
		return
	}
	s := r.Value
	if seen[s] {
		set[path+".*"] = true // recursive structure: accept anything below
		return
	}
	seen[s] = true
	defer delete(seen, s)
	for _, sub := range [][]*openapi3.SchemaRef{s.AllOf, s.OneOf, s.AnyOf} {
		for _, x := range sub {
			walkSchemaFields(x, path, set, seen, depth+1)
		}
	}
	if s.Items != nil {
		walkSchemaFields(s.Items, path+"[*]", set, seen, depth+1)
	}
	for name, p := range s.Properties {
		f := path + "." + name
		set[f] = true
		walkSchemaFields(p, f, set, seen, depth+1)
	}
	open := s.AdditionalProperties.Has != nil && *s.AdditionalProperties.Has || s.AdditionalProperties.Schema != nil
	if open || (s.Type != nil && s.Type.Is("object") && len(s.Properties) == 0) || (s.Type == nil && len(s.Properties) == 0 && s.Items == nil && len(s.AllOf)+len(s.OneOf)+len(s.AnyOf) == 0) {
		set[path+".*"] = true
	}
}

// SpecFields returns the response fields the declared spec gives for an
// operation (see SpecOperation.ResponseFields); ok is false when the
// operation is not declared or declares no JSON response schema. It
// implements posture.SpecFields.
func (inv *Inventory) SpecFields(ref model.EndpointRef) ([]string, bool) {
	var buf [24]string
	segs := segments(ref.Path, buf[:0])
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.tmplMemo = tmplMemo{} // see Template
	t := inv.hosts[ref.Host]
	if t == nil || !t.declared {
		return nil, false
	}
	n := match(t.root, segs, true)
	if n == nil || n.decl[ref.Method] == nil || n.decl[ref.Method].respFields == nil {
		return nil, false
	}
	return n.decl[ref.Method].respFields, true
}

func schemaType(r *openapi3.SchemaRef) (string, string) {
	if r == nil || r.Value == nil || r.Value.Type == nil {
		return "string", ""
	}
	for _, t := range r.Value.Type.Slice() {
		if t != "null" {
			return t, r.Value.Format
		}
	}
	return "string", r.Value.Format
}

// authRequired: some requirement is listed and none is the empty
// requirement {} (which makes authentication optional).
func authRequired(reqs *openapi3.SecurityRequirements) bool {
	if reqs == nil || len(*reqs) == 0 {
		return false
	}
	for _, r := range *reqs {
		if len(r) == 0 {
			return false
		}
	}
	return true
}

func scopes(reqs *openapi3.SecurityRequirements) []string {
	if reqs == nil {
		return nil
	}
	set := map[string]bool{}
	for _, r := range *reqs {
		for _, sc := range r {
			for _, x := range sc {
				set[x] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for x := range set {
		out = append(out, x)
	}
	sort.Strings(out)
	return out
}

// AddSpec declares a spec's operations for its hosts (Spec.Hosts: from the
// servers' absolute URLs, or set by the caller). Declared templates win over
// learned ones for those hosts.
func (inv *Inventory) AddSpec(s *Spec) error {
	if s == nil {
		return errors.New("inventory: nil spec")
	}
	if len(s.Hosts) == 0 {
		return fmt.Errorf("spec %s: no host to apply it to (its servers give no absolute URL); name one: %s,host=api.example.test", s.Name, s.Name)
	}
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.tmplMemo = tmplMemo{} // see Template
	inv.specs = append(inv.specs, s)
	for _, h := range s.Hosts {
		t := inv.host(strings.ToLower(h))
		t.declared = true
		for _, base := range s.BasePaths {
			for _, op := range s.Ops {
				n := inv.insertPinned(t, segments(base+"/"+strings.TrimLeft(op.Path, "/"), nil))
				n.end = true
				if n.decl == nil {
					n.decl = make(map[string]*declOp)
				}
				if n.decl[op.Method] != nil {
					continue // first declaration wins
				}
				d := &declOp{op: op.Op, source: s.Name, required: map[paramKey]bool{}, respFields: op.ResponseFields}
				for _, r := range op.Required {
					in, name, _ := strings.Cut(r, ":")
					d.required[paramKey{in, name}] = true
				}
				n.decl[op.Method] = d
			}
		}
	}
	return nil
}

// Operation implements pipeline.SpecLookup: the declared operation of an
// endpoint reference (a template or a concrete path).
func (inv *Inventory) Operation(ref model.EndpointRef) (model.SpecOp, bool) {
	var buf [24]string
	segs := segments(ref.Path, buf[:0])
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.tmplMemo = tmplMemo{} // see Template
	t := inv.hosts[ref.Host]
	if t == nil || !t.declared {
		return model.SpecOp{}, false
	}
	n := match(t.root, segs, true)
	if n == nil || n.decl[ref.Method] == nil {
		return model.SpecOp{}, false
	}
	return n.decl[ref.Method].op, true
}

// Specs returns the specs added so far.
func (inv *Inventory) Specs() []*Spec {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.tmplMemo = tmplMemo{} // see Template
	return append([]*Spec(nil), inv.specs...)
}
