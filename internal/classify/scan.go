package classify

import (
	"cmp"
	"encoding/base64"
	"math"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/palisade-sec/palisade/internal/classify/ac"
	"github.com/palisade-sec/palisade/internal/identity"
)

// scan holds the state of classifying one string. Its buffers are reused
// from one value to the next (see Classifier.classifyHint).
type scan struct {
	c    *Classifier
	text string
	hint fieldHint
	out  []Match
	res  []Match
	// digit-run scratch
	chain []group
	seps  []string
	// the last JWT parse (the field check and the JWT scanner often parse
	// the same string)
	jwtIn  string
	jwtTok *identity.JWT
	jwtOK  bool
	jwtSet bool
}

func (s *scan) reset(c *Classifier, text string, hint fieldHint) {
	s.c, s.text, s.hint = c, text, hint
	s.out, s.res = s.out[:0], s.res[:0]
	s.jwtSet, s.jwtIn, s.jwtTok = false, "", nil
}

// parseJWT is identity.ParseJWT, remembering the last result.
func (s *scan) parseJWT(v string) (*identity.JWT, bool) {
	if s.jwtSet && s.jwtIn == v {
		return s.jwtTok, s.jwtOK
	}
	tok, ok := identity.ParseJWT(v)
	s.jwtIn, s.jwtTok, s.jwtOK, s.jwtSet = v, tok, ok, true
	return tok, ok
}

func (s *scan) add(typ string, conf float64, start, end int, detail string, masked bool) {
	s.out = append(s.out, Match{Type: typ, Confidence: conf, Start: start, End: end, Detail: detail, Masked: masked})
}

// run applies the built-in detectors. A one-pass character summary decides
// which scanners can possibly match (the cheap prefilter).
func (s *scan) run() {
	t := s.text
	var digits, at, colon, mask, letters int
	for i := 0; i < len(t); i++ {
		switch c := t[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			letters++
			if c == 'x' || c == 'X' {
				mask++
			}
		case c == '@':
			at++
		case c == ':':
			colon++
		case c == '*' || c == '#' || c == 0xE2:
			mask++
		}
	}
	if s.hint.typ != "" {
		s.fieldValue()
	}
	if at > 0 {
		s.emails()
	}
	if colon >= 2 {
		s.ipv6()
	}
	if digits >= 4 {
		s.ipv4()
		s.digitRuns()
	}
	if digits >= 2 && len(t) >= 15 {
		s.ibans()
	}
	if mask >= 3 {
		s.masked()
	}
	if len(t) >= 3 && (letters >= 2 || strings.Contains(t, "-----")) {
		s.keywords()
	}
}

// ---------------------------------------------------------------- field context

func maskRune(c byte) bool { return c == '*' || c == 'x' || c == 'X' || c == '#' }

// maskedShare returns the number of mask symbols and of digits/letters.
func maskCount(v string) (masks, alnum int) {
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '*' || c == '#':
			masks++
		case c == 0xE2 && strings.HasPrefix(v[i:], "\u2022"):
			masks++
			i += 2
		case c == 'x' || c == 'X':
			masks++
		case isAlnum(c):
			alnum++
		}
	}
	return
}

func (s *scan) fieldValue() {
	v := strings.TrimSpace(s.text)
	off := strings.Index(s.text, v)
	end := off + len(v)
	if v == "" {
		return
	}
	masks, _ := maskCount(v)
	starMasks := strings.Count(v, "*") + strings.Count(v, "\u2022")
	switch s.hint.typ {
	case TypeCard:
		d := digitsOnly(v)
		if onlyChars(v, "0123456789 -") && validCard(d) {
			s.add(TypeCard, 0.95, off, end, cardIssuer(d), false)
		} else if masks >= 4 && len(d) <= 6 && onlyChars(v, "0123456789 -*xX#\u2022") {
			s.add(TypeCard, 0.85, off, end, "masked", true)
		}
	case TypeSSN:
		d := digitsOnly(v)
		if onlyChars(v, "0123456789 -.") && validSSN(d) {
			s.add(TypeSSN, 0.95, off, end, "", false)
		} else if masks >= 3 && len(d) <= 4 && onlyChars(v, "0123456789 -*xX#\u2022") {
			s.add(TypeSSN, 0.85, off, end, "masked", true)
		}
	case TypePhone:
		d := digitsOnly(v)
		if onlyChars(v, "0123456789 +-.()/") && len(d) >= 7 && len(d) <= 15 && !allSame(d) {
			conf := 0.8 // a valid "+…" number gets 0.85 from the E.164 scanner
			if len(d) == 10 && validNANP(d) {
				conf = 0.9
			}
			s.add(TypePhone, conf, off, end, "", false)
		} else if masks >= 3 && len(d) <= 4 && onlyChars(v, "0123456789 +-.()*xX#\u2022") {
			s.add(TypePhone, 0.8, off, end, "masked", true)
		}
	case TypeIBAN:
		if validIBAN(strings.ToUpper(strings.ReplaceAll(v, " ", ""))) {
			s.add(TypeIBAN, 0.95, off, end, "", false)
		} else if starMasks >= 4 && len(v) >= 10 {
			s.add(TypeIBAN, 0.8, off, end, "masked", true)
		}
	case TypeDOB:
		if _, ok := parseDate(v); ok {
			s.add(TypeDOB, 0.9, off, end, "", false)
		} else if starMasks >= 2 && onlyChars(v, "0123456789-/.*") {
			s.add(TypeDOB, 0.8, off, end, "masked", true)
		}
	case TypePassport:
		if len(v) >= 6 && len(v) <= 9 && onlyChars(strings.ToUpper(v), "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") && strings.ContainsAny(v, "0123456789") {
			s.add(TypePassport, 0.85, off, end, "", false)
		}
	case TypePersonName:
		if looksLikeName(v) {
			s.add(TypePersonName, 0.7, off, end, "", false)
		}
	case TypeAddress:
		if looksLikeAddress(v) {
			s.add(TypeAddress, 0.7, off, end, "", false)
		}
	case TypeIP:
		h := v
		if ap, err := netip.ParseAddrPort(v); err == nil {
			h = ap.Addr().String()
		}
		if _, err := netip.ParseAddr(h); err == nil {
			s.add(TypeIP, 0.8, off, end, "", false)
		}
	case TypeSecret:
		if _, ok := s.parseJWT(v); ok {
			return // the JWT scanner reports it
		}
		if starMasks >= 3 && starMasks*2 >= len(v) {
			s.add(TypeSecret, 0.8, off, end, s.hint.detail, true)
			return
		}
		min := 8
		if s.hint.detail == "password" || s.hint.detail == "otp" || s.hint.detail == "pin" || s.hint.detail == "card_cvv" {
			min = 3
		}
		if len(v) >= min && !placeholder(v) && v != "true" && v != "false" {
			s.add(TypeSecret, 0.85, off, end, s.hint.detail, false)
		}
	}
}

func onlyChars(v, set string) bool {
	for _, r := range v {
		if !strings.ContainsRune(set, r) {
			return false
		}
	}
	return true
}

func looksLikeName(v string) bool {
	if len(v) < 2 || len(v) > 80 {
		return false
	}
	words := 0
	inWord := false
	for _, r := range v {
		switch {
		case unicode.IsLetter(r):
			if !inWord {
				words++
				inWord = true
			}
		case r == ' ':
			inWord = false
		case r == '-' || r == '\'' || r == '.' || r == '’':
		default:
			return false
		}
	}
	return words >= 1 && words <= 5
}

func looksLikeAddress(v string) bool {
	if len(v) < 5 || len(v) > 300 {
		return false
	}
	letters, digits, spaces := 0, 0, 0
	for _, r := range v {
		switch {
		case unicode.IsLetter(r):
			letters++
		case unicode.IsDigit(r):
			digits++
		case r == ' ':
			spaces++
		}
	}
	return letters >= 3 && (digits > 0 || spaces >= 2) && !strings.Contains(v, "@") && !strings.Contains(v, "://")
}

// ---------------------------------------------------------------- e-mail

func isLocalChar(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-' || c == '*'
}

func (s *scan) emails() {
	t := s.text
	for i := 0; i < len(t); i++ {
		if t[i] != '@' {
			continue
		}
		a := i
		for a > 0 && isLocalChar(t[a-1]) && i-a < 64 {
			a--
		}
		for a < i && (t[a] == '.' || t[a] == '-') {
			a++
		}
		if a == i || t[i-1] == '.' {
			continue
		}
		b := i + 1
		lastDot := -1
		for b < len(t) && (isAlnum(t[b]) || t[b] == '-' || t[b] == '.') && b-i < 254 {
			if t[b] == '.' {
				if b == i+1 || t[b-1] == '.' {
					break
				}
				lastDot = b
			}
			b++
		}
		for b > i+1 && (t[b-1] == '.' || t[b-1] == '-') {
			b--
		}
		if b <= i+1 {
			continue
		}
		lastDot = strings.LastIndexByte(t[i+1:b], '.')
		if lastDot < 0 {
			continue
		}
		lastDot += i + 1
		tld := t[lastDot+1 : b]
		if !(len(tld) >= 2 && allLetters(tld) || strings.HasPrefix(strings.ToLower(tld), "xn--") && len(tld) > 4) {
			continue
		}
		local := t[a:i]
		if strings.Contains(local, "*") {
			if strings.Count(local, "*") >= 2 {
				s.add(TypeEmail, 0.8, a, b, "masked", true)
			}
		} else {
			s.add(TypeEmail, 0.95, a, b, "", false)
		}
		i = b - 1
	}
}

func allLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isLetter(s[i]) {
			return false
		}
	}
	return true
}

// ---------------------------------------------------------------- IP addresses

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func (s *scan) ipv6() {
	t := s.text
	i := 0
	for i < len(t) {
		c := t[i]
		if !(isAlnum(c) || c == ':' || c == '.' || c == '%') {
			i++
			continue
		}
		j := i
		for j < len(t) && (isAlnum(t[j]) || t[j] == ':' || t[j] == '.' || t[j] == '%') {
			j++
		}
		run := t[i:j]
		start := i
		i = j
		for strings.HasSuffix(run, ".") {
			run = run[:len(run)-1]
		}
		if strings.Count(run, ":") < 2 {
			continue
		}
		addr, zone, _ := strings.Cut(run, "%")
		ok := true
		for k := 0; k < len(addr); k++ {
			if !(isHex(addr[k]) || addr[k] == ':' || addr[k] == '.') {
				ok = false
				break
			}
		}
		if !ok || (zone == "" && strings.Contains(run, "%")) {
			continue
		}
		if _, err := netip.ParseAddr(run); err != nil {
			continue
		}
		s.add(TypeIP, 0.65, start, start+len(run), "ipv6", false)
	}
}

func (s *scan) ipv4() {
	t := s.text
	for i := 0; i < len(t); i++ {
		if !isDigit(t[i]) || i > 0 && (isAlnum(t[i-1]) || t[i-1] == '.') {
			continue
		}
		j := i
		ok := true
		for oct := 0; oct < 4; oct++ {
			k := j
			for k < len(t) && isDigit(t[k]) && k-j < 4 {
				k++
			}
			n := k - j
			if n == 0 || n > 3 || n > 1 && t[j] == '0' {
				ok = false
				break
			}
			v := 0
			for x := j; x < k; x++ {
				v = v*10 + int(t[x]-'0')
			}
			if v > 255 {
				ok = false
				break
			}
			j = k
			if oct < 3 {
				if j >= len(t) || t[j] != '.' {
					ok = false
					break
				}
				j++
			}
		}
		if !ok || j < len(t) && (isDigit(t[j]) || isLetter(t[j])) {
			// skip the rest of this digit run
			for i+1 < len(t) && isDigit(t[i+1]) {
				i++
			}
			continue
		}
		s.add(TypeIP, 0.6, i, j, "ipv4", false)
		i = j - 1
	}
}

// ---------------------------------------------------------------- digit runs: cards, SSNs, phones

type group struct{ start, end int }

func (s *scan) digitRuns() {
	t := s.text
	chain, seps := s.chain[:0], s.seps[:0]
	defer func() { s.chain, s.seps = chain[:0], seps[:0] }()
	flush := func() {
		if len(chain) > 0 {
			s.windows(chain, seps)
		}
		chain, seps = chain[:0], seps[:0]
	}
	i := 0
	for i < len(t) {
		if !isDigit(t[i]) {
			i++
			continue
		}
		j := i
		for j < len(t) && isDigit(t[j]) {
			j++
		}
		if len(chain) > 0 {
			prev := chain[len(chain)-1]
			gap := t[prev.end:i]
			if len(gap) > 3 || !onlySepChars(gap) || strings.Count(gap, " ") > 1 {
				flush()
			} else {
				seps = append(seps, gap)
			}
		}
		// a digit run glued to letters is not a number of ours
		ext := j+1 < len(t) && t[j] == 'x' && isDigit(t[j+1]) // phone extension "555-0132x45"
		if i > 0 && isLetter(t[i-1]) || j < len(t) && isLetter(t[j]) && !ext {
			flush()
			i = j
			continue
		}
		chain = append(chain, group{i, j})
		i = j
	}
	flush()
}

func onlySepChars(g string) bool {
	for i := 0; i < len(g); i++ {
		switch g[i] {
		case ' ', '-', '.', '(', ')', '/':
		default:
			return false
		}
	}
	return true
}

func (s *scan) windows(gs []group, seps []string) {
	for i := 0; i < len(gs); {
		matched := false
		hi := i + 7
		if hi > len(gs)-1 {
			hi = len(gs) - 1
		}
		for j := hi; j >= i; j-- {
			if s.window(gs[i:j+1], seps[i:j]) {
				i = j + 1
				matched = true
				break
			}
		}
		if !matched {
			i++
		}
	}
}

var dateSeps = map[string]bool{"-": true, "/": true, ".": true}

func (s *scan) window(gs []group, seps []string) bool {
	t := s.text
	start, end := gs[0].start, gs[len(gs)-1].end
	plus := start > 0 && t[start-1] == '+'
	paren := start > 0 && t[start-1] == '('
	if start > 0 && (t[start-1] == '.' || t[start-1] == '-' && !(start > 1 && t[start-2] == ' ')) && len(gs) == 1 {
		return false
	}
	var sizes [8]int // windows hold at most 8 groups
	nd := 0
	for k, g := range gs {
		sizes[k] = g.end - g.start
		nd += sizes[k]
	}
	// Cards have 12–19 digits, SSNs 9, phone numbers 7–15: nothing else
	// is looked for in a window of digits.
	if nd < 7 || nd > 19 {
		return false
	}
	var buf [19]byte
	d := buf[:0]
	for _, g := range gs {
		d = append(d, t[g.start:g.end]...)
	}
	digits := string(d)
	uniform := true
	for _, sp := range seps {
		if sp != seps[0] {
			uniform = false
		}
	}
	sep := ""
	if len(seps) > 0 {
		sep = seps[0]
	}
	// IPv4-looking windows belong to the IP scanner.
	if len(gs) == 4 && uniform && sep == "." {
		return false
	}
	// Dates (2019-03-12, 12/03/2019, 12.03.2019) are not numbers of ours.
	if len(gs) == 3 && uniform && dateSeps[sep] && (sizes[0] == 4 && sizes[1] <= 2 && sizes[2] <= 2 || sizes[0] <= 2 && sizes[1] <= 2 && (sizes[2] == 4 || sizes[2] == 2)) {
		return false
	}
	// A bare number in an identifier/amount field is none of ours.
	if len(gs) == 1 && s.hint.idLike && !plus && !paren {
		return false
	}
	// Credit card.
	if nd >= 12 && nd <= 19 && uniform && (sep == "" || sep == " " || sep == "-") && validCard(digits) {
		minGroup := 99
		for _, z := range sizes[:len(gs)] {
			if z < minGroup {
				minGroup = z
			}
		}
		if len(gs) == 1 || minGroup >= 3 {
			conf := 0.85
			if len(gs) > 1 {
				conf = 0.9
			}
			if s.hint.typ == TypeCard || s.context(start, ctxCard) {
				conf = 0.95
			}
			s.add(TypeCard, conf, start, end, cardIssuer(digits), false)
			return true
		}
	}
	// US SSN.
	if nd == 9 && validSSN(digits) {
		if len(gs) == 3 && uniform && (sep == "-" || sep == " " || sep == ".") && sizes[0] == 3 && sizes[1] == 2 && sizes[2] == 4 {
			conf := 0.85
			if s.hint.typ == TypeSSN || s.context(start, ctxSSN) {
				conf = 0.95
			}
			s.add(TypeSSN, conf, start, end, "", false)
			return true
		}
		if len(gs) == 1 && (s.hint.typ == TypeSSN || s.context(start, ctxSSN)) {
			s.add(TypeSSN, 0.75, start, end, "", false)
			return true
		}
	}
	// Phone numbers.
	pstart := start
	if plus || paren {
		pstart--
	}
	pend := end
	if pend < len(t) && t[pend] == ')' && paren {
		pend++
	}
	for _, sp := range seps {
		if strings.Contains(sp, "/") && len(sp) == 1 {
			return false
		}
	}
	if plus && nd >= 8 && nd <= 15 && validE164(digits) {
		s.add(TypePhone, 0.85, pstart, pend, "e164", false)
		return true
	}
	if !plus {
		nanp := ""
		switch {
		case nd == 10 && len(gs) == 3 && sizes[0] == 3 && sizes[1] == 3 && sizes[2] == 4:
			nanp = digits
		case nd == 11 && len(gs) == 4 && sizes[0] == 1 && digits[0] == '1' && sizes[1] == 3 && sizes[2] == 3 && sizes[3] == 4:
			nanp = digits[1:]
		}
		if nanp != "" && validNANP(nanp) {
			s.add(TypePhone, 0.8, pstart, pend, "nanp", false)
			return true
		}
	}
	if nd >= 7 && nd <= 15 && !allSame(digits) && (s.hint.typ == TypePhone || s.context(pstart, ctxPhone) && !s.context(pstart, ctxNotPhone) || s.after(pend, ctxPhoneAfter)) {
		if len(gs) == 1 && nd < 9 && s.hint.typ != TypePhone {
			return false
		}
		s.add(TypePhone, 0.65, pstart, pend, "context", false)
		return true
	}
	return false
}

var (
	ctxCard       = []string{"card", "credit", "visa", "mastercard", "amex", "debit", "cc#", "cc:", "pan"}
	ctxSSN        = []string{"ssn", "social security", "social sec", "ss#"}
	ctxPhone      = []string{"phone", "tel", "mobile", "cell", "fax", "call", "sms", "whatsapp", "contact", "reach", "dial", "number", "ring", "desk", "landline", "text me", "answering", "message", "registered"}
	ctxNotPhone   = []string{"license", "licence", "account", "order", "invoice", "passport", "serial", "tracking", "policy", "ticket", "id:", "id "}
	ctxPhoneAfter = []string{"office", "fax", "mobile", "cell", "home", "work", "phone"}
)

// after reports whether one of the words starts within 3 bytes after pos.
func (s *scan) after(pos int, words []string) bool {
	e := pos + 12
	if e > len(s.text) {
		e = len(s.text)
	}
	w := s.text[pos:e]
	for _, k := range words {
		if i := indexFold(w, k); i >= 0 && i <= 3 {
			return true
		}
	}
	return false
}

// context reports whether one of the words occurs (ASCII case-insensitive)
// in the 40 bytes before pos.
func (s *scan) context(pos int, words []string) bool {
	a := pos - 40
	if a < 0 {
		a = 0
	}
	w := s.text[a:pos]
	for _, k := range words {
		if indexFold(w, k) >= 0 {
			return true
		}
	}
	return false
}

// indexFold is an ASCII case-insensitive strings.Index (k is lower-case).
func indexFold(s, k string) int {
	n := len(k)
	for i := 0; i+n <= len(s); i++ {
		ok := true
		for j := 0; j < n; j++ {
			c := s[i+j]
			if c >= 'A' && c <= 'Z' {
				c += 32
			}
			if c != k[j] {
				ok = false
				break
			}
		}
		if ok {
			return i
		}
	}
	return -1
}

// ---------------------------------------------------------------- IBAN

func (s *scan) ibans() {
	t := s.text
	for i := 0; i+15 <= len(t); i++ {
		if !isLetter(t[i]) || !isLetter(t[i+1]) || !isDigit(t[i+2]) || !isDigit(t[i+3]) || i > 0 && isAlnum(t[i-1]) {
			continue
		}
		if _, ok := ibanLengths[strings.ToUpper(t[i:i+2])]; !ok {
			continue
		}
		// collect alphanumerics with single spaces between groups
		var b []byte
		var ends []int // candidate ends (byte offsets) at group boundaries
		j := i
		for j < len(t) && len(b) < 34 {
			c := t[j]
			if isAlnum(c) {
				if c >= 'a' && c <= 'z' {
					c -= 32
				}
				b = append(b, c)
				j++
				if j == len(t) || !isAlnum(t[j]) {
					ends = append(ends, j)
				}
				continue
			}
			if c == ' ' && j+1 < len(t) && isAlnum(t[j+1]) && j > i {
				j++
				continue
			}
			break
		}
		// try the longest candidate ending at a group boundary first
		found := false
		for k := len(ends) - 1; k >= 0; k-- {
			e := ends[k]
			cand := strings.ToUpper(strings.ReplaceAll(t[i:e], " ", ""))
			if e < len(t) && isAlnum(t[e]) {
				continue
			}
			if mixedCase(t[i:e]) {
				continue // "Se12…yD1q": a random token; an IBAN is written in one case
			}
			if validIBAN(cand) {
				s.add(TypeIBAN, 0.95, i, e, strings.Clone(cand[:2]), false) // cand may share the body's memory
				i = e - 1
				found = true
				break
			}
		}
		_ = found
	}
}

// mixedCase: s has both lower- and upper-case ASCII letters.
func mixedCase(s string) bool {
	lo, up := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		lo = lo || c >= 'a' && c <= 'z'
		up = up || c >= 'A' && c <= 'Z'
	}
	return lo && up
}

// ---------------------------------------------------------------- masked values

func (s *scan) masked() {
	t := s.text
	for i := 0; i < len(t); i++ {
		c := t[i]
		isMask := maskRune(c) || c == 0xE2 && strings.HasPrefix(t[i:], "\u2022")
		if !isMask && !isDigit(c) {
			continue
		}
		if i > 0 && isLetter(t[i-1]) {
			continue
		}
		j := i
		syms, masks, digits := 0, 0, 0
		var groups []int
		cur := 0
		for j < len(t) {
			c := t[j]
			switch {
			case c == 0xE2 && strings.HasPrefix(t[j:], "\u2022"):
				masks++
				syms++
				cur++
				j += 3
				continue
			case maskRune(c):
				masks++
			case isDigit(c):
				digits++
			case (c == ' ' || c == '-') && cur > 0 && j+1 < len(t) && (maskRune(t[j+1]) || isDigit(t[j+1]) || t[j+1] == 0xE2):
				groups = append(groups, cur)
				cur = 0
				j++
				continue
			default:
				goto done
			}
			syms++
			cur++
			j++
		}
	done:
		if cur > 0 {
			groups = append(groups, cur)
		}
		if j < len(t) && isLetter(t[j]) || masks < 3 {
			i = j
			continue
		}
		// trailing digits visible
		switch {
		case syms >= 12 && syms <= 19 && masks >= 4 && digits >= 2 && digits <= 10 && isDigit(t[j-1]):
			s.add(TypeCard, 0.8, i, j, "masked", true)
		case syms == 9 && len(groups) == 3 && groups[0] == 3 && groups[1] == 2 && groups[2] == 4 && digits <= 4:
			s.add(TypeSSN, 0.8, i, j, "masked", true)
		}
		i = j
	}
}

// ---------------------------------------------------------------- keyword-driven detectors

const (
	kPrefix = iota
	kKeyword
	kJWT
	kPEM
	kPEMB64
	kURLCred
	kBearer
	kBasic
	kDOB
	kStreet
	kAzure
	kUnit
	kStreetPre
	kName
)

type acPattern struct {
	lit  string
	kind int
	rule *prefixRule
}

type charset func(byte) bool

func csAlnum(c byte) bool    { return isAlnum(c) }
func csToken(c byte) bool    { return isAlnum(c) || c == '_' || c == '-' }
func csTokenDot(c byte) bool { return isAlnum(c) || c == '_' || c == '-' || c == '.' }
func csB64(c byte) bool {
	return isAlnum(c) || c == '+' || c == '/' || c == '=' || c == '_' || c == '-'
}
func csHex(c byte) bool   { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }
func csUpper(c byte) bool { return c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }
func csSlackHook(c byte) bool {
	return isAlnum(c) || c == '/'
}

// prefixRule describes a credential format with a fixed prefix.
type prefixRule struct {
	name       string
	prefixes   []string
	body       charset
	min, max   int // body length bounds
	exact      bool
	minEntropy float64
}

var prefixRules = []*prefixRule{
	{name: "aws_access_key", prefixes: []string{"AKIA", "ASIA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA", "ABIA", "ACCA"}, body: csUpper, min: 16, max: 16, exact: true},
	{name: "aws_access_key", prefixes: []string{"A3T"}, body: csUpper, min: 17, max: 17, exact: true},
	{name: "aws_bedrock_key", prefixes: []string{"bedrock-api-key-"}, body: csB64, min: 20, max: 400},
	{name: "aws_bedrock_key", prefixes: []string{"ABSK"}, body: csB64, min: 100, max: 400, minEntropy: 4},
	{name: "aws_appsync_key", prefixes: []string{"da2-"}, body: csAlnum, min: 26, max: 26, exact: true},
	{name: "aws_mws_key", prefixes: []string{"amzn.mws."}, body: csToken, min: 36, max: 36, exact: true},
	{name: "gcp_api_key", prefixes: []string{"AIza"}, body: csToken, min: 35, max: 35, exact: true},
	{name: "github_token", prefixes: []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_"}, body: csAlnum, min: 36, max: 255},
	{name: "github_token", prefixes: []string{"github_pat_"}, body: csToken, min: 22, max: 255},
	{name: "gitlab_token", prefixes: []string{"glpat-", "gloas-", "gldt-", "glrt-", "glrtr-", "glcbt-", "glptt-", "glft-", "glimt-", "glagent-", "glsoat-", "glffct-", "glwt-"}, body: csTokenDot, min: 15, max: 255},
	{name: "gitlab_token", prefixes: []string{"GR1348941"}, body: csToken, min: 20, max: 64},
	{name: "gitlab_session", prefixes: []string{"_gitlab_session="}, body: csHex, min: 32, max: 64},
	{name: "ntlm_auth", prefixes: []string{"TlRMTVNTUAAD"}, body: csB64, min: 40, max: 2048},
	{name: "slack_token", prefixes: []string{"xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "xoxe-", "xoxe.xoxp-"}, body: csToken, min: 10, max: 255},
	{name: "slack_webhook", prefixes: []string{"hooks.slack.com/services/"}, body: csSlackHook, min: 20, max: 120},
	{name: "discord_webhook", prefixes: []string{"discord.com/api/webhooks/", "discordapp.com/api/webhooks/"}, body: func(c byte) bool { return csToken(c) || c == '/' }, min: 40, max: 200},
	{name: "stripe_key", prefixes: []string{"sk_live_", "sk_test_", "rk_live_", "rk_test_"}, body: csAlnum, min: 16, max: 255},
	{name: "webhook_secret", prefixes: []string{"whsec_"}, body: csB64, min: 24, max: 255},
	{name: "sendgrid_key", prefixes: []string{"SG."}, body: csTokenDot, min: 60, max: 80},
	{name: "openai_key", prefixes: []string{"sk-"}, body: csToken, min: 32, max: 255, minEntropy: 3.5},
	{name: "npm_token", prefixes: []string{"npm_"}, body: csAlnum, min: 36, max: 36, exact: true},
	{name: "pypi_token", prefixes: []string{"pypi-AgEIcHlwaS5vcmc"}, body: csToken, min: 50, max: 255},
	{name: "docker_token", prefixes: []string{"dckr_pat_", "dckr_oat_"}, body: csToken, min: 20, max: 100},
	{name: "docker_swarm", prefixes: []string{"SWMTKN-1-", "SWMKEY-1-"}, body: csToken, min: 40, max: 200},
	{name: "digitalocean_token", prefixes: []string{"dop_v1_", "doo_v1_", "dor_v1_"}, body: csHex, min: 64, max: 64, exact: true},
	{name: "huggingface_token", prefixes: []string{"hf_"}, body: csAlnum, min: 30, max: 40},
	{name: "figma_token", prefixes: []string{"figd_"}, body: csToken, min: 30, max: 60},
	{name: "cloudflare_token", prefixes: []string{"cfat_", "cfut_", "cfk_"}, body: csToken, min: 30, max: 80},
	{name: "databricks_token", prefixes: []string{"dapi"}, body: csHex, min: 32, max: 32, exact: true},
	{name: "age_secret_key", prefixes: []string{"AGE-SECRET-KEY-1"}, body: csUpper, min: 58, max: 58, exact: true},
	{name: "linear_key", prefixes: []string{"lin_api_"}, body: csAlnum, min: 40, max: 40, exact: true},
	{name: "groq_key", prefixes: []string{"gsk_"}, body: csAlnum, min: 40, max: 64},
	{name: "xai_key", prefixes: []string{"xai-"}, body: csAlnum, min: 70, max: 90},
	{name: "perplexity_key", prefixes: []string{"pplx-"}, body: csAlnum, min: 40, max: 60},
	{name: "planetscale_token", prefixes: []string{"pscale_tkn_", "pscale_pw_", "pscale_oauth_"}, body: csToken, min: 30, max: 80},
	{name: "postman_key", prefixes: []string{"PMAK-"}, body: csToken, min: 50, max: 80},
	{name: "newrelic_key", prefixes: []string{"NRAK-", "NRJS-", "NRAA-", "NRRA-", "NRBR-"}, body: csAlnum, min: 19, max: 40},
	{name: "newrelic_key", prefixes: []string{"NRII-"}, body: csToken, min: 20, max: 40},
	{name: "heroku_key", prefixes: []string{"HRKU-"}, body: csToken, min: 30, max: 80},
	{name: "shopify_token", prefixes: []string{"shpat_", "shpss_", "shpca_", "shppa_"}, body: csHex, min: 32, max: 32, exact: true},
	{name: "atlassian_token", prefixes: []string{"ATATT3", "ATCTT3"}, body: func(c byte) bool { return csToken(c) || c == '=' }, min: 50, max: 255},
	{name: "bitbucket_token", prefixes: []string{"ATBB"}, body: csAlnum, min: 28, max: 40},
	{name: "bitbucket_token", prefixes: []string{"BBDC-"}, body: csB64, min: 40, max: 60},
	{name: "grafana_token", prefixes: []string{"glc_", "glsa_"}, body: csB64, min: 32, max: 400},
	{name: "vault_token", prefixes: []string{"hvs.", "hvb."}, body: csToken, min: 24, max: 255},
	{name: "terraform_token", prefixes: []string{".atlasv1."}, body: csToken, min: 60, max: 100},
	{name: "sonarqube_token", prefixes: []string{"squ_", "sqp_", "sqa_"}, body: csHex, min: 40, max: 40, exact: true},
	{name: "alibaba_key", prefixes: []string{"LTAI"}, body: csAlnum, min: 12, max: 20},
	{name: "akamai_token", prefixes: []string{"akab-"}, body: csToken, min: 30, max: 60},
	{name: "nuget_key", prefixes: []string{"oy2"}, body: csAlnum, min: 43, max: 43, exact: true},
	{name: "dropbox_token", prefixes: []string{"sl."}, body: csToken, min: 100, max: 200},
	{name: "twitter_bearer", prefixes: []string{"AAAAAAAAAAAAAAAAAAAAA"}, body: func(c byte) bool { return csB64(c) || c == '%' }, min: 50, max: 200},
	{name: "azure_storage_key", prefixes: []string{"AccountKey="}, body: csB64, min: 40, max: 100},
	{name: "azure_sas", prefixes: []string{"SharedAccessSignature=", "SharedAccessKey="}, body: csB64, min: 20, max: 200},
}

var secretKeywords = []string{"password", "passwd", "pwd", "pswd", "psswd", "pswrd", "psword", "psswrd", "pssword", "paswd", "paswrd", "pasword", "passphrase", "pass", "pw", "identified by", "secret", "token", "apikey", "api_key", "api-key", "access_key", "accesskey", "private_key", "auth", "credential", "key"}

var streetSuffixes = []string{"Street", "St", "Avenue", "Ave", "Road", "Rd", "Boulevard", "Blvd", "Lane", "Ln", "Drive", "Dr", "Court", "Ct", "Way", "Place", "Pl", "Terrace", "Highway", "Hwy", "Parkway", "Pkwy", "Square", "Sq", "Circle", "Cir", "Trail", "Alley", "Crescent", "Close", "Gardens", "Row", "Plaza", "Loop", "Pike", "Expressway", "Freeway"}

// streetPrefixes start a street name in Romance-language addresses
// ("Via delle Coste 41", "Rua Igreja 25", "Rue de Rivoli 12").
var streetPrefixes = []string{"Via", "Viale", "Piazza", "Corso", "Rua", "Rue", "Avenue", "Calle", "Avenida", "Carrer", "Plaza", "Boulevard", "Chemin", "Strada", "Ulica", "Ul."}

// nameCues introduce a person's name in free text. Titles are matched
// case-sensitively, phrases case-insensitively.
var nameCues = []string{"my name is ", "name: ", "name is ", "dear ", "Mr. ", "Mrs. ", "Ms. ", "Dr. ", "Mr ", "Mrs ", "Ms ", "Prof. ", "signed by ", "regards, ", "contact person: ", "customer: ", "patient: "}

// unitWords precede a number in postal addresses (apartment, suite, box).
var unitWords = []string{"Apt. ", "Apt ", "Suite ", "P.O. Box ", "PO Box ", "PSC ", "Flat "}

var euroStreetEnds = []string{"katu", "gatan", "vägen", "vej", "weg", "straße", "strasse", "laan", "gasse", "gata", "veien", "tie", "polku", "utca"}

// kwMatcher is compiled once: the literals do not depend on configuration.
var kwMatcher struct {
	once sync.Once
	m    *ac.Matcher
	pats []acPattern
}

func buildAC() (*ac.Matcher, []acPattern) {
	kwMatcher.once.Do(func() {
		pats := acPatterns()
		lits := make([]string, len(pats))
		for i, p := range pats {
			lits[i] = p.lit
		}
		kwMatcher.m, kwMatcher.pats = ac.New(lits, true), pats
	})
	return kwMatcher.m, kwMatcher.pats
}

// acPatterns lists the literals of the keyword-driven scanners.
func acPatterns() []acPattern {
	var pats []acPattern
	for _, r := range prefixRules {
		for _, p := range r.prefixes {
			pats = append(pats, acPattern{lit: p, kind: kPrefix, rule: r})
		}
	}
	for _, k := range secretKeywords {
		pats = append(pats, acPattern{lit: k, kind: kKeyword})
	}
	pats = append(pats,
		acPattern{lit: "eyJ", kind: kJWT},
		acPattern{lit: "-----BEGIN ", kind: kPEM},
		acPattern{lit: "LS0tLS1CRUdJTi", kind: kPEMB64},
		acPattern{lit: "://", kind: kURLCred},
		acPattern{lit: "bearer ", kind: kBearer},
		acPattern{lit: "basic ", kind: kBasic},
		acPattern{lit: "born", kind: kDOB},
		acPattern{lit: "birth", kind: kDOB},
		acPattern{lit: "dob", kind: kDOB},
		acPattern{lit: "Q~", kind: kAzure},
	)
	for _, st := range streetSuffixes {
		pats = append(pats, acPattern{lit: " " + st, kind: kStreet})
	}
	for _, w := range streetPrefixes {
		pats = append(pats, acPattern{lit: w + " ", kind: kStreetPre})
	}
	for _, w := range nameCues {
		pats = append(pats, acPattern{lit: w, kind: kName})
	}
	for _, u := range unitWords {
		pats = append(pats, acPattern{lit: u, kind: kUnit})
	}
	for _, st := range euroStreetEnds {
		pats = append(pats, acPattern{lit: st + " ", kind: kStreet})
	}
	return pats
}

func (s *scan) keywords() {
	t := s.text
	k := s.c.kw
	st := 0
	for i := 0; i < len(t); i++ {
		st = k.Next(st, t[i])
		if !k.HasOut(st) {
			continue
		}
		for _, id := range k.Out(st) {
			s.keyword(s.c.acPats[id], i+1-k.Len(id), i+1)
		}
	}
}

// keyword runs the scanner of the literal p found at t[a:e].
func (s *scan) keyword(p acPattern, a, e int) {
	t := s.text
	switch p.kind {
	case kPrefix:
		if t[a:e] != p.lit { // prefixes are case-sensitive
			return
		}
		s.prefixToken(p.rule, a, e)
	case kKeyword:
		s.keyPair(a, e, p.lit)
	case kJWT:
		if t[a:e] == "eyJ" {
			s.jwt(a)
		}
	case kPEM:
		if t[a:e] == p.lit {
			s.pem(a)
		}
	case kPEMB64:
		if t[a:e] == p.lit {
			s.pemB64(a)
		}
	case kURLCred:
		s.urlCred(e)
	case kBearer:
		s.authScheme(a, e, false)
	case kBasic:
		s.authScheme(a, e, true)
	case kDOB:
		s.dob(a, e)
	case kStreet:
		if t[a:e] == p.lit {
			s.street(a, e, p.lit)
		}
	case kAzure:
		s.azureSecret(a)
	case kStreetPre:
		if t[a:e] == p.lit && (a == 0 || !isLetter(t[a-1])) {
			s.streetPre(a, e)
		}
	case kName:
		if (p.lit[0] >= 'A' && p.lit[0] <= 'Z') && t[a:e] != p.lit || a > 0 && isLetter(t[a-1]) {
			return
		}
		s.personName(e)
	case kUnit:
		if t[a:e] == p.lit && (a == 0 || !isLetter(t[a-1])) {
			s.unit(a, e)
		}
	}
}

func (s *scan) prefixToken(r *prefixRule, a, e int) {
	t := s.text
	if a > 0 && (isAlnum(t[a-1]) || t[a-1] == '_') && r.prefixes[0][0] != '.' && !strings.Contains(r.prefixes[0], "/") && !strings.HasSuffix(r.prefixes[0], "=") {
		return
	}
	j := e
	for j < len(t) && r.body(t[j]) && j-e <= r.max {
		j++
	}
	n := j - e
	if n < r.min || n > r.max {
		return
	}
	if r.exact && j < len(t) && isAlnum(t[j]) {
		return
	}
	body := t[e:j]
	if placeholderToken(body) || fakeSequence(body) {
		return
	}
	// an all-digit body where the format has letters is a dummy value
	if len(digitsOnly(body)) == len(body) && r.body('a') && len(body) >= 12 {
		return
	}
	// a host name, not a token ("akab-….akamaiapis.net")
	if j+1 < len(t) && t[j] == '.' && isLetter(t[j+1]) && !r.body('.') {
		return
	}
	if r.minEntropy > 0 && entropy(body) < r.minEntropy {
		return
	}
	start := a
	if r.name == "terraform_token" { // <14 chars>.atlasv1.<body>
		k := a
		for k > 0 && isAlnum(t[k-1]) && a-k < 14 {
			k--
		}
		start = k
	}
	s.add(TypeSecret, 0.95, start, j, r.name, false)
}

func placeholderToken(b string) bool {
	l := strings.ToLower(b)
	return strings.Contains(l, "example") || strings.Contains(l, "xxxxxx") || strings.Contains(l, "placeholder") || strings.Contains(l, "your_") || strings.Contains(l, "<") || strings.Contains(l, "*****") || len(b) > 8 && allSame(b)
}

// fakeSequence reports documentation-style bodies: runs of six or more
// consecutive ascending or descending characters ("123456", "abcdef",
// "654321") or digits only where letters are expected.
func fakeSequence(b string) bool {
	run, dir := 1, 0
	for i := 1; i < len(b); i++ {
		d := int(b[i]) - int(b[i-1])
		if (d == 1 || d == -1) && (dir == 0 || d == dir) && isAlnum(b[i]) && isAlnum(b[i-1]) {
			run++
			dir = d
			if run >= 6 {
				return true
			}
			continue
		}
		run, dir = 1, 0
		if d == 1 || d == -1 {
			run, dir = 2, d
		}
	}
	return false
}

// entropy returns the Shannon entropy in bits per byte.
func entropy(s string) float64 {
	if s == "" {
		return 0
	}
	var counts [256]int
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	h := 0.0
	n := float64(len(s))
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

var secretStop = map[string]bool{
	"string": true, "str": true, "int": true, "bool": true, "boolean": true, "none": true, "null": true, "nil": true, "true": true, "false": true,
	"undefined": true, "required": true, "optional": true, "empty": true, "hidden": true, "secret": true, "password": true, "token": true, "value": true,
	"example": true, "sample": true, "test": true, "dummy": true, "xxx": true, "redacted": true, "masked": true, "changeme": true, "yes": true, "no": true,
	"bearer": true, "basic": true, "text": true, "char": true, "varchar": true, "object": true, "number": true, "integer": true, "self": true, "this": true,
	"new": true, "get": true, "set": true, "env": true, "input": true, "type": true, "field": true, "key": true, "data": true, "default": true,
}

// placeholder reports values that stand for a secret without being one.
func placeholder(v string) bool {
	l := strings.ToLower(strings.TrimSpace(v))
	if l == "" || secretStop[l] {
		return true
	}
	switch l[0] {
	case '$', '%', '<', '{', '[', '(', '@':
		return true
	}
	if strings.ContainsAny(l, "()") || strings.Contains(l, "process.env") || strings.Contains(l, "os.environ") || strings.Contains(l, "getenv") {
		return true
	}
	if strings.Contains(l, "example") || strings.Contains(l, "placeholder") || strings.HasPrefix(l, "your") || strings.Contains(l, "xxxx") || strings.Contains(l, "****") {
		return true
	}
	return allSame(l)
}

// plausibleSecret decides whether a keyed value looks like a real credential.
func plausibleSecret(v string, short bool) bool {
	if len(v) < 4 || len(v) > 256 || placeholder(v) {
		return false
	}
	if len(v) >= 16 && fakeSequence(v) { // documentation token ("abcdef123456…")
		return false
	}
	if short && len(v) < 6 {
		return false
	}
	var lo, up, di, sy bool
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= 'a' && c <= 'z':
			lo = true
		case c >= 'A' && c <= 'Z':
			up = true
		case c >= '0' && c <= '9':
			di = true
		case c >= 0x80:
			lo = true
		default:
			sy = true
		}
	}
	classes := 0
	for _, b := range []bool{lo, up, di, sy} {
		if b {
			classes++
		}
	}
	if di && !lo && !up && !sy {
		return len(v) >= 6 && !allSame(v)
	}
	return classes >= 2 || len(v) >= 10 && entropy(v) >= 3.0
}

var keyQualifiers = []string{"secret", "access", "api", "private", "auth", "signing", "encryption", "master", "client", "license", "subscription"}

func (s *scan) keyPair(a, e int, kw string) {
	t := s.text
	short := kw == "pass" || kw == "pw" || kw == "pwd" || kw == "pswd" || kw == "key" || kw == "auth" || kw == "token"
	screaming := a > 0 && t[a-1] >= 'A' && t[a-1] <= 'Z' && t[a:e] == strings.ToUpper(t[a:e])
	if a > 0 && isLetter(t[a-1]) && !(screaming && kw == "pass") {
		// inside a word: allowed for the long keywords ("ANYpassword",
		// "MYSQL_PASSWORD" is covered by '_'), not for the short ones.
		if short && !(kw == "key" || kw == "token") {
			return
		}
		if kw == "key" || kw == "token" {
			// "secret-ANYkey", "SecretKey": need a qualifier in the same word
			k := a
			for k > 0 && (isAlnum(t[k-1]) || t[k-1] == '_' || t[k-1] == '-') && a-k < 24 {
				k--
			}
			if !hasAnyFold(t[k:a], keyQualifiers) {
				return
			}
		}
	} else if kw == "key" {
		// "SECRET KEY:", "access key:", "Authentication key:"
		k := a
		if k > 0 && (t[k-1] == ' ' || t[k-1] == '_' || t[k-1] == '-') {
			k--
		}
		w := k
		for w > 0 && isLetter(t[w-1]) && k-w < 16 {
			w--
		}
		if !hasAnyFold(t[w:k], keyQualifiers) {
			return
		}
	}
	i := e
	for i < len(t) && (isAlnum(t[i]) || t[i] == '_' || t[i] == '-' || t[i] == '.') && i-e < 24 {
		i++
	}
	// a short keyword must end its word or be followed by a separator
	// ("pw_hash" yes, "PWR_MGM" and "pwdump" no)
	if short && i > e && t[e] != '_' && t[e] != '-' && t[e] != '.' && !(kw == "pass" && strings.EqualFold(t[e:i], "word")) {
		return
	}
	if i < len(t) && (t[i] == '"' || t[i] == '\'') {
		i++
	}
	sp := 0
	for i < len(t) && (t[i] == ' ' || t[i] == '\t') && sp < 3 {
		i++
		sp++
	}
	// command-line option ("--password X", "--super-secret_token X") or
	// a definition ("%define token X", "SET password X", "export TOKEN X")
	w := a
	for w > 0 && (isAlnum(t[w-1]) || t[w-1] == '_' || t[w-1] == '-') {
		w--
	}
	cli := sp == 1 && t[w] == '-' && (w == 0 || t[w-1] == ' ' || t[w-1] == '\t')
	if sp == 1 && !cli && w > 0 && t[w-1] == ' ' {
		pw := w - 1
		for pw > 0 && isLetter(t[pw-1]) {
			pw--
		}
		switch strings.ToLower(t[pw : w-1]) {
		case "define", "global", "set", "export":
			cli = true
		}
	}
	quotedNext := sp >= 1 && i < len(t) && (t[i] == '"' || t[i] == '\'')
	switch {
	case strings.HasPrefix(t[i:], "=>") || strings.HasPrefix(t[i:], ":=") || strings.HasPrefix(t[i:], "=="):
		i += 2
	case strings.HasPrefix(t[i:], "!="):
		i += 2
	case i < len(t) && (t[i] == ':' || t[i] == '='):
		i++
	case cli, quotedNext, kw == "identified by" && sp >= 1:
	default:
		return
	}
	for i < len(t) && (t[i] == ' ' || t[i] == '\t') {
		i++
	}
	q := byte(0)
	if i < len(t) && (t[i] == '"' || t[i] == '\'' || t[i] == '`') {
		q = t[i]
		i++
	}
	j := i
	if q != 0 {
		for j < len(t) && t[j] != q && t[j] != '\n' && j-i <= 256 {
			j++
		}
		if j >= len(t) || t[j] != q {
			return
		}
	} else {
		for j < len(t) && !strings.ContainsRune(" \t\r\n,;)}]\"'<>&", rune(t[j])) && j-i <= 256 {
			j++
		}
	}
	v := t[i:j]
	if _, ok := s.parseJWT(v); ok {
		return
	}
	if lv := strings.ToLower(v); strings.HasPrefix(lv, "0x") || strings.HasPrefix(lv, "file:") || strings.HasPrefix(lv, "env:") || strings.HasPrefix(lv, "fd:") {
		return
	}
	if !plausibleSecret(v, short) {
		return
	}
	detail := "password"
	switch kw {
	case "secret":
		detail = "secret"
	case "token", "auth":
		detail = "token"
	case "apikey", "api_key", "api-key", "access_key", "accesskey", "private_key", "key":
		detail = "api_key"
	case "credential":
		detail = "credential"
	}
	s.add(TypeSecret, 0.75, i, j, detail, false)
}

func hasAnyFold(s string, words []string) bool {
	for _, w := range words {
		if indexFold(s, w) >= 0 {
			return true
		}
	}
	return false
}

func isB64URL(c byte) bool { return isAlnum(c) || c == '-' || c == '_' }

func (s *scan) jwt(a int) {
	t := s.text
	if a > 0 && isB64URL(t[a-1]) {
		return
	}
	j := a
	for j < len(t) && (isB64URL(t[j]) || t[j] == '.' || t[j] == '=') {
		j++
	}
	tok, ok := s.parseJWT(t[a:j])
	if !ok || tok.Malformed != "" {
		return
	}
	s.add(TypeJWT, 0.95, a, j, tok.Alg, false)
}

func (s *scan) pem(a int) {
	t := s.text
	end := strings.Index(t[a+11:], "-----")
	if end < 0 || end > 60 {
		return
	}
	header := t[a+11 : a+11+end]
	if !pemHeaders[header] {
		return
	}
	stop := a + 11 + end + 5
	if k := strings.Index(t[stop:], "-----END "); k >= 0 {
		if l := strings.Index(t[stop+k+9:], "-----"); l >= 0 {
			stop = stop + k + 9 + l + 5
		}
	}
	s.add(TypeSecret, 0.99, a, stop, "private_key", false)
}

var pemHeaders = map[string]bool{
	"PRIVATE KEY": true, "RSA PRIVATE KEY": true, "EC PRIVATE KEY": true, "DSA PRIVATE KEY": true, "OPENSSH PRIVATE KEY": true,
	"ENCRYPTED PRIVATE KEY": true, "PGP PRIVATE KEY BLOCK": true, "SSH2 ENCRYPTED PRIVATE KEY": true, "ANY PRIVATE KEY": true,
}

func (s *scan) pemB64(a int) {
	t := s.text
	j := a
	for j < len(t) && (csB64(t[j]) || t[j] == '\n' || t[j] == '\r') && j-a < 1<<16 {
		j++
	}
	raw := strings.NewReplacer("\n", "", "\r", "").Replace(t[a:j])
	raw = raw[:len(raw)/4*4]
	dec, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		dec, err = base64.StdEncoding.DecodeString(strings.TrimRight(raw, "="))
		if err != nil {
			return
		}
	}
	if strings.Contains(string(dec), "PRIVATE KEY") {
		s.add(TypeSecret, 0.95, a, j, "private_key", false)
	}
}

func (s *scan) urlCred(e int) {
	t := s.text
	k := e - 3
	if k == 0 || !isLetter(t[k-1]) {
		return
	}
	j := e
	colon := -1
	for j < len(t) && j-e < 256 {
		c := t[j]
		if c == '@' {
			break
		}
		if c == '/' || c == ' ' || c == '\n' || c == '"' || c == '\'' || c == '?' || c == '#' {
			return
		}
		if c == ':' && colon < 0 {
			colon = j
		}
		j++
	}
	if j >= len(t) || t[j] != '@' || colon < 0 {
		return
	}
	pw := t[colon+1 : j]
	if len(pw) < 3 || placeholder(pw) {
		return
	}
	s.add(TypeSecret, 0.97, colon+1, j, "url_password", false)
}

func (s *scan) authScheme(a, e int, basic bool) {
	t := s.text
	if a > 0 && isAlnum(t[a-1]) {
		return
	}
	if e < len(t) && (t[e] == '"' || t[e] == '\'') {
		e++
	}
	j := e
	for j < len(t) && (isAlnum(t[j]) || strings.IndexByte("._~+/=-", t[j]) >= 0) {
		j++
	}
	tok := t[e:j]
	if len(tok) < 12 || placeholder(tok) {
		return
	}
	if basic {
		dec, err := base64.StdEncoding.DecodeString(tok)
		if err != nil || !strings.Contains(string(dec), ":") {
			return
		}
		s.add(TypeSecret, 0.85, e, j, "basic_auth", false)
		return
	}
	if strings.HasPrefix(tok, "eyJ") {
		return // the JWT scanner reports it
	}
	if entropy(tok) < 3.0 {
		return
	}
	s.add(TypeSecret, 0.8, e, j, "bearer_token", false)
}

var months = []string{"january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"}

func (s *scan) dob(a, e int) {
	t := s.text
	if a > 0 && isLetter(t[a-1]) {
		return
	}
	// find the first digit or month name within 30 bytes
	lim := e + 30
	if lim > len(t) {
		lim = len(t)
	}
	for i := e; i < lim; i++ {
		c := t[i]
		if !isDigit(c) && !isLetter(c) {
			continue
		}
		if isLetter(c) && !startsWithMonth(t[i:]) {
			continue
		}
		// try candidates ending at token boundaries, longest first
		max := i + 24
		if max > len(t) {
			max = len(t)
		}
		for k := max; k > i+5; k-- {
			if k < len(t) && isAlnum(t[k]) {
				continue
			}
			if _, ok := parseDate(t[i:k]); ok {
				s.add(TypeDOB, 0.8, i, k, "", false)
				return
			}
		}
		if isDigit(c) {
			return
		}
	}
}

func startsWithMonth(s string) bool {
	for _, m := range months {
		if len(s) >= len(m) && strings.EqualFold(s[:len(m)], m) {
			return true
		}
	}
	return false
}

func isCapWord(w string) bool {
	if w == "" {
		return false
	}
	r, _ := utf8.DecodeRuneInString(w)
	if unicode.IsUpper(r) {
		return true
	}
	// ordinals such as 5th, 21st
	return isDigit(w[0]) && (strings.HasSuffix(w, "th") || strings.HasSuffix(w, "st") || strings.HasSuffix(w, "nd") || strings.HasSuffix(w, "rd"))
}

func (s *scan) street(a, e int, lit string) {
	t := s.text
	if lit[0] == ' ' {
		// English form: <number> <Capitalized words> <Suffix>
		if e < len(t) && isLetter(t[e]) {
			return
		}
		end := e
		if end < len(t) && t[end] == '.' {
			end++
		}
		words := strings.Fields(t[max0(a-60):a])
		if len(words) < 2 {
			return
		}
		n := 0
		for k := len(words) - 1; k >= 0 && n < 4; k-- {
			w := strings.Trim(words[k], ",")
			if isNumberToken(w) && n > 0 {
				start := strings.LastIndex(t[:a], w)
				if start < 0 {
					return
				}
				s.add(TypeAddress, 0.65, start, end, "street", false)
				return
			}
			if !isCapWord(w) {
				return
			}
			n++
		}
		return
	}
	// Nordic/German form: <Name><suffix> <number>
	w := a
	for w > 0 && (isLetter(t[w-1]) || t[w-1] >= 0x80) {
		w--
	}
	if w == a && !(a > 0 && t[a-1] == ' ') {
		// suffix is the whole word (e.g. "Weg 5") - fine
	}
	j := e
	k := j
	for k < len(t) && isDigit(t[k]) {
		k++
	}
	if k == j || k-j > 5 || w == a {
		return
	}
	r, _ := utf8.DecodeRuneInString(t[w:])
	if !unicode.IsUpper(r) {
		return
	}
	s.add(TypeAddress, 0.6, w, k, "street", false)
}

func max0(i int) int {
	if i < 0 {
		return 0
	}
	return i
}

func isNumberToken(w string) bool {
	if w == "" || len(w) > 7 || !isDigit(w[0]) {
		return false
	}
	digits := 0
	for i := 0; i < len(w); i++ {
		if isDigit(w[i]) {
			digits++
		} else if !isLetter(w[i]) && w[i] != '-' {
			return false
		}
	}
	return digits >= 1 && digits <= 6 && len(w)-digits <= 1
}

// streetPre: <prefix> <1–4 words, the last capitalised> <house number>.
func (s *scan) streetPre(a, e int) {
	t := s.text
	j := e
	words := 0
	capital := false
	for words < 5 {
		k := j
		for k < len(t) && (isLetter(t[k]) || t[k] >= 0x80 || t[k] == '\'' || t[k] == '-') {
			k++
		}
		if k == j {
			break
		}
		r, _ := utf8.DecodeRuneInString(t[j:])
		capital = capital || unicode.IsUpper(r)
		words++
		j = k
		if j < len(t) && t[j] == ' ' {
			j++
		} else {
			break
		}
	}
	if words == 0 || !capital || j >= len(t) || !isDigit(t[j]) {
		return
	}
	k := j
	for k < len(t) && isDigit(t[k]) && k-j < 5 {
		k++
	}
	if k < len(t) && isDigit(t[k]) {
		return
	}
	s.add(TypeAddress, 0.6, a, k, "street", false)
}

// personName takes 1–4 capitalised words after a name cue.
func (s *scan) personName(e int) {
	t := s.text
	j := e
	words := 0
	end := e
	for words < 4 && j < len(t) {
		r, n := utf8.DecodeRuneInString(t[j:])
		if !unicode.IsUpper(r) {
			break
		}
		k := j + n
		for k < len(t) {
			r, n := utf8.DecodeRuneInString(t[k:])
			if !(unicode.IsLetter(r) || r == '\'' || r == '-') {
				break
			}
			k += n
		}
		if k-j < 2 || stopNameWords[t[j:k]] {
			break
		}
		words++
		end = k
		if k+1 < len(t) && t[k] == ' ' {
			j = k + 1
		} else {
			break
		}
	}
	if words == 0 || stopNames[t[e:end]] {
		return
	}
	s.add(TypePersonName, 0.6, e, end, "context", false)
}

var stopNameWords = map[string]bool{"Apt": true, "Suite": true, "Unit": true, "Box": true, "PO": true, "PSC": true, "Street": true, "Road": true, "Avenue": true, "St": true, "Ave": true, "And": true, "Or": true}

var stopNames = map[string]bool{"The": true, "This": true, "Not": true, "None": true, "Unknown": true, "Required": true, "Error": true, "Null": true}

// unit: "Apt. 864", "Suite 464", "PO Box 186", "PSC 3294, Box 9168".
func (s *scan) unit(a, e int) {
	t := s.text
	j := e
	for j < len(t) && isDigit(t[j]) && j-e < 6 {
		j++
	}
	if j == e || j < len(t) && isAlnum(t[j]) {
		return
	}
	s.add(TypeAddress, 0.6, a, j, "unit", false)
}

// azureSecret: Azure AD client secrets carry "Q~" at offset 3 or 4.
func (s *scan) azureSecret(a int) {
	t := s.text
	st := a - 4
	if st < 0 || !isDigit(t[a-1]) {
		return
	}
	for k := st; k < a; k++ {
		if !(csToken(t[k]) || t[k] == '.' || t[k] == '~') {
			return
		}
	}
	if st > 0 && (isAlnum(t[st-1])) {
		st--
		if st > 0 && isAlnum(t[st-1]) {
			return
		}
	}
	j := a + 2
	for j < len(t) && (csToken(t[j]) || t[j] == '.' || t[j] == '~') {
		j++
	}
	if n := j - a - 2; n < 31 || n > 34 {
		return
	}
	s.add(TypeSecret, 0.9, st, j, "azure_client_secret", false)
}

// ---------------------------------------------------------------- custom types

func (s *scan) custom(field string) {
	if len(s.c.custom) == 0 {
		return
	}
	norm := s.hint.norm // normField(lastKey(field)), as interpreted with the field name
	t := s.text
	for _, r := range s.c.custom {
		inField := norm != "" && r.fields[norm]
		conf := r.Confidence
		if inField && conf < 0.9 {
			conf = 0.9
		}
		switch {
		case r.re != nil:
			if r.kwAC != nil && !inField {
				if !r.kwAC.Any(t) && (field == "" || !r.kwAC.Any(field)) {
					continue
				}
			}
			for _, loc := range r.re.FindAllStringIndex(t, 64) {
				if loc[1] == loc[0] {
					continue
				}
				if r.validate != nil && !r.validate(t[loc[0]:loc[1]]) {
					continue
				}
				s.add(r.Name, conf, loc[0], loc[1], "custom", false)
			}
		case r.kwAC != nil:
			for _, m := range r.kwAC.Leftmost(t, nil) {
				a, e := m.Start, m.End
				if a > 0 && isAlnum(t[a-1]) || e < len(t) && isAlnum(t[e]) {
					continue
				}
				s.add(r.Name, conf, a, e, "custom", false)
			}
			if inField && strings.TrimSpace(t) != "" && (r.validate == nil || r.validate(t)) {
				s.add(r.Name, conf, 0, len(t), "custom", false)
			}
		case inField:
			if strings.TrimSpace(t) != "" && (r.validate == nil || r.validate(t)) {
				s.add(r.Name, conf, 0, len(t), "custom", false)
			}
		}
	}
}

// ---------------------------------------------------------------- result

// result drops low-confidence matches and resolves overlaps: where two
// matches overlap, the more confident (then longer, then earlier) wins.
func (s *scan) result(min float64) []Match {
	if len(s.out) == 0 {
		return nil
	}
	cand := s.out[:0]
	for _, m := range s.out {
		if m.Confidence >= min && m.End > m.Start {
			cand = append(cand, m)
		}
	}
	slices.SortStableFunc(cand, func(a, b Match) int {
		if a.Confidence != b.Confidence {
			if a.Confidence > b.Confidence {
				return -1
			}
			return 1
		}
		if la, lb := a.End-a.Start, b.End-b.Start; la != lb {
			if la > lb {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.Start, b.Start)
	})
	out := s.res[:0]
	for _, m := range cand {
		ok := true
		for _, o := range out {
			if m.Start < o.End && o.Start < m.End {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b Match) int {
		if a.Start != b.Start {
			return cmp.Compare(a.Start, b.Start)
		}
		return strings.Compare(a.Type, b.Type)
	})
	s.res = out
	if len(out) == 0 {
		return nil
	}
	return out
}
