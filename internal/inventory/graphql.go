package inventory

import (
	"sort"
	"strings"
	"time"

	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/jsonscan"
	"github.com/palisade-sec/palisade/internal/model"
)

// MaxGraphQLOps bounds the GraphQL operations (type, root field) kept per
// endpoint; requests for further operations are counted in the summary's
// Dropped.
const MaxGraphQLOps = 256

// gqlKey is one operation: its type and root field.
type gqlKey struct{ typ, field string }

// gqlOp counts the requests that asked for one operation.
type gqlOp struct {
	first, last          time.Time
	requests, ok, errors int64
}

// gqlStats is what the GraphQL requests of one endpoint asked for (nil
// on endpoints that never received one).
type gqlStats struct {
	ops     map[gqlKey]*gqlOp
	dropped int64 // (request, operation) pairs not kept: the table was full
	// maxima over successful answers
	maxDepth, maxAliases, maxBatch, maxFields int
}

// graphQL records the event's GraphQL operations (enrichment summarized
// them in ev.GraphQL) and how they were answered. A 2xx answer is an
// error when its JSON body has a top-level "errors" member (bp reads it).
func (st *stats) graphQL(ev *event.Event, bp *bodyParser) {
	g := ev.GraphQL
	if g == nil {
		return
	}
	if st.gql == nil {
		st.gql = &gqlStats{}
	}
	q := st.gql
	var ok, failed bool
	switch {
	case ev.Status >= 400:
		failed = true
	case ev.Status >= 200 && ev.Status < 300:
		failed = ev.Rec != nil && ev.Rec.Response.HasBody() && bp.graphQLErrors(ev.Rec.Response.BodyText())
		ok = !failed
	}
	for _, op := range g.Ops {
		q.add(gqlKey{op.Type, op.Field}, ev.Time, ok, failed)
	}
	if ok {
		q.maxDepth = max(q.maxDepth, g.Depth)
		q.maxAliases = max(q.maxAliases, g.Aliases)
		q.maxBatch = max(q.maxBatch, g.Documents)
		q.maxFields = max(q.maxFields, g.Fields)
	}
}

// add counts one request for the operation k. When the table is full, an
// operation answered successfully takes the place of one that never was
// (a client trying field names the schema does not have fills the table
// with operations only ever answered with errors; they must not crowd
// out the operations the API serves); otherwise the request is dropped.
func (q *gqlStats) add(k gqlKey, t time.Time, ok, failed bool) {
	o := q.ops[k]
	if o == nil {
		if len(q.ops) >= MaxGraphQLOps && !(ok && q.evict()) {
			q.dropped++
			return
		}
		if q.ops == nil {
			q.ops = make(map[gqlKey]*gqlOp, 4)
		}
		o = &gqlOp{first: t, last: t}
		q.ops[gqlKey{opType(k.typ), strings.Clone(k.field)}] = o // kept: not a view of the record's text
	}
	if t.Before(o.first) {
		o.first = t
	}
	if t.After(o.last) {
		o.last = t
	}
	o.requests++
	if ok {
		o.ok++
	}
	if failed {
		o.errors++
	}
}

// evict removes an operation never answered successfully, the one with
// the fewest requests (then the first by type and field: deterministic),
// counting its requests as dropped; false when every kept operation was
// answered successfully at least once.
func (q *gqlStats) evict() bool {
	var victim gqlKey
	var vo *gqlOp
	for k, o := range q.ops {
		if o.ok > 0 {
			continue
		}
		if vo == nil || o.requests < vo.requests || o.requests == vo.requests && gqlLess(k, victim) {
			victim, vo = k, o
		}
	}
	if vo == nil {
		return false
	}
	delete(q.ops, victim)
	q.dropped += vo.requests
	return true
}

func gqlLess(a, b gqlKey) bool {
	if a.typ != b.typ {
		return a.typ < b.typ
	}
	return a.field < b.field
}

// opType returns the operation type as a constant string (the three of
// the GraphQL grammar), else a copy.
func opType(t string) string {
	switch t {
	case "query":
		return "query"
	case "mutation":
		return "mutation"
	case "subscription":
		return "subscription"
	}
	return strings.Clone(t)
}

// sortedKeys returns the operations' keys by type then field.
func (q *gqlStats) sortedKeys() []gqlKey {
	keys := make([]gqlKey, 0, len(q.ops))
	for k := range q.ops {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return gqlLess(keys[i], keys[j]) })
	return keys
}

// merge folds o (a collapsed sibling's GraphQL statistics) into q, within
// the same bound (o's operations in order, so the result does not depend
// on map order).
func (q *gqlStats) merge(o *gqlStats) {
	q.maxDepth = max(q.maxDepth, o.maxDepth)
	q.maxAliases = max(q.maxAliases, o.maxAliases)
	q.maxBatch = max(q.maxBatch, o.maxBatch)
	q.maxFields = max(q.maxFields, o.maxFields)
	q.dropped += o.dropped
	for _, k := range o.sortedKeys() {
		p := o.ops[k]
		d := q.ops[k]
		if d == nil {
			if len(q.ops) >= MaxGraphQLOps && !(p.ok > 0 && q.evict()) {
				q.dropped += p.requests
				continue
			}
			if q.ops == nil {
				q.ops = make(map[gqlKey]*gqlOp, len(o.ops))
			}
			q.ops[k] = p // o is discarded after the merge
			continue
		}
		if p.first.Before(d.first) {
			d.first = p.first
		}
		if p.last.After(d.last) {
			d.last = p.last
		}
		d.requests += p.requests
		d.ok += p.ok
		d.errors += p.errors
	}
}

// summary renders the statistics for the report.
func (q *gqlStats) summary() *model.GraphQLSummary {
	s := &model.GraphQLSummary{Operations: make([]model.GraphQLOperation, 0, len(q.ops)),
		MaxDepth: q.maxDepth, MaxAliases: q.maxAliases, MaxBatch: q.maxBatch, MaxFields: q.maxFields, Dropped: q.dropped}
	for _, k := range q.sortedKeys() {
		o := q.ops[k]
		s.Operations = append(s.Operations, model.GraphQLOperation{Type: k.typ, Field: k.field, Requests: o.requests,
			OK: o.ok, Errors: o.errors, FirstSeen: o.first, LastSeen: o.last})
	}
	return s
}

// graphQLErrors reports whether a GraphQL response body has a top-level
// "errors" member that is neither null nor an empty array: in the object,
// or in one of the objects of a batch's array of responses. Cheap on the
// usual answer (a substring search); otherwise the top level is read with
// the inventory's tokenizer, skipping the members' values without
// allocating.
func (p *bodyParser) graphQLErrors(body string) bool {
	if !strings.Contains(body, `"errors"`) {
		return false
	}
	i := jsonscan.SkipSpace(body, 0)
	if i == len(body) || body[i] != '{' && body[i] != '[' {
		return false
	}
	p.dec.Reset(body, jsonscan.Options{AllowDuplicateNames: true, AllowInvalidUTF8: true})
	defer p.dec.Reset("", jsonscan.Options{}) // keep no reference to the body
	kind, _, err := p.dec.ReadToken()
	if err != nil {
		return false
	}
	if kind == '{' {
		return p.objectErrors()
	}
	for p.dec.PeekKind() == '{' { // a batch: one response per document
		p.dec.ReadToken()
		if p.objectErrors() {
			return true
		}
	}
	return false
}

// objectErrors reads the members of an object whose '{' was read: true at
// an "errors" member that is not null or an empty array.
func (p *bodyParser) objectErrors() bool {
	for {
		kind, name, err := p.dec.ReadToken()
		if err != nil || kind != '"' {
			return false // '}': the end of the object, or a syntax error
		}
		if name == "errors" {
			switch p.dec.PeekKind() {
			case 'n':
				p.dec.ReadToken()
				continue
			case '[':
				p.dec.ReadToken()
				if p.dec.PeekKind() == ']' {
					p.dec.ReadToken()
					continue
				}
				return p.dec.PeekKind() != 0
			case 0:
				return false
			}
			return true
		}
		if p.dec.SkipValue() != nil {
			return false
		}
	}
}
