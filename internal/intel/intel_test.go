package intel

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/testutil"
)

func fixedSet() *Set {
	s := NewSet()
	s.Now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	return s
}

func TestParseFormats(t *testing.T) {
	tests := []struct {
		file     string
		min      int
		format   string
		entries  int
		rejected int
		filtered int
	}{
		{"netset.netset", 1, "plain+netset", 5, 0, 0},
		{"mixed-bad.txt", 1, "plain", 2, 5, 0},
		{"ipsum.txt", 1, "ipsum", 4, 0, 0},
		{"ipsum.txt", 3, "ipsum", 3, 0, 1},
		{"tor.csv", 1, "csv", 3, 0, 0},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/min%d", tc.file, tc.min), func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			p, err := Parse(f, tc.file, tc.min)
			if err != nil {
				t.Fatal(err)
			}
			if p.Format != tc.format || len(p.Entries) != tc.entries || p.Rejected != tc.rejected || p.Filtered != tc.filtered {
				t.Fatalf("got format=%s entries=%d rejected=%d filtered=%d, want %s %d %d %d (errors %v)",
					p.Format, len(p.Entries), p.Rejected, p.Filtered, tc.format, tc.entries, tc.rejected, tc.filtered, p.Errors)
			}
		})
	}
}

func TestParseErrorsLocated(t *testing.T) {
	f, _ := os.Open("testdata/mixed-bad.txt")
	defer f.Close()
	p, err := Parse(f, "mixed-bad.txt", 1)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`mixed-bad.txt:3: not an IP address: "not-an-ip"`,
		`mixed-bad.txt:4: not an IP address: "203.0.113.300"`,
		`mixed-bad.txt:5: not a CIDR network: "198.51.100.0/33"`,
		`mixed-bad.txt:6: second column "x" is not a list count`,
		`mixed-bad.txt:7: expected an address, a CIDR or "address count", got 3 fields`,
	}
	if len(p.Errors) != len(want) {
		t.Fatalf("errors: %v", p.Errors)
	}
	for i, w := range want {
		if p.Errors[i].Error() != w {
			t.Errorf("error %d = %q, want %q", i, p.Errors[i].Error(), w)
		}
	}
}

func TestParseNoValidEntries(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "feed is empty"},
		{"# only comments\n", "feed is empty"},
		{"foo\nbar\n", "no valid entries (2 lines rejected; first: x:1: not an IP address"},
		{"1.2.3.4\t1\n", "no entry reaches the minimum list count 5"},
	} {
		_, err := Parse(strings.NewReader(tc.in), "x", 5)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) error = %v, want containing %q", tc.in, err, tc.want)
		}
	}
}

func TestLookupContainment(t *testing.T) {
	s := fixedSet()
	if _, err := s.Load("blocklist", "testdata/netset.netset", Options{Name: "level1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load("blocklist", "testdata/ipsum.txt", Options{MinCount: 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load("tor", "testdata/tor.csv", Options{}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ip    string
		tor   bool
		feeds string
		score int
	}{
		{"10.20.255.1", false, "level1", 1},
		{"10.21.0.1", false, "", 0},
		{"192.0.2.200", false, "level1", 1},
		{"198.51.100.7", false, "level1", 1},
		{"198.51.100.8", false, "", 0},
		{"2001:db8:dead:beef::1", false, "level1", 1},
		{"2001:db8:deae::1", false, "", 0},
		{"203.0.113.77", false, "level1", 1}, // from the IPv4-mapped /120
		{"::ffff:203.0.113.77", false, "level1", 1},
		{"203.0.113.10", false, "level1,ipsum", 9},
		{"203.0.113.12", false, "level1", 1}, // ipsum count 1 < min 3
		{"2001:db8::12", false, "ipsum", 4},
		{"204.8.96.141", true, "", 0},
		{"2620:7:6003::141", true, "", 0},
		{"204.8.96.142", false, "", 0},
	}
	for _, tc := range tests {
		m := s.Lookup(netip.MustParseAddr(tc.ip))
		if m.Tor != tc.tor || strings.Join(m.Feeds, ",") != tc.feeds || m.Score != tc.score {
			t.Errorf("Lookup(%s) = %+v, want tor=%v feeds=%q score=%d", tc.ip, m, tc.tor, tc.feeds, tc.score)
		}
	}
	if m := s.Lookup(netip.Addr{}); m.Hit() {
		t.Errorf("invalid address matched: %+v", m)
	}
	infos := s.Feeds()
	if len(infos) != 3 || infos[0].Entries != 5 || infos[1].Entries != 3 || infos[2].Kind != "tor" || infos[2].Format != "csv" {
		t.Fatalf("feeds: %+v", infos)
	}
	if infos[0].Loaded != s.Now() || infos[0].Age == "" {
		t.Errorf("loaded/age not set: %+v", infos[0])
	}
}

func TestLoadErrors(t *testing.T) {
	s := fixedSet()
	if _, err := s.Load("geo", "testdata/tor.csv", Options{}); err == nil || !strings.Contains(err.Error(), `unknown feed kind "geo"`) {
		t.Errorf("kind error: %v", err)
	}
	if _, err := s.Load("tor", "testdata/missing.txt", Options{}); err == nil || !strings.Contains(err.Error(), "missing.txt") {
		t.Errorf("missing file error: %v", err)
	}
	if _, err := s.Load("blocklist", "testdata/empty-ish.txt", Options{}); err == nil || !strings.Contains(err.Error(), "empty-ish.txt:3") {
		t.Errorf("no-entries error: %v", err)
	}
	if s.Len() != 0 {
		t.Errorf("failed loads changed the set: %d feeds", s.Len())
	}
}

func TestReloadAndHTTP(t *testing.T) {
	var mu sync.Mutex
	body := "198.51.100.1\n"
	status := 200
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Last-Modified", "Thu, 01 Jan 2026 03:04:05 GMT")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	defer srv.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "list.txt")
	os.WriteFile(path, []byte("192.0.2.1\n"), 0o644)

	s := fixedSet()
	info, err := s.Load("blocklist", srv.URL+"/feed", Options{Name: "remote"})
	if err != nil {
		t.Fatal(err)
	}
	if info.Age != "24h" {
		t.Errorf("age from Last-Modified = %q, want 24h", info.Age)
	}
	if _, err := s.Load("blocklist", path, Options{}); err != nil {
		t.Fatal(err)
	}
	ip1, ip2 := netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("192.0.2.1")
	if !s.Lookup(ip1).Hit() || !s.Lookup(ip2).Hit() {
		t.Fatal("initial lookups failed")
	}
	// Change both sources; the file becomes invalid: it keeps its old contents.
	mu.Lock()
	body = "198.51.100.2\n"
	mu.Unlock()
	os.WriteFile(path, []byte("garbage\n"), 0o644)
	err = s.Reload()
	if err == nil || !strings.Contains(err.Error(), "list.txt") {
		t.Fatalf("reload error = %v", err)
	}
	if s.Lookup(ip1).Hit() || !s.Lookup(netip.MustParseAddr("198.51.100.2")).Hit() {
		t.Error("remote feed not reloaded")
	}
	if !s.Lookup(ip2).Hit() {
		t.Error("failed file reload dropped the old contents")
	}
	mu.Lock()
	status = 503
	mu.Unlock()
	if err := s.Reload(); err == nil || !strings.Contains(err.Error(), "HTTP status 503") {
		t.Errorf("reload with 503: %v", err)
	}
}

func TestConcurrentLookupDuringReload(t *testing.T) {
	s := fixedSet()
	if _, err := s.Load("blocklist", "testdata/netset.netset", Options{}); err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr("10.20.1.1")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					if !s.Lookup(ip).Hit() {
						t.Error("lookup missed during reload")
						return
					}
				}
			}
		}()
	}
	for i := 0; i < 20; i++ {
		if err := s.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}

func TestParseSpec(t *testing.T) {
	tests := []struct {
		arg, kind, source string
		opts              Options
		err               string
	}{
		{arg: "tor=/data/exits.csv", kind: "tor", source: "/data/exits.csv"},
		{arg: "blocklist=https://x.example/l.txt?a=b,c", kind: "blocklist", source: "https://x.example/l.txt?a=b,c"},
		{arg: "blocklist,min=3,name=ipsum=/d/ipsum.txt", kind: "blocklist", source: "/d/ipsum.txt", opts: Options{MinCount: 3, Name: "ipsum"}},
		{arg: "BLOCKLIST,name=fh=a=b", kind: "blocklist", source: "a=b", opts: Options{Name: "fh"}},
		{arg: "geo=/x", err: `unknown kind "geo"`},
		{arg: "tor", err: "want KIND"},
		{arg: "tor=", err: "empty source"},
		{arg: "blocklist,min=0=/x", err: "not a positive integer"},
		{arg: "blocklist,foo=1=/x", err: `unknown option "foo"`},
		{arg: "blocklist,min=3", err: "missing =SOURCE"},
		{arg: "blocklist,min", err: "has no value"},
	}
	for _, tc := range tests {
		k, src, o, err := ParseSpec(tc.arg)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseSpec(%q) error = %v, want %q", tc.arg, err, tc.err)
			}
			continue
		}
		if err != nil || k != tc.kind || src != tc.source || o != tc.opts {
			t.Errorf("ParseSpec(%q) = %q %q %+v %v", tc.arg, k, src, o, err)
		}
	}
}

func TestEvalFeeds(t *testing.T) {
	torDir := testutil.EvalDir(t, "threatintel", "tor")
	ipsumDir := testutil.EvalDir(t, "threatintel", "ipsum")
	s := fixedSet()
	cases := []struct {
		kind, file string
		min        int
		format     string
		minEntries int
	}{
		{"tor", filepath.Join(torDir, "alireza-latest.exits.csv"), 1, "csv", 2000},
		{"tor", filepath.Join(torDir, "secops-tor-exit-nodes.lst"), 1, "plain", 1500},
		{"blocklist", filepath.Join(ipsumDir, "ipsum.txt"), 1, "ipsum", 100000},
		{"blocklist", filepath.Join(ipsumDir, "level3.txt"), 1, "plain", 10000},
	}
	for _, c := range cases {
		info, err := s.Load(c.kind, c.file, Options{MinCount: c.min})
		if err != nil {
			t.Fatal(err)
		}
		if info.Rejected != 0 || info.Format != c.format || info.Entries < c.minEntries {
			t.Errorf("%s: %+v", c.file, info)
		}
	}
	// Every address of the source files must match.
	for _, probe := range []struct{ file, kind string }{
		{filepath.Join(torDir, "secops-tor-exit-nodes.lst"), "tor"},
		{filepath.Join(ipsumDir, "level3.txt"), "blocklist"},
	} {
		raw, _ := os.ReadFile(probe.file)
		n := 0
		for _, line := range strings.Split(string(raw), "\n") {
			a, err := netip.ParseAddr(strings.TrimSpace(line))
			if err != nil {
				continue
			}
			n++
			m := s.Lookup(a)
			if probe.kind == "tor" && !m.Tor || probe.kind == "blocklist" && len(m.Feeds) == 0 {
				t.Fatalf("%s from %s not matched: %+v", a, probe.file, m)
			}
		}
		if n == 0 {
			t.Fatalf("no addresses read from %s", probe.file)
		}
	}
	// ipsum level 3 == ipsum.txt with min=3.
	s2 := fixedSet()
	i3, err := s2.Load("blocklist", filepath.Join(ipsumDir, "ipsum.txt"), Options{MinCount: 3})
	if err != nil {
		t.Fatal(err)
	}
	l3, _ := s2.Load("blocklist", filepath.Join(ipsumDir, "level3.txt"), Options{})
	if d := i3.Entries - l3.Entries; d < -l3.Entries/100 || d > l3.Entries/100 {
		t.Errorf("ipsum min=3 has %d entries, level3 %d", i3.Entries, l3.Entries)
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"netset.netset", "mixed-bad.txt", "ipsum.txt", "tor.csv"} {
		b, _ := os.ReadFile(filepath.Join("testdata", name))
		f.Add(string(b), 1)
	}
	f.Add("::ffff:1.2.3.4/100\n1.2.3.4 # c\n\ufeff10.0.0.0/8", 2)
	f.Fuzz(func(t *testing.T, in string, min int) {
		p, err := Parse(strings.NewReader(in), "fuzz", min%20)
		if err == nil && len(p.Entries) == 0 {
			t.Fatal("no error for a feed without entries")
		}
		if p.Rejected < len(p.Errors) || len(p.Errors) > MaxLineErrors {
			t.Fatalf("rejected %d < kept errors %d", p.Rejected, len(p.Errors))
		}
		for _, e := range p.Entries {
			if !e.Prefix.IsValid() || e.Prefix.Addr().Is4In6() || e.Prefix != e.Prefix.Masked() {
				t.Fatalf("bad entry %v", e.Prefix)
			}
		}
	})
}
