package sink

import (
	"encoding/json"
	"strings"
	"testing"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/palisade-sec/palisade/internal/config"
)

// The sinks list is decoded strictly from the configuration file: the
// embedded Filter is filled from the sink's own level, an unknown key is
// an error naming its line, and a key of another type is refused.
func TestConfigLoads(t *testing.T) {
	t.Setenv("HOOK_SECRET", "s3cret")
	doc := []byte(`
sinks:
  - type: webhook
    name: soc
    url: https://hooks.example.test/p
    secret_env: HOOK_SECRET
    types: ["injection.*", "auth.brute_force"]
    min_severity: high
    headers: {X-Tenant: prod}
    timeout: 5s
  - type: ocsf
    path: /tmp/x.ndjson
    max_bytes: 1048576
    api_activity: true
`)
	var v struct {
		Sinks []Config `yaml:"sinks"`
	}
	l := &config.Loader{}
	if err := l.Decode(config.Doc{Name: "c.yaml", Data: doc}, &v); err != nil {
		t.Fatal(err)
	}
	if err := l.Validate(&v); err != nil {
		t.Fatal(err)
	}
	w, o := v.Sinks[0], v.Sinks[1]
	if w.Type != "webhook" || w.Name != "soc" || w.SecretEnv != "HOOK_SECRET" || w.MinSeverity != "high" ||
		len(w.Types) != 2 || w.Types[0] != "injection.*" || w.Headers["X-Tenant"] != "prod" || w.Timeout.String() != "5s" {
		t.Errorf("webhook %+v", w)
	}
	if o.Type != "ocsf" || o.MaxBytes != 1<<20 || !o.APIActivity || o.Path != "/tmp/x.ndjson" {
		t.Errorf("ocsf %+v", o)
	}
	for bad, want := range map[string]string{
		"sinks:\n  - type: webhook\n    url: https://x\n    secret: k\n    secrte: k\n":     `c.yaml:5:5: sinks[0].secrte: unknown key "secrte"`,
		"sinks:\n  - type: webhook\n    url: https://x\n    secret: k\n    address: h:1\n":  "c.yaml:5:5: sinks[0].address: not used by type webhook",
		"sinks:\n  - type: syslog\n    address: nohost\n":                                   "c.yaml:3:5: sinks[0].address: want host:port",
		"sinks:\n  - type: webhook\n    url: https://x\n    secret: k\n    timeout: soon\n": `c.yaml:5:14: sinks[0].timeout: bad duration "soon"`,
	} {
		var v struct {
			Sinks []Config `yaml:"sinks"`
		}
		l := &config.Loader{}
		err := l.Decode(config.Doc{Name: "c.yaml", Data: []byte(bad)}, &v)
		if err == nil {
			err = l.Validate(&v)
		}
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: %v, want %q", bad, err, want)
		}
	}
	// JSON (both encoders, and the configuration's own) puts the filter
	// keys at the sink's level too.
	c := Config{Type: "webhook", Filter: Filter{Types: []string{"a.*"}, MinSeverity: "low"}}
	for name, enc := range map[string]func(any) ([]byte, error){
		"encoding/json": func(v any) ([]byte, error) { return json.Marshal(v) },
		"json v2":       func(v any) ([]byte, error) { return jsonv2.Marshal(v) },
		"config":        config.JSON,
	} {
		b, err := enc(c)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		json.Unmarshal(b, &m)
		if m["min_severity"] != "low" || m["types"] == nil {
			t.Errorf("%s: %s", name, b)
		}
	}
}
