package model

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
)

// An alert is encoded the same way by the encoders that meet it (the API
// and store use encoding/json, the webhook sink json v2): before, a nil
// OWASP or MITRE list was null in one and [] in the other.
func TestAlertOneEncoding(t *testing.T) {
	a := Alert{ID: "al_1", Type: "injection.sqli", Title: "SQL <injection> & more", Severity: SevHigh,
		FirstSeen: time.Date(2026, 11, 18, 10, 0, 0, 0, time.UTC), Count: 2, Client: &ClientRef{IP: "203.0.113.9"},
		Evidence: Evidence{Details: map[string]any{"b": 1, "a": "x"}}}
	v1, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := jsonv2.Marshal(a, jsonv2.Deterministic(true))
	if err != nil {
		t.Fatal(err)
	}
	var enc bytes.Buffer
	e := json.NewEncoder(&enc)
	e.SetEscapeHTML(false)
	e.Encode(&a)
	if !bytes.Equal(v2, bytes.TrimSpace(enc.Bytes())) {
		t.Fatalf("json v2 and an encoder differ:\n%s\n%s", v2, enc.Bytes())
	}
	for _, want := range [][]byte{[]byte(`"owasp":[]`), []byte(`"mitre":[]`)} {
		if !bytes.Contains(v2, want) {
			t.Errorf("%s missing: %s", want, v2)
		}
	}
	// encoding/json's Marshal escapes <, > and & (as it does for every
	// value); the JSON value is the same.
	var x, y any
	json.Unmarshal(v1, &x)
	json.Unmarshal(v2, &y)
	if xb, _ := json.Marshal(x); !bytes.Equal(xb, func() []byte { b, _ := json.Marshal(y); return b }()) {
		t.Fatalf("different values:\n%s\n%s", v1, v2)
	}
	// It reads back.
	var back Alert
	if err := json.Unmarshal(v2, &back); err != nil || back.Title != a.Title || back.Client.IP != "203.0.113.9" {
		t.Fatalf("%v %+v", err, back)
	}
}
