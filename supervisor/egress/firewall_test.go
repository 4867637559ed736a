package main

import (
	"net/netip"
	"testing"
)

func prefixes(t *testing.T, texts ...string) []netip.Prefix {
	t.Helper()
	list, err := ParseAllowlist(texts)
	if err != nil {
		t.Fatal(err)
	}
	return list.Prefixes()
}

func TestOverlappingAndContainedRangesAreMergedBeforeTheKernelSeesThem(t *testing.T) {
	for _, c := range []struct {
		entries []string
		want    []addressRange
	}{
		// A network and an address inside it, either way round, and twice the same.
		{[]string{"198.18.90.0/24", "198.18.90.30/32"}, []addressRange{{0xc6125a00, 0xc6125b00}}},
		{[]string{"198.18.90.10", "198.18.90.0/24", "198.18.90.0/24"}, []addressRange{{0xc6125a00, 0xc6125b00}}},
		// Everything swallows the rest, and ends past the last address.
		{[]string{"0.0.0.0/0", "198.18.90.10"}, []addressRange{{0, 1 << 32}}},
		// Adjacent ranges join; apart ones stay apart.
		{[]string{"10.0.1.0/24", "10.0.0.0/24", "10.0.3.0/24"}, []addressRange{{0x0a000000, 0x0a000200}, {0x0a000300, 0x0a000400}}},
		{[]string{"255.255.255.255", "255.255.255.0/24"}, []addressRange{{0xffffff00, 1 << 32}}},
	} {
		got := mergedRanges(prefixes(t, c.entries...))
		if len(got) != len(c.want) {
			t.Fatalf("%v: got %v, want %v", c.entries, got, c.want)
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Fatalf("%v: got %v, want %v", c.entries, got, c.want)
			}
		}
	}
	// A range to the last address has no end element: 0.0.0.0/0 is one element.
	if elements := intervalElements(prefixes(t, "0.0.0.0/0", "198.18.90.10")); len(elements) != 1 {
		t.Fatalf("got %d elements", len(elements))
	}
}

func TestNeighbourAttributesAreReadWithTheirPadding(t *testing.T) {
	// NDA_DST 198.18.0.5, then NDA_LLADDR 0a:00:00:00:00:01 (6 bytes, padded to 8).
	raw := []byte{8, 0, 1, 0, 198, 18, 0, 5, 10, 0, 2, 0, 0x0a, 0, 0, 0, 0, 1, 0, 0}
	attrs := neighbourAttributes(raw)
	if len(attrs) != 2 || attrs[0].kind != ndaDST || len(attrs[1].value) != 6 || attrs[1].value[5] != 1 {
		t.Fatalf("got %v", attrs)
	}
	if _, ok := neighbourMAC(netip.MustParseAddr("198.18.255.254")); ok {
		t.Fatal("an address no one holds has a MAC address")
	}
}
