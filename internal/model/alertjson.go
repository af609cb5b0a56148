package model

import (
	"bytes"
	"encoding/json"
)

// MarshalJSON is the one encoding of an alert, whatever encoder meets it
// (the report, the API, the store, the webhook sink): OWASP and MITRE are
// lists ([] when empty, never null) and characters significant in HTML are
// not escaped here (an encoder set to escape them does it). The contract
// is docs/contracts/alert-types.md.
func (a Alert) MarshalJSON() ([]byte, error) {
	type plain Alert // without this method
	p := plain(a)
	if p.OWASP == nil {
		p.OWASP = []string{}
	}
	if p.MITRE == nil {
		p.MITRE = []MITRE{}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
