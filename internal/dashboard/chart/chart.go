// Package chart renders the dashboard's charts as SVG on the server: a
// time series (requests per hour) and horizontal bars (counts by
// category). Written for Palisade, no library: the output is a small,
// self-contained SVG document (no script, no style element, no external
// reference) with every text escaped, drawn in the dashboard's colours for
// the light or the dark scheme. The page shows it as an image whose text
// alternative and data table it builds from the same numbers.
package chart

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"math"
	"sort"
	"time"
)

// Palette holds the colours of one scheme (the dashboard's CSS variables).
type Palette struct {
	Fg, Muted, Grid, Line, Fill string
	Severity                    map[string]string
}

// Light and Dark match internal/dashboard/assets/app.css.
var (
	Light = Palette{Fg: "#1a1a1a", Muted: "#4f4f4f", Grid: "#c8ccd2", Line: "#1f4e8c", Fill: "rgba(31,78,140,0.15)",
		Severity: map[string]string{"critical": "#8f1111", "high": "#b3370b", "medium": "#f2c94c", "low": "#cfe3f7", "info": "#e3e5e8"}}
	Dark = Palette{Fg: "#ececec", Muted: "#b4b9bf", Grid: "#3c434b", Line: "#8fc0ff", Fill: "rgba(143,192,255,0.18)",
		Severity: map[string]string{"critical": "#ff8a8a", "high": "#ffae7a", "medium": "#f2d16b", "low": "#9cc7f2", "info": "#4a5058"}}
)

// Point is one hourly bucket.
type Point struct {
	Time  time.Time
	Value int64
}

// Bar is one category.
type Bar struct {
	Label string
	Value int64
	Class string // e.g. a severity: its colour, else the line colour
}

// MaxPoints and MaxBars bound what one chart draws (the newest points,
// the first bars).
const (
	MaxPoints = 2000
	MaxBars   = 40
)

type svg struct {
	b bytes.Buffer
}

func (s *svg) printf(format string, args ...any) { fmt.Fprintf(&s.b, format, args...) }

func (s *svg) text(x, y float64, anchor, fill, size string, t string) {
	s.printf(`<text x="%.1f" y="%.1f" text-anchor="%s" fill="%s" font-size="%s" font-family="system-ui, sans-serif">`, x, y, anchor, fill, size)
	xml.EscapeText(&s.b, []byte(t))
	s.b.WriteString("</text>")
}

func (s *svg) open(w, h int, title string) {
	s.printf(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img"><title>`, w, h, w, h)
	xml.EscapeText(&s.b, []byte(title))
	s.b.WriteString("</title>")
}

func niceMax(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func group(n int64) string {
	s := fmt.Sprint(n)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

func short(t time.Time) string { return t.UTC().Format("01-02 15:04") }

// TimeSeries draws requests per hour: an area under a line, value grid,
// time ticks at whole hours. Points are sorted by the caller or not; the
// newest MaxPoints are drawn.
func TimeSeries(pts []Point, title string, p Palette) []byte {
	const width, height = 760, 220
	var s svg
	s.open(width, height, title)
	if len(pts) == 0 {
		s.text(width/2, height/2, "middle", p.Muted, "13", "No traffic recorded yet.")
		s.b.WriteString("</svg>")
		return s.b.Bytes()
	}
	pts = append([]Point(nil), pts...)
	sortPoints(pts)
	if len(pts) > MaxPoints {
		pts = pts[len(pts)-MaxPoints:]
	}
	ml, mr, mt, mb := 56.0, 12.0, 10.0, 34.0
	iw, ih := width-ml-mr, height-mt-mb
	t0 := pts[0].Time
	t1 := pts[len(pts)-1].Time
	if t1.Sub(t0) < time.Hour {
		t1 = t0.Add(time.Hour)
	}
	var peak int64
	for _, q := range pts {
		peak = max(peak, q.Value)
	}
	ymax := niceMax(float64(peak))
	x := func(t time.Time) float64 { return ml + float64(t.Sub(t0))/float64(t1.Sub(t0))*iw }
	y := func(v float64) float64 { return mt + ih - v/ymax*ih }
	for i := 0; i <= 4; i++ {
		v := ymax * float64(i) / 4
		s.printf(`<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s" stroke-width="1"/>`, ml, width-mr, y(v), y(v), p.Grid)
		s.text(ml-6, y(v)+4, "end", p.Fg, "11", group(int64(math.Round(v))))
	}
	hours := int(math.Round(t1.Sub(t0).Hours()))
	maxTicks := max(2, int(iw/110)+1)
	step := max(1, int(math.Ceil(float64(hours)/float64(maxTicks-1))))
	for hh := 0; hh <= hours; hh += step {
		t := t0.Add(time.Duration(hh) * time.Hour)
		anchor := "middle"
		if hh == 0 {
			anchor = "start"
		} else if hh+step > hours && x(t) > width-mr-40 {
			anchor = "end"
		}
		s.printf(`<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s" stroke-width="1"/>`, x(t), x(t), y(0), y(0)+4, p.Muted)
		s.text(x(t), height-mb+16, anchor, p.Fg, "11", short(t))
	}
	s.printf(`<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s" stroke-width="1"/>`, ml, width-mr, y(0), y(0), p.Muted)
	s.printf(`<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s" stroke-width="1"/>`, ml, ml, mt, y(0), p.Muted)
	var line bytes.Buffer
	for i, q := range pts {
		cmd := "L"
		if i == 0 {
			cmd = "M"
		}
		fmt.Fprintf(&line, "%s%.1f,%.1f", cmd, x(q.Time), y(float64(q.Value)))
	}
	s.printf(`<path d="%sL%.1f,%.1fL%.1f,%.1fZ" fill="%s" stroke="none"/>`, line.String(), x(pts[len(pts)-1].Time), y(0), x(t0), y(0), p.Fill)
	s.printf(`<path d="%s" fill="none" stroke="%s" stroke-width="2"/>`, line.String(), p.Line)
	if len(pts) <= 48 {
		for _, q := range pts {
			s.printf(`<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"/>`, x(q.Time), y(float64(q.Value)), p.Line)
		}
	}
	s.b.WriteString("</svg>")
	return s.b.Bytes()
}

func sortPoints(pts []Point) {
	sort.SliceStable(pts, func(i, j int) bool { return pts[i].Time.Before(pts[j].Time) })
}

// Bars draws horizontal bars with their labels and values (the first
// MaxBars items).
func Bars(items []Bar, title string, p Palette) []byte {
	const width, rowH, labelW, valueW = 460, 26.0, 110.0, 56.0
	if len(items) > MaxBars {
		items = items[:MaxBars]
	}
	height := int(float64(len(items))*rowH + 8)
	if len(items) == 0 {
		height = 40
	}
	var s svg
	s.open(width, height, title)
	if len(items) == 0 {
		s.text(width/2, 24, "middle", p.Muted, "13", "None.")
		s.b.WriteString("</svg>")
		return s.b.Bytes()
	}
	var mx int64 = 1
	for _, it := range items {
		mx = max(mx, it.Value)
	}
	bw := width - labelW - valueW
	for k, it := range items {
		yy := 4 + float64(k)*rowH
		w := float64(it.Value) / float64(mx) * bw
		if it.Value > 0 {
			w = max(w, 2)
		} else {
			w = 0
		}
		fill := p.Line
		if c, ok := p.Severity[it.Class]; ok {
			fill = c
		}
		label := it.Label
		if r := []rune(label); len(r) > 16 {
			label = string(r[:15]) + "…"
		}
		s.text(labelW-8, yy+rowH/2+4, "end", p.Fg, "11", label)
		s.printf(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="2" fill="%s" stroke="%s" stroke-width="0.5"/>`, labelW, yy+3, w, rowH-8, fill, p.Muted)
		s.text(labelW+w+6, yy+rowH/2+4, "start", p.Fg, "11", group(it.Value))
	}
	s.b.WriteString("</svg>")
	return s.b.Bytes()
}
