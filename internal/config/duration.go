package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
)

// Duration is a configuration duration: Go syntax ("90m", "36h", "1.5s"),
// days ("30d", "1.5d"), or a number of seconds (600, 0.5).
type Duration time.Duration

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// ParseDuration parses a duration with an optional trailing "d" for days.
// Negative durations are refused.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if strings.HasSuffix(s, "d") {
		n, err := strconv.ParseFloat(strings.TrimSuffix(s, "d"), 64)
		if err != nil || n < 0 || math.IsNaN(n) || n*float64(24*time.Hour) > math.MaxInt64 {
			return 0, fmt.Errorf("bad duration %q (want e.g. \"30d\", \"12h\", \"90m\")", s)
		}
		return time.Duration(n * float64(24*time.Hour)), nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("bad duration %q (want e.g. \"30d\", \"12h\", \"90m\")", s)
	}
	return v, nil
}

// UnmarshalYAML implements goccy/go-yaml's NodeUnmarshaler.
func (d *Duration) UnmarshalYAML(n ast.Node) error {
	switch v := n.(type) {
	case *ast.StringNode:
		x, err := ParseDuration(v.Value)
		if err != nil {
			return NodeError(n, "%v", err)
		}
		*d = Duration(x)
		return nil
	case *ast.IntegerNode, *ast.FloatNode:
		f, err := strconv.ParseFloat(strings.ReplaceAll(n.GetToken().Value, "_", ""), 64)
		if err != nil || f < 0 || math.IsNaN(f) || f*float64(time.Second) > math.MaxInt64 {
			return NodeError(n, "bad duration %s (a number is seconds; want e.g. \"30d\", \"12h\", \"90m\")", n.GetToken().Value)
		}
		*d = Duration(f * float64(time.Second))
		return nil
	case *ast.NullNode:
		return nil
	}
	return NodeError(n, "want a duration such as \"30d\", \"12h\" or \"90m\"")
}

// String renders the duration in the form ParseDuration reads: whole days
// as "30d", else Go syntax without zero minutes and seconds ("1h", "5m",
// "1h30m").
func (d Duration) String() string {
	x := time.Duration(d)
	if x > 0 && x%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(x/(24*time.Hour)), 10) + "d"
	}
	s := x.String()
	if x%time.Minute == 0 && x != 0 {
		s = strings.TrimSuffix(s, "0s")
		if x%time.Hour == 0 {
			s = strings.TrimSuffix(s, "0m")
		}
	}
	return s
}

// MarshalYAML renders the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// MarshalJSON renders the duration as a JSON string.
func (d Duration) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(d.String())), nil }
