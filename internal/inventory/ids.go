package inventory

import (
	"strings"

	"github.com/palisade-sec/palisade/internal/model"
)

// endpointIDs gives every endpoint reference an event is templated to a
// stable id (model.EndpointID), and keeps the reference of each id so that
// Resolve can say what the id stands for now.
//
// Memory: per id one reference and its map entry, ≈160 bytes (measured);
// the strings are the trie's (host, template), shared, and the method.
// Bounded by Config.MaxEndpointIDs; beyond it new references get no id (0)
// and are resolved from their strings instead, with the same result
// (Stats.IDsDropped counts them).
type endpointIDs struct {
	ids     map[model.EndpointRef]model.EndpointID // by reference without its id
	refs    []model.EndpointRef                    // id-1 → the reference, its ID set
	max     int
	dropped int64
}

// assign returns the reference (host, method, tmpl) with its id, giving it
// one when it has none. host and tmpl are strings the inventory owns; the
// method may be a view of the event's text (it is copied when stored).
func (x *endpointIDs) assign(host, method, tmpl string) model.EndpointRef {
	k := model.EndpointRef{Host: host, Method: method, Path: tmpl}
	if id, ok := x.ids[k]; ok { // the compiler does not allocate for this lookup
		return x.refs[id-1]
	}
	if len(x.refs) >= x.max {
		x.dropped++
		return k
	}
	if x.ids == nil {
		x.ids = make(map[model.EndpointRef]model.EndpointID)
	}
	k.Method = ownMethod(method)
	x.ids[k] = model.EndpointID(len(x.refs) + 1)
	k.ID = model.EndpointID(len(x.refs) + 1)
	x.refs = append(x.refs, k)
	return k
}

// ref returns the reference an id was given to.
func (x *endpointIDs) ref(id model.EndpointID) (model.EndpointRef, bool) {
	if id == 0 || int(id) > len(x.refs) {
		return model.EndpointRef{}, false
	}
	return x.refs[id-1], true
}

// lookup returns the id of a reference (0 when it has none).
func (x *endpointIDs) lookup(ref model.EndpointRef) model.EndpointID {
	ref.ID = 0
	return x.ids[ref]
}

// ownMethod returns m as a string that is not a view of the event's text:
// the common methods as constants, others copied.
func ownMethod(m string) string {
	for _, c := range [...]string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"} {
		if m == c {
			return c
		}
	}
	return strings.Clone(m)
}
