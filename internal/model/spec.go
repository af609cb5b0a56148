package model

// SpecOp is an operation as declared by an OpenAPI/Swagger document: what
// the inventory read from the specs, what the detectors may ask about
// (pipeline.SpecLookup). Not part of the report wire form.
type SpecOp struct {
	Params       []SpecParam
	AuthRequired bool // the operation (or the document) declares security
	Deprecated   bool
	Tags         []string
	Scopes       []string // OAuth scopes / roles required, when declared
}

// SpecParam is a declared parameter.
type SpecParam struct {
	Name   string
	In     string // path | query | header | body (top-level JSON property)
	Type   string // string, integer, number, boolean, array, object
	Format string
}
