#!/usr/bin/env bash
# The job on a merge to main: provision what sandfleet.yaml now declares. The
# program checks the file and the policy first, so a violation fails here
# before anything is made.
#
#   STACK       the stack (default dev)
#   SANDFLEET   the command (default: npx --no-install sandfleet)
set -euo pipefail
STACK="${STACK:-dev}"
read -r -a SANDFLEET <<<"${SANDFLEET:-npx --no-install sandfleet}"
"${SANDFLEET[@]}" up --stack "$STACK"
