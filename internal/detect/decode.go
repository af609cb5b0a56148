package detect

import (
	"encoding/base64"
	"html"
	"strings"
	"unicode/utf8"

	"github.com/palisade-sec/palisade/internal/jsonscan"
)

// Decoding layers reported in alert evidence.
const (
	LayerURL      = "url"      // percent-decoding (one round)
	LayerURL2     = "url2"     // a second round (double encoding)
	LayerURL3     = "url3"     // a third round
	LayerUnicodeU = "%u"       // IIS-style %uXXXX escapes
	LayerOverlong = "overlong" // overlong UTF-8 sequences (%c0%ae → .)
	LayerHTML     = "html"     // HTML character references (&lt; &#60; &#x3c;)
	LayerJSEscape = "js"       // JSON/JavaScript escapes (\u003c, \x3c)
	LayerBase64   = "base64"   // the whole value was base64 of printable text
)

// layersURL is the layer list of a value only form-decoded by the
// extractor (shared, read-only: capacity 1, so appending copies).
var layersURL = []string{LayerURL}[:1:1]

// maxDecodeRounds bounds nested decoding (each round may apply every layer).
const maxDecodeRounds = 4

// Decoded is a value after layer decoding.
type Decoded struct {
	Text   string
	Layers []string // in the order applied
}

// DecodeLayers peels encodings off a value: percent-encoding (repeated, so
// double encoding is seen), %uXXXX, overlong UTF-8, HTML character
// references and JSON/JavaScript escapes, until nothing changes (at most
// maxDecodeRounds rounds). It never fails: invalid escapes stay as they are.
// '+' is not decoded here: query strings and form bodies are split with
// form decoding before values reach this function.
func DecodeLayers(s string) Decoded { return decodeLayers(s, 0) }

// decodeLayers continues after urlRounds rounds of percent-decoding already
// applied (query strings and form bodies are form-decoded by the extractor).
func decodeLayers(s string, urlRounds int) Decoded {
	d := Decoded{Text: s}
	if urlRounds > 0 {
		d.Layers = append(d.Layers, LayerURL)
	}
	for round := 0; round < maxDecodeRounds; round++ {
		changed := false
		if strings.IndexByte(d.Text, '%') >= 0 {
			t, u := percentDecode(d.Text)
			if t != d.Text {
				urlRounds++
				switch urlRounds {
				case 1:
					d.Layers = append(d.Layers, LayerURL)
				case 2:
					d.Layers = append(d.Layers, LayerURL2)
				default:
					d.Layers = appendOnce(d.Layers, LayerURL3)
				}
				if u {
					d.Layers = appendOnce(d.Layers, LayerUnicodeU)
				}
				d.Text, changed = t, true
			}
		}
		if !utf8.ValidString(d.Text) {
			if t, ok := fixOverlong(d.Text); ok {
				d.Text, changed = t, true
				d.Layers = appendOnce(d.Layers, LayerOverlong)
			}
		}
		if strings.IndexByte(d.Text, '&') >= 0 && strings.IndexByte(d.Text, ';') >= 0 || strings.Contains(d.Text, "&#") {
			if t := html.UnescapeString(d.Text); t != d.Text {
				d.Text, changed = t, true
				d.Layers = appendOnce(d.Layers, LayerHTML)
			}
		}
		if strings.IndexByte(d.Text, '\\') >= 0 {
			if t := jsUnescape(d.Text); t != d.Text {
				d.Text, changed = t, true
				d.Layers = appendOnce(d.Layers, LayerJSEscape)
			}
		}
		if !changed {
			break
		}
	}
	return d
}

func appendOnce(l []string, s string) []string {
	for _, x := range l {
		if x == s {
			return l
		}
	}
	return append(l, s)
}

func unhex(c byte) (byte, bool) { return jsonscan.HexVal(c) }

// percentDecode decodes %XX and %uXXXX escapes, leaving invalid ones as
// they are. It reports whether a %u escape was seen.
func percentDecode(s string) (string, bool) {
	var b strings.Builder
	b.Grow(len(s))
	sawU := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+5 < len(s) && (s[i+1] == 'u' || s[i+1] == 'U') {
			var r rune
			ok := true
			for j := 2; j < 6; j++ {
				h, k := unhex(s[i+j])
				if !k {
					ok = false
					break
				}
				r = r<<4 | rune(h)
			}
			if ok {
				sawU = true
				// %uFFxx full-width forms fold to ASCII (IIS best-fit mapping).
				if r >= 0xFF01 && r <= 0xFF5E {
					r = r - 0xFF01 + 0x21
				}
				b.WriteRune(r)
				i += 5
				continue
			}
		}
		if i+2 < len(s) {
			h1, ok1 := unhex(s[i+1])
			h2, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				b.WriteByte(h1<<4 | h2)
				i += 2
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String(), sawU
}

// fixOverlong replaces overlong UTF-8 encodings of ASCII characters
// (C0/C1 xx, E0 80–9F xx, F0 80–8F xx xx) with the character, the classic
// path-traversal evasion ("%c0%af" for '/').
func fixOverlong(s string) (string, bool) {
	var b strings.Builder
	found := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case (c == 0xC0 || c == 0xC1) && i+1 < len(s) && s[i+1]&0xC0 == 0x80:
			b.WriteByte((c&0x1F)<<6 | s[i+1]&0x3F)
			i++
			found = true
			continue
		case c == 0xE0 && i+2 < len(s) && s[i+1]&0xE0 == 0x80 && s[i+2]&0xC0 == 0x80:
			r := rune(c&0x0F)<<12 | rune(s[i+1]&0x3F)<<6 | rune(s[i+2]&0x3F)
			if r < 0x80 {
				b.WriteByte(byte(r))
				i += 2
				found = true
				continue
			}
		case (c == 0xF8 || c == 0xFC) && i+4 < len(s):
			// 5- and 6-byte forms (never valid UTF-8): F8 80 80 80 AF → '/'
			n := 4
			if c == 0xFC {
				n = 5
			}
			if i+n < len(s) {
				ok := true
				for k := 1; k < n; k++ {
					if s[i+k] != 0x80 {
						ok = false
					}
				}
				if last := s[i+n]; ok && last&0xC0 == 0x80 {
					b.WriteByte(last & 0x3F)
					i += n
					found = true
					continue
				}
			}
		case c == 0xF0 && i+3 < len(s) && s[i+1]&0xF0 == 0x80 && s[i+2]&0xC0 == 0x80 && s[i+3]&0xC0 == 0x80:
			r := rune(s[i+1]&0x3F)<<12 | rune(s[i+2]&0x3F)<<6 | rune(s[i+3]&0x3F)
			if r < 0x80 {
				b.WriteByte(byte(r))
				i += 3
				found = true
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String(), found
}

// jsUnescape decodes \uXXXX, \xXX and the simple JSON escapes (\n \r \t \/
// \" \\ \'), leaving anything else.
func jsUnescape(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		n := s[i+1]
		switch n {
		case 'u':
			if i+5 < len(s) {
				var r rune
				ok := true
				for j := 2; j < 6; j++ {
					h, k := unhex(s[i+j])
					if !k {
						ok = false
						break
					}
					r = r<<4 | rune(h)
				}
				if ok {
					b.WriteRune(r)
					i += 5
					continue
				}
			}
		case 'x':
			if i+3 < len(s) {
				h1, ok1 := unhex(s[i+2])
				h2, ok2 := unhex(s[i+3])
				if ok1 && ok2 {
					b.WriteByte(h1<<4 | h2)
					i += 3
					continue
				}
			}
		case 'n':
			b.WriteByte('\n')
			i++
			continue
		case 'r':
			b.WriteByte('\r')
			i++
			continue
		case 't':
			b.WriteByte('\t')
			i++
			continue
		case '/', '"', '\'':
			b.WriteByte(n)
			i++
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// DecodeBase64Text returns the text a value decodes to when the whole value
// is standard or URL-safe base64 (padding optional) of printable text that
// carries at least one non-alphanumeric character other than space. Short
// values (< 8 characters) and binary data are not text, and a value of
// fewer than b64MinUnpadded characters must end in padding: short random
// tokens and passwords are base64 by accident, and decode to printable
// bytes often enough to be read as payloads (about one 14-character
// alphanumeric token in 10,000: a password WUMzLicjCSwqbL is "YC3.'#\t,*l",
// whose '# is a SQL comment after a quote).
func DecodeBase64Text(s string) (string, bool) {
	if len(s) < 8 || len(s) < b64MinUnpadded && s[len(s)-1] != '=' {
		return "", false
	}
	if len(s) > 1024 {
		return decodeBase64TextLong(s)
	}
	// One pass: validate, decode and judge each byte as it comes, so the
	// random tokens most candidates are give up at their first control
	// byte, without a buffer on the heap.
	var buf [768]byte
	n, bitsN := 0, 0
	var acc uint32
	std, urlSafe, special := false, false, false
	pad := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		var v byte
		switch {
		case c >= 'A' && c <= 'Z':
			v = c - 'A'
		case c >= 'a' && c <= 'z':
			v = c - 'a' + 26
		case c >= '0' && c <= '9':
			v = c - '0' + 52
		case c == '+' || c == '/':
			std, v = true, 62+b2u8(c == '/')
		case c == '-' || c == '_':
			urlSafe, v = true, 62+b2u8(c == '_')
		case c == '=':
			if i < len(s)-2 {
				return "", false
			}
			pad++
			continue
		default:
			return "", false
		}
		if pad > 0 || std && urlSafe {
			return "", false // '=' inside the value, or both alphabets
		}
		acc = acc<<6 | uint32(v)
		bitsN += 6
		if bitsN >= 8 {
			bitsN -= 8
			b := byte(acc >> uint(bitsN))
			switch {
			case b == '\n' || b == '\r' || b == '\t':
				special = true
			case b < 0x20 || b == 0x7F:
				return "", false
			case b >= 0x80:
				// allow UTF-8 text, checked below
			case !(b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == ' '):
				special = true
			}
			buf[n] = b
			n++
		}
	}
	if (len(s)-pad)%4 == 1 || n < 4 || !special || !utf8.Valid(buf[:n]) {
		return "", false
	}
	return string(buf[:n]), true
}

func b2u8(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// b64MinUnpadded: an unpadded value shorter than this is not decoded (see
// DecodeBase64Text). A random alphanumeric value of 16 characters decodes
// to 12 printable bytes about once in 10^5 (each byte ≈ 0.38).
const b64MinUnpadded = 16

// decodeBase64TextLong is DecodeBase64Text for long values (decoded with
// encoding/base64).
func decodeBase64TextLong(s string) (string, bool) {
	if len(s) < 8 {
		return "", false
	}
	std, urlSafe := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
		case c == '+' || c == '/':
			std = true
		case c == '-' || c == '_':
			urlSafe = true
		case c == '=':
			if i < len(s)-2 {
				return "", false
			}
		default:
			return "", false
		}
	}
	if std && urlSafe {
		return "", false
	}
	t := strings.TrimRight(s, "=")
	// Most candidates are random tokens that decode to binary: decode into
	// a stack buffer so that rejecting them allocates nothing.
	var buf [768]byte
	var raw []byte
	if len(t) <= 1024 {
		n, ok := decodeBase64Raw(buf[:], t, urlSafe)
		if !ok {
			return "", false
		}
		raw = buf[:n]
	} else {
		enc := base64.RawStdEncoding
		if urlSafe {
			enc = base64.RawURLEncoding
		}
		r, err := enc.DecodeString(t)
		if err != nil {
			return "", false
		}
		raw = r
	}
	if len(raw) < 4 {
		return "", false
	}
	special := false
	for _, c := range raw {
		switch {
		case c == '\n' || c == '\r' || c == '\t':
			special = true
		case c < 0x20 || c == 0x7F:
			return "", false
		case c >= 0x80:
			// allow UTF-8 text, checked below
		case !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == ' '):
			special = true
		}
	}
	if !special || !utf8.Valid(raw) {
		return "", false
	}
	return string(raw), true
}

// b64Std and b64URL map base64 characters to their 6-bit values (0xFF:
// not in the alphabet).
var b64Std, b64URL = func() (a, b [256]byte) {
	for i := range a {
		a[i], b[i] = 0xFF, 0xFF
	}
	const std = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	const url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := 0; i < 64; i++ {
		a[std[i]], b[url[i]] = byte(i), byte(i)
	}
	return
}()

// decodeBase64Raw decodes unpadded base64 (standard or URL alphabet) into
// dst, exactly as base64.RawStdEncoding / RawURLEncoding.DecodeString do
// (trailing bits need not be zero; a lone final character is an error).
// dst must hold len(s)*3/4 bytes.
func decodeBase64Raw(dst []byte, s string, urlSafe bool) (int, bool) {
	tab := &b64Std
	if urlSafe {
		tab = &b64URL
	}
	if len(s)%4 == 1 {
		return 0, false
	}
	n := 0
	var acc uint32
	bitsN := 0
	for i := 0; i < len(s); i++ {
		v := tab[s[i]]
		if v == 0xFF {
			return 0, false
		}
		acc = acc<<6 | uint32(v)
		bitsN += 6
		if bitsN >= 8 {
			bitsN -= 8
			dst[n] = byte(acc >> uint(bitsN))
			n++
		}
	}
	return n, true
}
