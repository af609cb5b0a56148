package sink

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/testutil"
)

// loadSchema compiles one of the OCSF 1.2 JSON schemas kept in testdata
// (santhosh-tekuri/jsonschema, the project's one JSON Schema library;
// offline: no $ref is fetched).
func loadSchema(t *testing.T, name string) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "ocsf", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(name, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(name)
	if err != nil {
		t.Fatalf("compiling %s: %v", name, err)
	}
	return s
}

// valid reports whether the JSON value v satisfies s.
func valid(s *jsonschema.Schema, v any) bool { return s.Validate(v) == nil }

func validate(t *testing.T, s *jsonschema.Schema, line []byte) {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(line))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(v); err != nil {
		t.Fatalf("OCSF schema violation in %s:\n%v", line, err)
	}
}

func TestOCSFAgainstSchema(t *testing.T) {
	finding := loadSchema(t, "detection_finding-1.2.json")
	activity := loadSchema(t, "api_activity-1.2.json")
	// The validator itself must reject a finding without its required
	// attributes, or the test proves nothing.
	if valid(finding, map[string]any{"class_uid": json.Number("2004")}) {
		t.Fatal("schema accepted an empty finding")
	}
	f, _ := ToOCSF(&model.Alert{ID: "x", Title: "x", Severity: model.SevLow}, OCSFOptions{})
	f.SeverityID = 9
	bad, _ := json.Marshal(f)
	v, _ := jsonschema.UnmarshalJSON(bytes.NewReader(bad))
	if valid(finding, v) {
		t.Fatal("schema accepted severity_id 9")
	}
	minimal := model.Alert{ID: "al_1", Type: "traffic.endpoint_spike", Title: "Spike", Severity: model.SevMedium, LastSeen: t0}
	resolved := sampleAlert()
	resolved.Status = "false_positive"
	v6 := sampleAlert()
	v6.Client.IP = "2001:db8::7"
	v6.Identity = nil
	fresh := sampleAlert()
	fresh.Clients[0].New, fresh.ClientsOtherNew = true, 2
	for i, a := range []model.Alert{sampleAlert(), minimal, resolved, v6, fresh} {
		var buf bytes.Buffer
		if err := EncodeOCSF(&buf, []model.Alert{a}, OCSFOptions{ProductVersion: "1.2.3", APIActivity: true}); err != nil {
			t.Fatal(err)
		}
		lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
		if want := 1 + len(a.Evidence.Samples); len(lines) != want {
			t.Fatalf("alert %d: %d lines, want %d", i, len(lines), want)
		}
		validate(t, finding, lines[0])
		for _, l := range lines[1:] {
			validate(t, activity, l)
		}
	}
}

func TestOCSFMapping(t *testing.T) {
	tests := []struct {
		sev, status          string
		sevID, actID, statID int
		typeUID              int
	}{
		{model.SevInfo, "", 1, 1, 1, 200401},
		{model.SevLow, "open", 2, 1, 1, 200401},
		{model.SevMedium, "acknowledged", 3, 2, 2, 200402},
		{model.SevHigh, "resolved", 4, 3, 4, 200403},
		{model.SevCritical, "false_positive", 5, 3, 3, 200403},
	}
	for _, tc := range tests {
		a := sampleAlert()
		a.Severity, a.Status = tc.sev, tc.status
		f, _ := ToOCSF(&a, OCSFOptions{})
		if f.SeverityID != tc.sevID || f.ActivityID != tc.actID || f.StatusID != tc.statID || f.TypeUID != tc.typeUID ||
			f.ClassUID != 2004 || f.CategoryUID != 2 {
			t.Errorf("%s/%s: severity %d activity %d status %d type %d", tc.sev, tc.status, f.SeverityID, f.ActivityID, f.StatusID, f.TypeUID)
		}
	}
	a := sampleAlert()
	f, acts := ToOCSF(&a, OCSFOptions{APIActivity: true})
	if f.Actor == nil || f.Actor.User.UID != "id_K2QX7" || f.Actor.User.Name != "alice@example.test" {
		t.Errorf("actor %+v", f.Actor)
	}
	if f.FindingInfo.Analytic.TypeID != 1 || f.ConfidenceScore != 92 || f.ConfidenceID != 3 {
		t.Errorf("analytic %+v confidence %d/%d", f.FindingInfo.Analytic, f.ConfidenceScore, f.ConfidenceID)
	}
	if len(acts) != 1 || acts[0].TypeUID != 600302 || acts[0].HTTPRequest.URL.Hostname != "api.example.test" || acts[0].Metadata.CorrelationUID != a.ID {
		t.Errorf("api activity %+v", acts)
	}
	// One evidence artifact per client address with its events; every
	// address is an observable; clients_other in unmapped.
	var got []string
	for _, e := range f.Evidences {
		n := int64(0)
		if e.Data != nil {
			n = e.Data.Events
		}
		got = append(got, fmt.Sprintf("%s=%d@%s", e.SrcEndpoint.IP, n, e.DstEndpoint.Hostname))
	}
	if strings.Join(got, " ") != "198.51.100.23=2@api.example.test 2001:db8::7=1@api.example.test" {
		t.Errorf("evidences %v", got)
	}
	var ips []string
	for _, o := range f.Observables {
		if o.Name == "evidences.src_endpoint.ip" {
			ips = append(ips, o.Value)
		}
	}
	if strings.Join(ips, " ") != "198.51.100.23 2001:db8::7" || f.Unmapped["palisade"].(map[string]any)["clients_other"] != int64(4) {
		t.Errorf("observables %v, unmapped %v", ips, f.Unmapped)
	}
	// A client that clients[] does not list leads, without a count.
	b := sampleAlert()
	b.Client.IP = "203.0.113.5"
	fb, _ := ToOCSF(&b, OCSFOptions{})
	if len(fb.Evidences) != 3 || fb.Evidences[0].SrcEndpoint.IP != "203.0.113.5" || fb.Evidences[0].Data != nil {
		t.Errorf("evidences %+v", fb.Evidences)
	}
	// No address at all: one artifact with the destination and the actor.
	b.Client, b.Clients = nil, nil
	if fb, _ = ToOCSF(&b, OCSFOptions{}); len(fb.Evidences) != 1 || fb.Evidences[0].SrcEndpoint != nil || fb.Evidences[0].DstEndpoint == nil {
		t.Errorf("evidences without addresses %+v", fb.Evidences)
	}
	// Addresses new to the principal are marked in their artifact's data,
	// and the unnamed new events in unmapped.
	n := sampleAlert()
	n.Clients[1].New, n.ClientsOtherNew = true, 3
	fn, _ := ToOCSF(&n, OCSFOptions{})
	if d0, d1 := fn.Evidences[0].Data, fn.Evidences[1].Data; d0 == nil || d0.NewToPrincipal || d1 == nil || !d1.NewToPrincipal || d1.Events != 1 ||
		fn.Unmapped["palisade"].(map[string]any)["clients_other_new"] != int64(3) {
		t.Errorf("new marks: evidences %+v %+v, unmapped %v", d0, d1, fn.Unmapped)
	}
	a.Type = "bola.param_enumeration"
	if f, _ := ToOCSF(&a, OCSFOptions{}); f.FindingInfo.Analytic.TypeID != 3 {
		t.Errorf("bola analytic type %d, want 3 (statistical)", f.FindingInfo.Analytic.TypeID)
	}
}

func TestOCSFGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := EncodeOCSF(&buf, []model.Alert{sampleAlert()}, OCSFOptions{ProductVersion: "1.2.3", APIActivity: true}); err != nil {
		t.Fatal(err)
	}
	testutil.Golden(t, filepath.Join("testdata", "ocsf_alert.golden.ndjson"), buf.Bytes())
}

func TestOCSFFileRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ocsf", "alerts.ndjson")
	rf, err := NewRotatingFile(path, 4096, 2)
	if err != nil {
		t.Fatal(err)
	}
	o := fastOpts()
	o.BatchSize = 1
	d := NewDispatcher([]Configured{{Sink: NewOCSFFile("ocsf", rf, OCSFOptions{})}}, o)
	for i := range 20 {
		d.Publish(alertN(i, "injection.xss", model.SevHigh))
	}
	closeOK(t, d)
	if st := d.Stats()[0]; st.Sent != 20 {
		t.Fatalf("stats %+v", st)
	}
	var total int
	for _, name := range []string{path, path + ".1", path + ".2"} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if fi.Size() > 4096 {
			t.Errorf("%s is %d bytes > max 4096", name, fi.Size())
		}
		f, _ := os.Open(name)
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatalf("%s: torn line: %v", name, err)
			}
			total++
		}
		f.Close()
	}
	if _, err := os.Stat(path + ".3"); err == nil {
		t.Error("keep=2 but path.3 exists")
	}
	if total == 0 || total >= 20 {
		t.Errorf("%d lines kept across 3 files; rotation must have discarded the oldest", total)
	}
}

func TestOCSFHTTP(t *testing.T) {
	rv := &receiver{}
	rv.check = func(r *http.Request, body []byte) string {
		if r.Header.Get("Content-Type") != "application/x-ndjson" || r.Header.Get("Authorization") != "Bearer x" {
			return "headers"
		}
		return ""
	}
	srv := httptest.NewServer(rv)
	defer srv.Close()
	s := NewOCSFHTTP("ocsf", srv.URL, http.Header{"Authorization": {"Bearer x"}}, OCSFOptions{}, srv.Client())
	if err := s.Send(context.Background(), []model.Alert{sampleAlert(), sampleAlert()}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(rv.bodies[0]), "\n"); n != 2 {
		t.Fatalf("%d lines, want 2 findings", n)
	}
}

func TestFromConfigErrors(t *testing.T) {
	t.Setenv("PALISADE_TEST_HEC", "tok")
	tests := []struct {
		cfg  Config
		want string // substring of the error; "" = valid
	}{
		{Config{Type: "webhook", URL: "https://siem.example.test/hook", Secret: "k"}, ""},
		{Config{Type: "splunk_hec", URL: "https://splunk:8088", TokenEnv: "PALISADE_TEST_HEC", Filter: Filter{MinSeverity: "high"}}, ""},
		{Config{Type: "syslog", Network: "tcp", Address: "127.0.0.1:6514"}, ""},
		{Config{Type: "ocsf", Path: "PATH"}, ""},
		{Config{}, "sinks[0]: type: missing"},
		{Config{Type: "kafka"}, `sinks[0]: type: unknown "kafka"`},
		{Config{Type: "webhook", Name: "hook", URL: "ftp://x"}, "sinks[0] (hook): url: want an absolute http(s) URL"},
		{Config{Type: "webhook", URL: "https://x"}, "secret: required"},
		{Config{Type: "webhook", URL: "https://x", Secret: "a", SecretEnv: "B"}, "secret and secret_env: give one"},
		{Config{Type: "splunk_hec", URL: "https://x", TokenEnv: "PALISADE_UNSET_VAR"}, "token_env: environment variable PALISADE_UNSET_VAR is not set"},
		{Config{Type: "syslog", Address: "nohost"}, "address: want host:port"},
		{Config{Type: "syslog", Address: "h:1", Network: "sctp"}, "network: want udp, tcp or tls"},
		{Config{Type: "syslog", Address: "h:1", Facility: "local9"}, `facility: unknown "local9"`},
		{Config{Type: "ocsf"}, "path or url: one is required"},
		{Config{Type: "ocsf", Path: "p", URL: "https://x"}, "give one, not both"},
		{Config{Type: "webhook", URL: "https://x", Secret: "k", Timeout: -1}, `timeout: must not be negative`},
		{Config{Type: "webhook", URL: "https://x", Secret: "k", Filter: Filter{MinSeverity: "urgent"}}, `min_severity: unknown severity "urgent"`},
		{Config{Type: "syslog", Network: "tls", Address: "h:1", CAFile: "/nonexistent/ca.pem"}, "ca_file:"},
	}
	for i, tc := range tests {
		if tc.cfg.Path == "PATH" {
			tc.cfg.Path = filepath.Join(t.TempDir(), "o.ndjson")
		}
		sinks, err := FromConfig([]Config{tc.cfg})
		if tc.want == "" {
			if err != nil || len(sinks) != 1 {
				t.Errorf("%d: %v", i, err)
			}
			for _, s := range sinks {
				if c, ok := s.Sink.(interface{ Close() error }); ok {
					c.Close()
				}
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%d: error %v, want it to contain %q", i, err, tc.want)
		}
	}
	// All problems are reported, each with its index; duplicate names too.
	_, err := FromConfig([]Config{{Type: "webhook", Name: "a", URL: "https://x", Secret: "k"}, {Type: "x"}, {Type: "webhook", Name: "a", URL: "https://y", Secret: "k"}})
	for _, want := range []string{"sinks[1]: type", `sinks[2] (a): name: "a" already used by sinks[0]`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	if err != nil && strings.Contains(fmt.Sprint(err), "tok") {
		t.Error("error leaks a token")
	}
}
