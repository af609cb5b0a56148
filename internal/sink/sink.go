// Package sink exports alerts to SIEMs and other receivers: signed JSON
// webhooks, syslog (RFC 5424) with a CEF payload over UDP/TCP/TLS, Splunk
// HTTP Event Collector, and OCSF Detection Findings (NDJSON file or HTTP).
//
// A Dispatcher sits between the pipeline and the sinks. Publish never
// blocks: every sink has its own bounded queue and worker; when a queue is
// full the oldest alert is dropped and counted. Workers send in batches and
// retry transient failures with capped exponential backoff and full jitter
// (honouring Retry-After), then give up and count the batch as dead-lettered.
package sink

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/palisade-sec/palisade/internal/model"
)

// Sink delivers a batch of alerts to one receiver. Send must respect ctx.
// An error wrapped with Permanent is not retried; an error of type
// *RetryAfterError asks for a specific delay; any other error is retried.
type Sink interface {
	Name() string
	Send(ctx context.Context, alerts []model.Alert) error
}

// Filter selects the alerts a sink receives. Types are exact alert types
// ("auth.brute_force") or prefixes ending in ".*" ("injection.*"); "*"
// matches everything; an empty list matches every type. MinSeverity
// ("info" … "critical") drops alerts below it; empty means all.
type Filter struct {
	Types       []string `json:"types,omitempty" yaml:"types,omitempty" doc:"alert types sent: exact (auth.brute_force), prefix (injection.*) or *; empty = all"`
	MinSeverity string   `json:"min_severity,omitempty" yaml:"min_severity,omitempty" doc:"least severity sent: info, low, medium, high or critical; empty = all"`
}

// Validate checks the filter's fields.
func (f Filter) Validate() error {
	if f.MinSeverity != "" && model.SeverityRank(f.MinSeverity) < 0 {
		return fmt.Errorf("min_severity: unknown severity %q (want info, low, medium, high or critical)", f.MinSeverity)
	}
	for i, t := range f.Types {
		if strings.TrimSpace(t) == "" {
			return fmt.Errorf("types[%d]: empty", i)
		}
		if strings.Contains(strings.TrimSuffix(t, "*"), "*") {
			return fmt.Errorf("types[%d]: %q: '*' is only allowed at the end, as in \"injection.*\"", i, t)
		}
	}
	return nil
}

// Match reports whether the alert passes the filter.
func (f Filter) Match(a *model.Alert) bool {
	if f.MinSeverity != "" && model.SeverityRank(a.Severity) < model.SeverityRank(f.MinSeverity) {
		return false
	}
	if len(f.Types) == 0 {
		return true
	}
	for _, t := range f.Types {
		if t == "*" || t == a.Type {
			return true
		}
		if p, ok := strings.CutSuffix(t, "*"); ok && strings.HasPrefix(a.Type, p) {
			return true
		}
	}
	return false
}

// Configured is a sink with its filter.
type Configured struct {
	Sink
	Filter
}

// permanentError marks an error that retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent wraps err so that the dispatcher does not retry it.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// RetryAfterError is a transient failure whose receiver asked for a delay.
type RetryAfterError struct {
	Err   error
	After time.Duration
}

func (e *RetryAfterError) Error() string { return e.Err.Error() }
func (e *RetryAfterError) Unwrap() error { return e.Err }
