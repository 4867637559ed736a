package main

import (
	"bufio"
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// MinAllowTTL is the least time a resolved address stays allowed: a program
// may connect a little after it looked the name up.
const MinAllowTTL = 60 * time.Second

type resolvedAddr struct {
	until time.Time
	name  string
}

type sandbox struct {
	id   string
	list *Allowlist
}

// Resolver answers each sandbox's DNS queries at its network's gateway:
// allowed names resolve (and their addresses are let through the firewall
// for as long as the answer lives), every other name has no answer.
type Resolver struct {
	mu         sync.Mutex
	bySource   map[netip.Addr]sandbox
	// Addresses allowed names resolved to, by sandbox: until when, and for which name.
	remembered map[string]map[netip.Addr]resolvedAddr
	servers    map[string][]*dns.Server // by gateway address
	applied    string                   // the last state synced, as JSON: the same again changes nothing
	networks   []Network
	policies   []Policy
	hosts      map[string][]netip.Addr
	upstream   []string
	rules      *Rules
	out        *json.Encoder
	outMu      sync.Mutex
}

func NewResolver(rules *Rules, hosts map[string][]netip.Addr, upstream []string) *Resolver {
	return &Resolver{
		bySource: map[netip.Addr]sandbox{}, remembered: map[string]map[netip.Addr]resolvedAddr{},
		servers: map[string][]*dns.Server{}, hosts: hosts, upstream: upstream, rules: rules,
		out: json.NewEncoder(os.Stdout),
	}
}

// Sync makes the policies the whole truth: the firewall, the resolver's
// sandboxes and the gateways it answers at.
func (r *Resolver) Sync(networks []Network, policies []Policy) error {
	state, _ := json.Marshal(map[string]any{"networks": networks, "policies": policies})
	r.mu.Lock()
	unchanged := string(state) == r.applied
	r.mu.Unlock()
	if unchanged {
		return nil
	}
	lists := map[string]*Allowlist{}
	bySource := map[netip.Addr]sandbox{}
	gateways := map[string]bool{}
	for _, n := range networks {
		gateways[n.Gateway] = true
	}
	for _, p := range policies {
		list, err := ParseAllowlist(p.Allow)
		if err != nil {
			return err
		}
		ip, err := netip.ParseAddr(p.IP)
		if err != nil {
			return err
		}
		lists[p.ID] = list
		bySource[ip] = sandbox{id: p.ID, list: list}
		gateways[p.Gateway] = true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	// An address stays allowed only while the name it was resolved for still is.
	stillAllowed := map[string]map[netip.Addr]time.Time{}
	for id, addrs := range r.remembered {
		if lists[id] == nil {
			delete(r.remembered, id)
			continue
		}
		stillAllowed[id] = map[netip.Addr]time.Time{}
		for addr, resolved := range addrs {
			if lists[id].AllowsName(resolved.name) {
				stillAllowed[id][addr] = resolved.until
			} else {
				delete(addrs, addr)
			}
		}
	}
	if len(policies) == 0 && len(networks) == 0 {
		if err := r.rules.Remove(); err != nil {
			return err
		}
	} else if err := r.rules.Apply(networks, policies, lists, stillAllowed); err != nil {
		return err
	}
	r.bySource = bySource
	for gateway, servers := range r.servers {
		if !gateways[gateway] {
			for _, s := range servers {
				_ = s.Shutdown()
			}
			delete(r.servers, gateway)
		}
	}
	for gateway := range gateways {
		if r.servers[gateway] != nil {
			continue
		}
		servers, err := r.listen(gateway)
		if err != nil {
			return err
		}
		r.servers[gateway] = servers
	}
	r.applied = string(state)
	r.networks, r.policies = networks, policies
	return nil
}

// Set adds or replaces some policies and networks, leaving the others: what
// a new sandbox needs at once, without a view of every other one.
func (r *Resolver) Set(networks []Network, policies []Policy) error {
	r.mu.Lock()
	mergedNetworks := append([]Network{}, r.networks...)
	for _, n := range networks {
		if !slices.ContainsFunc(mergedNetworks, func(m Network) bool { return m.Subnet == n.Subnet }) {
			mergedNetworks = append(mergedNetworks, n)
		}
	}
	mergedPolicies := slices.DeleteFunc(append([]Policy{}, r.policies...), func(p Policy) bool {
		return slices.ContainsFunc(policies, func(q Policy) bool { return q.ID == p.ID || q.IP == p.IP })
	})
	mergedPolicies = append(mergedPolicies, policies...)
	r.mu.Unlock()
	return r.Sync(mergedNetworks, mergedPolicies)
}

func (r *Resolver) listen(gateway string) ([]*dns.Server, error) {
	address := net.JoinHostPort(gateway, "53")
	udp, err := net.ListenPacket("udp", address)
	if err != nil {
		return nil, err
	}
	tcp, err := net.Listen("tcp", address)
	if err != nil {
		udp.Close()
		return nil, err
	}
	servers := []*dns.Server{{PacketConn: udp, Handler: r}, {Listener: tcp, Handler: r}}
	for _, s := range servers {
		go func() { _ = s.ActivateAndServe() }()
	}
	return servers, nil
}

func (r *Resolver) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	reply := new(dns.Msg)
	reply.SetReply(req)
	defer func() { _ = w.WriteMsg(reply) }()
	source, _ := netip.ParseAddrPort(w.RemoteAddr().String())
	r.mu.Lock()
	sb, known := r.bySource[source.Addr().Unmap()]
	r.mu.Unlock()
	if !known || len(req.Question) != 1 {
		reply.Rcode = dns.RcodeRefused
		return
	}
	q := req.Question[0]
	name := strings.TrimSuffix(strings.ToLower(q.Name), ".")
	if !sb.list.AllowsName(name) {
		r.refused(sb.id, name, "the name is not in the egress allowlist")
		reply.Rcode = dns.RcodeNameError
		return
	}
	if q.Qtype != dns.TypeA {
		return // IPv4 only: no AAAA, so nothing reaches around the IPv4 firewall
	}
	addrs, ttl, ok := r.lookup(name)
	if !ok {
		reply.Rcode = dns.RcodeServerFailure
		return
	}
	until := time.Now().Add(max(ttl, MinAllowTTL))
	r.mu.Lock()
	if r.remembered[sb.id] == nil {
		r.remembered[sb.id] = map[netip.Addr]resolvedAddr{}
	}
	for _, a := range addrs {
		r.remembered[sb.id][a] = resolvedAddr{until: until, name: name}
	}
	r.mu.Unlock()
	if err := r.rules.Allow(sb.id, addrs, max(ttl, MinAllowTTL)); err != nil {
		r.log(map[string]any{"sandbox": sb.id, "error": err.Error()})
		reply.Rcode = dns.RcodeServerFailure
		return
	}
	for _, a := range addrs {
		reply.Answer = append(reply.Answer, &dns.A{
			Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: uint32(ttl.Seconds())},
			A:   a.AsSlice(),
		})
	}
}

// lookup resolves a name from the static hosts, else the upstream servers.
func (r *Resolver) lookup(name string) ([]netip.Addr, time.Duration, bool) {
	if addrs, ok := r.hosts[name]; ok {
		return addrs, MinAllowTTL, true
	}
	query := new(dns.Msg)
	query.SetQuestion(dns.Fqdn(name), dns.TypeA)
	client := &dns.Client{Timeout: 3 * time.Second}
	for _, server := range r.upstream {
		answer, _, err := client.Exchange(query, server)
		if err != nil || answer.Rcode != dns.RcodeSuccess {
			continue
		}
		var addrs []netip.Addr
		ttl := time.Hour
		for _, rr := range answer.Answer {
			if a, ok := rr.(*dns.A); ok {
				if addr, ok := netip.AddrFromSlice(a.A.To4()); ok {
					addrs = append(addrs, addr)
					ttl = min(ttl, time.Duration(a.Hdr.Ttl)*time.Second)
				}
			}
		}
		return addrs, ttl, true
	}
	return nil, 0, false
}

// RefusedAddress logs a connection the firewall refused; the kernel names the sandbox by its short id.
func (r *Resolver) RefusedAddress(short, destination string) {
	r.mu.Lock()
	id := short
	for _, p := range r.policies {
		if strings.HasPrefix(p.ID, short) {
			id = p.ID
		}
	}
	r.mu.Unlock()
	r.refused(id, destination, "the address is not in the egress allowlist")
}

func (r *Resolver) refused(sandboxID, destination, reason string) {
	r.log(map[string]any{"sandbox": sandboxID, "destination": destination, "reason": reason, "refused": true})
}

func (r *Resolver) log(fields map[string]any) {
	fields["time"] = time.Now().UTC().Format(time.RFC3339Nano)
	r.outMu.Lock()
	defer r.outMu.Unlock()
	_ = r.out.Encode(fields)
}

// ReadHosts reads `address name...` lines, as /etc/hosts has them.
func ReadHosts(path string) (map[string][]netip.Addr, error) {
	hosts := map[string][]netip.Addr{}
	if path == "" {
		return hosts, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	scan := bufio.NewScanner(f)
	for scan.Scan() {
		fields := strings.Fields(strings.SplitN(scan.Text(), "#", 2)[0])
		if len(fields) < 2 {
			continue
		}
		addr, err := netip.ParseAddr(fields[0])
		if err != nil || !addr.Is4() {
			continue
		}
		for _, name := range fields[1:] {
			hosts[strings.ToLower(name)] = append(hosts[strings.ToLower(name)], addr)
		}
	}
	return hosts, scan.Err()
}

// Nameservers reads the upstream servers from a resolv.conf.
func Nameservers(path string) []string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(raw), "\n") {
		fields := strings.Fields(line)
		if len(fields) >= 2 && fields[0] == "nameserver" {
			if addr, err := netip.ParseAddr(fields[1]); err == nil && addr.Is4() && !addr.IsLoopback() {
				out = append(out, net.JoinHostPort(fields[1], "53"))
			}
		}
	}
	return out
}
