// Package identity derives a stable pseudonymous principal from the
// credentials a request carries (JWT sub+iss, API key, basic-auth user,
// session cookie, mTLS hints) without keeping any credential in the clear:
// identifiers are keyed hashes (HMAC-SHA-256) of the principal.
package identity

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"errors"
	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"hash"
	"io"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/palisade-sec/palisade/internal/exchange"
)

// Kinds of principal.
const (
	KindJWT    = "jwt"
	KindAPIKey = "api_key"
	KindBasic  = "basic"
	KindCookie = "cookie"
	KindBearer = "bearer" // opaque bearer token
	KindMTLS   = "mtls"
)

// Identity is a pseudonymous principal.
type Identity struct {
	ID     string // stable keyed hash, "id_…"
	Kind   string
	Name   string // readable non-secret name (JWT sub, basic user, key prefix)
	Issuer string // JWT iss
	Token  *JWT   // decoded token when the credential is a JWT
	// TokenID identifies the credential itself (distinct from the principal:
	// one principal may hold many tokens). Keyed hash, never the token.
	TokenID string
}

// JWT is a token decoded on its face (no signature verification: there is no key).
type JWT struct {
	Alg       string
	Typ       string
	Kid       string
	Sub       string
	Iss       string
	Aud       string
	Exp       time.Time
	Iat       time.Time
	Nbf       time.Time
	Unsigned  bool // alg none or empty signature part
	Scopes    []string
	Roles     []string
	Malformed string // non-empty when the token is not a well-formed JWT
}

// Auth describes the credentials of one request.
type Auth struct {
	Identity    *Identity
	Schemes     []string // e.g. bearer-jwt, api-key:x-api-key, basic, cookie:session, mtls
	Credentials bool     // any credential present
	// Unseen: no credential present, but the request's sensor records none
	// of the headers that carry credentials (Authorization, Cookie, the API
	// key and mTLS headers; exchange Request.HeadersCaptured), so whether
	// credentials were sent is unknown — not "none".
	Unseen bool
}

// Config tunes derivation.
type Config struct {
	Key            []byte   // HMAC key; a fixed default makes offline reports reproducible
	APIKeyHeaders  []string // lower-case header names holding API keys
	APIKeyParams   []string // query parameter names holding API keys
	SessionCookies []string // cookie names that identify a session
}

// DefaultKey is used when no key is configured (offline analysis). Serve mode
// generates a random per-installation key. Identities are pseudonyms either way;
// a private key only adds protection against dictionary attacks on the hashes.
var DefaultKey = []byte("palisade-default-identity-key-v1")

// DefaultConfig returns the built-in configuration.
func DefaultConfig() Config {
	return Config{
		Key:            DefaultKey,
		APIKeyHeaders:  []string{"x-api-key", "api-key", "apikey", "x-apikey", "x-auth-token", "x-access-token", "x-api-token", "x-key", "ocp-apim-subscription-key", "x-functions-key", "x-goog-api-key"},
		APIKeyParams:   []string{"api_key", "apikey", "api-key", "key", "access_token", "token", "auth", "subscription-key", "sig"},
		SessionCookies: []string{"session", "sessionid", "session_id", "sid", "jsessionid", "phpsessid", "connect.sid", "asp.net_sessionid", "_session", "auth", "token", "access_token"},
	}
}

// Deriver derives identities. It is safe for concurrent use.
type Deriver struct {
	cfg         Config
	mu          sync.Mutex
	authzCache  *genCache       // keyed by the Authorization header alone
	keyCache    *genCache       // keyed by all credential material
	credHeaders map[string]bool // header names other than Authorization that carry credentials
	macs        sync.Pool       // keyed HMAC-SHA256 states, reset between uses
}

// New returns a deriver.
func New(cfg Config) *Deriver {
	if len(cfg.Key) == 0 {
		cfg.Key = DefaultKey
	}
	d := &Deriver{cfg: cfg, authzCache: newGenCache(), keyCache: newGenCache(), credHeaders: map[string]bool{"cookie": true}}
	key := cfg.Key
	d.macs.New = func() any { return hmac.New(sha256.New, key) }
	for _, h := range cfg.APIKeyHeaders {
		d.credHeaders[h] = true
	}
	for _, h := range mtlsHeaders {
		d.credHeaders[h] = true
	}
	return d
}

// Hash returns the keyed pseudonym of a principal string.
func (d *Deriver) Hash(kind, principal string) string {
	m := d.macs.Get().(hash.Hash)
	m.Reset()
	io.WriteString(m, kind)
	m.Write([]byte{0})
	io.WriteString(m, principal)
	var buf [sha256.Size]byte
	sum := m.Sum(buf[:0])
	d.macs.Put(m)
	return "id_" + strings.ToLower(idEncoding.EncodeToString(sum[:10]))
}

// mtlsHeaders are the headers gateways use to pass client-certificate data.
var mtlsHeaders = []string{"x-client-cert", "x-ssl-client-cert", "x-forwarded-client-cert", "ssl-client-cert", "x-client-cert-subject", "x-ssl-client-s-dn", "x-client-dn"}

// cacheSize bounds each of the two generations of the derivation cache
// (entries). Credentials repeat across a session's requests, and parsing
// a JWT and two HMACs cost far more than a map lookup.
const cacheSize = 8192

// Derive inspects a request's credentials. u is the parsed request URL.
// Results are cached per credential material (in memory only, bounded);
// the returned Auth and its Identity must not be modified.
func (d *Deriver) Derive(req *exchange.Request, u *url.URL) Auth {
	// Which credential-bearing headers are present (one pass over the
	// request's headers instead of a lookup per known name).
	others := false
	for name := range req.Headers {
		if d.credHeaders[name] {
			others = true
			break
		}
	}
	var q url.Values
	if u != nil && u.RawQuery != "" {
		for _, p := range d.cfg.APIKeyParams {
			if strings.Contains(u.RawQuery, p) {
				q = u.Query()
				break
			}
		}
	}
	authz := req.Header("authorization")
	qkey := false
	for _, p := range d.cfg.APIKeyParams {
		if len(q.Get(p)) >= 8 {
			qkey = true
			break
		}
	}
	if !others && !qkey {
		if authz == "" {
			return Auth{Unseen: d.credentialsUnseen(req)}
		}
		// Common case: the Authorization header alone; it is the key.
		return d.cached(d.authzCache, authz, req, q)
	}
	var kb strings.Builder
	add := func(tag, v string) {
		if v != "" {
			kb.WriteString(tag)
			kb.WriteByte(0)
			kb.WriteString(v)
			kb.WriteByte(1)
		}
	}
	add("a", authz)
	for _, h := range d.cfg.APIKeyHeaders {
		add(h, req.Header(h))
	}
	for _, p := range d.cfg.APIKeyParams {
		if v := q.Get(p); len(v) >= 8 {
			add("q:"+p, v)
		}
	}
	add("c", req.Header("cookie"))
	for _, h := range mtlsHeaders {
		add(h, req.Header(h))
	}
	return d.cached(d.keyCache, kb.String(), req, q)
}

// credentialsUnseen reports whether req's sensor could not record any
// credential-bearing header.
func (d *Deriver) credentialsUnseen(req *exchange.Request) bool {
	if req.HeadersCaptured == nil {
		return false
	}
	for _, h := range req.HeadersCaptured {
		if h == "authorization" || d.credHeaders[h] {
			return false
		}
	}
	return true
}

// cached looks key up in a two-generation cache, deriving on a miss. When
// the current generation is full it becomes the previous one, so
// credentials in use survive and memory stays bounded.
func (d *Deriver) cached(c *genCache, key string, req *exchange.Request, q url.Values) Auth {
	d.mu.Lock()
	defer d.mu.Unlock()
	if a, ok := c.cur[key]; ok {
		return a
	}
	a, ok := c.prev[key]
	if !ok {
		a = d.derive(req, q)
	}
	if len(c.cur) >= cacheSize {
		c.prev, c.cur = c.cur, make(map[string]Auth, cacheSize)
	}
	// A copy: key may share memory with the whole decoded record.
	c.cur[strings.Clone(key)] = a
	return a
}

type genCache struct{ cur, prev map[string]Auth }

func newGenCache() *genCache {
	return &genCache{cur: make(map[string]Auth, cacheSize), prev: map[string]Auth{}}
}

// derive does the work of Derive; q holds the parsed query when it may
// carry an API key (nil otherwise).
func (d *Deriver) derive(req *exchange.Request, q url.Values) Auth {
	var a Auth
	authz := strings.TrimSpace(req.Header("authorization"))
	if authz != "" {
		scheme, cred, _ := strings.Cut(authz, " ")
		cred = strings.TrimSpace(cred)
		switch strings.ToLower(scheme) {
		case "bearer":
			a.Credentials = true
			if tok, ok := ParseJWT(cred); ok {
				a.Schemes = append(a.Schemes, "bearer-jwt")
				a.set(d.jwtIdentity(tok, cred))
			} else {
				a.Schemes = append(a.Schemes, "bearer")
				a.set(&Identity{ID: d.Hash(KindBearer, cred), Kind: KindBearer, Name: Prefix(cred), TokenID: d.Hash("token", cred)})
			}
		case "basic":
			a.Credentials = true
			a.Schemes = append(a.Schemes, "basic")
			user := ""
			if raw, err := base64.StdEncoding.DecodeString(cred); err == nil {
				user, _, _ = strings.Cut(string(raw), ":")
			}
			if user == "" {
				user = "?"
			}
			a.set(&Identity{ID: d.Hash(KindBasic, user), Kind: KindBasic, Name: user, TokenID: d.Hash("token", cred)})
		case "digest":
			a.Credentials = true
			a.Schemes = append(a.Schemes, "digest")
			if i := strings.Index(cred, `username="`); i >= 0 {
				user, _, _ := strings.Cut(cred[i+10:], `"`)
				a.set(&Identity{ID: d.Hash(KindBasic, user), Kind: KindBasic, Name: user})
			}
		default:
			if cred == "" { // raw token in Authorization
				cred = scheme
			}
			a.Credentials = true
			if tok, ok := ParseJWT(cred); ok {
				a.Schemes = append(a.Schemes, "bearer-jwt")
				a.set(d.jwtIdentity(tok, cred))
			} else {
				a.Schemes = append(a.Schemes, "authorization:"+strings.ToLower(scheme))
				a.set(&Identity{ID: d.Hash(KindAPIKey, authz), Kind: KindAPIKey, Name: Prefix(cred), TokenID: d.Hash("token", authz)})
			}
		}
	}
	for _, h := range d.cfg.APIKeyHeaders {
		if v := req.Header(h); v != "" {
			a.Credentials = true
			a.Schemes = append(a.Schemes, "api-key:"+h)
			if tok, ok := ParseJWT(v); ok {
				a.set(d.jwtIdentity(tok, v))
			} else {
				a.set(&Identity{ID: d.Hash(KindAPIKey, v), Kind: KindAPIKey, Name: Prefix(v), TokenID: d.Hash("token", v)})
			}
		}
	}
	if q != nil {
		for _, p := range d.cfg.APIKeyParams {
			if v := q.Get(p); v != "" && len(v) >= 8 {
				a.Credentials = true
				a.Schemes = append(a.Schemes, "api-key-query:"+p)
				if tok, ok := ParseJWT(v); ok {
					a.set(d.jwtIdentity(tok, v))
				} else {
					a.set(&Identity{ID: d.Hash(KindAPIKey, v), Kind: KindAPIKey, Name: Prefix(v), TokenID: d.Hash("token", v)})
				}
			}
		}
	}
	if c := req.Header("cookie"); c != "" {
		for _, part := range strings.Split(c, ";") {
			name, val, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok || val == "" {
				continue
			}
			ln := strings.ToLower(name)
			if !d.isSessionCookie(ln) {
				continue
			}
			a.Credentials = true
			a.Schemes = append(a.Schemes, "cookie:"+ln)
			if tok, ok := ParseJWT(val); ok {
				a.set(d.jwtIdentity(tok, val))
			} else {
				a.set(&Identity{ID: d.Hash(KindCookie, ln+"="+val), Kind: KindCookie, Name: "cookie:" + ln, TokenID: d.Hash("token", val)})
			}
		}
	}
	// mTLS hints set by gateways.
	for _, h := range mtlsHeaders {
		if v := req.Header(h); v != "" {
			a.Credentials = true
			a.Schemes = append(a.Schemes, "mtls")
			name := ""
			if i := strings.Index(v, "CN="); i >= 0 {
				name = v[i+3:]
				if j := strings.IndexAny(name, ",;/\""); j >= 0 {
					name = name[:j]
				}
			}
			a.set(&Identity{ID: d.Hash(KindMTLS, v), Kind: KindMTLS, Name: strings.Clone(name)})
			break
		}
	}
	if len(a.Schemes) > 1 {
		sort.Strings(a.Schemes)
		a.Schemes = compact(a.Schemes)
	}
	return a
}

func compact(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// set keeps the strongest identity: JWT > basic > api key > bearer > cookie > mTLS.
func (a *Auth) set(id *Identity) {
	if a.Identity == nil || rank(id.Kind) > rank(a.Identity.Kind) {
		a.Identity = id
	}
}

func rank(k string) int {
	switch k {
	case KindJWT:
		return 6
	case KindBasic:
		return 5
	case KindAPIKey:
		return 4
	case KindBearer:
		return 3
	case KindMTLS:
		return 2
	case KindCookie:
		return 1
	}
	return 0
}

func (d *Deriver) isSessionCookie(name string) bool {
	for _, c := range d.cfg.SessionCookies {
		if name == c {
			return true
		}
	}
	return strings.Contains(name, "session") || strings.HasSuffix(name, "_token") || strings.HasSuffix(name, "sid")
}

func (d *Deriver) jwtIdentity(t *JWT, raw string) *Identity {
	id := &Identity{Kind: KindJWT, Token: t, Issuer: t.Iss, TokenID: d.Hash("token", raw)}
	switch {
	case t.Sub != "":
		id.ID = d.Hash(KindJWT, t.Iss+"\x00"+t.Sub)
		id.Name = t.Sub
	default:
		// No subject: the token itself is the principal (client-credentials tokens).
		id.ID = d.Hash(KindJWT, raw)
		id.Name = Prefix(raw)
	}
	return id
}

// Prefix returns a short non-secret prefix of a credential, e.g. "sk_l…".
func Prefix(s string) string {
	n := 4
	if len(s) < 12 {
		n = 2
	}
	if len(s) <= n {
		return "…"
	}
	return s[:n] + "…"
}

var b64 = base64.RawURLEncoding

// jwtBuf holds the decoded header or payload of a token being parsed
// (values taken from it are copied).
type jwtBuf struct{ b []byte }

var jwtBufs = sync.Pool{New: func() any { return &jwtBuf{b: make([]byte, 0, 512)} }}

// b64decode appends the base64url (unpadded) decoding of s to dst.
func b64decode(dst []byte, s string) ([]byte, error) {
	n := b64.DecodedLen(len(s))
	dst = slices.Grow(dst, n)[:len(dst)+n]
	// Decode only reads its source: view s as bytes instead of copying.
	m, err := b64.Decode(dst[len(dst)-n:], unsafe.Slice(unsafe.StringData(s), len(s)))
	return dst[:len(dst)-n+m], err
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// jsonMembers decodes the members of a JSON object named in want (the last
// of repeated names wins, as with a generic map), skipping the others
// without building them. A JSON null is an empty object; anything else that
// is not an object, or bad JSON, is an error.
// numbersInRange: a member jsonMembers does not keep fails as decoding it
// would — a number beyond float64's range ({"x":1e700}) is an error, as
// for a member it keeps (FuzzParseJWTAgrees). Only values that can hold
// such a number (an exponent, or 309 digits) are decoded.
func numbersInRange(raw jsontext.Value) error {
	if len(raw) == 0 || raw[0] == '"' || !bytes.ContainsAny(raw, "eE") && len(raw) < 309 {
		return nil
	}
	var v any
	return jsonv2.Unmarshal(raw, &v, jwtJSON)
}

func jsonMembers(b []byte, want func(name []byte) int, got []any) error {
	st := decoders.Get().(*pooledDecoder)
	defer decoders.Put(st)
	st.r.Reset(b)
	st.dec.Reset(&st.r, jwtJSON)
	dec := &st.dec
	tok, err := dec.ReadToken()
	if err != nil {
		return err
	}
	switch tok.Kind() {
	case 'n':
	case '{':
		for dec.PeekKind() != '}' {
			// The quoted name as read (no copy); unquoted only when it
			// has escapes. Wanted names are ASCII, so a name with invalid
			// UTF-8 matches none, raw or replaced.
			name, err := dec.ReadValue()
			if err != nil {
				return err
			}
			var i int
			if bytes.IndexByte(name, '\\') < 0 {
				i = want(name[1 : len(name)-1])
			} else {
				// The decoder accepted the name; strict unquoting fails
				// only on invalid UTF-8 or lone surrogates, never in a
				// wanted (ASCII) name.
				if unq, err := jsontext.AppendUnquote(nil, name); err == nil {
					i = want(unq)
				} else {
					i = -1
				}
			}
			if i < 0 {
				raw, err := dec.ReadValue()
				if err != nil {
					return err
				}
				if err := numbersInRange(raw); err != nil {
					return err
				}
				continue
			}
			var v any
			if err := jsonv2.UnmarshalDecode(dec, &v, jwtJSON); err != nil {
				return err
			}
			if v == nil {
				v = present{}
			}
			got[i] = v
		}
		if _, err := dec.ReadToken(); err != nil {
			return err
		}
	default:
		return errors.New("not an object")
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return errors.New("data after the top-level value")
	}
	return nil
}

const (
	hAlg = iota
	hTyp
	hKid
	hN
)

func jwtHeaderMember(name []byte) int {
	switch string(name) {
	case "alg":
		return hAlg
	case "typ":
		return hTyp
	case "kid":
		return hKid
	}
	return -1
}

const (
	cSub = iota
	cIss
	cAud
	cExp
	cIat
	cNbf
	cScope
	cScp
	cRole
	cRoles
	cGroups
	cRealmAccess
	cN
)

func jwtClaimMember(name []byte) int {
	switch string(name) {
	case "sub":
		return cSub
	case "iss":
		return cIss
	case "aud":
		return cAud
	case "exp":
		return cExp
	case "iat":
		return cIat
	case "nbf":
		return cNbf
	case "scope":
		return cScope
	case "scp":
		return cScp
	case "role":
		return cRole
	case "roles":
		return cRoles
	case "groups":
		return cGroups
	case "realm_access":
		return cRealmAccess
	}
	return -1
}

type pooledDecoder struct {
	r   bytes.Reader
	dec jsontext.Decoder
}

var decoders = sync.Pool{New: func() any { return new(pooledDecoder) }}

// present marks a member that was there with a null value.
type present struct{}

var jwtJSON = jsonv2.JoinOptions(jsontext.AllowInvalidUTF8(true), jsontext.AllowDuplicateNames(true))

// ParseJWT decodes a compact JWS/JWT without verifying it. It returns false
// when s does not look like a JWT at all.
func ParseJWT(s string) (*JWT, bool) {
	s = strings.TrimSpace(s)
	if len(s) < 10 || !strings.HasPrefix(s, "eyJ") {
		return nil, false
	}
	head, rest, _ := strings.Cut(s, ".")
	body, sig, ok := strings.Cut(rest, ".")
	if !ok || strings.IndexByte(sig, '.') >= 0 {
		return nil, false // not three parts
	}
	st := jwtBufs.Get().(*jwtBuf)
	defer jwtBufs.Put(st)
	hb, err := b64decode(st.b[:0], strings.TrimRight(head, "="))
	st.b = hb
	if err != nil {
		return nil, false
	}
	var hdr [hN]any
	if jsonMembers(hb, jwtHeaderMember, hdr[:]) != nil {
		return nil, false
	}
	t := &JWT{}
	t.Alg, _ = hdr[hAlg].(string)
	t.Typ, _ = hdr[hTyp].(string)
	t.Kid, _ = hdr[hKid].(string)
	if hdr[hAlg] == nil {
		t.Malformed = "header has no alg"
	}
	pb, err := b64decode(st.b[:0], strings.TrimRight(body, "="))
	st.b = pb
	if err != nil {
		t.Malformed = "payload is not base64url"
		return t, true
	}
	var c [cN]any
	if err := jsonMembers(pb, jwtClaimMember, c[:]); err != nil {
		t.Malformed = "payload is not JSON"
		return t, true
	}
	t.Sub = claimString(c[cSub])
	t.Iss = claimString(c[cIss])
	t.Aud = claimString(c[cAud])
	t.Exp = claimTime(c[cExp])
	t.Iat = claimTime(c[cIat])
	t.Nbf = claimTime(c[cNbf])
	for _, v := range []any{c[cScope], c[cScp]} {
		switch v := v.(type) {
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
	for _, v := range []any{c[cRole], c[cRoles], c[cGroups], c[cRealmAccess]} {
		switch v := v.(type) {
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
	t.Unsigned = strings.EqualFold(t.Alg, "none") || sig == ""
	return t, true
}

func claimString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case []any:
		if len(x) > 0 {
			return claimString(x[0])
		}
	}
	return ""
}

func claimTime(v any) time.Time {
	if f, ok := v.(float64); ok && f > 0 && f < 1e11 {
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC()
	}
	return time.Time{}
}

// Expired reports whether the token had expired at time at.
func (t *JWT) Expired(at time.Time) bool { return !t.Exp.IsZero() && at.After(t.Exp) }

// Lifetime returns exp-iat, or 0 when either is missing.
func (t *JWT) Lifetime() time.Duration {
	if t.Exp.IsZero() || t.Iat.IsZero() {
		return 0
	}
	return t.Exp.Sub(t.Iat)
}
