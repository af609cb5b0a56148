package server

import (
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Failed-authentication limits (docs/security.md). A source address may
// fail authFreeFailures times; each further failure blocks it for twice as
// long as the last (1 s, 2 s, 4 s … authMaxBlock). Success forgets the
// address. Across all addresses, more than authGlobalPerSec failures in one
// second put every address that has failed before under a block of
// authGlobalBlock, so a flood from many addresses is slowed too. The table
// keeps at most authMaxAddrs addresses (IPv6 by /64).
const (
	authFreeFailures = 5
	authMaxBlock     = 15 * time.Minute
	authGlobalPerSec = 50
	authGlobalBlock  = 5 * time.Second
	authMaxAddrs     = 10000
	authForget       = time.Hour // an address without failures for this long is forgotten
)

type failState struct {
	n     int
	until time.Time // blocked until
	last  time.Time
}

type authLimiter struct {
	mu          sync.Mutex
	now         func() time.Time
	log         *slog.Logger
	addrs       map[netip.Prefix]*failState
	winStart    time.Time
	winCount    int
	globalUntil time.Time
	lastFlood   time.Time
	failures    func(reason string)
	blocked     func()
	perSec      int // global failures per second before every failing source is blocked
}

func newAuthLimiter(now func() time.Time, log *slog.Logger) *authLimiter {
	return &authLimiter{now: now, log: log, addrs: map[netip.Prefix]*failState{}, failures: func(string) {}, blocked: func() {}, perSec: authGlobalPerSec}
}

// sourceKey is the source address of a request (the TCP peer: a header
// can be forged), IPv6 reduced to its /64.
func sourceKey(remoteAddr string) netip.Prefix {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Prefix{}
	}
	a = a.Unmap()
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits)
	return p
}

// allow reports whether src may try to authenticate now, and if not for
// how long it must wait.
func (l *authLimiter) allow(src netip.Prefix) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.addrs[src]
	if f == nil {
		return true, 0
	}
	until := f.until
	if now.Before(l.globalUntil) && l.globalUntil.After(until) {
		until = l.globalUntil
	}
	if now.Before(until) {
		l.blocked()
		return false, until.Sub(now)
	}
	return true, 0
}

// failed records a failed attempt from src.
func (l *authLimiter) failed(src netip.Prefix, reason string) {
	now := l.now()
	l.failures(reason)
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.winStart) >= time.Second {
		l.winStart, l.winCount = now, 0
	}
	l.winCount++
	flood := l.winCount > l.perSec
	if flood {
		l.globalUntil = now.Add(authGlobalBlock)
	}
	f := l.addrs[src]
	if f == nil {
		if len(l.addrs) >= authMaxAddrs {
			l.evict(now)
		}
		f = &failState{}
		l.addrs[src] = f
	}
	f.n++
	f.last = now
	if f.n > authFreeFailures {
		d := time.Second << min(f.n-authFreeFailures-1, 20)
		if d > authMaxBlock {
			d = authMaxBlock
		}
		f.until = now.Add(d)
	}
	// Log each failure, except during a flood: then once a second.
	switch {
	case !flood:
		l.log.Warn("authentication failed", "source", src.String(), "reason", reason, "failures", f.n, "blocked_for", blockedFor(f.until, now))
	case now.Sub(l.lastFlood) >= time.Second:
		l.lastFlood = now
		l.log.Warn("authentication failures above the global limit: every failing source blocked", "per_second", l.winCount, "block", authGlobalBlock, "addresses", len(l.addrs))
	}
}

func blockedFor(until, now time.Time) string {
	if until.After(now) {
		return until.Sub(now).String()
	}
	return "0s"
}

// succeeded forgets src's failures.
func (l *authLimiter) succeeded(src netip.Prefix) {
	l.mu.Lock()
	delete(l.addrs, src)
	l.mu.Unlock()
}

// evict makes room: first addresses that are not blocked, then any.
func (l *authLimiter) evict(now time.Time) {
	keep := authMaxAddrs * 9 / 10
	for k, f := range l.addrs {
		if len(l.addrs) < keep {
			return
		}
		if now.Sub(f.last) > authForget || !now.Before(f.until) {
			delete(l.addrs, k)
		}
	}
	for k := range l.addrs {
		if len(l.addrs) < keep {
			return
		}
		delete(l.addrs, k)
	}
}
