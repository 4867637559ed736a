package main

import (
	"net/netip"
	"testing"
)

func TestDecideSandfleetPolicies(t *testing.T) {
	owned := map[string]string{"sandfleet.owned": "true"}
	withNet := func(n string) map[string]string {
		return map[string]string{"sandfleet.owned": "true", "sandfleet.io/network": n}
	}
	a1, a2, b1, none, other := netip.MustParseAddr("10.244.1.2"), netip.MustParseAddr("10.244.1.3"),
		netip.MustParseAddr("10.244.1.4"), netip.MustParseAddr("10.244.1.5"), netip.MustParseAddr("10.244.1.6")
	pods := []Pod{
		{"default", withNet("a"), a1}, {"default", withNet("a"), a2}, {"default", withNet("b"), b1},
		{"default", owned, none}, {"default", map[string]string{}, other},
	}
	member := func(n string) *Selector { return &Selector{MatchLabels: map[string]string{"sandfleet.io/network": n}} }
	policies := []Policy{
		{Namespace: "default", PodSelector: Selector{MatchLabels: owned}, Types: []string{"Ingress", "Egress"}},
		{
			Namespace: "default", PodSelector: *member("a"), Types: []string{"Ingress", "Egress"},
			Ingress: []Rule{{From: []Peer{{PodSelector: member("a")}}}},
			Egress:  []Rule{{To: []Peer{{PodSelector: member("a")}}}},
		},
	}
	v := Decide(pods, nil, policies)
	if got := *v[none].Egress; len(got) != 0 {
		t.Fatalf("a pod with no network may reach %v", got)
	}
	if got, want := *v[a1].Egress, (Ranges{{ip4(a1), ip4(a2)}}); len(got) != 1 || got[0] != want[0] {
		t.Fatalf("a's egress is %v, want %v", got, want)
	}
	if got := *v[b1].Ingress; len(got) != 0 {
		t.Fatalf("b (no policy of its own) admits %v", got)
	}
	if v[other].Egress != nil || v[other].Ingress != nil {
		t.Fatalf("a pod no policy selects is isolated: %+v", v[other])
	}
}

func TestIPBlockExcept(t *testing.T) {
	r := Ranges{prefixRange(netip.MustParsePrefix("0.0.0.0/0"))}.Minus(prefixRange(netip.MustParsePrefix("10.0.0.0/8")))
	if len(r) != 2 || r[0].Last != ip4(netip.MustParseAddr("9.255.255.255")) || r[1].First != ip4(netip.MustParseAddr("11.0.0.0")) {
		t.Fatalf("got %v", r)
	}
}
