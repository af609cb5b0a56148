package sink

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	syslog "github.com/leodido/go-syslog/v4"
	"github.com/leodido/go-syslog/v4/octetcounting"
	"github.com/leodido/go-syslog/v4/rfc5424"

	"github.com/palisade-sec/palisade/internal/model"
)

// checkSyslog parses one RFC 5424 message and its CEF payload back.
func checkSyslog(t *testing.T, m *rfc5424.SyslogMessage, a *model.Alert) {
	t.Helper()
	if m.Facility == nil || *m.Facility != 20 { // local4
		t.Errorf("facility %v, want 20", m.Facility)
	}
	if sev := m.Severity; sev == nil || int(*sev) != SyslogSeverity(a.Severity) {
		t.Errorf("severity %v", sev)
	}
	if m.Appname == nil || *m.Appname != "palisade" || m.Hostname == nil || *m.Hostname != "sensor-1" || m.MsgID == nil || *m.MsgID != "alert" {
		t.Errorf("header app %v host %v msgid %v", m.Appname, m.Hostname, m.MsgID)
	}
	if m.Timestamp == nil || !m.Timestamp.Equal(a.LastSeen) {
		t.Errorf("timestamp %v, want %v", m.Timestamp, a.LastSeen)
	}
	if m.Message == nil {
		t.Fatal("no MSG")
	}
	h, ext, err := ParseCEF(*m.Message)
	if err != nil {
		t.Fatalf("CEF %q: %v", *m.Message, err)
	}
	if h[0] != "0" || h[1] != "Palisade" || h[3] != "1.2.3" || h[4] != a.Type || h[5] != a.Title || h[6] != strconv.Itoa(CEFSeverity(a.Severity)) {
		t.Errorf("CEF header %q", h)
	}
	if ext["externalId"] != a.ID || ext["src"] != a.Client.IP || ext["suser"] != a.Identity.Name || ext["msg"] != a.Evidence.Reason ||
		ext["requestMethod"] != "GET" || ext["request"] != a.Evidence.Samples[0].URL || ext["cs1"] != "API8:2023" || ext["cs2"] != "T1190" {
		t.Errorf("CEF extension %v", ext)
	}
}

func newTestSyslog(t *testing.T, network, addr string, tc *tls.Config) *Syslog {
	t.Helper()
	s, err := NewSyslog("syslog", SyslogOptions{Network: network, Address: addr, TLS: tc, Facility: "local4", Hostname: "sensor-1", Version: "1.2.3", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSyslogUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	s := newTestSyslog(t, "udp", pc.LocalAddr().String(), nil)
	d := NewDispatcher([]Configured{{Sink: s}}, fastOpts())
	a1, a2 := sampleAlert(), alertN(2, "auth.brute_force", model.SevCritical)
	d.Publish(a1)
	d.Publish(a2)
	closeOK(t, d)
	p := rfc5424.NewParser()
	buf := make([]byte, 65536)
	for _, want := range []*model.Alert{&a1, &a2} {
		_ = pc.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := p.Parse(buf[:n])
		if err != nil {
			t.Fatalf("RFC 5424 parse of %q: %v", buf[:n], err)
		}
		checkSyslog(t, msg.(*rfc5424.SyslogMessage), want)
	}
}

// streamListener accepts connections and parses octet-counted frames.
func streamListener(t *testing.T, ln net.Listener) (<-chan *rfc5424.SyslogMessage, *sync.WaitGroup) {
	out := make(chan *rfc5424.SyslogMessage, 100)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				octetcounting.NewParser(syslog.WithListener(func(r *syslog.Result) {
					if r.Error != nil {
						t.Errorf("octet-counting parse: %v", r.Error)
						return
					}
					out <- r.Message.(*rfc5424.SyslogMessage)
				})).Parse(c)
			}()
		}
	}()
	return out, &wg
}

func TestSyslogTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	msgs, wg := streamListener(t, ln)
	s := newTestSyslog(t, "tcp", ln.Addr().String(), nil)
	d := NewDispatcher([]Configured{{Sink: s}}, fastOpts())
	a := sampleAlert()
	for range 3 {
		d.Publish(a)
	}
	for range 3 {
		select {
		case m := <-msgs:
			checkSyslog(t, m, &a)
		case <-time.After(5 * time.Second):
			t.Fatal("timeout waiting for TCP syslog message")
		}
	}
	closeOK(t, d)
	ln.Close()
	wg.Wait()
	if st := d.Stats()[0]; st.Sent != 3 {
		t.Fatalf("stats %+v", st)
	}
}

// The receiver drops the connection after each message (idle timeout,
// restart): the next alert must arrive on a new connection, not vanish
// into the dead one.
func TestSyslogTCPReconnects(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type got struct {
		conn int
		msg  *rfc5424.SyslogMessage
	}
	out := make(chan got, 10)
	go func() {
		for i := 1; ; i++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			// Read exactly one frame, then hang up.
			p := octetcounting.NewParser(syslog.WithListener(func(r *syslog.Result) {
				if r.Message != nil {
					out <- got{i, r.Message.(*rfc5424.SyslogMessage)}
				}
			}))
			var line []byte
			buf := make([]byte, 1)
			for {
				if _, err := c.Read(buf); err != nil {
					break
				}
				line = append(line, buf[0])
				if sp := indexByte(line, ' '); sp > 0 {
					n, _ := strconv.Atoi(string(line[:sp]))
					if len(line) == sp+1+n {
						break
					}
				}
			}
			c.Close()
			p.Parse(bytesReader(line))
		}
	}()
	s := newTestSyslog(t, "tcp", ln.Addr().String(), nil)
	defer s.Close()
	for i := 1; i <= 3; i++ {
		a := alertN(i, "auth.brute_force", model.SevHigh)
		if err := s.Send(t.Context(), []model.Alert{a}); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		select {
		case g := <-out:
			if g.conn != i || *g.msg.Message == "" {
				t.Fatalf("message %d arrived on connection %d", i, g.conn)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("message %d lost after the receiver closed the connection", i)
		}
		time.Sleep(20 * time.Millisecond) // let the FIN arrive
	}
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

func TestSyslogTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	msgs, wg := streamListener(t, ln)
	s := newTestSyslog(t, "tls", ln.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
	d := NewDispatcher([]Configured{{Sink: s}}, fastOpts())
	a := sampleAlert()
	d.Publish(a)
	select {
	case m := <-msgs:
		checkSyslog(t, m, &a)
	case <-time.After(5 * time.Second):
		t.Fatal("timeout waiting for TLS syslog message")
	}
	closeOK(t, d)
	ln.Close()
	wg.Wait()
}

func TestSyslogTLSUntrustedFails(t *testing.T) {
	cert, _ := selfSigned(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _ = c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	s := newTestSyslog(t, "tls", ln.Addr().String(), &tls.Config{MinVersion: tls.VersionTLS12})
	o := fastOpts()
	o.MaxAttempts = 2
	d := NewDispatcher([]Configured{{Sink: s}}, o)
	d.Publish(sampleAlert())
	closeOK(t, d)
	if st := d.Stats()[0]; st.Failed != 1 || st.Sent != 0 {
		t.Fatalf("stats %+v: an untrusted certificate must fail", st)
	}
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "syslog-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

func TestCEFEscaping(t *testing.T) {
	tests := []struct{ in, header, value string }{
		{"plain", "plain", "plain"},
		{`a|b`, `a\|b`, `a|b`},
		{`a\b`, `a\\b`, `a\\b`},
		{`a=b`, `a=b`, `a\=b`},
		{"a\nb\rc", "a b c", `a\nb\rc`},
	}
	for _, tc := range tests {
		if got := cefHeader(tc.in); got != tc.header {
			t.Errorf("cefHeader(%q) = %q, want %q", tc.in, got, tc.header)
		}
		if got := cefValue(tc.in, 100); got != tc.value {
			t.Errorf("cefValue(%q) = %q, want %q", tc.in, got, tc.value)
		}
	}
	if got := cefValue("abcdef", 3); got != "abc…" {
		t.Errorf("clip: %q", got)
	}
}

func TestCEFGolden(t *testing.T) {
	a := sampleAlert()
	got := FormatCEF(&a, "1.2.3")
	want := `CEF:0|Palisade|Palisade|1.2.3|injection.sqli|SQL injection \| in query = bad\\path|8|externalId=al_7f3a9c rt=1795010692512 end=1795010692512 start=1795010602512 cnt=3 cat=injection msg=payload matched\nUNION SELECT a\=b src=198.51.100.23 cn1=2 cn1Label=Client Addresses flexString1=198.51.100.23:2,[2001:db8::7]:1 flexString1Label=Clients (address:events) cn2=4 cn2Label=Events From Other Addresses suser=alice@example.test suid=id_K2QX7 cs4=jwt cs4Label=Identity Kind dhost=api.example.test requestMethod=GET cs3=/v2/orders/{id} cs3Label=Endpoint request=https://api.example.test/v2/orders/1?q\=%27%20UNION%20SELECT%20%E2%80%A6 cs1=API8:2023 cs1Label=OWASP API Top 10 cs2=T1190 cs2Label=MITRE ATT&CK cs5=client cs5Label=Subject cs6=Use parameterized queries. cs6Label=Remediation cfp1=0.92 cfp1Label=Confidence`
	if got != want {
		t.Fatalf("CEF\n got %s\nwant %s", got, want)
	}
	a.Client.IP = "2001:db8::1"
	_, ext, err := ParseCEF(FormatCEF(&a, "x"))
	if err != nil || ext["c6a2"] != "2001:db8::1" || ext["src"] != "" {
		t.Fatalf("IPv6 client: %v %v", ext, err)
	}
}

// TestCEFClients: the alert's client addresses with their counts; a list
// longer than a flexString holds stops at a whole entry and the events of
// the addresses left out are added to cn2.
func TestCEFClients(t *testing.T) {
	a := sampleAlert()
	a.Clients, a.ClientsOther = nil, 0
	for i := range model.MaxAlertClients {
		a.Clients = append(a.Clients, model.ClientCount{IP: fmt.Sprintf("2001:db8:ffff:ffff:ffff:ffff:ffff:%x", 0x1000+i), Count: int64(100 - i)})
	}
	a.ClientsOther = 7
	_, ext, err := ParseCEF(FormatCEF(&a, "x"))
	if err != nil {
		t.Fatal(err)
	}
	list := ext["flexString1"]
	entries := strings.Split(list, ",")
	if len(list) > 1023 || len(entries) == 0 || len(entries) >= model.MaxAlertClients || ext["cn1"] != strconv.Itoa(len(entries)) {
		t.Fatalf("flexString1 of %d characters, %d entries, cn1=%s", len(list), len(entries), ext["cn1"])
	}
	var other int64 = 7
	for i, e := range entries {
		c := a.Clients[i]
		if want := "[" + c.IP + "]:" + strconv.FormatInt(c.Count, 10); e != want {
			t.Errorf("entry %d = %q, want %q", i, e, want)
		}
	}
	for _, c := range a.Clients[len(entries):] {
		other += c.Count
	}
	if ext["cn2"] != strconv.FormatInt(other, 10) || ext["cn2Label"] == "" {
		t.Errorf("cn2 = %q, want %d (clients_other plus the addresses left out)", ext["cn2"], other)
	}
	// Without clients[] no client keys; without clients_other no cn2.
	a.Clients, a.ClientsOther = nil, 0
	_, ext, _ = ParseCEF(FormatCEF(&a, "x"))
	for _, k := range []string{"cn1", "flexString1", "cn2"} {
		if v, ok := ext[k]; ok {
			t.Errorf("alert without clients has %s=%q", k, v)
		}
	}
	a.Clients = []model.ClientCount{{IP: "::ffff:192.0.2.1", Count: 1}, {IP: "192.0.2.2", Count: 1}}
	if _, ext, _ = ParseCEF(FormatCEF(&a, "x")); ext["flexString1"] != "[::ffff:192.0.2.1]:1,192.0.2.2:1" || ext["cn2"] != "" {
		t.Errorf("flexString1 %q cn2 %q", ext["flexString1"], ext["cn2"])
	}
}

// TestCEFNewClients: on an alert that follows a principal, the addresses
// new to it are listed in flexString2 and cn3 counts all the alert's events
// from new addresses, named or not; an alert without new addresses has
// neither key.
func TestCEFNewClients(t *testing.T) {
	a := sampleAlert()
	a.Clients = []model.ClientCount{{IP: "198.51.100.23", Count: 40, New: true}, {IP: "192.0.2.10", Count: 30}, {IP: "2001:db8::7", Count: 5, New: true}}
	a.ClientsOther, a.ClientsOtherNew = 9, 6
	_, ext, err := ParseCEF(FormatCEF(&a, "x"))
	if err != nil {
		t.Fatal(err)
	}
	if ext["flexString2"] != "198.51.100.23:40,[2001:db8::7]:5" || ext["cn3"] != "51" || ext["cn3Label"] == "" || ext["flexString2Label"] == "" {
		t.Errorf("flexString2 %q cn3 %q (want the two new addresses and 40+5+6 events)", ext["flexString2"], ext["cn3"])
	}
	// Only unnamed new addresses: no list, the count still.
	a.Clients = []model.ClientCount{{IP: "192.0.2.10", Count: 30}}
	if _, ext, _ = ParseCEF(FormatCEF(&a, "x")); ext["cn3"] != "6" || ext["flexString2"] != "" || ext["flexString2Label"] != "" {
		t.Errorf("unnamed new: flexString2 %q cn3 %q", ext["flexString2"], ext["cn3"])
	}
	// New addresses that the flexString cannot hold are counted in cn3.
	a.Clients, a.ClientsOtherNew = nil, 0
	var total int64
	for i := range model.MaxAlertClients {
		a.Clients = append(a.Clients, model.ClientCount{IP: fmt.Sprintf("2001:db8:ffff:ffff:ffff:ffff:ffff:%x", 0x1000+i), Count: int64(100 - i), New: true})
		total += int64(100 - i)
	}
	_, ext, _ = ParseCEF(FormatCEF(&a, "x"))
	if len(ext["flexString2"]) > 1023 || ext["cn3"] != strconv.FormatInt(total, 10) {
		t.Errorf("long list: flexString2 of %d characters, cn3 %q want %d", len(ext["flexString2"]), ext["cn3"], total)
	}
	for _, k := range []string{"cn3", "flexString2"} {
		if _, ext, _ = ParseCEF(FormatCEF(ptr(sampleAlert()), "x")); ext[k] != "" {
			t.Errorf("alert without new addresses has %s=%q", k, ext[k])
		}
	}
}

func ptr[T any](v T) *T { return &v }

func FuzzCEFRoundTrip(f *testing.F) {
	f.Add("injection.sqli", "title | x", "reason\n= \\ end", "alice")
	f.Add("a", "", "k=v k2=v2", "x y=z")
	f.Fuzz(func(t *testing.T, typ, title, reason, name string) {
		a := sampleAlert()
		a.Type, a.Title, a.Evidence.Reason, a.Identity.Name = typ, title, reason, name
		line := FormatCEF(&a, "v")
		h, ext, err := ParseCEF(line)
		if err != nil {
			t.Fatalf("ParseCEF(%q): %v", line, err)
		}
		if len(h) != 7 {
			t.Fatalf("%d header fields", len(h))
		}
		// Values longer than the CEF limit are clipped; invalid UTF-8 is
		// replaced (CEF is UTF-8): compare the others exactly.
		clipped := func(s string) bool { return len([]rune(s)) > 1000 || !utf8.ValidString(s) }
		if !clipped(reason) && reason != "" && ext["msg"] != reason {
			t.Fatalf("msg %q round-tripped to %q", reason, ext["msg"])
		}
		if !clipped(name) && name != "" && ext["suser"] != name {
			t.Fatalf("suser %q round-tripped to %q", name, ext["suser"])
		}
	})
}

func FuzzParseCEF(f *testing.F) {
	f.Add("CEF:0|a|b|c|d|e|5|k=v x=y\\=z")
	f.Add("CEF:0|a\\|b|c|d|e|f|g|")
	f.Add("CEF:")
	f.Fuzz(func(t *testing.T, s string) {
		h, ext, err := ParseCEF(s)
		if err == nil && (len(h) != 7 || ext == nil) {
			t.Fatalf("accepted %q with %d header fields", s, len(h))
		}
	})
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
