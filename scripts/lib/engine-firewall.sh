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
# rule, wherever the machine engine puts its own jumps when it restarts. What
# the table lets through it marks, and the iptables chain accepts only marked
# packets (Docker sets FORWARD's policy to DROP), refuses once more what would
# get into its networks, and adds the NAT. So a lost table (`nft flush
# ruleset`, a start before it is placed) fails closed: nothing of sandfleet's
# is forwarded until the bootstrap places it again.
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
#   - a packet that comes from its default bridge with a source outside its
#     networks is dropped: a container there (a plain `docker run`, a build
#     step) with NET_RAW cannot send as an address the rules below do not
#     judge; and no IPv6 crosses that bridge (its engine runs without IPv6).
#     Its other networks' bridges cannot be told by name from another
#     engine's (sandfleet's app networks are `sfl-`/`sfi-` on every engine);
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

# Where its chain's jump goes in FORWARD: right after an administrator's
# DOCKER-USER, whose rules then hold for sandfleet's traffic too; else first.
forward_position() {
  local at
  at="$(iptables -w -S FORWARD | grep -v '^-P' | grep -n -m 1 -- '-j DOCKER-USER$' | cut -d: -f1 || true)"
  echo $((${at:-0} + 1))
}

# The table, placed (or replaced) whole in one transaction: there is no moment
# without it. Placed before the engine starts, and again on every bootstrap.
firewall_table() {
  local nets="$1" bridge="\"$ENGINE_BRIDGE\""
  quiet nft -f /dev/stdin <<NFT
table ip $ENGINE_NFT_TABLE
delete table ip $ENGINE_NFT_TABLE
table inet $ENGINE_NFT_TABLE
delete table inet $ENGINE_NFT_TABLE
table inet $ENGINE_NFT_TABLE {
  chain forward {
    type filter hook forward priority -3; policy accept;
    meta nfproto ipv6 iifname $bridge drop
    meta nfproto ipv6 oifname $bridge drop
    iifname $bridge ip saddr != { $nets } drop
    ip saddr { $nets } fib saddr . iif oif missing drop
    ip saddr { $nets } ip daddr != { $nets } meta oifkind "bridge" drop
    ip daddr { $nets } ct state established,related meta mark set meta mark | $ENGINE_MARK accept
    ip daddr { $nets } fib daddr . iif oif missing drop
    ip saddr { $nets } meta mark set meta mark | $ENGINE_MARK
  }
}
NFT
}

firewall_up() {
  local nets
  nets="$(engine_networks)"
  firewall_table "$nets"
  for table in filter nat; do
    iptables -w -t "$table" -N "$ENGINE_CHAIN" 2>/dev/null || iptables -w -t "$table" -F "$ENGINE_CHAIN"
  done
  iptables -w -A "$ENGINE_CHAIN" -m mark --mark "$ENGINE_MARK/$ENGINE_MARK" -j ACCEPT
  iptables -w -A "$ENGINE_CHAIN" -d "$nets" -j DROP
  iptables -w -t nat -A "$ENGINE_CHAIN" -d "$nets" -j RETURN
  iptables -w -t nat -A "$ENGINE_CHAIN" -s "$nets" -j MASQUERADE
  # Early in FORWARD, as the machine engine's own jumps are: a firewall that
  # refuses forwarding (Docker sets FORWARD's policy to DROP) would refuse these
  # too. Placed again each time, so that it is where it belongs after an upgrade
  # (for that moment its traffic is refused, never let through unjudged).
  while iptables -w -D FORWARD -j "$ENGINE_CHAIN" 2>/dev/null; do :; done
  iptables -w -I FORWARD "$(forward_position)" -j "$ENGINE_CHAIN"
  iptables -w -t nat -C POSTROUTING -j "$ENGINE_CHAIN" 2>/dev/null ||
    iptables -w -t nat -A POSTROUTING -j "$ENGINE_CHAIN"
}

firewall_down() {
  while iptables -w -D FORWARD -j "$ENGINE_CHAIN" 2>/dev/null; do :; done
  while iptables -w -t nat -D POSTROUTING -j "$ENGINE_CHAIN" 2>/dev/null; do :; done
  for table in filter nat; do
    iptables -w -t "$table" -F "$ENGINE_CHAIN" 2>/dev/null || true
    iptables -w -t "$table" -X "$ENGINE_CHAIN" 2>/dev/null || true
  done
  nft delete table inet "$ENGINE_NFT_TABLE" 2>/dev/null || true
  nft delete table ip "$ENGINE_NFT_TABLE" 2>/dev/null || true
}
