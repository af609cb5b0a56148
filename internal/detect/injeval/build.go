package injeval

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"net/url"
	"strings"
	"time"

	"github.com/palisade-sec/palisade/internal/exchange"
)

// Case is one request to evaluate.
type Case struct {
	Payload   *Payload
	Placement string // query, json, form, header, path, multipart, useragent, xml, raw, graphql
	Encoder   string // Plain, URL, Base64Flat (GoTestWAF) or "" for list payloads
	Rec       *exchange.Record
}

// DefaultPlacements are the positions a list payload (HttpParams,
// PayloadsAllTheThings, the presidio prose) is put in: alone in a query
// parameter, a JSON member, a form body, a header and a path segment, and
// the way payloads arrive in real traffic — among benign parameters of a
// query string or an application/x-www-form-urlencoded body, in the middle
// of a path, in a cookie, in the text of an XML element, and appended to a
// benign value ("append": ?id=1042<payload>, the shape of SQL, shell and
// template fragments added to an existing parameter).
var DefaultPlacements = []string{"query", "json", "form", "header", "path", "query-multi", "form-multi", "path-mid", "cookie", "xml-text", "append"}

const baseURL = "https://api.example.test"

var evalTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newRecord(method, rawURL string, headers map[string]string, body string) *exchange.Record {
	h := map[string]string{"user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36", "accept": "application/json"}
	for k, v := range headers {
		h[strings.ToLower(k)] = v
	}
	return &exchange.Record{Time: evalTime, Client: exchange.Client{IP: "198.51.100.10"},
		Request:  exchange.Request{Method: method, URL: rawURL, Headers: h, Body: body},
		Response: exchange.Response{Status: 200}}
}

// minimalEscape makes a raw (Plain-encoded) payload fit into a URL the way
// it would travel on the wire: only bytes that cannot appear in a request
// line (space, controls, '#', non-ASCII, and '%' not starting an escape)
// are percent-encoded.
func minimalEscape(s string, path bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c <= 0x20 || c >= 0x7f || c == '#' || c == '"' || c == '<' || c == '>' || c == '\\' || c == '^' || c == '`' || c == '{' || c == '|' || c == '}':
			fmt.Fprintf(&b, "%%%02X", c)
		case c == '%' && !(i+2 < len(s) && ishex(s[i+1]) && ishex(s[i+2])):
			b.WriteString("%25")
		case path && c == '?':
			b.WriteString("%3F")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// cookieEscape percent-encodes what a cookie value cannot carry (controls,
// space, '"', ',', ';', '\\', '%' and non-ASCII), as browsers and clients
// do for values set from script.
func cookieEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= 0x20 || c >= 0x7f || c == '"' || c == ',' || c == ';' || c == '\\' || c == '%' {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func ishex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// encode applies a GoTestWAF encoder. ok=false for unknown encoders.
func encode(enc, v string) (string, bool) {
	switch enc {
	case "", "Plain":
		return v, true
	case "URL":
		return url.QueryEscape(v), true
	case "Base64", "Base64Flat":
		return base64.StdEncoding.EncodeToString([]byte(v)), true
	case "JSUnicode":
		var b strings.Builder
		for _, r := range v {
			fmt.Fprintf(&b, `\u%04x`, r)
		}
		return b.String(), true
	case "XMLEntity":
		var b strings.Builder
		for _, r := range v {
			fmt.Fprintf(&b, "&#x%x;", r)
		}
		return b.String(), true
	}
	return "", false
}

// place builds the record for an already-encoded value. urlEncoded says
// the value is already safe for URLs (URL encoder).
func place(ph Placeholder, v string, urlEncoded bool) (*exchange.Record, string, error) {
	inURL := func(path bool) string {
		if urlEncoded {
			return v
		}
		return minimalEscape(v, path)
	}
	formVal := func() string {
		if urlEncoded {
			return v
		}
		return url.QueryEscape(v)
	}
	switch ph.Name {
	case "URLParam", "query":
		return newRecord("GET", baseURL+"/api/v1/items?q="+inURL(false), nil, ""), "query", nil
	case "query-multi":
		return newRecord("GET", baseURL+"/api/v1/items?page=2&q="+inURL(false)+"&sort=price&lang=en", nil, ""), "query-multi", nil
	case "append":
		return newRecord("GET", baseURL+"/api/v1/orders?id=1042"+inURL(false)+"&view=full", nil, ""), "append", nil
	case "form-multi":
		return newRecord("POST", baseURL+"/api/v1/orders", map[string]string{"content-type": "application/x-www-form-urlencoded"}, "name=Alice+Martin&qty=2&note="+formVal()+"&ship=express"), "form-multi", nil
	case "path-mid":
		return newRecord("GET", baseURL+"/api/v1/items/"+inURL(true)+"/reviews", nil, ""), "path-mid", nil
	case "cookie":
		return newRecord("GET", baseURL+"/api/v1/items", map[string]string{"cookie": "sid=8f3a9c2e71b4d6a0; pref=" + cookieEscape(v) + "; theme=dark"}, ""), "cookie", nil
	case "xml-text":
		body := `<?xml version="1.0" encoding="UTF-8"?><order><id>1042</id><note>` + html.EscapeString(v) + `</note></order>`
		return newRecord("POST", baseURL+"/api/v1/orders", map[string]string{"content-type": "application/xml"}, body), "xml-text", nil
	case "URLPath", "path":
		return newRecord("GET", baseURL+"/api/v1/items/"+inURL(true), nil, ""), "path", nil
	case "Header", "header":
		return newRecord("GET", baseURL+"/api/v1/items", map[string]string{"x-custom-data": v}, ""), "header", nil
	case "UserAgent", "useragent":
		return newRecord("GET", baseURL+"/api/v1/items", map[string]string{"user-agent": v}, ""), "useragent", nil
	case "JSONRequest", "json":
		b, _ := json.Marshal(map[string]string{"q": v})
		return newRecord("POST", baseURL+"/api/v1/items", map[string]string{"content-type": "application/json"}, string(b)), "json", nil
	case "HTMLForm", "form":
		return newRecord("POST", baseURL+"/api/v1/items", map[string]string{"content-type": "application/x-www-form-urlencoded"}, "q="+formVal()), "form", nil
	case "HTMLMultipartForm", "multipart":
		const bd = "palisadeevalboundary7f3a"
		body := "--" + bd + "\r\nContent-Disposition: form-data; name=\"q\"\r\n\r\n" + v + "\r\n--" + bd + "--\r\n"
		return newRecord("POST", baseURL+"/api/v1/items", map[string]string{"content-type": "multipart/form-data; boundary=" + bd}, body), "multipart", nil
	case "XMLBody", "xml":
		return newRecord("POST", baseURL+"/api/v1/items", map[string]string{"content-type": "application/xml"}, v), "xml", nil
	case "SOAPBody":
		body := `<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><q>` + html.EscapeString(v) + `</q></soap:Body></soap:Envelope>`
		return newRecord("POST", baseURL+"/ws", map[string]string{"content-type": "text/xml", "soapaction": "urn:query"}, body), "xml", nil
	case "GraphQL":
		if strings.EqualFold(ph.Method, "POST") {
			return newRecord("POST", baseURL+"/graphql", map[string]string{"content-type": "application/json"}, v), "graphql", nil
		}
		return newRecord("GET", baseURL+"/graphql?query="+inURL(false), nil, ""), "graphql", nil
	case "RawRequest":
		m := ph.Method
		if m == "" {
			m = "GET"
		}
		path := strings.ReplaceAll(ph.Path, "{{payload}}", inURL(true))
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		h := map[string]string{}
		for k, hv := range ph.Headers {
			h[k] = strings.ReplaceAll(hv, "{{payload}}", v)
		}
		delete(h, "Content-Encoding") // the body is recorded decoded
		body := strings.ReplaceAll(strings.ReplaceAll(ph.Body, "\r\n", "\n"), "\n", "\r\n")
		body = strings.ReplaceAll(body, "{{payload}}", v)
		return newRecord(m, baseURL+path, h, body), "raw", nil
	}
	return nil, "", fmt.Errorf("unsupported placeholder %q", ph.Name)
}

// placeAPIValue sends an api-values payload where its document puts it,
// under its own name: a query parameter, a path segment, a header, a
// cookie, a JSON member or form field of a POST, or a whole JSON body.
func placeAPIValue(p *Payload) (*exchange.Record, string) {
	switch p.Set {
	case "query":
		return newRecord("GET", baseURL+"/api/v1/items?"+url.QueryEscape(p.Param)+"="+url.QueryEscape(p.Value), nil, ""), "param-query"
	case "path":
		return newRecord("GET", baseURL+"/api/v1/items/"+minimalEscape(p.Value, true), nil, ""), "param-path"
	case "header":
		return newRecord("GET", baseURL+"/api/v1/items", map[string]string{p.Param: p.Value}, ""), "param-header"
	case "cookie":
		return newRecord("GET", baseURL+"/api/v1/items", map[string]string{"cookie": url.QueryEscape(p.Param) + "=" + cookieEscape(p.Value)}, ""), "param-cookie"
	case "form":
		return newRecord("POST", baseURL+"/api/v1/items", map[string]string{"content-type": "application/x-www-form-urlencoded"}, url.QueryEscape(p.Param)+"="+url.QueryEscape(p.Value)), "param-form"
	case "json":
		b, _ := json.Marshal(map[string]string{p.Param: p.Value})
		return newRecord("POST", baseURL+"/api/v1/items", map[string]string{"content-type": "application/json"}, string(b)), "param-json"
	}
	return newRecord("POST", baseURL+"/api/v1/items", map[string]string{"content-type": "application/json"}, p.Value), "body-json"
}

// BuildCases expands payloads into requests: GoTestWAF payloads over their
// encoders × placeholders, list payloads over placements. Unsupported
// encoders/placeholders (gRPC) and requests whose URL cannot be parsed are
// skipped and counted in st.
func BuildCases(ps []Payload, placements []string, st *LoadStats) []Case {
	if len(placements) == 0 {
		placements = DefaultPlacements
	}
	var out []Case
	for i := range ps {
		p := &ps[i]
		if p.Source == "gotestwaf" {
			for _, enc := range p.Encoders {
				v, ok := encode(enc, p.Value)
				if !ok {
					st.skip("gotestwaf: unsupported encoder "+enc, len(p.Placeholders))
					continue
				}
				for _, ph := range p.Placeholders {
					rec, where, err := place(ph, v, enc == "URL")
					if err != nil {
						st.skip("gotestwaf: "+err.Error(), 1)
						continue
					}
					if err := rec.Validate(); err != nil {
						st.skip("gotestwaf: invalid request: "+err.Error(), 1)
						continue
					}
					out = append(out, Case{Payload: p, Placement: where, Encoder: enc, Rec: rec})
				}
			}
			continue
		}
		if p.Source == APIValuesSource {
			rec, where := placeAPIValue(p)
			if err := rec.Validate(); err != nil {
				st.skip(p.Source+": invalid request: "+err.Error(), 1)
				continue
			}
			out = append(out, Case{Payload: p, Placement: where, Rec: rec})
			continue
		}
		for _, pl := range placements {
			rec, where, err := place(Placeholder{Name: pl}, p.Value, false)
			if err != nil {
				st.skip(err.Error(), 1)
				continue
			}
			if err := rec.Validate(); err != nil {
				st.skip(p.Source+": invalid request", 1)
				continue
			}
			out = append(out, Case{Payload: p, Placement: where, Rec: rec})
		}
	}
	return out
}
