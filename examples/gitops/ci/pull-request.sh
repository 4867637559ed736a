#!/usr/bin/env bash
# The pull-request job: validate sandfleet.yaml against the policy, then
# preview the change and write its summary for a comment. GitHub Actions and
# GitLab CI both run this script; run it by hand to see what CI will say.
#
#   FORMAT      github | gitlab | text: how problems are printed (default text)
#   STACK       the stack the change goes to (default dev)
#   BASE_REF    the branch or commit the pull request goes into (default origin/main)
#   SUMMARY     where the markdown summary is written (default sandfleet-summary.md)
#   SANDFLEET   the command (default: npx --no-install sandfleet)
# Pulumi reads PULUMI_BACKEND_URL and PULUMI_CONFIG_PASSPHRASE from the CI's secrets.
set -euo pipefail

FORMAT="${FORMAT:-text}"
STACK="${STACK:-dev}"
BASE_REF="${BASE_REF:-origin/main}"
SUMMARY="${SUMMARY:-sandfleet-summary.md}"
read -r -a SANDFLEET <<<"${SANDFLEET:-npx --no-install sandfleet}"

changed="$(git diff --name-only "$BASE_REF"...HEAD -- sandfleet.yaml sandfleet.policy.yaml Pulumi.yaml 2>/dev/null || echo sandfleet.yaml)"
if [[ -z "$changed" ]]; then
  echo "sandfleet: this change touches no sandfleet file" | tee "$SUMMARY"
  exit 0
fi

# 1. The file, the policy and the engine's capacity: problems become annotations on the diff
# (GitHub) or a code-quality report (GitLab). The policy is the one on the branch the change goes
# into: a pull request that edits the policy does not loosen the check of its own change (the new
# policy applies once merged). --capacity holds the fleet against what the engine's host has.
scratch="$(mktemp -d)"
policy=()
if git cat-file -e "$BASE_REF:sandfleet.policy.yaml" 2>/dev/null; then
  git show "$BASE_REF:sandfleet.policy.yaml" >"$scratch/sandfleet.policy.yaml"
  policy=(--policy "$scratch/sandfleet.policy.yaml")
fi
# The preview runs the stack's program, which reads sandfleet.policy.yaml beside it: while it
# runs, that file is the base's too (or absent, as on the base), and the proposal is put back after.
proposed=""
if [[ -f sandfleet.policy.yaml ]] && ! git diff --quiet "$BASE_REF"...HEAD -- sandfleet.policy.yaml 2>/dev/null; then
  proposed="$scratch/proposed.policy.yaml"
  cp sandfleet.policy.yaml "$proposed"
fi
restore() {
  if [[ -n "$proposed" ]]; then cp "$proposed" sandfleet.policy.yaml; fi
  rm -rf "$scratch"
}
trap restore EXIT
if [[ "$FORMAT" == "gitlab" ]]; then
  status=0
  "${SANDFLEET[@]}" validate "${policy[@]}" --capacity --format gitlab >gl-code-quality-report.json || status=$?
  "${SANDFLEET[@]}" validate "${policy[@]}" --capacity || true
  if ((status != 0)); then exit "$status"; fi
else
  "${SANDFLEET[@]}" validate "${policy[@]}" --capacity --format "$FORMAT"
fi

# 2. What the change does to the live stack, as a table for the pull request.
if [[ -n "$proposed" ]]; then
  rm sandfleet.policy.yaml
  if ((${#policy[@]} > 0)); then cp "$scratch/sandfleet.policy.yaml" sandfleet.policy.yaml; fi
fi
"${SANDFLEET[@]}" preview --stack "$STACK" --summary markdown >"$SUMMARY"

# 3. A change to the policy, in a section of its own: it was not applied to this pull request.
if [[ -n "$proposed" ]]; then
  cp "$proposed" sandfleet.policy.yaml
  # What is left of a comment's 65,536 characters after the table (counted in bytes: no fewer).
  room=$((65000 - $(wc -c <"$SUMMARY")))
  BASE_REF="$BASE_REF" SANDFLEET="${SANDFLEET[*]}" ROOM="$room" bash "$(dirname "$0")/policy-section.sh" >>"$SUMMARY"
fi
if [[ -n "${GITHUB_STEP_SUMMARY:-}" ]]; then cat "$SUMMARY" >>"$GITHUB_STEP_SUMMARY"; fi
cat "$SUMMARY"
