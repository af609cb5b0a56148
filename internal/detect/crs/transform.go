package crs

import (
	"encoding/base64"
	"strings"

	"github.com/palisade-sec/palisade/internal/jsonscan"
)

// Transformations. The values Palisade gives the matcher are already
// decoded to a fixed point by the injection family's layers (percent and
// double percent encoding, %u, overlong UTF-8, HTML character references,
// JavaScript/JSON escapes), so the CRS decoding transformations that
// repeat those layers (urlDecode, urlDecodeUni, htmlEntityDecode, jsDecode,
// utf8toUnicode, none) are identities here; the others change the text the
// way ModSecurity documents them.
type transform uint8

const (
	tLowercase transform = iota + 1
	tRemoveNulls
	tCmdLine
	tCompressWhitespace
	tRemoveWhitespace
	tNormalizePath
	tNormalizePathWin
	tReplaceComments
	tRemoveCommentsChar
	tCSSDecode
	tEscapeSeqDecode
	tBase64Decode
	tTrim
)

var transformNames = map[string]transform{
	"lowercase": tLowercase, "removeNulls": tRemoveNulls, "cmdLine": tCmdLine,
	"compressWhitespace": tCompressWhitespace, "removeWhitespace": tRemoveWhitespace,
	"normalizePath": tNormalizePath, "normalisePath": tNormalizePath, "normalizePathWin": tNormalizePathWin, "normalisePathWin": tNormalizePathWin,
	"replaceComments": tReplaceComments, "removeCommentsChar": tRemoveCommentsChar, "cssDecode": tCSSDecode,
	"escapeSeqDecode": tEscapeSeqDecode, "base64Decode": tBase64Decode, "trim": tTrim,
}

// identities: the decoding transformations the caller's layers already applied.
var identityTransforms = map[string]bool{
	"none": true, "urlDecode": true, "urlDecodeUni": true, "htmlEntityDecode": true, "jsDecode": true, "utf8toUnicode": true,
}

func (t transform) apply(s string) string {
	switch t {
	case tLowercase:
		return strings.ToLower(s)
	case tRemoveNulls:
		if strings.IndexByte(s, 0) < 0 {
			return s
		}
		return strings.ReplaceAll(s, "\x00", "")
	case tCmdLine:
		return cmdLine(s)
	case tCompressWhitespace:
		return compressWhitespace(s)
	case tRemoveWhitespace:
		if !hasSpace(s) {
			return s
		}
		return strings.Map(func(r rune) rune {
			if isSpace(r) {
				return -1
			}
			return r
		}, s)
	case tNormalizePath:
		return normalizePath(s)
	case tNormalizePathWin:
		return normalizePath(strings.ReplaceAll(s, "\\", "/"))
	case tReplaceComments:
		return replaceComments(s)
	case tRemoveCommentsChar:
		if !strings.ContainsAny(s, "*-#") {
			return s
		}
		return commentChars.Replace(s)
	case tCSSDecode:
		return cssDecode(s)
	case tEscapeSeqDecode:
		return escapeSeqDecode(s)
	case tBase64Decode:
		if b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s)); err == nil {
			return string(b)
		}
		if b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(strings.TrimSpace(s), "=")); err == nil {
			return string(b)
		}
		return s
	case tTrim:
		return strings.TrimSpace(s)
	}
	return s
}

var commentChars = strings.NewReplacer("/*", "", "*/", "", "--", "", "#", "")

// hasSpace: s has a white-space byte (or a non-ASCII one, which may be U+00A0).
func hasSpace(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == ' ' || c >= '\t' && c <= '\r' || c >= 0x80:
			return true
		}
	}
	return false
}

func isSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f' || r == 0xa0
}

// cmdLine: delete \ " ' ^; delete spaces before / and (; replace , and ;
// with a space; collapse white space to one space; lower-case.
func cmdLine(s string) string {
	// unchanged when there is nothing to delete, fold or collapse
	plain := true
	for i := 0; i < len(s) && plain; i++ {
		switch c := s[i]; {
		case c == '\\' || c == '"' || c == '\'' || c == '^' || c == ',' || c == ';' || c >= 'A' && c <= 'Z' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f':
			plain = false
		case c == ' ':
			if i+1 < len(s) && (s[i+1] == ' ' || s[i+1] == '/' || s[i+1] == '(') {
				plain = false
			}
		}
	}
	if plain {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\', '"', '\'', '^':
			continue
		case ' ', '\t', '\n', '\r', '\v', '\f', ',', ';':
			space = true
			continue
		case '/', '(':
			space = false
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		if c >= 'A' && c <= 'Z' {
			c += 32
		}
		b.WriteByte(c)
	}
	if space {
		b.WriteByte(' ')
	}
	return b.String()
}

func compressWhitespace(s string) string {
	simple := true
	for i := 0; i < len(s) && simple; i++ {
		c := s[i]
		if c >= '\t' && c <= '\r' || c >= 0x80 || c == ' ' && i+1 < len(s) && s[i+1] == ' ' {
			simple = false
		}
	}
	if simple {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	sp := false
	for _, r := range s {
		if isSpace(r) {
			sp = true
			continue
		}
		if sp {
			b.WriteByte(' ')
			sp = false
		}
		b.WriteRune(r)
	}
	if sp {
		b.WriteByte(' ')
	}
	return b.String()
}

// normalizePath removes "./" segments, resolves "../" against the
// preceding segment and collapses repeated slashes (ModSecurity keeps
// leading "../" that cannot be resolved).
func normalizePath(s string) string {
	if !strings.Contains(s, "//") && !strings.Contains(s, "/.") && !strings.HasPrefix(s, "./") && !strings.HasPrefix(s, "../") && s != "." && s != ".." {
		return s
	}
	abs := strings.HasPrefix(s, "/")
	trail := strings.HasSuffix(s, "/")
	var out []string
	for _, seg := range strings.Split(s, "/") {
		switch seg {
		case "", ".":
			continue
		case "..":
			if len(out) > 0 && out[len(out)-1] != ".." {
				out = out[:len(out)-1]
				continue
			}
			if abs {
				continue
			}
		}
		out = append(out, seg)
	}
	r := strings.Join(out, "/")
	if abs {
		r = "/" + r
	}
	if trail && r != "/" && r != "" {
		r += "/"
	}
	return r
}

// replaceComments replaces each C-style comment (an unterminated one runs
// to the end) with a single space.
func replaceComments(s string) string {
	if !strings.Contains(s, "/*") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "/*")
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		b.WriteByte(' ')
		j := strings.Index(s[i+2:], "*/")
		if j < 0 {
			break
		}
		s = s[i+2+j+2:]
	}
	return b.String()
}

func hexVal(c byte) (byte, bool) { return jsonscan.HexVal(c) }

// cssDecode decodes CSS 2 escapes: \ followed by 1–6 hex digits (one
// optional white space after), or by any other character (itself).
func cssDecode(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		j := i + 1
		var r rune
		n := 0
		for j < len(s) && n < 6 {
			h, ok := hexVal(s[j])
			if !ok {
				break
			}
			r = r<<4 | rune(h)
			j++
			n++
		}
		if n == 0 {
			if s[i+1] != '\n' {
				b.WriteByte(s[i+1])
			}
			i++
			continue
		}
		if j < len(s) && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n') {
			j++
		}
		if r == 0 || r > 0x10FFFF {
			r = 0xFFFD
		}
		b.WriteRune(r)
		i = j - 1
	}
	return b.String()
}

// escapeSeqDecode decodes ANSI C escapes: \a \b \f \n \r \t \v \\ \? \' \"
// \xHH and \ooo (octal).
func escapeSeqDecode(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		n := s[i+1]
		switch n {
		case 'a':
			b.WriteByte(7)
		case 'b':
			b.WriteByte(8)
		case 'f':
			b.WriteByte(12)
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte(11)
		case '\\', '?', '\'', '"':
			b.WriteByte(n)
		case 'x':
			if i+3 < len(s) {
				h1, ok1 := hexVal(s[i+2])
				h2, ok2 := hexVal(s[i+3])
				if ok1 && ok2 {
					b.WriteByte(h1<<4 | h2)
					i += 3
					continue
				}
			}
			b.WriteByte(c)
			continue
		default:
			if n >= '0' && n <= '7' {
				v, j := 0, i+1
				for j < len(s) && j < i+4 && s[j] >= '0' && s[j] <= '7' {
					v = v*8 + int(s[j]-'0')
					j++
				}
				b.WriteByte(byte(v))
				i = j - 1
				continue
			}
			b.WriteByte(c)
			continue
		}
		i++
	}
	return b.String()
}
