package detect

import (
	"sort"

	"github.com/palisade-sec/palisade/internal/classify"
	"github.com/palisade-sec/palisade/internal/pipeline"
)

// Config is shared by all detector factories. Family-specific tuning lives
// in each family's file (with documented defaults) and is reached through
// Options.
type Config struct {
	// Specs answers what the declared OpenAPI specs say about an endpoint
	// (may be nil): detectors use it to know what is normal from the first
	// request.
	Specs pipeline.SpecLookup
	// MaxTrackedClients / MaxTrackedIdentities bound per-client and
	// per-identity state across all detectors (0 = family default).
	MaxTrackedClients    int
	MaxTrackedIdentities int
	// Options holds the typed options of the families that have any
	// (detect.options in the configuration file); a family missing from
	// it runs with its defaults.
	Options Options
	// Disabled lists detector names to leave out.
	Disabled []string
	// Classifier classifies the events that arrive unclassified
	// (event.Event.Classified false: classification turned off, or a
	// detector used on its own) for the detectors that need their data
	// classes; it is the engine's, so that custom data types apply. Nil:
	// the default configuration. Classified events carry their result
	// (event.Event.Sensitive), which detectors read instead.
	Classifier *classify.Classifier
	// EndUserRoles name the roles of the deployment's end users
	// (customers, patients: principals that open their own objects and
	// are not administrators), matched singular or plural after the
	// normalization of role claims (ROLE_USER is user); empty: the default
	// vocabulary (DefaultEndUserRoles). Used by bfla (first use of an
	// administrative function), enumeration (end-user crowds) and authabuse
	// (token reuse while the peers learn).
	EndUserRoles []string
}

type factory struct {
	name string
	make func(Config) Detector
}

var factories []factory

// Register adds a detector family to the default set. Call it from init()
// in the family's file.
func Register(name string, make func(Config) Detector) {
	factories = append(factories, factory{name, make})
}

// Families returns the registered family names, sorted.
func Families() []string {
	var out []string
	for _, f := range factories {
		out = append(out, f.name)
	}
	sort.Strings(out)
	return out
}

// NewDefault builds an engine with every registered family (in name order,
// so runs are deterministic) except those disabled in cfg.
func NewDefault(cfg Config) *Engine {
	fs := append([]factory(nil), factories...)
	sort.Slice(fs, func(i, j int) bool { return fs[i].name < fs[j].name })
	var ds []Detector
	for _, f := range fs {
		off := false
		for _, d := range cfg.Disabled {
			if d == f.name {
				off = true
			}
		}
		if !off {
			ds = append(ds, f.make(cfg))
		}
	}
	return NewEngine(ds...)
}
