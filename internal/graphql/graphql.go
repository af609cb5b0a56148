// Package graphql reads the GraphQL documents of a request: whether a
// value is a document, its parse (bounded), the documents of a request
// body (one object or a batch), and what they ask for (event.GraphQL:
// operations' root fields, depth, aliases, batch size). Enrichment
// summarizes each GraphQL request once for the analyzers (inventory,
// posture); detection reads the documents' literals.
package graphql

import (
	"strings"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/palisade-sec/palisade/internal/event"
)

// MaxTokens bounds the parser's work on one document.
const MaxTokens = 20000

// MaxDocs bounds the documents read from one batched request.
const MaxDocs = 1000

// maxDepth bounds the selection walk (fragments followed).
const maxDepth = 256

// IsDocument reports whether v may be a GraphQL executable document (an
// operation keyword or a selection set first).
func IsDocument(v string) bool {
	t := strings.TrimLeft(v, " \t\r\n\ufeff,")
	if t == "" {
		return false
	}
	if t[0] == '{' {
		return true
	}
	for _, kw := range []string{"query", "mutation", "subscription", "fragment"} {
		if len(t) > len(kw) && strings.HasPrefix(t, kw) {
			switch t[len(kw)] {
			case ' ', '\t', '\r', '\n', '{', '(', '@':
				return true
			}
		}
	}
	return false
}

// Parse parses v as a GraphQL executable document (at most MaxTokens
// tokens); nil when it is none or holds no operation and no fragment.
func Parse(v string) *ast.QueryDocument {
	if !IsDocument(v) {
		return nil
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: v}, MaxTokens)
	if err != nil || doc == nil || len(doc.Operations)+len(doc.Fragments) == 0 {
		return nil
	}
	return doc
}

// RequestDocs appends the "query" members of a GraphQL request body — one
// object, or an array of them (batching) — to docs (at most MaxDocs).
func RequestDocs(body string, docs []string) []string {
	dec := jsontext.NewDecoder(strings.NewReader(body))
	object := func() bool { // reads one object, keeping its query member
		if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
			return false
		}
		for dec.PeekKind() != '}' {
			k, err := dec.ReadToken()
			if err != nil {
				return false
			}
			if k.String() == "query" && dec.PeekKind() == '"' {
				v, err := dec.ReadToken()
				if err != nil {
					return false
				}
				if len(docs) < MaxDocs {
					docs = append(docs, v.String())
				}
				continue
			}
			if dec.SkipValue() != nil {
				return false
			}
		}
		_, err := dec.ReadToken()
		return err == nil
	}
	switch dec.PeekKind() {
	case '{':
		object()
	case '[':
		dec.ReadToken()
		for dec.PeekKind() == '{' && object() {
		}
	}
	return docs
}

// Request summarizes the GraphQL documents of a request: a JSON body's
// "query" members (POST), or the "query" parameter (GET). nil when the
// request carries no document that parses. body is the request body as
// text, query the query parameter's value.
func Request(body, query string) *event.GraphQL {
	var docs []string
	if b := strings.TrimLeft(body, " \t\r\n"); b != "" && (b[0] == '{' || b[0] == '[') && strings.Contains(b, `"query"`) {
		docs = RequestDocs(b, nil)
	}
	if len(docs) == 0 && query != "" {
		docs = []string{query}
	}
	var g *event.GraphQL
	steps := 0 // one budget for the request's documents together
	for _, d := range docs {
		doc := Parse(d)
		if doc == nil {
			continue
		}
		if g == nil {
			g = &event.GraphQL{}
		}
		g.Documents++
		summarize(doc, g, &steps)
	}
	return g
}

// maxSteps bounds the selections visited for one request: fragments
// spread twice in each other double at each level, and a batch repeats
// them.
const maxSteps = 100_000

// summarize adds what one document asks for to g.
func summarize(doc *ast.QueryDocument, g *event.GraphQL, steps *int) {
	frags := map[string]*ast.FragmentDefinition{}
	for _, f := range doc.Fragments {
		frags[f.Name] = f
	}
	w := walker{g: g, frags: frags, steps: steps}
	for _, op := range doc.Operations {
		typ := string(op.Operation)
		if typ == "" {
			typ = "query"
		}
		w.roots(typ, op.SelectionSet, map[string]bool{})
		w.depth(op.SelectionSet, 1, map[string]bool{})
	}
}

type walker struct {
	g     *event.GraphQL
	frags map[string]*ast.FragmentDefinition
	steps *int
}

// roots records the root fields of an operation (inside inline fragments
// and fragment spreads at the root too).
func (w *walker) roots(typ string, ss ast.SelectionSet, seen map[string]bool) {
	for _, s := range ss {
		switch s := s.(type) {
		case *ast.Field:
			if s.Name == "__typename" {
				continue
			}
			op := event.GraphQLOp{Type: typ, Field: s.Name}
			dup := false
			for _, o := range w.g.Ops {
				if o == op {
					dup = true
					break
				}
			}
			if !dup && len(w.g.Ops) < event.MaxGraphQLOps {
				w.g.Ops = append(w.g.Ops, op)
			}
		case *ast.InlineFragment:
			w.roots(typ, s.SelectionSet, seen)
		case *ast.FragmentSpread:
			if f := w.frags[s.Name]; f != nil && !seen[s.Name] {
				seen[s.Name] = true
				w.roots(typ, f.SelectionSet, seen)
			}
		}
	}
}

// depth walks a selection set at depth d, counting fields and aliases and
// keeping the deepest field; a fragment is followed once per path (a
// cycle is a validation error the server rejects), and the whole walk is
// bounded.
func (w *walker) depth(ss ast.SelectionSet, d int, path map[string]bool) {
	if d > maxDepth {
		return
	}
	for _, s := range ss {
		if *w.steps++; *w.steps > maxSteps {
			return
		}
		switch s := s.(type) {
		case *ast.Field:
			w.g.Fields++
			if s.Alias != "" && s.Alias != s.Name {
				w.g.Aliases++
			}
			if d > w.g.Depth {
				w.g.Depth = d
			}
			w.depth(s.SelectionSet, d+1, path)
		case *ast.InlineFragment:
			w.depth(s.SelectionSet, d, path)
		case *ast.FragmentSpread:
			if f := w.frags[s.Name]; f != nil && !path[s.Name] {
				path[s.Name] = true
				w.depth(f.SelectionSet, d, path)
				delete(path, s.Name)
			}
		}
	}
}
