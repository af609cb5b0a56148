package engine

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/palisade-sec/palisade/internal/classify"
	"github.com/palisade-sec/palisade/internal/enrich"
)

// FileConfig is the pipeline part of the configuration file (YAML or JSON).
// Every key is documented in docs/configuration.md. Unknown keys are errors.
type FileConfig struct {
	ReorderWindow  Duration `yaml:"reorder_window"`
	InternalRanges []string `yaml:"internal_ranges"`
	TrustedProxies []string `yaml:"trusted_proxies"`
	Specs          []string `yaml:"specs"`
	Intel          []string `yaml:"intel"`
	Identity       struct {
		KeyFile        string   `yaml:"key_file"`
		APIKeyHeaders  []string `yaml:"api_key_headers"`
		APIKeyParams   []string `yaml:"api_key_params"`
		SessionCookies []string `yaml:"session_cookies"`
	} `yaml:"identity"`
	Inventory struct {
		Pinned      []string `yaml:"pinned"`
		Ignore      []string `yaml:"ignore"`
		UnusedAfter Duration `yaml:"unused_after"`
		MaxNodes    int      `yaml:"max_nodes"`
	} `yaml:"inventory"`
	Classify struct {
		Custom []struct {
			Name       string   `yaml:"name"`
			Pattern    string   `yaml:"pattern"`
			Keywords   []string `yaml:"keywords"`
			Validator  string   `yaml:"validator"`
			FieldNames []string `yaml:"field_names"`
		} `yaml:"custom"`
	} `yaml:"classify"`
	Detect struct {
		Disabled             []string                  `yaml:"disabled"`
		MaxTrackedClients    int                       `yaml:"max_tracked_clients"`
		MaxTrackedIdentities int                       `yaml:"max_tracked_identities"`
		Options              map[string]map[string]any `yaml:"options"`
	} `yaml:"detect"`
	Posture struct {
		UnusedAfter Duration `yaml:"unused_after"`
	} `yaml:"posture"`
}

// Duration accepts Go durations plus a "d" (days) unit: "30d", "36h", "90m".
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("line %d: duration must be a string like \"30d\" or \"12h\"", n.Line)
	}
	v, err := ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %v", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// ParseDuration parses a duration with an optional trailing "d" for days.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if strings.HasSuffix(s, "d") {
		n, err := strconv.ParseFloat(strings.TrimSuffix(s, "d"), 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		return time.Duration(n * float64(24*time.Hour)), nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("bad duration %q", s)
	}
	return v, nil
}

// LoadConfigFile reads a configuration file into an engine configuration
// (starting from the defaults). Errors name the file and line.
func LoadConfigFile(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return DefaultConfig(), err
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig parses configuration bytes (YAML or JSON).
func ParseConfig(data []byte) (Config, error) {
	cfg := DefaultConfig()
	var fc FileConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&fc); err != nil && err.Error() != "EOF" {
		return cfg, err
	}
	return fc.Apply(cfg)
}

// Apply overlays the file configuration on cfg.
func (fc *FileConfig) Apply(cfg Config) (Config, error) {
	if fc.ReorderWindow > 0 {
		cfg.Reorder = time.Duration(fc.ReorderWindow)
	}
	if len(fc.InternalRanges) > 0 {
		ps, err := enrich.ParsePrefixes(fc.InternalRanges)
		if err != nil {
			return cfg, fmt.Errorf("internal_ranges: %w", err)
		}
		cfg.Enrich.Internal = ps
	}
	if len(fc.TrustedProxies) > 0 {
		ps, err := enrich.ParsePrefixes(fc.TrustedProxies)
		if err != nil {
			return cfg, fmt.Errorf("trusted_proxies: %w", err)
		}
		cfg.Enrich.TrustedProxies = ps
	}
	cfg.Specs = append(cfg.Specs, fc.Specs...)
	cfg.Intel = append(cfg.Intel, fc.Intel...)
	id := &cfg.Enrich.Identity
	if fc.Identity.KeyFile != "" {
		k, err := os.ReadFile(fc.Identity.KeyFile)
		if err != nil {
			return cfg, fmt.Errorf("identity.key_file: %w", err)
		}
		id.Key = bytes.TrimSpace(k)
	}
	if len(fc.Identity.APIKeyHeaders) > 0 {
		id.APIKeyHeaders = lower(fc.Identity.APIKeyHeaders)
	}
	if len(fc.Identity.APIKeyParams) > 0 {
		id.APIKeyParams = fc.Identity.APIKeyParams
	}
	if len(fc.Identity.SessionCookies) > 0 {
		id.SessionCookies = lower(fc.Identity.SessionCookies)
	}
	cfg.Inventory.Pinned = append(cfg.Inventory.Pinned, fc.Inventory.Pinned...)
	cfg.Inventory.Ignore = append(cfg.Inventory.Ignore, fc.Inventory.Ignore...)
	if fc.Inventory.UnusedAfter > 0 {
		cfg.Inventory.UnusedAfter = time.Duration(fc.Inventory.UnusedAfter)
	}
	if fc.Inventory.MaxNodes > 0 {
		cfg.Inventory.MaxNodes = fc.Inventory.MaxNodes
	}
	for i, c := range fc.Classify.Custom {
		if c.Name == "" {
			return cfg, fmt.Errorf("classify.custom[%d].name: missing", i)
		}
		cfg.Classify.Custom = append(cfg.Classify.Custom, classify.CustomType{Name: c.Name, Pattern: c.Pattern,
			Keywords: c.Keywords, Validator: c.Validator, FieldNames: c.FieldNames})
	}
	cfg.Detect.Disabled = append(cfg.Detect.Disabled, fc.Detect.Disabled...)
	if fc.Detect.MaxTrackedClients > 0 {
		cfg.Detect.MaxTrackedClients = fc.Detect.MaxTrackedClients
	}
	if fc.Detect.MaxTrackedIdentities > 0 {
		cfg.Detect.MaxTrackedIdentities = fc.Detect.MaxTrackedIdentities
	}
	if len(fc.Detect.Options) > 0 {
		cfg.Detect.Options = fc.Detect.Options
	}
	if fc.Posture.UnusedAfter > 0 {
		cfg.Posture.UnusedAfter = time.Duration(fc.Posture.UnusedAfter)
	}
	return cfg, nil
}

func lower(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = strings.ToLower(s)
	}
	return out
}
