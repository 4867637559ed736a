#!/usr/bin/env bash
# The host's limits a fleet of a thousand sandboxes needs, for `npm run test:scale`: every idle
# sandbox holds about 21 of the host's threads (its supervisor's and its engine shim's), and a
# Debian host allows 32,768 tasks in all (`kernel.pid_max`), which a pool of 1,000 would reach
# with everything else the host runs. Raised as container hosts raise it; never lowered.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_root

raise() {
  local key="$1" wanted="$2" now
  now="$(sysctl -n "$key")"
  if ((now < wanted)); then
    sysctl -qw "$key=$wanted"
    say "raised $key from $now to $wanted (a pool of 1,000 holds about 21,000 threads)"
  fi
}
raise kernel.pid_max 4194304
