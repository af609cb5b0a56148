package sink

import (
	"time"

	"github.com/palisade-sec/palisade/internal/model"
)

var t0 = time.Date(2026, 11, 18, 14, 3, 22, 512_000_000, time.UTC)

// sampleAlert is a fully populated alert whose strings exercise escaping.
func sampleAlert() model.Alert {
	return model.Alert{
		ID:         "al_7f3a9c",
		Type:       "injection.sqli",
		Title:      "SQL injection | in query = bad\\path",
		Severity:   model.SevHigh,
		Confidence: 0.92,
		OWASP:      []string{"API8:2023"},
		MITRE:      []model.MITRE{{Tactic: "Initial Access", TechniqueID: "T1190", TechniqueName: "Exploit Public-Facing Application"}},
		FirstSeen:  t0,
		LastSeen:   t0.Add(90 * time.Second),
		Count:      3,
		Client:     &model.ClientRef{IP: "198.51.100.23"},
		// The addresses behind the events: the client, a second IPv4 and
		// an IPv6 address, and events from addresses not listed.
		Clients:      []model.ClientCount{{IP: "198.51.100.23", Count: 2}, {IP: "2001:db8::7", Count: 1}},
		ClientsOther: 4,
		Identity:     &model.IdentityRef{ID: "id_K2QX7", Kind: "jwt", Name: "alice@example.test"},
		Endpoint:     &model.EndpointRef{Host: "api.example.test", Method: "GET", Path: "/v2/orders/{id}"},
		Evidence: model.Evidence{
			Reason:   "payload matched\nUNION SELECT a=b",
			Samples:  []model.Sample{{Time: t0, Method: "GET", URL: "https://api.example.test/v2/orders/1?q=%27%20UNION%20SELECT%20%E2%80%A6", Status: 200, Client: "198.51.100.23", Note: "' UNION SELECT …"}},
			Observed: 3,
		},
		Remediation: "Use parameterized queries.",
		Subject:     "client",
	}
}

func alertN(i int, typ, sev string) model.Alert {
	a := sampleAlert()
	a.ID = "al_" + string(rune('a'+i%26)) + time.Duration(i).String()
	a.Type = typ
	a.Severity = sev
	return a
}
