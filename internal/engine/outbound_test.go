package engine

import (
	"bytes"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/config"
	"github.com/palisade-sec/palisade/internal/detect"
	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/inventory"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/testutil"
)

// The outbound capture (testdata/outbound.ndjson, 3 hours): our APIs
// shop.example.test (declared by spec.yaml) and bank.example.test (no
// spec), and outbound calls of our services to a payment processor (card
// data, bearer secret), a geocoder (API key in the query, plain http), a
// partner webhook (Basic over https), a legacy CRM (Basic over plain
// http), a catalogue feed redirected once to the instance-metadata
// service (and the call that followed it), and, after the upstream
// detector's learning hour, card data to a destination never seen before.
// The capture holds 56 outbound calls, fewer than the learning period's
// default learn_calls (200): outboundConfig sets it to 20.
const outboundCapture = "testdata/outbound.ndjson"

// outboundConfig is the configuration the outbound capture is analyzed
// with: the defaults, its spec, and a learning period of 20 calls.
func outboundConfig(t *testing.T) Config {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Specs = []string{"testdata/spec.yaml"}
	var o detect.Options
	l := &config.Loader{}
	if err := l.Decode(config.Doc{Name: "outbound-test.yaml", Data: []byte("upstream: {learn_calls: 20}")}, &o); err != nil {
		t.Fatal(err)
	}
	cfg.Detect.Options = o
	return cfg
}

var thirdParty = []string{"169.254.169.254", "api.payments.example.net", "collect.adpartner.example.net", "crm.legacy.example.com",
	"feeds.catalog.example.net", "geo.example.org", "hooks.partner.example.com"}

// TestGoldenOutbound: the report of the outbound capture is byte-for-byte
// stable (rerun with -update after an intended change and review the diff).
func TestGoldenOutbound(t *testing.T) {
	cfg := outboundConfig(t)
	got := render(t, analyzeFile(t, cfg, outboundCapture))
	testutil.Golden(t, filepath.Join("testdata", "outbound.report.json"), got)
	if again := render(t, analyzeFile(t, cfg, outboundCapture)); !bytes.Equal(got, again) {
		t.Errorf("two runs of the same capture differ: %s", testutil.FirstDiff(got, again))
	}
}

// TestOutboundSection: third-party APIs are in outbound[] with what our
// calls send and how, linked to the upstream detector's alerts and to the
// posture rules that judge our calls — never in endpoints[], probes,
// api_changes or the OpenAPI export of our APIs.
func TestOutboundSection(t *testing.T) {
	cfg := outboundConfig(t)
	r := analyzeFile(t, cfg, outboundCapture)
	for _, ep := range r.Endpoints {
		if slices.Contains(thirdParty, ep.Host) {
			t.Errorf("third-party operation in endpoints[]: %s", ep.Ref().Key())
		}
	}
	for _, p := range r.Probes {
		if slices.Contains(thirdParty, p.Host) {
			t.Errorf("third-party operation in probes: %+v", p)
		}
	}
	for _, c := range r.APIChange {
		if slices.Contains(thirdParty, c.Endpoint.Host) {
			t.Errorf("third-party API change: %+v", c)
		}
	}
	for _, h := range thirdParty {
		if _, err := inventory.ExportOpenAPI(h, r.Endpoints, ""); err == nil {
			t.Errorf("OpenAPI export of our APIs exports third-party host %s", h)
		}
	}
	apis := map[string]model.OutboundAPI{}
	var hosts []string
	for _, o := range r.Outbound {
		apis[o.Host] = o
		hosts = append(hosts, o.Host)
	}
	if !slices.Equal(hosts, thirdParty) {
		t.Fatalf("outbound hosts %v, want %v", hosts, thirdParty)
	}
	alertByID := map[string]model.Alert{}
	for _, a := range r.Alerts {
		alertByID[a.ID] = a
	}
	findingByID := map[string]model.Finding{}
	for _, f := range r.Findings {
		findingByID[f.ID] = f
		if slices.Contains(thirdParty, f.Endpoint.Host) != (f.Direction == "outbound") {
			t.Errorf("finding %s %s: direction %q", f.Rule, f.Endpoint.Key(), f.Direction)
		}
		if f.Direction == "outbound" && !slices.Contains([]string{"PAL-T010", "PAL-T011", "PAL-T012"}, f.Rule) {
			t.Errorf("rule %s judged on a third-party API's answers: %s", f.Rule, f.Endpoint.Key())
		}
	}
	linked := func(o model.OutboundAPI) (issues, rules []string) {
		for _, id := range o.API10.Alerts {
			a, ok := alertByID[id]
			if !ok || a.Endpoint == nil || a.Endpoint.Host != o.Host {
				t.Errorf("%s: alert %s not in alerts[] or not on its operations", o.Host, id)
				continue
			}
			issues = append(issues, a.Evidence.Details["issue"].(string))
		}
		for _, id := range o.API10.Findings {
			f, ok := findingByID[id]
			if !ok || f.Endpoint.Host != o.Host {
				t.Errorf("%s: finding %s not in findings[] or not on its operations", o.Host, id)
				continue
			}
			rules = append(rules, f.Rule)
		}
		return issues, rules
	}

	pay := apis["api.payments.example.net"]
	if pay.Destination != "external" || pay.Requests != 18 || !slices.Equal(pay.AuthSent, []string{"bearer"}) ||
		!slices.Equal(pay.DataSent, []string{"credit_card", "email"}) || len(pay.DataReceived) != 0 ||
		!slices.Equal(pay.TLS.Schemes, []string{"https"}) || !slices.Equal(pay.TLS.Ports, []int{443}) || pay.TLS.Plaintext {
		t.Errorf("payments: %+v", pay)
	}
	if len(pay.Operations) != 1 || pay.Operations[0].Method != "POST" || pay.Operations[0].Path != "/v1/charges" || pay.Operations[0].Callers != 1 {
		t.Errorf("payments operations: %+v", pay.Operations)
	}
	if !pay.API10.Relevant || pay.API10.Severity != model.SevLow || len(pay.API10.Alerts) != 0 {
		t.Errorf("payments API10: %+v (card data sent: relevant at low, no alert)", pay.API10)
	}

	geo := apis["geo.example.org"]
	issues, rules := linked(geo)
	if !geo.TLS.Plaintext || !slices.Equal(geo.TLS.Ports, []int{80}) || !slices.Equal(geo.AuthSent, []string{"api-key-query:key"}) ||
		!slices.Equal(issues, []string{"plaintext"}) || !slices.Equal(rules, []string{"PAL-T010"}) || geo.API10.Severity != model.SevMedium {
		t.Errorf("geocoder: %+v (alert issues %v, rules %v)", geo, issues, rules)
	}
	crm := apis["crm.legacy.example.com"]
	if issues, rules := linked(crm); !slices.Equal(issues, []string{"plaintext"}) || !slices.Equal(rules, []string{"PAL-T011"}) || crm.API10.Severity != model.SevHigh {
		t.Errorf("legacy CRM: %+v (issues %v rules %v)", crm.API10, issues, rules)
	}
	feed := apis["feeds.catalog.example.net"]
	if issues, _ := linked(feed); !slices.Equal(issues, []string{"redirect_internal"}) || feed.StatusCodes["302"] != 1 {
		t.Errorf("catalogue feed: %+v (issues %v)", feed, issues)
	}
	ads := apis["collect.adpartner.example.net"]
	if issues, _ := linked(ads); !slices.Equal(issues, []string{"sensitive_to_new_destination"}) || !slices.Contains(ads.DataSent, "credit_card") {
		t.Errorf("new destination: %+v (issues %v)", ads, issues)
	}
	hook := apis["hooks.partner.example.com"]
	if hook.Operations[0].Path != "/v1/orders/{orderId}/events" || !slices.Equal(hook.AuthSent, []string{"basic"}) ||
		hook.API10.Severity != model.SevInfo || len(hook.API10.Findings) != 0 {
		t.Errorf("webhook: %+v", hook)
	}
	if md := apis["169.254.169.254"]; md.Destination != "internal" || md.API10.Relevant {
		t.Errorf("metadata call: %+v", md)
	}

	raw := string(render(t, r))
	for _, secret := range []string{"sk_live_51Hx9sTqQ2c8mZs0aVbN3kLp", "gk_7Qm2Vx9LpR4sT1wZ8bN3", "4111111111111111", "s3cr3t-pw", "hook-token-9f", "pcat_9d2b7e4f1a6c3e8b5d0f"} {
		if strings.Contains(raw, secret) {
			t.Errorf("report leaks %s", secret)
		}
	}
}

// TestUndocumentedHosts: with a spec for shop.example.test only, the
// bank's endpoints are documented false, state undocumented, and hosts[]
// says which host has which spec; without any spec documented stays null
// and every state active.
func TestUndocumentedHosts(t *testing.T) {
	cfg := outboundConfig(t)
	r := analyzeFile(t, cfg, outboundCapture)
	for _, ep := range r.Endpoints {
		switch ep.Host {
		case "bank.example.test":
			if ep.Documented == nil || *ep.Documented || ep.State != "undocumented" {
				t.Errorf("%s: documented %v state %s", ep.Ref().Key(), ep.Documented, ep.State)
			}
		case "shop.example.test":
			if ep.Documented == nil || !*ep.Documented || ep.State == "undocumented" {
				t.Errorf("%s: documented %v state %s", ep.Ref().Key(), ep.Documented, ep.State)
			}
		}
	}
	if len(r.Hosts) != 2 || r.Hosts[0].Host != "bank.example.test" || len(r.Hosts[0].Specs) != 0 || r.Hosts[0].Documented == nil || *r.Hosts[0].Documented ||
		r.Hosts[0].States["undocumented"] != 2 || r.Hosts[0].Requests != 24 ||
		r.Hosts[1].Host != "shop.example.test" || !slices.Equal(r.Hosts[1].Specs, []string{"testdata/spec.yaml"}) || !*r.Hosts[1].Documented {
		t.Errorf("hosts %+v", r.Hosts)
	}

	r = analyzeFile(t, DefaultConfig(), outboundCapture)
	for _, ep := range r.Endpoints {
		if ep.Documented != nil || ep.State != "active" {
			t.Errorf("without specs %s: documented %v state %s", ep.Ref().Key(), ep.Documented, ep.State)
		}
	}
	for _, h := range r.Hosts {
		if h.Documented != nil || len(h.Specs) != 0 {
			t.Errorf("without specs host %+v", h)
		}
	}
}

// TestMixedDirectionHost: a host that receives one inbound call is ours
// (endpoints[]) even when our services also call it; a host only called
// outbound is a third party.
func TestMixedDirectionHost(t *testing.T) {
	e, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 11, 18, 9, 0, 0, 0, time.UTC)
	add := func(sec int, host, dir string) {
		r := &exchange.Record{Time: base.Add(time.Duration(sec) * time.Second), Client: exchange.Client{IP: "10.0.0.5"}, Direction: dir,
			Request: exchange.Request{Method: "GET", URL: "https://" + host + "/v1/items"}, Response: exchange.Response{Status: 200}}
		if err := r.Validate(); err != nil {
			t.Fatal(err)
		}
		e.Ingest(r)
	}
	for i := range 5 {
		add(i, "api.ours.test", exchange.Outbound)
		add(i, "api.theirs.test", exchange.Outbound)
	}
	add(10, "api.ours.test", "")
	e.Flush()
	r := e.Report(fixedTime)
	if len(r.Endpoints) != 1 || r.Endpoints[0].Host != "api.ours.test" || r.Endpoints[0].Requests != 6 {
		t.Errorf("endpoints %+v", r.Endpoints)
	}
	if len(r.Outbound) != 1 || r.Outbound[0].Host != "api.theirs.test" || r.Outbound[0].Requests != 5 {
		t.Errorf("outbound %+v", r.Outbound)
	}
}
