package posture

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/palisade-sec/palisade/internal/classify"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/pipeline"
)

// criticalData are the data types that make an exposure critical.
var criticalData = map[string]bool{classify.TypeSecret: true, classify.TypeCard: true, classify.TypeSSN: true, classify.TypeIBAN: true, classify.TypePassport: true}

func (e *evidence) merge(o *evidence) {
	e.requests += o.requests
	if e.first.IsZero() || o.first.Before(e.first) {
		e.first = o.first
	}
	if o.last.After(e.last) {
		e.last = o.last
	}
	e.plain += o.plain
	e.plainCreds += o.plainCreds
	// Maps are capped at maxKeys: merge in key order, so which keys survive
	// the cap does not depend on map iteration order.
	for _, k := range sortedKeys(o.plainSchemes) {
		e.plainSchemes = addKey(e.plainSchemes, k, o.plainSchemes[k])
	}
	e.basicHTTP += o.basicHTTP
	for _, k := range sortedKeys(o.credParams) {
		e.credParams = addKey(e.credParams, k, o.credParams[k])
	}
	for _, k := range sortedKeys(o.verbose) {
		e.verbose = addKey(e.verbose, k, o.verbose[k])
	}
	if e.verboseSample == "" {
		e.verboseSample = o.verboseSample
	}
	for _, k := range sortedKeys(o.versions) {
		e.versions = addStr(e.versions, k, o.versions[k])
	}
	e.corsWildcard += o.corsWildcard
	e.corsReflected += o.corsReflected
	for _, k := range sortedKeys(o.corsOrigins) {
		if e.corsOrigins == nil {
			e.corsOrigins = map[string]bool{}
		}
		if len(e.corsOrigins) < maxKeys {
			e.corsOrigins[k] = true
		}
	}
	e.eligible += o.eligible
	e.missNosniff += o.missNosniff
	e.httpsResp += o.httpsResp
	e.missHSTS += o.missHSTS
	e.authResp += o.authResp
	e.authMissNoStore += o.authMissNoStore
	e.missNoStore += o.missNoStore
	e.jwtNone += o.jwtNone
	e.jwtNoExp += o.jwtNoExp
	e.jwtLong += o.jwtLong
	e.jwtOK += o.jwtOK
	e.jwtExpiredOK += o.jwtExpiredOK
	e.jwtExpiredSum += o.jwtExpiredSum
	e.jwtExpiredMax = max(e.jwtExpiredMax, o.jwtExpiredMax)
	if o.jwtMaxLife > e.jwtMaxLife {
		e.jwtMaxLife = o.jwtMaxLife
	}
	for _, k := range sortedKeys(o.jwtAlgs) {
		e.jwtAlgs = addKey(e.jwtAlgs, k, o.jwtAlgs[k])
	}
	e.bursts += o.bursts
	if o.maxBurst > e.maxBurst {
		e.maxBurst = o.maxBurst
	}
	e.rateLimited += o.rateLimited
	e.externalRequests += o.externalRequests
	e.gqlIntro += o.gqlIntro
	e.gqlIntroExternal += o.gqlIntroExternal
	e.gqlIntroNoBody += o.gqlIntroNoBody
	e.gqlCostly += o.gqlCostly
	e.gqlCostlyExt += o.gqlCostlyExt
	e.gqlCostlyNoBody += o.gqlCostlyNoBody
	e.gqlDepth = max(e.gqlDepth, o.gqlDepth)
	e.gqlAliases = max(e.gqlAliases, o.gqlAliases)
	e.gqlBatch = max(e.gqlBatch, o.gqlBatch)
}

// FindingID is the stable id of a finding: a hash of rule and endpoint.
func FindingID(rule string, ref model.EndpointRef) string {
	sum := sha256.Sum256([]byte(rule + "|" + ref.Key()))
	return "fnd_" + hex.EncodeToString(sum[:8])
}

// Findings evaluates the traffic rules over the final inventory (with
// sensitive_data filled). now is the end of the observed traffic (offline)
// or the evaluation time (serve mode). Evidence recorded under early
// endpoint references is matched to the final endpoints through res (the
// inventory: pipeline.EndpointResolver), or, when res is nil, to the final
// endpoint whose template covers it. Findings are sorted by severity
// (highest first), rule and endpoint; ids are stable.
func (t *Traffic) Findings(eps []model.Endpoint, now time.Time, res pipeline.EndpointResolver) []model.Finding {
	merged := map[string]*evidence{}
	refs := make(map[string]model.EndpointRef, len(t.eps)) // by Key
	keys := make([]string, 0, len(t.eps))
	for r, e := range t.eps {
		e.flushAlgs()
		k := r.Key()
		keys = append(keys, k)
		refs[k] = r
	}
	sort.Strings(keys) // deterministic merge order
	for _, k := range keys {
		ref := refs[k]
		if res != nil {
			ref = res.Resolve(ref)
		}
		m := merged[ref.Key()]
		if m == nil {
			m = &evidence{}
			merged[ref.Key()] = m
		}
		m.merge(t.eps[refs[k]])
	}
	// Without a resolver, evidence recorded under an early template
	// (e.g. /v1/items/7 before {id} was learned) is matched to the final
	// endpoint whose template covers it.
	if res == nil {
		final := map[string]bool{}
		for i := range eps {
			final[eps[i].Ref().Key()] = true
		}
		for _, k := range sortedKeys(merged) {
			if final[k] {
				continue
			}
			ref := refs[k]
			for i := range eps {
				if eps[i].Host == ref.Host && eps[i].Method == ref.Method && templateCovers(eps[i].Path, ref.Path) {
					fk := eps[i].Ref().Key()
					if merged[fk] == nil {
						merged[fk] = &evidence{}
					}
					merged[fk].merge(merged[k])
					delete(merged, k)
					break
				}
			}
		}
	}
	red := redactor()
	var out []model.Finding
	for i := range eps {
		ep := &eps[i]
		f := findingCtx{t: t, ep: ep, ref: ep.Ref(), e: merged[ep.Ref().Key()], now: now, red: red}
		f.evaluate()
		out = append(out, f.out...)
	}
	SortFindings(out)
	return out
}

// SortFindings orders findings as the report does: by severity (highest
// first), rule and endpoint.
func SortFindings(out []model.Finding) {
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if ra, rb := model.SeverityRank(a.Severity), model.SeverityRank(b.Severity); ra != rb {
			return ra > rb
		}
		if a.Rule != b.Rule {
			return a.Rule < b.Rule
		}
		return a.Endpoint.Key() < b.Endpoint.Key()
	})
}

type findingCtx struct {
	t   *Traffic
	ep  *model.Endpoint
	ref model.EndpointRef
	e   *evidence
	now time.Time
	red *classify.Classifier
	out []model.Finding
}

func (f *findingCtx) emit(rule, sev, msg string, ev map[string]any) {
	r := ruleByID(rule)
	if sev == "" {
		sev = r.Severity
	}
	ref := f.ref
	f.out = append(f.out, model.Finding{
		ID: FindingID(rule, ref), Rule: rule, Title: r.Title, Severity: sev, OWASP: r.OWASP, Endpoint: &ref,
		Source: "traffic", Message: msg, Remediation: r.Remediation, Evidence: ev,
	})
}

// responseData returns the unmasked data types (sorted) and fields found
// in responses, ignoring ip_address.
func responseData(ep *model.Endpoint) (types, fields []string, critical bool) {
	return responseDataExcept(ep, nil)
}

// withoutCredentials is responseData less the credentials an
// authentication entry point issues by design.
func withoutCredentials(ep *model.Endpoint) (types, fields []string, critical bool) {
	return responseDataExcept(ep, credentialTypes)
}

func responseDataExcept(ep *model.Endpoint, skip map[string]bool) (types, fields []string, critical bool) {
	tset := map[string]bool{}
	fset := map[string]bool{}
	for _, sd := range ep.SensitiveData {
		if sd.Masked || sd.Type == classify.TypeIP || !strings.HasPrefix(sd.Location, "response.") || skip[sd.Type] {
			continue
		}
		tset[sd.Type] = true
		fset[sd.Location+" "+sd.Field] = true
		if criticalData[sd.Type] {
			critical = true
		}
	}
	return sortedSet(tset), sortedSet(fset), critical
}

// templateCovers reports whether a template path ("/v1/items/{id}")
// matches a path segment by segment ("{…}" matches any one segment).
func templateCovers(tmpl, path string) bool {
	ts, ps := strings.Split(tmpl, "/"), strings.Split(path, "/")
	if len(ts) != len(ps) {
		return false
	}
	for i := range ts {
		if ts[i] != ps[i] && !(strings.HasPrefix(ts[i], "{") && strings.HasSuffix(ts[i], "}")) {
			return false
		}
	}
	return true
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	if len(out) > maxKeys {
		out = out[:maxKeys]
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func successes(ep *model.Endpoint) int64 {
	var n int64
	for code, c := range ep.StatusCodes {
		if strings.HasPrefix(code, "2") {
			n += c
		}
	}
	return n
}

func (f *findingCtx) evaluate() {
	ep, e, cfg := f.ep, f.e, &f.t.cfg
	external := ep.Exposure == "external"

	// PAL-T001 / PAL-T002 (not for operations public by their role; an
	// authentication entry point's issued credentials are not a leak)
	role := endpointRole(ep)
	if ep.Authentication == "none" && successes(ep) > 0 {
		sev := model.SevMedium
		if !external {
			sev = model.SevLow
		}
		if role == "" {
			f.emit(RuleUnauthenticated, sev, fmt.Sprintf("%d successful responses to requests without credentials (exposure: %s).", successes(ep), orUnknown(ep.Exposure)),
				map[string]any{"successful_responses": successes(ep), "exposure": ep.Exposure})
		}
		types, fields, critical := responseData(ep)
		if role == RoleAuthEntry {
			types, fields, critical = withoutCredentials(ep)
		}
		if external && len(types) > 0 {
			sev := model.SevHigh
			if critical {
				sev = model.SevCritical
			}
			f.emit(RuleAttackPath, sev, fmt.Sprintf("Internet-exposed, no authentication, and responses carry %s.", strings.Join(types, ", ")),
				map[string]any{"data_types": types, "fields": fields, "exposure": "external", "authentication": "none"})
		}
	}
	// PAL-T003
	if e != nil && e.plain > 0 {
		sev := ""
		if e.plainCreds > 0 {
			sev = model.SevHigh
		}
		f.emit(RulePlainHTTP, sev, fmt.Sprintf("%d external requests over %s (%d with credentials).", e.plain, strings.Join(sortedKeys(e.plainSchemes), "/"), e.plainCreds),
			map[string]any{"requests": e.plain, "with_credentials": e.plainCreds, "schemes": e.plainSchemes})
	}
	// PAL-T004
	switch {
	case ep.LastSeen != nil && !ep.LastSeen.IsZero() && f.now.Sub(*ep.LastSeen) >= cfg.UnusedAfter:
		f.emit(RuleUnused, "", fmt.Sprintf("No request since %s (%s before %s).", ep.LastSeen.UTC().Format(time.RFC3339), roundDur(f.now.Sub(*ep.LastSeen)), f.now.UTC().Format(time.RFC3339)),
			map[string]any{"last_seen": ep.LastSeen, "unused_after": cfg.UnusedAfter.String()})
	case (ep.LastSeen == nil || ep.Requests == 0) && ep.Documented != nil && *ep.Documented && !f.t.first.IsZero() && f.t.last.Sub(f.t.first) >= cfg.UnusedAfter:
		f.emit(RuleUnused, "", fmt.Sprintf("Declared in the spec but never called during %s of observed traffic.", roundDur(f.t.last.Sub(f.t.first))),
			map[string]any{"observed_from": f.t.first, "observed_to": f.t.last, "unused_after": cfg.UnusedAfter.String()})
	}
	if e != nil {
		// PAL-T005
		if e.bursts > 0 && e.rateLimited == 0 {
			f.emit(RuleNoRateLimit, "", fmt.Sprintf("%d bursts (up to %d requests from one client within %s) were all served; no 429 or rate-limit header seen.", e.bursts, e.maxBurst, cfg.BurstWindow),
				map[string]any{"bursts": e.bursts, "max_requests_in_window": e.maxBurst, "burst_threshold": cfg.BurstRequests, "window": cfg.BurstWindow.String()})
		}
		// PAL-T006
		if len(e.verbose) > 0 {
			kinds := sortedKeys(e.verbose)
			f.emit(RuleVerboseErrors, "", fmt.Sprintf("Responses contained %s error details.", strings.Join(kinds, ", ")),
				map[string]any{"kinds": e.verbose, "sample": redactText(f.red, e.verboseSample)})
		}
		// PAL-T007
		if len(e.versions) > 0 {
			var parts []string
			for _, h := range sortedKeys(e.versions) {
				parts = append(parts, h+": "+e.versions[h])
			}
			f.emit(RuleVersionDisclosure, "", "Response headers disclose "+strings.Join(parts, "; ")+".", map[string]any{"headers": e.versions})
		}
		// PAL-T008
		if e.corsWildcard > 0 || len(e.corsOrigins) >= 2 {
			msg := fmt.Sprintf("%d responses allow credentials for any origin (* or null)", e.corsWildcard)
			if len(e.corsOrigins) >= 2 {
				msg = fmt.Sprintf("%d responses reflected %d different origins with credentials allowed", e.corsReflected, len(e.corsOrigins))
			}
			f.emit(RuleCORSCredentials, "", msg+".", map[string]any{"wildcard_responses": e.corsWildcard, "reflected_responses": e.corsReflected, "origins": sortedKeys(e.corsOrigins)})
		}
		// PAL-T009
		f.securityHeaders()
		// PAL-T011
		if e.basicHTTP > 0 {
			f.emit(RuleBasicOverHTTP, "", fmt.Sprintf("%d requests sent Basic credentials over plain HTTP.", e.basicHTTP), map[string]any{"requests": e.basicHTTP})
		}
		// PAL-T012
		if e.jwtNone > 0 || e.jwtNoExp > 0 || e.jwtLong > 0 {
			sev := ""
			var why []string
			if e.jwtNone > 0 {
				sev = model.SevHigh
				why = append(why, fmt.Sprintf("%d unsigned (alg none)", e.jwtNone))
			}
			if e.jwtNoExp > 0 {
				why = append(why, fmt.Sprintf("%d without exp", e.jwtNoExp))
			}
			if e.jwtLong > 0 {
				why = append(why, fmt.Sprintf("%d living longer than %s (up to %s)", e.jwtLong, cfg.MaxTokenLifetime, roundDur(e.jwtMaxLife)))
			}
			f.emit(RuleWeakJWT, sev, "Bearer JWTs: "+strings.Join(why, ", ")+".",
				map[string]any{"unsigned": e.jwtNone, "no_exp": e.jwtNoExp, "long_lived": e.jwtLong, "max_lifetime": e.jwtMaxLife.String(), "algorithms": e.jwtAlgs})
		}
		// PAL-T017
		if e.gqlIntro > 0 {
			sev := ""
			if e.gqlIntroExternal == 0 {
				sev = model.SevLow
			}
			msg := fmt.Sprintf("%d introspection queries answered with the schema (%d to external clients).", e.gqlIntro, e.gqlIntroExternal)
			if e.gqlIntroNoBody > 0 {
				msg += fmt.Sprintf(" %d of them answered 2xx without a recorded body.", e.gqlIntroNoBody)
			}
			f.emit(RuleGraphQLIntrospect, sev, msg, map[string]any{"introspection_answered": e.gqlIntro, "external": e.gqlIntroExternal, "body_not_recorded": e.gqlIntroNoBody})
		}
		// PAL-T018
		if e.gqlCostly > 0 {
			sev := ""
			if e.gqlCostlyExt == 0 {
				sev = model.SevLow
			}
			var over []string
			if e.gqlDepth > cfg.GraphQLMaxDepth {
				over = append(over, fmt.Sprintf("selections %d deep (limit %d)", e.gqlDepth, cfg.GraphQLMaxDepth))
			}
			if e.gqlAliases > cfg.GraphQLMaxAliases {
				over = append(over, fmt.Sprintf("%d aliased fields (limit %d)", e.gqlAliases, cfg.GraphQLMaxAliases))
			}
			if e.gqlBatch > cfg.GraphQLMaxBatch {
				over = append(over, fmt.Sprintf("batches of %d documents (limit %d)", e.gqlBatch, cfg.GraphQLMaxBatch))
			}
			msg := fmt.Sprintf("%d GraphQL requests beyond the cost limits were executed (%d from external clients): up to %s.", e.gqlCostly, e.gqlCostlyExt, strings.Join(over, ", "))
			if e.gqlCostlyNoBody > 0 {
				msg += fmt.Sprintf(" %d of them answered 2xx without a recorded body.", e.gqlCostlyNoBody)
			}
			f.emit(RuleGraphQLCost, sev, msg, map[string]any{"executed": e.gqlCostly, "external": e.gqlCostlyExt, "body_not_recorded": e.gqlCostlyNoBody,
				"max_depth": e.gqlDepth, "max_aliases": e.gqlAliases, "max_batch": e.gqlBatch,
				"limits": map[string]int{"depth": cfg.GraphQLMaxDepth, "aliases": cfg.GraphQLMaxAliases, "batch": cfg.GraphQLMaxBatch}})
		}
		// PAL-T016
		if e.jwtExpiredOK > 0 {
			mean := e.jwtExpiredSum / time.Duration(e.jwtExpiredOK)
			f.emit(RuleExpiredAccepted, "", fmt.Sprintf("%d of %d successful responses to JWT-bearing requests (%.1f %%) accepted a token past its exp by more than %s: up to %s past (mean %s).",
				e.jwtExpiredOK, e.jwtOK, 100*float64(e.jwtExpiredOK)/float64(max(e.jwtOK, 1)), cfg.TokenSkew, roundDur(e.jwtExpiredMax), roundDur(mean)),
				map[string]any{"accepted_expired": e.jwtExpiredOK, "successful_with_jwt": e.jwtOK, "max_past_exp": roundDur(e.jwtExpiredMax), "max_past_exp_seconds": int64(e.jwtExpiredMax.Seconds()),
					"mean_past_exp": roundDur(mean), "skew": cfg.TokenSkew.String()})
		}
	}
	// PAL-T010
	params := map[string]bool{}
	if e != nil {
		for p := range e.credParams {
			params["query "+p] = true
		}
	}
	for _, sd := range ep.SensitiveData {
		if !sd.Masked && (sd.Location == "query" || sd.Location == "path") && (sd.Type == classify.TypeSecret || sd.Type == classify.TypeJWT) {
			params[sd.Location+" "+sd.Field] = true
		}
	}
	if len(params) > 0 {
		list := sortedSet(params)
		f.emit(RuleCredentialsInURL, "", "Credentials in the URL: "+strings.Join(list, ", ")+".", map[string]any{"parameters": list})
	}
	// PAL-T013 / PAL-T014
	if ep.Requests > 0 {
		switch ep.State {
		case "zombie":
			f.emit(RuleZombie, "", fmt.Sprintf("Deprecated operation received %d requests.", ep.Requests), map[string]any{"requests": ep.Requests, "last_seen": ep.LastSeen})
		case "shadow":
			f.emit(RuleShadow, "", fmt.Sprintf("Undocumented operation received %d requests.", ep.Requests), map[string]any{"requests": ep.Requests, "last_seen": ep.LastSeen})
		}
	}
	// PAL-T015
	if cfg.SpecFields != nil && ep.Documented != nil && *ep.Documented {
		if declared, ok := cfg.SpecFields.SpecFields(f.ref); ok {
			dset := map[string]bool{}
			for _, d := range declared {
				dset[d] = true
			}
			undeclared := map[string]bool{}
			crit := false
			for _, sd := range ep.SensitiveData {
				if sd.Masked || sd.Location != "response.body" || sd.Type == classify.TypeIP || declaredField(dset, sd.Field) {
					continue
				}
				undeclared[sd.Field+" ("+sd.Type+")"] = true
				crit = crit || criticalData[sd.Type]
			}
			if len(undeclared) > 0 {
				sev := ""
				if crit {
					sev = model.SevHigh
				}
				list := sortedSet(undeclared)
				f.emit(RuleUndeclaredData, sev, "Response fields not in the declared schema carry sensitive data: "+strings.Join(list, ", ")+".", map[string]any{"fields": list})
			}
		}
	}
}

func (f *findingCtx) securityHeaders() {
	e, cfg := f.e, &f.t.cfg
	if e.eligible < int64(cfg.MinResponses) {
		return
	}
	var missing []string
	sev := ""
	if e.missNosniff*2 > e.eligible {
		missing = append(missing, "X-Content-Type-Options: nosniff")
	}
	if e.httpsResp > 0 && e.missHSTS*2 > e.httpsResp {
		missing = append(missing, "Strict-Transport-Security")
	}
	if types, _, _ := responseData(f.ep); len(types) > 0 && e.missNoStore*2 > e.eligible {
		missing = append(missing, "Cache-Control: no-store (responses carry "+strings.Join(types, ", ")+")")
		sev = model.SevMedium
	} else if e.authResp > 0 && e.authMissNoStore*2 > e.authResp {
		missing = append(missing, "Cache-Control: no-store (authenticated responses)")
	}
	if len(missing) == 0 {
		return
	}
	f.emit(RuleSecurityHeaders, sev, fmt.Sprintf("Missing on most of %d successful responses: %s.", e.eligible, strings.Join(missing, "; ")),
		map[string]any{"responses": e.eligible, "missing_nosniff": e.missNosniff, "https_responses": e.httpsResp, "missing_hsts": e.missHSTS,
			"authenticated_responses": e.authResp, "missing_no_store": e.missNoStore, "missing": missing})
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func roundDur(d time.Duration) string {
	if d >= 48*time.Hour {
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
	return d.Round(time.Minute).String()
}

var (
	redOnce sync.Once
	redC    *classify.Classifier
)

// redactor returns the classifier used to redact evidence snippets (the
// default configuration cannot fail to build; nil disables redaction of
// snippets, which then are dropped by redactText).
func redactor() *classify.Classifier {
	redOnce.Do(func() { redC, _ = classify.New(classify.DefaultConfig()) })
	return redC
}

// redactText replaces sensitive spans (classifier matches) by their
// redacted form.
func redactText(c *classify.Classifier, s string) string {
	if c == nil {
		return ""
	}
	if s == "" {
		return s
	}
	ms := c.ClassifyText(s)
	if len(ms) == 0 {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range ms {
		b.WriteString(s[last:m.Start])
		b.WriteString(classify.Redact(m, s[m.Start:m.End]))
		last = m.End
	}
	b.WriteString(s[last:])
	return b.String()
}

// declaredField reports whether a classified field path is declared: an
// exact entry, or an open object ("$.meta.*") above it.
func declaredField(declared map[string]bool, field string) bool {
	if declared[field] {
		return true
	}
	for i := len(field) - 1; i > 0; i-- {
		if field[i] == '.' || field[i] == '[' {
			if declared[field[:i]+".*"] {
				return true
			}
		}
	}
	return declared["$.*"]
}
