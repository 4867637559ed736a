package main

import (
	"fmt"
	"net/netip"
	"os"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// The engine's embedded DNS server listens at 127.0.0.11 inside every
// container on a user-defined network, and answers the names of the other
// containers there itself (names, short ids, reverse lookups), without
// asking sandfleet's resolver. A sandbox with an allowlist must ask only
// sandfleet's resolver, so `seal` runs once in its network namespace (a
// helper container sharing it, with NET_ADMIN, as the sandbox starts): it
// refuses every packet to 127.0.0.11, and points the sandbox's resolv.conf
// (a file the engine shares between containers of one namespace) at the
// resolver on its gateway. The sandbox, with no capabilities, can change neither.

// EmbeddedDNS is where the engine's own DNS server answers inside a container.
var EmbeddedDNS = netip.MustParseAddr("127.0.0.11")

// SealTable is the table `seal` leaves in the sandbox's network namespace.
const SealTable = "sandfleet_seal"

func seal(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: sandfleet-egress seal GATEWAY")
		return 2
	}
	gateway, err := netip.ParseAddr(args[0])
	if err != nil || !gateway.Is4() {
		fmt.Fprintf(os.Stderr, "sandfleet-egress seal: %q is not an IPv4 address\n", args[0])
		return 2
	}
	if err := refuseEmbeddedDNS(); err != nil {
		fmt.Fprintf(os.Stderr, "sandfleet-egress seal: nftables: %v\n", err)
		return 1
	}
	resolv := fmt.Sprintf("# sandfleet: this sandbox's egress allowlist is answered here, and only here\nnameserver %s\noptions ndots:0\n", gateway)
	if err := os.WriteFile("/etc/resolv.conf", []byte(resolv), 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "sandfleet-egress seal: %v\n", err)
		return 1
	}
	return 0
}

func refuseEmbeddedDNS() error {
	c, err := nftables.New()
	if err != nil {
		return err
	}
	table := c.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: SealTable})
	c.DelTable(table)
	table = c.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: SealTable})
	accept := nftables.ChainPolicyAccept
	output := c.AddChain(&nftables.Chain{
		Name: "output", Table: table, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityFilter, Policy: &accept,
	})
	// After the engine's own NAT rule, which changes only the port: every protocol and port of the address.
	to := append(ipv4(), toAddress(EmbeddedDNS)...)
	c.AddRule(&nftables.Rule{Table: table, Chain: output, Exprs: append(append(append([]expr.Any{}, to...), isTCP()...),
		&expr.Reject{Type: unix.NFT_REJECT_TCP_RST})})
	c.AddRule(&nftables.Rule{Table: table, Chain: output, Exprs: append(append([]expr.Any{}, to...),
		&expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_PORT_UNREACH})})
	return c.Flush()
}

func ipv4() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
	}
}
