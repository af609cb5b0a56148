package exchange

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/), the subset we
// read. The document is streamed: the decoder walks to log.entries and
// reads one entry at a time, so memory is bounded by the largest entry, not
// by the document.
type harEntry struct {
	StartedDateTime string   `json:"startedDateTime"`
	Time            *float64 `json:"time"`
	ServerIPAddress string   `json:"serverIPAddress"`
	ClientIP        string   `json:"_clientIP"`
	Request         *struct {
		Method   string  `json:"method"`
		URL      string  `json:"url"`
		Headers  []harNV `json:"headers"`
		BodySize int64   `json:"bodySize"`
		PostData *struct {
			MimeType string `json:"mimeType"`
			Text     string `json:"text"`
			Encoding string `json:"encoding"`
		} `json:"postData"`
	} `json:"request"`
	Response *struct {
		Status   *int    `json:"status"`
		Headers  []harNV `json:"headers"`
		BodySize int64   `json:"bodySize"`
		Content  *struct {
			Size     int64  `json:"size"`
			Text     string `json:"text"`
			Encoding string `json:"encoding"`
		} `json:"content"`
	} `json:"response"`
}

type harNV struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// harStream is the state of a streamed HAR document.
type harStream struct {
	dec   *jsontext.Decoder
	win   *windowReader
	lines *lineTail
	idx   int  // entries read
	ended bool // the entries array was closed
	first jsontext.Value
}

// openHAR positions the stream at the first entry of log.entries (members
// of log and of the top-level object before it are skipped).
func (d *Decoder) openHAR(maxEntry int64) error {
	lt := &lineTail{r: d.br}
	win := &windowReader{r: lt, max: maxEntry + 64<<10, e: &LimitError{What: "record", Limit: maxEntry}}
	h := &harStream{dec: jsontext.NewDecoder(win, unmarshalOpts), win: win, lines: lt}
	d.har = h
	if err := h.expect('{'); err != nil {
		return d.harErr(err)
	}
	for {
		if h.dec.PeekKind() == '}' {
			if _, err := h.dec.ReadToken(); err != nil {
				return d.harErr(err)
			}
			return fmt.Errorf("%s: HAR: missing log object", d.name)
		}
		name, err := h.dec.ReadToken()
		if err != nil {
			return d.harErr(err)
		}
		if name.String() != "log" {
			if err := h.dec.SkipValue(); err != nil {
				return d.harErr(err)
			}
			continue
		}
		if h.dec.PeekKind() != '{' {
			if err := h.dec.SkipValue(); err != nil {
				return d.harErr(err)
			}
			return fmt.Errorf("%s: HAR: missing log object", d.name)
		}
		break
	}
	if err := h.expect('{'); err != nil {
		return d.harErr(err)
	}
	for {
		if h.dec.PeekKind() == '}' {
			// A log without entries: nothing to read.
			h.ended = true
			return d.harErr(h.finish())
		}
		name, err := h.dec.ReadToken()
		if err != nil {
			return d.harErr(err)
		}
		if name.String() == "entries" {
			if h.dec.PeekKind() == 'n' {
				h.dec.ReadToken()
				h.ended = true
				return d.harErr(h.finish())
			}
			if err := h.expect('['); err != nil {
				return d.harErr(err)
			}
			break
		}
		if err := h.dec.SkipValue(); err != nil {
			return d.harErr(err)
		}
	}
	// Read the first entry ahead so that a malformed start fails here.
	if h.dec.PeekKind() != ']' {
		raw, err := h.dec.ReadValue()
		if err != nil {
			return d.harErr(err)
		}
		h.first = bytes.Clone(raw)
	}
	return nil
}

func (h *harStream) expect(k jsontext.Kind) error {
	if pk := h.dec.PeekKind(); pk != k {
		if pk == 0 {
			_, err := h.dec.ReadToken()
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		return fmt.Errorf("HAR: expected %s, found %s at byte %d", kindName(k), kindName(pk), h.dec.InputOffset())
	}
	_, err := h.dec.ReadToken()
	return err
}

// finish reads what follows log.entries: the rest of the log object
// (depth 2) and of the document (depth 1), checking its syntax.
func (h *harStream) finish() error {
	for h.dec.StackDepth() > 0 {
		h.win.reset(h.dec.InputOffset())
		if h.dec.PeekKind() == '}' || h.dec.PeekKind() == ']' {
			if _, err := h.dec.ReadToken(); err != nil {
				return err
			}
			continue
		}
		if _, err := h.dec.ReadToken(); err != nil { // member name
			return err
		}
		if err := h.dec.SkipValue(); err != nil {
			return err
		}
	}
	// Nothing but white space may follow the document.
	if _, err := h.dec.ReadToken(); err != io.EOF {
		if err == nil {
			return fmt.Errorf("HAR: data after the end of the document at byte %d", h.dec.InputOffset())
		}
		return err
	}
	return nil
}

// harErr locates a streaming error: a syntax error gets its line.
func (d *Decoder) harErr(err error) error {
	if err == nil {
		return nil
	}
	var le *LimitError
	if errors.As(err, &le) {
		return fmt.Errorf("%s: HAR: %w", d.name, err)
	}
	var syn *jsontext.SyntacticError
	if errors.As(err, &syn) {
		if line := d.har.lines.lineAt(syn.ByteOffset); line > 0 {
			return fmt.Errorf("%s:%d: HAR: malformed JSON: %v", d.name, line, syn.Err)
		}
		return fmt.Errorf("%s: HAR: malformed JSON at byte %d: %v", d.name, syn.ByteOffset, syn.Err)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: HAR: %w", d.name, describeReadErr(io.ErrUnexpectedEOF))
	}
	return fmt.Errorf("%s: HAR: %w", d.name, describeReadErr(err))
}

func (d *Decoder) nextHAR() (*Record, error) {
	h := d.har
	if h.ended || d.done {
		return nil, io.EOF
	}
	h.win.reset(h.dec.InputOffset())
	if h.first == nil && h.dec.PeekKind() == ']' {
		h.ended = true
		if _, err := h.dec.ReadToken(); err != nil {
			d.done = true
			return nil, d.harErr(err)
		}
		if err := h.finish(); err != nil {
			d.done = true
			return nil, d.harErr(err)
		}
		return nil, io.EOF
	}
	raw := h.first
	h.first = nil
	if raw == nil {
		var err error
		if raw, err = h.dec.ReadValue(); err != nil {
			d.done = true
			return nil, d.harErr(err)
		}
	}
	i := h.idx
	h.idx++
	rec, err := harToRecord(raw)
	if err != nil {
		var fe *FieldError
		field := ""
		msg := err.Error()
		if errors.As(err, &fe) {
			field, msg = fe.Field, fe.Message
		}
		return nil, &RecordError{File: d.name, Entry: int64(i + 1), Field: fmt.Sprintf("log.entries[%d]%s", i, dotted(field)), Err: msg}
	}
	return rec, nil
}

// windowReader fails with a *LimitError when more than max bytes were read
// since the last reset: the JSON decoder's buffer cannot grow past one
// entry (plus read-ahead).
type windowReader struct {
	r     io.Reader
	n     int64 // bytes read in total
	start int64 // offset of the current item
	max   int64
	e     *LimitError
}

func (w *windowReader) reset(off int64) { w.start = off }

func (w *windowReader) Read(p []byte) (int, error) {
	room := w.start + w.max - w.n
	if room <= 0 {
		return 0, w.e
	}
	if int64(len(p)) > room {
		p = p[:room]
	}
	n, err := w.r.Read(p)
	w.n += int64(n)
	return n, err
}

// lineTail counts the lines of what it reads and keeps the last bytes, so
// that a syntax error at a recent offset can be given a line number
// without keeping the document.
type lineTail struct {
	r         io.Reader
	tail      []byte
	tailStart int64 // offset of tail[0]
	tailLines int64 // newlines before tailStart
}

const lineTailKeep = 128 << 10

func (l *lineTail) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if n > 0 {
		if len(l.tail)+n > 2*lineTailKeep {
			drop := len(l.tail) + n - lineTailKeep
			if drop > len(l.tail) {
				drop = len(l.tail)
			}
			l.tailLines += int64(bytes.Count(l.tail[:drop], nl))
			l.tailStart += int64(drop)
			l.tail = append(l.tail[:0], l.tail[drop:]...)
		}
		l.tail = append(l.tail, p[:n]...)
		if len(l.tail) > 2*lineTailKeep { // one huge read: keep its end
			drop := len(l.tail) - lineTailKeep
			l.tailLines += int64(bytes.Count(l.tail[:drop], nl))
			l.tailStart += int64(drop)
			l.tail = append(l.tail[:0], l.tail[drop:]...)
		}
	}
	return n, err
}

var nl = []byte{'\n'}

// lineAt returns the 1-based line of byte offset off, or 0 when that part
// of the input is no longer kept.
func (l *lineTail) lineAt(off int64) int64 {
	if off < l.tailStart || off > l.tailStart+int64(len(l.tail)) {
		return 0
	}
	return 1 + l.tailLines + int64(bytes.Count(l.tail[:off-l.tailStart], nl))
}

func dotted(f string) string {
	if f == "" {
		return ""
	}
	return "." + f
}

// harToRecord converts one HAR entry. The client address is taken from the
// first X-Forwarded-For address, else the non-standard "_clientIP" field,
// else "serverIPAddress" (the only address a browser HAR carries).
func harToRecord(raw jsontext.Value) (*Record, error) {
	var e harEntry
	if err := json.Unmarshal(raw, &e, unmarshalOpts); err != nil {
		var se *json.SemanticError
		if errors.As(err, &se) {
			return nil, &FieldError{Field: strings.ReplaceAll(strings.TrimPrefix(string(se.JSONPointer), "/"), "/", "."), Message: "wrong type"}
		}
		return nil, err
	}
	if e.Request == nil {
		return nil, &FieldError{"request", "missing"}
	}
	if e.Response == nil || e.Response.Status == nil {
		return nil, &FieldError{"response.status", "missing"}
	}
	t, err := time.Parse(time.RFC3339Nano, e.StartedDateTime)
	if err != nil {
		return nil, &FieldError{"startedDateTime", fmt.Sprintf("not an ISO 8601 timestamp: %q", clip(e.StartedDateTime, 64))}
	}
	rec := &Record{Time: t, Direction: Inbound, Source: "har"}
	if e.Time != nil && *e.Time > 0 {
		rec.DurationMs = *e.Time
	}
	rec.Request.Method = e.Request.Method
	rec.Request.URL = e.Request.URL
	rec.Request.Headers = harHeaders(e.Request.Headers)
	if e.Request.BodySize > 0 {
		rec.Request.Size = e.Request.BodySize
	}
	if pd := e.Request.PostData; pd != nil {
		rec.Request.Body = pd.Text
		if pd.Encoding == "base64" {
			rec.Request.BodyEncoding = "base64"
		}
		if pd.MimeType != "" && rec.Request.Headers["content-type"] == "" {
			if rec.Request.Headers == nil {
				rec.Request.Headers = map[string]string{}
			}
			rec.Request.Headers["content-type"] = pd.MimeType
		}
	}
	rec.Response.Status = *e.Response.Status
	rec.Response.Headers = harHeaders(e.Response.Headers)
	if e.Response.BodySize > 0 {
		rec.Response.Size = e.Response.BodySize
	}
	if c := e.Response.Content; c != nil {
		rec.Response.Body = c.Text
		if c.Encoding == "base64" {
			rec.Response.BodyEncoding = "base64"
		}
		if rec.Response.Size == 0 && c.Size > 0 {
			rec.Response.Size = c.Size
		}
	}
	rec.Client.IP = harClientIP(rec.Request.Headers["x-forwarded-for"], e.ClientIP, e.ServerIPAddress)
	if rec.Client.IP == "" {
		return nil, &FieldError{"serverIPAddress", "no client address: no X-Forwarded-For header, _clientIP or serverIPAddress"}
	}
	if err := rec.Validate(); err != nil {
		return nil, err
	}
	return rec, nil
}

func harClientIP(xff, clientIP, serverIP string) string {
	for _, c := range []string{firstXFF(xff), clientIP, serverIP} {
		c = strings.Trim(strings.TrimSpace(c), "[]")
		if a, err := netip.ParseAddr(c); err == nil {
			return a.Unmap().String()
		}
	}
	return ""
}

func firstXFF(xff string) string {
	if i := strings.IndexByte(xff, ','); i >= 0 {
		xff = xff[:i]
	}
	return strings.TrimSpace(xff)
}

func harHeaders(nv []harNV) map[string]string {
	if len(nv) == 0 {
		return nil
	}
	h := make(map[string]string, len(nv))
	for _, p := range nv {
		k := strings.ToLower(p.Name)
		if strings.HasPrefix(k, ":") { // HTTP/2 pseudo-headers
			continue
		}
		if old, ok := h[k]; ok {
			h[k] = old + ", " + p.Value
		} else {
			h[k] = p.Value
		}
	}
	return h
}
