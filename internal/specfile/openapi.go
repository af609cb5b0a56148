package specfile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
)

// OpenAPIError is why LoadOpenAPI could not load a document: the step
// that failed and the library's error.
type OpenAPIError struct {
	// Step: "yaml" (a Swagger 2.0 document in YAML did not parse), "json"
	// (its values do not convert to JSON), "swagger" (not a Swagger 2.0
	// document), "convert" (Swagger 2.0 to OpenAPI 3), "load" (the OpenAPI
	// 3 loader; see Locate for a position).
	Step string
	Err  error
}

func (e *OpenAPIError) Error() string { return e.Err.Error() }
func (e *OpenAPIError) Unwrap() error { return e.Err }

// LoadOpenAPI is the one OpenAPI loader, shared by the inventory's spec
// loader and the static audit's second opinion: kin-openapi, the
// project's OpenAPI library, reads an OpenAPI 3 document from its bytes
// (JSON or YAML; external references refused) or a Swagger 2.0 document
// (swagger true) from its JSON form (a YAML document is converted first),
// converted to OpenAPI 3. Path items that are null in a Swagger 2.0
// document are dropped and named in notes. A panic of the library on
// malformed input is returned as an error. Errors are *OpenAPIError. The
// document is not validated (callers choose the validation options).
func LoadOpenAPI(data []byte, swagger bool) (doc *openapi3.T, notes []string, err error) {
	step := "load"
	if swagger {
		step = "swagger"
	}
	defer func() {
		if r := recover(); r != nil {
			doc, notes, err = nil, nil, &OpenAPIError{Step: step, Err: fmt.Errorf("malformed document (OpenAPI library failed: %v)", r)}
		}
	}()
	if !swagger {
		loader := openapi3.NewLoader()
		loader.IsExternalRefsAllowed = false
		d, err := loader.LoadFromData(data)
		if err != nil {
			return nil, nil, &OpenAPIError{Step: step, Err: err}
		}
		return d, nil, nil
	}
	js := bytes.TrimSpace(data)
	if len(js) == 0 || js[0] != '{' {
		var v any
		if err := UnmarshalYAML(data, &v); err != nil {
			return nil, nil, &OpenAPIError{Step: "yaml", Err: err}
		}
		b, err := json.Marshal(JSONable(v))
		if err != nil {
			return nil, nil, &OpenAPIError{Step: "json", Err: err}
		}
		js = b
	}
	var d2 openapi2.T
	if err := json.Unmarshal(js, &d2); err != nil {
		return nil, nil, &OpenAPIError{Step: "swagger", Err: err}
	}
	for p, item := range d2.Paths {
		if item == nil {
			delete(d2.Paths, p)
			notes = append(notes, fmt.Sprintf("path %q has no operations (null)", p))
		}
	}
	sort.Strings(notes)
	step = "convert"
	d3, err := openapi2conv.ToV3(&d2)
	if err != nil {
		return nil, nil, &OpenAPIError{Step: step, Err: err}
	}
	return d3, notes, nil
}
