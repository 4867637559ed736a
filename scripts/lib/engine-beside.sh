#!/usr/bin/env bash
# sandfleet's own Docker engine, beside one the machine already runs and
# sandfleet did not start: nothing of the machine's engine is changed. Its own
# socket, pid file and exec root (its containerd) under $ENGINE_RUN_DIR, its
# own data root, configuration, default bridge, address pool and containerd
# namespace, and its own firewall rules (engine-firewall.sh).
#
#   engine-beside.sh        start it (or keep it), and point with-env at it
#   engine-beside.sh down   stop it and remove what it put on the machine (its
#                           data stays in the sparse file)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$(dirname "${BASH_SOURCE[0]}")/engine-settings.sh"
source "$(dirname "${BASH_SOURCE[0]}")/engine-storage.sh"
source "$(dirname "${BASH_SOURCE[0]}")/engine-firewall.sh"

ENGINE_HOST="unix://$ENGINE_SOCKET"
PIDFILE="$ENGINE_RUN_DIR/docker.pid"
# What the bootstrap calls it, and who uses it: another engine started the same way says its own.
ENGINE_NAME="${SANDFLEET_ENGINE_NAME:-}"
[[ -n "$ENGINE_NAME" ]] || ENGINE_NAME="sandfleet's own dockerd"
ENGINE_USED_BY="${SANDFLEET_ENGINE_USED_BY:-}"
[[ -n "$ENGINE_USED_BY" ]] || ENGINE_USED_BY="sandfleet's commands and tests use it through scripts/with-env"

# Who may reach the socket: root, and the group of the machine engine's
# socket (whoever may reach that engine is root in effect already, and nobody
# else gains it); where that socket cannot be read, $ENGINE_GROUP if it exists,
# root alone otherwise.
socket_group() {
  local machine_socket="${MACHINE_DOCKER_HOST#unix://}"
  if [[ "$MACHINE_DOCKER_HOST" == unix://* && -S "$machine_socket" ]]; then
    stat -c %G "$machine_socket"
  elif getent group "$ENGINE_GROUP" >/dev/null; then
    echo "$ENGINE_GROUP"
  else
    echo root
  fi
}

# Stops at once, saying which setting to change, when a network of the host
# already uses an address the engine would: its containers could not be reached.
refuse_overlap() {
  local net="$1" setting="$2" routes
  routes="$({ ip -4 route show root "$net"; ip -4 route show match "$net"; } | grep -v '^default' || true)"
  [[ -z "$routes" ]] ||
    die "$net ($setting) overlaps a network of this host: $(head -n 1 <<<"$routes"); set $setting to a free range"
}

make_bridge() {
  ip link show "$ENGINE_BRIDGE" >/dev/null 2>&1 && return 0
  refuse_overlap "$ENGINE_BRIDGE_CIDR" SANDFLEET_ENGINE_BRIDGE_CIDR
  refuse_overlap "$ENGINE_POOL" SANDFLEET_ENGINE_POOL
  ip link add "$ENGINE_BRIDGE" type bridge
  ip addr add "$ENGINE_BRIDGE_CIDR" dev "$ENGINE_BRIDGE"
  ip link set "$ENGINE_BRIDGE" up
}

# With an address pool of its own and without live-restore, a dockerd that
# restarts deletes the host's docker0 (a name it takes for its own default
# bridge's, whatever its bridge is), which belongs to the machine's engine:
# live-restore keeps it from that. It also keeps containers running while
# dockerd is down, so `down` stops them first.
config() {
  local extra=""
  if [[ -n "$ENGINE_EXTRA_CONFIG" ]]; then extra=$'\n  '"$ENGINE_EXTRA_CONFIG"; fi
  cat <<JSON
{
  "hosts": ["$ENGINE_HOST"],
  "group": "$(socket_group)",
  "pidfile": "$PIDFILE",
  "exec-root": "$ENGINE_RUN_DIR/engine",
  "data-root": "$DATA_ROOT",
  "storage-driver": "btrfs",
  "containerd-namespace": "sandfleet",
  "containerd-plugins-namespace": "sandfleet-plugins",
  "bridge": "$ENGINE_BRIDGE",
  "default-address-pools": [{ "base": "$ENGINE_POOL", "size": 24 }],
  "live-restore": true,
  "iptables": false,
  "ip6tables": false,
  "insecure-registries": $ENGINE_REGISTRIES,$extra
  "runtimes": $ENGINE_RUNTIMES
}
JSON
}

up() {
  command -v nft >/dev/null 2>&1 || apt_install nftables
  prepare_data_root
  mkdir -p "$ENGINE_RUN_DIR"
  chown "root:$(socket_group)" "$ENGINE_RUN_DIR"
  chmod 0750 "$ENGINE_RUN_DIR"
  make_bridge
  # Its firewall before its engine: no moment where its networks forward unjudged.
  firewall_up
  local wanted changed=0
  wanted="$(config)"
  if [[ "$(cat "$ENGINE_CONFIG" 2>/dev/null)" != "$wanted" ]]; then
    mkdir -p "$(dirname "$ENGINE_CONFIG")"
    printf '%s\n' "$wanted" >"$ENGINE_CONFIG"
    changed=1
  fi
  if engine_answers_at "$ENGINE_HOST"; then
    # dockerd reloads its runtimes and registries on SIGHUP.
    if ((changed)); then signal_engine "$PIDFILE" HUP; fi
  else
    say "starting $ENGINE_NAME at $ENGINE_HOST, beside the machine's engine, which is left as it is (log: $ENGINE_LOG)"
    clear_stale_pidfile "$PIDFILE"
    # A containerd that died with a dockerd leaves a pid file a new one would wait on.
    clear_stale_pidfile "$ENGINE_RUN_DIR/engine/containerd/containerd.pid"
    # Its log names containers, networks and failures: for root alone.
    touch "$ENGINE_LOG" && chmod 0600 "$ENGINE_LOG"
    setsid dockerd --config-file="$ENGINE_CONFIG" >"$ENGINE_LOG" 2>&1 </dev/null &
    wait_for_engine "$ENGINE_HOST" $!
    say "$ENGINE_USED_BY; elsewhere: export DOCKER_HOST=$ENGINE_HOST"
  fi
  docker -H "$ENGINE_HOST" info --format '{{json .Runtimes}}' | grep -q runsc ||
    die "sandfleet's engine does not list runsc as a runtime"
  mkdir -p "$(dirname "$SANDFLEET_ENGINE_HOST_FILE")"
  printf '%s\n' "$ENGINE_HOST" >"$SANDFLEET_ENGINE_HOST_FILE"
}

down() {
  if engine_answers_at "$ENGINE_HOST"; then
    docker -H "$ENGINE_HOST" ps -q | xargs -r docker -H "$ENGINE_HOST" stop -t 10 >/dev/null
  fi
  if [[ -s "$PIDFILE" ]]; then
    local pid
    pid="$(cat "$PIDFILE")"
    signal_engine "$PIDFILE" TERM
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  fi
  firewall_down
  # The bridges of its own networks, which dockerd keeps when it stops.
  ip -4 route show root "$ENGINE_POOL" | awk '{for (i = 1; i < NF; i++) if ($i == "dev") print $(i + 1)}' |
    while read -r bridge; do ip link del "$bridge" 2>/dev/null || true; done
  if ip link show "$ENGINE_BRIDGE" >/dev/null 2>&1; then ip link del "$ENGINE_BRIDGE"; fi
  if mountpoint -q "$DATA_ROOT"; then umount "$DATA_ROOT"; fi
  # The engine file stays: with-env keeps naming this engine (now unreachable, and
  # saying so), never falling back to the machine's. The next bootstrap starts it again.
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  *) die "usage: engine-beside.sh [up|down]" ;;
esac
