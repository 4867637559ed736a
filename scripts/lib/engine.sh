#!/usr/bin/env bash
# A Docker engine: Debian's docker.io, with gVisor's runsc registered as a
# runtime, its data on btrfs (so each sandbox's disk can be bounded), started
# in the background when none answers.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

packages=(docker.io runsc debootstrap busybox-static btrfs-progs)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  require_cmd apt-get "apt-get not found: sandfleet's bootstrap needs a Debian machine to install ${missing[*]}"
  say "installing Debian packages: ${missing[*]}"
  quiet apt-get update -qq
  DEBIAN_FRONTEND=noninteractive quiet apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# This kernel has no XFS project quotas, so overlay2 cannot bound a
# container's disk; btrfs qgroups can, and Docker's btrfs driver takes
# `--storage-opt size`. The engine's data lives on btrfs in a sparse file,
# loop-mounted (the file only takes the space that is used).
DATA_ROOT=/var/lib/sandfleet-docker
STORAGE_FILE="$SANDFLEET_CACHE/docker-btrfs.img"
if ! mountpoint -q "$DATA_ROOT"; then
  if [[ ! -f "$STORAGE_FILE" ]]; then
    say "making a btrfs file system for the engine's data ($STORAGE_FILE, sparse)"
    mkdir -p "$SANDFLEET_CACHE"
    truncate -s 64G "$STORAGE_FILE"
    quiet mkfs.btrfs -q "$STORAGE_FILE"
  fi
  mkdir -p "$DATA_ROOT"
  quiet mount -o loop "$STORAGE_FILE" "$DATA_ROOT"
fi

# Simple quotas (kernel 6.7 and newer) count only what a container writes, not
# its image's shared bytes, and stay consistent as containers come and go.
# Full qgroups did neither: after removals the kernel marked them inconsistent
# and stopped enforcing limits until a rescan. A file system still on full
# qgroups is switched, and the limits its containers had are put back.
quota_mode() {
  local uuid
  uuid="$(btrfs filesystem show "$DATA_ROOT" | awk '/uuid:/ {print $NF; exit}')"
  cat "/sys/fs/btrfs/$uuid/qgroups/mode" 2>/dev/null || echo none
}
if [[ "$(quota_mode)" != squota ]]; then
  limits="$(btrfs qgroup show --raw -re "$DATA_ROOT" 2>/dev/null | awk 'NR > 2 && $4 != "none" {print $1, $4}')"
  [[ "$(quota_mode)" == none ]] || quiet btrfs quota disable "$DATA_ROOT"
  if (cd "$ROOT/scripts/lib/btrfs-squota" && GO111MODULE=off go run . "$DATA_ROOT"); then
    say "btrfs simple quotas on $DATA_ROOT (disk bounds count only what a sandbox writes)"
    while read -r qgroup bytes; do
      [[ -n "$qgroup" ]] && quiet btrfs qgroup limit "$bytes" "$qgroup" "$DATA_ROOT"
    done <<<"$limits"
  else
    say "warning: this kernel has no btrfs simple quotas (6.7 or newer has them); full qgroups count an image's bytes against a sandbox's disk bound and drift after containers are removed"
    quiet btrfs quota enable "$DATA_ROOT"
  fi
fi

# runsc only works here without networking (this runsc fails with it, and its
# kvm platform hangs), so it is registered with --network=none. The test
# cluster's registry (scripts/cluster) serves plain HTTP on the cluster's own
# bridge, where the engine pushes the images sandboxes on Kubernetes run.
daemon_json='{
  "data-root": "/var/lib/sandfleet-docker",
  "storage-driver": "btrfs",
  "insecure-registries": ["10.250.0.0/24"],
  "runtimes": {
    "runsc": { "path": "/usr/bin/runsc", "runtimeArgs": ["--network=none"] }
  }
}'
config_changed=0
if [[ "$(cat /etc/docker/daemon.json 2>/dev/null)" != "$daemon_json" ]]; then
  say "writing /etc/docker/daemon.json (btrfs storage, runsc)"
  mkdir -p /etc/docker
  printf '%s\n' "$daemon_json" >/etc/docker/daemon.json
  config_changed=1
fi

engine_answers() { docker info >/dev/null 2>&1; }

# A running engine on another storage driver or data root is restarted on this one:
# SIGHUP reloads runtimes, not storage.
if engine_answers && [[ "$(docker info --format '{{.Driver}} {{.DockerRootDir}}' 2>/dev/null)" != "btrfs $DATA_ROOT" ]]; then
  say "restarting dockerd on btrfs storage ($DATA_ROOT)"
  pkill -x dockerd || true
  for _ in $(seq 1 60); do pgrep -x dockerd >/dev/null || break; sleep 0.5; done
elif engine_answers && ((config_changed)); then
  pkill -HUP -x dockerd || true # dockerd reloads its runtimes on SIGHUP
fi

# A pid file left by a dockerd that was killed (or is a zombie) stops a new one.
clear_stale_pidfile() {
  local file=/var/run/docker.pid pid state
  [[ -f $file ]] || return 0
  pid="$(cat "$file")"
  state="$(ps -o stat= -p "$pid" 2>/dev/null || true)"
  if [[ -z "$state" || "$state" == Z* ]]; then rm -f "$file"; fi
}

if ! engine_answers; then
  say "starting dockerd (log: /var/log/sandfleet-dockerd.log)"
  clear_stale_pidfile
  setsid dockerd >/var/log/sandfleet-dockerd.log 2>&1 </dev/null &
  dockerd_pid=$!
  for _ in $(seq 1 60); do
    engine_answers && break
    kill -0 "$dockerd_pid" 2>/dev/null || break
    sleep 0.5
  done
  engine_answers || {
    tail -20 /var/log/sandfleet-dockerd.log >&2
    die "dockerd did not come up (see /var/log/sandfleet-dockerd.log)"
  }
fi
docker info --format '{{json .Runtimes}}' | grep -q runsc || die "the engine does not list runsc as a runtime"
