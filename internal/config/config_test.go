package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml/ast"
)

type inner struct {
	Count  int               `yaml:"count" doc:"how many"`
	Window Duration          `yaml:"window" doc:"how long"`
	Names  []string          `yaml:"names" doc:"which"`
	Map    map[string]string `yaml:"map" doc:"renames"`
}

func (i *inner) Validate() error {
	if i.Count < 0 {
		return Errorf("count", "must not be negative")
	}
	return nil
}

type item struct {
	Path string `yaml:"path" doc:"file"`
}

func (it item) Validate() error {
	if it.Path == "" {
		return Errorf("path", "required")
	}
	return nil
}

type root struct {
	Inline `yaml:",inline"`
	Inner  inner  `yaml:"inner"`
	Items  []item `yaml:"items" doc:"things"`
	Flag   bool   `yaml:"flag" doc:"a switch"`
	Hidden string `yaml:"-"`
}

type Inline struct {
	Top float64 `yaml:"top" doc:"a number at the top"`
}

func defaults() root {
	return root{Inline: Inline{Top: 1.5}, Inner: inner{Count: 3, Window: Duration(20 * time.Minute), Names: []string{"a"}, Map: map[string]string{"x": "y"}}}
}

func decode(t *testing.T, docs ...string) (root, *Loader, error) {
	t.Helper()
	r := defaults()
	l := &Loader{}
	for i, d := range docs {
		if err := l.Decode(Doc{Name: []string{"a.yaml", "b.yaml", "c.yaml"}[i], Data: []byte(d)}, &r); err != nil {
			return r, l, err
		}
	}
	return r, l, l.Validate(&r)
}

func TestDecodeStrictLocatedErrors(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"inner:\n  count: 2\n  cuont: 3\n", `a.yaml:3:3: inner.cuont: unknown key "cuont"`},
		{"inner:\n  count: many\n", "a.yaml:2:10: inner.count: wrong type: got a string, want an integer"},
		{"inner:\n  window: 5x\n", `a.yaml:2:11: inner.window: bad duration "5x"`},
		{"items:\n  - path: a\n  - paht: b\n", `a.yaml:3:5: items[1].paht: unknown key "paht"`},
		{"inner: [\n", "a.yaml:1:"},
		{"- 1\n- 2\n", "a.yaml:1: the document must be a mapping"},
		{"top: 1\n---\ntop: 2\n", "more than one YAML document"},
	} {
		_, _, err := decode(t, tc.doc)
		var ce *Error
		if !errors.As(err, &ce) || !strings.HasPrefix(err.Error(), tc.want) && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.doc, err, tc.want)
		}
	}
}

func TestDecodeValues(t *testing.T) {
	r, _, err := decode(t, "top: 2.5\ninner:\n  window: 30d\nflag: true\n", "inner:\n  count: 7\n  window: 600\n  names: [b, c]\n")
	if err != nil {
		t.Fatal(err)
	}
	if r.Top != 2.5 || r.Inner.Count != 7 || r.Inner.Window.D() != 10*time.Minute || !r.Flag || strings.Join(r.Inner.Names, ",") != "b,c" {
		t.Fatalf("%+v", r)
	}
	// Keys a later document does not set keep the earlier values; lists
	// are replaced as a whole.
	r, _, err = decode(t, "inner:\n  count: 7\n  names: [b]\n", "inner:\n  window: 1h\n")
	if err != nil || r.Inner.Count != 7 || r.Inner.Window.D() != time.Hour || strings.Join(r.Inner.Names, ",") != "b" || r.Top != 1.5 {
		t.Fatalf("%+v %v", r, err)
	}
	// Empty documents and comments set nothing; JSON is YAML.
	r, _, err = decode(t, "", "# nothing\n", "{\"inner\": {\"count\": 9},\n\t\"flag\": true}")
	if err != nil || r.Inner.Count != 9 || !r.Flag {
		t.Fatalf("%+v %v", r, err)
	}
}

func TestValidateLocated(t *testing.T) {
	_, _, err := decode(t, "flag: true\n", "inner:\n  count: -1\nitems:\n  - path: ok\n  - {}\n")
	got := err.Error()
	for _, want := range []string{"b.yaml:2:3: inner.count: must not be negative", "b.yaml:5:5: items[1].path: required"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	// A default that is invalid is reported without a place.
	r := defaults()
	r.Inner.Count = -5
	if err := (&Loader{}).Validate(&r); err == nil || err.Error() != "inner.count: must not be negative" {
		t.Fatalf("%v", err)
	}
}

func TestDurations(t *testing.T) {
	for in, want := range map[string]time.Duration{"30d": 30 * 24 * time.Hour, "1.5d": 36 * time.Hour, "90m": 90 * time.Minute, "2h30m": 150 * time.Minute} {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "-1h", "xd", "-2d", "1e300d", "10"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for d, want := range map[Duration]string{Duration(48 * time.Hour): "2d", Duration(90 * time.Minute): "1h30m", Duration(time.Hour): "1h", Duration(90 * time.Second): "1m30s", 0: "0s"} {
		if d.String() != want {
			t.Errorf("%v: %q", time.Duration(d), d.String())
		}
		back, err := ParseDuration(d.String())
		if err != nil || Duration(back) != d {
			t.Errorf("%q does not read back: %v %v", d.String(), back, err)
		}
	}
}

func TestDescribe(t *testing.T) {
	keys := Describe(defaults())
	var lines []string
	for _, k := range keys {
		lines = append(lines, k.Key+"|"+k.Type+"|"+k.Default+"|"+k.Doc)
	}
	want := []string{
		"top|number|1.5|a number at the top",
		"inner.count|integer|3|how many",
		"inner.window|duration|20m|how long",
		"inner.names|list of strings|[a]|which",
		"inner.map|mapping of strings|{x: y}|renames",
		"items[].path|string||file",
		"flag|true/false|false|a switch",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// dyn is a section with dynamic members decoded by its own UnmarshalYAML.
type dyn map[string]*inner

func (d *dyn) UnmarshalYAML(n ast.Node) error {
	if *d == nil {
		*d = dyn{}
	}
	return Mapping(n, func(key string, kn, v ast.Node) error {
		if key != "known" {
			return NodeError(kn, "unknown member %q", key)
		}
		cur := (*d)[key]
		if cur == nil {
			cur = &inner{Count: 1}
		}
		if err := DecodeNode(v, cur); err != nil {
			return err
		}
		(*d)[key] = cur
		return nil
	})
}

func TestDynamicSection(t *testing.T) {
	type doc struct {
		Dyn dyn `yaml:"dyn"`
	}
	var d doc
	l := &Loader{}
	if err := l.Decode(Doc{"a", []byte("dyn:\n  known:\n    window: 1h\n")}, &d); err != nil {
		t.Fatal(err)
	}
	if err := l.Decode(Doc{"b", []byte("dyn:\n  known:\n    count: 4\n")}, &d); err != nil {
		t.Fatal(err)
	}
	if k := d.Dyn["known"]; k == nil || k.Count != 4 || k.Window.D() != time.Hour {
		t.Fatalf("members not merged: %+v", d.Dyn["known"])
	}
	for doc, want := range map[string]string{
		"dyn:\n  other: {}\n":              "c:2:3: dyn.other: unknown member",
		"dyn:\n  known:\n    wnidow: 1h\n": `c:3:5: dyn.known.wnidow: unknown key "wnidow"`,
		"dyn:\n  known:\n    window: 1x\n": `c:3:13: dyn.known.window: bad duration`,
		"dyn: [1]\n":                       "c:1:6: dyn: want a mapping",
	} {
		err := (&Loader{}).Decode(Doc{"c", []byte(doc)}, &d)
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: %v, want %q", doc, err, want)
		}
	}
	if err := (&Loader{}).Decode(Doc{"d", []byte("dyn:\n  known:\n    count: -1\n")}, &d); err != nil {
		t.Fatal(err)
	}
}

func TestJSON(t *testing.T) {
	b, err := JSON(defaults())
	if err != nil || !strings.Contains(string(b), `"window":"20m"`) || !strings.Contains(string(b), `"top":1.5`) {
		t.Fatalf("%s %v", b, err)
	}
}

func TestRegistry(t *testing.T) {
	r := NewRegistry[*inner]("test section")
	r.Register("b", "the b kind", func() *inner { return &inner{Count: 2} })
	r.Register("a", "", func() *inner { return &inner{Count: 1} })
	if got := r.Names(); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Fatalf("names %v", got)
	}
	x, ok := r.New("b")
	y, _ := r.New("b")
	if !ok || x.Count != 2 || x == y || r.Doc("b") != "the b kind" {
		t.Fatalf("new %v %v", x, ok)
	}
	if _, ok := r.New("c"); ok {
		t.Fatal("unknown member made")
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("registering a name twice did not panic")
			}
		}()
		r.Register("a", "", func() *inner { return nil })
	}()
	r.Unregister("a")
	if len(r.Names()) != 1 {
		t.Fatal("unregister")
	}
}
