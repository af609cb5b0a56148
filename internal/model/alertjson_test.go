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
	enc, err := EncodeJSON(&a)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]byte{v1, v2, enc} {
		for _, want := range [][]byte{[]byte(`"owasp":[]`), []byte(`"mitre":[]`)} {
			if !bytes.Contains(b, want) {
				t.Errorf("%s missing: %s", want, b)
			}
		}
	}
	if !bytes.Contains(enc, []byte("SQL <injection> & more")) {
		t.Errorf("EncodeJSON escaped HTML: %s", enc)
	}
	// encoding/json's Marshal escapes <, > and & (as it does for every
	// value); the JSON value is the same.
	var x, y any
	json.Unmarshal(v1, &x)
	json.Unmarshal(enc, &y)
	if xb, _ := json.Marshal(x); !bytes.Equal(xb, func() []byte { b, _ := json.Marshal(y); return b }()) {
		t.Fatalf("different values:\n%s\n%s", v1, v2)
	}
	// A type embedding an alert keeps its own fields.
	type stored struct {
		Alert
		UpdatedAt string `json:"updated_at"`
	}
	if b, _ := json.Marshal(stored{Alert: a, UpdatedAt: "now"}); !bytes.Contains(b, []byte(`"updated_at":"now"`)) || !bytes.Contains(b, []byte(`"owasp":[]`)) {
		t.Fatalf("embedding: %s", b)
	}
	// It reads back.
	var back Alert
	if err := json.Unmarshal(enc, &back); err != nil || back.Title != a.Title || back.Client.IP != "203.0.113.9" {
		t.Fatalf("%v %+v", err, back)
	}
}
