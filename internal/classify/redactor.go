package classify

import (
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/palisade-sec/palisade/internal/model"
)

// Credential patterns masked in any text leaving the pipeline: JWTs,
// bearer/basic credentials, password/token/key assignments, URL user-info
// passwords and well-known key prefixes.
var (
	reJWT    = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*\.?[A-Za-z0-9_-]*`)
	reBearer = regexp.MustCompile(`(?i)(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}`)
	// key=value, "key": "value" or key:value (not "key: prose", which
	// detectors' own sentences contain).
	reKV         = regexp.MustCompile(`(?i)((?:pass(?:word|wd)?|pwd|secret|token|api[_-]?key|apikey|auth|session|credential|private[_-]?key)(?:["']?\s*=\s*["']?|["']\s*:\s*["']?|:))([^\s"'&,;}]{3,})`)
	reUserinfo   = regexp.MustCompile(`(?i)([a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@/\s]+@`)
	reLongSecret = regexp.MustCompile(`\b(?:sk|pk|rk|ghp|gho|xox[abpr]|AKIA|AIza)[A-Za-z0-9_-]{12,}`)
)

// RedactCredentials masks credentials in text (see the patterns above).
func RedactCredentials(s string) string {
	if len(s) < 8 {
		return s
	}
	// each expression runs only when the literal it needs is there
	lower := strings.ToLower(s)
	if strings.Contains(s, "eyJ") {
		s = reJWT.ReplaceAllString(s, "eyJ…[jwt]")
	}
	if strings.Contains(lower, "bearer") || strings.Contains(lower, "basic") {
		s = reBearer.ReplaceAllString(s, "$1 ****")
	}
	if strings.ContainsAny(s, ":=") && secretWord(lower) {
		s = reKV.ReplaceAllString(s, "${1}****")
	}
	if strings.Contains(s, "://") && strings.Contains(s, "@") {
		s = reUserinfo.ReplaceAllString(s, "${1}****@")
	}
	if len(s) >= 14 && secretPrefix(s) {
		s = reLongSecret.ReplaceAllStringFunc(s, func(m string) string { return m[:4] + "****" })
	}
	return s
}

func secretWord(lower string) bool {
	for _, w := range []string{"pass", "pwd", "secret", "token", "api", "auth", "session", "credential", "private"} {
		if strings.Contains(lower, w) {
			return true
		}
	}
	return false
}

func secretPrefix(s string) bool {
	for _, w := range []string{"sk", "pk", "rk", "gh", "xox", "AKIA", "AIza"} {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// redactTypes are the data classes a Redactor masks in free text: those
// whose value identifies a person or grants access. Addresses, names and
// IP addresses are left: in attack evidence they are mostly not personal
// data, and masking them would blind the evidence (client addresses are
// handled by retention and erasure).
var redactTypes = map[string]bool{TypeEmail: true, TypePhone: true, TypeCard: true, TypeSSN: true, TypeIBAN: true,
	TypeDOB: true, TypeJWT: true, TypeSecret: true, TypePassport: true}

// Redactor is the one redaction step for every string that leaves the
// pipeline (alerts, findings, samples — and through them the report, the
// store, the API and the sinks): sensitive values found by the classifier
// (built-in and custom types) are replaced by their Redact form, and
// credentials are masked. Safe for concurrent use; results of recent
// strings are cached (evidence repeats as alerts are updated).
type Redactor struct {
	c     *Classifier
	mu    sync.Mutex
	cache map[string]string
}

const redactCacheMax = 4096

// NewRedactor returns a redactor using c (nil: the built-in types).
func NewRedactor(c *Classifier) *Redactor {
	if c == nil {
		c, _ = New(DefaultConfig())
	}
	return &Redactor{c: c, cache: map[string]string{}}
}

// Text redacts one string.
func (r *Redactor) Text(s string) string {
	if len(s) < 6 {
		return s
	}
	r.mu.Lock()
	out, ok := r.cache[s]
	r.mu.Unlock()
	if ok {
		return out
	}
	out = RedactCredentials(r.spans(s))
	r.mu.Lock()
	if len(r.cache) >= redactCacheMax {
		clear(r.cache)
	}
	r.cache[s] = out
	r.mu.Unlock()
	return out
}

func (r *Redactor) spans(s string) string {
	var ms []Match
	for _, m := range r.c.ClassifyText(s) {
		custom := !isBuiltin(m.Type)
		if (redactTypes[m.Type] || custom) && !m.Masked && m.Start >= 0 && m.End <= len(s) && m.Start < m.End {
			ms = append(ms, m)
		}
	}
	if len(ms) == 0 {
		return s
	}
	sort.Slice(ms, func(i, j int) bool {
		return ms[i].Start < ms[j].Start || ms[i].Start == ms[j].Start && ms[i].End > ms[j].End
	})
	var b strings.Builder
	last := 0
	for _, m := range ms {
		if m.Start < last { // overlaps a span already replaced
			continue
		}
		b.WriteString(s[last:m.Start])
		b.WriteString(Redact(m, s[m.Start:m.End]))
		last = m.End
	}
	b.WriteString(s[last:])
	return b.String()
}

func isBuiltin(t string) bool {
	for _, b := range BuiltinTypes {
		if b == t {
			return true
		}
	}
	return false
}

// Value redacts the strings of a JSON-like value (maps, slices, strings),
// copying containers it changes.
func (r *Redactor) Value(v any) any {
	switch x := v.(type) {
	case string:
		return r.Text(x)
	case map[string]any:
		return r.Map(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = r.Value(e)
		}
		return out
	case []string:
		out := make([]string, len(x))
		for i, e := range x {
			out[i] = r.Text(e)
		}
		return out
	}
	return v
}

// Map redacts the values of a map into a new map (keys are kept).
func (r *Redactor) Map(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = r.Value(v)
	}
	return out
}

// Alert returns a with its free text redacted (evidence details, reason,
// observed values, samples); a's own maps and slices are not modified.
func (r *Redactor) Alert(a model.Alert) model.Alert {
	a.Title = r.Text(a.Title)
	ev := &a.Evidence
	ev.Reason = r.Text(ev.Reason)
	ev.Observed = r.Value(ev.Observed)
	ev.Baseline = r.Value(ev.Baseline)
	ev.Details = r.Map(ev.Details)
	if ev.Samples != nil {
		ss := make([]model.Sample, len(ev.Samples))
		for i, s := range ev.Samples {
			s.URL, s.Note = r.Text(s.URL), r.Text(s.Note)
			ss[i] = s
		}
		ev.Samples = ss
	}
	return a
}

// Finding returns f with its message and evidence redacted.
func (r *Redactor) Finding(f model.Finding) model.Finding {
	f.Message = r.Text(f.Message)
	f.Evidence = r.Map(f.Evidence)
	return f
}

// Report redacts a report's alerts, findings and parameter examples in
// place.
func (r *Redactor) Report(rep *model.Report) {
	for i := range rep.Alerts {
		rep.Alerts[i] = r.Alert(rep.Alerts[i])
	}
	for i := range rep.Findings {
		rep.Findings[i] = r.Finding(rep.Findings[i])
	}
	for i := range rep.Endpoints {
		for j := range rep.Endpoints[i].Parameters {
			p := &rep.Endpoints[i].Parameters[j]
			if p.ExamplesRedacted != nil {
				p.ExamplesRedacted = r.Value(p.ExamplesRedacted).([]string)
			}
		}
	}
}
