package main

import (
	"net/netip"
	"testing"
)

func TestAllowlistMatchesNamesWildcardsAndAddresses(t *testing.T) {
	a, err := ParseAllowlist([]string{"pypi.org", "*.pythonhosted.org", "203.0.113.0/24", "198.51.100.7"})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{
		"pypi.org": true, "PyPI.org.": true, "files.pythonhosted.org": true, "a.b.pythonhosted.org": true,
		"pythonhosted.org": false, "evilpythonhosted.org": false, "pypi.org.evil.com": false, "example.com": false,
	} {
		if got := a.AllowsName(name); got != want {
			t.Errorf("AllowsName(%q) = %v, want %v", name, got, want)
		}
	}
	if len(a.Prefixes()) != 2 || a.Prefixes()[1].String() != "198.51.100.7/32" {
		t.Fatalf("prefixes %v", a.Prefixes())
	}
}

func TestAllowlistRefusesWhatItCannotEnforceNamingThePosition(t *testing.T) {
	for _, bad := range []string{"*", "*.", "http://pypi.org", "pypi.org/simple", "::1", "2001:db8::/32", "a..b", "-a.com", "10.0.0.0/08",
		"\u212Aube.io", "ｅｘａｍｐｌｅ.com", "py\u200bpi.org", "\ufeffpypi.org", "pypi.org\u00a0"} {
		_, err := ParseAllowlist([]string{"pypi.org", bad})
		if err == nil {
			t.Errorf("%q was accepted", bad)
		} else if e, ok := err.(*EntryError); !ok || e.Index != 1 {
			t.Errorf("%q: %v does not name allow[1]", bad, err)
		}
	}
}

func TestResolvedInternalAddressesOpenOnlyWhenTheListNamesThem(t *testing.T) {
	a, err := ParseAllowlist([]string{"*.nip.example", "10.1.0.0/16"})
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]bool{
		"93.184.215.14": true, "10.1.2.3": true,
		"198.51.100.7": false, "198.18.0.10": false, "198.19.255.1": false, "192.0.2.1": false, "203.0.113.9": false,
		"192.88.99.1": false,
		"10.2.0.1":    false, "127.0.0.1": false, "169.254.169.254": false, "172.17.0.1": false,
		"192.168.1.1": false, "100.64.0.1": false, "0.0.0.0": false, "224.0.0.1": false, "255.255.255.255": false,
	} {
		if got := a.AllowsResolved(netip.MustParseAddr(addr)); got != want {
			t.Errorf("AllowsResolved(%s) = %v, want %v", addr, got, want)
		}
	}
}

func TestTheHostsOwnNetworksAreInternalUnlessDeclaredPublic(t *testing.T) {
	saved := hostNetworks
	defer func() { hostNetworks = saved }()
	hostNetworks = &HostNetworks{
		own:      []netip.Prefix{netip.MustParsePrefix("93.184.0.5/32"), netip.MustParsePrefix("198.18.7.1/32")},
		networks: []netip.Prefix{netip.MustParsePrefix("93.184.0.0/24"), netip.MustParsePrefix("198.18.7.0/24")},
		public:   []netip.Prefix{netip.MustParsePrefix("198.18.7.0/24")},
	}
	a, err := ParseAllowlist([]string{"*.nip.example", "93.184.0.9"})
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]bool{
		// The host's LAN, public numbers or not, and its own address on it.
		"93.184.0.7": false, "93.184.0.5": false, "93.184.0.9": true, "93.184.1.7": true,
		// A network declared public opens, but never the host's own address there.
		"198.18.7.10": true, "198.18.7.1": false, "198.18.8.10": false,
	} {
		if got := a.AllowsResolved(netip.MustParseAddr(addr)); got != want {
			t.Errorf("AllowsResolved(%s) = %v, want %v", addr, got, want)
		}
	}
	// The real host's: its loopback at least, read from the kernel.
	real := &HostNetworks{}
	if err := real.Refresh(); err != nil {
		t.Fatal(err)
	}
	if !real.Contains(netip.MustParseAddr("127.0.0.1")) {
		t.Error("the host's loopback address is not among its own")
	}
}
