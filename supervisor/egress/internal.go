package main

import (
	"net"
	"net/netip"
	"sync"
	"time"

	"syscall"
)

// SpecialPrefixes are IPv4 ranges no public name should resolve to: this
// host, private networks (the engine's own bridges among them), link-local
// (cloud metadata at 169.254.169.254), shared space, and every other range
// of the IANA special-purpose registry that is not globally reachable
// (documentation, benchmarking, the old 6to4 relay, multicast, reserved).
// An allowed name that resolves to one (a name whose DNS someone else runs,
// or a service such as nip.io that answers any address asked for) would
// otherwise open it; only a CIDR in the list opens these.
var SpecialPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),    // TEST-NET-1
	netip.MustParsePrefix("192.88.99.0/24"),  // 6to4 relay anycast (deprecated)
	netip.MustParsePrefix("192.168.0.0/16"),  //
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // TEST-NET-2
	netip.MustParsePrefix("203.0.113.0/24"),  // TEST-NET-3
	netip.MustParsePrefix("224.0.0.0/4"),
	netip.MustParsePrefix("240.0.0.0/4"), // reserved, and the broadcast address
}

// HostNetworks are the networks attached to the engine's host, as the
// daemon (on the host's network) sees them: each interface's network and
// its own addresses, and every route the host holds but the default one.
// An answer pointing into them (the host's LAN, a bridge in any range) is
// internal, wherever they are numbered. They are read at start and again
// every HostNetworksEvery, since bridges and links come and go.
type HostNetworks struct {
	mu       sync.RWMutex
	own      []netip.Prefix // the host's own addresses, as /32
	networks []netip.Prefix
	// public are ranges the operator declared outside this host's concern
	// (the tests' small internet, routed on this host): their networks are
	// not internal, though the host's own addresses in them still are.
	public []netip.Prefix
}

const HostNetworksEvery = 10 * time.Second

// hostNetworks is the daemon's view, shared by every sandbox's list.
var hostNetworks = &HostNetworks{}

// Watch reads the host's networks now and every HostNetworksEvery.
func (h *HostNetworks) Watch(public []netip.Prefix, onError func(error)) {
	h.mu.Lock()
	h.public = public
	h.mu.Unlock()
	refresh := func() {
		if err := h.Refresh(); err != nil {
			onError(err)
		}
	}
	refresh()
	go func() {
		for range time.Tick(HostNetworksEvery) {
			refresh()
		}
	}()
}

// Refresh reads the interfaces' addresses and the routing tables.
func (h *HostNetworks) Refresh() error {
	var own, networks []netip.Prefix
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return err
	}
	for _, a := range addrs {
		ipnet, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		addr, ok := netip.AddrFromSlice(ipnet.IP.To4())
		if !ok {
			continue
		}
		bits, _ := ipnet.Mask.Size()
		own = append(own, netip.PrefixFrom(addr, 32))
		networks = append(networks, netip.PrefixFrom(addr, bits).Masked())
	}
	routes, err := hostRoutes()
	if err != nil {
		return err
	}
	networks = append(networks, routes...)
	h.mu.Lock()
	h.own, h.networks = own, networks
	h.mu.Unlock()
	return nil
}

// Contains says whether an address is on a network attached to this host.
func (h *HostNetworks) Contains(addr netip.Addr) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, p := range h.own {
		if p.Contains(addr) {
			return true
		}
	}
	for _, p := range h.public {
		if p.Contains(addr) {
			return false
		}
	}
	for _, p := range h.networks {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// hostRoutes are the destinations of the host's IPv4 routes, in every
// table, but the default routes (0.0.0.0/0): the networks reached from here.
func hostRoutes() ([]netip.Prefix, error) {
	raw, err := syscall.NetlinkRIB(syscall.RTM_GETROUTE, syscall.AF_INET)
	if err != nil {
		return nil, err
	}
	messages, err := syscall.ParseNetlinkMessage(raw)
	if err != nil {
		return nil, err
	}
	var out []netip.Prefix
	for _, m := range messages {
		if m.Header.Type != syscall.RTM_NEWROUTE || len(m.Data) < syscall.SizeofRtMsg {
			continue
		}
		bits := int(m.Data[1]) // rtmsg.rtm_dst_len
		if bits == 0 || bits > 32 {
			continue
		}
		attrs, err := syscall.ParseNetlinkRouteAttr(&m)
		if err != nil {
			continue
		}
		for _, a := range attrs {
			if a.Attr.Type != syscall.RTA_DST || len(a.Value) != 4 {
				continue
			}
			out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte(a.Value)), bits).Masked())
		}
	}
	return out, nil
}

// IsInternal says whether an address is special-purpose or on this host's networks.
func IsInternal(addr netip.Addr) bool {
	for _, p := range SpecialPrefixes {
		if p.Contains(addr) && !hostNetworks.isPublic(addr) {
			return true
		}
	}
	return hostNetworks.Contains(addr)
}

func (h *HostNetworks) isPublic(addr netip.Addr) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, p := range h.public {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// AllowsResolved says whether a name's answer may open an address: any
// public address, and an internal one only when a CIDR or address in the list names it.
func (a *Allowlist) AllowsResolved(addr netip.Addr) bool {
	if !IsInternal(addr) {
		return true
	}
	for _, p := range a.prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
