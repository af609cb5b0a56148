package intel

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/testutil"
)

// TestMMDBAnonymizer checks lookups against the ground truth published
// next to MaxMind's test databases.
func TestMMDBAnonymizer(t *testing.T) {
	dir := testutil.EvalDir(t, "threatintel", "maxmind-test")
	for _, db := range []string{"GeoIP2-Anonymous-IP-Test", "GeoIP-Anonymous-Plus-Test", "GeoIP2-IP-Risk-Test"} {
		t.Run(db, func(t *testing.T) {
			s := fixedSet()
			info, err := s.Load("anonymizer", filepath.Join(dir, db+".mmdb"), Options{Name: "mm"})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(info.Format, "mmdb:") || info.Entries == 0 || info.Age == "" {
				t.Errorf("info %+v", info)
			}
			raw, err := os.ReadFile(filepath.Join(dir, db+".json"))
			if err != nil {
				t.Fatal(err)
			}
			var truth []map[string]map[string]any
			if err := json.Unmarshal(raw, &truth); err != nil {
				t.Fatal(err)
			}
			var nets []netip.Prefix
			for _, entry := range truth {
				for network := range entry {
					p, err := netip.ParsePrefix(network)
					if err != nil {
						t.Fatalf("ground truth network %q: %v", network, err)
					}
					nets = append(nets, p)
				}
			}
			checked := 0
			for i, entry := range truth {
				for network, rec := range entry {
					p := netip.MustParsePrefix(network)
					a := p.Addr()
					// The databases were written in file order: a later,
					// broader network replaces an earlier one inside it.
					overwritten := false
					for _, later := range nets[i+1:] {
						if later.Contains(a) {
							overwritten = true
						}
					}
					if overwritten {
						continue
					}
					if b := a.As16(); a.Is6() && p.Bits() >= 96 && [12]byte(b[:12]) == [12]byte{} {
						a = netip.AddrFrom4([4]byte(b[12:])) // "::1.2.0.0/112" is IPv4 1.2.0.0/16
					}
					m := s.Lookup(a)
					wantTor, _ := rec["is_tor_exit_node"].(bool)
					anyFlag := false
					for _, k := range []string{"is_anonymous_vpn", "is_public_proxy", "is_residential_proxy"} {
						if v, _ := rec[k].(bool); v {
							anyFlag = true
							if !strings.Contains(strings.Join(m.Feeds, ";"), strings.TrimPrefix(strings.TrimPrefix(k, "is_"), "anonymous_")) {
								t.Errorf("%s (%s): flag %s missing in %v", a, network, k, m.Feeds)
							}
						}
					}
					if m.Tor != wantTor {
						t.Errorf("%s (%s): tor=%v, want %v", a, network, m.Tor, wantTor)
					}
					if anyFlag && len(m.Feeds) == 0 {
						t.Errorf("%s (%s): no feed named, record %v", a, network, rec)
					}
					if hosting, _ := rec["is_hosting_provider"].(bool); hosting && !anyFlag && !wantTor && len(m.Feeds) > 0 {
						t.Errorf("%s (%s): hosting provider alone flagged: %v", a, network, m.Feeds)
					}
					checked++
				}
			}
			if checked == 0 {
				t.Fatal("no ground-truth entries")
			}
			if m := s.Lookup(netip.MustParseAddr("192.0.2.1")); m.Hit() {
				t.Errorf("unlisted address matched: %+v", m)
			}
			if errs := s.LookupErrors()["mm"]; errs != 0 {
				t.Errorf("%d lookup decode errors", errs)
			}
		})
	}
}

func TestMMDBNotADatabase(t *testing.T) {
	s := fixedSet()
	if _, err := s.Load("anonymizer", "testdata/tor.csv", Options{}); err == nil || !strings.Contains(err.Error(), "not a MaxMind DB") {
		t.Errorf("error %v", err)
	}
}

func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{"tor=/x", "blocklist,min=3,name=a=b=c", "anonymizer=db.mmdb", "blocklist,min", ",=", "tor,name==x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		k, src, o, err := ParseSpec(arg)
		if err != nil {
			return
		}
		if k != KindTor && k != KindBlocklist && k != KindAnonymizer || src == "" || o.MinCount < 0 {
			t.Fatalf("ParseSpec(%q) = %q %q %+v", arg, k, src, o)
		}
	})
}
