package engine

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/sim"
	"github.com/palisade-sec/palisade/internal/source"
	"github.com/palisade-sec/palisade/internal/testutil"
)

func simCapture(t *testing.T, d time.Duration, scale float64) []byte {
	t.Helper()
	cfg := sim.DefaultConfig()
	cfg.Duration, cfg.Scale = d, scale
	var buf bytes.Buffer
	if _, err := sim.Generate(cfg, func(r *exchange.Record) error { return exchange.Encode(&buf, r) }); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestFanoutOrder: classification is a stage that attaches its result to
// the event before the analyzers fan out, so the order they run in does not
// change the report (the sensitive-exposure detector used to read the
// classifier's last result, which was right only because classification
// ran before detection).
func TestFanoutOrder(t *testing.T) {
	data := simCapture(t, 32*time.Hour, 0.3)
	run := func(reverse bool) []byte {
		e, err := New(DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		if reverse {
			slices.Reverse(e.analyzers)
		}
		if err := e.Read(context.Background(), source.NewReader("capture", bytes.NewReader(data), source.ReaderOptions{})); err != nil {
			t.Fatal(err)
		}
		e.Flush()
		return render(t, e.Report(fixedTime))
	}
	a, b := run(false), run(true)
	if !bytes.Equal(a, b) {
		t.Fatalf("the analyzers' order changed the report: %s", testutil.FirstDiff(a, b))
	}
	if !bytes.Contains(a, []byte(`"type": "data.sensitive_exposure"`)) {
		t.Fatal("no data.sensitive_exposure alert: the capture does not exercise the classification stage's consumer")
	}
}

// TestEndpointIDs: every event gets the id of its endpoint as templated;
// the same reference always gets the same id; ids resolve, through the one
// function that does it (Inventory.Resolve), to the final templates the
// report names (or its probes), and the report's alerts name resolved
// endpoints.
func TestEndpointIDs(t *testing.T) {
	data := simCapture(t, 6*time.Hour, 0.2)
	e, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Read(context.Background(), source.NewReader("capture", bytes.NewReader(data), source.ReaderOptions{})); err != nil {
		t.Fatal(err)
	}
	e.Flush()
	r := e.Report(fixedTime)
	st := e.Inventory().Stats()
	if st.EndpointIDs == 0 || st.IDsDropped != 0 {
		t.Fatalf("endpoint ids: %d given, %d dropped", st.EndpointIDs, st.IDsDropped)
	}
	known := map[string]bool{} // reported endpoints (ours and third-party APIs') and probes
	for _, ep := range append(r.Endpoints, e.inv.Outbound(e.to)...) {
		known[ep.Ref().Key()] = true
	}
	for _, p := range r.Probes {
		known[model.EndpointRef{Host: p.Host, Method: p.Method, Path: p.Path}.Key()] = true
	}
	unknown := 0
	for id := model.EndpointID(1); int(id) <= st.EndpointIDs; id++ {
		ref := e.Inventory().Resolve(model.EndpointRef{ID: id})
		if ref.Host == "" || ref.Method == "" || ref.Path == "" {
			t.Fatalf("id %d resolves to %+v", id, ref)
		}
		if !known[ref.Key()] {
			unknown++
		}
		if again := e.Inventory().Resolve(ref); again != ref {
			t.Fatalf("resolving is not idempotent: %+v then %+v", ref, again)
		}
	}
	if unknown > 0 {
		t.Errorf("%d of %d ids resolve to neither a reported endpoint (ours or outbound) nor a probe", unknown, st.EndpointIDs)
	}
	if len(r.Alerts) == 0 {
		t.Fatal("no alerts")
	}
	for _, a := range r.Alerts {
		if a.Endpoint == nil {
			continue
		}
		if a.Endpoint.ID == 0 {
			t.Errorf("alert %s: endpoint %s without id", a.ID, a.Endpoint.Key())
		}
		if e.Inventory().Resolve(*a.Endpoint) != *a.Endpoint {
			t.Errorf("alert %s: endpoint %+v is not resolved", a.ID, *a.Endpoint)
		}
	}
}
