package detect

import (
	"slices"
	"strings"

	"github.com/palisade-sec/palisade/internal/event"
)

// Per-event lists several families walk: the request headers and the
// query parameters, taken out of their maps once per event and sorted by
// name (map iteration is slow and its order random, so each family used to
// iterate and sort on its own). In an engine they are built at most once
// per event (evKeys); their backing arrays are reused from event to event.

// reqHeader is a request header: its name as in the record's map, the
// name lower-cased (strings.ToLower) and the value.
type reqHeader struct {
	name, lower, value string
	pfx                uint64 // namePrefix(name), for sorting
}

// namePrefix is the first eight bytes of s, big-endian, zero-padded: when
// the prefixes of two strings differ they order the strings as the
// strings do (a string ending inside the prefix is padded with zeros,
// lower than any byte but NUL; equal prefixes decide nothing).
func namePrefix(s string) uint64 {
	if len(s) >= 8 {
		return uint64(s[0])<<56 | uint64(s[1])<<48 | uint64(s[2])<<40 | uint64(s[3])<<32 |
			uint64(s[4])<<24 | uint64(s[5])<<16 | uint64(s[6])<<8 | uint64(s[7])
	}
	var p uint64
	for i := 0; i < len(s); i++ {
		p |= uint64(s[i]) << (56 - 8*i)
	}
	return p
}

// headerLess orders headers by name.
func headerLess(a, b *reqHeader) bool {
	if a.pfx != b.pfx {
		return a.pfx < b.pfx
	}
	return a.name < b.name
}

// queryParam is a query parameter and its values (ev.Query).
type queryParam struct {
	name string
	vals []string
}

// evBufs holds the per-event lists; it survives the reset of evKeys from
// event to event, so its arrays are reused.
type evBufs struct {
	hdrs  []reqHeader
	query []queryParam
}

const (
	haveHeaders = 1 << (iota + 4)
	haveQuery
	haveRole
)

// roleGroup is roleGroup(ev), computed once per event in an engine.
func (k *evKeys) roleGroup(ev *event.Event) uint64 {
	if !k.valid(ev) {
		return roleGroup(ev)
	}
	if k.have&haveRole == 0 {
		k.role, k.have = roleGroup(ev), k.have|haveRole
	}
	return k.role
}

// headers returns the request headers of ev sorted by name (nil without a
// record), built once per event when k belongs to an engine, else into
// *own (whose array is reused).
func (k *evKeys) headers(ev *event.Event, own *[]reqHeader) []reqHeader {
	if ev.Rec == nil {
		return nil
	}
	if !k.valid(ev) {
		*own = appendHeaders((*own)[:0], ev.Rec.Request.Headers)
		return *own
	}
	if k.bufs == nil {
		k.bufs = new(evBufs)
	}
	if k.have&haveHeaders == 0 {
		k.bufs.hdrs = appendHeaders(k.bufs.hdrs[:0], ev.Rec.Request.Headers)
		k.have |= haveHeaders
	}
	return k.bufs.hdrs
}

// query returns the query parameters of ev sorted by name, like headers.
func (k *evKeys) query(ev *event.Event, own *[]queryParam) []queryParam {
	if !k.valid(ev) {
		*own = appendQuery((*own)[:0], ev.Query)
		return *own
	}
	if k.bufs == nil {
		k.bufs = new(evBufs)
	}
	if k.have&haveQuery == 0 {
		k.bufs.query = appendQuery(k.bufs.query[:0], ev.Query)
		k.have |= haveQuery
	}
	return k.bufs.query
}

func appendHeaders(dst []reqHeader, h map[string]string) []reqHeader {
	if len(h) == 0 {
		return dst
	}
	start := len(dst)
	for k, v := range h {
		dst = append(dst, reqHeader{name: k, lower: lowerASCII(k), value: v, pfx: namePrefix(k)})
	}
	sortHeaders(dst[start:])
	return dst
}

func appendQuery(dst []queryParam, q map[string][]string) []queryParam {
	if len(q) == 0 {
		return dst
	}
	start := len(dst)
	for k, vs := range q {
		dst = append(dst, queryParam{k, vs})
	}
	sortQuery(dst[start:])
	return dst
}

// sortHeaders and sortQuery sort by name, which is distinct per element
// (map keys), so the order is total and any sort gives the same result:
// insertion sort for the usual handful.
func sortHeaders(s []reqHeader) {
	if len(s) > 16 {
		slices.SortFunc(s, func(a, b reqHeader) int { return strings.Compare(a.name, b.name) })
		return
	}
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && headerLess(&s[j], &s[j-1]); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func sortQuery(s []queryParam) {
	if len(s) > 16 {
		slices.SortFunc(s, func(a, b queryParam) int { return strings.Compare(a.name, b.name) })
		return
	}
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].name < s[j-1].name; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// lowerASCII is strings.ToLower(s): s itself when it is ASCII without
// upper-case letters (header names almost always are; checked eight bytes
// at a time), else strings.ToLower.
func lowerASCII(s string) string {
	if len(s) < 8 {
		for i := 0; i < len(s); i++ {
			if c := s[i]; c >= 0x80 || c-'A' < 26 {
				return strings.ToLower(s)
			}
		}
		return s
	}
	// whole words, the last one overlapping the one before it
	for t := s; ; t = t[8:] {
		if len(t) < 8 {
			t = s[len(s)-8:]
		}
		v := uint64(t[0]) | uint64(t[1])<<8 | uint64(t[2])<<16 | uint64(t[3])<<24 |
			uint64(t[4])<<32 | uint64(t[5])<<40 | uint64(t[6])<<48 | uint64(t[7])<<56
		// For bytes below 0x80, b+0x3f has its top bit set iff b ≥ 'A' and
		// b+0x25 iff b > 'Z' (no carries between bytes); a byte ≥ 0x80
		// sends the string to strings.ToLower anyway.
		upper := (v + 0x3f3f3f3f3f3f3f3f) &^ (v + 0x2525252525252525)
		if (v|upper)&0x8080808080808080 != 0 {
			return strings.ToLower(s)
		}
		if len(t) <= 8 {
			return s
		}
	}
}
