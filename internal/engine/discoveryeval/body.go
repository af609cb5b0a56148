package discoveryeval

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/palisade-sec/palisade/internal/inventory"
)

// Response bodies (Config.Bodies).
const (
	// BodiesSpec: each 200 answers with JSON generated from the
	// operation's success response schema (the default).
	BodiesSpec = "spec"
	// BodiesOK: every response is {"ok":true} (the generator's first
	// behaviour, kept for comparison).
	BodiesOK = "ok"
)

// Bodies of the fixed responses.
const (
	okBody       = `{"ok":true}`
	notFoundBody = `{"error":"not found"}`
)

// Body generation bounds.
const (
	MaxBody       = 16 << 10 // bytes of a generated body
	maxBodyDepth  = 5        // nesting of objects and arrays beyond which only required members are generated
	maxProperties = 40       // properties of a generated object
	optionalRate  = 0.8      // probability of each optional property
)

// How the operations of a spec answer their 200s (Excluded.Bodies), one
// count per operation.
const (
	BodyJSON    = "200 with JSON generated from the success response's schema"
	Body204     = "no JSON response schema, success code 204 or no content declared: 204 without body"
	BodyNone    = "no JSON response schema (other media types, or JSON without schema): 200 without body"
	BodyLenient = "spec loaded leniently (response schemas not read): 200 without body"
	BodyTooBig  = "a body over 16 KiB even with required members only: those requests 200 without body"
)

// respPlan is how an operation answers its 200s.
type respPlan struct {
	schema *openapi3.Schema // nil: no JSON body
	ctype  string           // content type of the JSON body
	status int              // 200, or 204 without a JSON schema when the spec says so
	kind   string           // Body*
}

// responsePlan picks the success response of an operation: the first of
// 200, 201, 2XX, default with a JSON content schema (application/json,
// *+json, or */* with a schema).
func responsePlan(spec *inventory.Spec, path, method string) respPlan {
	if spec.Doc == nil || spec.Doc.Paths == nil {
		return respPlan{status: 200, kind: BodyLenient}
	}
	var op *openapi3.Operation
	if item := spec.Doc.Paths.Value(path); item != nil {
		op = item.GetOperation(method)
	}
	if op == nil || op.Responses == nil {
		return respPlan{status: 204, kind: Body204}
	}
	for _, code := range []string{"200", "201", "2XX", "2xx", "default"} {
		rr := op.Responses.Value(code)
		if rr == nil || rr.Value == nil {
			continue
		}
		if ct, s := jsonContent(rr.Value.Content); s != nil {
			return respPlan{schema: s, ctype: ct, status: 200, kind: BodyJSON}
		}
	}
	// No JSON schema: 204 when the success code is 204 or no success
	// response declares any content.
	success, content := "", false
	codes := make([]string, 0, op.Responses.Len())
	for code, rr := range op.Responses.Map() {
		up := strings.ToUpper(code)
		if !(len(up) == 3 && up[0] == '2') && up != "DEFAULT" {
			continue
		}
		codes = append(codes, up)
		if rr != nil && rr.Value != nil && len(rr.Value.Content) > 0 {
			content = true
		}
	}
	sort.Strings(codes) // "200" < … < "2XX" < "DEFAULT"
	if len(codes) > 0 {
		success = codes[0]
	}
	if success == "204" || !content {
		return respPlan{status: 204, kind: Body204}
	}
	return respPlan{status: 200, kind: BodyNone}
}

// jsonContent returns the JSON media type of a content map that has a
// schema: application/json first, then *+json (by name), then */*.
func jsonContent(c openapi3.Content) (string, *openapi3.Schema) {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, want := range []func(string) bool{
		func(b string) bool { return b == "application/json" },
		func(b string) bool { return strings.HasSuffix(b, "+json") },
		func(b string) bool { return b == "*/*" },
	} {
		for _, k := range keys {
			base, _, _ := strings.Cut(k, ";")
			base = strings.ToLower(strings.TrimSpace(base))
			mt := c[k]
			if !want(base) || mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
				continue
			}
			if base == "*/*" {
				return "application/json", mt.Schema.Value
			}
			return k, mt.Schema.Value
		}
	}
	return "", nil
}

// bodyGen generates JSON values from schemas. One per spec (its pattern
// cache is shared); reset for each body.
type bodyGen struct {
	rng      *rand.Rand
	buf      []byte
	full     bool // over budget: no more optional properties or items
	minimal  bool // required members only (cut schemas, or a second attempt)
	stack    map[*openapi3.Schema]int
	patterns map[string]*patternGen
	regexps  map[string]*regexp.Regexp
	views    map[*openapi3.Schema]*view // of schemas without oneOf/anyOf (no choice to draw)
}

func newBodyGen() *bodyGen {
	return &bodyGen{stack: map[*openapi3.Schema]int{}, patterns: map[string]*patternGen{}, regexps: map[string]*regexp.Regexp{},
		views: map[*openapi3.Schema]*view{}}
}

// body returns a JSON value of s drawn with rng, at most MaxBody bytes
// ("" when even its required members exceed it).
func (g *bodyGen) body(s *openapi3.Schema, rng *rand.Rand) string {
	for _, minimal := range []bool{false, true} {
		g.rng, g.buf, g.full, g.minimal = rng, g.buf[:0], false, minimal
		clear(g.stack)
		g.value(s, 0)
		if len(g.buf) <= MaxBody {
			return string(g.buf)
		}
	}
	return ""
}

// view is a schema with its allOf members and one branch of each oneOf
// and anyOf merged.
type view struct {
	parts  []*openapi3.Schema
	choice bool // a oneOf or anyOf branch was drawn
	typ    string
	enum   []any      // of the first part with one
	obj    *objLayout // objects: built on first use
}

// objLayout: the properties of an object view.
type objLayout struct {
	members  []member // by name; writeOnly properties left out
	optional int      // optional properties allowed: maxProperties − required
	minProps uint64
	extra    *openapi3.Schema // additionalProperties schema, for minProperties
}

type member struct {
	name     string
	key      []byte // `"name":`
	schema   *openapi3.Schema
	required bool
}

// viewOf returns the view of s, drawing its oneOf/anyOf branches.
func (g *bodyGen) viewOf(s *openapi3.Schema) *view {
	if v := g.views[s]; v != nil {
		return v
	}
	v := &view{}
	g.collect(s, v)
	v.typ = v.computeTyp()
	for _, p := range v.parts {
		if len(p.Enum) > 0 {
			v.enum = p.Enum
			break
		}
	}
	if !v.choice {
		g.views[s] = v
	}
	return v
}

func (g *bodyGen) collect(s *openapi3.Schema, v *view) {
	if s == nil || slices.Contains(v.parts, s) || len(v.parts) > 64 {
		return
	}
	v.parts = append(v.parts, s)
	for _, m := range s.AllOf {
		if m != nil {
			g.collect(m.Value, v)
		}
	}
	for _, alt := range []openapi3.SchemaRefs{s.OneOf, s.AnyOf} {
		if len(alt) > 0 {
			v.choice = true
			if m := alt[g.rng.IntN(len(alt))]; m != nil {
				g.collect(m.Value, v)
			}
		}
	}
}

func (v *view) computeTyp() string {
	for _, p := range v.parts {
		if p.Type != nil {
			for _, t := range p.Type.Slice() {
				if t != "null" {
					return t
				}
			}
		}
	}
	for _, p := range v.parts {
		switch {
		case len(p.Properties) > 0 || len(p.Required) > 0:
			return "object"
		case p.Items != nil:
			return "array"
		}
	}
	for _, p := range v.parts {
		switch {
		case p.Format != "" || p.Pattern != "" || p.MinLength > 0 || p.MaxLength != nil:
			return "string"
		case p.Min != nil || p.Max != nil || p.MultipleOf != nil:
			return "number"
		}
	}
	for _, p := range v.parts {
		if p.Type != nil && p.Type.Includes("null") {
			return "null"
		}
	}
	return ""
}

// cut: a schema that is not expanded further (beyond the depth bound, or
// already being generated: a $ref cycle).
func (g *bodyGen) cut(s *openapi3.Schema, depth int) bool {
	return s != nil && (depth > maxBodyDepth || g.stack[s] > 0)
}

// value appends a JSON value of s at nesting depth.
func (g *bodyGen) value(s *openapi3.Schema, depth int) {
	if g.cut(s, depth) && !g.minimal {
		// A required member the bounds stop: required members only below.
		g.minimal = true
		defer func() { g.minimal = false }()
	}
	v := g.viewOf(s)
	typ := v.typ
	if depth > maxBodyDepth+5 {
		g.zero(typ)
		return
	}
	for _, p := range v.parts {
		g.stack[p]++
	}
	defer func() {
		for _, p := range v.parts {
			g.stack[p]--
		}
	}()
	if v.enum != nil {
		g.enum(v.enum)
		return
	}
	switch typ {
	case "object":
		g.object(v, depth)
	case "array":
		g.array(v, depth)
	case "integer", "number":
		g.number(v, typ == "integer")
	case "boolean":
		g.buf = strconv.AppendBool(g.buf, g.rng.IntN(2) == 0)
	case "null":
		g.buf = append(g.buf, "null"...)
	default: // string, or a schema that says nothing
		g.str(v)
	}
}

func (g *bodyGen) zero(typ string) {
	switch typ {
	case "object":
		g.buf = append(g.buf, "{}"...)
	case "array":
		g.buf = append(g.buf, "[]"...)
	case "integer", "number":
		g.buf = append(g.buf, '0')
	case "boolean":
		g.buf = append(g.buf, "false"...)
	case "null":
		g.buf = append(g.buf, "null"...)
	default:
		g.buf = append(g.buf, `""`...)
	}
}

func (g *bodyGen) enum(vals []any) {
	var nonNull []any
	for _, v := range vals {
		if v != nil {
			nonNull = append(nonNull, v)
		}
	}
	if len(nonNull) == 0 {
		g.buf = append(g.buf, "null"...)
		return
	}
	g.appendJSON(nonNull[g.rng.IntN(len(nonNull))])
}

func (g *bodyGen) appendJSON(v any) {
	if s, ok := v.(string); ok {
		g.buf = appendString(g.buf, s)
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte("null")
	}
	g.buf = append(g.buf, b...)
}

func (v *view) layout() *objLayout {
	if v.obj != nil {
		return v.obj
	}
	props := map[string]*openapi3.Schema{}
	required := map[string]bool{}
	l := &objLayout{}
	for _, p := range v.parts {
		for name, r := range p.Properties {
			if _, ok := props[name]; ok {
				continue
			}
			var s *openapi3.Schema
			if r != nil {
				s = r.Value
			}
			props[name] = s
		}
		for _, name := range p.Required {
			required[name] = true
		}
		l.minProps = max(l.minProps, p.MinProps)
		if ap := p.AdditionalProperties.Schema; l.extra == nil && ap != nil {
			l.extra = ap.Value
		}
	}
	for name := range required {
		if _, ok := props[name]; !ok {
			props[name] = nil // required without a schema: any value
		}
	}
	l.optional = maxProperties
	for name, s := range props {
		if s != nil && s.WriteOnly {
			continue // never in responses (nor required there)
		}
		key := append(appendString(nil, name), ':')
		l.members = append(l.members, member{name: name, key: key, schema: s, required: required[name]})
		if required[name] {
			l.optional--
		}
	}
	sort.Slice(l.members, func(i, j int) bool { return l.members[i].name < l.members[j].name })
	v.obj = l
	return l
}

func (g *bodyGen) object(v *view, depth int) {
	l := v.layout()
	optional := l.optional
	g.buf = append(g.buf, '{')
	first, written := true, 0
	for _, m := range l.members {
		s, req := m.schema, m.required
		if !req {
			if g.full || g.minimal || optional <= 0 || g.rng.Float64() >= optionalRate || g.cut(s, depth+1) {
				continue
			}
		}
		mark := len(g.buf)
		if !first {
			g.buf = append(g.buf, ',')
		}
		g.buf = append(g.buf, m.key...)
		g.value(s, depth+1)
		if !req {
			if len(g.buf) > MaxBody {
				g.buf, g.full = g.buf[:mark], true
				continue
			}
			optional--
		}
		first = false
		written++
	}
	// minProperties beyond the declared ones: entries of the
	// additionalProperties schema (strings when it has none).
	var added map[string]bool
	for try := 0; uint64(written) < min(l.minProps, maxProperties) && try < 2*maxProperties; try++ {
		name := word(g.rng, 4, 10)
		if added[name] || slices.ContainsFunc(l.members, func(m member) bool { return m.name == name }) {
			continue
		}
		if added == nil {
			added = map[string]bool{}
		}
		added[name] = true
		if !first {
			g.buf = append(g.buf, ',')
		}
		g.quoted(name)
		g.buf = append(g.buf, ':')
		g.value(l.extra, depth+1)
		first = false
		written++
	}
	g.buf = append(g.buf, '}')
}

func (g *bodyGen) array(v *view, depth int) {
	var items *openapi3.Schema
	lo, hi := uint64(0), uint64(math.MaxUint64)
	unique := false
	for _, p := range v.parts {
		if items == nil && p.Items != nil {
			items = p.Items.Value
		}
		lo = max(lo, p.MinItems)
		if p.MaxItems != nil {
			hi = min(hi, *p.MaxItems)
		}
		unique = unique || p.UniqueItems
	}
	n := uint64(1 + g.rng.IntN(3))
	if g.minimal || g.cut(items, depth+1) {
		n = 0
	}
	n = min(max(lo, min(n, hi)), 1000)
	g.buf = append(g.buf, '[')
	var seen map[string]bool
	if unique {
		seen = map[string]bool{}
	}
	count := uint64(0)
	for try := 0; count < n && try < int(n)+8; try++ {
		if count >= lo && g.full {
			break
		}
		mark := len(g.buf)
		if count > 0 {
			g.buf = append(g.buf, ',')
		}
		start := len(g.buf)
		g.value(items, depth+1)
		if count >= lo && len(g.buf) > MaxBody {
			g.buf, g.full = g.buf[:mark], true
			break
		}
		if unique {
			k := string(g.buf[start:])
			if seen[k] && count >= lo {
				g.buf = g.buf[:mark]
				continue
			}
			seen[k] = true
		}
		count++
	}
	g.buf = append(g.buf, ']')
}

// bounds of a number: the tightest of the parts', exclusive bounds
// nudged inwards.
func (v *view) bounds(integer bool) (lo, hi float64, hasLo, hasHi bool, mult float64) {
	int32Fmt := false
	lo, hi = math.Inf(-1), math.Inf(1)
	step := 1.0
	if !integer {
		step = 0.01
	}
	for _, p := range v.parts {
		if p.Min != nil {
			b := *p.Min
			if p.ExclusiveMin.IsTrue() {
				b += step
			}
			lo = max(lo, b)
		}
		if p.ExclusiveMin.Value != nil {
			lo = max(lo, *p.ExclusiveMin.Value+step)
		}
		if p.Max != nil {
			b := *p.Max
			if p.ExclusiveMax.IsTrue() {
				b -= step
			}
			hi = min(hi, b)
		}
		if p.ExclusiveMax.Value != nil {
			hi = min(hi, *p.ExclusiveMax.Value-step)
		}
		if p.MultipleOf != nil && *p.MultipleOf > 0 && mult == 0 {
			mult = *p.MultipleOf
		}
		if p.Format == "int32" {
			int32Fmt = true
		}
	}
	if int32Fmt {
		lo, hi = max(lo, math.MinInt32), min(hi, math.MaxInt32)
	}
	return lo, hi, !math.IsInf(lo, -1), !math.IsInf(hi, 1), mult
}

func (g *bodyGen) number(v *view, integer bool) {
	lo, hi, hasLo, hasHi, mult := v.bounds(integer)
	// A range of everyday magnitudes within the bounds: 1–10⁴ by
	// default, near zero when the bounds span it, near the bound given.
	const width = 10_000
	switch {
	case !hasLo && !hasHi:
		lo, hi = 1, width
	case hasLo && !hasHi:
		hi = lo + width
		if lo < 1 && lo+width > 1 {
			lo, hi = max(lo, 0), width
		}
	case !hasLo && hasHi:
		lo = hi - width
		if hi >= 1 {
			lo = max(lo, 1)
		}
	default:
		if hi-lo > width {
			switch {
			case lo <= 0 && hi >= 0:
				lo, hi = max(lo, 0), min(hi, width)
			case lo > 0:
				hi = lo + width
			default:
				lo = hi - width
			}
		}
	}
	if hi < lo {
		hi = lo
	}
	if integer || mult != 0 {
		m := mult
		if m == 0 {
			m = 1
		}
		a, b := math.Ceil(lo/m), math.Floor(hi/m)
		if integer && m != math.Trunc(m) {
			m, a, b = 1, math.Ceil(lo), math.Floor(hi)
		}
		k := a
		if b > a {
			k = a + float64(g.rng.Int64N(int64(b-a)+1))
		}
		x := k * m
		if integer {
			g.buf = strconv.AppendInt(g.buf, int64(x), 10)
		} else {
			g.buf = strconv.AppendFloat(g.buf, x, 'f', -1, 64)
		}
		return
	}
	x := math.Round((lo+g.rng.Float64()*(hi-lo))*100) / 100
	if x < lo || x > hi {
		x = (lo + hi) / 2
	}
	g.buf = strconv.AppendFloat(g.buf, x, 'f', -1, 64)
}

func (g *bodyGen) str(v *view) {
	var format, pattern string
	var example any
	minLen, maxLen := uint64(0), uint64(math.MaxUint64)
	for _, p := range v.parts {
		if format == "" {
			format = p.Format
		}
		if pattern == "" {
			pattern = p.Pattern
		}
		if example == nil {
			example = p.Example
		}
		minLen = max(minLen, p.MinLength)
		if p.MaxLength != nil {
			maxLen = min(maxLen, *p.MaxLength)
		}
	}
	switch format {
	case "uuid":
		g.quoted(randUUID(g.rng))
		return
	case "date":
		g.quoted(randTime(g.rng).Format("2006-01-02"))
		return
	case "date-time":
		g.quoted(randTime(g.rng).Format(time.RFC3339))
		return
	case "email":
		g.quoted(randEmail(g.rng))
		return
	case "uri", "url":
		g.quoted("https://" + domains[g.rng.IntN(len(domains))] + "/" + word(g.rng, 3, 8) + "/" + strconv.Itoa(1+g.rng.IntN(10_000)))
		return
	case "byte":
		b := make([]byte, 6+g.rng.IntN(19))
		for i := range b {
			b[i] = byte(g.rng.UintN(256))
		}
		g.quoted(base64.StdEncoding.EncodeToString(b))
		return
	}
	fits := func(s string) bool {
		n := uint64(len([]rune(s)))
		return n >= minLen && n <= maxLen
	}
	if ex, ok := example.(string); ok && fits(ex) && (pattern == "" || g.matches(pattern, ex)) {
		g.appendJSON(ex)
		return
	}
	if pattern != "" {
		if pg := g.pattern(pattern); pg != nil {
			// Repetitions long enough for minLength, short enough for a
			// small maxLength.
			extra := maxExtraRepeat
			if minLen > 0 {
				extra = int(max(uint64(extra), min(2*minLen, 256)))
			}
			if maxLen < uint64(extra) {
				extra = int(maxLen)
			}
			for range 8 {
				if s := pg.generateN(g.rng, extra); s != "" && fits(s) {
					g.appendJSON(s)
					return
				}
			}
		}
	}
	s := word(g.rng, 4, 10)
	for uint64(len(s)) < minLen {
		s += word(g.rng, 4, 10)
	}
	if uint64(len(s)) > maxLen {
		s = s[:maxLen]
	}
	g.quoted(s)
}

// quoted appends a string that needs no escaping.
func (g *bodyGen) quoted(s string) {
	g.buf = append(g.buf, '"')
	g.buf = append(g.buf, s...)
	g.buf = append(g.buf, '"')
}

func (g *bodyGen) pattern(p string) *patternGen {
	pg, ok := g.patterns[p]
	if !ok {
		pg, _ = compilePattern(p, true)
		g.patterns[p] = pg
	}
	return pg
}

// matches: s matches the pattern (or the pattern is not a Go regular
// expression: nothing to check against).
func (g *bodyGen) matches(p, s string) bool {
	re, ok := g.regexps[p]
	if !ok {
		re, _ = regexp.Compile(p)
		g.regexps[p] = re
	}
	return re == nil || re.MatchString(s)
}

// appendString appends s as a JSON string: as is when it needs no
// escaping (printable ASCII without '"', '\\' and the characters
// encoding/json escapes for HTML), else as encoding/json writes it.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			e, err := json.Marshal(s)
			if err != nil {
				return append(b, `""`...)
			}
			return append(b, e...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
