package main

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// The grammar of an allowlist entry, the same as provider/egress-entries.ts
// (both are tested against supervisor/testdata/addresses.json):
//
//   - an IPv4 address in dotted decimal, each part 0-255 without leading zeros;
//   - a CIDR: such an address, '/', a prefix length 0-32 without leading zeros,
//     and no bits set past the prefix (10.0.0.1/8 is refused, not widened);
//   - a domain: labels of ASCII letters, digits and '-', 1 to 63 bytes, not
//     starting or ending with '-', at most 253 bytes in all, the last label not
//     all digits, one optional final '.'; matched without regard to ASCII case;
//     an internationalised name is written in its punycode (xn--) form;
//   - a wildcard: "*." and a domain, matching the names below it.

// EntryKind says what an entry is.
type EntryKind string

const (
	EntryAddress  EntryKind = "address"
	EntryCIDR     EntryKind = "cidr"
	EntryDomain   EntryKind = "domain"
	EntryWildcard EntryKind = "wildcard"
)

// Entry is one parsed allowlist entry.
type Entry struct {
	Kind EntryKind
	// Prefix for an address (a /32) or a CIDR.
	Prefix netip.Prefix
	// Labels of a domain, or of the name below which a wildcard matches: lower case.
	Labels []string
}

// Canonical is the entry as the daemon keeps it: lower case, no final dot, prefixes in CIDR form.
func (e Entry) Canonical() string {
	switch e.Kind {
	case EntryAddress:
		return e.Prefix.Addr().String()
	case EntryCIDR:
		return e.Prefix.String()
	case EntryWildcard:
		return "*." + strings.Join(e.Labels, ".")
	}
	return strings.Join(e.Labels, ".")
}

const entryWords = "is not a domain, a *.domain wildcard, or an IPv4 address or CIDR"

// ParseEntry reads one entry, or says what is wrong with it.
func ParseEntry(entry string) (Entry, error) {
	fail := func(why string) (Entry, error) {
		return Entry{}, fmt.Errorf("%s %s: %s", strconv.Quote(entry), entryWords, why)
	}
	if entry == "" {
		return fail("it is empty")
	}
	if len(entry) > 256 {
		return fail("it is longer than 256 characters")
	}
	for i := 0; i < len(entry); i++ {
		c := entry[i]
		if c >= 0x80 {
			return fail("it holds a non-ASCII character; write an internationalised name in its punycode (xn--) form")
		}
		if c <= ' ' || c == 0x7f {
			return fail(fmt.Sprintf("it holds a space or control character at %d", i+1))
		}
	}
	if looksNumeric(entry) {
		return parseNumeric(entry, fail)
	}
	text, wildcard := strings.CutPrefix(entry, "*.")
	text = strings.TrimSuffix(text, ".")
	if len(text) > 253 {
		return fail("a domain has at most 253 characters")
	}
	labels := strings.Split(text, ".")
	for i, label := range labels {
		if why := labelProblem(label); why != "" {
			return fail(fmt.Sprintf("label %d %s", i+1, why))
		}
		labels[i] = asciiLower(label)
	}
	if allDigits(labels[len(labels)-1]) {
		return fail("the last label of a domain is never all digits")
	}
	if wildcard {
		return Entry{Kind: EntryWildcard, Labels: labels}, nil
	}
	return Entry{Kind: EntryDomain, Labels: labels}, nil
}

// looksNumeric: digits, dots and a slash only, so an address or CIDR or nothing.
func looksNumeric(s string) bool {
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] == '.' || s[i] == '/') {
			return false
		}
	}
	return true
}

func parseNumeric(entry string, fail func(string) (Entry, error)) (Entry, error) {
	addrText, bitsText, isCIDR := strings.Cut(entry, "/")
	parts := strings.Split(addrText, ".")
	if len(parts) != 4 {
		return fail("an IPv4 address has four parts")
	}
	var octets [4]byte
	for i, part := range parts {
		n, ok := decimal(part, 255)
		if !ok {
			return fail(fmt.Sprintf("part %d of the address must be 0 to 255 without leading zeros", i+1))
		}
		octets[i] = byte(n)
	}
	addr := netip.AddrFrom4(octets)
	if !isCIDR {
		return Entry{Kind: EntryAddress, Prefix: netip.PrefixFrom(addr, 32)}, nil
	}
	bits, ok := decimal(bitsText, 32)
	if !ok {
		return fail("the prefix length must be 0 to 32 without leading zeros")
	}
	prefix := netip.PrefixFrom(addr, bits)
	if prefix.Masked().Addr() != addr {
		return fail(fmt.Sprintf("bits are set past the prefix; the network is %s", prefix.Masked()))
	}
	return Entry{Kind: EntryCIDR, Prefix: prefix}, nil
}

// decimal reads 0..max written without leading zeros.
func decimal(s string, max int) (int, bool) {
	if s == "" || len(s) > 3 || (len(s) > 1 && s[0] == '0') || !allDigits(s) {
		return 0, false
	}
	n, _ := strconv.Atoi(s)
	return n, n <= max
}

// labelProblem says why a label is not a hostname label: letters, digits and '-'.
func labelProblem(label string) string {
	if label == "" {
		return "is empty"
	}
	if len(label) > 63 {
		return "is longer than 63 characters"
	}
	if label[0] == '-' || label[len(label)-1] == '-' {
		return "starts or ends with '-'"
	}
	for i := 0; i < len(label); i++ {
		c := label[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Sprintf("holds %q; a label has only letters, digits and '-'", string(c))
		}
	}
	return ""
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// asciiLower lowers A-Z only: no Unicode case folding (the Kelvin sign is not a k).
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
