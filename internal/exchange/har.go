package exchange

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/), the subset we read.
type harDoc struct {
	Log *struct {
		Version string           `json:"version"`
		Entries []jsontext.Value `json:"entries"`
	} `json:"log"`
}

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
	raw jsontext.Value
}

type harNV struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func (d *Decoder) loadHAR() error {
	data, err := io.ReadAll(d.br)
	if err != nil {
		return fmt.Errorf("%s: %w", d.name, describeReadErr(err))
	}
	var doc harDoc
	if err := json.Unmarshal(data, &doc, unmarshalOpts); err != nil {
		var syn *jsontext.SyntacticError
		if errors.As(err, &syn) {
			line := 1 + strings.Count(string(data[:min(int(syn.ByteOffset), len(data))]), "\n")
			return fmt.Errorf("%s:%d: HAR: malformed JSON: %v", d.name, line, syn.Err)
		}
		return fmt.Errorf("%s: HAR: %v", d.name, err)
	}
	if doc.Log == nil {
		return fmt.Errorf("%s: HAR: missing log object", d.name)
	}
	d.har = make([]harEntry, len(doc.Log.Entries))
	for i, raw := range doc.Log.Entries {
		d.har[i].raw = raw
	}
	return nil
}

func (d *Decoder) nextHAR() (*Record, error) {
	if d.harPos >= len(d.har) {
		return nil, io.EOF
	}
	i := d.harPos
	d.harPos++
	e := &d.har[i]
	raw := e.raw
	e.raw = nil
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
