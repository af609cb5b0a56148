package enrich

import (
	"bytes"
	"net/http/httputil"

	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/encoding/unicode/utf32"
	"golang.org/x/text/transform"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"

	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/textkind"
)

// Content codings (RFC 9110 §8.4): a sensor that records the bytes of the
// wire — a mirror, a tap, a proxy's raw log — records a body sent with
// Content-Encoding: gzip as the compressed bytes (body_encoding base64).
// Left so, every analyzer would read noise: the inventory no schema, the
// classifier no personal data in a gzip response, and an attacker could
// hide an injection in a request body by compressing it (most frameworks
// inflate request bodies before the application sees them). The enricher
// peels the codings off, once, before any analyzer sees the record.
//
// Only a binary body is decoded: a body recorded as UTF-8 text was already
// decoded by its sensor (a browser's HAR, a gateway's log), whatever the
// header says. Every decoded body is bounded twice, as everything a client
// controls: MaxBody bytes after each layer (the analyzers read at most
// 256 KiB of a body: detect's max_body, classify's MaxBodyBytes) and at most
// MaxRatio times the encoded bytes (with a floor of ratioFloor), so a
// decompression bomb costs at most a bounded multiple of the bytes the
// attacker sent. A body cut by either bound is marked truncated, as a
// sensor marks a body it cut.

// ContentConfig configures the decoding of content codings.
type ContentConfig struct {
	// MaxBody: bytes of a body after each decoding layer (0: no decoding).
	MaxBody int
	// MaxRatio: a decoded body is cut at this many times its encoded
	// size (at least ratioFloor bytes).
	MaxRatio int
}

// DefaultContentConfig: 256 KiB, 100:1.
func DefaultContentConfig() ContentConfig { return ContentConfig{MaxBody: 256 << 10, MaxRatio: 100} }

// ratioFloor: a small body may always expand to this many bytes (a 300-byte
// gzip of a 20 KB JSON list is ordinary).
const ratioFloor = 64 << 10

// maxCodings: codings applied one after the other ("gzip, br") that are
// peeled; a longer chain is left as sent (no server stacks more).
const maxCodings = 3

// Content decoding outcomes, counted by Enricher.Dropped under these keys
// (a fixed set: the header's text never becomes a key).
const (
	DropUnsupported    = "content-encoding: a coding Palisade does not decode (compress, aes128gcm, …): body analyzed as sent"
	DropTooMany        = "content-encoding: more than 3 codings: body analyzed as sent"
	DropInvalid        = "content-encoding: body is not the stream its coding names: analyzed as sent"
	DropCorrupt        = "content-encoding: stream damaged part way (the record was not marked truncated): the part decoded before the damage is analyzed"
	DropCapped         = "body layers: decoded body cut at content_decoding.max_body (chunked framing, content coding or charset)"
	DropRatio          = "content-encoding: decoded body cut at content_decoding.max_ratio times its encoded size (decompression bomb)"
	DropCharset        = "charset: a charset Palisade cannot decode (named by neither the IANA registry nor the WHATWG labels, or without a decoder there: UTF-7, IBM500): body analyzed as sent"
	DropInvalidCharset = "charset: body does not decode from its charset: analyzed as sent"
)

// contentDecoder decodes bodies and counts what it did (not safe for
// concurrent use, like the Enricher).
type contentDecoder struct {
	cfg     ContentConfig
	dropped map[string]int64 // by Drop* reason
	decoded map[string]int64 // by the layers undone ("chunked,gzip")
	s       *contentScratch
}

// contentScratch is the decoders' reusable memory: not state (a cluster's
// checkpoints skip it, internal/cluster/state.go).
type contentScratch struct {
	gz      *gzip.Reader
	zs      *zstd.Decoder
	br      *brotli.Reader
	in, out bytes.Buffer
}

func (c *contentDecoder) countDecoded(layers string) {
	if c.decoded == nil {
		c.decoded = map[string]int64{}
	}
	c.decoded[layers]++
}

func (c *contentDecoder) count(key string) {
	if c.dropped == nil {
		c.dropped = map[string]int64{}
	}
	c.dropped[key]++
}

// codingNames splits a Content-Encoding value into its codings, lower-case,
// in the order they were applied; identity is left out. ok is false for an
// unsupported coding or too many.
func codingNames(h string) (names []string, why string) {
	for part := range strings.SplitSeq(h, ",") {
		n := strings.ToLower(strings.TrimSpace(part))
		switch n {
		case "", "identity":
			continue
		case "gzip", "x-gzip":
			n = "gzip"
		case "deflate", "br", "zstd":
		default:
			return nil, DropUnsupported
		}
		if len(names) == maxCodings {
			return nil, DropTooMany
		}
		names = append(names, n)
	}
	return names, ""
}

// decode peels the content codings off a body recorded as binary. It
// returns the decoded body and the codings peeled ("gzip", "br,gzip" in the
// order undone); ok is false when the body is to be analyzed as sent.
// truncated says whether the result holds only the first part of the body.
func (c *contentDecoder) decode(body []byte, header string, wasTruncated bool) (out []byte, peeled string, truncated, ok bool) {
	names, why := codingNames(header)
	if why != "" {
		c.count(why)
		return nil, "", false, false
	}
	if len(names) == 0 {
		return nil, "", false, false
	}
	limit := c.cfg.MaxBody
	if c.cfg.MaxRatio > 0 {
		limit = min(limit, max(ratioFloor, c.cfg.MaxRatio*len(body)))
	}
	if c.s == nil {
		c.s = new(contentScratch)
	}
	s := c.s
	cur := body
	truncated = wasTruncated
	for i := len(names) - 1; i >= 0; i-- {
		s.out.Reset()
		n, err := s.layer(names[i], cur, limit, c.cfg.MaxBody)
		switch {
		case n == 0 && err != nil && !(truncated && len(cur) > 0 && errors.Is(err, io.ErrUnexpectedEOF)):
			c.count(DropInvalid)
			return nil, "", false, false
		case err == errOverLimit:
			truncated = true
			if limit < c.cfg.MaxBody {
				c.count(DropRatio)
			} else {
				c.count(DropCapped)
			}
		case err != nil && !truncated:
			// damaged part way: keep what came before the damage
			c.count(DropCorrupt)
			truncated = true
		}
		// the next layer reads this one's output
		s.in.Reset()
		s.in.Write(s.out.Bytes())
		cur = s.in.Bytes()
		if peeled != "" {
			peeled += ","
		}
		peeled += names[i]
	}
	return cur, peeled, truncated, true
}

var errOverLimit = errors.New("over the limit")

// layer decodes one coding of src into s.out, at most limit bytes; it
// returns errOverLimit when there was more.
func (c *contentScratch) layer(name string, src []byte, limit, maxBody int) (int, error) {
	var r io.Reader
	switch name {
	case "gzip":
		if c.gz == nil {
			c.gz = new(gzip.Reader)
		}
		if err := c.gz.Reset(bytes.NewReader(src)); err != nil {
			return 0, err
		}
		r = c.gz
	case "deflate":
		// RFC 9110: the zlib format; some servers send raw deflate
		if zr, err := zlib.NewReader(bytes.NewReader(src)); err == nil {
			r = zr
		} else {
			r = flate.NewReader(bytes.NewReader(src))
		}
	case "br":
		if c.br == nil {
			c.br = brotli.NewReader(bytes.NewReader(src))
		} else if err := c.br.Reset(bytes.NewReader(src)); err != nil {
			return 0, err
		}
		r = c.br
	case "zstd":
		if c.zs == nil {
			// one goroutine, no pre-allocated history beyond the frame's
			// window, and a window of at most 8 MiB (RFC 8878 asks decoders
			// to support 8 MiB; a frame asking for more is refused)
			zs, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
				zstd.WithDecoderMaxWindow(8<<20), zstd.WithDecoderMaxMemory(uint64(max(maxBody, 1)*4)))
			if err != nil {
				return 0, err
			}
			c.zs = zs
		}
		if err := c.zs.Reset(bytes.NewReader(src)); err != nil {
			return 0, err
		}
		r = c.zs
	}
	n, err := io.Copy(&c.out, io.LimitReader(r, int64(limit)+1))
	if n > int64(limit) {
		c.out.Truncate(limit)
		return limit, errOverLimit
	}
	if err == nil && n == 0 {
		// an empty stream decodes to an empty body: valid, nothing to read
		return 0, nil
	}
	return int(n), err
}

// decodeBodies undoes, on each body of rec, the layers a sensor that
// records the wire leaves on it, outermost first (RFC 9112 §7, RFC 9110
// §8.4, §8.3.1):
//
//   - chunked framing (Transfer-Encoding: chunked) left in the body;
//   - content codings (Content-Encoding), on a binary body only (see above);
//   - a charset other than UTF-8 (the Content-Type's charset parameter, or
//     a UTF-16 or UTF-32 byte order mark), on a body that is not UTF-8
//     text: a form in EBCDIC (charset=ibm037) or a JSON body in UTF-16 is a
//     known way past a WAF, as the application server decodes it and the
//     WAF reads noise.
//
// Each layer is bounded like the codings; a body cut by a bound is marked
// truncated. It returns the layers undone on the request and the response
// body ("chunked,gzip,charset:utf-16le"; "" when none).
func (c *contentDecoder) decodeBodies(rec *exchange.Record) (req, resp string) {
	if c.cfg.MaxBody <= 0 {
		return "", ""
	}
	// Most bodies have no layer: the headers (and a request body's first
	// bytes) say so without reading the body, and a response body, kept
	// quoted until first use, is not unquoted for nothing.
	q := &rec.Request
	if q.Body != "" && announced(q.Header, q.BodyEncoding == "base64", q.Body) {
		var out string
		if out, req = c.layers(q.BodyText(), q.BodyEncoding == "base64", &q.Truncated, q.Header); req != "" {
			q.Body, q.BodyEncoding = out, ""
			c.countDecoded(req)
		}
	}
	p := &rec.Response
	if p.HasBody() && announced(p.Header, p.BodyEncoding == "base64", "") {
		body := p.BodyText() // materializes p.Body
		var out string
		if out, resp = c.layers(body, p.BodyEncoding == "base64", &p.Truncated, p.Header); resp != "" {
			p.Body, p.BodyEncoding = out, ""
			c.countDecoded(resp)
		}
	}
	return req, resp
}

// announced: a body may carry a layer — its headers name a transfer or
// content coding or a charset other than UTF-8, it was recorded as bytes,
// or its text starts with a UTF-16/32 byte order mark.
func announced(header func(string) string, recordedBinary bool, text string) bool {
	if recordedBinary || header("content-encoding") != "" || hasBOM(text) || strings.HasPrefix(text, "\x00<") || strings.HasPrefix(text, "<\x00") || strings.HasPrefix(text, "\x4c\x6f\xa7\x94") {
		return true
	}
	if te := header("transfer-encoding"); te != "" && textkind.ContainsFold(te, "chunked") {
		return true
	}
	cs := charsetParam(header("content-type"))
	return cs != "" && !utf8Charset(cs)
}

// hasBOM: s starts with a UTF-16 or UTF-32 byte order mark.
func hasBOM(s string) bool {
	return strings.HasPrefix(s, "\xff\xfe") || strings.HasPrefix(s, "\xfe\xff") || strings.HasPrefix(s, "\x00\x00\xfe\xff")
}

// charsetParam is the value of a content type's charset parameter ("" if
// none), without allocating.
func charsetParam(ct string) string {
	for i := 0; i+8 <= len(ct); i++ {
		if strings.EqualFold(ct[i:i+8], "charset=") && (i == 0 || ct[i-1] == ';' || ct[i-1] == ' ' || ct[i-1] == '\t') {
			v := ct[i+8:]
			if j := strings.IndexByte(v, ';'); j >= 0 {
				v = v[:j]
			}
			return strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	return ""
}

// utf8Charset: a charset name that means UTF-8 text (or its ASCII subset).
func utf8Charset(cs string) bool {
	for _, n := range []string{"utf-8", "utf8", "us-ascii", "ascii"} {
		if strings.EqualFold(cs, n) {
			return true
		}
	}
	return false
}

// layers undoes the layers of one body (decodeBodies); done is "" when
// nothing was undone (out is then the body as given).
func (c *contentDecoder) layers(body string, recordedBinary bool, truncated *bool, header func(string) string) (out, done string) {
	out = body
	add := func(b []byte, layer string) {
		out = string(b)
		if done != "" {
			done += ","
		}
		done += layer
	}
	if te := header("transfer-encoding"); te != "" && textkind.ContainsFold(te, "chunked") && chunkFramed(out) {
		if b, cut, ok := c.dechunk([]byte(out), *truncated); ok {
			add(b, "chunked")
			*truncated = cut
		}
	}
	if h := header("content-encoding"); h != "" && (recordedBinary || !utf8.ValidString(out)) {
		if b, peeled, cut, ok := c.decode([]byte(out), h, *truncated); ok {
			add(b, peeled)
			*truncated = cut
		}
	}
	if cs := charsetParam(header("content-type")); (hasBOM(out) || cs != "" && !utf8Charset(cs) || cs == "" && xmlSignature(out)) &&
		(recordedBinary || done != "" || !utf8.ValidString(out) || strings.IndexByte(out, 0) >= 0) {
		if b, name, cut, ok := c.transcode([]byte(out), header("content-type"), *truncated); ok {
			add(b, "charset:"+name)
			*truncated = cut
		}
	}
	return out, done
}

// chunkFramed: the body starts as chunked framing does — a chunk size in
// hexadecimal, maybe extensions (";name=value"), a line end.
func chunkFramed(b string) bool {
	i := 0
	for i < len(b) && i < 16 && isHex(b[i]) {
		i++
	}
	if i == 0 {
		return false
	}
	j := strings.IndexByte(b[i:min(len(b), i+256)], '\n')
	if j < 0 {
		return false
	}
	ext := strings.TrimRight(b[i:i+j], "\r")
	return ext == "" || ext[0] == ';' || ext[0] == ' ' || ext[0] == '\t'
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// dechunk removes chunked framing, up to max_body bytes. A body whose
// framing does not hold to its last chunk (size 0) is left as it was
// recorded (its sensor removed the framing and the text only looks like
// it), unless the record was cut.
func (c *contentDecoder) dechunk(b []byte, wasTruncated bool) (out []byte, truncated, ok bool) {
	out, cut, err := c.readCapped(httputil.NewChunkedReader(bytes.NewReader(b)))
	switch {
	case cut:
		return out, true, true
	case err == nil:
		return out, wasTruncated, true
	case wasTruncated && errors.Is(err, io.ErrUnexpectedEOF):
		return out, true, true
	}
	return nil, false, false
}

// transcode decodes a body from its charset (the content type's charset
// parameter, else a UTF-16 or UTF-32 byte order mark) to UTF-8, up to
// max_body bytes. ok is false when the body is UTF-8 already, names no
// charset, or does not decode.
func (c *contentDecoder) transcode(b []byte, ctype string, wasTruncated bool) (out []byte, name string, truncated, ok bool) {
	var enc encoding.Encoding
	switch {
	case bytes.HasPrefix(b, []byte{0xff, 0xfe, 0, 0}):
		enc, name = utf32.UTF32(utf32.LittleEndian, utf32.ExpectBOM), "utf-32le"
	case bytes.HasPrefix(b, []byte{0, 0, 0xfe, 0xff}):
		enc, name = utf32.UTF32(utf32.BigEndian, utf32.ExpectBOM), "utf-32be"
	case bytes.HasPrefix(b, []byte{0xff, 0xfe}):
		enc, name = unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM), "utf-16le"
	case bytes.HasPrefix(b, []byte{0xfe, 0xff}):
		enc, name = unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM), "utf-16be"
	default:
		cs := strings.ToLower(charsetParam(ctype))
		if cs == "" {
			// no charset: an XML document says its own (the HTTP
			// parameter wins when there is one, RFC 7303 §3.2)
			if enc, name = c.xmlEncoding(b); enc == nil {
				return nil, "", false, false
			}
			break
		}
		if utf8Charset(cs) {
			return nil, "", false, false
		}
		e := lookupCharset(cs)
		if e == nil {
			c.count(DropCharset)
			return nil, "", false, false
		}
		enc, name = e, cs // as declared (the registry's names are long: ISO_8859-1:1987)
	}
	out, cut, err := c.readCapped(transform.NewReader(bytes.NewReader(b), enc.NewDecoder()))
	if cut {
		return out, name, true, true
	}
	if err != nil && len(out) == 0 {
		c.count(DropInvalidCharset)
		return nil, "", false, false
	}
	return out, name, wasTruncated, true
}

// readCapped reads r to its end or to max_body bytes; cut says there was
// more (counted).
func (c *contentDecoder) readCapped(r io.Reader) (out []byte, cut bool, err error) {
	out, err = io.ReadAll(io.LimitReader(r, int64(c.cfg.MaxBody)+1))
	if len(out) > c.cfg.MaxBody {
		c.count(DropCapped)
		return out[:c.cfg.MaxBody], true, nil
	}
	return out, false, err
}

// lookupCharset: the decoder of a charset name — the IANA registry's, else
// the WHATWG labels browsers use (cp1252, latin1, x-sjis …); nil when
// neither has one.
func lookupCharset(name string) encoding.Encoding {
	if e, err := ianaindex.IANA.Encoding(name); err == nil && e != nil {
		return e
	}
	if e, err := htmlindex.Get(name); err == nil && e != nil {
		return e
	}
	return nil
}

// xmlSignature: s starts as an XML document does in UTF-16 without a
// byte order mark, in EBCDIC, or with an ASCII declaration (XML 1.0,
// Appendix F).
func xmlSignature(s string) bool {
	return strings.HasPrefix(s, "\x00<\x00?") || strings.HasPrefix(s, "<\x00?\x00") || strings.HasPrefix(s, "\x4c\x6f\xa7\x94") || strings.HasPrefix(s, "<?xml")
}

// xmlEncoding: the encoding an XML document's first bytes give (XML 1.0,
// Appendix F): UTF-16 without a byte order mark, EBCDIC (its declaration
// read in IBM037, as every EBCDIC code page writes "<?xml … encoding=" the
// same way), or the encoding pseudo-attribute of an ASCII declaration
// other than UTF-8. A document sent in UTF-16 or EBCDIC with no charset
// is a known way to slip an XXE past a WAF that reads bytes.
func (c *contentDecoder) xmlEncoding(b []byte) (encoding.Encoding, string) {
	switch {
	case bytes.HasPrefix(b, []byte{0, '<', 0, '?'}):
		return unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM), "utf-16be"
	case bytes.HasPrefix(b, []byte{'<', 0, '?', 0}):
		return unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM), "utf-16le"
	case bytes.HasPrefix(b, []byte{0x4c, 0x6f, 0xa7, 0x94}):
		decl, _ := charmap.CodePage037.NewDecoder().Bytes(b[:min(len(b), 256)])
		if n := xmlDeclared(decl); n != "" {
			if e := lookupCharset(n); e != nil {
				return e, n
			}
		}
		return charmap.CodePage037, "ibm037"
	case bytes.HasPrefix(b, []byte("<?xml")):
		n := xmlDeclared(b[:min(len(b), 256)])
		if n == "" || utf8Charset(n) || strings.HasPrefix(n, "utf-16") {
			return nil, "" // UTF-8, or a declaration its own bytes contradict
		}
		if e := lookupCharset(n); e != nil {
			return e, n
		}
		c.count(DropCharset)
	}
	return nil, ""
}

// xmlDeclared: the lower-cased encoding pseudo-attribute of an XML
// declaration at the start of decl ("" when none).
func xmlDeclared(decl []byte) string {
	d := string(decl)
	end := strings.Index(d, "?>")
	if !strings.HasPrefix(d, "<?xml") || end < 0 {
		return ""
	}
	d = d[:end]
	i := strings.Index(d, "encoding")
	if i < 0 {
		return ""
	}
	rest := strings.TrimLeft(d[i+len("encoding"):], " \t\r\n")
	if !strings.HasPrefix(rest, "=") {
		return ""
	}
	rest = strings.TrimLeft(rest[1:], " \t\r\n")
	if rest == "" || rest[0] != '"' && rest[0] != '\'' {
		return ""
	}
	v, _, ok := strings.Cut(rest[1:], rest[:1])
	if !ok || len(v) > 40 {
		return ""
	}
	return strings.ToLower(v)
}
