# shellcheck shell=bash
# Which clone's quickstart the machine's quickstart sandboxes belong to.
# Sourced by scripts/quickstart, after common.sh, not run.
#
# Every clone's examples/quickstart is the same app ("quickstart") on the
# machine's one engine, and its sandboxes have names made from the app: a
# second clone's `pulumi up` replaced the first's sandboxes under the first
# stack's feet. So a clone claims the quickstart as it starts, and another
# clone may not while the claim holds: while that clone's quickstart runs, or
# its stack is up (until `npm run quickstart -- --destroy` there).

QUICKSTART_CLAIM="$SANDFLEET_CACHE/quickstart-clone"

# Whether a clone's quickstart stack is up (the local file backend's record of it).
quickstart_stack_up() { # <clone>
  [[ -e "$1/.pulumi-state/.pulumi/stacks/sandfleet-quickstart/quickstart.json" ]]
}

# Whether a process is a quickstart that still runs.
quickstart_running() { # <pid>
  # (2>/dev/null first: a redirection's error goes to the stderr of the moment.)
  [[ "$1" =~ ^[0-9]+$ ]] && tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" | grep -q 'scripts/quickstart'
}

# Claims the quickstart for this clone ($ROOT, this process), or stops saying whose it is.
quickstart_claim() {
  mkdir -p "$SANDFLEET_CACHE"
  local other="" pid=""
  exec {claim_lock}>"$QUICKSTART_CLAIM.lock"
  flock "$claim_lock"
  if [[ -f "$QUICKSTART_CLAIM" ]]; then
    { read -r other && read -r pid; } <"$QUICKSTART_CLAIM" || true
  fi
  if [[ -n "$other" && "$other" != "$ROOT" && -d "$other" ]]; then
    if quickstart_running "$pid"; then
      die "the quickstart of another clone, $other, is running on this machine (pid $pid), and its sandboxes would have the same names as this one's (app quickstart); wait for it to end, then tear it down there: (cd $other && npm run quickstart -- --destroy)"
    fi
    if quickstart_stack_up "$other"; then
      die "the quickstart's sandboxes on this machine (app quickstart) are another clone's stack, in $other, and this one's would replace them; tear it down there first: (cd $other && npm run quickstart -- --destroy)"
    fi
  fi
  printf '%s\n%s\n' "$ROOT" "$$" >"$QUICKSTART_CLAIM"
  exec {claim_lock}>&-
}
