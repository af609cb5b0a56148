package exchange

import "github.com/go-json-experiment/json"

// MarshalRecord encodes a record as compact JSON.
func MarshalRecord(r *Record) ([]byte, error) {
	r.Response.materialize()
	return json.Marshal(r, json.Deterministic(true))
}
