package discoveryeval

import (
	"sort"
	"strings"
)

// Endpoint is the discovered endpoint a request ended on: the final
// template (host, method, template) the report gives its event.
type Endpoint struct {
	Host     string `json:"host"`
	Method   string `json:"method"`
	Template string `json:"template"`
	// Probe: the inventory lists it as a probe (e.g. it only ever
	// answered 404), not as an endpoint.
	Probe bool `json:"probe,omitempty"`
}

// EndpointCount is one endpoint an operation's requests went to.
type EndpointCount struct {
	Template string `json:"template"`
	Requests int    `json:"requests"`
	Probe    bool   `json:"probe,omitempty"`
	Example  string `json:"example"` // a concrete path of the operation that went there
	// Ops is how many operations' requests went to this endpoint.
	Ops int `json:"ops"`
}

// OpScore is the outcome of one operation.
type OpScore struct {
	Spec     string `json:"spec"`
	Host     string `json:"host"`
	Method   string `json:"method"`
	Path     string `json:"path"`     // as declared
	Template string `json:"template"` // base path + declared path
	Kinds    []Kind `json:"kinds,omitempty"`
	Row      string `json:"row"`
	Requests int    `json:"requests"`
	// Endpoints its requests went to, most requests first.
	Endpoints []EndpointCount `json:"endpoints"`
	// Exact: all its requests went to one endpoint, and that endpoint's
	// requests all came from this operation.
	Exact bool `json:"exact"`
	// WrongParams: exact, but the endpoint's template has a parameter
	// where the spec has a static segment, or the reverse (or another
	// number of segments); an enum parameter may be either (SameParams).
	WrongParams bool `json:"wrong_params,omitempty"`
	// Split: extra endpoints (len(Endpoints)-1) when its requests went to
	// more than one.
	Split int `json:"split,omitempty"`
	// MergedWith: the other operations ("METHOD path") whose requests
	// went to one of its endpoints; MergedRequests: its requests on such
	// shared endpoints.
	MergedWith     []string `json:"merged_with,omitempty"`
	MergedRequests int      `json:"merged_requests,omitempty"`
}

// Merged reports whether the operation shares an endpoint with another.
func (o *OpScore) Merged() bool { return len(o.MergedWith) > 0 }

// Score scores operations: truths[i] is what request i stood for and
// eps[i] the endpoint it ended on. Operations are returned in the order
// of their first request.
func Score(truths []Truth, eps []Endpoint) []*OpScore {
	type epKey struct{ spec, host, method, tmpl string }
	var ops []*OpScore
	opIdx := map[string]int{}
	counts := []map[epKey]*EndpointCount{}
	opsOf := map[epKey]map[int]bool{}
	for i := range truths {
		t := &truths[i]
		k := t.Key()
		oi, ok := opIdx[k]
		if !ok {
			oi = len(ops)
			opIdx[k] = oi
			ops = append(ops, &OpScore{Spec: t.Spec, Host: t.Host, Method: t.Method, Path: t.Path, Template: t.Template, Kinds: t.Kinds, Row: RowOf(t.Kinds)})
			counts = append(counts, map[epKey]*EndpointCount{})
		}
		e := eps[i]
		ek := epKey{t.Spec, e.Host, e.Method, e.Template}
		c := counts[oi][ek]
		if c == nil {
			c = &EndpointCount{Template: e.Template, Probe: e.Probe, Example: t.URLPath}
			counts[oi][ek] = c
		}
		c.Requests++
		ops[oi].Requests++
		if opsOf[ek] == nil {
			opsOf[ek] = map[int]bool{}
		}
		opsOf[ek][oi] = true
	}
	for oi, o := range ops {
		others := map[string]bool{}
		for ek, c := range counts[oi] {
			c.Ops = len(opsOf[ek])
			o.Endpoints = append(o.Endpoints, *c)
			if c.Ops > 1 {
				o.MergedRequests += c.Requests
				for other := range opsOf[ek] {
					if other != oi {
						others[ops[other].Method+" "+ops[other].Path] = true
					}
				}
			}
		}
		sort.Slice(o.Endpoints, func(i, j int) bool {
			a, b := o.Endpoints[i], o.Endpoints[j]
			if a.Requests != b.Requests {
				return a.Requests > b.Requests
			}
			return a.Template < b.Template
		})
		for m := range others {
			o.MergedWith = append(o.MergedWith, m)
		}
		sort.Strings(o.MergedWith)
		o.Split = len(o.Endpoints) - 1
		o.Exact = o.Split == 0 && !o.Merged()
		o.WrongParams = o.Exact && !SameParams(o.Template, o.Endpoints[0].Template, o.Kinds)
	}
	return ops
}

// SameParams reports whether a discovered template has its parameters at
// the positions of the spec's template: the same number of segments, and
// a parameter exactly where the spec's segment holds one (a spec segment
// such as "{name}:cancel" or "{a}-{b}" is a parameter position). kinds
// are the kinds of the spec's parameters in template order (Truth.Kinds):
// a position whose parameters are all enums may be either (a one-value
// enum such as Azure's {vulnerabilityAssessmentName}: default is
// legitimately static).
func SameParams(spec, found string, kinds []Kind) bool {
	a, b := segs(spec), segs(found)
	if len(a) != len(b) {
		return false
	}
	k := 0
	for i := range a {
		n := strings.Count(a[i], "{")
		enum := n > 0
		for j := 0; j < n; j++ {
			enum = enum && k < len(kinds) && kinds[k] == KindEnum
			k++
		}
		if enum {
			continue
		}
		if (n > 0) != strings.Contains(b[i], "{") {
			return false
		}
	}
	return true
}

func segs(p string) []string {
	var out []string
	for _, s := range strings.Split(p, "/") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Row is the tally of a set of operations.
type Row struct {
	Row      string `json:"row"`
	Ops      int    `json:"ops"`
	Requests int    `json:"requests"`
	// Endpoints: distinct discovered endpoints the operations' requests
	// went to (ProbeEndpoints of them are probes).
	Endpoints      int `json:"endpoints"`
	ProbeEndpoints int `json:"probe_endpoints,omitempty"`
	Exact          int `json:"exact"`
	WrongParams    int `json:"wrong_params"`    // of the exact ones
	Split          int `json:"split"`           // operations split (SplitMerged of them also merged)
	ExtraEndpoints int `json:"extra_endpoints"` // endpoints beyond one per split operation
	Merged         int `json:"merged"`          // operations sharing an endpoint with another
	MergedRequests int `json:"merged_requests"` // their requests on shared endpoints
	SplitMerged    int `json:"split_merged"`    // operations both split and merged
}

// ExactRate is Exact / Ops (0 without operations).
func (r *Row) ExactRate() float64 {
	if r.Ops == 0 {
		return 0
	}
	return float64(r.Exact) / float64(r.Ops)
}

// Tally adds up operations into a row. Every operation is exactly one of
// exact, split only, merged only, split and merged: Exact + Split +
// Merged - SplitMerged = Ops.
func Tally(name string, ops []*OpScore) Row {
	r := Row{Row: name}
	eps := map[string]bool{}
	for _, o := range ops {
		r.Ops++
		r.Requests += o.Requests
		for _, e := range o.Endpoints {
			k := o.Spec + " " + o.Host + " " + o.Method + " " + e.Template
			if !eps[k] {
				eps[k] = true
				r.Endpoints++
				if e.Probe {
					r.ProbeEndpoints++
				}
			}
		}
		if o.Exact {
			r.Exact++
		}
		if o.WrongParams {
			r.WrongParams++
		}
		if o.Split > 0 {
			r.Split++
			r.ExtraEndpoints += o.Split
		}
		if o.Merged() {
			r.Merged++
			r.MergedRequests += o.MergedRequests
		}
		if o.Split > 0 && o.Merged() {
			r.SplitMerged++
		}
	}
	return r
}
