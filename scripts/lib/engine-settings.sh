# shellcheck shell=bash disable=SC2034 # settings, used by the scripts that source this
# Where the machine's engine is, and where sandfleet's own engine keeps its
# parts. Sourced, not run. Each can be set from the environment, which is how
# a test points the engine step at an engine of its own making instead of the
# machine's (test/integration/bootstrap-engine.test.ts).

# The machine's engine: the socket, configuration and pid file every Docker
# client and service on the machine uses by default.
MACHINE_DOCKER_HOST="${SANDFLEET_MACHINE_DOCKER_HOST:-unix:///var/run/docker.sock}"
MACHINE_DAEMON_JSON="${SANDFLEET_MACHINE_DAEMON_JSON:-/etc/docker/daemon.json}"
MACHINE_PIDFILE="${SANDFLEET_MACHINE_PIDFILE:-/var/run/docker.pid}"

# sandfleet's engine data, on btrfs in a sparse file, loop-mounted. The engine
# the bootstrap started on the machine's socket is known by this data root.
DATA_ROOT="${SANDFLEET_ENGINE_DATA_ROOT:-/var/lib/sandfleet-docker}"
STORAGE_FILE="${SANDFLEET_ENGINE_STORAGE_FILE:-$SANDFLEET_CACHE/docker-btrfs.img}"
STORAGE_SIZE="${SANDFLEET_ENGINE_STORAGE_SIZE:-64G}"
ENGINE_LOG="${SANDFLEET_ENGINE_LOG:-/var/log/sandfleet-dockerd.log}"

# sandfleet's own engine beside the machine's: its socket, pid file and exec
# root (with the containerd it starts) under one directory; its own default
# bridge and address pool, which no Docker default uses; its firewall chain
# (iptables) and table (nftables).
ENGINE_RUN_DIR="${SANDFLEET_ENGINE_RUN_DIR:-/run/sandfleet}"
ENGINE_SOCKET="$ENGINE_RUN_DIR/docker.sock"
ENGINE_CONFIG="${SANDFLEET_ENGINE_CONFIG:-/etc/sandfleet/docker.json}"
ENGINE_BRIDGE="${SANDFLEET_ENGINE_BRIDGE:-sandfleet0}"
ENGINE_BRIDGE_CIDR="${SANDFLEET_ENGINE_BRIDGE_CIDR:-10.212.0.1/24}"
ENGINE_POOL="${SANDFLEET_ENGINE_POOL:-10.213.0.0/16}"
ENGINE_CHAIN="${SANDFLEET_ENGINE_CHAIN:-SANDFLEET-ENGINE}"
ENGINE_NFT_TABLE="${SANDFLEET_ENGINE_NFT_TABLE:-sandfleet_engine}"
# The packet mark bit its table sets on what it lets through, which its
# iptables chain accepts; one no Docker or kube-proxy rule uses.
ENGINE_MARK="${SANDFLEET_ENGINE_MARK:-0x00200000}"
# Who may reach its socket (root on the host, in effect): the group of the
# machine engine's socket, so that nobody gains a right they did not have;
# this group where that socket cannot be read.
ENGINE_GROUP="${SANDFLEET_ENGINE_GROUP:-docker}"

# runsc only works here without networking (this runsc fails with it, and its
# kvm platform hangs), so it is registered with --network=none. The test
# cluster's registry (scripts/cluster) serves plain HTTP on the cluster's own
# bridge, where the engine pushes the images sandboxes on Kubernetes run.
ENGINE_REGISTRIES='["10.250.0.0/24"]'
ENGINE_RUNTIMES='{
    "runsc": { "path": "/usr/bin/runsc", "runtimeArgs": ["--network=none"] }
  }'

# More settings for its daemon.json, as JSON members each followed by a comma:
# how the current engine (engine-current.sh) turns on what only it has.
ENGINE_EXTRA_CONFIG="${SANDFLEET_ENGINE_EXTRA_CONFIG:-}"

# Answers when an engine listens at a DOCKER_HOST address.
engine_answers_at() { docker -H "$1" info >/dev/null 2>&1; }

# Waits up to 30 s for a dockerd just started (pid $2) to answer at $1;
# stops the bootstrap with the end of its log if it does not.
wait_for_engine() {
  local host="$1" pid="$2"
  for _ in $(seq 1 60); do
    engine_answers_at "$host" && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  engine_answers_at "$host" && return 0
  tail -20 "$ENGINE_LOG" >&2
  die "dockerd did not come up at $host (see $ENGINE_LOG)"
}

# A pid file left by a dockerd that was killed (or is a zombie) stops a new one.
clear_stale_pidfile() {
  local file="$1" pid state
  [[ -f $file ]] || return 0
  pid="$(cat "$file")"
  state="$(ps -o stat= -p "$pid" 2>/dev/null || true)"
  if [[ -z "$state" || "$state" == Z* ]]; then rm -f "$file"; fi
}

# Signals the dockerd whose pid file is $1, and no other dockerd of the machine.
signal_engine() {
  local file="$1" signal="$2" pid
  [[ -s $file ]] || return 0
  pid="$(cat "$file")"
  if [[ "$(ps -o comm= -p "$pid" 2>/dev/null)" == dockerd ]]; then kill "-$signal" "$pid"; fi
}
