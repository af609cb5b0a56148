package sink

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/palisade-sec/palisade/internal/model"
)

// SplunkSourcetype is the sourcetype of every event.
const SplunkSourcetype = "palisade:alert"

// hecEvent is one Splunk HEC event envelope.
type hecEvent struct {
	Time       float64      `json:"time"`
	Host       string       `json:"host,omitempty"`
	Source     string       `json:"source,omitempty"`
	Sourcetype string       `json:"sourcetype"`
	Index      string       `json:"index,omitempty"`
	Event      *model.Alert `json:"event"`
	// Fields are HEC indexed fields: src holds the alert's client
	// addresses (clients[], or client when clients[] is empty) as a
	// multi-value field (the CIM name), searchable as src::ADDRESS
	// without extracting the event JSON; src_new holds those of them new
	// to the alert's principal (clients[].new).
	Fields *hecFields `json:"fields,omitempty"`
}

type hecFields struct {
	Src    []string `json:"src"`
	SrcNew []string `json:"src_new,omitzero"`
}

// hecSrc returns the indexed src field of an alert (nil when it names no
// address).
func hecSrc(a *model.Alert) *hecFields {
	var ips, fresh []string
	for _, c := range a.Clients {
		ips = append(ips, c.IP)
		if c.New {
			fresh = append(fresh, c.IP)
		}
	}
	if len(ips) == 0 && a.Client != nil && a.Client.IP != "" {
		ips = append(ips, a.Client.IP)
	}
	if len(ips) == 0 {
		return nil
	}
	return &hecFields{Src: ips, SrcNew: fresh}
}

// SplunkHEC sends alerts to a Splunk HTTP Event Collector.
type SplunkHEC struct {
	name   string
	url    string // …/services/collector/event
	token  string
	index  string
	host   string
	source string
	client *http.Client
	now    func() time.Time
}

// NewSplunkHEC returns a HEC sink. base is the collector's base URL
// (https://splunk:8088); the path /services/collector/event is appended
// unless base already ends with it.
func NewSplunkHEC(name, base, token, index, host, source string, client *http.Client) *SplunkHEC {
	if client == nil {
		client = &http.Client{}
	}
	u := strings.TrimRight(base, "/")
	if !strings.HasSuffix(u, "/services/collector/event") {
		u += "/services/collector/event"
	}
	if source == "" {
		source = "palisade"
	}
	return &SplunkHEC{name: name, url: u, token: token, index: index, host: host, source: source, client: client, now: time.Now}
}

// Name of the sink.
func (s *SplunkHEC) Name() string { return s.name }

// Send posts the batch as concatenated event objects (HEC batch format).
// The event time is the alert's last_seen (event time), in epoch seconds
// with millisecond precision.
func (s *SplunkHEC) Send(ctx context.Context, alerts []model.Alert) error {
	var buf bytes.Buffer
	for i := range alerts {
		a := &alerts[i]
		ev := hecEvent{
			Time:       float64(a.LastSeen.UnixMilli()) / 1000,
			Host:       s.host,
			Source:     s.source,
			Sourcetype: SplunkSourcetype,
			Index:      s.index,
			Event:      a,
			Fields:     hecSrc(a),
		}
		b, err := model.EncodeJSON(ev)
		if err != nil {
			return Permanent(fmt.Errorf("encoding alert %s: %w", a.ID, err))
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	h := http.Header{}
	h.Set("Authorization", "Splunk "+s.token)
	h.Set("Content-Type", "application/json")
	return postHTTP(ctx, s.client, s.url, buf.Bytes(), h, s.now())
}
