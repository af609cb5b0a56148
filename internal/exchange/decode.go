package exchange

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// MaxLine is the longest NDJSON line accepted (bodies included).
const MaxLine = 64 << 20

// Format of an input stream.
type Format string

// Formats the decoder recognizes.
const (
	FormatNDJSON Format = "ndjson"
	FormatHAR    Format = "har"
)

// RecordError is a recoverable problem with one record: the record is
// rejected, the stream goes on.
type RecordError struct {
	File  string
	Line  int64 // 1-based line (NDJSON); 0 for a HAR entry
	Entry int64 // 1-based entry of a HAR document (its field is log.entries[Entry-1]…)
	Field string
	Err   string
}

func (e *RecordError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Entry > 0 {
		fmt.Fprintf(&b, ": entry %d", e.Entry)
	}
	if e.Field != "" {
		b.WriteString(": field ")
		b.WriteString(e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Err)
	return b.String()
}

// Decoder reads records from one input.
type Decoder struct {
	name    string
	format  Format
	gz      bool
	counter *countingReader
	br      *bufio.Reader
	line    int64
	buf     []byte
	har     *harStream
	done    bool
	maxLine int
	fast    fastScanner
	intern  internTable
	pool    *RecordPool
}

// countingReader counts compressed (on-disk) bytes.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

var unmarshalOpts = json.JoinOptions(jsontext.AllowInvalidUTF8(true), jsontext.AllowDuplicateNames(true))

// Limits bound what one decoder may read and hold; zero fields mean no
// limit beyond the built-in ones.
type Limits struct {
	// MaxDecoded caps the bytes handed to the parser after every decoding
	// layer (the gzip layer detected by magic bytes included). Reading past
	// it fails with a *LimitError.
	MaxDecoded int64
	// MaxRecord caps one NDJSON line (longer lines are rejected records,
	// skipped without being held) and one HAR entry (a longer entry ends
	// the stream with a *LimitError: HAR cannot be resynchronised).
	// Default and ceiling: MaxLine.
	MaxRecord int64
}

// LimitError reports that a bound of Limits was reached.
type LimitError struct {
	What  string // "decoded" or "record"
	Limit int64
}

func (e *LimitError) Error() string {
	if e.What == "record" {
		return fmt.Sprintf("one record (HAR entry) larger than %d bytes", e.Limit)
	}
	return fmt.Sprintf("decoded input larger than %d bytes", e.Limit)
}

// limitReader fails with a *LimitError after n bytes.
type limitReader struct {
	r io.Reader
	n int64
	e *LimitError
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		// One more byte decides: exactly the limit is allowed.
		var one [1]byte
		if k, err := l.r.Read(one[:]); k == 0 {
			return 0, err
		}
		return 0, l.e
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

func isGzip(b []byte) bool { return len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b }

// NewDecoder sniffs r (gzip by magic bytes; NDJSON or HAR by content) and
// returns a decoder. name is used in error messages.
func NewDecoder(name string, r io.Reader) (*Decoder, error) {
	return NewDecoderLimits(name, r, Limits{})
}

// NewDecoderLimits is NewDecoder with bounds for untrusted input (the
// server's ingest endpoint): the decoded stream is capped after the gzip
// layer, a gzip stream inside it is refused, and a HAR document is read
// entry by entry, never whole.
func NewDecoderLimits(name string, r io.Reader, lim Limits) (*Decoder, error) {
	d := &Decoder{name: name, counter: &countingReader{r: r}, maxLine: MaxLine}
	if lim.MaxRecord > 0 && lim.MaxRecord < MaxLine {
		d.maxLine = int(lim.MaxRecord)
	}
	br := bufio.NewReaderSize(d.counter, 256<<10)
	magic, _ := br.Peek(2)
	if isGzip(magic) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: gzip header: %w", name, err)
		}
		zr.Multistream(true)
		d.gz = true
		var inner io.Reader = zr
		if lim.MaxDecoded > 0 {
			inner = &limitReader{r: zr, n: lim.MaxDecoded, e: &LimitError{What: "decoded", Limit: lim.MaxDecoded}}
		}
		br = bufio.NewReaderSize(inner, 256<<10)
		if m, _ := br.Peek(2); isGzip(m) {
			return nil, fmt.Errorf("%s: gzip inside gzip: one gzip layer is read (two with Content-Encoding: gzip), not more", name)
		}
	} else if lim.MaxDecoded > 0 {
		br = bufio.NewReaderSize(&limitReader{r: br, n: lim.MaxDecoded, e: &LimitError{What: "decoded", Limit: lim.MaxDecoded}}, 256<<10)
	}
	d.br = br
	d.format = FormatNDJSON
	if isHAR(br) {
		d.format = FormatHAR
		if err := d.openHAR(int64(d.maxLine)); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// isHAR peeks at the start of the stream: a HAR document is one JSON object
// whose first member is "log" (possibly pretty-printed over many lines).
// It waits for no more input than it needs to decide (a stream's first
// record must not wait for the next ones): at most 4096 bytes.
func isHAR(br *bufio.Reader) bool {
	for n := 1; ; {
		// What is buffered, and at least n bytes.
		peek, err := br.Peek(min(4096, max(n, br.Buffered())))
		if v, decided := harPrefix(peek); decided || err != nil || len(peek) >= 4096 {
			return v && decided
		}
		n = len(peek) + 1 // undecided: wait for one more byte
	}
}

// harPrefix decides from the first bytes whether they start a HAR
// document; decided is false while they are a prefix of both kinds.
func harPrefix(p []byte) (har, decided bool) {
	// White space and byte order marks, in any number and order.
	bom := []byte("\xef\xbb\xbf")
	for {
		p = bytes.TrimLeft(p, " \t\r\n")
		if len(p) < len(bom) && bytes.HasPrefix(bom, p) && len(p) > 0 {
			return false, false // a mark cut short: wait
		}
		if !bytes.HasPrefix(p, bom) {
			break
		}
		p = p[len(bom):]
	}
	if len(p) == 0 {
		return false, false
	}
	if p[0] != '{' {
		return false, true
	}
	p = bytes.TrimLeft(p[1:], " \t\r\n")
	const key = `"log"`
	if len(p) < len(key) {
		return false, !bytes.HasPrefix([]byte(key), p)
	}
	return bytes.HasPrefix(p, []byte(key)), true
}

// Format returns the detected format.
func (d *Decoder) Format() Format { return d.format }

// Gzip reports whether the input was gzip-compressed.
func (d *Decoder) Gzip() bool { return d.gz }

// BytesRead returns the bytes consumed from the underlying reader so far.
func (d *Decoder) BytesRead() int64 { return d.counter.n }

// Buffered returns how many decoded bytes are available without reading
// from the underlying reader: 0 means that the next record may have to
// wait for input (a stream), so a caller batching records delivers what it
// holds first.
func (d *Decoder) Buffered() int { return d.br.Buffered() }

// Next returns the next record. A *RecordError means that one record was
// rejected and the caller may continue; io.EOF ends the stream; any other
// error (I/O, truncated gzip) is fatal for this input.
func (d *Decoder) Next() (*Record, error) {
	if d.format == FormatHAR {
		return d.nextHAR()
	}
	for {
		if d.done {
			return nil, io.EOF
		}
		line, err := d.readLine()
		if err != nil {
			if err == io.EOF {
				d.done = true
				if len(line) == 0 {
					return nil, io.EOF
				}
			} else if lt := (*lineTooLongError)(nil); errors.As(err, &lt) {
				return nil, &RecordError{File: d.name, Line: d.line, Err: err.Error()}
			} else {
				d.done = true
				return nil, fmt.Errorf("%s:%d: %w", d.name, d.line, describeReadErr(err))
			}
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		rec := d.pool.record()
		if err := d.decodeRecord(line, rec); err != nil {
			var fe *FieldError
			if errors.As(err, &fe) {
				return nil, &RecordError{File: d.name, Line: d.line, Field: fe.Field, Err: fe.Message}
			}
			return nil, &RecordError{File: d.name, Line: d.line, Err: err.Error()}
		}
		return rec, nil
	}
}

func describeReadErr(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("input truncated (unexpected end of compressed stream): %w", err)
	}
	return err
}

type lineTooLongError struct{ max int }

func (e *lineTooLongError) Error() string { return fmt.Sprintf("line longer than %d bytes", e.max) }

// readLine returns the next line without its newline. The returned slice is
// valid until the next call.
func (d *Decoder) readLine() ([]byte, error) {
	d.line++
	s, err := d.br.ReadSlice('\n')
	if err == nil || err == io.EOF {
		if len(s) > d.maxLine {
			return nil, &lineTooLongError{d.maxLine}
		}
		return s, err
	}
	if err != bufio.ErrBufferFull {
		return s, err
	}
	d.buf = append(d.buf[:0], s...)
	for {
		s, err = d.br.ReadSlice('\n')
		if len(d.buf)+len(s) > d.maxLine {
			// Skip the rest of the line.
			for err == bufio.ErrBufferFull {
				_, err = d.br.ReadSlice('\n')
			}
			if err != nil && err != io.EOF {
				return nil, err
			}
			return nil, &lineTooLongError{d.maxLine}
		}
		d.buf = append(d.buf, s...)
		if err != bufio.ErrBufferFull {
			return d.buf, err
		}
	}
}

// wireRecord mirrors Record with presence-sensitive fields.
type wireRecord struct {
	Time       *string  `json:"time"`
	DurationMs *float64 `json:"duration_ms"`
	Client     *struct {
		IP   *string `json:"ip"`
		Port int     `json:"port"`
	} `json:"client"`
	Direction string        `json:"direction"`
	Source    string        `json:"source"`
	Request   *Request      `json:"request"`
	Response  *wireResponse `json:"response"`
}

type wireResponse struct {
	Status       *int              `json:"status"`
	Headers      map[string]string `json:"headers"`
	Body         jsontext.Value    `json:"body"`
	BodyEncoding string            `json:"body_encoding"`
	Size         int64             `json:"size"`
	Truncated    bool              `json:"truncated"`
}

// DecodeRecord parses one JSON exchange record and validates it.
func DecodeRecord(data []byte) (*Record, error) {
	rec := new(Record)
	if err := decodeRecord(data, rec); err != nil {
		return nil, err
	}
	return rec, nil
}

func decodeRecord(data []byte, rec *Record) error { return (*Decoder)(nil).decodeRecord(data, rec) }

// decodeRecord tries the fast decoder (with d's intern table, when d is not
// nil) and falls back to the general one.
func (d *Decoder) decodeRecord(data []byte, rec *Record) error {
	if fastDecoding {
		var fs *fastScanner
		if d != nil {
			fs = &d.fast
			fs.intern = &d.intern
		}
		if fastDecode(data, rec, fs) {
			return rec.Validate()
		}
		*rec = Record{pooled: rec.pooled}
	}
	return slowDecodeRecord(data, rec)
}

func slowDecodeRecord(data []byte, rec *Record) error {
	var w wireRecord
	if err := json.Unmarshal(data, &w, unmarshalOpts); err != nil {
		var se *json.SemanticError
		if errors.As(err, &se) && se.JSONPointer != "" {
			field := strings.ReplaceAll(strings.TrimPrefix(string(se.JSONPointer), "/"), "/", ".")
			msg := "wrong type"
			if se.JSONKind != 0 && se.GoType != nil {
				msg = fmt.Sprintf("wrong type: got JSON %s, want %s", kindName(se.JSONKind), goTypeName(se.GoType.String()))
			} else if se.Err != nil {
				msg = se.Err.Error()
			}
			return &FieldError{Field: field, Message: msg}
		}
		var syn *jsontext.SyntacticError
		if errors.As(err, &syn) {
			return fmt.Errorf("malformed JSON at byte %d: %v", syn.ByteOffset, syn.Err)
		}
		return fmt.Errorf("malformed JSON: %v", err)
	}
	if w.Time == nil {
		return &FieldError{"time", "missing"}
	}
	t, err := time.Parse(time.RFC3339Nano, *w.Time)
	if err != nil {
		return &FieldError{"time", fmt.Sprintf("not an RFC 3339 timestamp: %q", clip(*w.Time, 64))}
	}
	rec.Time = t
	if w.DurationMs != nil {
		rec.DurationMs = *w.DurationMs
	}
	if w.Client == nil || w.Client.IP == nil {
		return &FieldError{"client.ip", "missing"}
	}
	rec.Client = Client{IP: *w.Client.IP, Port: w.Client.Port}
	rec.Direction, rec.Source = w.Direction, w.Source
	if w.Request == nil {
		return &FieldError{"request", "missing"}
	}
	rec.Request = *w.Request
	if w.Response == nil {
		return &FieldError{"response", "missing"}
	}
	if w.Response.Status == nil {
		return &FieldError{"response.status", "missing"}
	}
	rec.Response = Response{Status: *w.Response.Status, Headers: w.Response.Headers,
		BodyEncoding: w.Response.BodyEncoding, Size: w.Response.Size, Truncated: w.Response.Truncated}
	switch body := w.Response.Body; {
	case len(body) == 0 || body.Kind() == 'n':
	case body.Kind() == '"':
		if len(body) > 2 {
			// Kept quoted: unquoted on first use (Response.BodyText).
			rec.Response.rawBody = body // jsontext.Value unmarshaling copied it
		}
	default:
		return &FieldError{Field: "response.body", Message: fmt.Sprintf("wrong type: got JSON %s, want string", kindName(body.Kind()))}
	}
	return rec.Validate()
}

func kindName(k jsontext.Kind) string {
	switch k {
	case 'n':
		return "null"
	case 'f', 't':
		return "boolean"
	case '"':
		return "string"
	case '0':
		return "number"
	case '{':
		return "object"
	case '[':
		return "array"
	}
	return "value"
}

func goTypeName(t string) string {
	switch {
	case strings.HasPrefix(t, "*"):
		return goTypeName(t[1:])
	case t == "string":
		return "string"
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "float"):
		return "number"
	case t == "bool":
		return "boolean"
	case strings.HasPrefix(t, "map["):
		return "object"
	case strings.HasPrefix(t, "[]"):
		return "array"
	}
	return "object"
}
