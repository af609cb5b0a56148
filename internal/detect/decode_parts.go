package detect

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/csv"
	"encoding/xml"
	"google.golang.org/protobuf/encoding/protowire"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/graphql"
	"github.com/palisade-sec/palisade/internal/jsonscan"
	"github.com/palisade-sec/palisade/internal/textkind"
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
	PartBody          // a body of another type, as text
	PartUserAgent     // the User-Agent header
	PartMultipartFile // the file name of a multipart part
	PartHeaderProto   // a protocol header (accept, cache-control …): CRS rules only
	PartCookieName    // a cookie name (when not a plain identifier)
	PartPathPlain     // a plain path (letters, digits, - _ . /): CRS rules only
	PartProto         // a text field of a protobuf message (schema-less; name: the field numbers, "1.3")
	PartGraphQL       // a string literal of a GraphQL document (name: field(argument), "user(id)")
	PartCSV           // a cell of a CSV or TSV body (name: its column)
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
	jw         *partWalker // JSON location source, valid during the callback only
}

// Loc returns the location of the value: query:q, path, header:x-foo,
// cookie:sid, body:$.a[0].b, form:q, multipart:f, body. It is built on
// demand (only evidence needs it); call it inside the RequestParts callback.
func (p *Part) Loc() string {
	if p.jw != nil {
		return p.jw.jsonLoc()
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
	Binary     int64 // binary bodies and multipart values (textkind.Binary): only their clean name=value pairs inspected
	GraphQL    int64 // GraphQL documents judged by their string literals (not counted as dropped)
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
	switch name { // the common ones without hashing (skipHeaders has them all)
	case "accept", "content-type", "user-agent", "x-request-id", "authorization", "cookie", "host", "content-length", "accept-encoding", "accept-language", "connection", "traceparent":
		return name != "user-agent"
	}
	if skipHeaders[name] {
		return true
	}
	return strings.HasPrefix(name, "sec-ch-") || strings.HasPrefix(name, "sec-fetch-") || strings.HasPrefix(name, "x-datadog-")
}

// partWalker extracts the parts of a request. Walkers are pooled: their
// buffers (header names, the JSON decoder and its stack) are reused from
// request to request.
type partWalker struct {
	lim   PartLimits
	stats *PartStats
	n     int
	fn    func(Part) bool
	sink  partSink // instead of fn: no closure per request
	done  bool
	// decoded marks the value being emitted as already percent-decoded
	decoded bool
	// binary: the body being walked is binary (textkind.Binary); pairs keeps
	// only its pieces that are clean text
	binary bool

	keys  *evKeys     // the engine's per-event keys (shared header list), or nil
	hdrs  []reqHeader // the header list without an engine
	ownSt PartStats
	// JSON walk state (jsonLoc reads it during the callback)
	jr     strings.Reader
	jdec   *jsontext.Decoder
	jstack []jsonFrame
	jkey   bool
	jfast  jsonscan.Tokenizer
	jskip  int  // emissions the jsontext replay skips (made by the fast path)
	noFast bool // tests: jsontext only (the reference walk)
	jused  bool // the jsontext decoder read a body
}

type jsonFrame struct {
	obj      bool
	idx      int64 // next array index
	name     string
	wantName bool
}

// partSink receives the parts of a request (see requestPartsTo).
type partSink interface {
	part(p Part) bool
}

var walkerPool = sync.Pool{New: func() any { return new(partWalker) }}

var jsonWalkOpts = []jsontext.Options{jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true)}

func getWalker(lim PartLimits, stats *PartStats, fn func(Part) bool) *partWalker {
	w := walkerPool.Get().(*partWalker)
	w.lim, w.stats, w.fn, w.n, w.done, w.decoded, w.binary = lim.withDefaults(), stats, fn, 0, false, false, false
	if stats == nil {
		w.ownSt = PartStats{}
		w.stats = &w.ownSt
	}
	return w
}

func putWalker(w *partWalker) {
	w.fn, w.stats, w.sink, w.keys = nil, nil, nil, nil
	clear(w.hdrs)
	w.hdrs = w.hdrs[:0]
	clear(w.jstack)
	w.jstack = w.jstack[:0]
	if w.jused { // drop the decoder's references to the body
		w.jr.Reset("")
		w.jdec.Reset(&w.jr)
		w.jused = false
	}
	w.jfast.Reset("", fastJSONOpts)
	walkerPool.Put(w)
}

// pairs emits the names (when worth inspecting) and values of an
// &-separated key=value string — a query string or a form body. Pieces that
// do not unescape are kept raw, so bad escapes are inspected too. It
// returns false when the walk was stopped.
func (w *partWalker) pairs(raw string, nameKind, valKind PartKind, namePrefix, valPrefix string) bool {
	for rest := raw; rest != ""; {
		var kv string
		kv, rest, _ = strings.Cut(rest, "&")
		if kv == "" {
			continue
		}
		if w.binary {
			// In a binary body a parameter is text that a form parser
			// would find among the file's bytes: a piece's text up to
			// its first byte no text has (a form's pairs are text, RFC
			// 1866 percent-encodes the rest: what follows is the file's,
			// or padding after a payload), that names a parameter with
			// a plain name and holds at least 4 bytes (a payload; a
			// shorter run between binary bytes is the file's by chance:
			// `3='`). Bare pieces are the file's.
			if i := textkind.First(kv); i >= 0 {
				kv = kv[:i]
			}
			if k, v, eq := strings.Cut(kv, "="); !eq || !plainName(k) || len(v) < 4 {
				continue
			}
		}
		k, v, eq := strings.Cut(kv, "=")
		dk, err1 := url.QueryUnescape(k)
		dv, err2 := url.QueryUnescape(v)
		if err1 != nil {
			dk = k
		}
		if err2 != nil {
			dv = v
		}
		if !eq {
			// a piece without "=" ("?wsdl", "?'msdasql'", a body that is
			// one token) names no parameter: it is content, judged as a
			// value (CRS reads it as an argument name, ARGS_NAMES), with
			// the endpoint's other bare pieces under the name "" (location
			// "query", "form")
			if !w.emitDecoded(valKind, strings.TrimSuffix(valPrefix, ":"), "", dk, dk != k) {
				return false
			}
			continue
		}
		if valKind == PartQuery && odataOption(dk) {
			// an OData system query option (decode_odata.go): the name is
			// the protocol's; an expression is judged by its literals
			if lits, ok := odataLiterals(dk, dv); ok {
				for _, l := range lits {
					if !w.emitDecoded(valKind, valPrefix, dk, l, dv != v) {
						return false
					}
				}
				continue
			}
		} else if needsInspection(dk) && !w.emitDecoded(nameKind, namePrefix, dk, dk, dk != k) {
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

func (w *partWalker) emitFn(k PartKind, prefix, name, v string, jw *partWalker) bool {
	if (k == PartJSON || k == PartQuery) && name == "query" && graphql.IsDocument(v) {
		// a GraphQL document (decode_graphql.go): its string literals
		// are the values
		if lits, ok := graphQLLiterals(v); ok {
			w.stats.GraphQL++
			for _, l := range lits {
				if !w.emitOne(PartGraphQL, "graphql:", l.loc, l.value, nil) {
					return false
				}
			}
			return !w.done
		}
	}
	return w.emitOne(k, prefix, name, v, jw)
}

func (w *partWalker) emitOne(k PartKind, prefix, name, v string, jw *partWalker) bool {
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
	p := Part{Kind: k, Value: v, Name: name, URLDecoded: w.decoded, prefix: prefix, jw: jw}
	var ok bool
	if w.sink != nil {
		ok = w.sink.part(p)
	} else {
		ok = w.fn(p)
	}
	if !ok {
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
	w := getWalker(lim, stats, fn)
	w.request(ev)
	putWalker(w)
}

// requestPartsTo is RequestParts with a sink instead of a callback.
// keys (may be nil) are the engine's per-event keys: the walk reads the
// header list from them.
func requestPartsTo(ev *event.Event, lim PartLimits, stats *PartStats, sink partSink, keys *evKeys) {
	w := getWalker(lim, stats, nil)
	w.sink, w.keys = sink, keys
	w.request(ev)
	putWalker(w)
}

func (w *partWalker) request(ev *event.Event) {
	// The path (escaped; decoding happens per value): one value for the
	// whole path, because payloads span segments ("/a/..%2f../etc/passwd",
	// "|/usr/bin/id"). Plain paths (letters, digits, - _ . /) get the CRS
	// rules only (restricted files such as /.env or /.git/config).
	if p := ev.Path; needsInspectionNoSlash(p) {
		if !w.emit(PartPath, "path", "", p) {
			return
		}
	} else if len(p) > 1 && !w.emit(PartPathPlain, "path", "", p) {
		return
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
	var cookie, ctype string                        // req.Header("cookie"), req.Header("content-type")
	for _, h := range w.keys.headers(ev, &w.hdrs) { // sorted by name
		switch h.name {
		case "cookie":
			cookie = h.value
		case "content-type":
			ctype = h.value
		}
		lk := h.lower
		kind := PartHeader
		switch {
		case lk == "user-agent":
			kind = PartUserAgent
		case lk == "cookie" || lk == "authorization" || lk == "proxy-authorization":
			continue // cookies are split below; credentials are the auth families'
		case skipHeader(lk):
			kind = PartHeaderProto
		}
		if !w.emit(kind, "header:", lk, h.value) {
			return
		}
	}
	if c := cookie; c != "" {
		for rest := c; rest != ""; {
			var kv string
			kv, rest, _ = strings.Cut(rest, ";")
			k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
			if needsInspection(k) && !w.emit(PartCookieName, "cookie-name:", k, k) {
				return
			}
			if !w.emit(PartCookie, "cookie:", k, v) {
				return
			}
		}
	}
	w.body(req.BodyText(), ctype)
}

// BodyParts calls fn for the values of a body (JSON leaves and member
// names, form fields, multipart fields, XML text, or the body as text),
// given its content type. Used for upstream responses.
func BodyParts(body, contentType string, lim PartLimits, stats *PartStats, fn func(Part) bool) {
	w := getWalker(lim, stats, fn)
	w.body(body, contentType)
	putWalker(w)
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
	if pb, framing := protoMedia(ct); pb {
		w.protoBody(body, framing)
		return
	}
	if !strings.HasPrefix(ct, "multipart/") && textkind.Binary(body) {
		// (A multipart body is judged part by part: its files are
		// binary, its fields text.)
		w.binaryBody(body)
		return
	}
	trim := strings.TrimLeft(body, " \t\r\n\ufeff")
	doc := documentMedia(ct)
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
		if !w.xmlBody(body, "body:") && !w.done {
			w.stats.BodyErrors++
		}
	case doc != 0:
		// a document (a CSV import, a text file, a configuration, notes
		// in Markdown): no framework parses it as a form (CRS gives it
		// REQUEST_BODY alone), so it has no name=value pairs — read as
		// such, a CSV's lines became parameter names and every import
		// tripped a rule. A table is judged cell by cell, named by its
		// column; any other document as one text.
		if doc != 'd' {
			w.csvBody(body, doc)
			return
		}
		w.emit(PartBody, "body", "", body)
	default:
		w.untypedBody(body)
	}
}

// binaryBody walks a body that is a file (textkind.Binary: an image, an
// archive, a compressed or encrypted payload, sent as octet-stream, with
// no type, or as a form by curl --data-binary): its bytes are no
// language's text, and read as text they trip every rule by chance. Only
// its pieces that are clean name=value text are inspected (a parameter
// slipped among binary bytes still reaches a form parser).
func (w *partWalker) binaryBody(body string) {
	w.stats.Binary++
	w.binary = true
	w.pairs(body, PartFormName, PartForm, "form-name:", "form:")
	w.binary = false
}

// untypedBody walks a body of no structured type (no content type,
// octet-stream, an unknown type): the whole text, and — as many frameworks
// parse such bodies as forms, and CRS does (REQUEST_BODY forced through
// the URL-encoded parser) — its name=value pairs.
func (w *partWalker) untypedBody(body string) {
	if w.emit(PartBody, "body", "", body) {
		w.pairs(body, PartFormName, PartForm, "form-name:", "form:")
	}
}

// documentMedia: the content type is a document's — ',' or '\t' for a
// table (CSV, TSV), 'd' for text (plain, Markdown, YAML, TOML), 0 else.
func documentMedia(ct string) rune {
	mt, _, _ := strings.Cut(ct, ";")
	switch strings.TrimSpace(mt) {
	case "text/csv", "application/csv", "text/comma-separated-values":
		return ','
	case "text/tab-separated-values":
		return '\t'
	case "text/plain", "text/markdown", "text/x-markdown", "text/yaml", "text/x-yaml", "application/yaml", "application/x-yaml", "application/toml", "text/x-log":
		return 'd'
	}
	return 0
}

// csvBody emits the cells of a table, each named by its column: the
// first record names the columns when every cell of it is a plain name
// (letters, digits, _ - . and spaces), else they are col1, col2 …
func (w *partWalker) csvBody(body string, sep rune) {
	r := csv.NewReader(strings.NewReader(body))
	r.Comma, r.LazyQuotes, r.FieldsPerRecord, r.ReuseRecord = sep, true, -1, true
	var cols []string
	for row := 0; !w.done; row++ {
		rec, err := r.Read()
		if err == io.EOF {
			return
		}
		if err != nil {
			w.stats.BodyErrors++
			return
		}
		if row == 0 && csvHeader(rec) {
			cols = append(cols[:0], rec...)
			continue
		}
		for i, cell := range rec {
			name := ""
			if i < len(cols) {
				name = cols[i]
			} else {
				name = "col" + strconv.Itoa(i+1)
			}
			if !w.emit(PartCSV, "csv:", name, cell) {
				return
			}
		}
	}
}

// csvHeader: every cell of a record is a column name.
func csvHeader(rec []string) bool {
	for _, c := range rec {
		c = strings.TrimSpace(c)
		if c == "" || len(c) > 64 || c[0] >= '0' && c[0] <= '9' {
			return false
		}
		for i := 0; i < len(c); i++ {
			if b := c[i]; !(isLetterByte(b) || b >= '0' && b <= '9' || b == '_' || b == '-' || b == '.' || b == ' ') {
				return false
			}
		}
	}
	return len(rec) > 0
}

// protoMedia: the content type carries protocol buffers — a message
// (application/x-protobuf and its aliases) or gRPC's length-prefixed
// messages (framing 'g'; 't' for grpc-web-text, base64 of the frames).
func protoMedia(ct string) (ok bool, framing byte) {
	mt, _, _ := strings.Cut(ct, ";")
	switch strings.TrimSpace(mt) {
	case "application/x-protobuf", "application/protobuf", "application/vnd.google.protobuf", "application/x-google-protobuf":
		return true, 0
	case "application/grpc", "application/grpc+proto", "application/grpc-web", "application/grpc-web+proto":
		return true, 'g'
	case "application/grpc-web-text", "application/grpc-web-text+proto":
		return true, 't'
	}
	return false, 0
}

// protoBody emits the text fields of a protobuf body. Without the
// schema, a message is walked as protoc --decode_raw does: a
// length-delimited field that parses whole as a message is one (nested
// up to maxProtoDepth), else one of valid text is a string (a value,
// located by its field numbers: proto:1.3), else bytes (skipped, as are
// numbers). gRPC frames (1-byte flag, 4-byte length) are walked one by
// one; a compressed frame is not decoded (counted in Binary) and
// grpc-web's trailer frame is protocol. A body that is not a message
// (or not a frame) is judged as a binary body.
func (w *partWalker) protoBody(body string, framing byte) {
	b := []byte(body)
	if framing == 't' {
		d, err := base64.StdEncoding.DecodeString(strings.TrimSpace(body))
		if err != nil {
			w.stats.BodyErrors++
			return
		}
		b, framing = d, 'g'
	}
	if framing == 0 {
		if !protoMessage(b, 0) {
			w.notProto(body)
			return
		}
		w.protoFields(b, "", 0)
		return
	}
	for frames := 0; len(b) > 0 && !w.done; frames++ {
		if len(b) < 5 {
			w.notProto(body)
			return
		}
		flag, n := b[0], binary.BigEndian.Uint32(b[1:5])
		b = b[5:]
		msg := b[:min(uint64(n), uint64(len(b)))] // a body cut by max_body ends mid-frame
		b = b[len(msg):]
		switch {
		case flag&0x80 != 0: // grpc-web trailers
		case flag&1 != 0:
			w.stats.Binary++ // compressed with the grpc-encoding: not decoded
		case protoMessage(msg, 0) || len(b) == 0:
			w.protoFields(msg, "", 0)
		default:
			w.notProto(body)
			return
		}
	}
}

// notProto: a body announced as protobuf that is not one is judged like
// any other body of no structured type (binary or text).
func (w *partWalker) notProto(body string) {
	w.stats.BodyErrors++
	if textkind.Binary(body) {
		w.binaryBody(body)
		return
	}
	w.untypedBody(body)
}

// maxProtoDepth bounds the nesting of messages walked without a schema.
const maxProtoDepth = 16

// protoMessage: b parses whole as protobuf fields (a message).
func protoMessage(b []byte, depth int) bool {
	if depth > maxProtoDepth {
		return false
	}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || num > protowire.MaxValidNumber {
			return false
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return false
		}
		b = b[n+m:]
	}
	return true
}

// protoFields emits the text fields of a message that protoMessage
// accepted (a message cut at max_body: up to the cut).
func (w *partWalker) protoFields(b []byte, path string, depth int) {
	for len(b) > 0 && !w.done {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return
		}
		b = b[n:]
		if typ != protowire.BytesType {
			m := protowire.ConsumeFieldValue(num, typ, b)
			if m < 0 {
				return
			}
			b = b[m:]
			continue
		}
		v, m := protowire.ConsumeBytes(b)
		if m < 0 {
			return
		}
		b = b[m:]
		name := strconv.Itoa(int(num))
		if path != "" {
			name = path + "." + name
		}
		switch {
		case len(v) > 0 && depth < maxProtoDepth && protoMessage(v, depth+1):
			w.protoFields(v, name, depth+1)
		case len(v) > 0 && utf8.Valid(v) && textkind.Count(string(v)) == 0:
			if !w.emit(PartProto, "proto:", name, string(v)) {
				return
			}
		}
	}
}

// plainName: a parameter name as forms and APIs write them — letters,
// digits and _ - . [ ] (user[email], items[0].id), at most 64 bytes.
func plainName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '[' || c == ']') {
			return false
		}
	}
	return true
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

// pathPlain: the bytes of a plain path (letters, digits, - _ /).
var pathPlain = func() (t [256]bool) {
	for c := range t {
		t[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '/'
	}
	return t
}()

// needsInspectionNoSlash is needsInspection of s with every '/' removed
// (a path: payloads span segments), without building that string.
func needsInspectionNoSlash(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if pathPlain[c] {
			continue
		}
		if c == '.' {
			j := i + 1
			for j < len(s) && s[j] == '/' {
				j++
			}
			if j < len(s) && s[j] == '.' {
				return true
			}
			continue
		}
		return true
	}
	return false
}

// jsonLoc is the location of the JSON value being emitted ($.a[0].b).
func (w *partWalker) jsonLoc() string {
	var b strings.Builder
	b.WriteString("body:$")
	for i := range w.jstack {
		if w.jstack[i].obj {
			b.WriteByte('.')
			b.WriteString(clipLoc(w.jstack[i].name))
		} else {
			b.WriteByte('[')
			b.WriteString(strconv.FormatInt(w.jstack[i].idx-1, 10))
			b.WriteByte(']')
		}
	}
	if w.jkey {
		b.WriteString("(key)")
	}
	return b.String()
}

// jsonBody walks a JSON body, emitting string and number leaves and member
// names with their location ($.a[0].b). It returns false when the body is
// not valid JSON before the first leaf (the caller falls back to text).
func (w *partWalker) jsonBody(body string) bool {
	if w.noFast {
		w.jskip = 0
	} else if done, res := w.jsonBodyFast(body); done {
		return res
	}
	// The fast path gave up (see fastJSONOpts): replay with jsontext, skipping
	// the w.jskip emissions it already made (the same ones, in order).
	w.jused = true
	w.jr.Reset(body)
	if w.jdec == nil {
		w.jdec = jsontext.NewDecoder(&w.jr, jsonWalkOpts...)
	} else {
		w.jdec.Reset(&w.jr, jsonWalkOpts...)
	}
	d := w.jdec
	w.jstack = w.jstack[:0]
	w.jkey = false
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
			w.jstack = w.jstack[:len(w.jstack)-1]
			if len(w.jstack) > 0 && w.jstack[len(w.jstack)-1].obj {
				w.jstack[len(w.jstack)-1].wantName = true
			}
			continue
		}
		if n := len(w.jstack); n > 0 {
			top := &w.jstack[n-1]
			if top.obj && top.wantName {
				name := tok.String()
				top.name = name
				top.wantName = false
				leaves++
				w.jkey = true
				if needsInspection(name) {
					if w.jskip > 0 {
						w.jskip--
					} else if !w.emitFn(PartJSONKey, "", name, name, w) {
						return true
					}
				}
				w.jkey = false
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
			w.jstack = append(w.jstack, jsonFrame{obj: true, wantName: true})
		case '[':
			w.jstack = append(w.jstack, jsonFrame{})
		case '"', '0':
			leaves++
			name := ""
			if n := len(w.jstack); n > 0 && w.jstack[n-1].obj {
				name = w.jstack[n-1].name
			}
			if w.jskip > 0 {
				w.jskip--
			} else if !w.emitFn(PartJSON, "", name, tok.String(), w) {
				return true
			}
		default:
			leaves++
		}
	}
}

// A fast path for walking JSON request bodies. The jsontext decoder the
// part walker uses copies its input and allocates every string it returns;
// most API bodies are small, valid JSON, for which the values are plain
// substrings of the body. The shared tokenizer (jsonscan) reads them with
// jsontext's grammar, strictly (valid UTF-8, nesting at most
// fastJSONMaxDepth), and fails on anything else before returning the token
// it cannot vouch for. Every token it returns is therefore one jsontext
// returns too, in the same order; when it fails, the walk is replayed with
// jsontext, skipping the emissions already made (see jsonBody), so the
// parts and their order are exactly those of the jsontext walk
// (FuzzJSONFastPath).
var fastJSONOpts = jsonscan.Options{MaxDepth: fastJSONMaxDepth, AllowDuplicateNames: true}

const fastJSONMaxDepth = 256

// jsonBodyFast is jsonBody over the fast tokenizer. done is false when the
// tokenizer gave up; w.jskip then counts the emissions made.
func (w *partWalker) jsonBodyFast(body string) (done, res bool) {
	t := &w.jfast
	t.Reset(body, fastJSONOpts)
	w.jstack = w.jstack[:0]
	w.jkey = false
	emitted := 0
	for {
		k, v, err := t.ReadToken()
		if err == io.EOF {
			return true, true
		} else if err != nil {
			w.jskip = emitted
			return false, false
		}
		if k == '}' || k == ']' {
			w.jstack = w.jstack[:len(w.jstack)-1]
			if len(w.jstack) > 0 && w.jstack[len(w.jstack)-1].obj {
				w.jstack[len(w.jstack)-1].wantName = true
			}
			continue
		}
		if n := len(w.jstack); n > 0 {
			top := &w.jstack[n-1]
			if top.obj && top.wantName {
				top.name = v
				top.wantName = false
				w.jkey = true
				if needsInspection(v) {
					emitted++
					if !w.emitFn(PartJSONKey, "", v, v, w) {
						return true, true
					}
				}
				w.jkey = false
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
			w.jstack = append(w.jstack, jsonFrame{obj: true, wantName: true})
		case '[':
			w.jstack = append(w.jstack, jsonFrame{})
		case '"', '0':
			name := ""
			if n := len(w.jstack); n > 0 && w.jstack[n-1].obj {
				name = w.jstack[n-1].name
			}
			emitted++
			if !w.emitFn(PartJSON, "", name, v, w) {
				return true, true
			}
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
		if fn := p.FileName(); fn != "" && !w.emit(PartMultipartFile, "multipart-filename:", name, fn) {
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
		if textkind.Binary(string(v)) {
			w.stats.Binary++
			continue // a file sent with no type or a text one
		}
		if bytes.HasPrefix(bytes.TrimSpace(v), []byte("<")) {
			// markup: the whole for XXE; an XML document (declared so)
			// by its text nodes, like an XML body; any other field
			// (HTML typed into a form, an undeclared file) is a value
			// like the others — until stop 26 a field starting with "<"
			// was judged for XXE alone, so <script> in a text field of
			// a multipart form went unseen
			if !w.emit(PartXML, "multipart:", name, string(v)) {
				return true
			}
			if strings.Contains(pct, "xml") && w.xmlBody(string(v), "multipart:"+clipLoc(name)+":") {
				if w.done {
					return true
				}
				continue
			}
			if w.done {
				return true
			}
		}
		if !w.emit(PartMultipart, "multipart:", name, string(v)) {
			return true
		}
	}
}

// xmlBody emits text nodes and attribute values of an XML body, located
// under prefix ("body:" gives "body:/order/item/@id").
func (w *partWalker) xmlBody(body, prefix string) bool {
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
				if !w.emit(PartXMLText, prefix+"/"+strings.Join(stack, "/")+"/@", a.Name.Local, a.Value) {
					return true
				}
			}
		case xml.EndElement:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case xml.CharData:
			s := strings.TrimSpace(string(t))
			if s != "" && !w.emit(PartXMLText, prefix+"/"+strings.Join(stack, "/"), "", s) {
				return true
			}
		}
	}
}
