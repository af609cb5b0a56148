package inventory

import (
	"fmt"
	"testing"

	"github.com/palisade-sec/palisade/internal/model"
)

// TestEndpointIDs: events get the id of their reference as templated; one
// reference, one id; after templates converge the early ids resolve to the
// final template (the same answer as resolving their strings), and the
// final reference has its own id.
func TestEndpointIDs(t *testing.T) {
	inv := New(DefaultConfig())
	f := newFeeder(t, inv)
	ids := map[string]model.EndpointID{}
	var early []model.EndpointRef
	for i := 0; i < 20; i++ {
		ev := f.send(req{method: "GET", url: fmt.Sprintf("https://%s/users/v1/user%c%c", h, 'a'+i, 'a'+i)})
		ref := ev.Endpoint
		if ref.ID == 0 {
			t.Fatalf("%s: no id", ref.Key())
		}
		if id, ok := ids[ref.Key()]; ok && id != ref.ID {
			t.Fatalf("%s: ids %d and %d", ref.Key(), id, ref.ID)
		}
		ids[ref.Key()] = ref.ID
		if ref.Path != "/users/v1/{userId}" {
			early = append(early, ref)
		}
		again, _ := inv.Template(h, "GET", ev.Path)
		if again.Path == ref.Path && again.ID != ref.ID {
			t.Fatalf("%s: templated again with id %d, was %d", ref.Key(), again.ID, ref.ID)
		}
	}
	if len(early) == 0 || len(early) == 20 {
		t.Fatalf("%d early (concrete) references of 20: the position did not converge as expected", len(early))
	}
	final, _ := inv.Template(h, "GET", "/users/v1/zed")
	if final.Path != "/users/v1/{userId}" || final.ID == 0 {
		t.Fatalf("final reference %+v", final)
	}
	for _, ref := range early {
		got := inv.Resolve(ref)
		if got != final {
			t.Errorf("Resolve(%s #%d) = %+v, want %+v", ref.Key(), ref.ID, got, final)
		}
		byID := inv.Resolve(model.EndpointRef{ID: ref.ID})
		ref.ID = 0
		if byStr := inv.Resolve(ref); byID != got || byStr != got {
			t.Errorf("%s: by id %+v, by strings %+v, want %+v", ref.Key(), byID, byStr, got)
		}
	}
	// A reference the inventory never saw is returned as it is.
	other := model.EndpointRef{Host: "elsewhere.test", Method: "GET", Path: "/x"}
	if got := inv.Resolve(other); got != other {
		t.Errorf("Resolve(unknown) = %+v", got)
	}
}

// TestEndpointIDBudget: beyond MaxEndpointIDs references get no id and
// resolve from their strings to the same endpoint; ignored paths get none.
func TestEndpointIDBudget(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxEndpointIDs = 3
	cfg.Ignore = []string{"/healthz"}
	inv := New(cfg)
	f := newFeeder(t, inv)
	var refs []model.EndpointRef
	for _, p := range []string{"/a", "/b", "/c", "/d", "/e", "/a"} {
		refs = append(refs, f.send(req{method: "GET", url: "https://" + h + p}).Endpoint)
	}
	for i, ref := range refs {
		if (ref.ID != 0) != (i < 3 || i == 5) {
			t.Errorf("%s: id %d (budget 3)", ref.Key(), ref.ID)
		}
		if got := inv.Resolve(ref); got.Key() != ref.Key() {
			t.Errorf("Resolve(%s) = %s", ref.Key(), got.Key())
		}
	}
	if refs[5] != refs[0] {
		t.Errorf("the same reference twice: %+v, %+v", refs[0], refs[5])
	}
	st := inv.Stats()
	if st.EndpointIDs != 3 || st.IDsDropped != 2 {
		t.Errorf("stats: %d ids, %d dropped; want 3, 2", st.EndpointIDs, st.IDsDropped)
	}
	if ev := f.send(req{method: "GET", url: "https://" + h + "/healthz"}); ev.Endpoint.ID != 0 || ev.Endpoint.Path != "/healthz" {
		t.Errorf("ignored path: %+v", ev.Endpoint)
	}
}

// TestEndpointIDAllocs: templating a known path to a reference that has
// its id allocates nothing for the id (the table lookup does not allocate).
func TestEndpointIDAllocs(t *testing.T) {
	inv := New(DefaultConfig())
	inv.Template(h, "GET", "/v1/items")
	method := string([]byte("GET")) // not the constant: a view, as from a record
	if n := testing.AllocsPerRun(100, func() { inv.ids.assign(h, method, "/v1/items") }); n != 0 {
		t.Errorf("assign of a known reference: %v allocations", n)
	}
}

// BenchmarkEndpointIDAssign: the id lookup Template adds per event (a
// known reference).
func BenchmarkEndpointIDAssign(b *testing.B) {
	inv := New(DefaultConfig())
	paths := []string{"/v1/users/{userId}/orders/{orderId}", "/v1/products/featured", "/api/categories/{category}/items", "/v2/accounts/{accountId}/settings"}
	for _, p := range paths {
		inv.ids.assign(h, "GET", p)
	}
	method := string([]byte("GET"))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		inv.ids.assign(h, method, paths[i&3])
	}
}

// BenchmarkEndpointRef: the same through the node's cache (what Template
// does).
func BenchmarkEndpointRef(b *testing.B) {
	inv := New(DefaultConfig())
	paths := []string{"/v1/users/1/orders/2", "/v1/products/featured", "/api/categories/books/items", "/v2/accounts/7/settings"}
	var ns []*node
	for _, p := range paths {
		inv.Template(h, "GET", p)
		ns = append(ns, inv.resolve(h, segments(p, nil)))
	}
	t := inv.hosts[h]
	method := string([]byte("GET"))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		inv.endpointRef(t, ns[i&3], method)
	}
}
