# shellcheck shell=bash
# Steps that run in the background while the foreground goes on (the
# quickstart's Pulumi CLI and sandfleet/python builds). Sourced, after
# common.sh, not run.
#
# Each step runs at a lower priority in a process group of its own, its output
# in a log, and records its exit status when it ends. The
# foreground stops them all when it stops, however it stops: Ctrl-C, a
# failure of its own, or the end of the script. A background job of a script
# ignores Ctrl-C, so without this a build would go on after the quickstart
# ended, and race the next run's.

background_pids=()
background_logs=()
background_names=()
background_started=()
# The steps' exit statuses, this run's own: a step left running by a run that
# was killed outright (SIGKILL) writes its status elsewhere.
background_statuses="$(mktemp -d)"

# Starts a step in the background; its index (for background_wait) in $job.
background() { # <log> <what> <command...>
  local log="$1" what="$2"
  shift 2
  local status="$background_statuses/${#background_pids[@]}"
  # A new file: a step of a run killed outright may still write to the old one.
  rm -f "$log"
  # setsid: its own process group, so that it and everything it started can be stopped at once.
  # shellcheck disable=SC2016 # the inner script expands its own arguments
  setsid bash -c 'nice -n 10 "$@"; echo $? >"$0"' "$status" "$@" >"$log" 2>&1 </dev/null &
  # shellcheck disable=SC2034 # read by the caller
  job=${#background_pids[@]}
  background_pids+=("$!")
  background_logs+=("$log")
  background_names+=("$what")
  background_started+=("$(date +%s)")
}

# The exit status of a step that has ended; nothing for one still running.
background_status() { # <index>
  cat "$background_statuses/$1" 2>/dev/null || true
}

# Whether a process still runs (an ended child is a zombie until waited for).
background_alive() { # <pid>
  local state
  state="$(ps -o stat= -p "$1" 2>/dev/null)"
  [[ -n "$state" && "$state" != Z* ]]
}

# Seconds since the quickstart began (SANDFLEET_QUICKSTART_STARTED).
background_seconds_in() {
  echo $(($(date +%s) - ${SANDFLEET_QUICKSTART_STARTED:-$(date +%s)}))
}

# Stops, with its log shown, when a step has failed.
background_fail_if_failed() { # <index>
  local status
  status="$(background_status "$1")"
  [[ -z "$status" || "$status" == 0 ]] && return 0
  wait "${background_pids[$1]}" 2>/dev/null || true
  background_pids[$1]=""
  cat "${background_logs[$1]}" >&2
  die "${background_names[$1]} failed in the background (exit $status; log: ${background_logs[$1]})"
}

# Between foreground steps: stops at once when any background step has failed,
# rather than after everything else.
background_check() {
  local i
  for i in "${!background_pids[@]}"; do
    [[ -n "${background_pids[$i]}" ]] && background_fail_if_failed "$i"
  done
  return 0
}

# How long a step has run, in seconds.
background_ran() { # <index>
  echo $(($(date +%s) - background_started[$1]))
}

# Waits for a step, saying every 30 s how long it has run and how long it
# usually takes; stops with its log when it fails.
background_wait() { # <index> <how long it usually takes>
  local i="$1" usual="$2" waited=0
  [[ -n "${background_pids[$i]}" ]] || return 0
  if [[ -z "$(background_status "$i")" ]]; then
    say "waiting for ${background_names[$i]} ($(background_seconds_in) s in; it has run $(background_ran "$i") s and usually takes $usual; log: ${background_logs[$i]})"
  fi
  while [[ -z "$(background_status "$i")" ]]; do
    # A step killed from outside writes no status: its process is gone, and
    # still no status (it may have written one since it was last read).
    if ! background_alive "${background_pids[$i]}"; then
      [[ -n "$(background_status "$i")" ]] || echo 143 >"$background_statuses/$i"
      break
    fi
    sleep 1
    waited=$((waited + 1))
    if ((waited % 30 == 0)); then
      say "still waiting for ${background_names[$i]} ($(background_seconds_in) s in; it has run $(background_ran "$i") s)"
    fi
  done
  background_fail_if_failed "$i"
  wait "${background_pids[$i]}" 2>/dev/null || true
  background_pids[i]=""
}

# Stops every step still running, with all it started.
background_stop() {
  local i pid stopped=()
  for i in "${!background_pids[@]}"; do
    pid="${background_pids[$i]}"
    [[ -n "$pid" ]] || continue
    background_pids[i]=""
    if [[ -z "$(background_status "$i")" ]] && kill -TERM -- "-$pid" 2>/dev/null; then
      stopped+=("${background_names[$i]}")
    fi
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$background_statuses"
  if ((${#stopped[@]})); then
    local IFS=,
    say "stopped what was building in the background:${stopped[*]/#/ }; what it downloaded and compiled is kept, and the next run goes on from there"
  fi
}
