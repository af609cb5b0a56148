package detect

import (
	"strings"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/palisade-sec/palisade/internal/graphql"
)

// GraphQL: a request's "query" (a JSON body's member, or the query
// parameter of a GET) holds a GraphQL document — code in a language of its
// own, whose braces, "$variables", "{ id }" and "... on Type" trip SQL, shell
// and template rules by chance. The data a client sends in it is in its
// string literals (arguments, variable defaults, directive arguments): those
// are the values, located by the field and argument they are given to
// (graphql:user(id), graphql:search(filter.name)). The document itself is not
// judged as a value once it parses. The variables travel as JSON and are
// walked as such.

// graphQLLiteral is a string literal of a document and where it is given.
type graphQLLiteral struct{ loc, value string }

// graphQLLiterals parses a document and returns its string literals; ok is
// false when v is not a GraphQL document.
func graphQLLiterals(v string) (lits []graphQLLiteral, ok bool) {
	doc := graphql.Parse(v)
	if doc == nil {
		return nil, false
	}
	g := graphQLWalk{}
	for _, op := range doc.Operations {
		for _, vd := range op.VariableDefinitions {
			g.value("$"+vd.Variable, "", vd.DefaultValue)
		}
		g.directives(op.Name, op.Directives)
		g.selections("", op.SelectionSet, 0)
	}
	for _, fr := range doc.Fragments {
		g.directives(fr.Name, fr.Directives)
		g.selections(fr.Name, fr.SelectionSet, 0)
	}
	return g.out, true
}

type graphQLWalk struct{ out []graphQLLiteral }

func (g *graphQLWalk) selections(path string, ss ast.SelectionSet, depth int) {
	if depth > 64 {
		return
	}
	for _, s := range ss {
		switch s := s.(type) {
		case *ast.Field:
			p := s.Name
			if path != "" {
				p = path + "." + s.Name
			}
			for _, a := range s.Arguments {
				g.value(p, a.Name, a.Value)
			}
			g.directives(p, s.Directives)
			g.selections(p, s.SelectionSet, depth+1)
		case *ast.InlineFragment:
			g.directives(path, s.Directives)
			g.selections(path, s.SelectionSet, depth+1)
		case *ast.FragmentSpread:
			g.directives(path, s.Directives)
		}
	}
}

func (g *graphQLWalk) directives(path string, ds ast.DirectiveList) {
	for _, d := range ds {
		for _, a := range d.Arguments {
			g.value(path+"@"+d.Name, a.Name, a.Value)
		}
	}
}

// value adds the string literals of an argument's value (inside lists and
// input objects too: filter.name).
func (g *graphQLWalk) value(field, arg string, v *ast.Value) {
	if v == nil {
		return
	}
	switch v.Kind {
	case ast.StringValue, ast.BlockValue:
		loc := field
		if arg != "" {
			loc += "(" + arg + ")"
		}
		g.out = append(g.out, graphQLLiteral{loc: loc, value: v.Raw})
	case ast.ListValue, ast.ObjectValue:
		for _, c := range v.Children {
			a := arg
			if v.Kind == ast.ObjectValue {
				if a != "" {
					a += "."
				}
				a += c.Name
			}
			g.value(field, a, c.Value)
		}
	}
}

// authFieldWords name the root fields of GraphQL APIs that check a
// secret: logins, one-time and second-factor codes, password checks and
// token issuance (graphene-django's tokenAuth, obtainJSONWebToken …).
var authFieldWords = []string{"login", "logon", "signin", "authenticat", "otp", "mfa", "2fa", "totp", "passcode", "password", "tokenauth", "createtoken", "tokencreate", "gettoken", "generatetoken", "obtainjsonwebtoken", "verifycode", "redeemcode"}

// authField: a root field name that checks a secret.
func authField(name string) bool {
	n := strings.ToLower(name)
	for _, w := range authFieldWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// graphQLAuthAttempts counts, in one GraphQL document, the root fields
// (aliases included: "a1: login(…) a2: login(…)") of its operations that
// check a secret, by field name.
func graphQLAuthAttempts(doc string, into map[string]int) (n int) {
	d := graphql.Parse(doc)
	if d == nil {
		return 0
	}
	var walk func(ss ast.SelectionSet, depth int)
	walk = func(ss ast.SelectionSet, depth int) {
		for _, s := range ss {
			switch s := s.(type) {
			case *ast.Field:
				if authField(s.Name) {
					n++
					if len(into) < 8 || into[s.Name] > 0 {
						into[s.Name]++
					}
				}
			case *ast.InlineFragment:
				if depth < 4 {
					walk(s.SelectionSet, depth+1)
				}
			}
		}
	}
	for _, op := range d.Operations {
		walk(op.SelectionSet, 0)
	}
	return n
}
