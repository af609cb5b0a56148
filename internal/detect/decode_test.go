package detect

import (
	"encoding/base64"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDecodeLayers(t *testing.T) {
	tests := []struct {
		in, out, layers string
	}{
		{"plain text", "plain text", ""},
		{"%3Cscript%3E", "<script>", "url"},
		{"%253Cscript%253E", "<script>", "url,url2"},
		{"%25253Csvg%25253E", "<svg>", "url,url2,url3"},
		{"%u003cimg%u003e", "<img>", "url,%u"},
		{"%uff0e%uff0e%uff0f", "../", "url,%u"},
		{"%c0%ae%c0%ae%c0%af", "../", "url,overlong"},
		{"%e0%80%ae%e0%80%ae/", "../", "url,overlong"},
		{"%f8%80%80%80%afetc", "/etc", "url,overlong"},
		{"&lt;b onmouseover=&#x61;lert(1)&gt;", "<b onmouseover=alert(1)>", "html"},
		{"&#60;&#115;cript&#62;", "<script>", "html"},
		{`\u003cscript\u003e`, "<script>", "js"},
		{`\x3cimg src=x\x3e`, "<img src=x>", "js"},
		{"%26lt%3Bscript%26gt%3B", "<script>", "url,html"},
		{`%5Cu003c`, "<", "url,js"},
		{"100%", "100%", ""},
		{"%zz%4", "%zz%4", ""},
		{"a+b", "a+b", ""},
	}
	for _, tc := range tests {
		d := DecodeLayers(tc.in)
		if d.Text != tc.out || strings.Join(d.Layers, ",") != tc.layers {
			t.Errorf("DecodeLayers(%q) = %q [%s], want %q [%s]", tc.in, d.Text, strings.Join(d.Layers, ","), tc.out, tc.layers)
		}
	}
}

func TestDecodeBase64Text(t *testing.T) {
	tests := []struct {
		in, out string
		ok      bool
	}{
		{"PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", "<script>alert(1)</script>", true},
		{"PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg", "<script>alert(1)</script>", true},
		{"JyBPUiAxPTEtLQ==", "' OR 1=1--", true},
		{"JyBPUiAxPTEtLQ", "", false},                        // short and unpadded: could be any token
		{"WUMzLicjCSwqbL", "", false},                        // a password that decodes to "YC3.'#\t,*l"
		{"Jy8qKi9PUi8qKi8xPTEtLQ", "'/**/OR/**/1=1--", true}, // unpadded, 22 characters
		{"Li4vLi4vZXRjL3Bhc3N3ZA==", "../../etc/passwd", true},
		{"aGVsbG8gd29ybGQ=", "", false},                 // "hello world": no special character
		{"3q2+7wAAAAA=", "", false},                     // binary
		{"abc", "", false},                              // short
		{"550e8400e29b41d4a716446655440000", "", false}, // hex id decodes to binary
		{"not base64!", "", false},
	}
	for _, tc := range tests {
		got, ok := DecodeBase64Text(tc.in)
		if ok != tc.ok || got != tc.out {
			t.Errorf("DecodeBase64Text(%q) = %q %v, want %q %v", tc.in, got, ok, tc.out, tc.ok)
		}
	}
}

func FuzzDecodeLayers(f *testing.F) {
	for _, s := range []string{"%253C", "%u002e", "%c0%af", "&#x3c;", `\u003c`, "%%32%66", "&amp;lt;", "\xf8\x80\x80\x80\xaf", "%f8%80%80%80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := DecodeLayers(s)
		if len(d.Layers) > 8 {
			t.Fatalf("too many layers: %v", d.Layers)
		}
		if len(d.Text) > 4*len(s)+8 {
			t.Fatalf("decoding grew %d → %d bytes", len(s), len(d.Text))
		}
		if len(d.Layers) == 0 && d.Text != s {
			t.Fatalf("text changed without a layer: %q → %q", s, d.Text)
		}
		if b, ok := DecodeBase64Text(s); ok && !utf8.ValidString(b) {
			t.Fatalf("base64 text not UTF-8: %q", b)
		}
	})
}

// TestDecodeBase64RawMatchesStdlib: the allocation-free decoder agrees with
// encoding/base64 on every length and alphabet, valid or not.
func TestDecodeBase64RawMatchesStdlib(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 9))
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_=."
	for i := 0; i < 20000; i++ {
		n := r.IntN(40)
		b := make([]byte, n)
		for j := range b {
			b[j] = alpha[r.IntN(len(alpha))]
		}
		s := string(b)
		if i%3 == 0 { // valid encodings of random bytes
			raw := make([]byte, r.IntN(30))
			for j := range raw {
				raw[j] = byte(r.IntN(256))
			}
			s = base64.RawURLEncoding.EncodeToString(raw)
			if i%2 == 0 {
				s = base64.RawStdEncoding.EncodeToString(raw)
			}
		}
		for _, urlSafe := range []bool{false, true} {
			enc := base64.RawStdEncoding
			if urlSafe {
				enc = base64.RawURLEncoding
			}
			want, err := enc.DecodeString(s)
			var buf [64]byte
			n, ok := decodeBase64Raw(buf[:], s, urlSafe)
			if ok != (err == nil) || ok && string(buf[:n]) != string(want) {
				t.Fatalf("%q urlSafe=%v: got %q %v, want %q %v", s, urlSafe, buf[:n], ok, want, err)
			}
		}
	}
}

// TestValueClassesShortcuts: the decisions scanRequest takes from one pass
// over a value (skip decoding, skip base64, skip SSRF) are exactly those the
// full functions would reach.
func TestValueClassesShortcuts(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 11))
	const alpha = "aZ09+/-_=%&;\\ \t\n:.#<>'\"()é\u00a0\x85\xff@$|`{}[]*!"
	for i := 0; i < 100000; i++ {
		var b strings.Builder
		for n := r.IntN(24); n > 0; n-- {
			if r.IntN(3) == 0 {
				b.WriteByte(alpha[r.IntN(len(alpha))])
			} else {
				b.WriteByte("abcXYZ0123456789"[r.IntN(16)])
			}
		}
		v := b.String()
		f, x := valueClasses(v)
		if f != scanBytes(v) {
			t.Fatalf("%q: byte set differs", v)
		}
		if x&vcDecode == 0 {
			for rounds := 0; rounds < 2; rounds++ {
				d := decodeLayers(v, rounds)
				if d.Text != v || len(d.Layers) != rounds {
					t.Fatalf("%q: decodeLayers changed a value classified as plain: %q %v", v, d.Text, d.Layers)
				}
			}
		}
		if !(x&vcSpace != 0 || x&vcNotB64 == 0 && len(v) >= 8) {
			if _, ok := DecodeBase64Text(strings.TrimSpace(v)); ok {
				t.Fatalf("%q: base64 text skipped", v)
			}
		}
		if (x&vcSSRF != 0) != strings.ContainsAny(v, ":/.%\\&0123456789") {
			t.Fatalf("%q: SSRF characters misclassified", v)
		}
		if (x&vcURL != 0) != strings.ContainsAny(v, ":/\\") {
			t.Fatalf("%q: URL characters misclassified", v)
		}
		if x&(vcURL|vcDecode) == 0 {
			if m, ok := judgeURLValue(v, false, "", "api.example.test"); ok {
				t.Fatalf("%q: judged a URL value without URL characters: %+v", v, m)
			}
		}
	}
}

// TestDecodeBase64TextMatchesReference: the one-pass DecodeBase64Text
// gives the answers of the two-pass version it replaced
// (decodeBase64TextRef), on random values and on base64 of random text
// and bytes, short and long.
func TestDecodeBase64TextMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 34))
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_= ."
	const text = "abcXYZ 012 <>'\";()=\n\t-é€"
	var in []string
	for i := 0; i < 60000; i++ {
		n := r.IntN(48)
		if i%100 == 0 {
			n = 1000 + r.IntN(100) // around the one-pass limit
		}
		b := make([]byte, n)
		switch i % 4 {
		case 0: // random characters
			for j := range b {
				b[j] = alpha[r.IntN(len(alpha))]
			}
			in = append(in, string(b))
		case 1, 2: // base64 of text
			for j := range b {
				b[j] = text[r.IntN(len(text))]
			}
			enc := base64.StdEncoding
			if i%3 == 0 {
				enc = base64.RawURLEncoding
			}
			in = append(in, enc.EncodeToString(b))
		case 3: // base64 of bytes
			for j := range b {
				b[j] = byte(r.IntN(256))
			}
			in = append(in, base64.RawStdEncoding.EncodeToString(b))
		}
	}
	for _, s := range in {
		got, ok := DecodeBase64Text(s)
		want, wok := decodeBase64TextRef(s)
		if got != want || ok != wok {
			t.Fatalf("%q: got %q %v, want %q %v", s, got, ok, want, wok)
		}
	}
}

func decodeBase64TextRef(s string) (string, bool) {
	if len(s) < 8 || len(s) < b64MinUnpadded && !strings.HasSuffix(s, "=") {
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
