package classify

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/testutil"
)

// TestKeptStringsAreCopies: the endpoint keys and field names the analyzer
// keeps are not views of the event's text (its record's decoded line).
func TestKeptStringsAreCopies(t *testing.T) {
	line := strings.Repeat("x", 64) + "api.example.testGET/users/{id}emailX-Contact-Emailann@example.com"
	at := func(sub string) string { i := strings.Index(line, sub); return line[i : i+len(sub)] }
	c, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	a := NewAnalyzer(c)
	at0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	rec := &exchange.Record{Time: at0, Request: exchange.Request{Method: "GET", Headers: map[string]string{at("X-Contact-Email"): at("ann@example.com")}},
		Response: exchange.Response{Status: 200}}
	ev := &event.Event{Rec: rec, Time: at0, Method: at("GET"), Host: at("api.example.test"), Path: "/users/1",
		Query: url.Values{at("email"): {at("ann@example.com")}}, Status: 200,
		Endpoint:   model.EndpointRef{Host: at("api.example.test"), Method: at("GET"), Path: at("/users/{id}")},
		PathParams: []event.PathParam{{Name: "{id}", Value: "1"}}}
	a.Observe(ev)
	var kept []string
	for ref, ep := range a.eps {
		kept = append(kept, ref.Host, ref.Method, ref.Path)
		for _, m := range ep.fields {
			for k, st := range m {
				kept = append(kept, k, st.name, st.ctx)
			}
		}
	}
	c.hints.Range(func(k, _ any) bool {
		kept = append(kept, k.(string))
		return true
	})
	if len(kept) < 7 {
		t.Fatalf("only %d strings kept: %q", len(kept), kept)
	}
	for _, s := range kept {
		if testutil.Within(s, line) {
			t.Errorf("%q is kept as a view of the event's text", s)
		}
	}
}
