package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/palisade-sec/palisade/internal/store"
)

// TokenPrefix starts every API token (helps secret scanners).
const TokenPrefix = "pal_"

// NewToken returns a fresh token (32 random bytes) and its stored form.
func NewToken(role, name string, now time.Time) (string, store.Token, error) {
	if !store.ValidRole(role) {
		return "", store.Token{}, fmt.Errorf("role: unknown %q (viewer, analyst, admin, ingest)", role)
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", store.Token{}, err
	}
	secret := TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	h := sha256.Sum256([]byte(secret))
	return secret, store.Token{ID: "tk_" + hex.EncodeToString(h[:6]), Name: name, Role: role, Hash: h[:], CreatedAt: now.UTC()}, nil
}

// Permissions.
type perm int

const (
	permPublic perm = iota // no authentication
	permAny                // any valid credential (session management)
	permRead               // viewer, analyst, admin
	permTriage             // analyst, admin
	permAdmin              // admin
	permIngest             // ingest, admin
)

func (p perm) String() string {
	return [...]string{"public", "any", "read", "triage", "admin", "ingest"}[p]
}

func allowed(role string, p perm) bool {
	switch p {
	case permPublic, permAny:
		return true
	case permRead:
		return role == store.RoleViewer || role == store.RoleAnalyst || role == store.RoleAdmin
	case permTriage:
		return role == store.RoleAnalyst || role == store.RoleAdmin
	case permAdmin:
		return role == store.RoleAdmin
	case permIngest:
		return role == store.RoleIngest || role == store.RoleAdmin
	}
	return false
}

// principal is the authenticated caller.
type principal struct {
	TokenID string
	Role    string
	Session []byte // session hash when authenticated by cookie
}

func (p *principal) actor() string {
	if p == nil {
		return "anonymous"
	}
	return p.TokenID
}

type ctxKey struct{}

func principalFrom(ctx context.Context) *principal {
	p, _ := ctx.Value(ctxKey{}).(*principal)
	return p
}

const (
	sessionCookie = "palisade_session"
	csrfHeader    = "X-CSRF-Token"
)

// authenticator resolves credentials. Token lookups go to the store (so
// tokens created by `palisade token create` while the server runs work at
// once); last-used times are written at most once a minute per token.
type authenticator struct {
	st      store.Auth
	mu      sync.Mutex
	touched map[string]time.Time
	now     func() time.Time
}

var errUnauthenticated = errors.New("missing or invalid credentials")

// authTimeout bounds the store lookups of one authentication.
const authTimeout = 5 * time.Second

func (a *authenticator) fromToken(ctx context.Context, secret string) (*principal, error) {
	if secret == "" {
		return nil, errUnauthenticated
	}
	h := sha256.Sum256([]byte(secret))
	t, err := a.st.TokenByHash(ctx, h[:])
	if errors.Is(err, store.ErrNotFound) {
		return nil, errUnauthenticated
	}
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(t.Hash, h[:]) != 1 || t.RevokedAt != nil {
		return nil, errUnauthenticated
	}
	now := a.now()
	a.mu.Lock()
	last, ok := a.touched[t.ID]
	if !ok || now.Sub(last) > time.Minute {
		a.touched[t.ID] = now
		a.mu.Unlock()
		// Off the request's path: a write may wait for the database lock.
		go func() {
			tctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = a.st.TouchToken(tctx, t.ID, now)
		}()
	} else {
		a.mu.Unlock()
	}
	return &principal{TokenID: t.ID, Role: t.Role}, nil
}

// authenticate checks the bearer token, else the session cookie. Cookie
// sessions must present the CSRF token on unsafe methods.
func (a *authenticator) authenticate(r *http.Request) (*principal, int, error) {
	// The lookups run to completion whatever happens to the connection
	// (its read deadline or a client going away cancels the request's
	// context), bounded by authTimeout.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), authTimeout)
	defer cancel()
	r = r.WithContext(ctx)
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, secret, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return nil, http.StatusUnauthorized, errors.New("authorization: expected \"Bearer TOKEN\"")
		}
		p, err := a.fromToken(r.Context(), strings.TrimSpace(secret))
		if err != nil {
			return nil, statusFor(err), err
		}
		return p, 0, nil
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, http.StatusUnauthorized, errUnauthenticated
	}
	sh := sha256.Sum256([]byte(c.Value))
	se, err := a.st.SessionByHash(r.Context(), sh[:], a.now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, http.StatusUnauthorized, errSessionInvalid
	}
	if err != nil {
		return nil, http.StatusInternalServerError, err
	}
	if subtle.ConstantTimeCompare(se.Hash, sh[:]) != 1 {
		return nil, http.StatusUnauthorized, errUnauthenticated
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		ch := sha256.Sum256([]byte(r.Header.Get(csrfHeader)))
		if subtle.ConstantTimeCompare(ch[:], se.CSRFHash) != 1 {
			return nil, http.StatusForbidden, errors.New("csrf: missing or wrong " + csrfHeader + " header")
		}
	}
	return &principal{TokenID: se.TokenID, Role: se.Role, Session: se.Hash}, 0, nil
}

// authFailReason labels a failed authentication for logs and metrics
// (never with the credential itself).
func authFailReason(err error) string {
	switch {
	case errors.Is(err, errUnauthenticated):
		return "invalid_credentials"
	case errors.Is(err, errSessionInvalid):
		return "invalid_session"
	default:
		return "malformed"
	}
}

var errSessionInvalid = errors.New("session expired or invalid")

func statusFor(err error) int {
	if errors.Is(err, errUnauthenticated) {
		return http.StatusUnauthorized
	}
	return http.StatusInternalServerError
}

// Bootstrap creates an admin token when the store has no token at all and
// returns it (empty when tokens exist).
func Bootstrap(ctx context.Context, st interface {
	store.Auth
	store.AuditLog
}, now time.Time) (string, error) {
	n, err := st.CountTokens(ctx)
	if err != nil || n > 0 {
		return "", err
	}
	secret, t, err := NewToken(store.RoleAdmin, "bootstrap-admin", now)
	if err != nil {
		return "", err
	}
	if err := st.CreateToken(ctx, t); err != nil {
		return "", err
	}
	_ = st.Audit(ctx, store.AuditEntry{At: now, Actor: "system", Action: "token.create", Target: t.ID, Detail: map[string]any{"role": t.Role, "name": t.Name}})
	return secret, nil
}

func randomSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
