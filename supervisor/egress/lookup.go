package main

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/miekg/dns"
)

// aliasRefused: an allowed name is an alias (CNAME) of a name that is not allowed.
type aliasRefused struct{ alias, target string }

func (e aliasRefused) Error() string {
	return fmt.Sprintf("the name is an alias of %s, which is not in the egress allowlist", e.target)
}

// lookup resolves a name from the static hosts, else the upstream servers.
// Only A records of the name asked, or of the names its CNAME chain leads
// to, count, and every name in the chain must itself be allowed.
func (r *Resolver) lookup(name string, list *Allowlist) ([]netip.Addr, time.Duration, error) {
	if addrs, ok := r.hosts[name]; ok {
		return addrs, MinAllowTTL, nil
	}
	query := new(dns.Msg)
	query.SetQuestion(dns.Fqdn(name), dns.TypeA)
	// Room for a large answer over UDP; one still cut short (truncated) is asked again over TCP.
	query.SetEdns0(dns.DefaultMsgSize, false)
	client := &dns.Client{Timeout: 3 * time.Second, UDPSize: dns.DefaultMsgSize}
	overTCP := &dns.Client{Net: "tcp", Timeout: 3 * time.Second}
	for _, server := range r.upstream {
		answer, _, err := client.Exchange(query, server)
		if err == nil && answer.Truncated {
			answer, _, err = overTCP.Exchange(query, server)
		}
		if err != nil || answer.Truncated || answer.Rcode != dns.RcodeSuccess {
			continue
		}
		return followChain(name, answer.Answer, list)
	}
	return nil, 0, fmt.Errorf("no upstream server answered")
}

func followChain(name string, records []dns.RR, list *Allowlist) ([]netip.Addr, time.Duration, error) {
	ttl := time.Hour
	current := name
	for hop := 0; hop <= MaxAliasChain; hop++ {
		var addrs []netip.Addr
		var target string
		for _, rr := range records {
			owner, err := QueryLabels(rr.Header().Name)
			if err != nil || CanonicalName(owner) != current {
				continue
			}
			switch rr := rr.(type) {
			case *dns.A:
				if addr, ok := netip.AddrFromSlice(rr.A.To4()); ok {
					addrs = append(addrs, addr)
					ttl = min(ttl, time.Duration(rr.Hdr.Ttl)*time.Second)
				}
			case *dns.CNAME:
				labels, err := QueryLabels(rr.Target)
				if err != nil {
					return nil, 0, aliasRefused{name, rr.Target}
				}
				if !list.AllowsLabels(labels) {
					return nil, 0, aliasRefused{name, CanonicalName(labels)}
				}
				target = CanonicalName(labels)
				ttl = min(ttl, time.Duration(rr.Hdr.Ttl)*time.Second)
			}
		}
		if len(addrs) > 0 || target == "" {
			return addrs, ttl, nil
		}
		current = target
	}
	return nil, 0, fmt.Errorf("the alias chain of %s is longer than %d", name, MaxAliasChain)
}
