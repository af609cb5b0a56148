package enrich

import (
	"net"
	"net/netip"
	"strings"
)

// Cloud instance-metadata services: what the inventory (calls to them are
// probes, never endpoints) and the SSRF detector (a request aimed at one)
// both need to know, kept here, below both analyzers, so that neither
// imports the other.

var metadataAddrs = map[netip.Addr]string{
	netip.MustParseAddr("169.254.169.254"): "cloud metadata (AWS/GCP/Azure/OpenStack)",
	netip.MustParseAddr("169.254.170.2"):   "ECS task metadata",
	netip.MustParseAddr("100.100.100.200"): "Alibaba Cloud metadata",
	netip.MustParseAddr("192.0.0.192"):     "Oracle Cloud metadata",
	netip.MustParseAddr("fd00:ec2::254"):   "AWS metadata (IPv6)",
	netip.MustParseAddr("169.254.169.123"): "AWS time sync",
}

// IsInstanceMetadataHost reports whether host (a name or an address,
// with or without brackets and port) is a cloud instance-metadata service:
// the addresses of MetadataService, or a metadata host name of a cloud provider. Such a
// host is never an API of ours (the inventory lists calls to it as probes).
func IsInstanceMetadataHost(host string) bool {
	h := strings.ToLower(host)
	if hp, _, err := net.SplitHostPort(h); err == nil {
		h = hp
	}
	h = strings.Trim(h, "[]")
	if a, err := netip.ParseAddr(h); err == nil {
		_, ok := metadataAddrs[a.Unmap()]
		return ok
	}
	switch h {
	case "metadata.google.internal", "metadata.goog", "metadata.azure.com", "instance-data", "instance-data.ec2.internal", "metadata.tencentyun.com":
		return true
	}
	return false
}

// MetadataService says which instance-metadata service an address is (the
// address as parsed: an IPv4-mapped IPv6 address is not unmapped).
func MetadataService(a netip.Addr) (string, bool) {
	what, ok := metadataAddrs[a]
	return what, ok
}
