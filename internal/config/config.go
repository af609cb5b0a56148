// Package config is the mechanism of Palisade's one configuration model:
// typed sections decoded strictly from YAML (or JSON, a subset) with
// goccy/go-yaml, so that an unknown key, a value of the wrong type or a
// bad duration is an error naming the file, line, column and key; each
// section checks itself with Validate (errors naming the key, located
// where the key was set); and every key, its default and its meaning are
// listed from the types themselves (Describe) for docs/configuration.md.
//
// The sections live with their owners (engine.FileConfig, detect family
// options, sink.Config, source kinds, the server's sections); the root
// document is server.Config. Several documents (a file and the stored
// override) are decoded in order into one value: a later document
// overrides the keys it sets, lists are replaced, mappings merged.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Error is a configuration problem, located as precisely as known.
type Error struct {
	File string // document name ("" when unknown)
	Line int    // 1-based; 0 when unknown
	Col  int
	Key  string // dotted key ("detect.options.spray.window"), when known
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
			if e.Col > 0 {
				fmt.Fprintf(&b, ":%d", e.Col)
			}
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// KeyError is what a section's Validate returns for one of its keys: Key
// is relative to the section ("tls_cert", "tail[0].path"); the loader
// prefixes the section's own key and locates it.
type KeyError struct {
	Key string
	Msg string
}

func (e *KeyError) Error() string {
	if e.Key == "" {
		return e.Msg
	}
	return e.Key + ": " + e.Msg
}

// Errorf makes a KeyError.
func Errorf(key, format string, args ...any) error {
	return &KeyError{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// Validator is implemented by a configuration section that checks itself
// after decoding (value ranges, combinations of keys).
type Validator interface {
	Validate() error
}

// Doc is one configuration document.
type Doc struct {
	Name string // labels errors: a file name, "stored configuration", …
	Data []byte
}

// Pos is where a key was set.
type Pos struct {
	File      string
	Line, Col int
}

// Loader decodes documents into one value and remembers where each key
// was last set, to locate what Validate finds. The zero value is ready.
type Loader struct {
	pos map[string]Pos
}

// MaxDocument bounds one configuration document.
const MaxDocument = 4 << 20

// Decode decodes one document strictly into v (a pointer whose current
// values are the defaults, or earlier documents: keys the document does
// not set keep them). An empty document (or only comments) sets nothing.
func (l *Loader) Decode(doc Doc, v any) error {
	if len(doc.Data) > MaxDocument {
		return &Error{File: doc.Name, Msg: fmt.Sprintf("document larger than %d bytes", MaxDocument)}
	}
	f, err := parser.ParseBytes(doc.Data, 0)
	if err != nil {
		return l.locate(doc.Name, err)
	}
	for i, d := range f.Docs {
		if i > 0 {
			return &Error{File: doc.Name, Line: line(d), Msg: "more than one YAML document (---): give one"}
		}
		body := d.Body
		if body == nil {
			continue
		}
		if _, null := body.(*ast.NullNode); null {
			continue
		}
		if _, ok := body.(*ast.MappingNode); !ok {
			if _, ok := body.(*ast.MappingValueNode); !ok {
				return &Error{File: doc.Name, Line: line(body), Msg: "the document must be a mapping of keys (key: value)"}
			}
		}
		if l.pos == nil {
			l.pos = map[string]Pos{}
		}
		record(l.pos, doc.Name, "", body, 0)
		if err := DecodeNode(body, v); err != nil {
			return l.locate(doc.Name, err)
		}
	}
	return nil
}

// DecodeNode decodes one node strictly into v. Sections with dynamic
// members (the families of detect.options, the kinds of sources) call it
// from their UnmarshalYAML for each member.
func DecodeNode(n ast.Node, v any) error {
	return yaml.NodeToValue(n, v, yaml.Strict())
}

// NodeError locates a custom decoding error at node n.
func NodeError(n ast.Node, format string, args ...any) error {
	e := &Error{Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		if t := n.GetToken(); t != nil && t.Position != nil {
			e.Line, e.Col = t.Position.Line, t.Position.Column
		}
	}
	return e
}

// locate turns a decoding error into an *Error naming the document, the
// line and the key.
func (l *Loader) locate(name string, err error) error {
	var ce *Error
	if errors.As(err, &ce) {
		out := *ce
		out.File = name
		if out.Key == "" && out.Line > 0 {
			out.Key = l.keyAt(name, out.Line, out.Col)
		}
		return &out
	}
	var ye yaml.Error
	if errors.As(err, &ye) {
		out := &Error{File: name, Msg: ye.GetMessage()}
		if t := ye.GetToken(); t != nil && t.Position != nil {
			out.Line, out.Col = t.Position.Line, t.Position.Column
			out.Key = l.keyAt(name, out.Line, out.Col)
		}
		out.Msg = cleanMessage(out.Msg)
		return out
	}
	return &Error{File: name, Msg: err.Error()}
}

// cleanMessage rewords goccy's messages for users of a configuration
// file (Go type names mean nothing to them).
func cleanMessage(m string) string {
	if rest, ok := strings.CutPrefix(m, "unknown field "); ok {
		return "unknown key " + rest
	}
	if i := strings.Index(m, "cannot unmarshal "); i >= 0 {
		// "cannot unmarshal string into Go struct field X.Y of type int"
		m = m[i+len("cannot unmarshal "):]
		from, rest, _ := strings.Cut(m, " into ")
		want := rest
		if j := strings.LastIndex(rest, " of type "); j >= 0 {
			want = rest[j+len(" of type "):]
		}
		want, overflow := strings.CutSuffix(want, " ( overflow )")
		if overflow {
			return fmt.Sprintf("number %s out of range for %s", from, typeWord(want))
		}
		return fmt.Sprintf("wrong type: got %s, want %s", fromWord(from), typeWord(want))
	}
	return m
}

// fromWord names the kind of YAML value goccy decoded ("uint64" for an
// integer, "[]interface {}" for a list).
func fromWord(goType string) string {
	switch {
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"), strings.HasPrefix(goType, "float"):
		return "a number"
	}
	return typeWord(goType)
}

func typeWord(goType string) string {
	t := strings.TrimPrefix(goType, "*")
	switch {
	case strings.HasPrefix(t, "[]interface"):
		return "a list"
	case strings.HasPrefix(t, "map[string]interface"):
		return "a mapping"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["):
		return "a mapping"
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "an integer"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case t == "bool":
		return "true or false"
	case t == "string":
		return "a string"
	}
	return "a mapping"
}

// keyAt finds the key set at a position of a document (the innermost one
// starting on that line, at or before the column).
func (l *Loader) keyAt(name string, line, col int) string {
	best, bestCol := "", -1
	for k, p := range l.pos {
		if p.File == name && p.Line == line && p.Col <= max(col, 1) && p.Col > bestCol {
			best, bestCol = k, p.Col
		}
	}
	if best == "" {
		// A value on the key's line: the key whose position is closest
		// before it.
		for k, p := range l.pos {
			if p.File == name && p.Line == line && (bestCol < 0 || p.Col < bestCol) {
				best, bestCol = k, p.Col
			}
		}
	}
	return best
}

func line(n ast.Node) int {
	if n == nil {
		return 0
	}
	if t := n.GetToken(); t != nil && t.Position != nil {
		return t.Position.Line
	}
	return 0
}

// record notes where every key of the tree is set (dotted paths, "[i]"
// for list elements).
func record(pos map[string]Pos, file, prefix string, n ast.Node, depth int) {
	if n == nil || depth > 64 {
		return
	}
	switch n := n.(type) {
	case *ast.MappingNode:
		for _, mv := range n.Values {
			record(pos, file, prefix, mv, depth+1)
		}
	case *ast.MappingValueNode:
		k := keyString(n.Key)
		path := k
		if prefix != "" {
			path = prefix + "." + k
		}
		if t := n.Key.GetToken(); t != nil && t.Position != nil {
			pos[path] = Pos{File: file, Line: t.Position.Line, Col: t.Position.Column}
		}
		record(pos, file, path, n.Value, depth+1)
	case *ast.SequenceNode:
		for i, v := range n.Values {
			p := prefix + "[" + strconv.Itoa(i) + "]"
			if t := v.GetToken(); t != nil && t.Position != nil {
				pos[p] = Pos{File: file, Line: t.Position.Line, Col: t.Position.Column}
			}
			record(pos, file, p, v, depth+1)
		}
	case *ast.TagNode:
		record(pos, file, prefix, n.Value, depth+1)
	case *ast.AnchorNode:
		record(pos, file, prefix, n.Value, depth+1)
	}
}

// keyString is the text of a mapping key.
func keyString(k ast.MapKeyNode) string {
	if s, ok := k.(*ast.StringNode); ok {
		return s.Value
	}
	if t := k.GetToken(); t != nil {
		return t.Value
	}
	return k.String()
}

// Mapping iterates the members of a mapping node in document order (for
// sections with dynamic members). A node that is not a mapping is an
// error located at it.
func Mapping(n ast.Node, fn func(key string, keyNode, value ast.Node) error) error {
	switch m := n.(type) {
	case *ast.NullNode:
		return nil
	case *ast.MappingNode:
		for _, mv := range m.Values {
			if err := fn(keyString(mv.Key), mv.Key, mv.Value); err != nil {
				return err
			}
		}
		return nil
	case *ast.MappingValueNode:
		return fn(keyString(m.Key), m.Key, m.Value)
	case *ast.TagNode:
		return Mapping(m.Value, fn)
	case *ast.AnchorNode:
		return Mapping(m.Value, fn)
	case *ast.AliasNode:
		return NodeError(n, "aliases are not supported here")
	}
	return NodeError(n, "want a mapping (key: value)")
}

// Sequence iterates the elements of a sequence node.
func Sequence(n ast.Node, fn func(i int, value ast.Node) error) error {
	switch s := n.(type) {
	case *ast.NullNode:
		return nil
	case *ast.SequenceNode:
		for i, v := range s.Values {
			if err := fn(i, v); err != nil {
				return err
			}
		}
		return nil
	case *ast.TagNode:
		return Sequence(s.Value, fn)
	case *ast.AnchorNode:
		return Sequence(s.Value, fn)
	}
	return NodeError(n, "want a list")
}

// ---- validation ----

// Validate runs Validate of v and of every section below it (struct
// fields by their yaml keys, list elements, mapping values), and returns
// every problem, each an *Error naming the key and, when a document set
// it, the file and line.
func (l *Loader) Validate(v any) error {
	var errs []error
	l.validate(reflect.ValueOf(v), "", &errs, 0)
	sort.SliceStable(errs, func(i, j int) bool {
		a, b := errs[i].(*Error), errs[j].(*Error)
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
	return errors.Join(errs...)
}

var validatorType = reflect.TypeFor[Validator]()

func (l *Loader) validate(v reflect.Value, path string, errs *[]error, depth int) {
	if !v.IsValid() || depth > 32 {
		return
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return
		}
		l.validate(v.Elem(), path, errs, depth+1)
		return
	}
	// Children first, then the section itself (it may compare them).
	switch v.Kind() {
	case reflect.Struct:
		fields(v, path, func(fv reflect.Value, p string, _ reflect.StructField) {
			l.validate(fv, p, errs, depth+1)
		})
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			l.validate(v.Index(i), path+"["+strconv.Itoa(i)+"]", errs, depth+1)
		}
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
		for _, k := range keys {
			l.validate(v.MapIndex(k), join(path, fmt.Sprint(k)), errs, depth+1)
		}
	}
	var val Validator
	switch {
	case v.Type().Implements(validatorType):
		val = v.Interface().(Validator)
	case v.CanAddr() && v.Addr().Type().Implements(validatorType):
		val = v.Addr().Interface().(Validator)
	case reflect.PointerTo(v.Type()).Implements(validatorType):
		c := reflect.New(v.Type())
		c.Elem().Set(v)
		val = c.Interface().(Validator)
	}
	if val == nil {
		return
	}
	var fields map[string]bool
	for _, err := range flatten(val.Validate()) {
		key, msg := path, err.Error()
		var ke *KeyError
		if errors.As(err, &ke) {
			key, msg = join(path, ke.Key), ke.Msg
		} else if k, m, ok := strings.Cut(msg, ": "); ok && v.Kind() == reflect.Struct {
			// A plain "key: message" naming one of the section's keys.
			if fields == nil {
				fields = map[string]bool{}
				yamlKeys(v.Type(), fields)
			}
			if fields[k] {
				key, msg = join(path, k), m
			}
		}
		e := &Error{Key: key, Msg: msg}
		if p, ok := l.where(key); ok {
			e.File, e.Line, e.Col = p.File, p.Line, p.Col
		}
		*errs = append(*errs, e)
	}
}

// yamlKeys collects the keys of a struct type (inline fields included).
func yamlKeys(t reflect.Type, out map[string]bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, inline, skip := yamlName(f)
		switch {
		case skip:
		case inline && f.Type.Kind() == reflect.Struct:
			yamlKeys(f.Type, out)
		default:
			out[name] = true
		}
	}
}

// where finds where key (or its closest enclosing key) was set.
func (l *Loader) where(key string) (Pos, bool) {
	for k := key; k != ""; {
		if p, ok := l.pos[k]; ok {
			return p, true
		}
		i := strings.LastIndexAny(k, ".[")
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return Pos{}, false
}

func flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

func join(path, key string) string {
	switch {
	case key == "":
		return path
	case path == "":
		return key
	case strings.HasPrefix(key, "["):
		return path + key
	}
	return path + "." + key
}

// fields calls fn for every field of struct v that is part of the file,
// with its key path (an inlined field keeps path).
func fields(v reflect.Value, path string, fn func(fv reflect.Value, p string, f reflect.StructField)) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, inline, skip := yamlName(f)
		if skip {
			continue
		}
		p := path
		if !inline {
			p = join(path, name)
		}
		fn(v.Field(i), p, f)
	}
}

// yamlName reads a field's yaml tag: its key, whether it is inlined, and
// whether it is not part of the file.
func yamlName(f reflect.StructField) (name string, inline, skip bool) {
	tag := f.Tag.Get("yaml")
	if tag == "-" {
		return "", false, true
	}
	name, opts, _ := strings.Cut(tag, ",")
	for _, o := range strings.Split(opts, ",") {
		if o == "inline" {
			inline = true
		}
	}
	if name == "" && !inline {
		name = strings.ToLower(f.Name)
	}
	return name, inline, false
}

// ---- encoding ----

// JSON renders a configuration value as JSON with its yaml keys (the API
// shows the effective configuration in the file's own terms).
func JSON(v any) ([]byte, error) {
	b, err := yaml.MarshalWithOptions(v, yaml.JSON())
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// YAML renders a configuration value as YAML.
func YAML(v any) ([]byte, error) { return yaml.Marshal(v) }
