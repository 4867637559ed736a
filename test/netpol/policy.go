package main

import (
	"net/netip"
	"sort"
)

// The parts of the Kubernetes API this enforcer reads.
type (
	Selector struct {
		MatchLabels      map[string]string `json:"matchLabels"`
		MatchExpressions []struct {
			Key      string   `json:"key"`
			Operator string   `json:"operator"`
			Values   []string `json:"values"`
		} `json:"matchExpressions"`
	}
	Peer struct {
		PodSelector       *Selector `json:"podSelector"`
		NamespaceSelector *Selector `json:"namespaceSelector"`
		IPBlock           *struct {
			CIDR   string   `json:"cidr"`
			Except []string `json:"except"`
		} `json:"ipBlock"`
	}
	Rule struct {
		From  []Peer           `json:"from"`
		To    []Peer           `json:"to"`
		Ports []map[string]any `json:"ports"`
	}
	Policy struct {
		Namespace   string
		PodSelector Selector
		Types       []string
		Ingress     []Rule
		Egress      []Rule
	}
	Pod struct {
		Namespace string
		Labels    map[string]string
		IP        netip.Addr
	}
)

// Matches says whether labels satisfy a selector; an empty selector matches everything.
func (s *Selector) Matches(labels map[string]string) bool {
	if s == nil {
		return true
	}
	for k, v := range s.MatchLabels {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	for _, e := range s.MatchExpressions {
		value, has := labels[e.Key]
		in := false
		for _, v := range e.Values {
			in = in || (has && v == value)
		}
		switch e.Operator {
		case "In":
			if !in {
				return false
			}
		case "NotIn":
			if in {
				return false
			}
		case "Exists":
			if !has {
				return false
			}
		case "DoesNotExist":
			if has {
				return false
			}
		default:
			return false // an operator this enforcer does not know matches nothing: closed, not open
		}
	}
	return true
}

func (p Policy) has(kind string) bool {
	if len(p.Types) == 0 {
		return kind == "Ingress" || len(p.Egress) > 0
	}
	for _, t := range p.Types {
		if t == kind {
			return true
		}
	}
	return false
}

// Verdict is one pod's isolation: for each direction, nil when no policy
// isolates it (everything passes), else the address ranges it may talk to.
type Verdict struct {
	Egress, Ingress *Ranges
}

// Decide applies the policies to every pod with an address. A rule with
// ports allows nothing here: this enforcer serves sandfleet's tests, whose
// policies name no ports, and it errs on the closed side.
func Decide(pods []Pod, namespaces map[string]map[string]string, policies []Policy) map[netip.Addr]Verdict {
	peerRanges := func(policy Policy, peers []Peer) Ranges {
		var out Ranges
		if len(peers) == 0 {
			return Ranges{{0, 0xffffffff}}
		}
		for _, peer := range peers {
			if peer.IPBlock != nil {
				block, err := netip.ParsePrefix(peer.IPBlock.CIDR)
				if err != nil || !block.Addr().Is4() {
					continue
				}
				r := Ranges{prefixRange(block)}
				for _, except := range peer.IPBlock.Except {
					if e, err := netip.ParsePrefix(except); err == nil && e.Addr().Is4() {
						r = r.Minus(prefixRange(e))
					}
				}
				out = append(out, r...)
				continue
			}
			for _, pod := range pods {
				inNamespace := pod.Namespace == policy.Namespace
				if peer.NamespaceSelector != nil {
					inNamespace = peer.NamespaceSelector.Matches(namespaces[pod.Namespace])
				}
				if inNamespace && peer.PodSelector.Matches(pod.Labels) {
					out = append(out, Range{ip4(pod.IP), ip4(pod.IP)})
				}
			}
		}
		return out
	}
	verdicts := map[netip.Addr]Verdict{}
	for _, pod := range pods {
		var v Verdict
		for _, policy := range policies {
			if policy.Namespace != pod.Namespace || !policy.PodSelector.Matches(pod.Labels) {
				continue
			}
			for _, kind := range []string{"Ingress", "Egress"} {
				if !policy.has(kind) {
					continue
				}
				target, rules := &v.Ingress, policy.Ingress
				if kind == "Egress" {
					target, rules = &v.Egress, policy.Egress
				}
				if *target == nil {
					*target = &Ranges{}
				}
				for _, rule := range rules {
					if len(rule.Ports) > 0 {
						continue
					}
					peers := rule.From
					if kind == "Egress" {
						peers = rule.To
					}
					**target = append(**target, peerRanges(policy, peers)...)
				}
			}
		}
		for _, r := range []*Ranges{v.Egress, v.Ingress} {
			if r != nil {
				*r = r.Merged()
			}
		}
		verdicts[pod.IP] = v
	}
	return verdicts
}

// Range is an inclusive span of IPv4 addresses.
type Range struct{ First, Last uint32 }

type Ranges []Range

func ip4(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func prefixRange(p netip.Prefix) Range {
	p = p.Masked()
	first := ip4(p.Addr())
	return Range{first, first | uint32(uint64(1)<<(32-p.Bits())-1)}
}

// Merged sorts the ranges and joins those that touch or overlap.
func (rs Ranges) Merged() Ranges {
	sorted := append(Ranges{}, rs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].First < sorted[j].First })
	var out Ranges
	for _, r := range sorted {
		if n := len(out); n > 0 && (out[n-1].Last == 0xffffffff || r.First <= out[n-1].Last+1) {
			if r.Last > out[n-1].Last {
				out[n-1].Last = r.Last
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

// Minus removes one range from each of these.
func (rs Ranges) Minus(cut Range) Ranges {
	var out Ranges
	for _, r := range rs {
		if cut.Last < r.First || cut.First > r.Last {
			out = append(out, r)
			continue
		}
		if cut.First > r.First {
			out = append(out, Range{r.First, cut.First - 1})
		}
		if cut.Last < r.Last {
			out = append(out, Range{cut.Last + 1, r.Last})
		}
	}
	return out
}
