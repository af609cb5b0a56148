package detect

import (
	"errors"
	"fmt"
	"reflect"
	"sort"

	"github.com/goccy/go-yaml/ast"

	"github.com/palisade-sec/palisade/internal/config"
)

// FamilyOptions are a detector family's typed settings: the
// detect.options.<family> section of the configuration file. A family
// declares them with RegisterOptions (a pointer to a struct with yaml and
// doc tags, its defaults filled in) and reads them with optionsFor.
type FamilyOptions interface {
	config.Validator
}

// Options holds the options of the families that have any, by family
// name (the detect.options section). A family missing from it runs with
// its defaults. Decoding is strict: an unknown family or key, or a value
// of the wrong type, is an error naming the line.
type Options map[string]FamilyOptions

var optionsRegistry = config.NewRegistry[FamilyOptions]("detector options")

// RegisterOptions declares the options of a family (call it from the
// family's init, beside Register). defaults returns a new value with the
// documented defaults.
func RegisterOptions(family string, defaults func() FamilyOptions) {
	optionsRegistry.Register(family, "", defaults)
}

// DefaultOptions returns a family's options with their defaults (false
// when the family has none).
func DefaultOptions(family string) (FamilyOptions, bool) { return optionsRegistry.New(family) }

// OptionFamilies lists the families that have options, sorted.
func OptionFamilies() []string { return optionsRegistry.Names() }

// optionsFor returns the family's options from cfg, or its defaults.
func optionsFor[T FamilyOptions](cfg Config, family string) T {
	if o, ok := cfg.Options[family].(T); ok && !reflect.ValueOf(o).IsNil() {
		return o
	}
	d, ok := DefaultOptions(family)
	if !ok {
		panic(fmt.Sprintf("detect: family %q has no registered options", family))
	}
	return d.(T)
}

// UnmarshalYAML decodes detect.options: each member names a family with
// options and is decoded strictly into that family's type, over the value
// an earlier document set (or the defaults).
func (o *Options) UnmarshalYAML(n ast.Node) error {
	if *o == nil {
		*o = Options{}
	}
	return config.Mapping(n, func(family string, kn, v ast.Node) error {
		cur, ok := (*o)[family]
		if !ok || cur == nil {
			d, known := DefaultOptions(family)
			if !known {
				return config.NodeError(kn, "no detector family %q has options (families with options: %v)", family, OptionFamilies())
			}
			cur = d
		}
		if err := config.DecodeNode(v, cur); err != nil {
			return err
		}
		(*o)[family] = cur
		return nil
	})
}

// DescribeKeys lists every family's options with their defaults
// (config.Describer).
func (o Options) DescribeKeys() []config.Key {
	var out []config.Key
	for _, f := range OptionFamilies() {
		d, _ := DefaultOptions(f)
		for _, k := range config.Describe(d) {
			k.Key = f + "." + k.Key
			out = append(out, k)
		}
	}
	return out
}

// checkOptions checks what every family's options share: numbers are not
// negative (0 means "the default" where a key says so) and durations are
// positive. Families add their own checks.
func checkOptions(o any) error {
	v := reflect.ValueOf(o)
	for v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	var errs []error
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key := f.Tag.Get("yaml")
		fv := v.Field(i)
		switch {
		case f.Type == reflect.TypeFor[config.Duration]():
			if fv.Int() <= 0 {
				errs = append(errs, config.Errorf(key, "must be positive"))
			}
		case fv.CanInt():
			if fv.Int() < 0 {
				errs = append(errs, config.Errorf(key, "must not be negative"))
			}
		case fv.CanFloat():
			if fv.Float() < 0 || fv.Float() != fv.Float() {
				errs = append(errs, config.Errorf(key, "must not be negative"))
			}
		}
	}
	return joinErrs(errs)
}

// atMostOne checks fractions (quantiles, shares, confidences).
func atMostOne(errs error, keys map[string]float64) error {
	list := []error{errs}
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if keys[k] > 1 {
			list = append(list, config.Errorf(k, "must be at most 1"))
		}
	}
	return joinErrs(list)
}

func joinErrs(errs []error) error { return errors.Join(errs...) }

// ParseOptions reads a detect.options section from YAML (or JSON), as the
// configuration file does: for code that configures families without a
// file (tests, the evaluation tooling). Errors name the line and key.
func ParseOptions(doc string) (Options, error) {
	var o Options
	l := &config.Loader{}
	if err := l.Decode(config.Doc{Name: "detect.options", Data: []byte(doc)}, &o); err != nil {
		return nil, err
	}
	if err := l.Validate(o); err != nil {
		return nil, err
	}
	return o, nil
}
