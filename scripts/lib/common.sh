# Shared settings and helpers for the bootstrap steps. Sourced, not run.

ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
# Per-machine cache, outside the checkout, so that every clone on this machine
# (and CI's fresh clone) reuses the same toolchain and base images.
SANDFLEET_CACHE="${SANDFLEET_CACHE:-/var/cache/sandfleet}"

# The Debian suite and mirror of the images built by debootstrap (scripts/lib/images.sh,
# bench/fresh-machine).
DEBIAN_SUITE="bookworm"
DEBIAN_MIRROR="${SANDFLEET_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

NODE_VERSION="24.22.3"
NODE_HOME="$SANDFLEET_CACHE/node-$NODE_VERSION"

PULUMI_VERSION="v3.274.1"
# The Node.js language host is an untagged Go module in the Pulumi repository
# and the module proxy here serves no pseudo-version of it; v3.68.0 is the last
# release of the sdk module that still carried the host inside it. Its gRPC
# contract with the engine is stable, and the e2e tests exercise the pairing.
PULUMI_LANGUAGE_SDK_VERSION="v3.68.0"
PULUMI_HOME_BIN="$SANDFLEET_CACHE/pulumi-$PULUMI_VERSION-lh-$PULUMI_LANGUAGE_SDK_VERSION/bin"

# The test cluster's Kubernetes, built from the Go module proxy.
KUBERNETES_VERSION="v1.37.2"
KUBERNETES_BIN="$SANDFLEET_CACHE/kubernetes-$KUBERNETES_VERSION/bin"
# The test cluster's NetworkPolicy enforcer (test/netpol), built from this checkout.
TEST_NETPOL_BIN="$SANDFLEET_CACHE/test-netpol/sandfleet-test-netpol"

# A current Docker Engine beside the main one, for the tests whose outcome
# depends on the engine's version (scripts/lib/engine-current.sh): dockerd from
# the Go module github.com/moby/moby/v2 (v2.0.0-beta.24 is Docker 29.8.1, the
# newest whose every dependency the module proxy serves), its own containerd
# and runc, and Debian trixie's CRIU, unpacked beside its own C library. Each is rebuilt
# or fetched again only when its pin changes.
CURRENT_DOCKER_MODULE="v2.0.0-beta.24"
CURRENT_DOCKER_VERSION="29.8.1"
CURRENT_CONTAINERD_VERSION="v2.4.2"
CURRENT_RUNC_VERSION="v1.5.3"
CURRENT_ENGINE_BIN="$SANDFLEET_CACHE/docker-$CURRENT_DOCKER_VERSION-containerd-$CURRENT_CONTAINERD_VERSION-runc-$CURRENT_RUNC_VERSION/bin"
CRIU_DEBIAN_VERSION="4.1.1-1"
CRIU_HOME="$SANDFLEET_CACHE/criu-$CRIU_DEBIAN_VERSION"
# Where the current engine listens, for the test projects that run on it (vitest.config.ts).
SANDFLEET_CURRENT_ENGINE_HOST_FILE="${SANDFLEET_CURRENT_ENGINE_HOST_FILE:-$SANDFLEET_CACHE/engine-current-host}"

# The engine sandfleet's commands and tests use, when it is not the machine's
# own socket: the bootstrap writes a DOCKER_HOST here when it runs an engine of
# its own beside one it did not start (scripts/lib/engine.sh), and removes it
# otherwise.
SANDFLEET_ENGINE_HOST_FILE="${SANDFLEET_ENGINE_HOST_FILE:-$SANDFLEET_CACHE/engine-host}"

# Points DOCKER_HOST at sandfleet's own engine when the bootstrap runs one
# beside the machine's; otherwise leaves DOCKER_HOST as it is.
use_sandfleet_engine() {
  local host
  [[ -s "$SANDFLEET_ENGINE_HOST_FILE" ]] || return 0
  host="$(head -n 1 "$SANDFLEET_ENGINE_HOST_FILE")"
  [[ "$host" == unix://* ]] || die "$SANDFLEET_ENGINE_HOST_FILE should hold a unix:// address, not: $host"
  export DOCKER_HOST="$host"
}

say() { printf 'bootstrap: %s\n' "$*" >&2; }
die() {
  printf 'bootstrap: error: %s\n' "$*" >&2
  exit 1
}

# The file of one of the machine's locks (one_at_a_time), for a step to take or to look at.
machine_lock() { # <name>
  printf '%s/.%s.lock' "$SANDFLEET_CACHE" "$1"
}

# Runs the calling step again under a lock of the machine's (call it with the
# step's "$@"), unless it already holds it: two clones' quickstarts or
# bootstraps take turns at what the machine shares (its packages, engine, base
# images and cache), and the second finds it done. flock holds the lock (-o),
# so a daemon the step starts (dockerd) does not keep it after the step ends.
one_at_a_time() { # <name> <what it is> "$@"
  local name="$1" what="$2" held="SANDFLEET_HOLDS_${1//-/_}_LOCK"
  shift 2
  [[ -n "${!held:-}" ]] && return 0
  mkdir -p "$SANDFLEET_CACHE"
  local lock
  lock="$(machine_lock "$name")"
  flock -n "$lock" true || say "waiting for $what under way elsewhere on this machine"
  export "$held=1"
  exec flock -o "$lock" bash "$0" "$@"
}

require_root() {
  if [[ $(id -u) -ne 0 ]]; then
    die "must run as root (it installs Debian packages and starts dockerd); run: sudo npm test"
  fi
}

require_cmd() {
  command -v "$1" >/dev/null 2>&1 || die "$2"
}

# Installs Debian packages, quietly. Steps that run side by side take turns:
# apt holds a lock and refuses a second install rather than wait.
apt_install() {
  require_cmd apt-get "apt-get not found: sandfleet's bootstrap needs a Debian machine to install $*"
  (
    flock 9
    quiet apt-get update -qq
    DEBIAN_FRONTEND=noninteractive quiet apt-get install -y -qq --no-install-recommends "$@"
  ) 9>/var/lock/sandfleet-apt
}

# Runs a command quietly; on failure prints its output and stops. Stopped by
# Ctrl-C, it stops without either: a command that handles SIGINT itself (npm,
# apt) ends with an error of its own, which is not what went wrong.
quiet() {
  local log status=0 interrupted=0 on_int
  log="$(mktemp)"
  on_int="$(trap -p INT)"
  trap 'interrupted=1' INT
  "$@" >"$log" 2>&1 || status=$?
  eval "${on_int:-trap - INT}"
  if ((interrupted)); then
    rm -f "$log"
    exit 130
  fi
  if ((status)); then
    cat "$log" >&2
    rm -f "$log"
    die "failed: $*"
  fi
  rm -f "$log"
}

# The PATH every script and test of the project runs with.
sandfleet_path() {
  printf '%s:%s:%s' "$NODE_HOME/bin" "$PULUMI_HOME_BIN" "$PATH"
}
