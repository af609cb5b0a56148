package engine

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/palisade-sec/palisade/internal/classify"
	"github.com/palisade-sec/palisade/internal/config"
	"github.com/palisade-sec/palisade/internal/detect"
	"github.com/palisade-sec/palisade/internal/enrich"
	"github.com/palisade-sec/palisade/internal/identity"
	"github.com/palisade-sec/palisade/internal/inventory"
)

// FileConfig is the pipeline part of the configuration file: its
// top-level keys (the root document is server.Config, which adds the
// serve sections). DefaultFileConfig holds the defaults; Apply turns it
// into an engine Config. Every key is listed in docs/configuration.md.
type FileConfig struct {
	ReorderWindow   config.Duration     `yaml:"reorder_window" doc:"event-time disorder tolerated: records are held this long (of event time; at most 65,536 records and 64 MiB) and processed in time order; older ones are processed anyway and counted as late"`
	InternalRanges  []string            `yaml:"internal_ranges" doc:"clients in these ranges (CIDR or address) are internal; an empty list keeps the default"`
	TrustedProxies  []string            `yaml:"trusted_proxies" doc:"peers whose X-Forwarded-For is trusted: the client is the right-most address that is not a trusted proxy (none: the peer is the client)"`
	Specs           []string            `yaml:"specs" doc:"declared OpenAPI specs, PATH or PATH,host=HOST (same as --spec)"`
	Intel           []string            `yaml:"intel" doc:"threat-intel feeds KIND[,min=N][,name=NAME]=PATH|URL (same as --intel; docs/threat-intel.md)"`
	Identity        IdentityFile        `yaml:"identity"`
	ContentDecoding ContentDecodingFile `yaml:"content_decoding"`
	Inventory       InventoryFile       `yaml:"inventory"`
	Classify        ClassifyFile        `yaml:"classify"`
	Detect          DetectFile          `yaml:"detect"`
	Posture         PostureFile         `yaml:"posture"`
}

// IdentityFile is the identity section.
type IdentityFile struct {
	KeyFile        string   `yaml:"key_file" doc:"file holding the HMAC key of pseudonymous identities (default: a fixed key in analyze, so reports are reproducible; the installation key in serve)"`
	APIKeyHeaders  []string `yaml:"api_key_headers" doc:"request headers holding API keys (replaces the default list)"`
	APIKeyParams   []string `yaml:"api_key_params" doc:"query parameters holding API keys (replaces the default list)"`
	SessionCookies []string `yaml:"session_cookies" doc:"cookies that identify a session (replaces the default list)"`
}

// ContentDecodingFile is the content_decoding section: request and
// response bodies recorded with a Content-Encoding (docs/exchange-format.md).
type ContentDecodingFile struct {
	Disabled bool `yaml:"disabled" doc:"analyze bodies recorded with a Content-Encoding (gzip, deflate, br, zstd) as sent, without decoding them"`
	MaxBody  int  `yaml:"max_body" doc:"bytes of a decoded body kept after each decoding layer; the rest is cut and the body marked truncated (analyzers read at most 256 KiB of a body); 0 = 262144, at most 64 MiB"`
	MaxRatio int  `yaml:"max_ratio" doc:"a decoded body is cut at this many times its recorded (encoded) size, at least 64 KiB: a decompression bomb costs a bounded multiple of the bytes sent; 0 = 100"`
}

// InventoryFile is the inventory section.
type InventoryFile struct {
	Pinned         []string        `yaml:"pinned" doc:"path templates used as given, \"/v2/users/{userId}\" or \"host /path/{id}\" (same as --pin)"`
	Ignore         []string        `yaml:"ignore" doc:"path globs never inventoried, \"/healthz\", \"/static/**\" (same as --ignore)"`
	UnusedAfter    config.Duration `yaml:"unused_after" doc:"an endpoint not seen for this long is reported unused"`
	MaxNodes       int             `yaml:"max_nodes" doc:"path-tree nodes kept (memory budget of the inventory)"`
	MaxEndpointIDs int             `yaml:"max_endpoint_ids" doc:"endpoint ids given to the references events are templated to (≈160 bytes each); beyond it references are resolved from their strings, with the same result"`
}

// ClassifyFile is the classify section.
type ClassifyFile struct {
	Custom []CustomTypeFile `yaml:"custom" doc:"custom sensitive data types (docs/classification.md)"`
}

// CustomTypeFile is one custom data type.
type CustomTypeFile struct {
	Name       string   `yaml:"name" doc:"data type name, as it appears in findings"`
	Pattern    string   `yaml:"pattern" doc:"RE2 regular expression matched against values and text"`
	Keywords   []string `yaml:"keywords" doc:"without a pattern each keyword occurrence is a match; with one, a match counts when a keyword occurs nearby"`
	Validator  string   `yaml:"validator" doc:"check of a match: luhn, mod97 (IBAN), ssn, e164 or nanp"`
	FieldNames []string `yaml:"field_names" doc:"a value in a field of this name is of this type (when it passes pattern and validator, if any)"`
}

// Validate implements config.Validator.
func (c CustomTypeFile) Validate() error {
	if strings.TrimSpace(c.Name) == "" {
		return config.Errorf("name", "missing")
	}
	if c.Pattern == "" && len(c.Keywords) == 0 && len(c.FieldNames) == 0 {
		return config.Errorf("pattern", "give a pattern, keywords or field_names")
	}
	return nil
}

// DetectFile is the detect section.
type DetectFile struct {
	Disabled             []string       `yaml:"disabled" doc:"detector families to leave out (docs/detection-*.md)"`
	MaxTrackedClients    int            `yaml:"max_tracked_clients" doc:"per-client state budget of each family's table; 0 = 200,000"`
	MaxTrackedIdentities int            `yaml:"max_tracked_identities" doc:"per-principal state budget of each family's table; 0 = 200,000"`
	EndUserRoles         []string       `yaml:"end_user_roles" doc:"role claims of your APIs' end users (customers, patients: principals that open their own objects, not administrators), matched singular or plural, ROLE_ prefixes and namespaces removed; replaces the built-in list (customer, user, member, guest, patient, client, subscriber, consumer, buyer, shopper, visitor, public, anonymous, student, learner, player, viewer, reader)"`
	Options              detect.Options `yaml:"options" doc:"family settings"`
}

// Validate implements config.Validator.
func (d DetectFile) Validate() error {
	var errs []error
	known := map[string]bool{}
	for _, f := range detect.Families() {
		known[f] = true
	}
	for i, f := range d.Disabled {
		if !known[f] {
			errs = append(errs, config.Errorf(fmt.Sprintf("disabled[%d]", i), "no detector family %q (families: %s)", f, strings.Join(detect.Families(), ", ")))
		}
	}
	if d.MaxTrackedClients < 0 {
		errs = append(errs, config.Errorf("max_tracked_clients", "must not be negative"))
	}
	if d.MaxTrackedIdentities < 0 {
		errs = append(errs, config.Errorf("max_tracked_identities", "must not be negative"))
	}
	for i, r := range d.EndUserRoles {
		if !detect.RoleNameUsable(r) {
			errs = append(errs, config.Errorf(fmt.Sprintf("end_user_roles[%d]", i), "%q names no role of 3 letters or more once normalized (lower case, namespace and ROLE_ prefix removed)", r))
		}
	}
	return errors.Join(errs...)
}

// PostureFile is the posture section.
type PostureFile struct {
	UnusedAfter config.Duration `yaml:"unused_after" doc:"a documented endpoint with no traffic for this long is a posture finding"`
	// GraphQL cost limits of PAL-T018 (posture.TrafficConfig).
	GraphQLMaxDepth   int `yaml:"graphql_max_depth" doc:"PAL-T018: a GraphQL selection deeper than this, answered with data, shows no depth limit"`
	GraphQLMaxAliases int `yaml:"graphql_max_aliases" doc:"PAL-T018: more aliased fields than this in one request, answered with data, shows no alias limit"`
	GraphQLMaxBatch   int `yaml:"graphql_max_batch" doc:"PAL-T018: more documents than this in one batched request, answered with data, shows no batch limit"`
}

// DefaultFileConfig returns the pipeline keys with their defaults (the
// same as DefaultConfig).
func DefaultFileConfig() FileConfig {
	d := DefaultConfig()
	var internal []string
	for _, p := range d.Enrich.Internal {
		internal = append(internal, p.String())
	}
	id := identity.DefaultConfig()
	inv := inventory.DefaultConfig()
	return FileConfig{
		ReorderWindow:  config.Duration(d.Reorder),
		InternalRanges: internal,
		Identity: IdentityFile{APIKeyHeaders: id.APIKeyHeaders, APIKeyParams: id.APIKeyParams,
			SessionCookies: id.SessionCookies},
		ContentDecoding: ContentDecodingFile{MaxBody: d.Enrich.Content.MaxBody, MaxRatio: d.Enrich.Content.MaxRatio},
		Inventory:       InventoryFile{UnusedAfter: config.Duration(inv.UnusedAfter), MaxNodes: inv.MaxNodes, MaxEndpointIDs: inv.MaxEndpointIDs},
		Posture:         PostureFile{UnusedAfter: config.Duration(30 * 24 * time.Hour), GraphQLMaxDepth: 10, GraphQLMaxAliases: 15, GraphQLMaxBatch: 10},
	}
}

// Validate implements config.Validator: what can be checked without
// reading files (the spec and intel files are read when the engine
// starts, and their errors name them).
func (fc FileConfig) Validate() error {
	var errs []error
	if fc.ReorderWindow < 0 {
		errs = append(errs, config.Errorf("reorder_window", "must not be negative"))
	}
	for _, k := range []struct {
		key  string
		list []string
	}{{"internal_ranges", fc.InternalRanges}, {"trusted_proxies", fc.TrustedProxies}} {
		if _, err := enrich.ParsePrefixes(k.list); err != nil {
			errs = append(errs, config.Errorf(k.key, "%v", err))
		}
	}
	if fc.Inventory.MaxNodes < 0 {
		errs = append(errs, config.Errorf("inventory.max_nodes", "must not be negative"))
	}
	if cd := fc.ContentDecoding; cd.MaxBody < 0 || cd.MaxBody > 64<<20 {
		errs = append(errs, config.Errorf("content_decoding.max_body", "must be between 0 (the default) and 67108864 (64 MiB), not %d", cd.MaxBody))
	}
	if fc.ContentDecoding.MaxRatio < 0 {
		errs = append(errs, config.Errorf("content_decoding.max_ratio", "must not be negative"))
	}
	if fc.Inventory.MaxEndpointIDs < 0 {
		errs = append(errs, config.Errorf("inventory.max_endpoint_ids", "must not be negative"))
	}
	for _, k := range []struct {
		key string
		v   int
	}{{"posture.graphql_max_depth", fc.Posture.GraphQLMaxDepth}, {"posture.graphql_max_aliases", fc.Posture.GraphQLMaxAliases}, {"posture.graphql_max_batch", fc.Posture.GraphQLMaxBatch}} {
		if k.v < 0 {
			errs = append(errs, config.Errorf(k.key, "must not be negative, not %d", k.v))
		}
	}
	return errors.Join(errs...)
}

// Apply turns the pipeline keys into an engine configuration (over the
// defaults). It reads identity.key_file.
func (fc FileConfig) Apply() (Config, error) {
	cfg := DefaultConfig()
	if fc.ReorderWindow > 0 {
		cfg.Reorder = fc.ReorderWindow.D()
	}
	var err error
	if len(fc.InternalRanges) > 0 {
		if cfg.Enrich.Internal, err = prefixes("internal_ranges", fc.InternalRanges); err != nil {
			return cfg, err
		}
	}
	if len(fc.TrustedProxies) > 0 {
		if cfg.Enrich.TrustedProxies, err = prefixes("trusted_proxies", fc.TrustedProxies); err != nil {
			return cfg, err
		}
	}
	if cd := fc.ContentDecoding; cd.Disabled {
		cfg.Enrich.Content.MaxBody = 0
	} else {
		if cd.MaxBody > 0 {
			cfg.Enrich.Content.MaxBody = cd.MaxBody
		}
		if cd.MaxRatio > 0 {
			cfg.Enrich.Content.MaxRatio = cd.MaxRatio
		}
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
		cfg.Inventory.UnusedAfter = fc.Inventory.UnusedAfter.D()
	}
	if fc.Inventory.MaxNodes > 0 {
		cfg.Inventory.MaxNodes = fc.Inventory.MaxNodes
	}
	if fc.Inventory.MaxEndpointIDs > 0 {
		cfg.Inventory.MaxEndpointIDs = fc.Inventory.MaxEndpointIDs
	}
	for _, c := range fc.Classify.Custom {
		cfg.Classify.Custom = append(cfg.Classify.Custom, classify.CustomType{Name: c.Name, Pattern: c.Pattern,
			Keywords: c.Keywords, Validator: c.Validator, FieldNames: c.FieldNames})
	}
	cfg.Detect.Disabled = append(cfg.Detect.Disabled, fc.Detect.Disabled...)
	cfg.Detect.MaxTrackedClients = fc.Detect.MaxTrackedClients
	cfg.Detect.MaxTrackedIdentities = fc.Detect.MaxTrackedIdentities
	cfg.Detect.EndUserRoles = append([]string(nil), fc.Detect.EndUserRoles...)
	if len(fc.Detect.Options) > 0 {
		cfg.Detect.Options = fc.Detect.Options
	}
	if fc.Posture.GraphQLMaxDepth > 0 {
		cfg.Posture.GraphQLMaxDepth = fc.Posture.GraphQLMaxDepth
	}
	if fc.Posture.GraphQLMaxAliases > 0 {
		cfg.Posture.GraphQLMaxAliases = fc.Posture.GraphQLMaxAliases
	}
	if fc.Posture.GraphQLMaxBatch > 0 {
		cfg.Posture.GraphQLMaxBatch = fc.Posture.GraphQLMaxBatch
	}
	if fc.Posture.UnusedAfter > 0 {
		cfg.Posture.UnusedAfter = fc.Posture.UnusedAfter.D()
	}
	return cfg, nil
}

func prefixes(key string, list []string) ([]netip.Prefix, error) {
	ps, err := enrich.ParsePrefixes(list)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return ps, nil
}

// ParseDuration parses a duration with an optional trailing "d" for days.
func ParseDuration(s string) (time.Duration, error) { return config.ParseDuration(s) }

func lower(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = strings.ToLower(s)
	}
	return out
}
