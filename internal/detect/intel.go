package detect

import (
	"strings"

	"github.com/palisade-sec/palisade/internal/alert"
	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/model"
)

// The intel family: intel.tor_exit_node and intel.suspicious_ip from the
// threat-intel match that enrichment put on the event (ev.Intel, filled from
// the loaded feeds; see internal/intel). Only inbound requests count. The
// confidence of a blocklist hit grows with the ipsum-style list count
// (1 list: 0.5, 3: 0.7, ≥5: 0.9). Stateless: the emitter folds repeats per
// client.
func init() {
	Register("intel", func(c Config) Detector { return NewIntel(c) })
}

// Intel is the threat-intel alert detector.
type Intel struct{}

// NewIntel returns the detector.
func NewIntel(Config) *Intel { return &Intel{} }

// Name implements Detector.
func (d *Intel) Name() string { return "intel" }

// Observe implements Detector.
func (d *Intel) Observe(ev *event.Event, out *Emitter) {
	if ev.Outbound || !ev.Intel.Hit() {
		return
	}
	ep := ev.Endpoint
	client := sigClient(ev)
	if ev.Intel.Tor {
		out.Emit(Hit{Type: alert.IntelTorExitNode, Time: ev.Time, Confidence: 0.9, Client: client, Identity: sigIdentity(ev), Endpoint: &ep,
			Evidence: model.Evidence{Reason: "client address " + client + " is a listed Tor exit node", Details: map[string]any{"feed": "tor"}},
			Sample:   sigSample(ev, "tor exit")})
	}
	if len(ev.Intel.Feeds) > 0 {
		score := ev.Intel.Score
		if score < 1 {
			score = 1
		}
		conf := 0.5
		switch {
		case score >= 5:
			conf = 0.9
		case score >= 3:
			conf = 0.7
		case score >= 2:
			conf = 0.6
		}
		if len(ev.Intel.Feeds) > 1 && conf < 0.8 {
			conf += 0.1
		}
		out.Emit(Hit{Type: alert.IntelSuspiciousIP, Time: ev.Time, Confidence: conf, Client: client, Identity: sigIdentity(ev), Endpoint: &ep,
			Evidence: model.Evidence{Observed: float64(score), Reason: "client address " + client + " is listed by " + strings.Join(ev.Intel.Feeds, ", "),
				Details: map[string]any{"feeds": append([]string(nil), ev.Intel.Feeds...), "list_count": score}},
			Sample: sigSample(ev, "listed by "+strings.Join(ev.Intel.Feeds, ", "))})
	}
}
