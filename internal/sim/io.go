package sim

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/palisade-sec/palisade/internal/exchange"
)

// WriteJSON writes the labels as indented JSON.
func (l *Labels) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// Subjects a scenario may have.
var subjects = map[string]bool{"client": true, "identity": true, "endpoint": true}

// ReadLabels parses a labels document written by WriteJSON. name is used in
// error messages, which say where the problem is (line for syntax errors,
// scenario index and field otherwise).
func ReadLabels(r io.Reader, name string) (*Labels, error) {
	data, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var l Labels
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&l); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return nil, fmt.Errorf("%s:%d: malformed JSON: %v", name, lineOf(data, se.Offset), se)
		case errors.As(err, &te):
			return nil, fmt.Errorf("%s:%d: field %s: wrong type: got JSON %s, want %s", name, lineOf(data, te.Offset), te.Field, te.Value, te.Type)
		case errors.Is(err, io.EOF):
			return nil, fmt.Errorf("%s: empty labels document", name)
		}
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s:%d: trailing data after the labels document", name, lineOf(data, dec.InputOffset()))
	}
	for i, s := range l.Scenarios {
		where := func(field, msg string) error {
			return fmt.Errorf("%s: scenarios[%d] (%q): field %s: %s", name, i, s.Name, field, msg)
		}
		switch {
		case s.Name == "":
			return nil, where("name", "missing")
		case !subjects[s.Subject]:
			return nil, where("subject", fmt.Sprintf("must be client, identity or endpoint, got %q", s.Subject))
		case s.Trap && s.AlertType != "":
			return nil, where("alert_type", "a trap has no alert type (use trap_for)")
		case !s.Trap && s.AlertType == "":
			return nil, where("alert_type", "missing (and trap is false)")
		case s.End.Before(s.Start):
			return nil, where("end", "before start")
		}
		for k, ip := range s.ClientIPs {
			if _, err := netip.ParseAddr(ip); err != nil {
				return nil, where(fmt.Sprintf("client_ips[%d]", k), fmt.Sprintf("not an IP address: %q", ip))
			}
		}
	}
	for k, e := range append(append([]string(nil), l.Intel.Tor...), l.Intel.Blocklist...) {
		if _, err := netip.ParseAddr(e); err != nil {
			if _, err := netip.ParsePrefix(e); err != nil {
				return nil, fmt.Errorf("%s: intel entry %d: not an address or CIDR: %q", name, k, e)
			}
		}
	}
	return &l, nil
}

func lineOf(data []byte, off int64) int {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	if off < 0 {
		off = 0
	}
	return 1 + bytes.Count(data[:off], []byte{'\n'})
}

// WriteIntelFeeds writes tor-exit-nodes.txt (one address per line) and
// blocklist.txt (IPsum style: address, tab, number of lists) into dir.
func (l *Labels) WriteIntelFeeds(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tor, block := l.IntelFeeds()
	var tb strings.Builder
	tb.WriteString("# Tor exit nodes used by the palisade simulator (synthetic feed)\n")
	for _, a := range tor {
		tb.WriteString(a + "\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "tor-exit-nodes.txt"), []byte(tb.String()), 0o644); err != nil {
		return err
	}
	var bb strings.Builder
	bb.WriteString("# Blocklist for the palisade simulator (synthetic feed)\n# IP\tnumber of (black)lists\n")
	for i, a := range block {
		fmt.Fprintf(&bb, "%s\t%d\n", a, 3+i%5)
	}
	return os.WriteFile(filepath.Join(dir, "blocklist.txt"), []byte(bb.String()), 0o644)
}

// Output says where WriteFiles puts things ("" = not written; Records ""
// or "-" = Stdout).
type Output struct {
	Records  string
	Labels   string
	IntelDir string
	Stdout   io.Writer
}

// WriteFiles runs the simulation and writes the records as NDJSON (gzip
// when the file name ends in .gz), the labels and the intel feeds.
func WriteFiles(cfg Config, out Output) (*Labels, error) {
	var w io.Writer = out.Stdout
	var f *os.File
	if out.Records != "" && out.Records != "-" {
		var err error
		if f, err = os.Create(out.Records); err != nil {
			return nil, err
		}
		defer f.Close()
		w = f
	}
	if w == nil {
		return nil, errors.New("sim: no output for the records")
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	var zw *gzip.Writer
	var sink io.Writer = bw
	if strings.HasSuffix(out.Records, ".gz") {
		zw, _ = gzip.NewWriterLevel(bw, gzip.BestSpeed)
		sink = zw
	}
	lab, err := Generate(cfg, func(r *exchange.Record) error { return exchange.Encode(sink, r) })
	if err != nil {
		return nil, err
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return nil, err
		}
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	if f != nil {
		if err := f.Close(); err != nil {
			return nil, err
		}
	}
	if out.Labels != "" {
		var b bytes.Buffer
		if err := lab.WriteJSON(&b); err != nil {
			return nil, err
		}
		if err := os.WriteFile(out.Labels, b.Bytes(), 0o644); err != nil {
			return nil, err
		}
	}
	if out.IntelDir != "" {
		if err := lab.WriteIntelFeeds(out.IntelDir); err != nil {
			return nil, err
		}
	}
	return lab, nil
}
