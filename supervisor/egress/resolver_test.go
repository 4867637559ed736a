package main

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func records(t *testing.T, lines ...string) []dns.RR {
	var out []dns.RR
	for _, line := range lines {
		rr, err := dns.NewRR(line)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rr)
	}
	return out
}

func TestAliasChainsAreAnsweredOnlyWhenEveryNameIsAllowed(t *testing.T) {
	list, err := ParseAllowlist([]string{"www.ok.example", "*.cdn.ok.example"})
	if err != nil {
		t.Fatal(err)
	}
	// Every name allowed: the chain's end gives the addresses; records for other owners count for nothing.
	addrs, _, err := followChain("www.ok.example", records(t,
		"www.ok.example. 60 IN CNAME Edge.CDN.ok.example.",
		"edge.cdn.ok.example. 30 IN A 198.18.0.10",
		"internal.example. 30 IN A 10.0.0.1",
	), list)
	if err != nil || len(addrs) != 1 || addrs[0].String() != "198.18.0.10" {
		t.Fatalf("got %v %v", addrs, err)
	}
	// An alias of a name that is not allowed is refused, whatever addresses come with it.
	_, _, err = followChain("www.ok.example", records(t,
		"www.ok.example. 60 IN CNAME elsewhere.example.",
		"elsewhere.example. 30 IN A 198.18.0.20",
	), list)
	var refused aliasRefused
	if !errors.As(err, &refused) || refused.target != "elsewhere.example" {
		t.Fatalf("got %v", err)
	}
	// Records for another name than the one asked are not its addresses.
	addrs, _, err = followChain("www.ok.example", records(t, "other.ok.example. 30 IN A 10.0.0.1"), list)
	if err != nil || len(addrs) != 0 {
		t.Fatalf("got %v %v", addrs, err)
	}
	// A loop ends.
	if _, _, err = followChain("a.cdn.ok.example", records(t,
		"a.cdn.ok.example. 60 IN CNAME b.cdn.ok.example.",
		"b.cdn.ok.example. 60 IN CNAME a.cdn.ok.example.",
	), list); err == nil {
		t.Fatal("a loop was followed forever or answered")
	}
}

func TestAFullSandboxForgetsOnlyTheAddressesWhoseAnswersAllRanOut(t *testing.T) {
	r := NewResolver(&Rules{resolved: map[string]resolvedSets{}}, nil, nil)
	past, future := time.Now().Add(-time.Minute), time.Now().Add(time.Minute)
	r.remembered["sb"] = map[netip.Addr]map[string]time.Time{}
	for i := range MaxResolvedPerSandbox {
		addr := netip.AddrFrom4([4]byte{93, 184, byte(i >> 8), byte(i)})
		r.remembered["sb"][addr] = map[string]time.Time{"old.ok.example": past}
	}
	live := netip.MustParseAddr("93.184.0.1")
	// One name's answer ran out, another's for the same address has not: it stays.
	r.remembered["sb"][live]["new.ok.example"] = future
	asked := []netip.Addr{netip.MustParseAddr("93.184.0.2"), netip.MustParseAddr("198.51.100.1")}
	if dropped := r.forgetExpired("sb", asked); dropped != 1 {
		t.Fatalf("dropped %d of the asked addresses", dropped)
	}
	if len(r.remembered["sb"]) != 1 || r.remembered["sb"][live] == nil {
		t.Fatalf("kept %d addresses", len(r.remembered["sb"]))
	}
}
