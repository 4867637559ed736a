# shellcheck shell=bash
# The firewall of sandfleet's own engine beside the machine's. Sourced, not
# run; needs engine-settings.sh.
#
# Each dockerd clears the iptables chains it names (DOCKER, DOCKER-ISOLATION-*)
# when it starts, and both engines would name the same ones: sandfleet's engine
# runs with iptables off, so that it never touches the machine engine's rules,
# and this puts in what its networks need instead, in a chain and a table of
# its own. They speak only of its own addresses (its bridge's and its pool's).
# What is refused, the nftables table refuses: it runs before every iptables
# rule, wherever the machine engine puts its own jumps when it restarts. The
# iptables chain accepts the rest, since Docker sets FORWARD's policy to DROP
# (and refuses once more what would get into its networks), and adds the NAT.
#
#   - replies into its networks pass, and so do frames between two sandboxes
#     on one bridge (br_netfilter hands those to the forward hook too);
#   - nothing else gets into its networks (a packet whose destination is not
#     routed through the interface it came in on): not from another of its
#     networks (Docker's own isolation), not from the machine engine's
#     containers, not from outside;
#   - a packet with one of its addresses that did not come from the bridge
#     that address belongs to is dropped (reverse path): a container elsewhere
#     cannot pass for one of its own to get past the rules below;
#   - from its networks, anything that does not go into a bridge of the host
#     passes (nftables knows an interface's kind; iptables does not), with
#     NAT; a packet to another bridge (the machine engine's containers among
#     them) is dropped.
#
# sandfleet's guard (the egress daemon's nftables table) still decides what
# each app network may reach, before any of this.

# The networks of sandfleet's engine, as CIDRs: its bridge's and its pool.
engine_networks() {
  local bridge_net
  bridge_net="$(ip -4 route show dev "$ENGINE_BRIDGE" proto kernel scope link | awk '{print $1; exit}')"
  [[ -n "$bridge_net" ]] || die "bridge $ENGINE_BRIDGE has no IPv4 network"
  printf '%s,%s' "$bridge_net" "$ENGINE_POOL"
}

firewall_up() {
  local nets
  nets="$(engine_networks)"
  for table in filter nat; do
    iptables -w -t "$table" -N "$ENGINE_CHAIN" 2>/dev/null || iptables -w -t "$table" -F "$ENGINE_CHAIN"
  done
  iptables -w -A "$ENGINE_CHAIN" -d "$nets" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
  iptables -w -A "$ENGINE_CHAIN" -s "$nets" -d "$nets" -m physdev --physdev-is-bridged -j ACCEPT
  iptables -w -A "$ENGINE_CHAIN" -d "$nets" -j DROP
  iptables -w -A "$ENGINE_CHAIN" -s "$nets" -j ACCEPT
  iptables -w -t nat -A "$ENGINE_CHAIN" -d "$nets" -j RETURN
  iptables -w -t nat -A "$ENGINE_CHAIN" -s "$nets" -j MASQUERADE
  # First in FORWARD, as the machine engine's own jumps are: a firewall that
  # refuses forwarding (Docker sets FORWARD's policy to DROP) would refuse these too.
  iptables -w -C FORWARD -j "$ENGINE_CHAIN" 2>/dev/null || iptables -w -I FORWARD 1 -j "$ENGINE_CHAIN"
  iptables -w -t nat -C POSTROUTING -j "$ENGINE_CHAIN" 2>/dev/null ||
    iptables -w -t nat -A POSTROUTING -j "$ENGINE_CHAIN"
  # Replaced whole in one transaction: there is no moment without it.
  quiet nft -f /dev/stdin <<NFT
table ip $ENGINE_NFT_TABLE
delete table ip $ENGINE_NFT_TABLE
table ip $ENGINE_NFT_TABLE {
  chain forward {
    type filter hook forward priority -3; policy accept;
    ip saddr { $nets } fib saddr . iif oif missing drop
    ip saddr { $nets } ip daddr != { $nets } meta oifkind "bridge" drop
    ip daddr { $nets } ct state established,related accept
    ip daddr { $nets } fib daddr . iif oif missing drop
  }
}
NFT
}

firewall_down() {
  while iptables -w -D FORWARD -j "$ENGINE_CHAIN" 2>/dev/null; do :; done
  while iptables -w -t nat -D POSTROUTING -j "$ENGINE_CHAIN" 2>/dev/null; do :; done
  for table in filter nat; do
    iptables -w -t "$table" -F "$ENGINE_CHAIN" 2>/dev/null || true
    iptables -w -t "$table" -X "$ENGINE_CHAIN" 2>/dev/null || true
  done
  nft delete table ip "$ENGINE_NFT_TABLE" 2>/dev/null || true
}
