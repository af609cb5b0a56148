package identity

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/exchange"
)

func jwt(header, payload, sig string) string {
	e := base64.RawURLEncoding
	return e.EncodeToString([]byte(header)) + "." + e.EncodeToString([]byte(payload)) + "." + sig
}

func TestDerive(t *testing.T) {
	d := New(DefaultConfig())
	tokA := jwt(`{"alg":"RS256","typ":"JWT"}`, `{"sub":"alice","iss":"https://idp.test","exp":1900000000,"iat":1899996400,"roles":["admin"]}`, "c2ln")
	tokA2 := jwt(`{"alg":"RS256","typ":"JWT"}`, `{"sub":"alice","iss":"https://idp.test","exp":1900003600,"iat":1900000000}`, "c2lnMg")
	tokOtherIss := jwt(`{"alg":"RS256"}`, `{"sub":"alice","iss":"https://other.test"}`, "eA")
	none := jwt(`{"alg":"none"}`, `{"sub":"mallory"}`, "")
	cases := []struct {
		name    string
		headers map[string]string
		rawURL  string
		kind    string
		scheme  string
		idName  string
	}{
		{"jwt", map[string]string{"authorization": "Bearer " + tokA}, "https://a.test/x", KindJWT, "bearer-jwt", "alice"},
		{"opaque bearer", map[string]string{"authorization": "Bearer 8f14e45fceea167a5a36dedd4bea2543"}, "https://a.test/x", KindBearer, "bearer", "8f14…"},
		{"basic", map[string]string{"authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("bob:hunter2"))}, "https://a.test/x", KindBasic, "basic", "bob"},
		{"api key header", map[string]string{"x-api-key": "sk_live_0123456789abcdef"}, "https://a.test/x", KindAPIKey, "api-key:x-api-key", "sk_l…"},
		{"api key query", nil, "https://a.test/x?api_key=0123456789abcdef", KindAPIKey, "api-key-query:api_key", "0123…"},
		{"session cookie", map[string]string{"cookie": "theme=dark; sessionid=abcdef0123456789"}, "https://a.test/x", KindCookie, "cookie:sessionid", "cookie:sessionid"},
		{"mtls", map[string]string{"x-forwarded-client-cert": "Hash=abc;Subject=\"CN=billing-svc,O=corp\""}, "https://a.test/x", KindMTLS, "mtls", "billing-svc"},
		{"anonymous", map[string]string{"cookie": "theme=dark"}, "https://a.test/x", "", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u, _ := url.Parse(c.rawURL)
			a := d.Derive(&exchange.Request{Headers: c.headers}, u)
			if c.kind == "" {
				if a.Identity != nil || a.Credentials {
					t.Fatalf("want anonymous, got %+v", a)
				}
				return
			}
			if a.Identity == nil || a.Identity.Kind != c.kind || a.Identity.Name != c.idName {
				t.Fatalf("identity = %+v", a.Identity)
			}
			if len(a.Schemes) != 1 || a.Schemes[0] != c.scheme {
				t.Errorf("schemes = %v", a.Schemes)
			}
			if !strings.HasPrefix(a.Identity.ID, "id_") {
				t.Errorf("id %q", a.Identity.ID)
			}
			for _, v := range c.headers {
				if strings.Contains(a.Identity.ID, v) || (len(v) > 12 && strings.Contains(a.Identity.Name, v[6:])) {
					t.Errorf("credential leaked into identity %+v", a.Identity)
				}
			}
		})
	}
	// Same principal, different tokens → same identity, different token ids.
	u, _ := url.Parse("https://a.test/")
	a1 := d.Derive(&exchange.Request{Headers: map[string]string{"authorization": "Bearer " + tokA}}, u)
	a2 := d.Derive(&exchange.Request{Headers: map[string]string{"authorization": "Bearer " + tokA2}}, u)
	a3 := d.Derive(&exchange.Request{Headers: map[string]string{"authorization": "Bearer " + tokOtherIss}}, u)
	if a1.Identity.ID != a2.Identity.ID || a1.Identity.TokenID == a2.Identity.TokenID {
		t.Errorf("same sub+iss must share identity, not token id")
	}
	if a1.Identity.ID == a3.Identity.ID {
		t.Errorf("different issuer must give a different identity")
	}
	// Keyed: another key gives other pseudonyms.
	other := New(Config{Key: []byte("another")})
	if other.Hash(KindJWT, "x") == d.Hash(KindJWT, "x") {
		t.Errorf("hash not keyed")
	}
	an := d.Derive(&exchange.Request{Headers: map[string]string{"authorization": "Bearer " + none}}, u)
	if an.Identity.Token == nil || !an.Identity.Token.Unsigned {
		t.Errorf("alg none not flagged: %+v", an.Identity.Token)
	}
}

func TestParseJWT(t *testing.T) {
	tok := jwt(`{"alg":"HS256","kid":"k1"}`, `{"sub":12340,"iss":"x","exp":1700000000,"iat":1690000000,"scope":"read write","realm_access":{"roles":["ops"]}}`, "c2ln")
	j, ok := ParseJWT(tok)
	if !ok || j.Sub != "12340" || j.Alg != "HS256" || j.Kid != "k1" || len(j.Scopes) != 2 || len(j.Roles) != 1 || j.Roles[0] != "ops" {
		t.Fatalf("%+v", j)
	}
	if !j.Expired(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) || j.Lifetime() != 10000000*time.Second {
		t.Errorf("exp/lifetime wrong: %v %v", j.Exp, j.Lifetime())
	}
	for _, s := range []string{"", "abc", "eyJ.notbase64!.x", "a.b.c", "eyJhbGciOiJub25lIn0"} {
		if _, ok := ParseJWT(s); ok {
			t.Errorf("ParseJWT(%q) accepted", s)
		}
	}
	if j, ok := ParseJWT(jwt(`{"alg":"RS256"}`, `not json`, "x")); !ok || j.Malformed == "" {
		t.Errorf("malformed payload not reported: %+v", j)
	}
}

func FuzzParseJWT(f *testing.F) {
	f.Add(jwt(`{"alg":"none"}`, `{"sub":"a","exp":1e10}`, ""))
	f.Add("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.x")
	f.Fuzz(func(t *testing.T, s string) {
		ParseJWT(s)
	})
}

func TestDeriveCache(t *testing.T) {
	d := New(DefaultConfig())
	u, _ := url.Parse("https://a.test/x?page=2")
	uq, _ := url.Parse("https://a.test/x?page=2&api_key=0123456789abcdef")
	for i := 0; i < 2*cacheSize+10; i++ {
		tok := jwt(`{"alg":"RS256"}`, `{"sub":"u`+strings.Repeat("x", i%7)+`","iss":"i"}`, "c2ln"+string(rune('a'+i%26)))
		a := d.Derive(&exchange.Request{Headers: map[string]string{"authorization": "Bearer " + tok}}, u)
		b := d.Derive(&exchange.Request{Headers: map[string]string{"authorization": "Bearer " + tok}}, u)
		if a.Identity != b.Identity || a.Identity.Name != "u"+strings.Repeat("x", i%7) {
			t.Fatalf("cached derivation differs: %+v %+v", a.Identity, b.Identity)
		}
	}
	for _, c := range []*genCache{d.authzCache, d.keyCache} {
		if len(c.cur) > cacheSize || len(c.prev) > cacheSize {
			t.Errorf("cache grew to %d+%d entries, budget %d per generation", len(c.cur), len(c.prev), cacheSize)
		}
	}
	// The query key is part of the cache key: same headers, other query.
	h := map[string]string{"user-agent": "x"}
	if a := d.Derive(&exchange.Request{Headers: h}, u); a.Credentials {
		t.Errorf("no credentials expected: %+v", a)
	}
	if a := d.Derive(&exchange.Request{Headers: h}, uq); a.Identity == nil || a.Identity.Kind != KindAPIKey {
		t.Errorf("query API key missed after a cached anonymous request: %+v", a)
	}
}

// parseJWTMap is the generic-map claim decoding ParseJWT used before it
// decoded into a struct; FuzzParseJWTAgrees checks the two agree.
func parseJWTMap(s string) (*JWT, bool) {
	s = strings.TrimSpace(s)
	if len(s) < 10 || !strings.HasPrefix(s, "eyJ") {
		return nil, false
	}
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return nil, false
	}
	hb, err := b64.DecodeString(strings.TrimRight(parts[0], "="))
	if err != nil {
		return nil, false
	}
	var hdr map[string]any
	if json.Unmarshal(hb, &hdr) != nil {
		return nil, false
	}
	t := &JWT{}
	t.Alg, _ = hdr["alg"].(string)
	t.Typ, _ = hdr["typ"].(string)
	t.Kid, _ = hdr["kid"].(string)
	if _, ok := hdr["alg"]; !ok {
		t.Malformed = "header has no alg"
	}
	pb, err := b64.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		t.Malformed = "payload is not base64url"
		return t, true
	}
	var claims map[string]any
	if err := json.Unmarshal(pb, &claims); err != nil {
		t.Malformed = "payload is not JSON"
		return t, true
	}
	t.Sub = claimString(claims["sub"])
	t.Iss = claimString(claims["iss"])
	t.Aud = claimString(claims["aud"])
	t.Exp = claimTime(claims["exp"])
	t.Iat = claimTime(claims["iat"])
	t.Nbf = claimTime(claims["nbf"])
	for _, k := range []string{"scope", "scp"} {
		switch v := claims[k].(type) {
		case string:
			t.Scopes = append(t.Scopes, strings.Fields(v)...)
		case []any:
			for _, x := range v {
				if s, ok := x.(string); ok {
					t.Scopes = append(t.Scopes, s)
				}
			}
		}
	}
	for _, k := range []string{"role", "roles", "groups", "realm_access"} {
		switch v := claims[k].(type) {
		case string:
			t.Roles = append(t.Roles, v)
		case []any:
			for _, x := range v {
				if s, ok := x.(string); ok {
					t.Roles = append(t.Roles, s)
				}
			}
		case map[string]any:
			if rs, ok := v["roles"].([]any); ok {
				for _, x := range rs {
					if s, ok := x.(string); ok {
						t.Roles = append(t.Roles, s)
					}
				}
			}
		}
	}
	t.Unsigned = strings.EqualFold(t.Alg, "none") || parts[2] == ""
	return t, true
}

func jwtAgree(t *testing.T, s string) {
	got, ok := ParseJWT(s)
	want, wok := parseJWTMap(s)
	if ok != wok || !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseJWT(%q) = %+v, %v; generic decoding gives %+v, %v", s, got, ok, want, wok)
	}
}

func TestParseJWTAgrees(t *testing.T) {
	for _, c := range [][2]string{
		{`{"alg":"RS256","typ":"JWT","kid":"k1"}`, `{"sub":"u1","iss":"https://i","aud":["a","b"],"exp":1794790800,"iat":1794787200.5,"scope":"a b","roles":["r"],"realm_access":{"roles":["x","y"]}}`},
		{`{"alg":null}`, `{"sub":7,"scp":["s1",2],"role":"admin","groups":"g"}`},
		{`{"typ":"JWT"}`, `null`},
		{`null`, `{}`},
		{`{"alg":"none","alg":"HS256"}`, `{"sub":"a","sub":"b","exp":"soon"}`},
		{`{"alg":"none"}`, `[1,2]`},
		{`"x"`, `{}`},
		{`{"alg":"RS256"}`, "{\"sub\":\"\xff\xfe\"}"},
		{`{"\u0061lg":"RS256"}`, `{"\u0073ub":"u1","\u0065xp":1794790800,"s\u00fcb":"x","\ud800":1}`},
	} {
		jwtAgree(t, jwt(c[0], c[1], "c2ln"))
		jwtAgree(t, jwt(c[0], c[1], ""))
	}
}

func FuzzParseJWTAgrees(f *testing.F) {
	f.Add(`{"alg":"RS256"}`, `{"sub":"u1","exp":1794790800,"roles":["r"]}`)
	f.Add(`{"alg":"none","alg":1}`, `{"realm_access":{"roles":["a"]},"realm_access":{"x":1}}`)
	f.Fuzz(func(t *testing.T, hdr, claims string) {
		jwtAgree(t, jwt(hdr, claims, "c2ln"))
	})
}

// BenchmarkParseJWT compares ParseJWT with the generic-map decoding it
// replaced, on a typical access token.
func BenchmarkParseJWT(b *testing.B) {
	tok := jwt(`{"alg":"RS256","typ":"JWT","kid":"shop-2026-10"}`,
		`{"iss":"https://auth.shop.example.test","sub":"user-106159","aud":"shop-api","iat":1794787200,"exp":1794790800,"roles":["customer"],"scope":"catalog:read orders:read orders:write profile","jti":"698c4268dfc48c6c"}`,
		"jD8aeP7xv1URVMfpj7KtVJqefsor13823v56vI0R-8oJeWKUraoh5iUZY8QQl7YCbILR8FeRDIT45_fWCAvBHg")
	b.Run("members", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			ParseJWT(tok)
		}
	})
	b.Run("generic-map", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			parseJWTMap(tok)
		}
	})
}

// TestHashIsKeyedHMAC pins the pseudonym to HMAC-SHA256(key, kind 0x00
// principal), also when pooled MAC states are reused concurrently.
func TestHashIsKeyedHMAC(t *testing.T) {
	d := New(Config{Key: []byte("k")})
	want := func(kind, p string) string {
		m := hmac.New(sha256.New, []byte("k"))
		m.Write([]byte(kind + "\x00" + p))
		return "id_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(m.Sum(nil)[:10]))
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				p := strings.Repeat("x", i)
				if got := d.Hash(KindJWT, p); got != want(KindJWT, p) {
					t.Errorf("Hash(%d) = %s, want %s", i, got, want(KindJWT, p))
					return
				}
			}
		}()
	}
	wg.Wait()
}
