package crs

import libinjection "github.com/corazawaf/libinjection-go"

// LibMemo remembers libinjection's verdicts on the last text each of its
// two detectors judged, so that the CRS operators @detectSQLi and
// @detectXSS and a caller's own use of libinjection (the structural
// matchers of the injection family) parse a value once. A verdict is a
// function of the text alone: results never depend on what is
// remembered. The zero value is ready; not safe for concurrent use (one
// per Scratch). It keeps views of the texts it judged: Reset drops them.
type LibMemo struct {
	sqliText string
	sqliFP   string
	sqliOK   bool
	sqliSet  bool
	xssText  string
	xssOK    bool
	xssSet   bool
}

// IsSQLi is libinjection.IsSQLi(t).
func (m *LibMemo) IsSQLi(t string) (bool, string) {
	if m == nil {
		return libinjection.IsSQLi(t)
	}
	if !m.sqliSet || m.sqliText != t {
		m.sqliOK, m.sqliFP = libinjection.IsSQLi(t)
		m.sqliText, m.sqliSet = t, true
	}
	return m.sqliOK, m.sqliFP
}

// IsXSS is libinjection.IsXSS(t).
func (m *LibMemo) IsXSS(t string) bool {
	if m == nil {
		return libinjection.IsXSS(t)
	}
	if !m.xssSet || m.xssText != t {
		m.xssOK = libinjection.IsXSS(t)
		m.xssText, m.xssSet = t, true
	}
	return m.xssOK
}

// Reset forgets the texts (and the views of them).
func (m *LibMemo) Reset() { *m = LibMemo{} }
