#!/usr/bin/env bash
# The in-sandbox supervisor, built from supervisor/ for each CPU an engine may
# have: static (no cgo), stripped, into supervisor/bin/, which the npm package
# ships. Rebuilt when a Go source is newer than the binaries.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_cmd go "Go is needed to build the sandbox supervisor; install Debian's golang-go (>= 1.22) or put go on PATH"

src="$ROOT/supervisor"
for arch in amd64 arm64; do
  bin="$src/bin/sandfleet-supervisor-linux-$arch"
  if [[ -f "$bin" ]] && [[ -z "$(find "$src" -name '*.go' -newer "$bin" -print -quit)" ]] && [[ "$src/go.mod" -ot "$bin" ]]; then
    continue
  fi
  say "building the sandbox supervisor for linux/$arch"
  (cd "$src" && CGO_ENABLED=0 GOOS=linux GOARCH="$arch" quiet go build -trimpath -ldflags "-s -w" -o "$bin.tmp" . && mv "$bin.tmp" "$bin")
done
