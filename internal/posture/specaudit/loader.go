// Package specaudit is Palisade's static security audit of OpenAPI 2.0, 3.0
// and 3.1 documents (JSON or YAML). Rules walk a position-preserving YAML
// node tree (yamltree, from goccy/go-yaml, which parses JSON too), so every finding carries a
// file, line, column and JSON pointer. kin-openapi loads and validates the
// same bytes as a second opinion; when it rejects a construct (typical for
// 3.1 documents or sloppy real-world specs) the rules still run on the tree
// and the rejection is reported as a parser note, not as a failure.
package specaudit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/palisade-sec/palisade/internal/posture/yamltree"
	"github.com/palisade-sec/palisade/internal/specfile"
)

// MaxSpecBytes bounds the size of one document (64 MiB).
const MaxSpecBytes = 64 << 20

// Doc is one loaded API description.
type Doc struct {
	File    string         // path as given by the caller
	Root    *yamltree.Node // the top-level mapping
	Version string         // "2.0", "3.0", "3.1"
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
		// The parser is robust, but a panic on hostile input must
		// never take the whole audit down: report it against the file.
		if r := recover(); r != nil {
			doc, err = nil, &LoadError{File: name, Msg: fmt.Sprintf("parser failure: %v", r)}
		}
	}()
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &LoadError{File: name, Msg: "empty document"}
	}
	top, err := yamltree.Parse(name, data)
	if err != nil {
		return nil, err
	}
	if top.Kind != yamltree.MappingNode {
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
	if p := get(top, "paths"); p != nil && p.Kind != yamltree.MappingNode {
		return nil, &LoadError{File: name, Line: p.Line, Column: p.Column, Msg: "field paths: not an object"}
	}
	d.Parser = "not run"
	if validate {
		d.Parser = kinVerdict(d, data)
	}
	return d, nil
}

// kinVerdict loads the document with the shared OpenAPI loader
// (specfile.LoadOpenAPI: kin-openapi, no external references)
// and validates it.
func kinVerdict(d *Doc, data []byte) (verdict string) {
	defer func() {
		if r := recover(); r != nil {
			verdict = fmt.Sprintf("rejected: kin-openapi failure: %v", r)
		}
	}()
	d3, _, err := specfile.LoadOpenAPI(data, d.Version == "2.0")
	if err != nil {
		var oe *specfile.OpenAPIError
		switch {
		case errors.As(err, &oe) && oe.Step == "convert":
			return "rejected: openapi2conv: " + err.Error()
		case oe != nil && oe.Step != "load":
			return "rejected: " + err.Error()
		}
		return "rejected: " + firstLine(err.Error())
	}
	if err := d3.Validate(context.Background()); err != nil {
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
