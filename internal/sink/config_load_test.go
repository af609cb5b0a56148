package sink

import (
	"encoding/json"
	"testing"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/knadh/koanf/v2"
	"gopkg.in/yaml.v3"
)

type mapProvider map[string]any

func (m mapProvider) ReadBytes() ([]byte, error)    { return nil, nil }
func (m mapProvider) Read() (map[string]any, error) { return m, nil }

// The serve configuration is loaded with koanf (tag "koanf") from YAML:
// the embedded Filter must be filled from the sink's own level.
func TestConfigLoadsWithKoanfAndYAML(t *testing.T) {
	doc := []byte(`
sinks:
  - type: webhook
    name: soc
    url: https://hooks.example.test/p
    secret_env: HOOK_SECRET
    types: ["injection.*", "auth.brute_force"]
    min_severity: high
    headers: {X-Tenant: prod}
  - type: ocsf
    path: /tmp/x.ndjson
    max_bytes: 1048576
    api_activity: true
`)
	var raw map[string]any
	if err := yaml.Unmarshal(doc, &raw); err != nil {
		t.Fatal(err)
	}
	k := koanf.New(".")
	if err := k.Load(mapProvider(raw), nil); err != nil {
		t.Fatal(err)
	}
	var viaKoanf struct {
		Sinks []Config `koanf:"sinks"`
	}
	if err := k.UnmarshalWithConf("", &viaKoanf, koanf.UnmarshalConf{Tag: "koanf"}); err != nil {
		t.Fatal(err)
	}
	var viaYAML struct {
		Sinks []Config `yaml:"sinks"`
	}
	if err := yaml.Unmarshal(doc, &viaYAML); err != nil {
		t.Fatal(err)
	}
	for name, cfg := range map[string][]Config{"koanf": viaKoanf.Sinks, "yaml": viaYAML.Sinks} {
		if len(cfg) != 2 {
			t.Fatalf("%s: %d sinks", name, len(cfg))
		}
		w, o := cfg[0], cfg[1]
		if w.Type != "webhook" || w.Name != "soc" || w.SecretEnv != "HOOK_SECRET" || w.MinSeverity != "high" ||
			len(w.Types) != 2 || w.Types[0] != "injection.*" || w.Headers["X-Tenant"] != "prod" {
			t.Errorf("%s: webhook %+v", name, w)
		}
		if o.Type != "ocsf" || o.MaxBytes != 1<<20 || !o.APIActivity || o.Path != "/tmp/x.ndjson" {
			t.Errorf("%s: ocsf %+v", name, o)
		}
	}
	// JSON (both encoders) puts the filter keys at the sink's level too.
	c := Config{Type: "webhook", Filter: Filter{Types: []string{"a.*"}, MinSeverity: "low"}}
	for name, enc := range map[string]func(any) ([]byte, error){
		"encoding/json": func(v any) ([]byte, error) { return json.Marshal(v) },
		"json v2":       func(v any) ([]byte, error) { return jsonv2.Marshal(v) },
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
