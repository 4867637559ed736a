#!/usr/bin/env bash
# The project's npm dependencies (npm ci, only when the lockfile changed), and
# the dynamic-provider plugin shim from @pulumi/pulumi put beside pulumi.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
export PATH="$(sandfleet_path)"

stamp="$ROOT/node_modules/.sandfleet-lock"
lock_hash="$(sha256sum "$ROOT/package-lock.json" | cut -c1-64)-$NODE_VERSION"
if [[ "$(cat "$stamp" 2>/dev/null)" != "$lock_hash" ]]; then
  say "npm ci"
  (cd "$ROOT" && quiet npm ci --no-audit --no-fund)
  printf '%s' "$lock_hash" >"$stamp"
fi

# The engine loads dynamic providers through this plugin; the script resolves
# @pulumi/pulumi from the program's directory, so one copy serves every clone.
shim="$ROOT/node_modules/@pulumi/pulumi/pulumi-resource-pulumi-nodejs"
# (When the CLI is still building, the bootstrap's next pass puts it there.)
if [[ -d "$PULUMI_HOME_BIN" ]] && ! cmp -s "$shim" "$PULUMI_HOME_BIN/pulumi-resource-pulumi-nodejs"; then
  install -m 0755 "$shim" "$PULUMI_HOME_BIN/pulumi-resource-pulumi-nodejs"
fi
