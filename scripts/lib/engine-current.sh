#!/usr/bin/env bash
# A current Docker Engine (Docker 29, built from Go modules) beside the engine
# sandfleet uses, for `npm test` only: the tests whose outcome depends on the
# engine's version run on it too (vitest.config.ts). Nothing of any other
# engine is changed or restarted, and the machine's containerd (which the test
# cluster also runs on) is left alone: this one has its own socket, pid file,
# exec root, containerd, data root (btrfs, as the main engine's), bridge,
# address pool and firewall chain (engine-beside.sh, with other settings).
#
# It runs with experimental features and Debian trixie's CRIU on its PATH, so
# that its checkpoints are real: the bootstrap checks that CRIU works on this
# kernel (`criu check`) before it labels the engine as able to checkpoint.
#
#   engine-current.sh build  build (or fetch) what is missing
#   engine-current.sh up     that, then start it (or keep it) and copy the base images to it
#   engine-current.sh down   stop it (its data stays in its sparse file)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# What it builds and unpacks runs as root: no one else may change it, whatever the caller's umask.
umask 022

CRIU_BIN="$CRIU_HOME/bin"

# dockerd and docker-proxy from the moby module as it was released (its own
# go.mod and go.sum), containerd and its runc shim from the containerd module,
# and runc. The machine's containerd (1.6) is older than Docker 29 accepts, and
# its runc (1.1) does not know the time namespace Docker 29's containers name.
build_engine() {
  [[ -x "$CURRENT_ENGINE_BIN/dockerd" && -x "$CURRENT_ENGINE_BIN/containerd" && -x "$CURRENT_ENGINE_BIN/runc" ]] &&
    return 0
  require_cmd go "Go is needed to build the current Docker Engine from Go modules; install Debian's golang-go (>= 1.26) or put go on PATH"
  say "building Docker $CURRENT_DOCKER_VERSION, containerd $CURRENT_CONTAINERD_VERSION and runc $CURRENT_RUNC_VERSION from Go modules (first time: about 8 minutes)"
  local started moby containerd out="$CURRENT_ENGINE_BIN.tmp"
  started=$(date +%s)
  quiet go mod download "github.com/moby/moby/v2@$CURRENT_DOCKER_MODULE" \
    "github.com/containerd/containerd/v2@$CURRENT_CONTAINERD_VERSION"
  moby="$(go env GOMODCACHE)/github.com/moby/moby/v2@$CURRENT_DOCKER_MODULE"
  containerd="$(go env GOMODCACHE)/github.com/containerd/containerd/v2@$CURRENT_CONTAINERD_VERSION"
  rm -rf "$out"
  mkdir -p "$out"
  # dockerd needs cgo for its btrfs storage driver (the kernel's headers).
  (cd "$moby" && CGO_ENABLED=1 quiet nice -n 10 go build -trimpath -tags "netgo osusergo" \
    -ldflags "-s -w -X github.com/moby/moby/v2/dockerversion.Version=$CURRENT_DOCKER_VERSION -X github.com/moby/moby/v2/dockerversion.GitCommit=$CURRENT_DOCKER_MODULE" \
    -o "$out/dockerd" ./cmd/dockerd)
  (cd "$moby" && CGO_ENABLED=0 quiet nice -n 10 go build -trimpath -ldflags "-s -w" -o "$out/docker-proxy" ./cmd/docker-proxy)
  say "dockerd built ($(($(date +%s) - started))s)"
  (cd "$containerd" && CGO_ENABLED=0 quiet nice -n 10 go build -trimpath -tags "no_btrfs no_devmapper no_zfs" \
    -ldflags "-s -w -X github.com/containerd/containerd/v2/version.Version=$CURRENT_CONTAINERD_VERSION" \
    -o "$out/containerd" ./cmd/containerd)
  (cd "$containerd" && CGO_ENABLED=0 quiet nice -n 10 go build -trimpath -ldflags "-s -w" \
    -o "$out/containerd-shim-runc-v2" ./cmd/containerd-shim-runc-v2)
  # runc filters system calls with libseccomp (cgo): Docker's default seccomp profile depends on it.
  dpkg-query -W -f='${Status}' libseccomp-dev 2>/dev/null | grep -q 'install ok installed' || apt_install libseccomp-dev
  quiet go mod download "github.com/opencontainers/runc@$CURRENT_RUNC_VERSION"
  (cd "$(go env GOMODCACHE)/github.com/opencontainers/runc@$CURRENT_RUNC_VERSION" && CGO_ENABLED=1 quiet nice -n 10 \
    go build -trimpath -tags "seccomp urfave_cli_no_docs" -ldflags "-s -w -X main.version=${CURRENT_RUNC_VERSION#v}" \
    -o "$out/runc" .)
  "$out/runc" --version | grep -q libseccomp || die "the freshly built runc has no seccomp"
  "$out/dockerd" --version >/dev/null || die "the freshly built dockerd does not run"
  rm -rf "$CURRENT_ENGINE_BIN"
  mv "$out" "$CURRENT_ENGINE_BIN"
  say "Docker $CURRENT_DOCKER_VERSION, containerd and runc ready in $CURRENT_ENGINE_BIN ($(($(date +%s) - started))s)"
}

# Debian trixie's CRIU, unpacked with the libraries it needs (trixie's C
# library among them, newer than this system's) into a directory of its own,
# and run through that directory's own loader: nothing of the system changes.
# bookworm's CRIU 3.17 fails on kernels as new as 6.18 before it dumps anything.
fetch_criu() {
  if [[ -x "$CRIU_BIN/criu" ]]; then
    write_criu_wrapper "$CRIU_HOME"
    return 0
  fi
  say "fetching Debian trixie's CRIU $CRIU_DEBIAN_VERSION into $CRIU_HOME"
  local apt="$CRIU_HOME.apt" root="$CRIU_HOME.tmp/root" packages
  rm -rf "$apt" "$CRIU_HOME.tmp"
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/debs" "$root" "$CRIU_HOME.tmp/bin"
  cat >"$apt/trixie.sources" <<'SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  # An apt of its own: trixie's lists and packages never reach the system's apt.
  local options=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$apt" -o "Dir::State::Lists=$apt/lists"
    -o "Dir::Cache=$apt/cache" -o Dir::State::status=/dev/null -o Debug::NoLocking=1)
  quiet apt-get "${options[@]}" update
  packages="$(apt-cache "${options[@]}" depends --recurse --no-recommends --no-suggests --no-conflicts \
    --no-breaks --no-replaces --no-enhances "criu=$CRIU_DEBIAN_VERSION" | grep -v '^[ <]' | sort -u)"
  # shellcheck disable=SC2086 # one package a word
  (cd "$apt/debs" && quiet apt-get "${options[@]}" download $packages)
  for deb in "$apt/debs"/*.deb; do dpkg-deb -x "$deb" "$root"; done
  printf 'mntns-compat-mode\n' >"$CRIU_HOME.tmp/restore.conf"
  write_criu_wrapper "$CRIU_HOME.tmp"
  "$CRIU_HOME.tmp/bin/criu" --version >/dev/null || die "trixie's CRIU does not run through its own loader"
  rm -rf "$CRIU_HOME" "$apt"
  mv "$CRIU_HOME.tmp" "$CRIU_HOME"
}

# The `criu` runc runs: trixie's, through the loader and libraries unpacked
# beside it. Written again whenever its text changes.
write_criu_wrapper() {
  local home="$1" wanted
  wanted="$(
    cat <<'WRAPPER'
#!/bin/sh
# Trixie's CRIU, through the loader and libraries unpacked beside it. A restore (runc restore
# runs it) uses the older mount engine: the newer one fails on a bind-mounted file, such as the
# docker-init every container started with `init` has; a dump refuses that setting.
here="$(dirname "$(readlink -f "$0")")"
lib="$here/../root/usr/lib/x86_64-linux-gnu"
case " $(tr '\0' ' ' <"/proc/$PPID/cmdline" 2>/dev/null) " in
  *" restore "*) export CRIU_CONFIG_FILE="$here/../restore.conf" ;;
esac
exec "$lib/ld-linux-x86-64.so.2" --library-path "$lib" "$here/../root/usr/sbin/criu" "$@"
WRAPPER
  )"
  if [[ "$(cat "$home/bin/criu" 2>/dev/null)" != "$wanted" ]]; then
    printf '%s\n' "$wanted" >"$home/bin/criu.tmp"
    chmod 0755 "$home/bin/criu.tmp"
    mv "$home/bin/criu.tmp" "$home/bin/criu"
  fi
}

# The current engine's settings for engine-beside.sh: every name and address its own.
current_engine_settings() {
  export SANDFLEET_ENGINE_RUN_DIR=/run/sandfleet-current
  export SANDFLEET_ENGINE_CONFIG=/etc/sandfleet/docker-current.json
  export SANDFLEET_ENGINE_DATA_ROOT=/var/lib/sandfleet-docker-current
  export SANDFLEET_ENGINE_STORAGE_FILE="$SANDFLEET_CACHE/docker-current-btrfs.img"
  export SANDFLEET_ENGINE_STORAGE_SIZE=32G
  export SANDFLEET_ENGINE_LOG=/var/log/sandfleet-dockerd-current.log
  export SANDFLEET_ENGINE_BRIDGE=sfcurrent0
  export SANDFLEET_ENGINE_BRIDGE_CIDR=10.214.0.1/24
  export SANDFLEET_ENGINE_POOL=10.215.0.0/16
  export SANDFLEET_ENGINE_CHAIN=SANDFLEET-CURRENT
  export SANDFLEET_ENGINE_NFT_TABLE=sandfleet_current
  export SANDFLEET_ENGINE_HOST_FILE="$SANDFLEET_CURRENT_ENGINE_HOST_FILE"
  export SANDFLEET_ENGINE_NAME="the current Docker Engine ($CURRENT_DOCKER_VERSION, for the tests)"
  export SANDFLEET_ENGINE_USED_BY="the current-engine tests use it (vitest.config.ts)"
  # Its own dockerd, containerd, shim, runc and docker-proxy first; then trixie's CRIU.
  export PATH="$CURRENT_ENGINE_BIN:$CRIU_BIN:$PATH"
  # Graph drivers rather than containerd's image store: btrfs bounds each container's disk as on
  # the main engine. A label says CRIU works here, which the API cannot tell (provider/engines/docker).
  local extra='"experimental": true,
  "features": { "containerd-snapshotter": false },'
  if criu check >/dev/null 2>&1; then
    extra+="
  \"labels\": [\"sandfleet.criu=$CRIU_DEBIAN_VERSION\"],"
  else
    say "warning: CRIU does not work on this kernel (criu check fails): the current engine cannot checkpoint"
  fi
  export SANDFLEET_ENGINE_EXTRA_CONFIG="$extra"
}

# The base images, as the main engine has them (images.sh builds them there):
# copied when their ids differ, so a rebuilt image reaches this engine too.
copy_images() {
  local current="unix://$SANDFLEET_ENGINE_RUN_DIR/docker.sock" image
  for image in sandfleet/busybox sandfleet/python; do
    [[ "$(docker image inspect -f '{{.Id}}' "$image")" == "$(docker -H "$current" image inspect -f '{{.Id}}' "$image" 2>/dev/null)" ]] &&
      continue
    say "copying $image to the current engine"
    docker save "$image" | quiet docker -H "$current" load
  done
}

case "${1:-up}" in
  # Beside the other steps: the builds take minutes and need no engine.
  build)
    build_engine
    fetch_criu
    ;;
  # After the main engine's images (images.sh), with DOCKER_HOST at that engine.
  up)
    require_root
    build_engine
    fetch_criu
    (
      current_engine_settings
      "$ROOT/scripts/lib/engine-beside.sh" up
    )
    current_engine_settings
    copy_images
    # The memory images containerd unpacks for a restore and leaves behind (root's alone): swept
    # when they are old enough that no restore still reads them.
    find "${TMPDIR:-/tmp}" -maxdepth 2 -path '*/ctrd-checkpoint*/*.img' -mmin +10 -delete 2>/dev/null || true
    ;;
  down)
    current_engine_settings
    "$ROOT/scripts/lib/engine-beside.sh" down
    ;;
  *) die "usage: engine-current.sh [up|down]" ;;
esac
