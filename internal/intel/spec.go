package intel

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseSpec parses a feed argument of the form
//
//	KIND[,OPTION=VALUE...]=SOURCE
//
// KIND is "tor", "blocklist" or "anonymizer" (a MaxMind MMDB database with
// anonymizer flags); SOURCE is a file path or an http(s) URL (it
// may itself contain '=' and ','). Options:
//
//	min=N     minimum list count for ipsum-style "IP count" lines (default 1)
//	name=NAME feed name shown in alerts (default: file name without extension)
//
// Examples: "tor=/data/tor-exits.csv", "blocklist=firehol_level1.netset",
// "blocklist,min=3,name=ipsum=/data/ipsum.txt".
func ParseSpec(arg string) (kind, source string, opts Options, err error) {
	i := strings.IndexAny(arg, ",=")
	if i < 0 {
		return "", "", opts, fmt.Errorf("intel spec %q: want KIND[,min=N][,name=NAME]=SOURCE", clip(arg, 80))
	}
	kind = strings.ToLower(strings.TrimSpace(arg[:i]))
	if kind != KindTor && kind != KindBlocklist && kind != KindAnonymizer {
		return "", "", opts, fmt.Errorf("intel spec %q: unknown kind %q (want tor, blocklist or anonymizer)", clip(arg, 80), kind)
	}
	rest := arg[i:]
	for rest[0] == ',' {
		rest = rest[1:]
		eq := strings.IndexByte(rest, '=')
		if eq < 0 {
			return "", "", opts, fmt.Errorf("intel spec %q: option %q has no value", clip(arg, 80), clip(rest, 40))
		}
		key := strings.TrimSpace(rest[:eq])
		rest = rest[eq+1:]
		end := strings.IndexAny(rest, ",=")
		if end < 0 {
			return "", "", opts, fmt.Errorf("intel spec %q: missing =SOURCE after option %s", clip(arg, 80), key)
		}
		val := strings.TrimSpace(rest[:end])
		rest = rest[end:]
		switch key {
		case "min":
			n, e := strconv.Atoi(val)
			if e != nil || n < 1 {
				return "", "", opts, fmt.Errorf("intel spec %q: min=%q is not a positive integer", clip(arg, 80), val)
			}
			opts.MinCount = n
		case "name":
			if val == "" {
				return "", "", opts, fmt.Errorf("intel spec %q: empty name", clip(arg, 80))
			}
			opts.Name = val
		default:
			return "", "", opts, fmt.Errorf("intel spec %q: unknown option %q (known: min, name)", clip(arg, 80), key)
		}
	}
	source = strings.TrimSpace(rest[1:]) // rest[0] == '='
	if source == "" {
		return "", "", opts, fmt.Errorf("intel spec %q: empty source", clip(arg, 80))
	}
	return kind, source, opts, nil
}
