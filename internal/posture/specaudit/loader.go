// Package specaudit is Palisade's static security audit of OpenAPI 2.0, 3.0
// and 3.1 documents (JSON or YAML). Rules walk a position-preserving YAML
// node tree (gopkg.in/yaml.v3 parses JSON too), so every finding carries a
// file, line, column and JSON pointer. kin-openapi loads and validates the
// same bytes as a second opinion; when it rejects a construct (typical for
// 3.1 documents or sloppy real-world specs) the rules still run on the tree
// and the rejection is reported as a parser note, not as a failure.
package specaudit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"gopkg.in/yaml.v3"

	"github.com/palisade-sec/palisade/internal/posture/yamltree"
	"github.com/palisade-sec/palisade/internal/specfile"
)

// MaxSpecBytes bounds the size of one document (64 MiB).
const MaxSpecBytes = 64 << 20

// Doc is one loaded API description.
type Doc struct {
	File    string     // path as given by the caller
	Root    *yaml.Node // the top-level mapping
	Version string     // "2.0", "3.0", "3.1"
	// Parser is kin-openapi's verdict on the same document: "valid",
	// "rejected: <reason>" (the audit still runs on the tree), or "not run".
	Parser string
	// Unresolved counts $ref values that point outside the document or to
	// nothing; schemas behind them are not audited.
	Unresolved int
}

// LoadError locates why a document could not be audited (file, line,
// column, message; the same type as the gateway audit's errors).
type LoadError = yamltree.Error

// LoadFile reads and parses one document and has kin-openapi validate it.
func LoadFile(path string) (*Doc, error) { return loadFile(path, true) }

func loadFile(path string, validate bool) (*Doc, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &LoadError{File: path, Msg: err.Error()}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSpecBytes+1))
	if err != nil {
		return nil, &LoadError{File: path, Msg: err.Error()}
	}
	if len(data) > MaxSpecBytes {
		return nil, &LoadError{File: path, Msg: fmt.Sprintf("document larger than %d bytes", MaxSpecBytes)}
	}
	return parse(path, data, validate)
}

// Parse parses a document from memory and has kin-openapi validate it.
// name is used in locations only.
func Parse(name string, data []byte) (*Doc, error) { return parse(name, data, true) }

func parse(name string, data []byte, validate bool) (doc *Doc, err error) {
	defer func() {
		// yaml.v3 is robust, but a parser panic on hostile input must
		// never take the whole audit down: report it against the file.
		if r := recover(); r != nil {
			doc, err = nil, &LoadError{File: name, Msg: fmt.Sprintf("parser failure: %v", r)}
		}
	}()
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &LoadError{File: name, Msg: "empty document"}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		// JSON allows tabs as insignificant whitespace where YAML does
		// not; raw tabs can't occur inside valid JSON strings, so
		// replacing them one for one keeps line and column numbers.
		if t := bytes.TrimSpace(data); len(t) > 0 && (t[0] == '{' || t[0] == '[') && bytes.IndexByte(data, '\t') >= 0 {
			var root2 yaml.Node
			if err2 := yaml.Unmarshal(bytes.ReplaceAll(data, []byte{'\t'}, []byte{' '}), &root2); err2 == nil {
				root = root2
				err = nil
			}
		}
		if err != nil {
			return nil, syntaxError(name, data, err)
		}
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return nil, &LoadError{File: name, Msg: "empty document"}
	}
	top := root.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil, &LoadError{File: name, Line: top.Line, Column: top.Column, Msg: "top level is not an object"}
	}
	d := &Doc{File: name, Root: top}
	if v := get(top, "openapi"); v != nil {
		switch s := str(v); {
		case strings.HasPrefix(s, "3.0"):
			d.Version = "3.0"
		case strings.HasPrefix(s, "3.1"), strings.HasPrefix(s, "3.2"):
			d.Version = "3.1"
		default:
			return nil, &LoadError{File: name, Line: v.Line, Column: v.Column, Msg: fmt.Sprintf("field openapi: unsupported version %q", s)}
		}
	} else if v := get(top, "swagger"); v != nil {
		if s := str(v); s != "2.0" {
			return nil, &LoadError{File: name, Line: v.Line, Column: v.Column, Msg: fmt.Sprintf("field swagger: unsupported version %q", s)}
		}
		d.Version = "2.0"
	} else {
		return nil, &LoadError{File: name, Line: top.Line, Column: top.Column, Msg: "neither an \"openapi\" nor a \"swagger\" field: not an OpenAPI document"}
	}
	if p := get(top, "paths"); p != nil && p.Kind != yaml.MappingNode {
		return nil, &LoadError{File: name, Line: p.Line, Column: p.Column, Msg: "field paths: not an object"}
	}
	d.Parser = "not run"
	if validate {
		d.Parser = kinVerdict(d, data, &root)
	}
	return d, nil
}

// kinVerdict loads the document with kin-openapi (no external references)
// and validates it.
func kinVerdict(d *Doc, data []byte, root *yaml.Node) (verdict string) {
	defer func() {
		if r := recover(); r != nil {
			verdict = fmt.Sprintf("rejected: kin-openapi failure: %v", r)
		}
	}()
	ctx := context.Background()
	if d.Version == "2.0" {
		var v any
		if err := root.Decode(&v); err != nil {
			return "rejected: " + err.Error()
		}
		js, err := json.Marshal(specfile.JSONable(v))
		if err != nil {
			return "rejected: " + err.Error()
		}
		var d2 openapi2.T
		if err := json.Unmarshal(js, &d2); err != nil {
			return "rejected: " + err.Error()
		}
		d3, err := openapi2conv.ToV3(&d2)
		if err != nil {
			return "rejected: openapi2conv: " + err.Error()
		}
		if err := d3.Validate(ctx); err != nil {
			return "rejected: " + firstLine(err.Error())
		}
		return "valid"
	}
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = false
	d3, err := loader.LoadFromData(data)
	if err != nil {
		return "rejected: " + firstLine(err.Error())
	}
	if err := d3.Validate(ctx); err != nil {
		return "rejected: " + firstLine(err.Error())
	}
	return "valid"
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// syntaxError locates a syntax error (see yamltree.SyntaxError).
func syntaxError(name string, data []byte, yerr error) *LoadError {
	return yamltree.SyntaxError(name, data, yerr)
}
