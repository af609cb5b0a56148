package exchange

import (
	"net/url"
	"strings"
)

// parseURL parses an absolute request URL. URLs of the common plain shape —
// scheme://host[:port]/path[?query], with a host of letters, digits, '-'
// and '.', and a path without percent-escapes or characters a path would
// escape — are split by hand; everything else goes to url.Parse. The two
// give the same url.URL for the plain shape (FuzzParseURLAgrees).
func parseURL(s string) (*url.URL, error) {
	if u, ok := parsePlainURL(s); ok {
		return u, nil
	}
	return url.Parse(s)
}

// pathByte: bytes url.Parse keeps as they are in a path (no escape needed,
// so Path == the raw path and RawPath stays empty).
var pathByte, hostByte, queryByte [256]bool

func init() {
	for c := 0; c < 256; c++ {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		pathByte[c] = alnum || strings.IndexByte("-_.~/$&+,:;=@", byte(c)) >= 0
		hostByte[c] = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.'
		queryByte[c] = c > 0x20 && c < 0x7f && c != '#'
	}
}

func parsePlainURL(s string) (*url.URL, bool) {
	i := strings.Index(s, "://")
	if i <= 0 {
		return nil, false
	}
	scheme := s[:i]
	for j := 0; j < len(scheme); j++ {
		c := scheme[j]
		if !(c >= 'a' && c <= 'z' || j > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return nil, false
		}
	}
	rest := s[i+3:]
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	host := rest[:end]
	if host == "" {
		return nil, false
	}
	name, port, hasPort := strings.Cut(host, ":")
	if name == "" {
		return nil, false
	}
	for j := 0; j < len(name); j++ {
		if !hostByte[name[j]] {
			return nil, false
		}
	}
	if hasPort {
		if port == "" || len(port) > 5 {
			return nil, false
		}
		for j := 0; j < len(port); j++ {
			if port[j] < '0' || port[j] > '9' {
				return nil, false
			}
		}
	}
	rest = rest[end:]
	path, query, hasQuery := strings.Cut(rest, "?")
	if path != "" && path[0] != '/' {
		return nil, false
	}
	for j := 0; j < len(path); j++ {
		if !pathByte[path[j]] {
			return nil, false
		}
	}
	for j := 0; j < len(query); j++ {
		if !queryByte[query[j]] {
			return nil, false
		}
	}
	return &url.URL{Scheme: scheme, Host: host, Path: path, RawQuery: query, ForceQuery: hasQuery && query == ""}, true
}
