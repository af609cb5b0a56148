package model

import (
	"bytes"
	"encoding/json"
)

// Lists of an alert that the contract (docs/contracts/alert-types.md)
// makes lists: they encode as [] when empty, never null, whatever encoder
// meets them — the report and the API use encoding/json, the webhook sink
// json v2, which differ on nil slices. (Types of their own rather than a
// MarshalJSON on Alert, which types embedding an Alert would inherit.)
type (
	// Strings is a list of strings that encodes nil as [].
	Strings []string
	// MITREs is a list of ATT&CK mappings that encodes nil as [].
	MITREs []MITRE
)

// MarshalJSON encodes nil as [].
func (s Strings) MarshalJSON() ([]byte, error) {
	if s == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]string(s))
}

// MarshalJSON encodes nil as [].
func (m MITREs) MarshalJSON() ([]byte, error) {
	if m == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]MITRE(m))
}

// EncodeJSON is the encoding of alerts (and of the documents that carry
// them) everywhere they leave Palisade: encoding/json (struct fields in
// order, map keys sorted, omitempty as the contract's types declare it),
// without escaping characters significant in HTML. The report, the API,
// the store and the sinks all encode alerts with encoding/json; the API
// additionally escapes <, > and & (the same JSON values).
func EncodeJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
