#!/usr/bin/env bash
# Debian's Chromium, which the dashboard's tests drive headless through
# playwright-core (a browser download from elsewhere cannot work here).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

if ! dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q 'install ok installed'; then
  say "installing Debian's chromium (for the dashboard's browser tests)"
  apt_install chromium
fi
