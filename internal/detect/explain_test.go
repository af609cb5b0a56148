package detect

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/alert"
)

// TestEvidenceExplained: every alert type of the catalogue has its measures
// explained, and every details key a detector writes (map literals of
// map[string]any and details["key"] assignments in the package's code) has
// words for the dashboard.
func TestEvidenceExplained(t *testing.T) {
	for _, s := range alert.Catalog() {
		if _, ok := measures[s.Type.String()]; !ok {
			t.Errorf("alert type %s: measures not explained (explain.go)", s.Type)
		}
	}
	for typ := range measures {
		if _, ok := alert.Parse(typ); !ok {
			t.Errorf("explain.go explains %s, which is not in the catalogue", typ)
		}
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fs := token.NewFileSet()
	found := map[string]string{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || f == "explain.go" {
			continue
		}
		af, err := parser.ParseFile(fs, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(af, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.CompositeLit:
				mt, ok := x.Type.(*ast.MapType)
				if !ok {
					return true
				}
				if k, ok := mt.Key.(*ast.Ident); !ok || k.Name != "string" {
					return true
				}
				if v, ok := mt.Value.(*ast.Ident); !ok || v.Name != "any" {
					return true
				}
				for _, e := range x.Elts {
					if kv, ok := e.(*ast.KeyValueExpr); ok {
						if bl, ok := kv.Key.(*ast.BasicLit); ok && bl.Kind == token.STRING {
							k, _ := strconv.Unquote(bl.Value)
							found[k] = fs.Position(bl.Pos()).String()
						}
					}
				}
			case *ast.AssignStmt:
				for _, l := range x.Lhs {
					ix, ok := l.(*ast.IndexExpr)
					if !ok {
						continue
					}
					if id, ok := ix.X.(*ast.Ident); !ok || id.Name != "details" {
						continue
					}
					if bl, ok := ix.Index.(*ast.BasicLit); ok && bl.Kind == token.STRING {
						k, _ := strconv.Unquote(bl.Value)
						found[k] = fs.Position(bl.Pos()).String()
					}
				}
			}
			return true
		})
	}
	if len(found) < 40 {
		t.Fatalf("found only %d details keys: the scan is broken", len(found))
	}
	for k, pos := range found {
		if DetailWords(k) == "" {
			t.Errorf("%s: details key %q has no explanation (explain.go detailWords)", pos, k)
		}
	}
}
