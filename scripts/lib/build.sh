#!/usr/bin/env bash
# The package's JavaScript and type declarations in dist/, which the examples
# and the installed `sandfleet` import; rebuilt when a source is newer.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
export PATH="$ROOT/node_modules/.bin:$(sandfleet_path)"

built="$ROOT/dist/index.js"
if [[ ! -f "$built" ]] || [[ -n "$(find "$ROOT/provider" "$ROOT/package.json" "$ROOT/tsconfig.build.json" -newer "$built" -print -quit)" ]]; then
  say "building dist/"
  (cd "$ROOT" && quiet npm run build)
fi
