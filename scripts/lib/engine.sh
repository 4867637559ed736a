#!/usr/bin/env bash
# A Docker engine for sandfleet: Debian's docker.io, with gVisor's runsc
# registered as a runtime, its data on btrfs (so each sandbox's disk can be
# bounded). sandfleet never changes or restarts an engine it did not start:
#
#   - nothing answers on the machine's socket, and the machine's daemon.json
#     is sandfleet's or absent (CI, a fresh machine): sandfleet's engine is the
#     machine's, on its socket (engine-machine-socket.sh);
#   - the machine's socket answers with sandfleet's data root: that is the
#     engine the bootstrap started there, kept as it is;
#   - anything else (an engine sandfleet did not start, running or configured):
#     sandfleet starts its own beside it (engine-beside.sh), and with-env points
#     DOCKER_HOST at it;
#   - SANDFLEET_ENGINE=machine (or `scripts/bootstrap --engine=machine`): the
#     machine's engine (DOCKER_HOST, else its socket) is used as it is, and the
#     bootstrap says what sandfleet cannot do on it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$(dirname "${BASH_SOURCE[0]}")/engine-settings.sh"
one_at_a_time engine "the engine's set-up" "$@"

# A dockerd holds the machine's pid file.
machine_pidfile_is_live() {
  [[ -s "$MACHINE_PIDFILE" ]] && [[ "$(ps -o comm= -p "$(cat "$MACHINE_PIDFILE")" 2>/dev/null)" == dockerd ]]
}

# An engine already on the machine (docker-ce, say) is not replaced by Debian's:
# sandfleet's own engine runs the machine's dockerd.
packages=(runsc debootstrap busybox-static btrfs-progs)
command -v dockerd >/dev/null 2>&1 || packages=(docker.io "${packages[@]}")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
install_started="$(date +%s)"
if ((${#missing[@]})); then
  require_cmd apt-get "apt-get not found: sandfleet's bootstrap needs a Debian machine to install ${missing[*]}"
  say "installing Debian packages: ${missing[*]}"
  quiet apt-get update -qq
  DEBIAN_FRONTEND=noninteractive quiet apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# An engine that Debian's package started as it was installed, just now, was
# started by this bootstrap: it is sandfleet's to configure and restart. It
# holds the machine's pid file, and started after the installation began.
installed_engine=0
if [[ " ${missing[*]} " == *" docker.io "* ]] && machine_pidfile_is_live &&
  (($(date +%s) - $(ps -o etimes= -p "$(cat "$MACHINE_PIDFILE")") >= install_started)); then
  installed_engine=1
fi
export SANDFLEET_ENGINE_INSTALLED_NOW="$installed_engine"

# The machine's daemon.json is sandfleet's when it names sandfleet's data root;
# without one, the machine is sandfleet's unless a dockerd holds the machine's
# pid file (one configured by its flags, listening elsewhere or not yet).
machine_config_is_ours() {
  if [[ -e "$MACHINE_DAEMON_JSON" ]]; then
    grep -qF "\"data-root\": \"$DATA_ROOT\"" "$MACHINE_DAEMON_JSON"
  elif machine_pidfile_is_live; then
    return 1
  fi
}

# A service of the machine's init that starts the machine's engine, now or at
# the next boot, owns the machine's socket even while it is stopped.
machine_service_owns_socket() {
  command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]] &&
    systemctl is-enabled --quiet docker.service docker.socket 2>/dev/null
}

# Which engine sandfleet uses: machine-socket, beside or machine (see above).
placement() {
  case "${SANDFLEET_ENGINE:-auto}" in
    machine)
      echo machine
      return
      ;;
    auto) ;;
    *) die "SANDFLEET_ENGINE is \"$SANDFLEET_ENGINE\"; it must be auto (the default) or machine" ;;
  esac
  # sandfleet's own engine, once started beside, stays in use while it runs.
  if engine_answers_at "unix://$ENGINE_SOCKET"; then
    echo beside
  elif engine_answers_at "$MACHINE_DOCKER_HOST"; then
    if [[ "$(docker -H "$MACHINE_DOCKER_HOST" info --format '{{.DockerRootDir}}')" == "$DATA_ROOT" ]] ||
      ((installed_engine)); then
      echo machine-socket
    else
      echo beside
    fi
  elif machine_config_is_ours && ! machine_service_owns_socket; then
    echo machine-socket
  else
    echo beside
  fi
}

# The machine's engine as it is: nothing of it is changed; the bootstrap says
# what sandfleet cannot bound or run there.
use_machine_engine() {
  local host="${DOCKER_HOST:-$MACHINE_DOCKER_HOST}"
  engine_answers_at "$host" ||
    die "SANDFLEET_ENGINE=machine, but no Docker engine answers at $host; start it, or leave SANDFLEET_ENGINE unset and the bootstrap runs sandfleet's own"
  say "using the machine's engine at $host as it is (SANDFLEET_ENGINE=machine); nothing of it is changed"
  "$NODE_HOME/bin/node" "$ROOT/scripts/engine-limits.ts" "$host" | while read -r line; do say "$line"; done
  docker -H "$host" info --format '{{json .Runtimes}}' | grep -q '"runsc"' ||
    say "cannot run gVisor there: the engine lists no runsc runtime, so sandboxes with runtime: runsc fail to start (and so do the tests that use it)"
  rm -f "$SANDFLEET_ENGINE_HOST_FILE"
}

where="$(placement)"
case "$where" in
  machine-socket) "$ROOT/scripts/lib/engine-machine-socket.sh" ;;
  beside) "$ROOT/scripts/lib/engine-beside.sh" ;;
  machine) use_machine_engine ;;
esac
