// Package natstest starts real NATS servers with JetStream for tests: a
// cluster of n embedded servers (github.com/nats-io/nats-server/v2, the
// module the project pins) on loopback, each with its own store directory.
package natstest

import (
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Cluster is a running cluster of embedded servers.
type Cluster struct {
	t       testing.TB
	Servers []*server.Server
	opts    []*server.Options
}

// FreePorts returns n loopback ports that were free a moment ago.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	var out []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return out
}

// Start runs a cluster of n servers (n = 1: a single server, no routes)
// and stops it when the test ends.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	ports := FreePorts(t, 2*n)
	var routes []string
	for i := 0; i < n; i++ {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", ports[n+i]))
	}
	c := &Cluster{t: t}
	dir := t.TempDir()
	for i := 0; i < n; i++ {
		o := &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1),
			Host:       "127.0.0.1",
			Port:       ports[i],
			JetStream:  true,
			StoreDir:   filepath.Join(dir, fmt.Sprintf("n%d", i+1)),
			NoSigs:     true,
			NoLog:      true,
		}
		if n > 1 {
			o.Cluster = server.ClusterOpts{Name: "palisade-test", Host: "127.0.0.1", Port: ports[n+i]}
			o.Routes = server.RoutesFromStr(strings.Join(routes, ","))
		}
		c.opts = append(c.opts, o)
	}
	for _, o := range c.opts {
		s, err := server.NewServer(o)
		if err != nil {
			t.Fatal(err)
		}
		go s.Start()
		c.Servers = append(c.Servers, s)
	}
	for _, s := range c.Servers {
		if !s.ReadyForConnections(20 * time.Second) {
			t.Fatalf("nats server %s not ready", s.Name())
		}
	}
	t.Cleanup(c.Stop)
	if n > 1 {
		c.WaitJetStream()
	}
	return c
}

// WaitJetStream waits until the JetStream meta group has a leader.
func (c *Cluster) WaitJetStream() {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, s := range c.Servers {
			if s.Running() && s.JetStreamIsLeader() {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatal("no JetStream meta leader")
}

// URLs are the client URLs of the running servers, comma-separated.
func (c *Cluster) URLs() string {
	var u []string
	for i, s := range c.Servers {
		if s != nil && s.Running() {
			u = append(u, fmt.Sprintf("nats://127.0.0.1:%d", c.opts[i].Port))
		}
	}
	return strings.Join(u, ",")
}

// StopServer shuts server i down (a clean stop; the multi-process cluster
// test kills a server process instead).
func (c *Cluster) StopServer(i int) {
	c.Servers[i].Shutdown()
	c.Servers[i].WaitForShutdown()
}

// Restart starts server i again on its store directory.
func (c *Cluster) Restart(i int) {
	s, err := server.NewServer(c.opts[i])
	if err != nil {
		c.t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(20 * time.Second) {
		c.t.Fatalf("nats server %s not ready", s.Name())
	}
	c.Servers[i] = s
}

// Stop shuts every server down.
func (c *Cluster) Stop() {
	for _, s := range c.Servers {
		if s != nil && s.Running() {
			s.Shutdown()
			s.WaitForShutdown()
		}
	}
}

// Proxy forwards TCP connections to a server, and can lose what the server
// sends on the way: Freeze drops every byte the server sends from then on
// (the server believes it delivered: a connection going dead under a
// client), and Cut closes every connection (the client reconnects, through
// the proxy again, and finds nothing in flight).
type Proxy struct {
	t      testing.TB
	l      net.Listener
	target string

	mu     sync.Mutex
	frozen bool
	conns  []net.Conn
}

// NewProxy listens on a loopback port and forwards to target (host:port);
// it stops when the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{t: t, l: l, target: target}
	go p.accept()
	t.Cleanup(func() { l.Close(); p.Cut() })
	return p
}

// URL is the proxy's client URL.
func (p *Proxy) URL() string { return "nats://" + p.l.Addr().String() }

func (p *Proxy) accept() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(s, c); s.Close() }()
		go func() {
			buf := make([]byte, 32<<10)
			for {
				n, err := s.Read(buf)
				p.mu.Lock()
				frozen := p.frozen
				p.mu.Unlock()
				if n > 0 && !frozen {
					if _, err := c.Write(buf[:n]); err != nil {
						break
					}
				}
				if err != nil {
					break
				}
			}
			c.Close()
		}()
	}
}

// Freeze drops what the server sends from now on, until Cut.
func (p *Proxy) Freeze() {
	p.mu.Lock()
	p.frozen = true
	p.mu.Unlock()
}

// Cut closes every connection (with what was dropped) and forwards again.
func (p *Proxy) Cut() {
	p.mu.Lock()
	cs := p.conns
	p.conns, p.frozen = nil, false
	p.mu.Unlock()
	for _, c := range cs {
		c.Close()
	}
}
