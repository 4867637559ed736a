package main

import (
	"fmt"
	"sync"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// The guard keeps sandfleet's app networks to themselves on the engine's
// host. An app network's bridge is named by what its sandboxes may reach:
//
//   - LocalBridgePrefix: the other sandboxes on the same bridge, nothing else;
//   - InternetBridgePrefix: those, and the outside through the engine's NAT,
//     but never a bridge of this host or a link-local address.
//
// Either way nothing on the bridge reaches the host itself (any of its
// addresses, any protocol), and nothing from elsewhere starts a connection
// into the bridge; replies to connections the host made (published ports,
// its own connections) pass. The rules match bridge names, not a list of
// networks, so a network made a moment ago, or while the daemon was down,
// is guarded from its first packet.
const (
	LocalBridgePrefix    = "sfl-"
	InternetBridgePrefix = "sfi-"
)

// guardPriority runs the guard's chains before the engine's own filter rules
// (iptables-nft, priority 0): a packet the guard refuses goes no further.
const guardPriority = -2

// metaKeyOIFKIND is the kernel's NFT_META_OIFKIND (Linux >= 5.1): the kind of
// the output interface ("bridge", "veth", ...), which golang.org/x/sys does not name.
const metaKeyOIFKIND expr.MetaKey = 27

// Guard places and keeps the guard's nftables table.
type Guard struct {
	mu   sync.Mutex
	conn *nftables.Conn
	// name is this engine's guard table: the only one it replaces.
	name string
	// retire is the table of the daemon this one replaced (RetiredTables), removed in
	// the transaction that first places this one's: the host is never without a guard.
	retire string
	// placed: this daemon put its own rules in place once. A table left by
	// another version of the daemon may have as many rules and other
	// meanings, so the first Ensure always replaces it.
	placed bool
}

// NewGuard opens its own netlink connection, apart from the egress rules', so
// that the two never share a half-built transaction.
func NewGuard(name string, options ...nftables.ConnOption) (*Guard, error) {
	conn, err := nftables.New(options...)
	if err != nil {
		return nil, err
	}
	return &Guard{conn: conn, name: name}, nil
}

// Place replaces the guard's table in one transaction: there is no moment
// without it.
func (g *Guard) Place() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.place()
}

func (g *Guard) place() error {
	c := g.conn
	dropTable(c, g.name)
	if g.retire != "" {
		dropTable(c, g.retire)
	}
	table := c.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: g.name})
	accept := nftables.ChainPolicyAccept
	input, forward := guardRules()
	for _, chain := range []struct {
		name  string
		hook  *nftables.ChainHook
		rules [][]expr.Any
	}{{"input", nftables.ChainHookInput, input}, {"forward", nftables.ChainHookForward, forward}} {
		made := c.AddChain(&nftables.Chain{
			Name: chain.name, Table: table, Type: nftables.ChainTypeFilter,
			Hooknum: chain.hook, Priority: nftables.ChainPriorityRef(guardPriority), Policy: &accept,
		})
		for _, exprs := range chain.rules {
			c.AddRule(&nftables.Rule{Table: table, Chain: made, Exprs: exprs})
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables (guard): %w", err)
	}
	g.retire = ""
	return nil
}

// Ensure places the table again when it is missing or not whole, such as
// after someone flushed the host's ruleset.
func (g *Guard) Ensure() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.placed {
		if whole, err := g.whole(); err == nil && whole {
			return nil
		}
	}
	if err := g.place(); err != nil {
		return err
	}
	g.placed = true
	return nil
}

func (g *Guard) whole() (bool, error) {
	table := &nftables.Table{Family: nftables.TableFamilyINet, Name: g.name}
	input, forward := guardRules()
	for name, want := range map[string]int{"input": len(input), "forward": len(forward)} {
		rules, err := g.conn.GetRules(table, &nftables.Chain{Name: name, Table: table})
		if err != nil {
			return false, err
		}
		if len(rules) != want {
			return false, nil
		}
	}
	return true, nil
}

// Keep ensures the table every interval, for as long as the daemon runs,
// reporting each new failure once rather than every interval.
func (g *Guard) Keep(interval time.Duration, report func(error)) {
	last := ""
	for range time.Tick(interval) {
		err := g.Ensure()
		if err != nil && err.Error() != last {
			report(err)
		}
		last = ""
		if err != nil {
			last = err.Error()
		}
	}
}

// guardRules are the rules of the input and forward chains. Every rule
// starts by matching a guarded bridge by name, so nothing else on the host is
// touched.
func guardRules() (input, forward [][]expr.Any) {
	for _, prefix := range []string{LocalBridgePrefix, InternetBridgePrefix} {
		from := func(exprs ...expr.Any) []expr.Any { return append(interfaceIs(expr.MetaKeyIIFNAME, prefix), exprs...) }
		// To the host: replies to what the host opened, nothing else.
		input = append(input,
			from(append(established(), verdict(expr.VerdictAccept))...),
			from(append(isTCP(), resetTCP())...),
			from(refuse()),
		)
		// Forwarded from the bridge: a forged source is dropped; what stays
		// on the bridge (br_netfilter shows bridged packets here too) passes.
		forward = append(forward,
			from(append(sourceNotOn(), verdict(expr.VerdictDrop))...),
			from(append(established(), verdict(expr.VerdictAccept))...),
			from(append(packetType(unix.PACKET_BROADCAST), verdict(expr.VerdictAccept))...),
			from(append(packetType(unix.PACKET_MULTICAST), verdict(expr.VerdictAccept))...),
			from(append(destinationOnInput(), verdict(expr.VerdictAccept))...),
		)
		if prefix == LocalBridgePrefix {
			forward = append(forward, from(append(isTCP(), resetTCP())...), from(refuse()))
			continue
		}
		// Internet: not IPv6 (not offered), not another bridge of this host,
		// not link-local (cloud metadata); the rest goes on to the engine's NAT.
		forward = append(forward, from(append(isIPv6(), refuse())...))
		for _, match := range [][]expr.Any{outputKind("bridge"), toIPv4Prefix([4]byte{169, 254, 0, 0}, 16)} {
			forward = append(forward,
				from(append(append(append([]expr.Any{}, match...), isTCP()...), resetTCP())...),
				from(append(append([]expr.Any{}, match...), refuse())...),
			)
		}
	}
	// Into a bridge from anywhere else: replies only.
	for _, prefix := range []string{LocalBridgePrefix, InternetBridgePrefix} {
		to := func(exprs ...expr.Any) []expr.Any { return append(interfaceIs(expr.MetaKeyOIFNAME, prefix), exprs...) }
		forward = append(forward,
			to(append(established(), verdict(expr.VerdictAccept))...),
			to(append(isTCP(), resetTCP())...),
			to(refuse()),
		)
	}
	return input, forward
}

// interfaceIs matches an interface whose name starts with prefix (as nft's "name*").
func interfaceIs(key expr.MetaKey, prefix string) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte(prefix)},
	}
}

// sourceNotOn matches a packet whose source address is not routed through
// the interface it came in on (nft: fib saddr . iif oif missing).
func sourceNotOn() []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: 1, FlagSADDR: true, FlagIIF: true, ResultOIF: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0, 0, 0, 0}},
	}
}

// destinationOnInput matches a packet whose destination is routed through the
// interface it came in on: it stays on its bridge (nft: fib daddr . iif oif exists).
func destinationOnInput() []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: 1, FlagDADDR: true, FlagIIF: true, ResultOIF: true},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0, 0, 0, 0}},
	}
}

// packetType matches link-layer broadcast or multicast, which is never routed,
// only flooded on its own bridge.
func packetType(kind byte) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyPKTTYPE, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{kind}},
	}
}

func outputKind(kind string) []expr.Any {
	name := make([]byte, unix.IFNAMSIZ)
	copy(name, kind)
	return []expr.Any{
		&expr.Meta{Key: metaKeyOIFKIND, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: name},
	}
}

func toIPv4Prefix(network [4]byte, bits int) []expr.Any {
	mask := [4]byte{}
	for i := 0; i < bits; i++ {
		mask[i/8] |= 0x80 >> (i % 8)
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask[:], Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: network[:]},
	}
}

func isIPv6() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV6}},
	}
}

func resetTCP() expr.Any { return &expr.Reject{Type: unix.NFT_REJECT_TCP_RST} }

// refuse answers at once with an ICMP "administratively prohibited" (v4 or v6).
func refuse() expr.Any {
	return &expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_ADMIN_PROHIBITED}
}

// startGuard places the guard and keeps it. A table the kernel refuses is
// reported, and the daemon goes on: egress allowlists do not depend on it,
// and every "guard" request answers with the error, so no sandbox starts on
// an app network while it is missing.
func startGuard(tables Tables, retire string, report func(error)) (*Guard, error) {
	guard, err := NewGuard(tables.Guard)
	if err != nil {
		return nil, err
	}
	guard.retire = retire
	if err := guard.Place(); err != nil {
		report(err)
	}
	go guard.Keep(2*time.Second, report)
	return guard, nil
}
