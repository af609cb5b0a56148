package source

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"

	"github.com/goccy/go-yaml/ast"

	"github.com/palisade-sec/palisade/internal/config"
)

// Configs is the "sources" section of the configuration file: for each
// registered kind, a list of that kind's configurations. Decoding is
// strict: an unknown kind or key is an error naming the line.
type Configs map[string][]Config

// UnmarshalYAML decodes the section through the registry of kinds.
func (c *Configs) UnmarshalYAML(n ast.Node) error {
	if *c == nil {
		*c = Configs{}
	}
	return config.Mapping(n, func(kind string, kn, v ast.Node) error {
		if _, ok := NewConfig(kind); !ok {
			return config.NodeError(kn, "unknown source kind %q (kinds: %v)", kind, Kinds())
		}
		var list []Config
		err := config.Sequence(v, func(_ int, item ast.Node) error {
			sc, _ := NewConfig(kind)
			if err := config.DecodeNode(item, sc); err != nil {
				return err
			}
			list = append(list, sc)
			return nil
		})
		if err != nil {
			return err
		}
		(*c)[kind] = list
		return nil
	})
}

// DescribeKeys lists the keys of every kind (config.Describer).
func (c Configs) DescribeKeys() []config.Key {
	var out []config.Key
	for _, k := range Kinds() {
		sc, _ := NewConfig(k)
		out = append(out, config.Key{Key: k, Type: "list", Doc: KindDoc(k)})
		for _, key := range config.Describe(sc) {
			key.Key = k + "[]." + key.Key
			out = append(out, key)
		}
	}
	return out
}

// Each calls fn for every configured source, kinds in name order.
func (c Configs) Each(fn func(kind string, i int, sc Config) error) error {
	for _, k := range Kinds() {
		for i, sc := range c[k] {
			if err := fn(k, i, sc); err != nil {
				return err
			}
		}
	}
	return nil
}

func init() {
	Register("tail", "follow a file like tail -F: exchange NDJSON, NGINX or Envoy JSON access logs", func() Config {
		return &TailConfig{Format: FormatNDJSON}
	})
}

// TailConfig is one followed file of the "sources.tail" list.
type TailConfig struct {
	Path      string            `yaml:"path" doc:"file to follow (it may not exist yet)"`
	Format    Format            `yaml:"format" doc:"ndjson (exchange records), nginx or envoy"`
	FromStart bool              `yaml:"from_start" doc:"an unseen file is read from its start (default: new lines only)"`
	FieldMap  map[string]string `yaml:"field_map" doc:"log key → target, for custom log formats (docs/sources.md)"`
	Source    string            `yaml:"source" doc:"sensor name written to each record's source"`
	Scheme    string            `yaml:"scheme" doc:"scheme when a line has none: http (default) or https"`
}

// Validate implements config.Validator (the field map is checked by
// building the line parser).
func (t *TailConfig) Validate() error {
	if t.Path == "" {
		return config.Errorf("path", "required")
	}
	if t.Scheme != "" && t.Scheme != "http" && t.Scheme != "https" {
		return config.Errorf("scheme", "%q: want http or https", t.Scheme)
	}
	if _, err := NewLineParser(t.Format, t.lineOptions()); err != nil {
		switch t.Format {
		case FormatNDJSON, FormatNGINX, FormatEnvoy:
			return config.Errorf("field_map", "%v", err)
		}
		return config.Errorf("format", "%q: want ndjson, nginx or envoy", t.Format)
	}
	return nil
}

func (t *TailConfig) lineOptions() LineOptions {
	return LineOptions{FieldMap: t.FieldMap, Source: t.Source, DefaultScheme: t.Scheme}
}

// New implements Config: the state file is stateDir/<hash of format and
// path>.json.
func (t *TailConfig) New(stateDir string) (Source, error) {
	sum := sha256.Sum256([]byte(string(t.Format) + "\x00" + t.Path))
	tl, err := NewTail(TailOptions{Path: t.Path, Format: t.Format, LineOptions: t.lineOptions(), FromStart: t.FromStart,
		StateFile: filepath.Join(stateDir, hex.EncodeToString(sum[:8])+".json")})
	if err != nil {
		return nil, fmt.Errorf("tail %s: %w", t.Path, err)
	}
	return tl, nil
}
