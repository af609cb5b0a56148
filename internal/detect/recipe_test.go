package detect

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/alert"
	"github.com/palisade-sec/palisade/internal/config"
	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/model"
)

// The recipe "add a detector" (docs/ARCHITECTURE.md) done in a test: a
// family with typed options, registered beside the others, configured from
// a document, run by the default engine, emitting an alert of a catalogue
// type.

// recipeOptions are the test family's options (detect.options.recipe).
type recipeOptions struct {
	Window  config.Duration `yaml:"window" doc:"window of not-found answers per client"`
	MinMiss int             `yaml:"min_miss" doc:"not-found answers of one client in a window that raise the alert"`
}

func (o *recipeOptions) Validate() error {
	if err := checkOptions(o); err != nil {
		return err
	}
	if o.MinMiss == 0 {
		return config.Errorf("min_miss", "must be positive")
	}
	return nil
}

// recipeDetector counts a client's 404 answers per window (a map for
// brevity; a real family keeps bounded state: newLRU with a budget).
type recipeDetector struct {
	win     time.Duration
	minMiss int
	start   map[string]time.Time
	n       map[string]int
}

func (d *recipeDetector) Name() string { return "recipe" }

func (d *recipeDetector) Observe(ev *event.Event, out *Emitter) {
	if ev.Status != 404 {
		return
	}
	c := ev.ClientIP.String() // a string kept past Observe: a new one, not the record's
	if s, ok := d.start[c]; !ok || ev.Time.Sub(s) >= d.win {
		d.start[c], d.n[c] = ev.Time, 0
	}
	d.n[c]++
	if d.n[c] >= d.minMiss {
		ep := keepRef(ev.Endpoint)
		out.Emit(Hit{Type: alert.ReconEndpointSpray, Time: ev.Time, Client: c, Endpoint: &ep, Confidence: 0.5,
			Evidence: model.Evidence{Observed: d.n[c], Threshold: d.minMiss, Window: d.win.String(), Reason: "not-found answers in one window"}})
	}
}

func registerRecipe(t *testing.T) {
	Register("recipe", func(cfg Config) Detector {
		o := optionsFor[*recipeOptions](cfg, "recipe")
		return &recipeDetector{win: o.Window.D(), minMiss: o.MinMiss, start: map[string]time.Time{}, n: map[string]int{}}
	})
	RegisterOptions("recipe", func() FamilyOptions { return &recipeOptions{Window: config.Duration(time.Minute), MinMiss: 5} })
	t.Cleanup(func() {
		factories = slices.DeleteFunc(factories, func(f factory) bool { return f.name == "recipe" })
		optionsRegistry.Unregister("recipe")
	})
}

func TestRecipeAddADetector(t *testing.T) {
	registerRecipe(t)
	if !slices.Contains(Families(), "recipe") {
		t.Fatal("the family is not registered")
	}
	// Its options are decoded strictly and validated with the key named…
	if _, err := ParseOptions("recipe: {min_mis: 3}\n"); err == nil || !strings.Contains(err.Error(), `recipe.min_mis: unknown key "min_mis"`) {
		t.Fatalf("unknown key: %v", err)
	}
	if _, err := ParseOptions("recipe: {min_miss: 0}\n"); err == nil || !strings.Contains(err.Error(), "recipe.min_miss: must be positive") {
		t.Fatalf("validation: %v", err)
	}
	if _, err := ParseOptions("recipe: {window: -1m}\n"); err == nil || !strings.Contains(err.Error(), "recipe.window") {
		t.Fatalf("negative window: %v", err)
	}
	// …described (docs/configuration.md is generated from this)…
	found := false
	for _, k := range (Options{}).DescribeKeys() {
		found = found || k.Key == "recipe.min_miss" && k.Default == "5" && strings.HasPrefix(k.Doc, "not-found answers")
	}
	if !found {
		t.Fatal("the family's options are not described")
	}
	// …and reach the detector the default engine builds.
	opts, err := ParseOptions("recipe: {min_miss: 3}\n")
	if err != nil {
		t.Fatal(err)
	}
	run := func(cfg Config) []string {
		g := NewDefault(cfg)
		at := time.Date(2026, 11, 18, 10, 0, 0, 0, time.UTC)
		for i := 0; i < 4; i++ {
			g.Observe(mkEv(at.Add(time.Duration(i)*time.Second), "198.51.100.7", "GET", "/admin/x", "/admin/x", 404))
			g.Observe(mkEv(at.Add(time.Duration(i)*time.Second), "198.51.100.8", "GET", "/items/1", "/items/1", 200))
		}
		var got []string
		for _, a := range g.Alerts() {
			if a.Type == alert.ReconEndpointSpray.String() {
				got = append(got, a.Client.IP+" "+a.Endpoint.Path)
				if a.Count != 2 || a.Evidence.Observed != 4 {
					t.Errorf("alert %+v: want count 2 (hits 3 and 4 folded) and the last evidence", a)
				}
			}
		}
		return got
	}
	if got := run(Config{Options: opts}); len(got) != 1 || got[0] != "198.51.100.7 /admin/x" {
		t.Fatalf("alerts %v: want one for the client with 4 not-found answers (min_miss 3)", got)
	}
	if got := run(Config{}); len(got) != 0 {
		t.Fatalf("alerts %v with the defaults (min_miss 5)", got)
	}
	if got := run(Config{Options: opts, Disabled: []string{"recipe"}}); len(got) != 0 {
		t.Fatalf("alerts %v from a disabled family", got)
	}
}
