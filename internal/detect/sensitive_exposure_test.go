package detect

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/classify"
	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/model"
)

var seT0 = time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)

func seEvent(at time.Time, path, body string) *event.Event {
	rec := &exchange.Record{
		Time:     at,
		Client:   exchange.Client{IP: "203.0.113.9"},
		Request:  exchange.Request{Method: "GET", URL: "https://api.example.com" + path},
		Response: exchange.Response{Status: 200, Headers: map[string]string{"content-type": "application/json"}, Body: body},
	}
	return &event.Event{Rec: rec, Time: at, Method: "GET", Scheme: "https", Host: "api.example.com", Path: path, Status: 200,
		Endpoint: model.EndpointRef{Host: "api.example.com", Method: "GET", Path: "/users/{id}"}}
}

// seRun feeds n responses one minute apart starting at `from`, body(i) each.
func seRun(d *SensitiveExposure, out *Emitter, from time.Time, n int, body func(i int) string) time.Time {
	at := from
	for i := 0; i < n; i++ {
		d.Observe(seEvent(at, fmt.Sprintf("/users/%d", i), body(i)), out)
		at = at.Add(time.Minute)
	}
	return at
}

func seAlerts(out *Emitter) []model.Alert {
	var as []model.Alert
	for _, a := range out.Alerts() {
		if a.Type == "data.sensitive_exposure" {
			as = append(as, a)
		}
	}
	return as
}

func TestSensitiveExposure(t *testing.T) {
	plain := func(i int) string { return fmt.Sprintf(`{"id":%d,"name":"user%d","email":"u%d@example.com"}`, i, i, i) }
	withSSN := func(i int) string {
		return fmt.Sprintf(`{"id":%d,"name":"user%d","email":"u%d@example.com","tax":{"ssn":"%03d-45-%04d"}}`, i, i, i, 100+i%500, 1000+i)
	}
	maskedCard := func(i int) string {
		return fmt.Sprintf(`{"id":%d,"email":"u%d@example.com","card":"**** **** **** %04d"}`, i, i, 1000+i)
	}
	cases := []struct {
		name      string
		before    func(int) string
		nBefore   int
		after     func(int) string
		wantTypes []string
		wantSev   string
	}{
		{"ssn appears after a release", plain, 120, withSSN, []string{"us_ssn"}, model.SevCritical},
		{"always returned emails", plain, 120, plain, nil, ""},
		{"masked cards do not count", plain, 120, maskedCard, nil, ""},
		{"still learning: too few responses", plain, 10, withSSN, nil, ""},
		{"ssn present from the start", withSSN, 120, withSSN, nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := NewSensitiveExposure(Config{}, nil)
			out := NewEmitter()
			at := seRun(d, out, seT0, tc.nBefore, tc.before)
			if tc.nBefore < 50 {
				// too few responses, even though over an hour passed
				at = at.Add(2 * time.Hour)
			}
			seRun(d, out, at, 30, tc.after)
			as := seAlerts(out)
			if len(as) != len(tc.wantTypes) {
				t.Fatalf("alerts = %d (%+v), want %d", len(as), as, len(tc.wantTypes))
			}
			for i, a := range as {
				det := a.Evidence.Details
				if det["data_type"] != tc.wantTypes[i] || a.Severity != tc.wantSev {
					t.Errorf("alert %d: type %v severity %s", i, det["data_type"], a.Severity)
				}
				if det["field"] != "$.tax.ssn" || det["location"] != "response.body" {
					t.Errorf("field %v location %v", det["field"], det["location"])
				}
				s, _ := det["sample"].(string)
				if !strings.HasPrefix(s, "***-**-") {
					t.Errorf("sample %q is not redacted", s)
				}
				if a.Count != 1 || a.Endpoint == nil || a.Endpoint.Path != "/users/{id}" {
					t.Errorf("count %d endpoint %+v", a.Count, a.Endpoint)
				}
				if !a.FirstSeen.Equal(seT0.Add(time.Duration(tc.nBefore) * time.Minute)) {
					t.Errorf("first seen %v", a.FirstSeen)
				}
				for _, smp := range a.Evidence.Samples {
					if strings.Contains(smp.Note, "-45-") {
						t.Errorf("sample note leaks the value: %q", smp.Note)
					}
				}
			}
		})
	}
}

func TestSensitiveExposureLearningTime(t *testing.T) {
	// 100 responses within 30 minutes: enough responses but not enough time.
	d := NewSensitiveExposure(Config{Options: optsYAML(t, "sensitive_exposure: {learning: 2h, min_responses: 20}")}, nil)
	out := NewEmitter()
	for i := 0; i < 100; i++ {
		d.Observe(seEvent(seT0.Add(time.Duration(i)*18*time.Second), "/users/1", `{"email":"a@example.com"}`), out)
	}
	d.Observe(seEvent(seT0.Add(40*time.Minute), "/users/1", `{"email":"a@example.com","key":"AKIAJ4QZX7MN2PLR8TW5"}`), out)
	if n := len(seAlerts(out)); n != 0 {
		t.Fatalf("alert during learning time: %d", n)
	}
	d.Observe(seEvent(seT0.Add(3*time.Hour), "/users/1", `{"email":"a@example.com","iban":"DE89370400440532013000"}`), out)
	as := seAlerts(out)
	if len(as) != 1 || as[0].Evidence.Details["data_type"] != "iban" {
		t.Fatalf("alerts = %+v, want one for iban", as)
	}
	if base, _ := as[0].Evidence.Baseline.([]string); strings.Join(base, ",") != "email,secret" {
		t.Errorf("baseline = %v", as[0].Evidence.Baseline)
	}
}

func TestSensitiveExposureRegistered(t *testing.T) {
	found := false
	for _, f := range Families() {
		if f == "sensitive_exposure" {
			found = true
		}
	}
	if !found {
		t.Fatal("sensitive_exposure is not registered")
	}
}

// TestSensitiveExposureStage: events classified by the classification
// stage (event.Sensitive) and unclassified events (classified by the
// detector itself) give the same alerts; the detector uses what the event
// carries and does not classify it again.
func TestSensitiveExposureStage(t *testing.T) {
	body := func(i int) string {
		if i < 120 {
			return fmt.Sprintf(`{"id":%d,"email":"u%d@example.com"}`, i, i)
		}
		return fmt.Sprintf(`{"id":%d,"email":"u%d@example.com","tax":{"ssn":"%03d-45-%04d"}}`, i, i, 100+i%500, 1000+i)
	}
	c, err := classify.New(classify.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	run := func(stage bool) ([]model.Alert, int64) {
		d := NewSensitiveExposure(Config{Classifier: c}, nil)
		cls := classify.NewAnalyzer(c)
		out := NewEmitter()
		for i := 0; i < 150; i++ {
			ev := seEvent(seT0.Add(time.Duration(i)*time.Minute), fmt.Sprintf("/users/%d", i), body(i))
			if stage {
				cls.Classify(ev)
				if !ev.Classified {
					t.Fatal("Classify did not mark the event")
				}
			}
			d.Observe(ev, out)
		}
		return seAlerts(out), d.an.Stats().Events
	}
	staged, ownStaged := run(true)
	alone, ownAlone := run(false)
	if len(staged) != 1 || staged[0].Evidence.Observed != "us_ssn" {
		t.Fatalf("staged: %d alerts %+v", len(staged), staged)
	}
	if !reflect.DeepEqual(staged, alone) {
		t.Errorf("classified by the stage: %+v\nby the detector: %+v", staged, alone)
	}
	if ownStaged != 0 || ownAlone != 150 {
		t.Errorf("the detector classified %d staged events (want 0) and %d unclassified ones (want 150)", ownStaged, ownAlone)
	}
}
