#!/usr/bin/env bash
# Markdown for a pull request that changes sandfleet.policy.yaml: the change,
# and what the proposed policy says of this sandfleet.yaml. The pull-request
# job appends it to the summary; the check itself used the base's policy.
#
#   BASE_REF    the branch or commit the pull request goes into (default origin/main)
#   SANDFLEET   the command (default: npx --no-install sandfleet)
#   ROOM        the characters the section may take (default 24000)
set -euo pipefail
BASE_REF="${BASE_REF:-origin/main}"
read -r -a SANDFLEET <<<"${SANDFLEET:-npx --no-install sandfleet}"
# What a pull request may write here is capped, so that the comment stays under GitHub's 65,536
# characters with the table above it: a refused comment would leave an older one standing.
ROOM="${ROOM:-24000}"
if ((ROOM < 3000)); then
  printf '\n### Policy change: applies once merged\n\nThis pull request changes `sandfleet.policy.yaml`; the change is not shown for the size of a comment: see the diff.\n'
  exit 0
fi
MAX_VERDICT=$((ROOM / 6))
MAX_DIFF=$((ROOM - MAX_VERDICT - 1500))

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
git diff "$BASE_REF"...HEAD -- sandfleet.policy.yaml >"$scratch/policy.diff"
"${SANDFLEET[@]}" validate --policy sandfleet.policy.yaml >"$scratch/verdict.txt" 2>&1 || true

# Text from the repository is shown as it is, never as markup: every character outside printable
# ASCII as its code, cut at a size, in a fence longer than any run of backticks inside.
shown() {
  perl -CSD -pe 's/([^\x20-\x7e\n])/sprintf("\\u{%x}", ord($1))/ge' "$1" >"$1.shown"
  head -c "$2" "$1.shown" >"$1.cut"
  local size
  size="$(wc -c <"$1.shown")"
  if ((size > $2)); then printf '\n… cut at %d of %d characters\n' "$2" "$size" >>"$1.cut"; fi
}
shown "$scratch/policy.diff" "$MAX_DIFF"
shown "$scratch/verdict.txt" "$MAX_VERDICT"
longest="$({ grep -ho '`\+' "$scratch/policy.diff.cut" "$scratch/verdict.txt.cut" || true; } | awk '{ if (length($0) > n) n = length($0) } END { print n + 0 }')"
fence="$(printf '%*s' "$((longest < 3 ? 3 : longest + 1))" '' | tr ' ' '`')"
base="$(printf '%s' "$BASE_REF" | tr -cd 'A-Za-z0-9._/-')"

echo
echo "### Policy change: applies once merged"
echo
echo "This pull request changes \`sandfleet.policy.yaml\`. The check above used the policy of \`$base\`; the change below takes effect for the pull requests after it is merged."
echo
echo "${fence}diff"
cat "$scratch/policy.diff.cut"
echo "$fence"
echo
echo "This pull request's \`sandfleet.yaml\` under the proposed policy:"
echo
echo "$fence"
cat "$scratch/verdict.txt.cut"
echo "$fence"
