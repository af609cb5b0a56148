package report

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/palisade-sec/palisade/internal/model"
)

// MaxReportBytes bounds a report read back (1 GiB).
const MaxReportBytes = 1 << 30

// IsReport reports whether the start of a file is an analysis report (a
// JSON document with generated_at and endpoints) rather than exchange
// records (NDJSON, one exchange per line) or HAR.
func IsReport(head []byte) bool {
	t := bytes.TrimLeft(head, " \t\r\n")
	if len(t) == 0 || t[0] != '{' {
		return false
	}
	// report.WriteJSON indents: "{\n  \"generated_at\"". A compact report
	// is one object whose first keys are generated_at / input.
	first := t
	if i := bytes.IndexByte(t, '\n'); i >= 0 {
		first = t[:i]
	}
	if bytes.Equal(bytes.TrimSpace(first), []byte("{")) {
		return bytes.Contains(t[:min(len(t), 256)], []byte(`"generated_at"`))
	}
	return bytes.HasPrefix(bytes.TrimSpace(t), []byte(`{"generated_at"`))
}

// ReadFile reads a report written by WriteJSON (plain or gzip).
func ReadFile(path string) (*model.Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = bufio.NewReader(f)
	br := r.(*bufio.Reader)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		defer zr.Close()
		r = zr
	}
	dec := json.NewDecoder(io.LimitReader(r, MaxReportBytes))
	var rep model.Report
	if err := dec.Decode(&rep); err != nil {
		return nil, fmt.Errorf("%s: not a report-v1 document: %w", path, err)
	}
	return &rep, nil
}
