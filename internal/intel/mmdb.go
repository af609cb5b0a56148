package intel

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"
)

// KindAnonymizer is a MaxMind MMDB database with anonymizer flags (GeoIP2
// Anonymous IP, GeoIP Anonymous Plus, GeoIP2 IP Risk): Tor exits count as
// Tor, other anonymizer flags (VPN, public or residential proxy, hosting
// provider) name the feed in IntelMatch.Feeds as "NAME:flag,flag".
const KindAnonymizer = "anonymizer"

// anonRecord is the part of the record Palisade reads.
type anonRecord struct {
	IsAnonymous        bool `maxminddb:"is_anonymous"`
	IsAnonymousVPN     bool `maxminddb:"is_anonymous_vpn"`
	IsHostingProvider  bool `maxminddb:"is_hosting_provider"`
	IsPublicProxy      bool `maxminddb:"is_public_proxy"`
	IsResidentialProxy bool `maxminddb:"is_residential_proxy"`
	IsTorExitNode      bool `maxminddb:"is_tor_exit_node"`
}

// mmdbFeed wraps a database read into memory (no mmap, so a reload can
// swap it while lookups run; the old one is collected when unused).
type mmdbFeed struct {
	r *maxminddb.Reader
}

func openMMDB(data []byte, source string) (*mmdbFeed, maxminddb.Metadata, error) {
	r, err := maxminddb.OpenBytes(data)
	if err != nil {
		return nil, maxminddb.Metadata{}, fmt.Errorf("%s: not a MaxMind DB: %w", source, err)
	}
	return &mmdbFeed{r: r}, r.Metadata, nil
}

// lookup returns whether the address is a Tor exit and the other
// anonymizer flags set for it (sorted).
func (m *mmdbFeed) lookup(ip netip.Addr) (tor bool, flags []string, err error) {
	res := m.r.Lookup(ip)
	if !res.Found() {
		return false, nil, res.Err()
	}
	var rec anonRecord
	if err := res.Decode(&rec); err != nil {
		return false, nil, err
	}
	for _, f := range []struct {
		on   bool
		name string
	}{{rec.IsAnonymousVPN, "vpn"}, {rec.IsPublicProxy, "public_proxy"}, {rec.IsResidentialProxy, "residential_proxy"}} {
		if f.on {
			flags = append(flags, f.name)
		}
	}
	// Hosting providers alone are not flagged: many legitimate API clients
	// run in clouds.
	if rec.IsAnonymous && len(flags) == 0 && !rec.IsTorExitNode && !rec.IsHostingProvider {
		flags = append(flags, "anonymous")
	}
	sort.Strings(flags)
	return rec.IsTorExitNode, flags, nil
}

func mmdbAge(md maxminddb.Metadata, now time.Time) string {
	if md.BuildEpoch == 0 {
		return ""
	}
	return formatAge(now.Sub(md.BuildTime()))
}

func mmdbFeedName(flags []string, name string) string {
	return name + ":" + strings.Join(flags, ",")
}
