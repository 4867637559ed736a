package main

import (
	"net/netip"
	"slices"
	"strconv"
)

// Policy is one sandbox's egress allowlist, as the runtime sends it.
type Policy struct {
	// ID is the sandbox's container id.
	ID string `json:"id"`
	// IP is the sandbox's address on its egress network.
	IP string `json:"ip"`
	// MAC is its MAC address there, when known. The rules match it with IP:
	// sandfleet gives each sandbox a random one, so a policy left for an
	// address never applies to the next sandbox the engine gives that address.
	MAC string `json:"mac,omitempty"`
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

// Allowlist is a parsed Allow. Names are kept and compared as lists of
// lower-case labels, never as text.
type Allowlist struct {
	names    [][]string
	suffixes [][]string
	prefixes []netip.Prefix
}

// ParseAllowlist reads entries; the first wrong one is an error naming it and its position.
func ParseAllowlist(entries []string) (*Allowlist, error) {
	a := &Allowlist{}
	for i, text := range entries {
		entry, err := ParseEntry(text)
		if err != nil {
			return nil, &EntryError{Index: i, Err: err}
		}
		switch entry.Kind {
		case EntryAddress, EntryCIDR:
			a.prefixes = append(a.prefixes, entry.Prefix)
		case EntryWildcard:
			a.suffixes = append(a.suffixes, entry.Labels)
		case EntryDomain:
			a.names = append(a.names, entry.Labels)
		}
	}
	return a, nil
}

// EntryError is a wrong entry and where it is in its list.
type EntryError struct {
	Index int
	Err   error
}

func (e *EntryError) Error() string { return "allow[" + strconv.Itoa(e.Index) + "] " + e.Err.Error() }

// AllowsLabels says whether DNS may answer the name with these labels (lower case).
func (a *Allowlist) AllowsLabels(labels []string) bool {
	for _, name := range a.names {
		if slices.Equal(name, labels) {
			return true
		}
	}
	for _, suffix := range a.suffixes {
		if len(labels) > len(suffix) && slices.Equal(labels[len(labels)-len(suffix):], suffix) {
			return true
		}
	}
	return false
}

// AllowsName says whether DNS may answer a canonical name (lower case, no
// final dot, as the resolver keeps the names it answered).
func (a *Allowlist) AllowsName(name string) bool {
	labels, err := QueryLabels(name)
	return err == nil && a.AllowsLabels(labels)
}

// Prefixes are the addresses allowed outright.
func (a *Allowlist) Prefixes() []netip.Prefix { return a.prefixes }
