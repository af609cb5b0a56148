package detect

import (
	"bytes"
	"encoding/xml"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/palisade-sec/palisade/internal/event"
)

// PartKind says where in a request a value was found.
type PartKind uint8

// Part kinds.
const (
	PartPath PartKind = iota
	PartQuery
	PartQueryName
	PartHeader
	PartCookie
	PartJSON    // a JSON string/number leaf
	PartJSONKey // a JSON object member name
	PartForm
	PartFormName
	PartMultipart
	PartXML // the whole XML body (for XXE)
	PartXMLText
	PartBody      // a body of another type, as text
	PartUserAgent // the User-Agent header
)

// Part is one value of a request, located.
type Part struct {
	Kind  PartKind
	Value string
	// Name is the parameter, header, cookie, field or JSON member name
	// ("" for the path and whole bodies).
	Name string
	// URLDecoded: the extractor already percent-decoded the value (query
	// and form fields); evidence reports that layer too.
	URLDecoded bool
	prefix     string
	locFn      func() string // JSON/XML locations, valid during the callback only
}

// Loc returns the location of the value: query:q, path, header:x-foo,
// cookie:sid, body:$.a[0].b, form:q, multipart:f, body. It is built on
// demand (only evidence needs it); call it inside the RequestParts callback.
func (p *Part) Loc() string {
	if p.locFn != nil {
		return p.locFn()
	}
	if p.Name == "" {
		return p.prefix
	}
	return p.prefix + clipLoc(p.Name)
}

// PartLimits bound the work spent on one request. Values beyond the limits
// are not inspected; the extractor counts them.
type PartLimits struct {
	MaxBody  int // bytes of request body inspected (default 256 KiB)
	MaxParts int // values per request (default 512)
	MaxValue int // bytes of one value inspected (default 32 KiB)
}

func (l PartLimits) withDefaults() PartLimits {
	if l.MaxBody <= 0 {
		l.MaxBody = 256 << 10
	}
	if l.MaxParts <= 0 {
		l.MaxParts = 512
	}
	if l.MaxValue <= 0 {
		l.MaxValue = 32 << 10
	}
	return l
}

// PartStats counts what extraction skipped, so nothing is lost silently.
type PartStats struct {
	BodiesCut  int64 // bodies longer than MaxBody (only the first part inspected)
	PartsCut   int64 // requests with more than MaxParts values
	ValuesCut  int64 // values longer than MaxValue (only the first part inspected)
	BodyErrors int64 // bodies announced as JSON/XML/multipart that did not parse (inspected as text)
}

// Headers never inspected for injection: their values are structured
// protocol fields or credentials (handled by the auth families).
var skipHeaders = map[string]bool{
	"authorization": true, "proxy-authorization": true, "cookie": true, "content-length": true,
	"accept": true, "accept-encoding": true, "accept-language": true, "connection": true,
	"cache-control": true, "pragma": true, "if-none-match": true, "if-modified-since": true,
	"upgrade-insecure-requests": true, "traceparent": true, "tracestate": true, "x-request-id": true,
	"x-amzn-trace-id": true, "x-b3-traceid": true, "x-b3-spanid": true, "x-b3-parentspanid": true,
	"x-b3-sampled": true, "content-type": true, "host": true, "te": true, "dnt": true,
	"x-forwarded-proto": true, "x-forwarded-port": true, "priority": true,
}

func skipHeader(name string) bool {
	if skipHeaders[name] {
		return true
	}
	return strings.HasPrefix(name, "sec-ch-") || strings.HasPrefix(name, "sec-fetch-") || strings.HasPrefix(name, "x-datadog-")
}

// partWalker extracts the parts of a request.
type partWalker struct {
	lim   PartLimits
	stats *PartStats
	n     int
	fn    func(Part) bool
	done  bool
	// decoded marks the value being emitted as already percent-decoded
	decoded bool
}

// pairs emits the names (when worth inspecting) and values of an
// &-separated key=value string — a query string or a form body. Pieces that
// do not unescape are kept raw, so bad escapes are inspected too. It
// returns false when the walk was stopped.
func (w *partWalker) pairs(raw string, nameKind, valKind PartKind, namePrefix, valPrefix string) bool {
	for _, kv := range strings.Split(raw, "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		dk, err1 := url.QueryUnescape(k)
		dv, err2 := url.QueryUnescape(v)
		if err1 != nil {
			dk = k
		}
		if err2 != nil {
			dv = v
		}
		if needsInspection(dk) && !w.emitDecoded(nameKind, namePrefix, dk, dk, dk != k) {
			return false
		}
		if !w.emitDecoded(valKind, valPrefix, dk, dv, dv != v) {
			return false
		}
	}
	return true
}

func (w *partWalker) emitDecoded(k PartKind, prefix, name, v string, decoded bool) bool {
	w.decoded = decoded
	ok := w.emit(k, prefix, name, v)
	w.decoded = false
	return ok
}

func (w *partWalker) emit(k PartKind, prefix, name, v string) bool {
	return w.emitFn(k, prefix, name, v, nil)
}

func (w *partWalker) emitFn(k PartKind, prefix, name, v string, locFn func() string) bool {
	if w.done {
		return false
	}
	if v == "" {
		return true
	}
	if w.n >= w.lim.MaxParts {
		w.stats.PartsCut++
		w.done = true
		return false
	}
	w.n++
	if len(v) > w.lim.MaxValue {
		// Head and tail: padding in front of a payload (a classic WAF
		// size-limit evasion) does not hide the payload.
		w.stats.ValuesCut++
		h := w.lim.MaxValue / 2
		v = v[:h] + " " + v[len(v)-h:]
	}
	if !w.fn(Part{Kind: k, Value: v, Name: name, URLDecoded: w.decoded, prefix: prefix, locFn: locFn}) {
		w.done = true
		return false
	}
	return true
}

// RequestParts calls fn for every inspected value of the event's request, in
// a fixed order: path segments, query names and values, headers (sorted),
// cookies, then the body (JSON leaves and member names, form fields,
// multipart fields, XML text, or the body as text). fn returns false to stop.
func RequestParts(ev *event.Event, lim PartLimits, stats *PartStats, fn func(Part) bool) {
	w := &partWalker{lim: lim.withDefaults(), stats: stats, fn: fn}
	if stats == nil {
		w.stats = &PartStats{}
	}
	// The path (escaped; decoding happens per value): one value for the
	// whole path, because payloads span segments ("/a/..%2f../etc/passwd",
	// "|/usr/bin/id"). Plain paths are skipped.
	if p := ev.Path; needsInspection(strings.ReplaceAll(p, "/", "")) {
		if !w.emit(PartPath, "path", "", p) {
			return
		}
	}
	// Query: the raw pieces are kept when they do not parse (url.ParseQuery
	// drops invalid pairs), so that bad escapes are inspected too.
	if ev.URL != nil && ev.URL.RawQuery != "" {
		if !w.pairs(ev.URL.RawQuery, PartQueryName, PartQuery, "query-name:", "query:") {
			return
		}
	}
	if ev.Rec == nil {
		return
	}
	req := &ev.Rec.Request
	if len(req.Headers) > 0 {
		names := make([]string, 0, len(req.Headers))
		for k := range req.Headers {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			lk := strings.ToLower(k)
			if skipHeader(lk) {
				continue
			}
			kind := PartHeader
			if lk == "user-agent" {
				kind = PartUserAgent
			}
			if !w.emit(kind, "header:", lk, req.Headers[k]) {
				return
			}
		}
	}
	if c := req.Header("cookie"); c != "" {
		for _, kv := range strings.Split(c, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
			if !w.emit(PartCookie, "cookie:", k, v) {
				return
			}
		}
	}
	w.body(req.BodyText(), req.Header("content-type"))
}

// BodyParts calls fn for the values of a body (JSON leaves and member
// names, form fields, multipart fields, XML text, or the body as text),
// given its content type. Used for upstream responses.
func BodyParts(body, contentType string, lim PartLimits, stats *PartStats, fn func(Part) bool) {
	w := &partWalker{lim: lim.withDefaults(), stats: stats, fn: fn}
	if stats == nil {
		w.stats = &PartStats{}
	}
	w.body(body, contentType)
}

func (w *partWalker) body(body, contentType string) {
	if body == "" {
		return
	}
	if len(body) > w.lim.MaxBody {
		w.stats.BodiesCut++
		body = body[:w.lim.MaxBody]
	}
	ct := strings.ToLower(contentType)
	trim := strings.TrimLeft(body, " \t\r\n\ufeff")
	switch {
	case strings.Contains(ct, "json") || (ct == "" || strings.HasPrefix(ct, "text/plain")) && len(trim) > 0 && (trim[0] == '{' || trim[0] == '['):
		if !w.jsonBody(body) && !w.done {
			w.stats.BodyErrors++
			w.emit(PartBody, "body", "", body)
		}
	case strings.Contains(ct, "x-www-form-urlencoded"):
		if !w.pairs(body, PartFormName, PartForm, "form-name:", "form:") {
			return
		}
	case strings.HasPrefix(ct, "multipart/"):
		if !w.multipartBody(ct, body) && !w.done {
			w.stats.BodyErrors++
			w.emit(PartBody, "body", "", body)
		}
	case strings.Contains(ct, "xml") || len(trim) > 0 && trim[0] == '<':
		if !w.emit(PartXML, "body", "", body) {
			return
		}
		if !w.xmlBody(body) && !w.done {
			w.stats.BodyErrors++
		}
	default:
		w.emit(PartBody, "body", "", body)
	}
}

func clipLoc(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return s
}

// needsInspection is a cheap filter for path segments and names: plain
// identifiers (letters, digits, - _ .) carry no payload.
func needsInspection(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' && !(i+1 < len(s) && s[i+1] == '.')) {
			return true
		}
	}
	return false
}

// jsonBody walks a JSON body, emitting string and number leaves and member
// names with their location ($.a[0].b). It returns false when the body is
// not valid JSON before the first leaf (the caller falls back to text).
func (w *partWalker) jsonBody(body string) bool {
	d := jsontext.NewDecoder(strings.NewReader(body), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	type frame struct {
		obj      bool
		idx      int64 // next array index
		name     string
		wantName bool
	}
	var stack []frame
	key := false
	loc := func() string {
		var b strings.Builder
		b.WriteString("body:$")
		for i := range stack {
			if stack[i].obj {
				b.WriteByte('.')
				b.WriteString(clipLoc(stack[i].name))
			} else {
				b.WriteByte('[')
				b.WriteString(strconv.FormatInt(stack[i].idx-1, 10))
				b.WriteByte(']')
			}
		}
		if key {
			b.WriteString("(key)")
		}
		return b.String()
	}
	leaves := 0
	for {
		tok, err := d.ReadToken()
		if err != nil {
			if err == io.EOF {
				return true
			}
			return leaves > 0
		}
		k := tok.Kind()
		if k == '}' || k == ']' {
			stack = stack[:len(stack)-1]
			if len(stack) > 0 && stack[len(stack)-1].obj {
				stack[len(stack)-1].wantName = true
			}
			continue
		}
		if n := len(stack); n > 0 {
			top := &stack[n-1]
			if top.obj && top.wantName {
				name := tok.String()
				top.name = name
				top.wantName = false
				leaves++
				key = true
				if needsInspection(name) && !w.emitFn(PartJSONKey, "", name, name, loc) {
					return true
				}
				key = false
				continue
			}
			if !top.obj {
				top.idx++
			} else {
				top.wantName = true // after this value
			}
		}
		switch k {
		case '{':
			stack = append(stack, frame{obj: true, wantName: true})
		case '[':
			stack = append(stack, frame{})
		case '"', '0':
			leaves++
			name := ""
			if n := len(stack); n > 0 && stack[n-1].obj {
				name = stack[n-1].name
			}
			if !w.emitFn(PartJSON, "", name, tok.String(), loc) {
				return true
			}
		default:
			leaves++
		}
	}
}

func (w *partWalker) multipartBody(ct, body string) bool {
	_, params, err := mime.ParseMediaType(ct)
	if err != nil || params["boundary"] == "" {
		return false
	}
	r := multipart.NewReader(strings.NewReader(body), params["boundary"])
	parts := 0
	for {
		p, err := r.NextPart()
		if err != nil {
			return parts > 0 || err == io.EOF
		}
		parts++
		name := p.FormName()
		if fn := p.FileName(); fn != "" && !w.emit(PartMultipart, "multipart-filename:", name, fn) {
			return true
		}
		v, err := io.ReadAll(io.LimitReader(p, int64(w.lim.MaxValue)))
		if err != nil && len(v) == 0 {
			return parts > 1
		}
		pct := strings.ToLower(p.Header.Get("Content-Type"))
		if pct != "" && !strings.HasPrefix(pct, "text/") && !strings.Contains(pct, "json") && !strings.Contains(pct, "xml") {
			continue // binary file content
		}
		kind := PartMultipart
		if bytes.HasPrefix(bytes.TrimSpace(v), []byte("<")) {
			kind = PartXML
		}
		if !w.emit(kind, "multipart:", name, string(v)) {
			return true
		}
	}
}

// xmlBody emits text nodes and attribute values of an XML body.
func (w *partWalker) xmlBody(body string) bool {
	d := xml.NewDecoder(strings.NewReader(body))
	d.Strict = false
	d.Entity = xml.HTMLEntity
	var stack []string
	for {
		tok, err := d.RawToken()
		if err != nil {
			return err == io.EOF
		}
		switch t := tok.(type) {
		case xml.StartElement:
			stack = append(stack, t.Name.Local)
			for _, a := range t.Attr {
				if !w.emit(PartXMLText, "body:/"+strings.Join(stack, "/")+"/@", a.Name.Local, a.Value) {
					return true
				}
			}
		case xml.EndElement:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case xml.CharData:
			s := strings.TrimSpace(string(t))
			if s != "" && !w.emit(PartXMLText, "body:/"+strings.Join(stack, "/"), "", s) {
				return true
			}
		}
	}
}
