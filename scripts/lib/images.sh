#!/usr/bin/env bash
# Offline base images (no registry can be reached): a static busybox in a
# scratch image, and a minimal Debian with python3 from debootstrap. Each image
# carries the hash of its recipe as a label and is rebuilt only when it changes.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
one_at_a_time images "the base images' build" "$@"

# A non-root user every base image offers (uid 1000), and a world-writable /tmp.
PASSWD='root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
sandbox:x:1000:1000:sandbox:/home/sandbox:/bin/sh'
GROUP='root:x:0:
nogroup:x:65534:
sandbox:x:1000:'

recipe_hash() { sha256sum | cut -c1-16; }

current_recipe() {
  docker image inspect --format '{{ index .Config.Labels "sandfleet.recipe" }}' "$1" 2>/dev/null || true
}

build_busybox() {
  local image="sandfleet/busybox:latest"
  local busybox_version recipe
  busybox_version="$(dpkg-query -W -f='${Version}' busybox-static)"
  recipe="$(printf '%s\n%s\n%s\n%s\n' "$busybox_version" "$PASSWD" "$GROUP" "$(sed -n '/^build_busybox() {/,/^}/p' "${BASH_SOURCE[0]}")" | recipe_hash)"
  [[ "$(current_recipe "$image")" == "$recipe" ]] && return 0

  say "building $image (busybox $busybox_version)"
  local ctx
  ctx="$(mktemp -d)"
  cp /bin/busybox "$ctx/busybox"
  printf '%s\n' "$PASSWD" >"$ctx/passwd"
  printf '%s\n' "$GROUP" >"$ctx/group"
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
COPY passwd group /etc/
RUN mkdir -p /tmp /home/sandbox /usr/bin && chmod 1777 /tmp && chown 1000:1000 /home/sandbox && ln -s /bin/env /usr/bin/env
ENV PATH=/bin:/usr/bin
LABEL sandfleet.base="busybox" sandfleet.recipe="$recipe"
CMD ["sh"]
DOCKERFILE
  quiet docker build --network none -t "$image" "$ctx"
  rm -rf "$ctx"
}

build_python() {
  local image="sandfleet/python:latest"
  local recipe
  recipe="$(printf '%s\n%s\n%s\n%s\n' "$DEBIAN_SUITE" "$PASSWD" "$GROUP" "$(sed -n '/^build_python() {/,/^}/p' "${BASH_SOURCE[0]}")" | recipe_hash)"
  [[ "$(current_recipe "$image")" == "$recipe" ]] && return 0

  say "building $image (debootstrap $DEBIAN_SUITE minbase + python3, about a minute)"
  local rootfs
  rootfs="$(mktemp -d)"
  quiet debootstrap --variant=minbase --include=python3 "$DEBIAN_SUITE" "$rootfs" "$DEBIAN_MIRROR"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  grep -q '^sandbox:' "$rootfs/etc/passwd" || {
    echo 'sandbox:x:1000:1000:sandbox:/home/sandbox:/bin/sh' >>"$rootfs/etc/passwd"
    echo 'sandbox:x:1000:' >>"$rootfs/etc/group"
  }
  mkdir -p "$rootfs/home/sandbox"
  chown 1000:1000 "$rootfs/home/sandbox"
  # mktemp made the folder 0700, and the tar's "." carries that to the image's
  # root, which btrfs storage applies: no other user could reach a file.
  chmod 0755 "$rootfs"
  tar -C "$rootfs" -c . | quiet docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    --change "LABEL sandfleet.base=python sandfleet.recipe=$recipe" \
    - "$image"
  rm -rf "$rootfs"
}

# `images.sh [busybox] [python]`: the images named, both by default.
(($#)) || set -- busybox python
for image in "$@"; do
  case "$image" in
    busybox) build_busybox ;;
    python) build_python ;;
    *) die "unknown base image $image; images.sh builds busybox and python" ;;
  esac
done
