package dashboard

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestRecipeAddAView checks the wiring the recipe "add a dashboard view"
// (docs/ARCHITECTURE.md) asks for, so that a view half added fails here
// rather than in a user's browser: every section of the navigation has a
// title and a case in the router, every routed section has a title, and
// every view the router imports is exported by the module it names. (The
// view's behaviour is checked in a real browser by the walk-through tests;
// its API route by server.TestOpenAPIDocument.)
func TestRecipeAddAView(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile("assets/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	index, app := read("index.html"), read("app.js")

	var nav []string
	for _, m := range regexp.MustCompile(`href="#/([a-z]+)" data-route="([a-z]+)"`).FindAllStringSubmatch(index, -1) {
		if m[1] != m[2] {
			t.Errorf("nav link #/%s marked data-route=%q", m[1], m[2])
		}
		nav = append(nav, m[2])
	}
	if len(nav) < 5 {
		t.Fatalf("found %d navigation links in index.html: the pattern no longer matches", len(nav))
	}
	titlesBlock := regexp.MustCompile(`(?s)const TITLES = \{(.*?)\};`).FindStringSubmatch(app)
	if titlesBlock == nil {
		t.Fatal("no TITLES table in app.js")
	}
	titles := map[string]bool{}
	for _, m := range regexp.MustCompile(`([a-z]+): '`).FindAllStringSubmatch(titlesBlock[1], -1) {
		titles[m[1]] = true
	}
	var cases []string
	for _, m := range regexp.MustCompile(`case '([a-z]+)':`).FindAllStringSubmatch(app, -1) {
		cases = append(cases, m[1])
	}
	for _, r := range nav {
		if !titles[r] {
			t.Errorf("nav section %q has no entry in app.js TITLES", r)
		}
		if !slices.Contains(cases, r) {
			t.Errorf("nav section %q has no case in the router (app.js render)", r)
		}
	}
	for _, c := range cases {
		if !titles[c] {
			t.Errorf("routed section %q has no entry in app.js TITLES", c)
		}
	}

	// Imports of the router: import { a, b } from './module.js';
	for _, m := range regexp.MustCompile(`(?s)import \{([^}]*)\} from '\./([a-z]+\.js)';`).FindAllStringSubmatch(app, -1) {
		mod := read(m[2])
		for _, name := range strings.Split(m[1], ",") {
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			if !regexp.MustCompile(`export (async )?(function|const|let) ` + regexp.QuoteMeta(name) + `\b`).MatchString(mod) {
				t.Errorf("app.js imports %s from %s, which does not export it", name, m[2])
			}
		}
	}
}
