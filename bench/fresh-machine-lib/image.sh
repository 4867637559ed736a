# shellcheck shell=bash
# The root file system of a fresh machine, as an image on this host's engine:
# Debian bookworm from debootstrap with the few packages a new machine of our
# kind comes with and the bootstrap expects to find. What the bootstrap
# installs itself (docker.io, runsc, debootstrap, btrfs-progs, busybox-static)
# is left out: its install is part of what a drill measures. Go, Node 20 with
# npm and the docker client are not in the image either: a drill mounts them
# from this host, read-only, as a new machine has them before anything runs.
# Sourced by bench/fresh-machine, which defines say, die and quiet.

# The machine's own packages (gcc for cgo and native npm modules, procps for
# the bootstrap's `ps`, git for npm) and the tools a new machine has at hand.
FRESH_PACKAGES="ca-certificates,git,gcc,g++,make,libc6-dev,procps,iproute2,curl,xz-utils"

# Files of the host's image that shape how apt and services behave on a new
# machine: its package sources, its apt settings (no package cache kept, no
# translations) and the policy that keeps packages from starting services as
# they install (so docker.io's postinst starts no dockerd, as on the machine).
FRESH_HOST_FILES=(
  /etc/apt/sources.list.d/debian.sources
  /etc/apt/apt.conf.d/docker-autoremove-suggests
  /etc/apt/apt.conf.d/docker-clean
  /etc/apt/apt.conf.d/docker-gzip-indexes
  /etc/apt/apt.conf.d/docker-no-languages
  /usr/sbin/policy-rc.d
)

fresh_image_recipe() {
  local file
  {
    printf '%s\n%s\n%s\n' "$DEBIAN_SUITE" "$DEBIAN_MIRROR" "$FRESH_PACKAGES"
    for file in "${FRESH_HOST_FILES[@]}"; do
      if [[ -e "$file" ]]; then printf '%s\n' "$file" && cat "$file"; fi
    done
    sed -n '/^build_fresh_image/,/^}/p' "${BASH_SOURCE[0]}"
  } | sha256sum | cut -c1-16
}

# Sets FRESH_IMAGE to the image's name, building it first (its root file system
# in the folder $1, which the caller removes) when no image of this recipe is there.
fresh_image() {
  FRESH_IMAGE="sandfleet-fresh-machine:$(fresh_image_recipe)"
  if ! docker image inspect "$FRESH_IMAGE" >/dev/null 2>&1; then
    build_fresh_image "$FRESH_IMAGE" "$1"
    remove_other_fresh_images "$FRESH_IMAGE"
  fi
}

build_fresh_image() {
  local image="$1" rootfs="$2" file
  say "building $image (debootstrap $DEBIAN_SUITE minbase from $DEBIAN_MIRROR, a few minutes, once)"
  mkdir -p "$rootfs"
  quiet debootstrap --variant=minbase --include="$FRESH_PACKAGES" "$DEBIAN_SUITE" "$rootfs" "$DEBIAN_MIRROR"
  # debootstrap's own sources.list gives way to the host's deb822 sources.
  rm -f "$rootfs/etc/apt/sources.list"
  for file in "${FRESH_HOST_FILES[@]}"; do
    if [[ -e "$file" ]]; then
      mkdir -p "$rootfs$(dirname "$file")"
      cp -p "$file" "$rootfs$file"
    fi
  done
  # As on the machine, npm and npx are the links Node's package puts in /usr/bin.
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/bin/npx"
  ln -sf ../lib/node_modules/corepack/dist/corepack.js "$rootfs/usr/bin/corepack"
  mkdir -p "$rootfs/usr/local/go" "$rootfs/usr/lib/node_modules" "$rootfs/usr/include/node" "$rootfs/work"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  chmod 0755 "$rootfs"
  tar -C "$rootfs" -c . | quiet docker import \
    --change 'ENV PATH=/usr/local/go/bin:/root/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV HOME=/root' \
    --change 'WORKDIR /root' \
    --change "LABEL $FRESH_LABEL sandfleet.recipe=${image##*:}" \
    - "$image"
  remove_tree "$rootfs"
}

# Images of an older recipe go once a new one is built (one still in use by
# another drill stays, as the engine refuses to remove it).
remove_other_fresh_images() {
  local image
  docker image ls --filter "label=$FRESH_LABEL" --format '{{.Repository}}:{{.Tag}}' |
    while read -r image; do
      if [[ "$image" == sandfleet-fresh-machine:* && "$image" != "$1" ]]; then
        docker image rm "$image" >/dev/null 2>&1 && say "removed $image, of an older recipe"
      fi
    done
}

# Removes a folder this tool made, first letting go of anything mounted in it
# (debootstrap mounts /proc and /sys inside the tree it builds).
remove_tree() {
  local tree="$1" mount
  [[ -n "$tree" && -d "$tree" ]] || return 0
  while read -r mount; do
    umount -l "$mount" 2>/dev/null || true
  done < <(findmnt -rn -o TARGET | awk -v t="$tree/" 'index($0 "/", t) == 1' | sort -r)
  rm -rf --one-file-system "$tree"
}
