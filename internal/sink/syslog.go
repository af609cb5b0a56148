package sink

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/palisade-sec/palisade/internal/model"
)

// Syslog facilities by name (RFC 5424 §6.2.1).
var facilities = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
	"uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11, "ntp": 12, "security": 13, "console": 14, "clock": 15,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

// SyslogSeverity maps an alert severity to a syslog severity.
func SyslogSeverity(s string) int {
	switch s {
	case model.SevCritical:
		return 2 // crit
	case model.SevHigh:
		return 3 // err
	case model.SevMedium:
		return 4 // warning
	case model.SevLow:
		return 5 // notice
	}
	return 6 // info
}

// Syslog sends one RFC 5424 message per alert, with a CEF payload, over
// UDP (one datagram per message), TCP or TCP+TLS (octet-counting framing,
// RFC 6587 §3.4.1). Stream connections are kept open and re-dialled after
// an error.
type Syslog struct {
	name     string
	network  string // udp | tcp | tls
	addr     string
	tlsConf  *tls.Config
	facility int
	hostname string
	appName  string
	version  string
	timeout  time.Duration

	mu   sync.Mutex
	conn net.Conn
}

// SyslogOptions configure a syslog sink.
type SyslogOptions struct {
	Network  string // udp, tcp or tls
	Address  string // host:port
	TLS      *tls.Config
	Facility string // default local0
	Hostname string // default os.Hostname
	AppName  string // default palisade
	Version  string // product version in the CEF header
	Timeout  time.Duration
}

// NewSyslog returns a syslog sink.
func NewSyslog(name string, o SyslogOptions) (*Syslog, error) {
	fac := 16
	if o.Facility != "" {
		f, ok := facilities[strings.ToLower(o.Facility)]
		if !ok {
			return nil, fmt.Errorf("facility: unknown %q", o.Facility)
		}
		fac = f
	}
	switch o.Network {
	case "udp", "tcp", "tls":
	default:
		return nil, fmt.Errorf("network: want udp, tcp or tls, got %q", o.Network)
	}
	if o.AppName == "" {
		o.AppName = "palisade"
	}
	if o.Hostname == "" {
		o.Hostname = "-"
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	return &Syslog{name: name, network: o.Network, addr: o.Address, tlsConf: o.TLS, facility: fac,
		hostname: syslogToken(o.Hostname, 255), appName: syslogToken(o.AppName, 48), version: o.Version, timeout: o.Timeout}, nil
}

// Name of the sink.
func (s *Syslog) Name() string { return s.name }

// syslogToken keeps printable US-ASCII without spaces (RFC 5424 header
// fields), clipped; empty becomes the NILVALUE "-".
func syslogToken(v string, max int) string {
	var b strings.Builder
	for i := 0; i < len(v) && b.Len() < max; i++ {
		if c := v[i]; c > 32 && c < 127 {
			b.WriteByte(c)
		}
	}
	if b.Len() == 0 {
		return "-"
	}
	return b.String()
}

// FormatSyslog renders one RFC 5424 message (without transport framing).
// TIMESTAMP is the alert's last_seen (event time), MSGID "alert", no
// structured data, MSG the CEF line.
func (s *Syslog) FormatSyslog(a *model.Alert) []byte {
	pri := s.facility*8 + SyslogSeverity(a.Severity)
	ts := "-"
	if !a.LastSeen.IsZero() {
		ts = a.LastSeen.UTC().Format("2006-01-02T15:04:05.000000Z07:00")
	}
	return fmt.Appendf(nil, "<%d>1 %s %s %s - alert - %s", pri, ts, s.hostname, s.appName, FormatCEF(a, s.version))
}

func (s *Syslog) dial(ctx context.Context) (net.Conn, error) {
	d := &net.Dialer{Timeout: s.timeout}
	switch s.network {
	case "tls":
		td := &tls.Dialer{NetDialer: d, Config: s.tlsConf}
		return td.DialContext(ctx, "tcp", s.addr)
	default:
		return d.DialContext(ctx, s.network, s.addr)
	}
}

// Send writes every alert of the batch; on a write error the connection is
// dropped and the whole batch is retried (receivers may see duplicates of
// the alerts written before the error: syslog has no acknowledgement).
func (s *Syslog) Send(ctx context.Context, alerts []model.Alert) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil && s.network != "udp" && !alive(s.conn) {
		// The receiver closed the connection (idle timeout, restart): a
		// write would still succeed into the kernel buffer and be lost.
		s.conn.Close()
		s.conn = nil
	}
	if s.conn == nil {
		c, err := s.dial(ctx)
		if err != nil {
			return fmt.Errorf("syslog %s %s: %w", s.network, s.addr, err)
		}
		s.conn = c
	}
	deadline := time.Now().Add(s.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = s.conn.SetWriteDeadline(deadline)
	for i := range alerts {
		msg := s.FormatSyslog(&alerts[i])
		var err error
		if s.network == "udp" {
			_, err = s.conn.Write(msg)
		} else {
			frame := make([]byte, 0, len(msg)+8)
			frame = strconv.AppendInt(frame, int64(len(msg)), 10)
			frame = append(frame, ' ')
			frame = append(frame, msg...)
			_, err = s.conn.Write(frame)
		}
		if err != nil {
			s.conn.Close()
			s.conn = nil
			return fmt.Errorf("syslog %s %s: write: %w", s.network, s.addr, err)
		}
	}
	return nil
}

// alive probes a stream connection without blocking: a read that times out
// at once means "open, nothing to read"; EOF or any other error means the
// peer is gone. (Syslog receivers never send, so no data is lost.)
func alive(c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
	var b [1]byte
	_, err := c.Read(b[:])
	_ = c.SetReadDeadline(time.Time{})
	var ne net.Error
	return err != nil && errors.As(err, &ne) && ne.Timeout()
}

// Close closes the connection.
func (s *Syslog) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	return err
}
