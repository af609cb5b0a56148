// Package classify finds sensitive data (personal data, payment data,
// credentials) in API traffic: per JSON leaf, query and path parameter and
// header, with validators (Luhn and issuer ranges, IBAN mod-97, SSN rules,
// E.164/NANP numbering, JWT structure, key formats and entropy) and field
// names as context. It reports, per endpoint, which data types flow where
// (report-v1 `sensitive_data`).
//
// The Classifier is immutable after New and safe for concurrent use. The
// Analyzer keeps per-endpoint, per-field state with explicit budgets and is
// not safe for concurrent use (the pipeline calls Observe from one goroutine).
package classify

import (
	"fmt"
	"regexp/syntax"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/palisade-sec/palisade/internal/classify/ac"
	re2 "github.com/wasilibs/go-re2"
)

// Built-in data types.
const (
	TypeEmail      = "email"
	TypePhone      = "phone"
	TypeCard       = "credit_card"
	TypeSSN        = "us_ssn"
	TypeIBAN       = "iban"
	TypeDOB        = "date_of_birth"
	TypeJWT        = "jwt"
	TypeSecret     = "secret"
	TypeIP         = "ip_address"
	TypePersonName = "person_name"
	TypeAddress    = "address"
	TypePassport   = "passport"
)

// BuiltinTypes lists the built-in types in a fixed order.
var BuiltinTypes = []string{TypeEmail, TypePhone, TypeCard, TypeSSN, TypeIBAN, TypeDOB, TypeJWT, TypeSecret, TypeIP, TypePersonName, TypeAddress, TypePassport}

// Match is one classified span of a value or text.
type Match struct {
	Type       string
	Confidence float64
	Masked     bool // the value is shown masked (e.g. **** **** **** 1234): not an exposure of the full value
	Start, End int  // byte offsets in the classified string
	// Detail names the sub-kind when known (card network, secret kind such
	// as "aws_access_key", "password"); never the value.
	Detail string
}

// Config configures a Classifier.
type Config struct {
	// Custom data types from configuration.
	Custom []CustomType `json:"custom"`
	// SampleAfter: once a field (per endpoint and location) has given the
	// same classification for this many consecutive values, the Analyzer
	// classifies only one value in SampleEvery. 0 disables sampling.
	SampleAfter int `json:"sample_after"`
	SampleEvery int `json:"sample_every"`
	// MaxBodyBytes caps how much of a body is classified (the rest is
	// counted as truncated). Default 256 KiB.
	MaxBodyBytes int `json:"max_body_bytes"`
	// MaxLeaves caps the JSON leaves classified per body. Default 4096.
	MaxLeaves int `json:"max_leaves"`
	// MaxEndpoints and MaxFieldsPerEndpoint bound the Analyzer's state.
	MaxEndpoints         int `json:"max_endpoints"`
	MaxFieldsPerEndpoint int `json:"max_fields_per_endpoint"`
	// MinConfidence drops matches below it (default 0.5).
	MinConfidence float64 `json:"min_confidence"`
}

// CustomType is a data type defined in configuration.
type CustomType struct {
	Name string `json:"name"`
	// Pattern is an RE2 regular expression matched against values and text.
	Pattern string `json:"pattern"`
	// Keywords: without a Pattern, each keyword occurrence (case-insensitive)
	// is a match; with a Pattern, a pattern match counts only when a keyword
	// occurs in the value, the text or the field name (context).
	Keywords []string `json:"keywords"`
	// Validator (optional): luhn, mod97 (IBAN), ssn, e164, nanp.
	Validator string `json:"validator"`
	// FieldNames: a value in a field of this name (case-insensitive, any
	// separator) is of this type when it passes Pattern (if any) and the
	// validator (if any).
	FieldNames []string `json:"field_names"`
	// Confidence of a match (default 0.8).
	Confidence float64 `json:"confidence"`
}

// DefaultConfig returns the built-in configuration.
func DefaultConfig() Config {
	return Config{
		SampleAfter:          100,
		SampleEvery:          10,
		MaxBodyBytes:         256 << 10,
		MaxLeaves:            4096,
		MaxEndpoints:         10000,
		MaxFieldsPerEndpoint: 512,
		MinConfidence:        0.5,
	}
}

// Classifier classifies values and text.
type Classifier struct {
	hints  sync.Map // last key -> fieldHint (bounded by hintCacheMax)
	nhints atomic.Int64
	cfg    Config
	custom []*customRule
	kw     *ac.Matcher // keyword and prefix literals of the built-in scanners
	acPats []acPattern
}

type customRule struct {
	CustomType
	re       *re2.Regexp
	kwAC     *ac.Matcher
	validate func(string) bool
	fields   map[string]bool
}

var validators = map[string]func(string) bool{
	"luhn":  func(s string) bool { d := digitsOnly(s); return len(d) >= 2 && luhn(d) },
	"mod97": func(s string) bool { return validIBAN(strings.ToUpper(alnumOnly(s))) },
	"ssn":   func(s string) bool { return validSSN(digitsOnly(s)) },
	"e164":  func(s string) bool { return validE164(digitsOnly(s)) },
	"nanp": func(s string) bool {
		d := digitsOnly(s)
		if len(d) == 11 && d[0] == '1' {
			d = d[1:]
		}
		return validNANP(d)
	},
}

// New validates the configuration and builds a classifier. Errors name the
// custom type (by index and name) and the field that is wrong.
func New(cfg Config) (*Classifier, error) {
	def := DefaultConfig()
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = def.MaxBodyBytes
	}
	if cfg.MaxLeaves <= 0 {
		cfg.MaxLeaves = def.MaxLeaves
	}
	if cfg.MaxEndpoints <= 0 {
		cfg.MaxEndpoints = def.MaxEndpoints
	}
	if cfg.MaxFieldsPerEndpoint <= 0 {
		cfg.MaxFieldsPerEndpoint = def.MaxFieldsPerEndpoint
	}
	if cfg.SampleAfter > 0 && cfg.SampleEvery <= 1 {
		cfg.SampleEvery = def.SampleEvery
	}
	if cfg.MinConfidence <= 0 {
		cfg.MinConfidence = def.MinConfidence
	}
	c := &Classifier{cfg: cfg}
	seen := map[string]bool{}
	for _, t := range BuiltinTypes {
		seen[t] = true
	}
	for i, ct := range cfg.Custom {
		where := fmt.Sprintf("classification.custom[%d]", i)
		if ct.Name != "" {
			where += fmt.Sprintf(" (%q)", ct.Name)
		}
		if strings.TrimSpace(ct.Name) == "" {
			return nil, fmt.Errorf("%s: field name: must not be empty", where)
		}
		for _, r := range ct.Name {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
				return nil, fmt.Errorf("%s: field name: use lower-case letters, digits, '_', '-' or '.', got %q", where, ct.Name)
			}
		}
		if seen[ct.Name] {
			return nil, fmt.Errorf("%s: field name: type %q is already defined", where, ct.Name)
		}
		seen[ct.Name] = true
		if ct.Pattern == "" && len(ct.Keywords) == 0 && len(ct.FieldNames) == 0 {
			return nil, fmt.Errorf("%s: needs at least one of pattern, keywords or field_names", where)
		}
		if ct.Confidence < 0 || ct.Confidence > 1 {
			return nil, fmt.Errorf("%s: field confidence: must be within 0–1, got %v", where, ct.Confidence)
		}
		if ct.Confidence == 0 {
			ct.Confidence = 0.8
		}
		r := &customRule{CustomType: ct, fields: map[string]bool{}}
		if ct.Pattern != "" {
			if _, err := syntax.Parse(ct.Pattern, syntax.Perl); err != nil {
				return nil, fmt.Errorf("%s: field pattern: %v", where, err)
			}
			re, err := re2.Compile(ct.Pattern)
			if err != nil {
				return nil, fmt.Errorf("%s: field pattern: %v", where, err)
			}
			r.re = re
		}
		if len(ct.Keywords) > 0 {
			var kws []string
			for j, k := range ct.Keywords {
				if strings.TrimSpace(k) == "" {
					return nil, fmt.Errorf("%s: field keywords[%d]: must not be empty", where, j)
				}
				kws = append(kws, k)
			}
			r.kwAC = ac.New(kws, true)
		}
		if ct.Validator != "" {
			v, ok := validators[strings.ToLower(ct.Validator)]
			if !ok {
				names := make([]string, 0, len(validators))
				for k := range validators {
					names = append(names, k)
				}
				sort.Strings(names)
				return nil, fmt.Errorf("%s: field validator: unknown validator %q (known: %s)", where, ct.Validator, strings.Join(names, ", "))
			}
			r.validate = v
		}
		for j, f := range ct.FieldNames {
			n := normField(f)
			if n == "" {
				return nil, fmt.Errorf("%s: field field_names[%d]: must contain letters or digits", where, j)
			}
			r.fields[n] = true
		}
		c.custom = append(c.custom, r)
	}
	c.kw, c.acPats = buildAC()
	return c, nil
}

// Config returns the effective configuration.
func (c *Classifier) Config() Config { return c.cfg }

// ClassifyText finds sensitive spans in free text.
func (c *Classifier) ClassifyText(text string) []Match {
	return c.classify("", text)
}

// ClassifyValue classifies one value (a JSON leaf, a parameter or header
// value); field is the key name giving context (may be "").
func (c *Classifier) ClassifyValue(field, value string) []Match {
	return c.classify(field, value)
}

func (c *Classifier) classify(field, value string) []Match {
	if value == "" {
		return nil
	}
	var s scan
	ms := c.classifyHint(&s, c.hint(field), field, value)
	if len(ms) == 0 {
		return nil
	}
	return append([]Match(nil), ms...)
}

// classifyHint classifies value with the interpretation of its field name
// already made, using s as scratch space: the result is valid until s is
// used again.
func (c *Classifier) classifyHint(s *scan, hint fieldHint, field, value string) []Match {
	if value == "" {
		return nil
	}
	if len(value) > c.cfg.MaxBodyBytes {
		value = value[:c.cfg.MaxBodyBytes]
	}
	if hint.typ == "" && len(value) < 6 && len(c.custom) == 0 {
		return nil // too short for any unkeyed pattern
	}
	s.reset(c, value, hint)
	s.run()
	s.custom(field)
	return s.result(c.cfg.MinConfidence)
}

const hintCacheMax = 8192

// hint interprets a field name, caching by last key (field names repeat
// across bodies; the cache holds at most hintCacheMax names).
func (c *Classifier) hint(field string) fieldHint {
	if field == "" {
		return fieldHint{}
	}
	key := lastKey(field)
	if h, ok := c.hints.Load(key); ok {
		return h.(fieldHint)
	}
	h := fieldHintOf(key)
	if c.nhints.Load() < hintCacheMax {
		c.hints.Store(strings.Clone(key), h) // kept: not a view of an event's text
		c.nhints.Add(1)
	}
	return h
}

func digitsOnly(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			b = append(b, s[i])
		}
	}
	return string(b)
}

func alnumOnly(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		if isAlnum(s[i]) {
			b = append(b, s[i])
		}
	}
	return string(b)
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isLetter(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
