package main

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// The egress table (its name is the engine's, tables.go) sits beside the
// engine's (iptables-nft) rules: its chains run just before them (priority
// -1), and a packet they reject goes no further, whatever the engine's rules say.

// Rules is the firewall for a set of policies: for each sandbox, traffic
// forwarded from its address passes only to its allowed prefixes and to
// the addresses its allowed names resolved to; traffic to this host passes
// only to its resolver. Everything else is refused at once: TCP with a
// reset, the rest with an ICMP "administratively prohibited".
type Rules struct {
	// One batch at a time: the connection gathers messages until a flush.
	mu   sync.Mutex
	conn *nftables.Conn
	// name is this engine's egress table: the only one it replaces or removes.
	name string
	// retire is the table of the daemon this one replaced (RetiredTables), removed in
	// the transaction that first places this one's: its sandboxes are never unguarded.
	retire   string
	table    *nftables.Table
	resolved map[string]resolvedSets // by sandbox id
}

// resolvedSets are a sandbox's addresses its allowed names resolved to:
// `fresh` for as long as each answer lives (new connections), `kept` for as
// long as the name stays allowed (connections already open).
type resolvedSets struct{ fresh, kept *nftables.Set }

// The kernel logs at most this many refused packets a second per sandbox,
// and counts the rest (the daemon adds them to its "N more refused").
const kernelLogsPerSecond = 50

// unloggedPrefix names the counter of a sandbox's refusals past kernelLogsPerSecond.
const unloggedPrefix = "unlogged-"

// receiveBuffer holds the kernel's answers to one transaction: it echoes each
// rule it adds, and a table for a few hundred sandboxes overflows the default
// buffer (the transaction then reports "no buffer space available").
const receiveBuffer = 64 << 20

func largeReceiveBuffer(c *netlink.Conn) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return c.SetReadBuffer(receiveBuffer)
	}
	var forced error
	if err := raw.Control(func(fd uintptr) {
		// Past the host's rmem_max, which NET_ADMIN may exceed.
		forced = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, receiveBuffer)
	}); err != nil || forced != nil {
		return c.SetReadBuffer(receiveBuffer)
	}
	return nil
}

func NewRules(name string, options ...nftables.ConnOption) (*Rules, error) {
	conn, err := nftables.New(append([]nftables.ConnOption{nftables.WithSockOptions(largeReceiveBuffer)}, options...)...)
	if err != nil {
		return nil, err
	}
	return &Rules{conn: conn, name: name, resolved: map[string]resolvedSets{}}, nil
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
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.conn
	dropTable(c, r.name)
	if r.retire != "" {
		dropTable(c, r.retire)
	}
	table := c.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: r.name})
	accept := nftables.ChainPolicyAccept
	forward := c.AddChain(&nftables.Chain{
		Name: "forward", Table: table, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityRef(-1), Policy: &accept,
	})
	input := c.AddChain(&nftables.Chain{
		Name: "input", Table: table, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityRef(-1), Policy: &accept,
	})
	// Refusals end here: TCP with a reset, the rest with an ICMP "administratively prohibited".
	refuse := c.AddChain(&nftables.Chain{Name: "refuse", Table: table})
	c.AddRule(&nftables.Rule{Table: table, Chain: refuse, Exprs: append(isTCP(), &expr.Reject{Type: unix.NFT_REJECT_TCP_RST})})
	c.AddRule(&nftables.Rule{Table: table, Chain: refuse, Exprs: []expr.Any{
		&expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_ADMIN_PROHIBITED},
	}})
	toRefuse := &expr.Verdict{Kind: expr.VerdictJump, Chain: refuse.Name}
	sets := map[string]resolvedSets{}
	for i, p := range policies {
		ip, err := netip.ParseAddr(p.IP)
		if err != nil || !ip.Is4() {
			return fmt.Errorf("sandbox %s: %q is not an IPv4 address", p.ID, p.IP)
		}
		gateway, err := netip.ParseAddr(p.Gateway)
		if err != nil || !gateway.Is4() {
			return fmt.Errorf("sandbox %s: gateway %q is not an IPv4 address", p.ID, p.Gateway)
		}
		var mac net.HardwareAddr
		if p.MAC != "" {
			if mac, err = net.ParseMAC(p.MAC); err != nil || len(mac) != 6 {
				return fmt.Errorf("sandbox %s: %q is not a MAC address", p.ID, p.MAC)
			}
		}
		prefixes := &nftables.Set{Table: table, Name: fmt.Sprintf("p%d", i), KeyType: nftables.TypeIPAddr, Interval: true}
		if err := c.AddSet(prefixes, intervalElements(lists[p.ID].Prefixes())); err != nil {
			return err
		}
		fresh := &nftables.Set{
			Table: table, Name: fmt.Sprintf("r%d", i), KeyType: nftables.TypeIPAddr, HasTimeout: true, Size: MaxResolvedPerSandbox,
		}
		var freshElements, keptElements []nftables.SetElement
		for addr, until := range remembered[p.ID] {
			keptElements = append(keptElements, nftables.SetElement{Key: addr.AsSlice()})
			if left := time.Until(until); left > time.Second {
				freshElements = append(freshElements, nftables.SetElement{Key: addr.AsSlice(), Timeout: left})
			}
		}
		if err := c.AddSet(fresh, freshElements); err != nil {
			return err
		}
		kept := &nftables.Set{Table: table, Name: fmt.Sprintf("k%d", i), KeyType: nftables.TypeIPAddr, Size: MaxResolvedPerSandbox}
		if err := c.AddSet(kept, keptElements); err != nil {
			return err
		}
		sets[p.ID] = resolvedSets{fresh: fresh, kept: kept}
		rule := func(chain *nftables.Chain, from []expr.Any, exprs ...expr.Any) *nftables.Rule {
			return c.AddRule(&nftables.Rule{Table: table, Chain: chain, Exprs: append(append([]expr.Any{}, from...), exprs...)})
		}
		// First, every packet of a connection the sandbox opened, both ways, is judged
		// again by where it goes: a destination taken off the list ends the
		// connections already open to it, at their next packet. An address whose
		// answer's time ran out keeps its open connections while its name is allowed.
		// (Judged by the packets' own addresses, which NAT has not changed here:
		// masquerading rewrites the source after this hook, and undoes it before.)
		out := append(append(fromSandbox(ip, mac), direction(ctDirOriginal)...), ctState(expr.CtStateBitESTABLISHED)...)
		rule(forward, out, append(toSet(prefixes), verdict(expr.VerdictAccept))...)
		rule(forward, out, append(toSet(kept), verdict(expr.VerdictAccept))...)
		rule(forward, out, toRefuse)
		back := append(append(toSandbox(ip), direction(ctDirReply)...), ctState(expr.CtStateBitESTABLISHED)...)
		rule(forward, back, append(fromSet(prefixes), verdict(expr.VerdictAccept))...)
		rule(forward, back, append(fromSet(kept), verdict(expr.VerdictAccept))...)
		rule(forward, back, verdict(expr.VerdictDrop))
		// What conntrack relates to a connection (an ICMP error about it) passes.
		rule(forward, fromSandbox(ip, mac), append(ctState(expr.CtStateBitRELATED), verdict(expr.VerdictAccept))...)
		// New connections: the allowed destinations, then refusals.
		from := fromSandbox(ip, mac)
		rule(forward, from, append(toSet(prefixes), verdict(expr.VerdictAccept))...)
		rule(forward, from, append(toSet(fresh), verdict(expr.VerdictAccept))...)
		// Each refusal is logged to the daemon (NFLOG) with the sandbox it came from, up
		// to a rate; past it, the kernel only counts them.
		unlogged := c.AddObj(&nftables.CounterObj{Table: table, Name: unloggedPrefix + shortID(p.ID)}).(*nftables.CounterObj)
		rule(forward, from, &expr.Limit{
			Type: expr.LimitTypePkts, Rate: kernelLogsPerSecond, Unit: expr.LimitTimeSecond, Burst: kernelLogsPerSecond, Over: true,
		}, &expr.Objref{Type: unix.NFT_OBJECT_COUNTER, Name: unlogged.Name}, toRefuse)
		rule(forward, from, logRefusal(p.ID), toRefuse)
		// To this host: DNS at its gateway only.
		rule(input, from, append(established(), verdict(expr.VerdictAccept))...)
		for _, proto := range []byte{unix.IPPROTO_UDP, unix.IPPROTO_TCP} {
			rule(input, from, append(append(toAddress(gateway), toPort(proto, 53)...), verdict(expr.VerdictAccept))...)
		}
		rule(input, from, toRefuse)
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
		rule(forward, toRefuse)
		rule(input, append(established(), verdict(expr.VerdictAccept))...)
		for _, proto := range []byte{unix.IPPROTO_UDP, unix.IPPROTO_TCP} {
			rule(input, append(append(toAddress(gateway), toPort(proto, 53)...), verdict(expr.VerdictAccept))...)
		}
		rule(input, toRefuse)
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	r.retire = ""
	r.table = table
	r.resolved = sets
	return nil
}

// Allow adds addresses a sandbox's allowed name resolved to, for ttl.
func (r *Rules) Allow(sandboxID string, addrs []netip.Addr, ttl time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	sets, ok := r.resolved[sandboxID]
	if !ok || len(addrs) == 0 {
		return nil
	}
	fresh := make([]nftables.SetElement, 0, len(addrs))
	kept := make([]nftables.SetElement, 0, len(addrs))
	for _, a := range addrs {
		fresh = append(fresh, nftables.SetElement{Key: a.AsSlice(), Timeout: ttl})
		kept = append(kept, nftables.SetElement{Key: a.AsSlice()})
	}
	if err := r.conn.SetAddElements(sets.fresh, fresh); err != nil {
		return err
	}
	if err := r.conn.SetAddElements(sets.kept, kept); err != nil {
		return err
	}
	return r.conn.Flush()
}

// Drop takes addresses whose answers ran out out of a sandbox's kept set.
func (r *Rules) Drop(sandboxID string, addrs []netip.Addr) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	sets, ok := r.resolved[sandboxID]
	if !ok || len(addrs) == 0 {
		return nil
	}
	elements := make([]nftables.SetElement, 0, len(addrs))
	for _, a := range addrs {
		elements = append(elements, nftables.SetElement{Key: a.AsSlice()})
	}
	if err := r.conn.SetDeleteElements(sets.kept, elements); err != nil {
		return err
	}
	// Their entries in the fresh set timed out with their answers already.
	return r.conn.Flush()
}

// Unlogged says, by sandbox short id, how many refusals the kernel counted
// without logging them since the last call.
func (r *Rules) Unlogged() map[string]uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]uint64{}
	if r.table == nil {
		return out
	}
	// Read and zeroed in one step, so no refusal is counted twice or missed between reads.
	objects, err := r.conn.ResetObjects(r.table)
	if err != nil {
		return out
	}
	for _, o := range objects {
		if counter, ok := o.(*nftables.CounterObj); ok {
			if short, ok := strings.CutPrefix(counter.Name, unloggedPrefix); ok && counter.Packets > 0 {
				out[short] = counter.Packets
			}
		}
	}
	return out
}

// Remove takes the table away: no sandbox has a policy.
func (r *Rules) Remove() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	dropTable(r.conn, r.name)
	if r.retire != "" {
		dropTable(r.conn, r.retire)
	}
	r.resolved = map[string]resolvedSets{}
	r.table = nil
	if err := r.conn.Flush(); err != nil {
		return err
	}
	r.retire = ""
	return nil
}

// intervalElements are the prefixes as a kernel interval set. The kernel
// refuses a set whose intervals overlap ("file exists"), and a list may
// name a network and an address inside it, or the same range twice: the
// ranges are merged first, so any list that parses loads.
func intervalElements(prefixes []netip.Prefix) []nftables.SetElement {
	var out []nftables.SetElement
	for _, r := range mergedRanges(prefixes) {
		out = append(out, nftables.SetElement{Key: binary.BigEndian.AppendUint32(nil, uint32(r.start))})
		if r.end <= 0xffffffff { // a range to the last address needs no end
			out = append(out, nftables.SetElement{Key: binary.BigEndian.AppendUint32(nil, uint32(r.end)), IntervalEnd: true})
		}
	}
	return out
}

// addressRange is [start, end) over IPv4 addresses; end may be 2^32.
type addressRange struct{ start, end uint64 }

// mergedRanges are the prefixes' ranges, sorted, with overlapping and
// adjacent ones joined: none overlaps another, and none touches another.
func mergedRanges(prefixes []netip.Prefix) []addressRange {
	ranges := make([]addressRange, 0, len(prefixes))
	for _, p := range prefixes {
		start := uint64(binary.BigEndian.Uint32(p.Masked().Addr().AsSlice()))
		ranges = append(ranges, addressRange{start, start + uint64(1)<<(32-p.Bits())})
	}
	slices.SortFunc(ranges, func(a, b addressRange) int { return cmp.Compare(a.start, b.start) })
	var out []addressRange
	for _, r := range ranges {
		if n := len(out); n > 0 && r.start <= out[n-1].end {
			out[n-1].end = max(out[n-1].end, r.end)
			continue
		}
		out = append(out, r)
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

// fromSandbox matches packets from a sandbox: its address, and its MAC
// address when known (the frame's source, as it came off the bridge).
func fromSandbox(ip netip.Addr, mac net.HardwareAddr) []expr.Any {
	exprs := fromAddress(ip)
	if mac == nil {
		return exprs
	}
	return append(exprs,
		&expr.Meta{Key: expr.MetaKeyIIFTYPE, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint16(unix.ARPHRD_ETHER)},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseLLHeader, Offset: 6, Len: 6},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte(mac)},
	)
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

// Conntrack directions (linux/netfilter/nf_conntrack_common.h), which x/sys does not define.
const (
	ctDirOriginal = 0
	ctDirReply    = 1
)

func toSandbox(ip netip.Addr) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ip.AsSlice()},
	}
}

func fromSet(set *nftables.Set) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Lookup{SourceRegister: 1, SetName: set.Name, SetID: set.ID},
	}
}

// direction matches a packet's direction in its connection: from the side that opened it, or back.
func direction(dir byte) []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeyDIRECTION},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{dir}},
	}
}

// ctState matches packets whose conntrack state has any of the bits.
func ctState(bits uint32) []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{
			SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(bits),
			Xor:  binaryutil.NativeEndian.PutUint32(0),
		},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
	}
}

// established matches packets of a connection conntrack already knows (and what it relates to them).
func established() []expr.Any {
	return ctState(expr.CtStateBitESTABLISHED | expr.CtStateBitRELATED)
}

func verdict(kind expr.VerdictKind) *expr.Verdict { return &expr.Verdict{Kind: kind} }

// logRefusal sends the packet to the daemon's NFLOG group, named by the sandbox's short id.
func logRefusal(sandboxID string) *expr.Log {
	return &expr.Log{
		Key:   1<<unix.NFTA_LOG_PREFIX | 1<<unix.NFTA_LOG_GROUP,
		Group: LogGroup,
		Data:  []byte(refusalPrefixLabel + shortID(sandboxID)),
	}
}

func shortID(sandboxID string) string {
	if len(sandboxID) > 12 {
		return sandboxID[:12]
	}
	return sandboxID
}
