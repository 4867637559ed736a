# shellcheck shell=bash
# The fresh machine as a container: started, given what a new machine has
# when it boots, and removed with every loop device it attached. Sourced by
# bench/fresh-machine, which defines say, die and quiet.

# What the drill makes on the engine carries this label.
FRESH_LABEL="sandfleet.fresh-machine=1"

# Read-only from this host, as a new machine has them before anything runs:
# Go, Node 20 with npm (and the headers npm's nodedir names), the docker client.
FRESH_HOST_MOUNTS=(
  /usr/local/go
  /usr/bin/node
  /usr/lib/node_modules
  /usr/include/node
  /usr/local/bin/docker
)
# Written as a new machine boots, before any session: its package registry
# settings and the certificate authorities its network path needs.
FRESH_BOOT_FILES=(
  /root/.npmrc
  /root/.config/go/env
  /etc/apt/apt.conf.d/99artifact-registry
)
FRESH_CA_DIR=/usr/local/share/ca-certificates
# The environment a session's shell has for those authorities.
FRESH_CA_VARIABLES=(NODE_EXTRA_CA_CERTS SSL_CERT_FILE SSL_CERT_DIR)

now_us() { printf '%s' "${EPOCHREALTIME/./}"; }
# Sets the variable $1 to the seconds, to a tenth, since $2 (a time from
# now_us), without a subshell: it runs for every line a command prints.
seconds_since() {
  local now="${EPOCHREALTIME/./}"
  local tenths=$(((now - $2) / 100000))
  printf -v "$1" '%d.%d' $((tenths / 10)) $((tenths % 10))
}

# Every attached loop device as "name inode major:minor" of its backing file.
loop_devices() {
  { losetup --list --noheadings --output NAME,BACK-INO,BACK-MAJ:MIN 2>/dev/null || true; } | awk '{print $1, $2, $3}' | sort
}

# Starts the machine: its home, clone, sandfleet cache and /tmp in the folder
# $3 on this host's disk (as a machine's are on its own), everything else in
# the container's own layer; its own network namespace on the engine's default
# bridge. It needs what --privileged gives (its own dockerd, a loop-mounted
# btrfs, runsc), but this host's capability bounding set lacks
# CAP_SYS_RESOURCE, so the engine cannot start a privileged container here:
# every other capability but those that reach past the container to the whole
# host and that nothing of the bootstrap uses (loading kernel modules, setting
# the clock, rebooting or kexec, clearing the kernel's log), no seccomp or AppArmor profile, /proc unmasked, and
# of the host's devices only /dev/loop-control and the loop devices free now
# (never one that backs something of the host's), with /sys and the cgroup
# mounts made writable once it runs (open_system_mounts).
start_machine() {
  local image="$1" name="$2" work="$3" path file variable device
  local args=(--name "$name" --label "$FRESH_LABEL" --hostname fresh-machine --init --network bridge
    --cap-add ALL --cap-drop SYS_RESOURCE --cap-drop SYS_MODULE --cap-drop SYS_TIME --cap-drop SYS_BOOT --cap-drop SYSLOG
    --security-opt seccomp=unconfined --security-opt apparmor=unconfined
    --security-opt systempaths=unconfined --security-opt label=disable --device /dev/loop-control)
  for device in /dev/loop[0-9]*; do
    if [[ -b "$device" ]] && ! losetup "$device" >/dev/null 2>&1; then args+=(--device "$device"); fi
  done
  for path in "${FRESH_HOST_MOUNTS[@]}"; do
    [[ -e "$path" ]] || die "$path is not on this host; the fresh machine takes it from here"
    args+=(--volume "$path:$path:ro")
  done
  mkdir -p "$work/root" "$work/cache" "$work/tmp"
  chmod 1777 "$work/tmp"
  chmod 0700 "$work/root"
  args+=(--volume "$work/root:/root" --volume "$work/work:/work" --volume "$work/cache:/var/cache/sandfleet" --volume "$work/tmp:/tmp")
  for variable in "${FRESH_CA_VARIABLES[@]}"; do
    if [[ -n "${!variable:-}" ]]; then args+=(--env "$variable=${!variable}"); fi
  done
  quiet docker create "${args[@]}" "$image" sleep infinity
  for file in "${FRESH_BOOT_FILES[@]}"; do
    if [[ ! -e "$file" ]]; then continue; fi
    if [[ "$file" == /root/* ]]; then
      mkdir -p "$work$(dirname "$file")"
      cp -p "$file" "$work$file"
    else
      quiet docker cp "$file" "$name:$file"
    fi
  done
  if [[ -d "$FRESH_CA_DIR" ]]; then quiet docker cp "$FRESH_CA_DIR/." "$name:$FRESH_CA_DIR/"; fi
  quiet docker start "$name"
  quiet docker exec "$name" update-ca-certificates
  quiet docker exec "$name" bash -c "$(declare -f open_system_mounts); open_system_mounts"
}

# Run inside the machine as it boots: /sys and the cgroup file systems
# writable, as on a machine (a container gets them read-only), for its dockerd.
# On a unified cgroup hierarchy a dockerd inside a container can hand out
# controllers only once no process sits in the container's root cgroup; on
# cgroup v1 each controller is a tree of its own and nothing needs moving.
open_system_mounts() {
  mount -o remount,rw /sys
  mount -o remount,rw /sys/fs/cgroup
  awk '$3 == "cgroup" || $3 == "cgroup2" {print $2}' /proc/self/mounts | while read -r mount; do
    mount -o remount,bind,rw "$mount"
  done
  [ -f /sys/fs/cgroup/cgroup.controllers ] || return 0
  mkdir -p /sys/fs/cgroup/fresh-machine
  while read -r pid; do
    echo "$pid" >/sys/fs/cgroup/fresh-machine/cgroup.procs 2>/dev/null || true
  done </sys/fs/cgroup/cgroup.procs
  sed -e 's/^/+/' -e 's/ / +/g' /sys/fs/cgroup/cgroup.controllers >/sys/fs/cgroup/cgroup.subtree_control
}

# Loop devices the machine attached: new since the drill began, and either
# mounted inside the machine or backed by a file in its folder on this host.
machine_loops() {
  local name="$1" work="$2" before="$3" device inode majmin mounted work_dev
  mounted="$(docker exec "$name" findmnt -rn -o SOURCE 2>/dev/null | grep '^/dev/loop' | sort -u || true)"
  work_dev="$(stat -c '%Hd:%Ld' "$work")"
  while read -r device inode majmin; do
    [[ -n "$device" ]] || continue
    grep -qxF "$device $inode $majmin" <<<"$before" && continue
    if grep -qxF "$device" <<<"$mounted" ||
      { [[ "$majmin" == "$work_dev" ]] && [[ -n "$(find "$work" -xdev -inum "$inode" -print -quit 2>/dev/null)" ]]; }; then
      printf '%s %s %s\n' "$device" "$inode" "$majmin"
    fi
  done <<<"$(loop_devices)"
}

# Removes the container (its processes, mounts and anonymous volumes with it),
# then waits for the loop devices it attached to let go of their files, and
# detaches any that a mount still held when its namespace went: only while the
# device still backs the same file, so a device number reused by someone else
# since is left alone.
release_machine() {
  local name="$1" work="$2" before="$3" ours attached loop
  ours="$(machine_loops "$name" "$work" "$before")"
  docker rm --force --volumes "$name" >/dev/null 2>&1 || true
  [[ -n "$ours" ]] || return 0
  for _ in $(seq 1 120); do
    attached="$(grep -xF -f <(loop_devices) <<<"$ours" || true)"
    [[ -n "$attached" ]] || return 0
    sleep 0.5
  done
  while read -r loop _; do
    say "detaching $loop, which the machine left attached"
    losetup --detach "$loop" || say "warning: could not detach $loop"
  done < <(grep -xF -f <(loop_devices) <<<"$ours" || true)
}

# Says whether any loop device attached since the drill began is still there
# (the machine's are gone by now; another's may be someone else's work).
check_loops_left() {
  local before="$1" after left
  after="$(loop_devices)"
  left="$(grep -vxF -f <(printf '%s\n' "$before") <<<"$after" || true)"
  if [[ -n "$left" ]]; then
    say "loop devices attached since the drill began and still there (not the machine's: left alone): $(cut -d' ' -f1 <<<"$left" | tr '\n' ' ')"
  else
    say "loop devices: as before the drill ($(cut -d' ' -f1 <<<"$before" | tr '\n' ' '))"
  fi
}
