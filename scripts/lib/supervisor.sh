#!/usr/bin/env bash
# The in-sandbox supervisor (supervisor/) and the egress daemon
# (supervisor/egress/), built for each CPU an engine may have: static (no
# cgo), stripped, into supervisor/bin/, which the npm package ships. Rebuilt
# when a Go source is newer than the binaries.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_cmd go "Go is needed to build the sandbox supervisor; install Debian's golang-go (>= 1.22) or put go on PATH"

bin_dir="$ROOT/supervisor/bin"
# build NAME SOURCE_DIR: one static binary per CPU, when a Go source of its module is newer.
build() {
  local name="$1" src="$2"
  for arch in amd64 arm64; do
    local bin="$bin_dir/$name-linux-$arch"
    if [[ -f "$bin" ]] && [[ -z "$(find "$src" -path "$src/egress" -prune -o -name '*.go' -newer "$bin" -print -quit)" ]] &&
      [[ "$src/go.mod" -ot "$bin" ]]; then
      continue
    fi
    say "building $name for linux/$arch"
    (cd "$src" && CGO_ENABLED=0 GOOS=linux GOARCH="$arch" quiet go build -trimpath -ldflags "-s -w" -o "$bin.tmp" . &&
      mv "$bin.tmp" "$bin")
  done
}
build sandfleet-supervisor "$ROOT/supervisor"
# The egress daemon: its own module (it needs nftables and DNS libraries, which the supervisor must not carry).
build sandfleet-egress "$ROOT/supervisor/egress"
