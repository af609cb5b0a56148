package exchange

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/palisade-sec/palisade/internal/jsonscan"
)

// The fast decoder parses the common shape of an exchange record in one
// pass, without reflection: the fields of the contract, strings with or
// without escapes, integers, plain numbers, booleans. Anything else — an
// unknown member, a null, a duplicate name, a fraction where an integer
// belongs, invalid UTF-8, a syntax error — makes it give up, and the general
// decoder (json.Unmarshal into wireRecord) decodes the line and, if the line
// is bad, names the field. The two agree on every record the fast decoder
// accepts: FuzzFastDecodeAgrees checks it.

// fastDecoding can be turned off by tests and benchmarks.
var fastDecoding = true

type fastScanner struct {
	b      []byte
	i      int
	intern *internTable
	arena  []byte   // the decoded strings of the record being decoded
	pairs  []string // header name/value pairs being collected
	upper  bool     // a header name has upper-case letters
	pool   *RecordPool
}

// internTable shares strings that repeat from record to record (header
// names and common values, methods, sources), so that decoding them costs a
// map lookup instead of an allocation. It is bounded: once full, new strings
// are allocated as usual.
type internTable struct {
	m map[string]string
}

const internMax = 4096
const internMaxLen = 256

func (t *internTable) get(b []byte) string {
	if t == nil || len(b) > internMaxLen {
		return string(b)
	}
	if s, ok := t.m[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(t.m) < internMax {
		if t.m == nil {
			t.m = make(map[string]string, 256)
		}
		t.m[s] = s
	}
	return s
}

func (s *fastScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// next skips white space and returns the next byte (0 at the end).
func (s *fastScanner) next() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *fastScanner) eat(c byte) bool {
	if s.next() == c {
		s.i++
		return true
	}
	return false
}

// text reads a string value: it returns the inside of the token when the
// string has no escapes (esc false), or the unescaped text, just past the
// used part of the arena (esc true; valid until the arena is next used).
func (s *fastScanner) text() (raw []byte, esc bool, ok bool) {
	if s.next() != '"' {
		return nil, false, false
	}
	b := s.b
	j := s.i + 1
	seg := j
	for {
		for j+8 <= len(b) {
			if m := jsonscan.Special(binary.LittleEndian.Uint64(b[j:])); m != 0 {
				j += bits.TrailingZeros64(m) >> 3
				break
			}
			j += 8
		}
		if j >= len(b) {
			return nil, false, false
		}
		switch c := b[j]; {
		case c == '"':
			s.i = j + 1
			return b[seg:j], false, true
		case c == '\\':
			return s.unescape(seg, j)
		case c < 0x20:
			return nil, false, false
		default:
			j++
		}
	}
}

// unescape finishes reading a string value whose inside starts at b[seg]
// and whose first escape is at b[j], unescaping it into the free room of
// the arena (where keep finds it). JSON
// carried in JSON has an escape every few bytes, so instead of copying
// segment by segment it moves eight bytes at a time into a buffer with
// room for the whole rest of the line (unescaping only shrinks text).
func (s *fastScanner) unescape(seg, j int) ([]byte, bool, bool) {
	b := s.b
	if need := len(b) - seg + 8; cap(s.arena)-len(s.arena) < need {
		s.arena = make([]byte, 0, need)
	}
	dst := s.arena[len(s.arena):cap(s.arena)]
	k := copy(dst, b[seg:j])
	for {
		// b[j] is a byte that ends a run: a quote, a backslash or a control.
		switch c := b[j]; {
		case c == '"':
			s.i = j + 1
			return dst[:k], true, true
		case c == '\\':
			if j+1 < len(b) && (b[j+1] == '"' || b[j+1] == '\\' || b[j+1] == '/') {
				// The common escapes of JSON carried in JSON.
				dst[k] = b[j+1]
				k++
				j += 2
				break
			}
			out, n, ok := jsonscan.AppendEscape(dst[:k], b, j)
			if !ok {
				return nil, false, false
			}
			// At most four bytes for an escape of six or more: out is
			// still dst's array.
			k = len(out)
			j += n
		default:
			return nil, false, false
		}
		// Copy the run up to the next quote, backslash or control byte.
		for j+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[j:])
			binary.LittleEndian.PutUint64(dst[k:], x)
			if m := jsonscan.Special(x); m != 0 {
				t := bits.TrailingZeros64(m) >> 3
				j += t
				k += t
				goto next
			}
			j += 8
			k += 8
		}
		for j < len(b) && b[j] != '"' && b[j] != '\\' && b[j] >= 0x20 {
			dst[k] = b[j]
			k++
			j++
		}
		if j >= len(b) {
			return nil, false, false
		}
	next:
	}
}

// str reads a string value.
func (s *fastScanner) str() (string, bool) {
	t, esc, ok := s.text()
	if !ok {
		return "", false
	}
	return s.keep(t, esc), true
}

// The decoded strings of a record (URL, header values, bodies) share one
// allocation, the arena, sized for the line: decoded text is never longer
// than its JSON form, so the strings of a line fit in the line's length.
// A string is made from the arena without copying (unsafe.String), which is
// sound because the arena is append-only: bytes below len(arena) are never
// written again, and every record gets a new arena. Escaped strings are
// unescaped straight into the arena's free room, so they are copied once,
// not twice; unescaped ones are copied once, as string() would.
//
// A string kept by an analyzer keeps the whole arena (the record's decoded
// text, at most the line's length) alive, as a substring keeps its string.

// keep returns t (as returned by text) as a string in the arena.
func (s *fastScanner) keep(t []byte, esc bool) string {
	if len(t) == 0 {
		return ""
	}
	n := len(s.arena)
	switch {
	case esc:
		// text unescaped t into the arena's free room, at n.
		s.arena = s.arena[:n+len(t)]
	case cap(s.arena)-n >= len(t):
		s.arena = append(s.arena, t...)
	default:
		return string(t)
	}
	return unsafe.String(&s.arena[n], len(t))
}

// istr reads a string value that is likely to repeat, interning it.
func (s *fastScanner) istr() (string, bool) {
	t, _, ok := s.text()
	if !ok {
		return "", false
	}
	return s.intern.get(t), true
}

// key reads an object member name followed by ':'; names with escapes are
// left to the general decoder.
func (s *fastScanner) key() ([]byte, bool) {
	name, esc, ok := s.text()
	if !ok || esc || !s.eat(':') {
		return nil, false
	}
	return name, true
}

// integer reads a JSON integer without fraction or exponent (at most 18
// digits).
func (s *fastScanner) integer() (int64, bool) {
	s.ws()
	end, ok := jsonscan.Number(s.b, s.i)
	if !ok {
		return 0, false
	}
	n, ok := jsonscan.ParseInt(s.b[s.i:end])
	if ok {
		s.i = end
	}
	return n, ok
}

// number reads a JSON number.
func (s *fastScanner) number() (float64, bool) {
	s.ws()
	end, ok := jsonscan.Number(s.b, s.i)
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(s.b[s.i:end]), 64)
	if err != nil {
		return 0, false
	}
	s.i = end
	return f, true
}

func (s *fastScanner) boolean() (bool, bool) {
	s.ws()
	rest := s.b[s.i:]
	switch {
	case bytes.HasPrefix(rest, []byte("true")):
		s.i += 4
		return true, true
	case bytes.HasPrefix(rest, []byte("false")):
		s.i += 5
		return false, true
	}
	return false, false
}

// object calls member for each name of an object at the cursor; member
// returns false to give up. A repeated name gives up too (seen holds one
// bit per known member, set by member through the returned index).
func (s *fastScanner) object(member func(name []byte) (bit uint, ok bool)) bool {
	if !s.eat('{') {
		return false
	}
	if s.eat('}') {
		return true
	}
	var seen uint64
	for {
		name, ok := s.key()
		if !ok {
			return false
		}
		bit, ok := member(name)
		if !ok {
			return false
		}
		if seen&(1<<bit) != 0 {
			return false
		}
		seen |= 1 << bit
		switch s.next() {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

// names reads an array of (interned) strings; [] gives an empty, non-nil
// slice, as the general decoder does. Anything else gives up.
func (s *fastScanner) names() ([]string, bool) {
	if !s.eat('[') {
		return nil, false
	}
	out := []string{}
	if s.eat(']') {
		return out, true
	}
	for {
		v, ok := s.istr()
		if !ok {
			return nil, false
		}
		out = append(out, v)
		switch s.next() {
		case ',':
			s.i++
		case ']':
			s.i++
			return out, true
		default:
			return nil, false
		}
	}
}

// headers reads a header object into a map. Repeated names give up.
func (s *fastScanner) headers() (map[string]string, bool) {
	if !s.eat('{') {
		return nil, false
	}
	pairs := s.pairs[:0]
	if !s.eat('}') {
		for {
			raw, ok := s.key()
			if !ok {
				return nil, false
			}
			for _, c := range raw {
				if c >= 'A' && c <= 'Z' {
					// Validate lower-cases names and joins the values of
					// names that then collide: leave that to it.
					s.upper = true
					break
				}
			}
			name := s.intern.get(raw)
			var v string
			if repeatedValue(name) {
				v, ok = s.istr()
			} else {
				v, ok = s.str()
			}
			if !ok {
				return nil, false
			}
			pairs = append(pairs, name, v)
			c := s.next()
			s.i++
			if c == '}' {
				break
			}
			if c != ',' {
				return nil, false
			}
		}
	}
	s.pairs = pairs
	h := s.pool.headerMap(len(pairs) / 2)
	for i := 0; i < len(pairs); i += 2 {
		h[pairs[i]] = pairs[i+1]
	}
	if len(h) != len(pairs)/2 {
		return nil, false // a repeated name
	}
	return h, true
}

// repeatedValue names headers whose values repeat across requests, worth
// interning (unlike request ids, tokens or dates).
func repeatedValue(name string) bool {
	switch name {
	case "content-type", "accept", "accept-encoding", "accept-language", "user-agent",
		"server", "cache-control", "connection", "content-encoding", "origin", "host",
		"vary", "pragma", "x-content-type-options", "x-frame-options",
		"strict-transport-security", "content-security-policy", "access-control-allow-origin",
		"access-control-allow-methods", "access-control-allow-headers", "access-control-allow-credentials",
		"referrer-policy", "x-powered-by", "transfer-encoding", "sec-fetch-mode", "sec-fetch-site",
		"sec-fetch-dest", "sec-ch-ua", "sec-ch-ua-mobile", "sec-ch-ua-platform", "upgrade-insecure-requests", "dnt":
		return true
	}
	return false
}

// fastDecode decodes line into rec (without validating it) and reports
// whether it could; on false, rec is in an unspecified state.
// s carries the buffers reused from record to record (nil: fresh ones).
func fastDecode(line []byte, rec *Record, s *fastScanner) bool {
	if !utf8.Valid(line) {
		return false
	}
	if s == nil {
		s = &fastScanner{}
	}
	s.b, s.i, s.upper = line, 0, false
	s.arena = make([]byte, 0, len(line)+8)
	defer func() { s.b, s.arena = nil, nil }()
	var haveTime, haveClient, haveIP, haveReq, haveResp, haveStatus bool
	ok := s.object(func(name []byte) (uint, bool) {
		switch string(name) {
		case "time":
			tok, _, ok := s.text()
			if !ok {
				return 0, false
			}
			t, err := time.Parse(time.RFC3339Nano, string(tok))
			if err != nil {
				return 0, false
			}
			rec.Time, haveTime = t, true
			return 0, true
		case "duration_ms":
			f, ok := s.number()
			rec.DurationMs = f
			return 1, ok
		case "client":
			haveClient = true
			return 2, s.object(func(name []byte) (uint, bool) {
				switch string(name) {
				case "ip":
					v, ok := s.str()
					rec.Client.IP, haveIP = v, true
					return 0, ok
				case "port":
					n, ok := s.integer()
					if n != int64(int(n)) {
						return 1, false
					}
					rec.Client.Port = int(n)
					return 1, ok
				}
				return 0, false
			})
		case "direction":
			v, ok := s.istr()
			rec.Direction = v
			return 3, ok
		case "source":
			v, ok := s.istr()
			rec.Source = v
			return 4, ok
		case "request":
			haveReq = true
			q := &rec.Request
			return 5, s.object(func(name []byte) (uint, bool) {
				switch string(name) {
				case "method":
					v, ok := s.istr()
					q.Method = v
					return 0, ok
				case "url":
					v, ok := s.str()
					q.URL = v
					return 1, ok
				case "headers":
					h, ok := s.headers()
					q.Headers = h
					return 2, ok
				case "body":
					v, ok := s.str()
					q.Body = v
					return 3, ok
				case "body_encoding":
					v, ok := s.istr()
					q.BodyEncoding = v
					return 4, ok
				case "size":
					n, ok := s.integer()
					q.Size = n
					return 5, ok
				case "truncated":
					v, ok := s.boolean()
					q.Truncated = v
					return 6, ok
				case "headers_captured":
					v, ok := s.names()
					q.HeadersCaptured = v
					return 7, ok
				}
				return 0, false
			})
		case "response":
			haveResp = true
			p := &rec.Response
			return 6, s.object(func(name []byte) (uint, bool) {
				switch string(name) {
				case "status":
					n, ok := s.integer()
					if n != int64(int(n)) {
						return 0, false
					}
					p.Status, haveStatus = int(n), true
					return 0, ok
				case "headers":
					h, ok := s.headers()
					p.Headers = h
					return 1, ok
				case "body":
					v, ok := s.str()
					p.Body = v
					return 2, ok
				case "body_encoding":
					v, ok := s.istr()
					p.BodyEncoding = v
					return 3, ok
				case "size":
					n, ok := s.integer()
					p.Size = n
					return 4, ok
				case "truncated":
					v, ok := s.boolean()
					p.Truncated = v
					return 5, ok
				}
				return 0, false
			})
		}
		return 0, false
	})
	if s.ws(); !ok || s.i != len(s.b) {
		return false
	}
	rec.headersLower = !s.upper
	// Missing required members: the general decoder names them.
	return haveTime && haveClient && haveIP && haveReq && haveResp && haveStatus
}
