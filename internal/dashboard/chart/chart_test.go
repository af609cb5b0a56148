package chart

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"
)

// wellFormed parses the SVG and returns its text content.
func wellFormed(t testing.TB, b []byte) string {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	var text strings.Builder
	root := ""
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, b)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = x.Name.Local
			}
			switch x.Name.Local {
			case "script", "style", "foreignObject", "image", "use", "a":
				t.Fatalf("element %s in a chart", x.Name.Local)
			}
			for _, a := range x.Attr {
				if strings.HasPrefix(strings.ToLower(a.Name.Local), "on") || a.Name.Local == "href" {
					t.Fatalf("attribute %s in a chart", a.Name.Local)
				}
			}
		case xml.CharData:
			text.Write(x)
		}
	}
	if root != "svg" {
		t.Fatalf("root element %q", root)
	}
	return text.String()
}

var t0 = time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC)

func TestTimeSeries(t *testing.T) {
	var pts []Point
	for i := range 24 {
		pts = append(pts, Point{Time: t0.Add(time.Duration(23-i) * time.Hour), Value: int64(i * 1000)})
	}
	b := TimeSeries(pts, `Requests <b>per</b> hour & "more"`, Light)
	text := wellFormed(t, b)
	for _, want := range []string{`Requests <b>per</b> hour & "more"`, "25,000", "11-16 00:00"} {
		if !strings.Contains(text, want) {
			t.Errorf("chart text lacks %q: %s", want, text)
		}
	}
	if n := bytes.Count(b, []byte("<circle")); n != 24 {
		t.Errorf("%d points drawn, want 24", n)
	}
	if !bytes.Contains(b, []byte(Light.Line)) || bytes.Contains(TimeSeries(pts, "x", Dark), []byte(Light.Line)) {
		t.Error("palette not applied")
	}
	if text := wellFormed(t, TimeSeries(nil, "empty", Light)); !strings.Contains(text, "No traffic") {
		t.Errorf("empty chart: %s", text)
	}
	one := wellFormed(t, TimeSeries([]Point{{Time: t0, Value: 3}}, "one", Light))
	if !strings.Contains(one, "01:00") {
		t.Errorf("a single point spans an hour: %s", one)
	}
	many := make([]Point, MaxPoints+10)
	for i := range many {
		many[i] = Point{Time: t0.Add(time.Duration(i) * time.Hour), Value: 1}
	}
	if b := TimeSeries(many, "many", Light); bytes.Contains(b, []byte("<circle")) || len(b) > 200_000 {
		t.Errorf("large series: %d bytes", len(b))
	}
}

func TestBars(t *testing.T) {
	items := []Bar{{Label: "critical", Value: 5, Class: "critical"}, {Label: "API1:2023", Value: 12345}, {Label: `<img src=x onerror=alert(1)> very long label`, Value: 0}}
	b := Bars(items, "Open alerts", Dark)
	text := wellFormed(t, b)
	for _, want := range []string{"critical", "12,345", "<img src=x oner…"} {
		if !strings.Contains(text, want) {
			t.Errorf("bars text lacks %q: %s", want, text)
		}
	}
	if bytes.Contains(b, []byte("<img")) {
		t.Error("label markup not escaped")
	}
	if !bytes.Contains(b, []byte(Dark.Severity["critical"])) {
		t.Error("severity colour missing")
	}
	if text := wellFormed(t, Bars(nil, "none", Light)); !strings.Contains(text, "None.") {
		t.Errorf("empty bars: %s", text)
	}
	lots := make([]Bar, MaxBars+5)
	if n := bytes.Count(Bars(lots, "lots", Light), []byte("<rect")); n != MaxBars {
		t.Errorf("%d bars, want at most %d", n, MaxBars)
	}
}

// FuzzBars: any labels and values give a well-formed SVG without markup
// from the labels.
func FuzzBars(f *testing.F) {
	f.Add("critical", int64(3), "<script>alert(1)</script>", int64(-5))
	f.Add("\x00\xff&amp;", int64(0), "]]>", int64(1<<62))
	f.Fuzz(func(t *testing.T, l1 string, v1 int64, l2 string, v2 int64) {
		b := Bars([]Bar{{Label: l1, Value: v1}, {Label: l2, Value: v2, Class: l1}}, l2, Light)
		wellFormed(t, b)
		b = TimeSeries([]Point{{Time: t0, Value: v1}, {Time: t0.Add(time.Duration(v2 % (1 << 40))), Value: v2}}, l1, Dark)
		wellFormed(t, b)
	})
}
