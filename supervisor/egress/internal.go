package main

import "net/netip"

// InternalPrefixes are addresses no public name should resolve to: this
// host, private networks (the engine's own bridges among them), link-local
// (cloud metadata at 169.254.169.254), shared and reserved space. An
// allowed name that resolves to one (a name whose DNS someone else runs,
// or a service such as nip.io that answers any address asked for) would
// otherwise open it; only a CIDR in the list opens these.
var InternalPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("224.0.0.0/4"),
	netip.MustParsePrefix("240.0.0.0/4"),
}

// AllowsResolved says whether a name's answer may open an address: any
// public address, and an internal one only when a CIDR or address in the list names it.
func (a *Allowlist) AllowsResolved(addr netip.Addr) bool {
	internal := false
	for _, p := range InternalPrefixes {
		if p.Contains(addr) {
			internal = true
			break
		}
	}
	if !internal {
		return true
	}
	for _, p := range a.prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
