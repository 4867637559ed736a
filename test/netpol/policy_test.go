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

// A sandbox's allowlist policy (provider/engines/kubernetes/egress-policy.ts)
// beside the namespace's default deny: its egress is exactly its ipBlocks,
// less their excepts, and its ingress stays closed.
func TestDecideEgressIPBlocks(t *testing.T) {
	sandbox := netip.MustParseAddr("10.244.1.2")
	labels := map[string]string{"sandfleet.owned": "true", "sandfleet.io/egress": "sf-1"}
	block := func(cidr string, except ...string) Peer {
		var p Peer
		p.IPBlock = &struct {
			CIDR   string   `json:"cidr"`
			Except []string `json:"except"`
		}{cidr, except}
		return p
	}
	policies := []Policy{
		{Namespace: "default", PodSelector: Selector{MatchLabels: map[string]string{"sandfleet.owned": "true"}}, Types: []string{"Ingress", "Egress"}},
		{
			Namespace: "default", PodSelector: Selector{MatchLabels: map[string]string{"sandfleet.io/egress": "sf-1"}}, Types: []string{"Egress"},
			Egress: []Rule{{To: []Peer{block("10.250.0.1/32"), block("198.51.100.0/24", "198.51.100.128/25")}}},
		},
	}
	v := Decide([]Pod{{"default", labels, sandbox}}, nil, policies)[sandbox]
	want := Ranges{
		{ip4(netip.MustParseAddr("10.250.0.1")), ip4(netip.MustParseAddr("10.250.0.1"))},
		{ip4(netip.MustParseAddr("198.51.100.0")), ip4(netip.MustParseAddr("198.51.100.127"))},
	}
	if v.Egress == nil || len(*v.Egress) != len(want) || (*v.Egress)[0] != want[0] || (*v.Egress)[1] != want[1] {
		t.Fatalf("egress is %v, want %v", v.Egress, want)
	}
	if v.Ingress == nil || len(*v.Ingress) != 0 {
		t.Fatalf("an egress-only policy opened ingress: %v", v.Ingress)
	}
	// An egress-only policy with no rules (an empty list) allows nothing more than the default deny.
	policies[1].Egress = nil
	if v := Decide([]Pod{{"default", labels, sandbox}}, nil, policies)[sandbox]; len(*v.Egress) != 0 {
		t.Fatalf("an empty list opened %v", *v.Egress)
	}
	// A rule with no peers is everything, as Kubernetes reads it: sandfleet never writes one.
	policies[1].Egress = []Rule{{}}
	if v := Decide([]Pod{{"default", labels, sandbox}}, nil, policies)[sandbox]; len(*v.Egress) != 1 || (*v.Egress)[0] != (Range{0, 0xffffffff}) {
		t.Fatalf("a rule with no peers is %v, want everything", *v.Egress)
	}
}
