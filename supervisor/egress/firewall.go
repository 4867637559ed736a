package main

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// TableName is sandfleet's own nftables table. It sits beside the engine's
// (iptables-nft) rules: its chains run just before them (priority -1), and
// a packet they reject goes no further, whatever the engine's rules say.
const TableName = "sandfleet_egress"

// Rules is the firewall for a set of policies: for each sandbox, traffic
// forwarded from its address passes only to its allowed prefixes and to
// the addresses its allowed names resolved to; traffic to this host passes
// only to its resolver. Everything else is refused at once: TCP with a
// reset, the rest with an ICMP "administratively prohibited".
type Rules struct {
	conn     *nftables.Conn
	table    *nftables.Table
	resolved map[string]*nftables.Set // sandbox id -> its set of resolved addresses
}

func NewRules() (*Rules, error) {
	conn, err := nftables.New()
	if err != nil {
		return nil, err
	}
	return &Rules{conn: conn, resolved: map[string]*nftables.Set{}}, nil
}

// Apply replaces the whole table in one transaction. `remembered` holds the
// addresses already resolved for each sandbox, which stay allowed until
// their time runs out.
func (r *Rules) Apply(
	networks []Network,
	policies []Policy,
	lists map[string]*Allowlist,
	remembered map[string]map[netip.Addr]time.Time,
) error {
	c := r.conn
	old := &nftables.Table{Family: nftables.TableFamilyINet, Name: TableName}
	c.AddTable(old) // so that the delete below finds one
	c.DelTable(old)
	table := c.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: TableName})
	accept := nftables.ChainPolicyAccept
	forward := c.AddChain(&nftables.Chain{
		Name: "forward", Table: table, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityRef(-1), Policy: &accept,
	})
	input := c.AddChain(&nftables.Chain{
		Name: "input", Table: table, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityRef(-1), Policy: &accept,
	})
	resolvedSets := map[string]*nftables.Set{}
	for i, p := range policies {
		ip, err := netip.ParseAddr(p.IP)
		if err != nil || !ip.Is4() {
			return fmt.Errorf("sandbox %s: %q is not an IPv4 address", p.ID, p.IP)
		}
		gateway, err := netip.ParseAddr(p.Gateway)
		if err != nil || !gateway.Is4() {
			return fmt.Errorf("sandbox %s: gateway %q is not an IPv4 address", p.ID, p.Gateway)
		}
		prefixes := &nftables.Set{Table: table, Name: fmt.Sprintf("p%d", i), KeyType: nftables.TypeIPAddr, Interval: true}
		if err := c.AddSet(prefixes, intervalElements(lists[p.ID].Prefixes())); err != nil {
			return err
		}
		resolved := &nftables.Set{Table: table, Name: fmt.Sprintf("r%d", i), KeyType: nftables.TypeIPAddr, HasTimeout: true}
		var elements []nftables.SetElement
		for addr, until := range remembered[p.ID] {
			if left := time.Until(until); left > time.Second {
				elements = append(elements, nftables.SetElement{Key: addr.AsSlice(), Timeout: left})
			}
		}
		if err := c.AddSet(resolved, elements); err != nil {
			return err
		}
		resolvedSets[p.ID] = resolved
		from := fromAddress(ip)
		rule := func(chain *nftables.Chain, exprs ...expr.Any) {
			c.AddRule(&nftables.Rule{Table: table, Chain: chain, Exprs: append(append([]expr.Any{}, from...), exprs...)})
		}
		// Forwarded: replies of allowed connections, then the allowed destinations, then refusals.
		rule(forward, established()...)
		rule(forward, append(toSet(prefixes), verdict(expr.VerdictAccept))...)
		rule(forward, append(toSet(resolved), verdict(expr.VerdictAccept))...)
		// Each refusal is logged to the daemon (NFLOG) with the sandbox it came from.
		logged := logRefusal(p.ID)
		rule(forward, append(isTCP(), logged, &expr.Reject{Type: unix.NFT_REJECT_TCP_RST})...)
		rule(forward, logged, &expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_ADMIN_PROHIBITED})
		// To this host: DNS at its gateway only.
		rule(input, established()...)
		for _, proto := range []byte{unix.IPPROTO_UDP, unix.IPPROTO_TCP} {
			rule(input, append(append(toAddress(gateway), toPort(proto, 53)...), verdict(expr.VerdictAccept))...)
		}
		rule(input, append(isTCP(), &expr.Reject{Type: unix.NFT_REJECT_TCP_RST})...)
		rule(input, &expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_ADMIN_PROHIBITED})
	}
	// Last: the rest of each egress network, such as a sandbox made a moment
	// ago whose policy has not arrived, reaches only its resolver.
	for _, n := range networks {
		subnet, err := netip.ParsePrefix(n.Subnet)
		if err != nil || !subnet.Addr().Is4() {
			return fmt.Errorf("network %q is not an IPv4 subnet", n.Subnet)
		}
		gateway, err := netip.ParseAddr(n.Gateway)
		if err != nil {
			return fmt.Errorf("network gateway %q is not an address", n.Gateway)
		}
		from := fromSubnet(subnet)
		rule := func(chain *nftables.Chain, exprs ...expr.Any) {
			c.AddRule(&nftables.Rule{Table: table, Chain: chain, Exprs: append(append([]expr.Any{}, from...), exprs...)})
		}
		rule(forward, append(isTCP(), &expr.Reject{Type: unix.NFT_REJECT_TCP_RST})...)
		rule(forward, &expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_ADMIN_PROHIBITED})
		rule(input, established()...)
		for _, proto := range []byte{unix.IPPROTO_UDP, unix.IPPROTO_TCP} {
			rule(input, append(append(toAddress(gateway), toPort(proto, 53)...), verdict(expr.VerdictAccept))...)
		}
		rule(input, append(isTCP(), &expr.Reject{Type: unix.NFT_REJECT_TCP_RST})...)
		rule(input, &expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_ADMIN_PROHIBITED})
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	r.table = table
	r.resolved = resolvedSets
	return nil
}

// Allow adds addresses a sandbox's allowed name resolved to, for ttl.
func (r *Rules) Allow(sandboxID string, addrs []netip.Addr, ttl time.Duration) error {
	set := r.resolved[sandboxID]
	if set == nil || len(addrs) == 0 {
		return nil
	}
	elements := make([]nftables.SetElement, 0, len(addrs))
	for _, a := range addrs {
		elements = append(elements, nftables.SetElement{Key: a.AsSlice(), Timeout: ttl})
	}
	if err := r.conn.SetAddElements(set, elements); err != nil {
		return err
	}
	return r.conn.Flush()
}

// Remove takes the table away: no sandbox has a policy.
func (r *Rules) Remove() error {
	table := &nftables.Table{Family: nftables.TableFamilyINet, Name: TableName}
	r.conn.AddTable(table) // so that the delete finds one
	r.conn.DelTable(table)
	r.resolved = map[string]*nftables.Set{}
	return r.conn.Flush()
}

func intervalElements(prefixes []netip.Prefix) []nftables.SetElement {
	var out []nftables.SetElement
	for _, p := range prefixes {
		start := p.Masked().Addr()
		end := binary.BigEndian.Uint32(start.AsSlice()) + uint32(1)<<(32-p.Bits())
		out = append(out, nftables.SetElement{Key: start.AsSlice()})
		if end != 0 { // a range to the last address needs no end
			out = append(out, nftables.SetElement{Key: binary.BigEndian.AppendUint32(nil, end), IntervalEnd: true})
		}
	}
	return out
}

func fromAddress(ip netip.Addr) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ip.AsSlice()},
	}
}

func fromSubnet(subnet netip.Prefix) []expr.Any {
	mask := net.CIDRMask(subnet.Bits(), 32)
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: subnet.Masked().Addr().AsSlice()},
	}
}

func toAddress(ip netip.Addr) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ip.AsSlice()},
	}
}

func toSet(set *nftables.Set) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Lookup{SourceRegister: 1, SetName: set.Name, SetID: set.ID},
	}
}

func toPort(proto byte, port uint16) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(port)},
	}
}

func isTCP() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
	}
}

func established() []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{
			SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitESTABLISHED | expr.CtStateBitRELATED),
			Xor:  binaryutil.NativeEndian.PutUint32(0),
		},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
		verdict(expr.VerdictAccept),
	}
}

func verdict(kind expr.VerdictKind) *expr.Verdict { return &expr.Verdict{Kind: kind} }

// logRefusal sends the packet to the daemon's NFLOG group, named by the sandbox's short id.
func logRefusal(sandboxID string) *expr.Log {
	short := sandboxID
	if len(short) > 12 {
		short = short[:12]
	}
	return &expr.Log{
		Key:   1<<unix.NFTA_LOG_PREFIX | 1<<unix.NFTA_LOG_GROUP,
		Group: LogGroup,
		Data:  []byte(refusalPrefixLabel + short),
	}
}
