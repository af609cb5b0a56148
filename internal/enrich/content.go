package enrich

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"

	"github.com/palisade-sec/palisade/internal/exchange"
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
	DropUnsupported = "content-encoding: a coding Palisade does not decode (compress, aes128gcm, …): body analyzed as sent"
	DropTooMany     = "content-encoding: more than 3 codings: body analyzed as sent"
	DropInvalid     = "content-encoding: body is not the stream its coding names: analyzed as sent"
	DropCorrupt     = "content-encoding: stream damaged part way (the record was not marked truncated): the part decoded before the damage is analyzed"
	DropCapped      = "content-encoding: decoded body cut at content_decoding.max_body"
	DropRatio       = "content-encoding: decoded body cut at content_decoding.max_ratio times its encoded size (decompression bomb)"
)

// contentDecoder decodes bodies and counts what it did (not safe for
// concurrent use, like the Enricher).
type contentDecoder struct {
	cfg     ContentConfig
	dropped map[string]int64 // by Drop* reason
	decoded map[string]int64 // by the codings peeled
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
	if c.decoded == nil {
		c.decoded = map[string]int64{}
	}
	c.decoded[peeled]++
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

// decodeBodies replaces the bodies of rec that were recorded with a content
// coding by their decoded form (a binary body only; see above), marking a
// body cut by a bound as truncated. It returns the codings peeled off the
// request and the response body ("" when none).
func (c *contentDecoder) decodeBodies(rec *exchange.Record) (req, resp string) {
	if c.cfg.MaxBody <= 0 {
		return "", ""
	}
	if h := rec.Request.Header("content-encoding"); h != "" && rec.Request.Body != "" {
		if binaryBody(rec.Request.Body, rec.Request.BodyEncoding) {
			if out, peeled, cut, ok := c.decode([]byte(rec.Request.BodyText()), h, rec.Request.Truncated); ok {
				rec.Request.Body, rec.Request.BodyEncoding, rec.Request.Truncated = string(out), "", cut
				req = peeled
			}
		}
	}
	if h := rec.Response.Header("content-encoding"); h != "" && rec.Response.HasBody() {
		body := rec.Response.BodyText()
		if binaryBody(rec.Response.Body, rec.Response.BodyEncoding) {
			if out, peeled, cut, ok := c.decode([]byte(body), h, rec.Response.Truncated); ok {
				rec.Response.Body, rec.Response.BodyEncoding, rec.Response.Truncated = string(out), "", cut
				resp = peeled
			}
		}
	}
	return req, resp
}

// binaryBody: the body was recorded as bytes (base64) or is not UTF-8 text
// (a lenient sensor wrote the bytes into the JSON string). A UTF-8 text body
// was decoded by its sensor.
func binaryBody(body, enc string) bool {
	return enc == "base64" || !utf8.ValidString(body)
}
