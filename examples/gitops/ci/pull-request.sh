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

# 1. The file and the policy: problems become annotations on the diff (GitHub) or a code-quality report (GitLab).
# The policy is the one on the branch the change goes into: a pull request that edits the policy
# does not loosen the check of its own change (the new policy applies once merged).
policy=()
if git cat-file -e "$BASE_REF:sandfleet.policy.yaml" 2>/dev/null; then
  base_policy="$(mktemp -d)/sandfleet.policy.yaml"
  trap 'rm -rf "${base_policy%/*}"' EXIT
  git show "$BASE_REF:sandfleet.policy.yaml" >"$base_policy"
  policy=(--policy "$base_policy")
fi
if [[ "$FORMAT" == "gitlab" ]]; then
  status=0
  "${SANDFLEET[@]}" validate "${policy[@]}" --format gitlab >gl-code-quality-report.json || status=$?
  "${SANDFLEET[@]}" validate "${policy[@]}" || true
  if ((status != 0)); then exit "$status"; fi
else
  "${SANDFLEET[@]}" validate "${policy[@]}" --format "$FORMAT"
fi

# 2. What the change does to the live stack, as a table for the pull request.
"${SANDFLEET[@]}" preview --stack "$STACK" --summary markdown >"$SUMMARY"
if [[ -n "${GITHUB_STEP_SUMMARY:-}" ]]; then cat "$SUMMARY" >>"$GITHUB_STEP_SUMMARY"; fi
cat "$SUMMARY"
