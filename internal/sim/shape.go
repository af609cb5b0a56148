package sim

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/palisade-sec/palisade/internal/exchange"
)

// API shapes change how the simulated APIs look — their URL layout and
// identifier formats — rather than who calls them or when. They rewrite
// every inbound record's URL as it is emitted and every label's path
// template, so the same traffic reaches the detectors through other
// templates: a detector that keys on the base APIs' spelling (/v1/,
// numeric ids, an "admin" segment) shows it here. Outbound calls (the
// third-party APIs) keep their shape. Request and response bodies are not
// rewritten: an id a body carries keeps its base form.
//
//   - uuid-ids: numeric path segments of four digits or more, record
//     numbers such as MRN0415217, and numeric values of query parameters
//     named *id / *_id become UUIDs (the same value, the same UUID): ids
//     that are neither sequential nor typed as integers.
//   - prefix: /v1/… becomes /api/v2/…: one more segment before the
//     resource, a different version.
//   - staff-area: the administrative area /admin/… becomes /staff/…, a
//     segment no built-in word list calls privileged.
//
// "all" applies the three.
var apiShapes = []string{"uuid-ids", "prefix", "staff-area"}

// apiShape is a parsed set of API-shape transforms.
type apiShape struct{ uuid, prefix, staff bool }

func (s apiShape) any() bool { return s.uuid || s.prefix || s.staff }

// parseAPIShape parses a comma-separated list of transforms ("" = none).
func parseAPIShape(spec string) (apiShape, error) {
	var s apiShape
	for _, f := range strings.Split(spec, ",") {
		switch strings.TrimSpace(f) {
		case "", "base":
		case "all":
			s = apiShape{true, true, true}
		case "uuid-ids":
			s.uuid = true
		case "prefix":
			s.prefix = true
		case "staff-area":
			s.staff = true
		default:
			known := append([]string(nil), apiShapes...)
			sort.Strings(known)
			return s, fmt.Errorf("unknown API shape %q (known: %s, all)", f, strings.Join(known, ", "))
		}
	}
	return s, nil
}

// record rewrites an inbound record's URL in place.
func (s apiShape) record(rec *exchange.Record) {
	if !s.any() || rec.IsOutbound() {
		return
	}
	u, err := url.Parse(rec.Request.URL)
	if err != nil || u.Opaque != "" {
		return
	}
	p := u.EscapedPath()
	np := s.path(p, true)
	q := u.RawQuery
	if s.uuid && q != "" {
		q = uuidQuery(q)
	}
	if np == p && q == u.RawQuery {
		return
	}
	out := u.Scheme + "://" + u.Host + np
	if q != "" || u.ForceQuery {
		out += "?" + q
	}
	if u.Fragment != "" {
		out += "#" + u.EscapedFragment()
	}
	rec.Request.URL = out
}

// template rewrites a label's path template (ids are already parameters).
func (s apiShape) template(t string) string {
	if t == "" || !s.any() {
		return t
	}
	return s.path(t, false)
}

// path rewrites an escaped path; ids converts id segments.
func (s apiShape) path(p string, ids bool) string {
	segs := strings.Split(p, "/")
	out := make([]string, 0, len(segs)+1)
	for i, seg := range segs {
		switch {
		case s.prefix && i == 1 && seg == "v1":
			out = append(out, "api", "v2")
			continue
		case s.staff && seg == "admin":
			seg = "staff"
		case s.uuid && ids && idSegment(seg):
			seg = idUUID(seg)
		}
		out = append(out, seg)
	}
	return strings.Join(out, "/")
}

// idSegment: a path segment that is an object id the base APIs spell as a
// number (≥ 4 digits) or a prefixed record number (MRN0415217).
func idSegment(seg string) bool {
	d := strings.TrimLeft(seg, "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
	return len(d) >= 4 && len(seg)-len(d) <= 4 && allDigits(d)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// idUUID maps an id to a version-4-shaped UUID derived from it.
func idUUID(id string) string {
	h := sha256.Sum256([]byte("palisade-sim-id\x00" + id))
	h[6] = h[6]&0x0f | 0x40
	h[8] = h[8]&0x3f | 0x80
	x := hex.EncodeToString(h[:16])
	return x[:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// uuidQuery converts the numeric values of *id / *_id parameters of a raw
// query, keeping its order and encoding.
func uuidQuery(q string) string {
	parts := strings.Split(q, "&")
	for i, kv := range parts {
		k, v, ok := strings.Cut(kv, "=")
		lk := strings.ToLower(k)
		if ok && strings.HasSuffix(lk, "id") && len(v) >= 4 && allDigits(v) {
			parts[i] = k + "=" + idUUID(v)
		}
	}
	return strings.Join(parts, "&")
}
