package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/model"
)

// The recipe "add a sink" (docs/ARCHITECTURE.md) checked in two parts:
// the receiver side (a new Sink run by the dispatcher: filter, batches,
// retry on a transient error, the one JSON encoding of alerts) and the
// configuration side (every type the configuration knows is built, its keys
// exist, and it is documented).

// lineSink is the new receiver of the recipe: one JSON line per alert
// (model.EncodeJSON, as the webhook and Splunk sinks encode alerts). Its
// first Send fails as a receiver that is restarting would.
type lineSink struct {
	mu    sync.Mutex
	calls int
	out   bytes.Buffer
}

func (s *lineSink) Name() string { return "lines" }

func (s *lineSink) Send(ctx context.Context, alerts []model.Alert) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.calls == 1 {
		return &RetryAfterError{Err: errors.New("503 from the receiver"), After: time.Millisecond}
	}
	for i := range alerts {
		b, err := model.EncodeJSON(&alerts[i])
		if err != nil {
			return Permanent(err) // retrying cannot fix an alert that does not encode
		}
		s.out.Write(b)
		s.out.WriteByte('\n')
	}
	return ctx.Err()
}

func TestRecipeAddASink(t *testing.T) {
	s := &lineSink{}
	d := NewDispatcher([]Configured{{Sink: s, Filter: Filter{Types: []string{"injection.*"}, MinSeverity: "medium"}}}, fastOpts())
	for i, c := range []struct{ typ, sev string }{
		{"injection.sqli", "high"}, {"injection.xss", "low"}, {"auth.brute_force", "critical"}, {"injection.cmd", "critical"},
	} {
		a := sampleAlert()
		a.ID, a.Type, a.Severity = "al_"+string(rune('a'+i)), c.typ, c.sev
		d.Publish(a)
	}
	closeOK(t, d)
	st := d.Stats()[0]
	if st.Sent != 2 || st.Retried != 1 || st.Failed != 0 {
		t.Fatalf("stats %+v: want the 2 filtered alerts sent after one retry", st)
	}
	var types []string
	for _, line := range strings.Split(strings.TrimSpace(s.out.String()), "\n") {
		var a struct {
			Type  string   `json:"type"`
			OWASP []string `json:"owasp"`
		}
		if err := json.Unmarshal([]byte(line), &a); err != nil || a.OWASP == nil {
			t.Fatalf("line %q: %v (owasp must be a list)", line, err)
		}
		types = append(types, a.Type)
	}
	if !slices.Equal(types, []string{"injection.sqli", "injection.cmd"}) {
		t.Fatalf("delivered %v", types)
	}
}

// recipeSinkConfigs is one valid configuration per sink type: a type added
// to sinkKeys without one here fails the test below, which then checks
// that FromConfig builds it.
func recipeSinkConfigs(dir string) map[string]Config {
	return map[string]Config{
		"webhook":    {Type: "webhook", URL: "https://siem.example.test/hook", Secret: "s"},
		"splunk_hec": {Type: "splunk_hec", URL: "https://splunk.example.test:8088/services/collector", Token: "t"},
		"syslog":     {Type: "syslog", Address: "127.0.0.1:514"},
		"ocsf":       {Type: "ocsf", Path: dir + "/ocsf.ndjson"},
	}
}

func TestSinkTypesComplete(t *testing.T) {
	docs, err := os.ReadFile("../../docs/sinks.md")
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	ct := reflect.TypeFor[Config]()
	for i := 0; i < ct.NumField(); i++ {
		k, _, _ := strings.Cut(ct.Field(i).Tag.Get("yaml"), ",")
		keys[k] = true
	}
	typeField, _ := ct.FieldByName("Type")
	valid := recipeSinkConfigs(t.TempDir())
	for typ, used := range sinkKeys {
		for _, k := range used {
			if !keys[k] {
				t.Errorf("%s: key %q is not a field of sink.Config", typ, k)
			}
		}
		if !strings.Contains(typeField.Tag.Get("doc"), typ) {
			t.Errorf("%s: not named in the type key's doc tag (docs/configuration.md)", typ)
		}
		if !strings.Contains(string(docs), "type: "+typ) {
			t.Errorf("%s: docs/sinks.md has no configuration example (type: %s)", typ, typ)
		}
		c, ok := valid[typ]
		if !ok {
			t.Errorf("%s: add a valid configuration to recipeSinkConfigs", typ)
			continue
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", typ, err)
		}
		built, err := FromConfig([]Config{c})
		if err != nil || len(built) != 1 {
			t.Errorf("%s: FromConfig: %v", typ, err)
			continue
		}
		if cl, ok := built[0].Sink.(interface{ Close() error }); ok {
			cl.Close()
		}
	}
	if _, err := FromConfig([]Config{{Type: "pager"}}); err == nil || !strings.Contains(err.Error(), "type: unknown") {
		t.Errorf("unknown type: %v", err)
	}
}
