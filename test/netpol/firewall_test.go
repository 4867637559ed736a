package main

import (
	"net/netip"
	"os"
	"testing"

	"github.com/google/nftables"
)

// Loads a table into the kernel: run it in a network namespace of its own
// (`ip netns exec NAME ./netpol.test`), with SANDFLEET_NETPOL_KERNEL=1.
func TestApplyLoads(t *testing.T) {
	if os.Getenv("SANDFLEET_NETPOL_KERNEL") != "1" {
		t.Skip("needs a network namespace of its own")
	}
	conn, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	some := Ranges{{ip4(netip.MustParseAddr("10.244.1.2")), ip4(netip.MustParseAddr("10.244.1.3"))}}
	internet := Ranges{prefixRange(netip.MustParsePrefix("0.0.0.0/0"))}.Minus(prefixRange(netip.MustParsePrefix("10.0.0.0/8")))
	verdicts := map[netip.Addr]Verdict{
		netip.MustParseAddr("10.244.1.2"): {Egress: &some, Ingress: &some},
		netip.MustParseAddr("10.244.1.5"): {Egress: &Ranges{}, Ingress: &Ranges{}},
		netip.MustParseAddr("10.244.1.6"): {Egress: &internet},
		netip.MustParseAddr("10.244.1.7"): {},
	}
	for i := 0; i < 2; i++ {
		if err := Apply(conn, netip.MustParsePrefix("10.244.0.0/16"), verdicts); err != nil {
			t.Fatalf("pass %d: %v", i, err)
		}
	}
}
