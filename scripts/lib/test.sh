#!/usr/bin/env bash
# `npm test` after the bootstrap: the package built, then the static checks
# (types, lint, format) beside the tests rather than before them. Run first,
# they were about two minutes of wall time before any test began (the type-aware
# lint alone takes 80 s of one core); beside the tests, at a lower priority, they
# take the CPU the tests leave while they wait on the engine, pulumi and the
# cluster. Their output is printed, and their failure fails the run, once the
# tests are done.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"

bash scripts/lib/build.sh

# Every Node process of the run (vitest's workers, and the pulumi language hosts and dynamic
# providers that each `pulumi up` starts, a few hundred in all) compiles the same modules: kept
# compiled, loading @pulumi/pulumi costs about 0.3 s of CPU instead of 0.55. The cache lives beside
# the other caches and is checked by Node against each file's contents.
export NODE_COMPILE_CACHE="$SANDFLEET_CACHE/node-compile-cache"
# Vitest's record of each file's last duration (it starts the longest first), kept across clones.
export SANDFLEET_TEST_CACHE="$SANDFLEET_CACHE/vitest"

checks_log="$(mktemp)"
nice -n 10 npm run --silent check:static >"$checks_log" 2>&1 &
checks=$!
# An interrupted run leaves no checks behind it.
trap 'kill "$checks" 2>/dev/null || true; rm -f "$checks_log"' EXIT

failed=()
npm run --silent test:supervisor || failed+=("the Go tests")
vitest run --project '!scale' || failed+=("the vitest run")

echo "Static checks (npm run check):"
if ! wait "$checks"; then failed+=("the static checks (npm run check)"); fi
cat "$checks_log"
if ((${#failed[@]})); then
  printf 'failed: %s\n' "${failed[@]}" >&2
  exit 1
fi
