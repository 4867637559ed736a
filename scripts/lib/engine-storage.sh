# shellcheck shell=bash
# The data root of sandfleet's engine, on btrfs. Sourced, not run; needs
# engine-settings.sh.
#
# This kernel has no XFS project quotas, so overlay2 cannot bound a
# container's disk; btrfs qgroups can, and Docker's btrfs driver takes
# `--storage-opt size`. The engine's data lives on btrfs in a sparse file,
# loop-mounted (the file only takes the space that is used).
prepare_data_root() {
  if ! mountpoint -q "$DATA_ROOT"; then
    if [[ ! -f "$STORAGE_FILE" ]]; then
      say "making a btrfs file system for the engine's data ($STORAGE_FILE, sparse)"
      mkdir -p "$(dirname "$STORAGE_FILE")"
      (umask 077 && truncate -s "$STORAGE_SIZE" "$STORAGE_FILE")
      quiet mkfs.btrfs -q "$STORAGE_FILE"
    fi
    mkdir -p "$DATA_ROOT"
    quiet mount -o loop "$STORAGE_FILE" "$DATA_ROOT"
  fi
  # The file holds every container's files and environment (secrets included): the engine keeps
  # its mounted tree 0710, and the file under it must not be a way around that. Made 0600, and
  # put right on every run for a file an older bootstrap made 0644.
  chmod 0600 "$STORAGE_FILE"
  if [[ -e "$ENGINE_LOG" ]]; then chmod 0600 "$ENGINE_LOG"; fi
  if [[ "$(quota_mode)" != squota ]]; then use_simple_quotas; fi
}

# Simple quotas (kernel 6.7 and newer) count only what a container writes, not
# its image's shared bytes, and stay consistent as containers come and go.
# Full qgroups did neither: after removals the kernel marked them inconsistent
# and stopped enforcing limits until a rescan. A file system still on full
# qgroups is switched, and the limits its containers had are put back.
quota_mode() {
  local uuid
  uuid="$(btrfs filesystem show "$DATA_ROOT" | awk '/uuid:/ {print $NF; exit}')"
  cat "/sys/fs/btrfs/$uuid/qgroups/mode" 2>/dev/null || echo none
}

use_simple_quotas() {
  local limits
  # A file system without quotas yet has no qgroups to list (btrfs fails, saying so).
  limits="$({ btrfs qgroup show --raw -re "$DATA_ROOT" 2>/dev/null || true; } | awk 'NR > 2 && $4 != "none" {print $1, $4}')"
  [[ "$(quota_mode)" == none ]] || quiet btrfs quota disable "$DATA_ROOT"
  if (cd "$ROOT/scripts/lib/btrfs-squota" && GO111MODULE=off go run . "$DATA_ROOT"); then
    say "btrfs simple quotas on $DATA_ROOT (disk bounds count only what a sandbox writes)"
    while read -r qgroup bytes; do
      if [[ -n "$qgroup" ]]; then quiet btrfs qgroup limit "$bytes" "$qgroup" "$DATA_ROOT"; fi
    done <<<"$limits"
  else
    say "warning: this kernel has no btrfs simple quotas (6.7 or newer has them); full qgroups count an image's bytes against a sandbox's disk bound and drift after containers are removed"
    quiet btrfs quota enable "$DATA_ROOT"
  fi
}
