package detect

import (
	"strconv"
	"time"

	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/identity"
	"github.com/palisade-sec/palisade/internal/model"
)

// The weak-token family: auth.weak_token_accepted when the API answers 2xx
// to a request whose JWT is unsigned (alg "none" or an empty signature),
// expired well before the event time (beyond a clock skew allowance), not
// yet valid (nbf in the future beyond the skew), or malformed on its face.
// Tokens are decoded, never verified (there is no key). Only inbound
// requests; 3xx/4xx/5xx responses mean the API did not accept the token.
//
// Options (Config.Options["weak_token"]):
//
//	skew_seconds int  clock skew allowed for exp/nbf (default 300)
//
// Stateless.
func init() {
	Register("weak_token", func(c Config) Detector { return NewWeakToken(c) })
}

// WeakToken is the detector.
type WeakToken struct {
	skew time.Duration
}

// NewWeakToken returns the detector.
func NewWeakToken(c Config) *WeakToken {
	return &WeakToken{skew: time.Duration(sigOptInt(c.Options["weak_token"], "skew_seconds", 300)) * time.Second}
}

// Name implements Detector.
func (d *WeakToken) Name() string { return "weak_token" }

// WeakTokenReason says why a decoded token is weak ("" when it is not).
func WeakTokenReason(t *identity.JWT, at time.Time, skew time.Duration) (reason string, conf float64) {
	switch {
	case t == nil:
		return "", 0
	case t.Malformed != "":
		return "malformed token: " + t.Malformed, 0.8
	case t.Unsigned:
		if t.Alg == "" || t.Alg == "none" || t.Alg == "None" || t.Alg == "NONE" || t.Alg == "nOnE" {
			return "unsigned token (alg \"" + t.Alg + "\")", 0.95
		}
		return "token with an empty signature (alg \"" + t.Alg + "\")", 0.95
	case !t.Exp.IsZero() && at.Sub(t.Exp) > skew:
		return "expired token (exp " + t.Exp.UTC().Format(time.RFC3339) + ", " + at.Sub(t.Exp).Round(time.Second).String() + " before the request)", 0.85
	case !t.Nbf.IsZero() && t.Nbf.Sub(at) > skew:
		return "token not valid yet (nbf " + t.Nbf.UTC().Format(time.RFC3339) + ")", 0.7
	}
	return "", 0
}

// Observe implements Detector.
func (d *WeakToken) Observe(ev *event.Event, out *Emitter) {
	if ev.Outbound || ev.Status < 200 || ev.Status >= 300 {
		return
	}
	id := ev.Identity()
	if id == nil || id.Token == nil {
		return
	}
	reason, conf := WeakTokenReason(id.Token, ev.Time, d.skew)
	if reason == "" {
		return
	}
	ep := ev.Endpoint
	details := map[string]any{"alg": id.Token.Alg, "status": ev.Status, "schemes": ev.Auth.Schemes}
	if !id.Token.Exp.IsZero() {
		details["exp"] = id.Token.Exp.UTC().Format(time.RFC3339)
	}
	if id.Token.Iss != "" {
		details["iss"] = id.Token.Iss
	}
	out.Emit(Hit{Type: "auth.weak_token_accepted", Time: ev.Time, Confidence: conf, Client: sigClient(ev), Identity: sigIdentity(ev), Endpoint: &ep,
		Evidence: model.Evidence{Reason: "the API answered " + strconv.Itoa(ev.Status) + " to a request carrying a weak token: " + reason, Details: details},
		Sample:   sigSample(ev, reason)})
}
