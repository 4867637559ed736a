#!/usr/bin/env bash
# sandfleet's engine on the machine's own socket, where no engine of anyone
# else runs: the machine's daemon.json is sandfleet's (btrfs storage, runsc),
# and dockerd is started in the background when none answers. scripts/lib/engine.sh
# decides when this is so.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$(dirname "${BASH_SOURCE[0]}")/engine-settings.sh"
source "$(dirname "${BASH_SOURCE[0]}")/engine-storage.sh"

# Only ever the machine's own engine: a dockerd started here takes the machine's
# default exec root and bridge, so with the machine's paths set elsewhere (as a
# test sets them) this stops before writing or starting anything.
if [[ "$MACHINE_DOCKER_HOST $MACHINE_DAEMON_JSON $MACHINE_PIDFILE" != "unix:///var/run/docker.sock /etc/docker/daemon.json /var/run/docker.pid" ]]; then
  die "sandfleet's engine goes on the machine's socket only with the machine's own paths, not $MACHINE_DOCKER_HOST, $MACHINE_DAEMON_JSON, $MACHINE_PIDFILE"
fi

prepare_data_root

daemon_json="{
  \"data-root\": \"$DATA_ROOT\",
  \"storage-driver\": \"btrfs\",
  \"insecure-registries\": $ENGINE_REGISTRIES,
  \"runtimes\": $ENGINE_RUNTIMES
}"
config_changed=0
if [[ "$(cat "$MACHINE_DAEMON_JSON" 2>/dev/null)" != "$daemon_json" ]]; then
  say "writing $MACHINE_DAEMON_JSON (btrfs storage, runsc)"
  mkdir -p "$(dirname "$MACHINE_DAEMON_JSON")"
  printf '%s\n' "$daemon_json" >"$MACHINE_DAEMON_JSON"
  config_changed=1
fi

# Only the dockerd of the machine's pid file is signalled: any other on the
# machine is someone else's. One that Debian's package started as the
# bootstrap installed it runs on another data root, and is restarted on this
# one (SIGHUP reloads runtimes, not storage); the bootstrap's own reloads.
engine_root() { docker -H "$MACHINE_DOCKER_HOST" info --format '{{.DockerRootDir}}' 2>/dev/null; }
if engine_answers_at "$MACHINE_DOCKER_HOST" && [[ "$(engine_root)" != "$DATA_ROOT" ]] &&
  [[ "${SANDFLEET_ENGINE_INSTALLED_NOW:-0}" == 1 ]]; then
  say "restarting the dockerd its package just started, on btrfs storage ($DATA_ROOT)"
  pid="$(cat "$MACHINE_PIDFILE" 2>/dev/null || true)"
  signal_engine "$MACHINE_PIDFILE" TERM
  for _ in $(seq 1 60); do
    if [[ -z "$pid" ]] || ! kill -0 "$pid" 2>/dev/null; then break; fi
    sleep 0.5
  done
elif engine_answers_at "$MACHINE_DOCKER_HOST" && ((config_changed)); then
  signal_engine "$MACHINE_PIDFILE" HUP # dockerd reloads its runtimes on SIGHUP
fi

if ! engine_answers_at "$MACHINE_DOCKER_HOST"; then
  say "starting dockerd (log: $ENGINE_LOG)"
  clear_stale_pidfile "$MACHINE_PIDFILE"
  # Its log names containers, networks and failures: for root alone.
  touch "$ENGINE_LOG" && chmod 0600 "$ENGINE_LOG"
  setsid dockerd >"$ENGINE_LOG" 2>&1 </dev/null &
  wait_for_engine "$MACHINE_DOCKER_HOST" $!
fi
docker -H "$MACHINE_DOCKER_HOST" info --format '{{json .Runtimes}}' | grep -q runsc ||
  die "the engine does not list runsc as a runtime"
# Commands and tests use the machine's socket, as every Docker client does by default.
rm -f "$SANDFLEET_ENGINE_HOST_FILE"
