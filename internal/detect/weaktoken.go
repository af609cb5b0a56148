package detect

import (
	"strconv"
	"time"

	"github.com/palisade-sec/palisade/internal/alert"
	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/identity"
	"github.com/palisade-sec/palisade/internal/model"
)

// The weak-token family: auth.weak_token_accepted when the API answers 2xx
// to a request whose JWT is unsigned (alg "none" or an empty signature),
// not yet valid (nbf in the future beyond the skew), malformed on its
// face, or used long after its expiry. Tokens are decoded, never verified
// (there is no key). Only inbound requests; 3xx/4xx/5xx responses mean the
// API did not accept the token.
//
// Expiry is posture first: an API that keeps answering a few minutes past
// exp (a gateway that caches validation, clients that refresh late) is a
// weakness of the API, reported once per endpoint by the posture rule
// PAL-T016 (how often, how far past), not a stream of alerts about its
// users. An alert needs a token used long after it expired: more than
// its own lifetime (exp − iat) past exp, but at least expired_min (30 min)
// and at most expired_horizon (24 h); a token without iat uses
// expired_unknown (1 h). A token replayed days later is then an attacker,
// whatever the API's tolerance for late refreshes.
//
// Alerts fold per (type, client): one alert per address, whatever the
// endpoints it used the weak token on (evidence: the strongest reason, the
// endpoints in the samples).
//
// Options: weakTokenOptions (detect.options.weak_token).
//
// Stateless.
func init() {
	Register("weak_token", func(c Config) Detector { return NewWeakToken(c) })
	RegisterOptions("weak_token", func() FamilyOptions {
		return &weakTokenOptions{SkewSeconds: 300, ExpiredMinSeconds: 1800, ExpiredHorizonSeconds: 86400, ExpiredUnknownSeconds: 3600}
	})
}

// weakTokenOptions are the weak_token family's options.
type weakTokenOptions struct {
	SkewSeconds           int `yaml:"skew_seconds" doc:"clock skew allowed for exp and nbf, in seconds"`
	ExpiredMinSeconds     int `yaml:"expired_min_seconds" doc:"least time past exp that alerts, in seconds"`
	ExpiredHorizonSeconds int `yaml:"expired_horizon_seconds" doc:"time past exp that always alerts, in seconds"`
	ExpiredUnknownSeconds int `yaml:"expired_unknown_seconds" doc:"time past exp that alerts when the token has no iat, in seconds"`
}

// Validate implements config.Validator.
func (o *weakTokenOptions) Validate() error { return checkOptions(o) }

// WeakToken is the detector.
type WeakToken struct {
	skew                          time.Duration
	expMin, expHorizon, expNoLife time.Duration
}

// NewWeakToken returns the detector.
func NewWeakToken(c Config) *WeakToken {
	o := optionsFor[*weakTokenOptions](c, "weak_token")
	sec := func(n int) time.Duration { return time.Duration(n) * time.Second }
	return &WeakToken{skew: sec(o.SkewSeconds), expMin: sec(o.ExpiredMinSeconds),
		expHorizon: sec(o.ExpiredHorizonSeconds), expNoLife: sec(o.ExpiredUnknownSeconds)}
}

// Name implements Detector.
func (d *WeakToken) Name() string { return "weak_token" }

// WeakTokenReason says why a decoded token is weak on its face ("" when it
// is not); expiry beyond the skew counts (see LongExpired for the alerting
// rule).
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

// expiredLimit is how long past exp a token may be used before it alerts.
func (d *WeakToken) expiredLimit(t *identity.JWT) time.Duration {
	if t.Iat.IsZero() || !t.Exp.After(t.Iat) {
		return max(d.expNoLife, d.skew)
	}
	return max(min(max(t.Exp.Sub(t.Iat), d.expMin), d.expHorizon), d.skew)
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
	tok := id.Token
	past := ev.Time.Sub(tok.Exp)
	expired := tok.Malformed == "" && !tok.Unsigned && !tok.Exp.IsZero() && past > d.skew
	var limit time.Duration
	if expired {
		// Posture, not an alert, until the token is used long after it
		// expired (PAL-T016 reports the API's tolerance).
		if limit = d.expiredLimit(tok); past <= limit {
			return
		}
		reason = "token used " + roundPast(past) + " after its expiry (exp " + tok.Exp.UTC().Format(time.RFC3339) + "; alert limit " + limit.String() + ")"
	}
	ep := ev.Endpoint
	details := map[string]any{"alg": id.Token.Alg, "status": ev.Status, "schemes": ev.Auth.Schemes}
	if !id.Token.Exp.IsZero() {
		details["exp"] = id.Token.Exp.UTC().Format(time.RFC3339)
	}
	if id.Token.Iss != "" {
		details["iss"] = id.Token.Iss
	}
	if expired {
		details["past_exp_seconds"] = int64(past.Seconds())
		details["limit_seconds"] = int64(limit.Seconds())
		if !tok.Iat.IsZero() && tok.Exp.After(tok.Iat) {
			details["lifetime_seconds"] = int64(tok.Exp.Sub(tok.Iat).Seconds())
		}
	}
	out.Emit(Hit{Type: alert.AuthWeakTokenAccepted, Time: ev.Time, Confidence: conf, Client: sigClient(ev), Identity: sigIdentity(ev), Endpoint: &ep,
		Evidence: model.Evidence{Reason: "the API answered " + strconv.Itoa(ev.Status) + " to a request carrying a weak token: " + reason, Details: details},
		Sample:   sigSample(ev, reason)})
}

// roundPast renders a time past expiry to the second (to the minute beyond
// an hour).
func roundPast(d time.Duration) string {
	if d >= time.Hour {
		return d.Round(time.Minute).String()
	}
	return d.Round(time.Second).String()
}
