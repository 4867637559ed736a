package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// MaxResolvedPerSandbox bounds the addresses a sandbox's names can open (and
// the daemon and the kernel keep for it): a wildcard over names someone else
// answers could otherwise grow them without end.
const MaxResolvedPerSandbox = 16384

// MaxAliasChain is how many CNAMEs an answer may follow.
const MaxAliasChain = 8

type sandbox struct {
	id   string
	list *Allowlist
	// mac, when known, is the sandbox's MAC address: a question from its
	// address but another MAC address is another sandbox's (one given the
	// address since) and gets nothing of this list.
	mac net.HardwareAddr
}

// Resolver answers each sandbox's DNS queries at its network's gateway:
// allowed names resolve (and their addresses are let through the firewall
// for as long as the answer lives), every other name has no answer.
type Resolver struct {
	// One change of the whole state at a time: a Set's merge and its
	// application are one step, so no Sync or Set lands in between.
	changeMu sync.Mutex
	mu       sync.Mutex
	// generation counts the changes made by Set and Forget. A Sync carries
	// the generation it read before taking its snapshot, and is refused
	// when the state changed since: an old snapshot never undoes a newer change.
	generation uint64
	// setAt is the generation at which each sandbox's policy was last given, by
	// sandbox id: a pruning request judges only the policies given before it looked.
	setAt    map[string]uint64
	bySource map[netip.Addr]sandbox
	// Addresses allowed names resolved to, by sandbox: for which names, until when.
	remembered map[string]map[netip.Addr]map[string]time.Time
	servers    map[string][]*dns.Server // by gateway address
	applied    string                   // the last state synced, as JSON: the same again changes nothing
	networks   []Network
	policies   []Policy
	hosts      map[string][]netip.Addr
	upstream   []string
	rules      *Rules
	refusals   *RefusalLog
	out        *json.Encoder
	outMu      sync.Mutex
}

func NewResolver(rules *Rules, hosts map[string][]netip.Addr, upstream []string) *Resolver {
	r := &Resolver{
		bySource: map[netip.Addr]sandbox{}, setAt: map[string]uint64{}, remembered: map[string]map[netip.Addr]map[string]time.Time{},
		servers: map[string][]*dns.Server{}, hosts: hosts, upstream: upstream, rules: rules,
		out: json.NewEncoder(os.Stdout),
	}
	r.refusals = NewRefusalLog(r.write)
	return r
}

// SyncProblem is a policy the daemon could not read: its sandbox reaches nothing until it is fixed.
type SyncProblem struct {
	Sandbox string `json:"sandbox"`
	Problem string `json:"problem"`
}

// ErrStale: a Sync's snapshot was taken before the daemon's latest change.
var ErrStale = errors.New("stale snapshot: the policies changed since it was taken; take a new one")

// Generation is the count of changes; a snapshot taken after reading it is
// current while it stays the same.
func (r *Resolver) Generation() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.generation
}

// Sync makes the policies the whole truth: the firewall, the resolver's
// sandboxes and the gateways it answers at. A policy it cannot read does
// not stop the others: its sandbox gets an empty list, and it is reported.
// With since, it is refused (ErrStale) when Set or Forget changed anything
// after that generation was read.
func (r *Resolver) Sync(networks []Network, policies []Policy, since *uint64) ([]SyncProblem, error) {
	r.changeMu.Lock()
	defer r.changeMu.Unlock()
	if since != nil && *since != r.Generation() {
		return nil, ErrStale
	}
	return r.apply(networks, policies)
}

func (r *Resolver) apply(networks []Network, policies []Policy) ([]SyncProblem, error) {
	// A network made a moment ago (a new egress bridge among them) is internal before its first question.
	if err := hostNetworks.Refresh(); err != nil {
		r.log(map[string]any{"error": "host networks: " + err.Error()})
	}
	state, _ := json.Marshal(map[string]any{"networks": networks, "policies": policies})
	r.mu.Lock()
	unchanged := string(state) == r.applied
	r.mu.Unlock()
	var problems []SyncProblem
	lists := map[string]*Allowlist{}
	bySource := map[netip.Addr]sandbox{}
	gateways := map[string]bool{}
	for _, n := range networks {
		gateways[n.Gateway] = true
	}
	var usable []Policy
	for _, p := range policies {
		// A policy the table cannot hold is left out (its sandbox reaches only its resolver),
		// never allowed to fail the table for every other sandbox.
		if problem := policyProblem(p); problem != "" {
			problems = append(problems, SyncProblem{Sandbox: p.ID, Problem: problem})
			continue
		}
		ip := netip.MustParseAddr(p.IP)
		if _, taken := bySource[ip]; taken {
			// Two sandboxes cannot hold one address: the snapshot is torn. Neither list is trusted.
			problems = append(problems, SyncProblem{Sandbox: p.ID, Problem: fmt.Sprintf("address %s is given to two sandboxes", p.IP)})
			other := bySource[ip].id
			lists[other] = &Allowlist{}
			bySource[ip] = sandbox{id: other, list: lists[other]}
			continue
		}
		list, err := ParseAllowlist(p.Allow)
		if err != nil {
			problems = append(problems, SyncProblem{Sandbox: p.ID, Problem: err.Error()})
			list = &Allowlist{} // fails closed: reaches nothing
		}
		lists[p.ID] = list
		mac, _ := net.ParseMAC(p.MAC) // checked by Apply
		bySource[ip] = sandbox{id: p.ID, list: list, mac: mac}
		gateways[p.Gateway] = true
		usable = append(usable, p)
	}
	if unchanged {
		return problems, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	// An address stays allowed only while a name it was resolved for still is.
	stillAllowed := map[string]map[netip.Addr]time.Time{}
	for id, addrs := range r.remembered {
		if lists[id] == nil {
			delete(r.remembered, id)
			continue
		}
		stillAllowed[id] = map[netip.Addr]time.Time{}
		for addr, names := range addrs {
			for name, until := range names {
				if !lists[id].AllowsName(name) {
					delete(names, name)
				} else if until.After(stillAllowed[id][addr]) {
					stillAllowed[id][addr] = until
				}
			}
			if len(names) == 0 {
				delete(addrs, addr)
			}
		}
	}
	if len(usable) == 0 && len(networks) == 0 {
		if err := r.rules.Remove(); err != nil {
			return problems, err
		}
	} else if err := r.rules.Apply(networks, usable, lists, stillAllowed); err != nil {
		return problems, err
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
			return problems, err
		}
		r.servers[gateway] = servers
	}
	r.applied = string(state)
	r.networks, r.policies = networks, usable
	for id := range r.setAt {
		if lists[id] == nil {
			delete(r.setAt, id)
		}
	}
	for _, p := range usable {
		if _, ok := r.setAt[p.ID]; !ok {
			r.setAt[p.ID] = r.generation
		}
	}
	r.refusals.Forget(mapOf(lists))
	return problems, nil
}

// policyProblem says what in a policy, apart from its list, the table could not hold.
func policyProblem(p Policy) string {
	if ip, err := netip.ParseAddr(p.IP); err != nil || !ip.Is4() {
		return fmt.Sprintf("address %q is not IPv4", p.IP)
	}
	if gateway, err := netip.ParseAddr(p.Gateway); err != nil || !gateway.Is4() {
		return fmt.Sprintf("gateway %q is not IPv4", p.Gateway)
	}
	if mac, err := net.ParseMAC(p.MAC); p.MAC != "" && (err != nil || len(mac) != 6) {
		return fmt.Sprintf("%q is not a MAC address", p.MAC)
	}
	return ""
}

func mapOf[V any](m map[string]V) map[string]bool {
	out := map[string]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}

// Set adds or replaces some policies and networks, leaving the others: what
// a new sandbox needs at once, without a view of every other one. A policy
// replaces any other of the same sandbox or the same address. With held
// (sandbox id to its address now, for every running sandbox on an egress
// network, as the engine showed them after the daemon's generation was
// `heldSince`), every policy given by then whose sandbox no longer holds its
// address is dropped first: an address set free and given to a new sandbox
// carries nothing of the old one's list. A policy given since is kept: its
// sandbox may have started after the engine was read. A policy it cannot
// read is an error naming it.
func (r *Resolver) Set(networks []Network, policies []Policy, held map[string]string, heldSince *uint64) error {
	for _, p := range policies {
		if _, err := ParseAllowlist(p.Allow); err != nil {
			return fmt.Errorf("sandbox %s: %w", p.ID, err)
		}
		if problem := policyProblem(p); problem != "" {
			return fmt.Errorf("sandbox %s: %s", p.ID, problem)
		}
	}
	r.changeMu.Lock()
	defer r.changeMu.Unlock()
	r.mu.Lock()
	mergedNetworks := append([]Network{}, r.networks...)
	for _, n := range networks {
		if !slices.ContainsFunc(mergedNetworks, func(m Network) bool { return m.Subnet == n.Subnet }) {
			mergedNetworks = append(mergedNetworks, n)
		}
	}
	mergedPolicies := slices.DeleteFunc(append([]Policy{}, r.policies...), func(p Policy) bool {
		if held != nil && held[p.ID] != p.IP && (heldSince == nil || r.setAt[p.ID] <= *heldSince) {
			return true
		}
		return slices.ContainsFunc(policies, func(q Policy) bool { return q.ID == p.ID || q.IP == p.IP })
	})
	mergedPolicies = append(mergedPolicies, policies...)
	r.generation++
	for _, p := range policies {
		r.setAt[p.ID] = r.generation
	}
	r.mu.Unlock()
	_, err := r.apply(mergedNetworks, mergedPolicies)
	return err
}

// Forget drops the policies of these sandboxes (removed, or being removed):
// their addresses reach nothing but their resolver until a new policy names them.
func (r *Resolver) Forget(ids []string) error {
	r.changeMu.Lock()
	defer r.changeMu.Unlock()
	r.mu.Lock()
	kept := slices.DeleteFunc(append([]Policy{}, r.policies...), func(p Policy) bool { return slices.Contains(ids, p.ID) })
	networks := r.networks
	r.generation++
	r.mu.Unlock()
	_, err := r.apply(networks, kept)
	return err
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
	if sb.mac != nil {
		if mac, ok := neighbourMAC(source.Addr().Unmap()); !ok || !bytes.Equal(mac, sb.mac) {
			reply.Rcode = dns.RcodeRefused
			return
		}
	}
	q := req.Question[0]
	labels, err := QueryLabels(q.Name)
	if err != nil {
		r.refused(sb.id, q.Name, "the name is not a hostname: "+err.Error())
		reply.Rcode = dns.RcodeRefused
		return
	}
	name := CanonicalName(labels)
	if !sb.list.AllowsLabels(labels) {
		r.refused(sb.id, name, "the name is not in the egress allowlist")
		reply.Rcode = dns.RcodeNameError
		return
	}
	if q.Qtype != dns.TypeA || q.Qclass != dns.ClassINET {
		return // IPv4 only: no AAAA, so nothing reaches around the IPv4 firewall
	}
	addrs, ttl, err := r.lookup(name, sb.list)
	if refusal, ok := err.(aliasRefused); ok {
		r.refused(sb.id, name, refusal.Error())
		reply.Rcode = dns.RcodeNameError
		return
	}
	if err != nil {
		reply.Rcode = dns.RcodeServerFailure
		return
	}
	// The list may have changed while the name was looked up: the answer is judged,
	// and its addresses let through, under the list as it is now, with no change in between.
	r.mu.Lock()
	defer r.mu.Unlock()
	current, still := r.bySource[source.Addr().Unmap()]
	if !still || current.id != sb.id || !current.list.AllowsLabels(labels) {
		reply.Rcode = dns.RcodeNameError
		return
	}
	// Rebinding: an allowed name's answer opens no internal address the list does not name.
	public := addrs[:0:0]
	for _, a := range addrs {
		if current.list.AllowsResolved(a) {
			public = append(public, a)
		} else {
			r.refused(sb.id, name, fmt.Sprintf("the name resolved to %s, an internal address the egress allowlist does not name", a))
		}
	}
	if len(public) == 0 && len(addrs) > 0 {
		reply.Rcode = dns.RcodeNameError
		return
	}
	addrs = public
	until := time.Now().Add(max(ttl, MinAllowTTL))
	if r.remembered[sb.id] == nil {
		r.remembered[sb.id] = map[netip.Addr]map[string]time.Time{}
	}
	fresh := 0
	for _, a := range addrs {
		if r.remembered[sb.id][a] == nil {
			fresh++
		}
	}
	if len(r.remembered[sb.id])+fresh > MaxResolvedPerSandbox {
		// Full: the addresses whose answers all ran out go first (with the connections
		// still open to them), so a long-lived sandbox is bounded by what is live, not by its past.
		fresh -= r.forgetExpired(sb.id, addrs)
	}
	if len(r.remembered[sb.id])+fresh > MaxResolvedPerSandbox {
		r.refused(sb.id, name, fmt.Sprintf("the sandbox's names resolved to more than %d addresses", MaxResolvedPerSandbox))
		reply.Rcode = dns.RcodeServerFailure
		return
	}
	for _, a := range addrs {
		if r.remembered[sb.id][a] == nil {
			r.remembered[sb.id][a] = map[string]time.Time{}
		}
		r.remembered[sb.id][a][name] = until
	}
	if err := r.rules.Allow(sb.id, addrs, max(ttl, MinAllowTTL)); err != nil {
		r.log(map[string]any{"sandbox": sb.id, "error": err.Error()})
		reply.Rcode = dns.RcodeServerFailure
		return
	}
	// The answer is the addresses, under the name asked: a chain of aliases
	// was followed here, and each of its names was allowed.
	for _, a := range addrs {
		reply.Answer = append(reply.Answer, &dns.A{
			Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: uint32(ttl.Seconds())},
			A:   a.AsSlice(),
		})
	}
}

// forgetExpired drops a sandbox's addresses whose every answer ran out,
// from memory and from its kernel sets; it says how many of `asked` it dropped.
// The caller holds r.mu.
func (r *Resolver) forgetExpired(sandboxID string, asked []netip.Addr) int {
	now := time.Now()
	var gone []netip.Addr
	for addr, names := range r.remembered[sandboxID] {
		live := false
		for _, until := range names {
			live = live || until.After(now)
		}
		if !live {
			gone = append(gone, addr)
			delete(r.remembered[sandboxID], addr)
		}
	}
	if err := r.rules.Drop(sandboxID, gone); err != nil {
		r.log(map[string]any{"sandbox": sandboxID, "error": err.Error()})
	}
	dropped := 0
	for _, a := range asked {
		if slices.Contains(gone, a) {
			dropped++
		}
	}
	return dropped
}

// RefusedAddress logs a connection the firewall refused; the kernel names the sandbox by its short id.
func (r *Resolver) RefusedAddress(short, destination string) {
	r.refused(r.sandboxByShortID(short), destination, "the address is not in the egress allowlist")
}

func (r *Resolver) sandboxByShortID(short string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.policies {
		if strings.HasPrefix(p.ID, short) {
			return p.ID
		}
	}
	return short
}

// CountUnlogged adds what the kernel refused past its logging rate, once a
// second, and writes the summaries of what was counted.
func (r *Resolver) CountUnlogged() {
	for range time.Tick(time.Second) {
		for short, n := range r.rules.Unlogged() {
			r.refusals.Count(r.sandboxByShortID(short), n)
		}
		r.refusals.Flush()
	}
}

// Refusals are a sandbox's newest refusals, oldest first.
func (r *Resolver) Refusals(sandboxID string) []RefusalRecord { return r.refusals.Recent(sandboxID) }

func (r *Resolver) refused(sandboxID, destination, reason string) {
	r.refusals.Add(sandboxID, destination, reason)
}

func (r *Resolver) log(fields map[string]any) {
	fields["time"] = time.Now().UTC().Format(time.RFC3339Nano)
	r.write(fields)
}

func (r *Resolver) write(fields map[string]any) {
	r.outMu.Lock()
	defer r.outMu.Unlock()
	_ = r.out.Encode(fields)
}

// ReadHosts reads `address name...` lines, as /etc/hosts has them, from a file.
func ReadHosts(path string) (map[string][]netip.Addr, error) {
	if path == "" {
		return map[string][]netip.Addr{}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseHosts(f)
}

// ParseHosts reads `address name...` lines, as /etc/hosts has them.
func ParseHosts(r io.Reader) (map[string][]netip.Addr, error) {
	hosts := map[string][]netip.Addr{}
	scan := bufio.NewScanner(r)
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
