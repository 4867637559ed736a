package main

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"sort"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
)

const tableName = "sandfleet_test_netpol"

// Apply replaces the node's table in one transaction. Forwarded IPv4 from or
// to an address of the pod range passes only when the verdicts allow it in
// both directions; a pod address no verdict names (one made since the last
// pass) passes nothing yet. Forwarded IPv6 never passes: the cluster has
// none, and a pod's link-local address must not become a way around.
func Apply(conn *nftables.Conn, podRange netip.Prefix, verdicts map[netip.Addr]Verdict) error {
	for _, family := range []nftables.TableFamily{nftables.TableFamilyIPv4, nftables.TableFamilyIPv6} {
		old := &nftables.Table{Family: family, Name: tableName}
		conn.AddTable(old) // so that the delete below finds one
		conn.DelTable(old)
	}
	drop := nftables.ChainPolicyDrop
	v6 := conn.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv6, Name: tableName})
	conn.AddChain(&nftables.Chain{
		Name: "forward", Table: v6, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &drop,
	})

	accept := nftables.ChainPolicyAccept
	table := conn.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: tableName})
	forward := conn.AddChain(&nftables.Chain{
		Name: "forward", Table: table, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept,
	})
	rule := func(exprs ...expr.Any) { conn.AddRule(&nftables.Rule{Table: table, Chain: forward, Exprs: exprs}) }
	rule(established()...)

	addrs := make([]netip.Addr, 0, len(verdicts))
	for a := range verdicts {
		addrs = append(addrs, a)
	}
	sort.Slice(addrs, func(i, j int) bool { return addrs[i].Less(addrs[j]) })
	known := &nftables.Set{Table: table, Name: "known", KeyType: nftables.TypeIPAddr}
	var elements []nftables.SetElement
	for _, a := range addrs {
		elements = append(elements, nftables.SetElement{Key: a.AsSlice()})
	}
	if err := conn.AddSet(known, elements); err != nil {
		return err
	}
	const source, destination = 12, 16
	// An unknown address of the pod range, either way: dropped.
	for _, end := range []uint32{source, destination} {
		rule(append(append(inPrefix(end, podRange), notInSet(end, known)...), &expr.Verdict{Kind: expr.VerdictDrop})...)
	}
	for i, a := range addrs {
		v := verdicts[a]
		for _, d := range []struct {
			allowed     *Ranges
			self, other uint32
			name        string
		}{{v.Egress, source, destination, "e"}, {v.Ingress, destination, source, "i"}} {
			if d.allowed == nil {
				continue
			}
			set := &nftables.Set{Table: table, Name: fmt.Sprintf("%s%d", d.name, i), KeyType: nftables.TypeIPAddr, Interval: true}
			if err := conn.AddSet(set, intervals(*d.allowed)); err != nil {
				return err
			}
			rule(append(append(isAddress(d.self, a), notInSet(d.other, set)...), &expr.Verdict{Kind: expr.VerdictDrop})...)
		}
	}
	return conn.Flush()
}

// intervals is a sorted, merged set of ranges as an interval set's elements:
// each range's first address, and the address after its last as an end.
func intervals(rs Ranges) []nftables.SetElement {
	var out []nftables.SetElement
	for _, r := range rs.Merged() {
		out = append(out, nftables.SetElement{Key: binary.BigEndian.AppendUint32(nil, r.First)})
		if r.Last != 0xffffffff {
			out = append(out, nftables.SetElement{Key: binary.BigEndian.AppendUint32(nil, r.Last+1), IntervalEnd: true})
		}
	}
	return out
}

func load(offset uint32) *expr.Payload {
	return &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4}
}

func isAddress(offset uint32, a netip.Addr) []expr.Any {
	return []expr.Any{load(offset), &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a.AsSlice()}}
}

func inPrefix(offset uint32, p netip.Prefix) []expr.Any {
	mask := binary.BigEndian.AppendUint32(nil, ^uint32(0)<<(32-p.Bits()))
	return []expr.Any{
		load(offset),
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p.Masked().Addr().AsSlice()},
	}
}

func notInSet(offset uint32, set *nftables.Set) []expr.Any {
	return []expr.Any{load(offset), &expr.Lookup{SourceRegister: 1, SetName: set.Name, SetID: set.ID, Invert: true}}
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
		&expr.Verdict{Kind: expr.VerdictAccept},
	}
}
