package detect_test

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/palisade-sec/palisade/internal/classify"
	"github.com/palisade-sec/palisade/internal/detect"
	"github.com/palisade-sec/palisade/internal/enrich"
	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/inventory"
	"github.com/palisade-sec/palisade/internal/sim"
)

// The fast decoder makes every string of a record (URL, header names and
// values, bodies) as a view into one allocation per input line
// (docs/ARCHITECTURE.md): a string a family keeps past Observe keeps that
// whole text alive, so kept strings must be copies. The test gives every
// simulated record such a "line" (all its strings re-made as views into
// one allocation, the worst case: the decoder interns some of them), runs
// the records through enrichment and the whole detection engine, and then
// walks everything the engine holds (detectors, tables, memos, alerts)
// looking for a string that is a view into one of those lines.

// line is the text of one record: the range [p, p+n).
type line struct{ p, n uintptr }

// rehome remakes the strings of rec as views into one new allocation and
// returns its range.
func rehome(rec *exchange.Record) line {
	var strs []*string
	add := func(s *string) { strs = append(strs, s) }
	add(&rec.Client.IP)
	add(&rec.Direction)
	add(&rec.Source)
	add(&rec.Request.Method)
	add(&rec.Request.URL)
	add(&rec.Request.Body)
	add(&rec.Request.BodyEncoding)
	rec.Response.BodyText() // materialize a lazily kept body
	add(&rec.Response.Body)
	add(&rec.Response.BodyEncoding)
	type kv struct{ k, v string }
	var hdrs [2][]kv
	for i, h := range []map[string]string{rec.Request.Headers, rec.Response.Headers} {
		for k, v := range h {
			hdrs[i] = append(hdrs[i], kv{k, v})
		}
	}
	for i := range hdrs {
		for j := range hdrs[i] {
			add(&hdrs[i][j].k)
			add(&hdrs[i][j].v)
		}
	}
	n := 8
	for _, s := range strs {
		n += len(*s)
	}
	buf := make([]byte, 0, n)
	for _, s := range strs {
		off := len(buf)
		buf = append(buf, *s...)
		if len(*s) > 0 {
			*s = unsafe.String(&buf[off], len(*s))
		}
	}
	for i, h := range []*map[string]string{&rec.Request.Headers, &rec.Response.Headers} {
		if *h == nil {
			continue
		}
		m := make(map[string]string, len(hdrs[i]))
		for _, p := range hdrs[i] {
			m[p.k] = p.v
		}
		*h = m
	}
	return line{uintptr(unsafe.Pointer(unsafe.SliceData(buf))), uintptr(cap(buf))}
}

// lines finds the line a pointer falls in.
type lines []line

func (ls lines) find(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	i := sort.Search(len(ls), func(i int) bool { return ls[i].p+ls[i].n > p })
	return i, i < len(ls) && ls[i].p <= p
}

// walker visits every string reachable from a value (through pointers,
// interfaces, structs, arrays, slices and maps, unexported fields too).
type walker struct {
	seen   map[uintptr]bool
	hasStr map[reflect.Type]bool
	visit  func(path, s string)
	skip   func(t reflect.Type) bool
	// scratch names fields (type.field) holding the parts of the event
	// being observed, not walked
	scratch     map[string]bool
	scratchSeen map[string]bool
}

// holdsStrings reports whether values of t can reach a string.
func (w *walker) holdsStrings(t reflect.Type) bool {
	if v, ok := w.hasStr[t]; ok {
		return v
	}
	w.hasStr[t] = true // recursive types: assume so while deciding
	r := false
	switch t.Kind() {
	case reflect.String, reflect.Interface, reflect.Map:
		r = true
	case reflect.Pointer, reflect.Slice, reflect.Array:
		r = w.holdsStrings(t.Elem())
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			r = r || w.holdsStrings(t.Field(i).Type)
		}
	}
	w.hasStr[t] = r
	return r
}

func (w *walker) walk(path string, v reflect.Value) {
	if !v.IsValid() || !w.holdsStrings(v.Type()) || (w.skip != nil && w.skip(v.Type())) {
		return
	}
	switch v.Kind() {
	case reflect.String:
		w.visit(path, v.String())
	case reflect.Pointer:
		if v.IsNil() || w.seen[v.Pointer()] {
			return
		}
		w.seen[v.Pointer()] = true
		w.walk(path, v.Elem())
	case reflect.Interface:
		if !v.IsNil() {
			w.walk(path+"("+v.Elem().Type().String()+")", v.Elem())
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < v.NumField(); i++ {
			if f := t.String() + "." + t.Field(i).Name; w.scratch[f] {
				w.scratchSeen[f] = true
			} else {
				w.walk(path+"."+t.Field(i).Name, v.Field(i))
			}
		}
	case reflect.Slice:
		if v.IsNil() {
			return
		}
		// the whole backing array: elements beyond the length keep
		// their strings alive too
		v = v.Slice(0, v.Cap())
		fallthrough
	case reflect.Array:
		for i := 0; i < v.Len(); i++ {
			w.walk(path+"[]", v.Index(i))
		}
	case reflect.Map:
		if v.IsNil() || w.seen[v.Pointer()] {
			return
		}
		w.seen[v.Pointer()] = true
		it := v.MapRange()
		for it.Next() {
			w.walk(path+"{key}", it.Key())
			w.walk(path+"{}", it.Value())
		}
	}
}

// TestKeptStringsAreCopies: after a simulated day with attacks, nothing
// the detection engine holds (state of every family and the alerts) is a
// view into a record's text.
func TestKeptStringsAreCopies(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates a day of traffic")
	}
	cfg := sim.DefaultConfig()
	cfg.Scale, cfg.Duration = 0.3, 30*time.Hour
	var recs []*exchange.Record
	_, err := sim.Generate(cfg, func(r *exchange.Record) error {
		if err := r.Validate(); err != nil {
			return nil
		}
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Time.Before(recs[j].Time) })
	var ls lines
	for _, r := range recs {
		ls = append(ls, rehome(r))
		if err := r.Validate(); err != nil { // parses the re-made URL
			t.Fatal(err)
		}
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i].p < ls[j].p })
	inv := inventory.New(inventory.DefaultConfig())
	enr := enrich.New(enrich.DefaultConfig(), inv, nil)
	c, err := classify.New(classify.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	cls := classify.NewAnalyzer(c)
	g := detect.NewDefault(detect.Config{Classifier: c})
	var last time.Time
	for i, r := range recs {
		ev, err := enr.Enrich(r, uint64(i))
		if err != nil {
			continue
		}
		inv.Observe(ev)
		cls.Observe(ev)
		g.Observe(ev)
		last = ev.Time
	}
	g.Finish(last)
	alerts := g.Alerts()
	if len(alerts) < 20 {
		t.Fatalf("only %d alerts: the traffic does not exercise the families", len(alerts))
	}
	families := map[string]bool{}
	for _, a := range alerts {
		families[strings.SplitN(a.Type, ".", 2)[0]] = true
	}

	bad := map[string][]string{} // path → examples
	kept := 0
	w := &walker{seen: map[uintptr]bool{}, hasStr: map[reflect.Type]bool{},
		// the classification analyzer is not the engine's (classify has
		// its own test)
		skip: func(t reflect.Type) bool { return t == reflect.TypeOf(cls) },
		// Per-event scratch: the event being observed and its parts (header
		// and query lists, parameters, JSON scan state, the request scan),
		// refilled from event to event in arrays that are reused. They keep
		// the text of at most the last few records alive, however long the
		// run, so they are not copied (that would cost a copy per event).
		scratch: map[string]bool{
			"detect.evKeys.ev": true, "detect.evKeys.bufs": true, "detect.evKeys.scan": true,
			"detect.requestScanner.ev": true, "detect.requestScanner.res": true,
			"detect.requestScanner.host": true, "detect.requestScanner.hostOwn": true, "detect.requestScanner.own": true,
			"detect.enumDetector.scratch": true, "detect.paramsDetector.scratch": true,
			"detect.paramsDetector.js": true, "detect.authDetector.js": true,
		},
		visit: func(path, s string) {
			kept++
			if _, in := ls.find(s); in {
				if len(bad[path]) < 3 {
					bad[path] = append(bad[path], fmt.Sprintf("%.40q", s))
				}
			}
		}}
	w.scratchSeen = map[string]bool{}
	w.walk("engine", reflect.ValueOf(g))
	for f := range w.scratch {
		if !w.scratchSeen[f] {
			t.Errorf("no field %s: update the list of scratch fields", f)
		}
	}
	if kept < 1000 {
		t.Fatalf("only %d strings kept: the walk does not reach the state", kept)
	}
	paths := make([]string, 0, len(bad))
	for p := range bad {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		t.Errorf("%s keeps a view of a record's text, e.g. %s", p, strings.Join(bad[p], ", "))
	}
	t.Logf("%d records, %d alerts (%d families), %d strings kept", len(recs), len(alerts), len(families), kept)
}
