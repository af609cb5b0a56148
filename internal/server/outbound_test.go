package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/store"
)

// TestOutboundAPI: outbound records reach GET /api/v1/outbound (viewer),
// never the inventory; filters and sorts are checked, bad ones answer 400
// naming the parameter; one API by id, 404 for an unknown one.
func TestOutboundAPI(t *testing.T) {
	env := newEnv(t, nil, nil)
	var b strings.Builder
	t0 := time.Date(2026, 11, 18, 9, 0, 0, 0, time.UTC)
	line := func(i int, url, dir string) {
		fmt.Fprintf(&b, `{"time":%q,"client":{"ip":"10.0.0.5"},"direction":%q,"request":{"method":"POST","url":%q},"response":{"status":200}}`+"\n",
			t0.Add(time.Duration(i)*time.Second).Format(time.RFC3339), dir, url)
	}
	for i := range 6 {
		line(i, "https://api.payments.example.net/v1/charges", "outbound")
		if i%2 == 0 {
			line(i, "http://geo.example.org/v1/geocode", "outbound")
		}
		line(i, "https://shop.example.test/v1/orders", "inbound")
	}
	if resp, body := env.do(t, "POST", "/api/v1/ingest", "ingest", strings.NewReader(b.String())); resp.StatusCode != 200 {
		t.Fatalf("ingest: %d %s", resp.StatusCode, body)
	}
	type page struct {
		Items []store.OutboundRow `json:"items"`
	}
	list := func(q string) []string {
		t.Helper()
		resp, body := env.do(t, "GET", "/api/v1/outbound"+q, "viewer", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("GET /api/v1/outbound%s: %d %s", q, resp.StatusCode, body)
		}
		var p page
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range p.Items {
			out = append(out, r.Host)
		}
		return out
	}
	waitFor(t, "third-party APIs stored", func() bool { return len(list("")) == 2 })
	for q, want := range map[string]string{
		"":                                  "geo.example.org api.payments.example.net", // relevant first
		"?sort=requests":                    "api.payments.example.net geo.example.org",
		"?api10=relevant":                   "geo.example.org",
		"?q=PAYMENTS":                       "api.payments.example.net",
		"?destination=internal":             "",
		"?sort=last_seen&limit=1&api10=any": "api.payments.example.net",
	} {
		if got := strings.Join(list(q), " "); got != want {
			t.Errorf("%s: %q, want %q", q, got, want)
		}
	}
	var eps struct {
		Items []struct {
			Host string `json:"host"`
		} `json:"items"`
	}
	_, body := env.do(t, "GET", "/api/v1/endpoints", "viewer", nil)
	if err := json.Unmarshal(body, &eps); err != nil {
		t.Fatal(err)
	}
	if len(eps.Items) != 1 || eps.Items[0].Host != "shop.example.test" {
		t.Errorf("inventory %s", body)
	}
	for _, q := range []string{"?sort=risk", "?destination=mars", "?api10=yes", "?limit=-1", "?cursor=not-a-cursor!"} {
		resp, body := env.do(t, "GET", "/api/v1/outbound"+q, "viewer", nil)
		name := strings.SplitN(strings.TrimPrefix(q, "?"), "=", 2)[0]
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), name) {
			t.Errorf("%s: %d %s", q, resp.StatusCode, body)
		}
	}
	id := "ob_" // the ids come from the list
	_, body = env.do(t, "GET", "/api/v1/outbound?q=geo", "viewer", nil)
	var p page
	json.Unmarshal(body, &p)
	if len(p.Items) == 1 {
		id = p.Items[0].ID
	}
	resp, body := env.do(t, "GET", "/api/v1/outbound/"+id, "viewer", nil)
	var one store.OutboundRow
	if resp.StatusCode != 200 || json.Unmarshal(body, &one) != nil || one.Host != "geo.example.org" || !one.TLS.Plaintext || one.Requests != 3 {
		t.Errorf("GET %s: %d %s", id, resp.StatusCode, body)
	}
	if resp, _ := env.do(t, "GET", "/api/v1/outbound/ob_0000", "viewer", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown id: %d", resp.StatusCode)
	}
	if resp, _ := env.do(t, "GET", "/api/v1/outbound", "ingest", nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("ingest token: %d", resp.StatusCode)
	}
	var ov map[string]any
	_, body = env.do(t, "GET", "/api/v1/overview", "viewer", nil)
	json.Unmarshal(body, &ov)
	if ov["outbound_apis"] != 2.0 || ov["outbound_api10"] != 1.0 {
		t.Errorf("overview %s", body)
	}
}
