// Package query bounds what a client controls in the query string of an
// API request (docs/security.md): the server checks every request with
// Check before a handler or the store sees it. A package of its own so
// that its fuzz target builds without the server's dependencies.
package query

import (
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Bounds on what a client controls in a URL (docs/security.md). They are
// fixed, not configured: no legitimate use comes near them.
const (
	MaxQueryBytes  = 16 << 10 // the whole raw query string
	MaxQueryKeys   = 32       // distinct parameters
	MaxParamBytes  = 8 << 10  // one value (a list of up to MaxListValues names)
	MaxSearchBytes = 256      // q (substring search)
	MaxListValues  = 100      // comma-separated values of one list parameter, all occurrences
)

// Check bounds the raw query string of every API request before a handler
// or a database query sees it. The error names the parameter.
func Check(raw string) error {
	if raw == "" {
		return nil
	}
	// Parameters first, so that an oversized one is named.
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return fmt.Errorf("query string: %v", err)
	}
	if len(vals) > MaxQueryKeys {
		return fmt.Errorf("query string: %d parameters, at most %d", len(vals), MaxQueryKeys)
	}
	for k, vs := range vals {
		name := clipName(k)
		n := 0
		for _, v := range vs {
			n += strings.Count(v, ",") + 1
		}
		if n > MaxListValues {
			return fmt.Errorf("query parameter %s: %d values, at most %d", name, n, MaxListValues)
		}
		for _, v := range vs {
			max := MaxParamBytes
			if k == "q" {
				max = MaxSearchBytes
			}
			if len(v) > max {
				return fmt.Errorf("query parameter %s: %d bytes, at most %d", name, len(v), max)
			}
			if !utf8.ValidString(v) {
				return fmt.Errorf("query parameter %s: not valid UTF-8", name)
			}
			if strings.IndexByte(v, 0) >= 0 {
				return fmt.Errorf("query parameter %s: contains a NUL byte", name)
			}
		}
	}
	if len(raw) > MaxQueryBytes {
		return fmt.Errorf("query string: %d bytes, at most %d", len(raw), MaxQueryBytes)
	}
	return nil
}

func clipName(k string) string {
	if !utf8.ValidString(k) {
		k = strings.ToValidUTF8(k, "?")
	}
	if len(k) > 40 {
		k = k[:40] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, k)
}
