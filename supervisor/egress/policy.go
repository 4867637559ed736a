package main

import (
	"fmt"
	"net/netip"
	"strings"
)

// Policy is one sandbox's egress allowlist, as the runtime sends it.
type Policy struct {
	// ID is the sandbox's container id.
	ID string `json:"id"`
	// IP is the sandbox's address on its egress network.
	IP string `json:"ip"`
	// Gateway is that network's gateway address, where the resolver answers it.
	Gateway string `json:"gateway"`
	// Allow holds domains ("pypi.org"), wildcards ("*.pythonhosted.org",
	// which matches names below it, not the name itself) and CIDRs or addresses.
	Allow []string `json:"allow"`
}

// Network is an egress network: what sends from it and has no policy (yet)
// reaches nothing but its resolver.
type Network struct {
	Subnet  string `json:"subnet"`
	Gateway string `json:"gateway"`
}

// Allowlist is a parsed Allow.
type Allowlist struct {
	names    map[string]bool
	suffixes []string
	prefixes []netip.Prefix
}

// ParseAllowlist reads entries; a wrong one is an error naming it.
func ParseAllowlist(entries []string) (*Allowlist, error) {
	a := &Allowlist{names: map[string]bool{}}
	for _, e := range entries {
		// Before case folding: strings.ToLower turns the Kelvin sign (U+212A) into an ASCII "k".
		if !printableASCII(e) {
			return nil, fmt.Errorf("%q has a character that is not printable ASCII", e)
		}
		entry := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(e), "."))
		if p, err := netip.ParsePrefix(entry); err == nil && p.Addr().Is4() {
			a.prefixes = append(a.prefixes, p.Masked())
			continue
		}
		if addr, err := netip.ParseAddr(entry); err == nil && addr.Is4() {
			a.prefixes = append(a.prefixes, netip.PrefixFrom(addr, 32))
			continue
		}
		if strings.HasPrefix(entry, "*.") && validName(entry[2:]) {
			a.suffixes = append(a.suffixes, "."+entry[2:])
			continue
		}
		if validName(entry) {
			a.names[entry] = true
			continue
		}
		return nil, fmt.Errorf("%q is not a domain, a *.domain wildcard, or an IPv4 address or CIDR", e)
	}
	return a, nil
}

// AllowsName says whether DNS may answer the name (without its final dot).
func (a *Allowlist) AllowsName(name string) bool {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if a.names[name] {
		return true
	}
	for _, s := range a.suffixes {
		if strings.HasSuffix(name, s) && len(name) > len(s) {
			return true
		}
	}
	return false
}

// Prefixes are the addresses allowed outright.
func (a *Allowlist) Prefixes() []netip.Prefix { return a.prefixes }

func printableASCII(text string) bool {
	for i := 0; i < len(text); i++ {
		if text[i] < 0x20 || text[i] > 0x7e {
			return false
		}
	}
	return true
}

func validName(name string) bool {
	if name == "" || len(name) > 253 {
		return false
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
